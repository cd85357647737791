// Unit tests for ops/unary.ts: values at points with known answers, dtype rules (integer inputs of
// float-valued functions become float32; neg/abs/sign/relu/floor keep ints), strided inputs.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { abs, cos, erf, exp, floor, grad, log, mul, neg, relu, sigmoid, sign, sin, slice, sqrt, sum, tanh, tensor } from '../../src/index.js';
import { assertClose, vals } from '../core/helpers.js';
import { primitivesOnly, withBackend } from './kernel_helpers.js';

test('values at known points', () => {
  assert.deepEqual(vals(neg(tensor([1, -2, 0]))), [-1, 2, -0]);
  assertClose(exp(tensor([0, 1, -1])), [1, Math.E, 1 / Math.E]);
  assertClose(log(tensor([1, Math.E, 0])), [0, 1, -Infinity]);
  assertClose(sqrt(tensor([4, 9, 2])), [2, 3, Math.SQRT2]);
  assert.ok(Number.isNaN(sqrt(tensor([-1])).item()));
  assert.deepEqual(vals(abs(tensor([-1.5, 2]))), [1.5, 2]);
  assert.deepEqual(vals(sign(tensor([-3, 0, 2]))), [-1, 0, 1]);
  assert.deepEqual(vals(relu(tensor([-1, 0, 2]))), [0, 0, 2]);
  assertClose(tanh(tensor([0, 100, -100])), [0, 1, -1]);
  assertClose(sin(tensor([0, Math.PI / 2])), [0, 1]);
  assertClose(cos(tensor([0, Math.PI])), [1, -1]);
  assert.deepEqual(vals(floor(tensor([1.5, -1.5, 2]))), [1, -2, 2]);
});

test('sigmoid: 1/2 at 0, saturates without NaN at +-1000', () => {
  const s = vals(sigmoid(tensor([0, 1000, -1000], { dtype: 'float64' })));
  assert.equal(s[0], 0.5);
  assert.equal(s[1], 1);
  assert.equal(s[2], 0);
  assertClose(sigmoid(tensor([2], { dtype: 'float64' })), [1 / (1 + Math.exp(-2))], 'sigmoid', 1e-15, 0);
});

test('erf at tabulated points (Abramowitz & Stegun table 7.1)', () => {
  // erf(0.5) = 0.5204998778, erf(1) = 0.8427007929, erf(2.5) = 0.9995930480, erf(-3) = -0.9999779095
  assertClose(erf(tensor([0, 0.5, 1, 2.5, -3], { dtype: 'float64' })),
    [0, 0.5204998778130465, 0.8427007929497149, 0.9995930479825550, -0.9999779095030014], 'erf', 1e-12, 1e-15);
});

test('integer inputs: float-valued functions give float32, sign-like ones keep int32', () => {
  const i = tensor([-2, 0, 3], { dtype: 'int32' });
  assert.equal(exp(i).dtype, 'float32');
  assert.equal(sqrt(i).dtype, 'float32');
  assert.equal(neg(i).dtype, 'int32');
  assert.equal(abs(i).dtype, 'int32');
  assert.deepEqual(vals(abs(i)), [2, 0, 3]);
  assert.equal(relu(i).dtype, 'int32');
  assert.equal(sign(i).dtype, 'int32');
  assert.equal(exp(tensor([1], { dtype: 'float64' })).dtype, 'float64');
});

test('on a strided view', () => {
  // [1, 4, 9, 16][::2] = [1, 9]
  assert.deepEqual(vals(sqrt(slice(tensor([1, 4, 9, 16]), 0, 0, 4, 2))), [1, 3]);
});

test('methods match functions', () => {
  const x = tensor([-1, 2]);
  assert.deepEqual(vals(x.abs()), [1, 2]);
  assert.deepEqual(vals(x.relu()), [0, 2]);
  assert.deepEqual(vals(x.neg()), [1, -2]);
});

test('relu gradient: the fused reluBackward (when the backend has it) equals the composed rule, ties, -0, NaN; createGraph composes', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const xs = [-2, -0, 0, 1.5, NaN, Infinity, -Infinity, 3, -1e-30, 2e-30];
    const ws = [NaN, -1, 2, -3, 4, 5, 7, -Infinity, Infinity, 10];
    const run = (): number[] => {
      const x = tensor(xs, { dtype, requiresGrad: true });
      sum(mul(relu(x), tensor(ws, { dtype }))).backward();
      return vals(x.grad!);
    };
    const got = run(), want = withBackend(primitivesOnly(), run);
    got.forEach((g, i) => assert.ok(Object.is(g, want[i]), `${dtype} relu grad at ${i} (x ${xs[i]}): ${g} vs ${want[i]}`));
    // by hand: w where x > 0 or NaN, else +0 (a NaN or infinite w where x <= 0 is masked)
    assert.deepEqual(got, [0, 0, 0, -3, 4, 5, 0, -Infinity, 0, 10]);
  }
  // recorded backward (createGraph): the composed rule builds a graph; relu'' is 0 almost everywhere
  const z = tensor([-1, 2, 3], { dtype: 'float64', requiresGrad: true });
  const [dz] = grad([sum(mul(relu(z), z))], [z], { createGraph: true });  // relu(z) + z relu'(z) = 2z where z > 0
  assert.deepEqual(vals(dz!), [0, 4, 6]);
  const [d2] = grad([sum(dz!)], [z]);
  assert.deepEqual(vals(d2!), [0, 2, 2]);
});
