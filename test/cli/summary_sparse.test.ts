// `summary` and `eval` of a pruned (CSR) checkpoint (issue 14, defect 3): each sparse layer is one
// row SparseLinear(in -> out) with its output shape, dense parameter count, zeros, sparsity and sparse
// FLOPs; totals use one definition with `prune` and `eval`: parameters = the dense architecture's,
// non-zeros = entries that are not zero. Hand-derived for mlp-tiny (784-64-10: 50,816 weights, 74
// biases, 50,890 parameters) pruned 90% globally without fine-tuning: 50,816 - round(0.9 * 50,816)
// = 5,082 weights stay, so non-zeros = 5,082 + 74 = 5,156 (trained biases are not zero) and FLOPs per
// sample = 2 * 5,082 (multiply-adds of the kept weights) + 64 + 10 (biases) + 64 (ReLU) = 10,302.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { cli, trainTinyCheckpoint } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-summary-sparse-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const dense = join(dir, 'tiny.safetensors');
const pruned = join(dir, 'tiny-90.safetensors');

before(async () => {
  await trainTinyCheckpoint(dense);
  const r = await cli('prune', '--model', dense, '--dataset', 'mnist', '--method', 'global', '--amount', '0.9', '--finetune-steps', '0', '--out', pruned, '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['parameters'], 50_890);
  assert.equal(r.json['nonzeros'], 5_156);
});

test('summary --json of a CSR checkpoint: SparseLinear rows with shapes, parameters, sparsity and sparse FLOPs', async () => {
  const r = await cli('summary', pruned, '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  const j = r.json as { params: number; nonzeroParams: number; sparsity: number; flops: number; layers: { name: string; type: string; outputShape: number[]; params: number; zeros: number; sparsity: number; flops: number }[] };
  // the first layer is stored as CSR; the small last one may stay dense (with its zeros) where CSR does not pay
  const fc = j.layers.filter((l) => /Linear/.test(l.type));
  assert.deepEqual(fc.map((l) => [l.type.replace(/^Linear/, 'SparseLinear'), l.outputShape, l.params]), [['SparseLinear(784 -> 64)', [64], 784 * 64 + 64], ['SparseLinear(64 -> 10)', [10], 64 * 10 + 10]]);
  assert.equal(fc[0]!.type, 'SparseLinear(784 -> 64)');
  assert.ok(!j.layers.some((l) => /CsrWeight/.test(l.type) || l.name.endsWith('.weight')), 'no CsrWeight rows');
  assert.equal(fc[0]!.zeros + fc[1]!.zeros, 50_816 - 5_082);
  assert.equal(j.params, 50_890);
  assert.equal(j.nonzeroParams, 5_156);
  assert.equal(j.sparsity, (50_816 - 5_082) / 50_816);
  assert.equal(j.flops, 2 * 5_082 + 64 + 10 + 64);
  const text = await cli('summary', pruned);
  assert.match(text.ctx.stdout.join('\n'), /SparseLinear\(784 -> 64\)/);
});

test('eval reports the same parameters and non-zeros as prune', async () => {
  const r = await cli('eval', '--model', pruned, '--dataset', 'mnist', '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['params'], 50_890);
  assert.equal(r.json['nonzeroParams'], 5_156);
});

test('re-pruning a CSR file prunes its layers as dense ones and reports against the dense model', async () => {
  // to 95% of the 50,816 weights: round(0.95 * 50,816) = 48,275 zero, 2,541 kept (+ 74 biases)
  const r = await cli('prune', '--model', pruned, '--dataset', 'mnist', '--method', 'global', '--amount', '0.95', '--finetune-steps', '0', '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.match(r.ctx.stderr.join('\n'), /already pruned \(1 CSR layer\)/);
  assert.equal(r.json['denseParameters'], 50_890);
  assert.equal(r.json['parameters'], 50_890);
  assert.equal(r.json['weightSparsity'], 48_275 / 50_816);
  assert.equal(r.json['nonzeros'], 2_541 + 74);
});
