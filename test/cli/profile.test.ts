// `tensorslim profile`, in-process: the JSON line's fields, the trace and profile files it writes,
// and each bad input's exit code and message.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backends/native/index.js';
import { validateChromeTrace } from '../../src/report/trace.js';
import { cli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-profile-'));

test('profile --json: top kernels, step breakdown, memory estimate vs peak; writes a valid trace and a profile file', async () => {
  const trace = join(dir, 'trace.json'), out = join(dir, 'mlp-tiny.profile.json');
  const r = await cli('profile', '--model', 'mlp-tiny', '--batch', '8', '--steps', '2', '--warmup', '0', '--trace', trace, '--out', out, '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  const j = r.json as { kernels: { name: string; calls: number }[]; breakdown: Record<string, number>; memory: { estimate: { total: number }; measuredPeakBytes: number }; losses: number[] };
  assert.ok(j.kernels.length > 0 && j.kernels.every((k) => k.calls > 0));
  for (const k of ['stepMs', 'dataMs', 'forwardMs', 'backwardMs', 'optimizerMs', 'gcMs', 'kernelMs']) assert.equal(typeof j.breakdown[k], 'number', k);
  assert.ok(j.memory.estimate.total > 0 && j.memory.measuredPeakBytes > 0);
  assert.equal(j.losses.length, 2);
  assert.deepEqual(validateChromeTrace(JSON.parse(readFileSync(trace, 'utf8'))), []);
  assert.equal(JSON.parse(readFileSync(out, 'utf8')).kind, 'tensorslim-profile');
});

test('profile: the human output has the kernel table and the step breakdown', async () => {
  const r = await cli('profile', '--model', 'mlp-tiny', '--batch', '4', '--steps', '1', '--warmup', '0');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  const text = r.ctx.stdout.join('\n');
  assert.match(text, /kernel\s+calls\s+total ms/);
  assert.match(text, /per step \(mean\)/);
  assert.match(text, /memory estimate/);
});

test('profile: bad input gets a clear error and the right exit code', async () => {
  const unknown = await cli('profile', '--model', 'no-such-model');
  assert.equal(unknown.code, 2);
  assert.match(unknown.ctx.stderr.join('\n'), /neither a file nor a preset/);
  const missing = await cli('profile');
  assert.equal(missing.code, 2);
  assert.match(missing.ctx.stderr.join('\n'), /--model is required/);
  const unwritable = await cli('profile', '--model', 'mlp-tiny', '--batch', '2', '--steps', '1', '--warmup', '0', '--trace', join(dir, 'no', 'such', 'dir', 't.json'));
  assert.equal(unwritable.code, 1);
  assert.match(unwritable.ctx.stderr.join('\n'), /cannot write/);
  const help = await cli('profile', '--help');
  assert.equal(help.code, 0);
});
