// Kill test of `tensorslim train --out` (issue 14 target): the CLI is started as a real process
// (src/cli/main.ts through tsx) training mlp-tiny with small epochs, so it saves its checkpoint often,
// and is killed with SIGKILL at a random moment after training starts. After every kill the --out
// path holds either no file or a checkpoint that loads; after the next completed run into the same
// path no temporary file is left beside it (the writer removes those of dead processes).
// A suite run does TENSORSLIM_KILL_TEST_KILLS kills (default 2, a few seconds each); set it to 100
// for the full soak.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { cli } from './helpers.js';
import { loadCheckpoint } from '../../src/io/index.js';
import { rng } from '../native/helpers.js';

const KILLS = Number(process.env['TENSORSLIM_KILL_TEST_KILLS'] ?? 2);
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** Starts a training run, waits until it trains, then SIGKILLs it after `delayMs`; resolves when it is dead. */
function trainAndKill(out: string, delayMs: number): Promise<string> {
  return new Promise((resolveKill, reject) => {
    // batch 256 over the 8,000 embedded digits: an epoch is 32 steps, so a checkpoint lands every few tenths of a second
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--epochs', '50', '--batch-size', '256', '--out', out],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let armed = false;
    const arm = (chunk: Buffer): void => {
      if (!armed && /epoch 1\/50|train mlp-tiny/.test(chunk.toString())) { armed = true; setTimeout(() => child.kill('SIGKILL'), delayMs); }
    };
    child.stdout.on('data', arm);
    child.stderr.on('data', arm);
    child.on('error', reject);
    child.on('exit', (code, signal) => resolveKill(signal ?? `exit ${code}`));
  });
}

test(`train --out killed with SIGKILL ${KILLS} times: no file or a valid one, and no temp file after the next run`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-kill-train-'));
  try {
    const out = join(dir, 'run.safetensors');
    const r = rng(9);
    let valid = 0;
    for (let k = 0; k < KILLS; k++) {
      const how = await trainAndKill(out, Math.floor(r() * 1500));
      assert.equal(how, 'SIGKILL', `run ${k} ended by ${how}, not by the kill`);
      if (existsSync(out)) { assert.ok(loadCheckpoint(out).step > 0, `run ${k}: checkpoint loads`); valid++; }
    }
    const done = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '3', '--out', out);
    assert.equal(done.code, 0, done.ctx.stderr.join('\n'));
    assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'temporary files left after the next run');
    assert.equal(loadCheckpoint(out).step, 3);
    t.diagnostic(`${valid} of ${KILLS} kills left a valid checkpoint, the rest none`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
