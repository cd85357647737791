// Unit tests for ops/inplace.ts: assign / fill_ / zero_ write into the existing storage (so through
// views into their base), broadcast the source, convert its dtype and bump the version counter.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assign, expand, fill_, noGrad, slice, tensor, TensorslimError, transpose, zero_, zeros } from '../../src/index.js';
import { vals } from '../core/helpers.js';

test('assign copies values into the same storage and returns the tensor', () => {
  const x = zeros([2, 2]);
  const storage = x.data;
  const r = assign(x, tensor([[1, 2], [3, 4]]));
  assert.equal(r, x);
  assert.equal(x.data, storage);
  assert.deepEqual(vals(x), [1, 2, 3, 4]);
});

test('assign broadcasts the source and converts its dtype', () => {
  const x = zeros([2, 3]);
  x.assign(tensor([1, 2, 3]));             // (3,) -> (2, 3)
  assert.deepEqual(x.toArray(), [[1, 2, 3], [1, 2, 3]]);
  x.assign(tensor([[7], [8]]));            // (2, 1) -> (2, 3)
  assert.deepEqual(x.toArray(), [[7, 7, 7], [8, 8, 8]]);
  const i = zeros([2], { dtype: 'int32' });
  i.assign(tensor([1.9, -1.9]));           // float32 -> int32 truncates
  assert.deepEqual(vals(i), [1, -1]);
  assert.equal(i.dtype, 'int32');
});

test('assign into a slice view writes through to the base storage', () => {
  // b[:, 1:4:2] = 7 on a (2, 4) zero tensor -> [[0, 7, 0, 7], [0, 7, 0, 7]]
  const b = zeros([2, 4]);
  const v = slice(b, 1, 1, 4, 2);
  v.assign(tensor([7]));
  assert.deepEqual(b.toArray(), [[0, 7, 0, 7], [0, 7, 0, 7]]);
  // a transposed view: bt[j][i] = b[i][j]; writing column 0 of bt writes row 0 of b
  const bt = transpose(b, 0, 1);
  slice(bt, 1, 0, 1).assign(tensor([[1], [2], [3], [4]]));
  assert.deepEqual(b.toArray(), [[1, 2, 3, 4], [0, 7, 0, 7]]);
});

test('fill_ and zero_', () => {
  const x = tensor([1, 2, 3]);
  assert.equal(fill_(x, 2.5), x);
  assert.deepEqual(vals(x), [2.5, 2.5, 2.5]);
  assert.equal(zero_(x), x);
  assert.deepEqual(vals(x), [0, 0, 0]);
  x.fill_(-1);
  assert.deepEqual(vals(x), [-1, -1, -1]);
  slice(x, 0, 1).zero_();
  assert.deepEqual(vals(x), [-1, 0, 0]);
});

test('every in-place write bumps the version counter', () => {
  const x = zeros([3]);
  assert.equal(x.version, 0);
  x.assign(1);
  assert.equal(x.version, 1);
  x.fill_(2);
  x.zero_();
  assert.equal(x.version, 3);
});

test('writing through a view bumps the version seen by the base and its other views', () => {
  // one counter per storage, as in PyTorch
  const b = zeros([4]);
  const other = slice(b, 0, 2, 4);
  slice(b, 0, 0, 2).assign(1);
  assert.equal(b.version, 1);
  assert.equal(other.version, 1);
  assert.equal(zeros([4]).version, 0, 'separate storage, separate counter');
});

test('assign on a leaf that requires grad: refused while recording, allowed under noGrad', () => {
  const w = tensor([1, 2], { requiresGrad: true });
  assert.throws(() => w.assign(0), /assign: in-place write to a tensor that requires grad while gradients are recorded; wrap it in noGrad/);
  assert.deepEqual(vals(w), [1, 2]);
  assert.equal(w.version, 0);
  assert.throws(() => w.zero_(), /zero_|assign: in-place write/);
  noGrad(() => w.assign(tensor([5, 6])));
  assert.deepEqual(vals(w), [5, 6]);
  assert.equal(w.version, 1);
  assert.equal(w.requiresGrad, true);
});

test('assign into an expanded (stride-0) view is refused', () => {
  const c = tensor([[1], [2]]);
  const e = expand(c, [2, 3]);
  assert.throws(() => e.assign(tensor([[1, 2, 3], [4, 5, 6]])), (err: unknown) => err instanceof TensorslimError && /^assign: /.test(err.message));
  assert.deepEqual(c.toArray(), [[1], [2]]);
});
