// Unit tests for core/tensor.ts: the handle's fields and readout (toArray, item, dataSync,
// toString), and the requiresGrad flag's dtype rule.

import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, test } from 'node:test';

import { DTypeError, mul, reshape, slice, tensor, arange, transpose, zeros } from '../../src/index.js';

describe('toArray', () => {
  test('nested arrays matching the shape', () => {
    assert.deepEqual(tensor([[1, 2], [3, 4]]).toArray(), [[1, 2], [3, 4]]);
    assert.deepEqual(reshape(arange(8), [2, 2, 2]).toArray(), [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]);
    assert.deepEqual(zeros([2, 0]).toArray(), [[], []]);
  });

  test('0-d gives a plain number; bool gives booleans', () => {
    assert.equal(tensor(2.5).toArray(), 2.5);
    assert.deepEqual(tensor([[true, false]]).toArray(), [[true, false]]);
    assert.equal(tensor(false).toArray(), false);
  });

  test('views read in logical order', () => {
    // [[1, 2, 3], [4, 5, 6]]^T
    assert.deepEqual(transpose(tensor([[1, 2, 3], [4, 5, 6]]), 0, 1).toArray(), [[1, 4], [2, 5], [3, 6]]);
    assert.deepEqual(slice(arange(6), 0, 1, 6, 2).toArray(), [1, 3, 5]);
  });
});

describe('item', () => {
  test('one-element tensors of any rank, including a view with an offset', () => {
    assert.equal(tensor(7).item(), 7);
    assert.equal(tensor([[3]]).item(), 3);
    assert.equal(slice(arange(5), 0, 3, 4).item(), 3); // offset 3 into the storage
    assert.equal(tensor([true]).item(), 1);
  });

  test('more than one element is an error naming the shape', () => {
    assert.throws(() => zeros([2, 3]).item(), (e: unknown) => e instanceof DTypeError
      && /item: only one-element tensors can be converted to a number, got shape \(2, 3\)/.test(e.message));
    assert.throws(() => zeros([0]).item(), /item: .*got shape \(0\)/);
  });
});

describe('dataSync', () => {
  test('returns a copy: mutating it leaves the tensor alone', () => {
    const t = tensor([1, 2, 3]);
    const d = t.dataSync();
    assert.notEqual(d, t.data);
    d[0] = 100;
    assert.deepEqual(t.toArray(), [1, 2, 3]);
  });

  test('contiguous row-major values of a view, in the tensor dtype', () => {
    const v = transpose(tensor([[1, 2], [3, 4]], { dtype: 'float64' }), 0, 1);
    const d = v.dataSync();
    assert.ok(d instanceof Float64Array);
    assert.deepEqual(Array.from(d), [1, 3, 2, 4]);
    d[0] = 9;
    assert.deepEqual(v.toArray(), [[1, 3], [2, 4]]);
    const s = slice(arange(10), 0, 2, 5).dataSync();
    assert.ok(s instanceof Int32Array);
    assert.deepEqual(Array.from(s), [2, 3, 4]);
  });
});

describe('toString', () => {
  test('float32: values, no dtype', () => {
    const s = tensor([[1.5, 2], [3, -4]]).toString();
    assert.match(s, /^tensor\(/);
    for (const v of ['1.5000', '2.0000', '3.0000', '-4.0000']) assert.ok(s.includes(v), `${v} in ${s}`);
    assert.ok(!s.includes('dtype'), s);
    assert.ok(!s.includes('requiresGrad'), s);
  });

  test('other dtypes are named', () => {
    const i = tensor([1, 2], { dtype: 'int32' }).toString();
    assert.match(i, /\b1\b.*\b2\b/);
    assert.match(i, /dtype=int32/);
    const b = tensor([true, false]).toString();
    assert.match(b, /true.*false/);
    assert.match(b, /dtype=bool/);
    assert.match(tensor([0.25], { dtype: 'float64' }).toString(), /0\.2500.*dtype=float64/);
  });

  test('requiresGrad on leaves and gradFn on results', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    assert.match(x.toString(), /requiresGrad=true/);
    const y = mul(x, 2);
    assert.match(y.toString(), /gradFn=mul/);
    assert.ok(y.toString().includes('4.0000'));
  });

  test('large tensors are summarized with ...', () => {
    // 2000 elements: the first and last three are shown
    const s = arange(0, 2000, 1, { dtype: 'float32' }).toString();
    assert.ok(s.includes('...'), s);
    for (const v of ['0.0000', '1.0000', '2.0000', '1997.0000', '1998.0000', '1999.0000']) assert.ok(s.includes(v), `${v} in ${s}`);
    assert.ok(!s.includes('1000.0000'), 'middle values are elided');
    assert.ok(s.length < 200, `length ${s.length}`);
  });

  test('0-d, non-finite values, and util.inspect', () => {
    assert.equal(tensor(3).toString(), 'tensor(3.0000)');
    const s = tensor([Infinity, -Infinity, NaN]).toString();
    for (const v of ['inf', '-inf', 'nan']) assert.ok(s.includes(v), s);
    assert.equal(inspect(tensor([1])), tensor([1]).toString());
  });
});

describe('fields and requiresGrad', () => {
  test('shape and strides are frozen copies', () => {
    const t = tensor([[1, 2], [3, 4]]);
    assert.ok(Object.isFrozen(t.shape));
    assert.ok(Object.isFrozen(t.strides));
    assert.equal(t.isContiguous(), true);
    assert.equal(t.isLeaf, true);
    assert.equal(t.grad, null);
    assert.equal(t.gradFn, null);
    assert.equal(t.version, 0);
  });

  test('only floating-point tensors can require grad', () => {
    const i = tensor([1, 2], { dtype: 'int32' });
    assert.throws(() => { i.requiresGrad = true; }, (e: unknown) => e instanceof DTypeError
      && /requiresGrad: only floating-point tensors can require gradients, got int32; convert with \.to\('float32'\)/.test(e.message));
    assert.equal(i.requiresGrad, false, 'a refused flag stays off');
    assert.throws(() => tensor([true]).requiresGrad_(), /got bool/);
    assert.throws(() => tensor([1], { dtype: 'int32', requiresGrad: true }), /requiresGrad: only floating-point/);
    assert.equal(tensor([1], { dtype: 'float64' }).requiresGrad_().requiresGrad, true);
  });

  test('requiresGrad cannot be switched off on a non-leaf', () => {
    const y = mul(tensor([1], { requiresGrad: true }), 2);
    assert.throws(() => { y.requiresGrad = false; }, /requiresGrad: cannot turn off requiresGrad on a non-leaf tensor; use \.detach\(\)/);
    assert.equal(y.requiresGrad, true);
  });
});
