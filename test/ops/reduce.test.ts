// Unit tests for ops/reduce.ts: sum/mean/max/min over axes with keepdim and negative axes,
// argmax/argmin ties (first index), variance corrections, logsumexp with infinite rows.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { arange, argmax, argmin, logsumexp, max, mean, min, reshape, sum, tensor, transpose, variance } from '../../src/index.js';
import { assertClose, vals } from '../core/helpers.js';

// x = [[1, 2, 3], [4, 5, 6]]
const x = (): ReturnType<typeof tensor> => tensor([[1, 2, 3], [4, 5, 6]]);

describe('sum', () => {
  test('all axes, one axis, negative axis, keepdim, a list of axes', () => {
    const s = sum(x());
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 21);                                   // 1 + ... + 6
    assert.deepEqual(vals(sum(x(), 0)), [5, 7, 9]);                // column sums
    assert.deepEqual(vals(sum(x(), 1)), [6, 15]);                  // row sums
    const k = sum(x(), -1, true);
    assert.deepEqual(k.shape, [2, 1]);
    assert.deepEqual(k.toArray(), [[6], [15]]);
    assert.deepEqual(sum(x(), [0, 1]).shape, []);
    const kk = sum(x(), [-1, 0], true);
    assert.deepEqual(kk.shape, [1, 1]);
    assert.equal(kk.item(), 21);
  });

  test('3-D over the first and last axes', () => {
    // b[i][j][k] = 12i + 4j + k; sum over i in {0,1}, k in {0..3}:
    // 4 * 12 * (0 + 1) + 8 * 4j + 2 * (0 + 1 + 2 + 3) = 60 + 32j
    const b = reshape(arange(0, 24, 1, { dtype: 'float32' }), [2, 3, 4]);
    assert.deepEqual(vals(sum(b, [0, 2])), [60, 92, 124]);
    assert.deepEqual(sum(b, [0, 2], true).shape, [1, 3, 1]);
  });

  test('on a non-contiguous view', () => {
    // x^T = [[1, 4], [2, 5], [3, 6]]; sums along axis 1: 5, 7, 9
    assert.deepEqual(vals(sum(transpose(x(), 0, 1), 1)), [5, 7, 9]);
  });

  test('integer and bool sums are int32', () => {
    const i = sum(tensor([1, 2, 3], { dtype: 'int32' }));
    assert.equal(i.dtype, 'int32');
    assert.equal(i.item(), 6);
    const b = sum(tensor([true, false, true, true]));
    assert.equal(b.dtype, 'int32');
    assert.equal(b.item(), 3);
    assert.equal(sum(tensor([1], { dtype: 'float64' })).dtype, 'float64');
  });

  test('an empty axis sums to 0', () => {
    assert.equal(sum(tensor([])).item(), 0);
  });
});

describe('mean', () => {
  test('axes and keepdim', () => {
    assert.equal(mean(x()).item(), 3.5);                           // 21 / 6
    assert.deepEqual(vals(mean(x(), 0)), [2.5, 3.5, 4.5]);
    assert.deepEqual(vals(mean(x(), -1)), [2, 5]);
    assert.deepEqual(mean(x(), 1, true).shape, [2, 1]);
    assert.equal(mean(x(), [0, 1]).item(), 3.5);
  });

  test('mean of int32 is float32', () => {
    const m = mean(arange(4)); // (0 + 1 + 2 + 3) / 4 = 1.5
    assert.equal(m.dtype, 'float32');
    assert.equal(m.item(), 1.5);
  });
});

describe('max / min', () => {
  test('axes, keepdim, negative values', () => {
    assert.equal(max(x()).item(), 6);
    assert.deepEqual(vals(max(x(), 1)), [3, 6]);
    assert.deepEqual(vals(min(x(), 0)), [1, 2, 3]);
    assert.deepEqual(max(x(), -2, true).toArray(), [[4, 5, 6]]);
    const neg = tensor([[-3, -1], [-7, -2]]);
    assert.deepEqual(vals(max(neg, 1)), [-1, -2]);
    assert.equal(min(neg).item(), -7);
    assert.equal(x().max([0, 1]).item(), 6);
  });

  test('keeps integer dtypes; NaN propagates', () => {
    const m = max(tensor([3, 9, 1], { dtype: 'int32' }));
    assert.equal(m.dtype, 'int32');
    assert.equal(m.item(), 9);
    assert.ok(Number.isNaN(max(tensor([1, NaN, 2])).item()));
    assert.ok(Number.isNaN(min(tensor([1, NaN, 2])).item()));
  });
});

describe('argmax / argmin', () => {
  test('ties take the first index', () => {
    const t = tensor([[1, 3, 3], [2, 2, 0]]);
    const a = argmax(t, 1);
    assert.equal(a.dtype, 'int32');
    assert.deepEqual(vals(a), [1, 0]);
    assert.deepEqual(vals(argmin(t, 1)), [0, 2]);
    assert.deepEqual(vals(argmin(tensor([3, 1, 1]), 0)), [1]);
    assert.deepEqual(vals(argmax(t, 0)), [1, 0, 0]); // column 1: 3 vs 2; column 2: 3 vs 0
  });

  test('without an axis: flat index of the first extreme', () => {
    // [[1, 5], [5, 2]] flattened = [1, 5, 5, 2]: first max at 1, min at 0
    const t = tensor([[1, 5], [5, 2]]);
    const a = argmax(t);
    assert.deepEqual(a.shape, []);
    assert.equal(a.item(), 1);
    assert.equal(argmin(t).item(), 0);
    // on a transposed view the flat index follows the logical (row-major) order, not the storage
    const u = transpose(tensor([[1, 9], [8, 2]]), 0, 1); // [[1, 8], [9, 2]] -> flat [1, 8, 9, 2]
    assert.equal(argmax(u).item(), 2);
  });

  test('keepdim and negative axes', () => {
    const t = tensor([[1, 3, 2], [6, 5, 4]]);
    const a = argmax(t, -1, true);
    assert.deepEqual(a.shape, [2, 1]);
    assert.deepEqual(a.toArray(), [[1], [0]]);
    assert.deepEqual(t.argmin(-1).toArray(), [0, 2]);
  });
});

describe('variance', () => {
  test('correction 1 (default) and 0', () => {
    // [1, 2, 3, 4]: mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5
    const v = tensor([1, 2, 3, 4]);
    assertClose(variance(v), [5 / 3]);
    assertClose(variance(v, 0, { correction: 0 }), [1.25]);
    assertClose(v.var(undefined, { correction: 0 }), [1.25]);
  });

  test('along an axis, keepdim', () => {
    // [[1, 2], [3, 5]] along axis 0: column (1, 3) mean 2, sq. dev. 1 + 1 = 2; column (2, 5) mean 3.5, 2.25 + 2.25 = 4.5
    const m = tensor([[1, 2], [3, 5]]);
    assertClose(variance(m, 0), [2, 4.5]);                      // / (2 - 1)
    assertClose(m.var(0, { correction: 0 }), [1, 2.25]);        // / 2
    const k = variance(m, -1, { keepdim: true });                // rows (1, 2): 0.5; (3, 5): 2
    assert.deepEqual(k.shape, [2, 1]);
    assertClose(k, [0.5, 2]);
  });

  test('of an int tensor is float', () => {
    const v = variance(tensor([1, 2, 3, 4], { dtype: 'int32' }));
    assert.equal(v.dtype, 'float32');
    assertClose(v, [5 / 3]);
  });
});

describe('logsumexp', () => {
  test('values: log(e^0 + e^0) = ln 2; stable for large inputs', () => {
    assertClose(logsumexp(tensor([[0, 0], [1000, 1000]]), 1), [Math.LN2, 1000 + Math.LN2]);
    // log(1 + 2 + 3) with inputs ln 1, ln 2, ln 3
    assertClose(logsumexp(tensor([0, Math.log(2), Math.log(3)], { dtype: 'float64' }), 0), [Math.log(6)], 'lse', 1e-12, 1e-12);
    assertClose(logsumexp(tensor([-1000, -1000]), 0), [-1000 + Math.LN2]);
  });

  test('rows of -inf give -inf; one -inf entry is ignored; +inf gives +inf', () => {
    const r = logsumexp(tensor([[-Infinity, -Infinity], [-Infinity, 0], [Infinity, 0]]), -1);
    assert.deepEqual(vals(r), [-Infinity, 0, Infinity]);
  });

  test('keepdim and several axes', () => {
    const t = tensor([[0, 0], [0, 0]]);
    const k = logsumexp(t, 1, true);
    assert.deepEqual(k.shape, [2, 1]);
    assertClose(k, [Math.LN2, Math.LN2]);
    const all = logsumexp(t, [0, 1]);
    assert.deepEqual(all.shape, []);
    assertClose(all, [Math.log(4)]);
  });
});
