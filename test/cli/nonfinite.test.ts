// A checkpoint whose weights are all NaN (issue 14, defect 2): the NaN must reach the results instead
// of hiding behind relu(NaN) = 0. eval warns on stderr naming the file and reports a NaN (JSON null)
// loss; training from it stops at once with the non-finite-loss stop (exit 1); prune and summary warn.
// With IEEE arithmetic every logit of such a model is NaN, so its cross-entropy is NaN.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { cli, trainTinyCheckpoint } from './helpers.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-nonfinite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const good = join(dir, 'good.safetensors');
const bad = join(dir, 'nan.safetensors');

before(async () => {
  await trainTinyCheckpoint(good);
  // the same file (optimizer state and trainer position included, so --resume works) with NaN weights
  const { tensors, metadata } = loadSafetensors(good);
  for (const [k, t] of tensors) if (!k.startsWith('optimizer.') && t.dtype === 'float32') (t.data as Float32Array).fill(NaN);
  saveSafetensors(bad, tensors, metadata);
});

test('eval of an all-NaN checkpoint warns, names the file, and reports a NaN loss', async () => {
  const r = await cli('eval', '--model', bad, '--dataset', 'mnist', '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.match(r.ctx.stderr.join('\n'), new RegExp(`warning: ${bad.replace(/[.]/g, '\\.')} holds non-finite weights`));
  assert.equal(r.json['testLoss'], null);
  const ok = await cli('eval', '--model', good, '--dataset', 'mnist', '--json');
  assert.doesNotMatch(ok.ctx.stderr.join('\n'), /non-finite/);
  assert.equal(typeof ok.json['testLoss'], 'number');
});

test('training from an all-NaN checkpoint stops at the first epoch end with the non-finite-loss stop (exit 1)', async () => {
  const r = await cli('train', '--dataset', 'mnist', '--steps', '40', '--resume', bad, '--json');
  assert.equal(r.code, 1, r.ctx.stderr.join('\n'));
  assert.equal(r.json['stopReason'], 'nonfinite-loss');
});

test('prune and summary of an all-NaN checkpoint warn', async () => {
  const s = await cli('summary', bad);
  assert.match(s.ctx.stderr.join('\n'), /non-finite weights/);
  const p = await cli('prune', '--model', bad, '--dataset', 'mnist', '--finetune-steps', '1', '--json');
  assert.match(p.ctx.stderr.join('\n'), /non-finite weights/);
});
