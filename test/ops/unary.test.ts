// Unit tests for ops/unary.ts: values at points with known answers, dtype rules (integer inputs of
// float-valued functions become float32; neg/abs/sign/relu/floor keep ints), strided inputs.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { abs, cos, erf, exp, floor, log, neg, relu, sigmoid, sign, sin, slice, sqrt, tanh, tensor } from '../../src/index.js';
import { assertClose, vals } from '../core/helpers.js';

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
