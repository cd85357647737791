// Shared helpers for the in-process CLI tests (not a test file: the runner globs *.test.ts).

import assert from 'node:assert/strict';

import { captureContext, main, type CapturedContext } from '../../src/cli/index.js';

/** Runs `tensorslim ...argv` in-process; with --json, `json` is the last stdout line parsed. */
export async function cli(...argv: string[]): Promise<{ code: number; ctx: CapturedContext; json: Record<string, unknown> }> {
  const ctx = captureContext({});
  const code = await main(argv, ctx);
  const last = ctx.stdout.filter((l) => l !== '').at(-1) ?? '{}';
  return { code, ctx, json: argv.includes('--json') ? JSON.parse(last) as Record<string, unknown> : {} };
}

/** Trains mlp-tiny for 20 steps on the embedded digits into `path`; returns the train command's JSON. */
export async function trainTinyCheckpoint(path: string): Promise<Record<string, unknown>> {
  const r = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '20', '--out', path, '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  return r.json;
}
