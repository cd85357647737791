// Losses: values against hand-derived math (in comments) and against PyTorch fixtures
// (tools/fixtures/nn_losses_fixtures.py -> test/fixtures/nn_losses.json), plus gradients and bad input.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ops from '../../src/ops/index.js';
import type { Tensor } from '../../src/core/tensor.js';
import { F, CrossEntropyLoss, MSELoss, BCEWithLogitsLoss, KLDivLoss, NLLLoss } from '../../src/nn/index.js';

const f64 = (data: number[] | number[][], requiresGrad = false): Tensor => ops.tensor(data, { dtype: 'float64', requiresGrad });
const i32 = (data: number[] | number[][]): Tensor => ops.tensor(data, { dtype: 'int32' });

function close(actual: number, expected: number, tol = 1e-9, msg = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${msg} expected ${expected}, got ${actual}`);
}
function allClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-9, msg = ''): void {
  assert.equal(actual.length, expected.length, `${msg} length`);
  for (let i = 0; i < expected.length; i++) close(actual[i]!, expected[i]!, tol, `${msg}[${i}]`);
}

// ---------------------------------------------------------------------------------------------
// Hand-derived values

test('mseLoss: mean, sum, none by hand', () => {
  const x = f64([1, 2, 3]);
  const y = f64([1, 4, 0]);
  // squared errors: 0, 4, 9 -> sum 13, mean 13/3
  close(F.mseLoss(x, y).item(), 13 / 3);
  close(F.mseLoss(x, y, { reduction: 'sum' }).item(), 13);
  assert.deepEqual(F.mseLoss(x, y, { reduction: 'none' }).toArray(), [0, 4, 9]);
  close(new MSELoss().call(x, y).item(), 13 / 3);
});

test('crossEntropy: uniform logits give log(C), gradient softmax - onehot over N', () => {
  const logits = f64([[0, 0, 0, 0], [0, 0, 0, 0]], true);
  const loss = F.crossEntropy(logits, i32([1, 3]));
  // every logp = -log 4, so each row's loss is log 4 and the mean is log 4
  close(loss.item(), Math.log(4));
  loss.backward();
  // d/dz mean_i(-logp[i, t_i]) = (softmax - onehot) / N = (0.25 - [t == c]) / 2
  allClose(logits.grad!.dataSync(), [0.125, -0.375, 0.125, 0.125, 0.125, 0.125, 0.125, -0.375]);
});

test('crossEntropy: ignoreIndex + mean divides by the number of kept targets', () => {
  // row 0: logits [0, ln 3] -> p = [1/4, 3/4]; target 1 -> -log(3/4)
  // row 1: ignored; row 2: logits [0, 0], target 0 -> log 2
  const logits = f64([[0, Math.log(3)], [5, -5], [0, 0]]);
  const t = i32([1, -100, 0]);
  const expectedSum = -Math.log(0.75) + Math.log(2);
  close(F.crossEntropy(logits, t).item(), expectedSum / 2);
  close(F.crossEntropy(logits, t, { reduction: 'sum' }).item(), expectedSum);
  const none = F.crossEntropy(logits, t, { reduction: 'none' }).dataSync();
  allClose(none, [-Math.log(0.75), 0, Math.log(2)]);
});

test('crossEntropy: class weights + mean divides by the sum of the kept targets\' weights', () => {
  // same rows as above with weight [2, 5]: row 0 (class 1) weighs 5, row 2 (class 0) weighs 2
  const logits = f64([[0, Math.log(3)], [5, -5], [0, 0]]);
  const t = i32([1, -100, 0]);
  const w = f64([2, 5]);
  const expected = (5 * -Math.log(0.75) + 2 * Math.log(2)) / (5 + 2);
  close(F.crossEntropy(logits, t, { weight: w }).item(), expected);
  close(new CrossEntropyLoss({ weight: w }).call(logits, t).item(), expected);
});

test('crossEntropy: label smoothing = (1 - e) nll + (e / C) sum_c(-logp_c)', () => {
  // one row, logits [0, ln 3]: logp = [log 1/4, log 3/4]; target 1, e = 0.2, C = 2
  const logits = f64([[0, Math.log(3)]]);
  const nll = -Math.log(0.75);
  const smooth = -(Math.log(0.25) + Math.log(0.75));
  close(F.crossEntropy(logits, i32([1]), { labelSmoothing: 0.2 }).item(), 0.8 * nll + 0.1 * smooth);
});

test('nllLoss and module forms agree with crossEntropy', () => {
  const logits = f64([[1, 2, 0.5], [0.1, -1, 2]]);
  const t = i32([2, 0]);
  const a = F.crossEntropy(logits, t).item();
  close(F.nllLoss(ops.logSoftmax(logits, 1), t).item(), a);
  close(new NLLLoss().call(ops.logSoftmax(logits, 1), t).item(), a);
});

test('klDiv: target * (log target - input), 0 * log 0 = 0, batchmean divides by N', () => {
  // input = log [1/2, 1/2]; target = [1, 0]: KL = 1 * (log 1 - log 1/2) + 0 = log 2
  const input = f64([[Math.log(0.5), Math.log(0.5)], [Math.log(0.5), Math.log(0.5)]], true);
  const target = f64([[1, 0], [0.5, 0.5]]);
  // row 1: 0.5 (log .5 - log .5) * 2 = 0
  close(F.klDiv(input, target, { reduction: 'sum' }).item(), Math.log(2));
  close(F.klDiv(input, target, { reduction: 'batchmean' }).item(), Math.log(2) / 2);
  close(F.klDiv(input, target).item(), Math.log(2) / 4);
  const loss = new KLDivLoss({ reduction: 'sum' }).call(input, target);
  loss.backward();
  // d/dinput = -target, finite even where target is 0
  allClose(input.grad!.dataSync(), [-1, -0, -0.5, -0.5]);
});

test('bceWithLogits: stable at large |x|, gradient sigmoid(x) - t', () => {
  // x = 0, t = 1 -> log 2; x = 100, t = 0 -> log(1 + e^100) ~ 100; x = -100, t = 0 -> ~e^-100 ~ 0
  const x = f64([0, 100, -100], true);
  const t = f64([1, 0, 0]);
  const l = F.bceWithLogits(x, t, { reduction: 'none' });
  allClose(l.dataSync(), [Math.log(2), 100, 0], 1e-12);
  ops.sum(l).backward();
  allClose(x.grad!.dataSync(), [-0.5, 1, 0], 1e-12);     // sigmoid(x) - t, 1/2 at x = 0
  // posWeight p multiplies the positive term: x = 0, t = 1, p = 3 -> 3 log 2
  close(new BCEWithLogitsLoss({ posWeight: f64([3]) }).call(f64([0]), f64([1])).item(), 3 * Math.log(2));
});

// ---------------------------------------------------------------------------------------------
// PyTorch fixtures

interface Enc { shape: number[]; data: number[] }
interface Case {
  name: string; fn: string; opts: Record<string, unknown>;
  input: Enc; target: Enc; output: Enc; w: Enc; grad: Enc; weight?: Enc; posWeight?: Enc; bias?: Enc;
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/nn_losses.json', import.meta.url), 'utf8')) as { cases: Case[] };
// typed arrays: ops.tensor honours `shape` only for typed-array data
const mk = (e: Enc, dtype: 'float64' | 'int32', requiresGrad = false): Tensor =>
  ops.tensor(dtype === 'int32' ? new Int32Array(e.data) : new Float64Array(e.data), { dtype, shape: e.shape, requiresGrad });
const isIndexTarget = (c: Case): boolean => (c.fn === 'crossEntropy' || c.fn === 'nllLoss') && c.target.data.every(Number.isInteger) && c.name !== 'ce_probs_smooth';

for (const c of fixture.cases) {
  test(`PyTorch parity: ${c.name}`, () => {
    const x = mk(c.input, 'float64', true);
    const t = mk(c.target, isIndexTarget(c) ? 'int32' : 'float64');
    const weight = c.weight ? mk(c.weight, 'float64') : null;
    const posWeight = c.posWeight ? mk(c.posWeight, 'float64') : null;
    const o = c.opts as never;
    let out: Tensor;
    switch (c.fn) {
      case 'crossEntropy': out = F.crossEntropy(x, t, { ...(o as object), weight }); break;
      case 'nllLoss': out = F.nllLoss(x, t, { ...(o as object), weight }); break;
      case 'klDiv': out = F.klDiv(x, t, o); break;
      case 'bceWithLogits': out = F.bceWithLogits(x, t, { ...(o as object), weight, posWeight }); break;
      case 'mseLoss': out = F.mseLoss(x, t, o); break;
      case 'layerNorm': out = F.layerNorm(x, (c.opts as { normalizedShape: number[] }).normalizedShape, weight, c.bias ? mk(c.bias, 'float64') : null); break;
      default: throw new Error(`unknown fn ${c.fn}`);
    }
    assert.deepEqual([...out.shape], c.output.shape);
    allClose(out.dataSync(), c.output.data, 1e-9, 'output');
    ops.sum(ops.mul(out, mk(c.w, 'float64'))).backward();
    allClose(x.grad!.dataSync(), c.grad.data, 1e-9, 'grad');
  });
}

// ---------------------------------------------------------------------------------------------
// Bad input

test('crossEntropy: target out of range names the value, position and shapes', () => {
  assert.throws(() => F.crossEntropy(f64([[1, 2, 3], [1, 2, 3]]), i32([0, 3])),
    /crossEntropy: target value 3 at flat position 1 is out of range for 3 classes \(valid: 0\.\.2, or ignoreIndex -100\); input shape \(2, 3\), target shape \(2,\)/);
  assert.throws(() => F.crossEntropy(f64([[1, 2, 3]]), i32([-1])), /target value -1/);
});

test('crossEntropy: float target of the wrong shape, and target shape mismatch', () => {
  assert.throws(() => F.crossEntropy(f64([[1, 2, 3], [1, 2, 3]]), f64([0, 1])), /class probabilities and must have the input's shape \(2, 3\), got \(2,\)/);
  assert.throws(() => F.crossEntropy(f64([[1, 2, 3], [1, 2, 3]]), i32([0, 1, 2])), /target shape \(3,\) does not match input \(2, 3\); expected target \(2,\)/);
  assert.throws(() => F.crossEntropy(f64([[1, 2]]), i32([0]), { weight: f64([1, 2, 3]) }), /weight must be \(2,\)/);
  assert.throws(() => F.crossEntropy(f64([[1, 2]]), i32([0]), { reduction: 'avg' as never }), /reduction must be one of 'mean', 'sum', 'none', got 'avg'/);
});

test('mseLoss / klDiv / bceWithLogits refuse silently broadcasting shapes', () => {
  assert.throws(() => F.mseLoss(f64([[1], [2]]), f64([1, 2])), /mseLoss: input \(2, 1\) and target \(2,\) must have the same shape.*reshape the target to \(2, 1\)/);
  assert.throws(() => F.klDiv(f64([1, 2]), f64([1])), /klDiv: input \(2,\) and target \(1,\)/);
  assert.throws(() => F.bceWithLogits(f64([1, 2]), i32([1, 0])), /bceWithLogits: target must be floating point, got int32/);
});
