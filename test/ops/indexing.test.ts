// Unit tests for ops/indexing.ts: gather, indexSelect, cat, stack, oneHot, scatterAdd.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { cat, gather, indexSelect, oneHot, scatterAdd, stack, tensor, transpose } from '../../src/index.js';
import { vals } from '../core/helpers.js';

const i32 = (d: number[] | number[][]): ReturnType<typeof tensor> => tensor(d, { dtype: 'int32' });
// x = [[1, 2, 3], [4, 5, 6]]
const x = (): ReturnType<typeof tensor> => tensor([[1, 2, 3], [4, 5, 6]]);

describe('gather', () => {
  test('axis 1: out[i][j] = x[i][index[i][j]]', () => {
    // row 0 picks x[0][2], x[0][0] = 3, 1; row 1 picks x[1][1] twice = 5, 5
    const g = gather(x(), 1, i32([[2, 0], [1, 1]]));
    assert.deepEqual(g.shape, [2, 2]);
    assert.equal(g.dtype, 'float32');
    assert.deepEqual(g.toArray(), [[3, 1], [5, 5]]);
    assert.deepEqual(gather(x(), -1, i32([[0], [2]])).toArray(), [[1], [6]]);
  });

  test('axis 0: out[i][j] = x[index[i][j]][j]', () => {
    assert.deepEqual(gather(x(), 0, i32([[1, 0, 1]])).toArray(), [[4, 2, 6]]);
  });

  test('from a non-contiguous input', () => {
    // x^T = [[1, 4], [2, 5], [3, 6]]; pick column 1 in every row
    assert.deepEqual(gather(transpose(x(), 0, 1), 1, i32([[1], [1], [1]])).toArray(), [[4], [5], [6]]);
  });
});

describe('indexSelect', () => {
  test('rows and columns, repeated and negative axis', () => {
    assert.deepEqual(indexSelect(x(), 0, i32([1, 0, 1])).toArray(), [[4, 5, 6], [1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(indexSelect(x(), 1, i32([2])).toArray(), [[3], [6]]);
    assert.deepEqual(x().indexSelect(-1, i32([1, 1])).toArray(), [[2, 2], [5, 5]]);
    assert.deepEqual(indexSelect(x(), 0, i32([])).shape, [0, 3]);
  });
});

describe('cat / stack', () => {
  test('cat along axis 0, 1 and -1', () => {
    const a = tensor([[1, 2]]), b = tensor([[3, 4], [5, 6]]);
    const r = cat([a, b]);
    assert.deepEqual(r.shape, [3, 2]);
    assert.deepEqual(r.toArray(), [[1, 2], [3, 4], [5, 6]]);
    const c = cat([tensor([[1], [2]]), tensor([[3, 4], [5, 6]])], 1);
    assert.deepEqual(c.toArray(), [[1, 3, 4], [2, 5, 6]]);
    assert.deepEqual(cat([tensor([1]), tensor([2, 3])], -1).toArray(), [1, 2, 3]);
  });

  test('cat with a non-contiguous part, a single part, and dtype promotion', () => {
    const t = transpose(tensor([[1, 3], [2, 4]]), 0, 1); // [[1, 2], [3, 4]]
    assert.deepEqual(cat([t, tensor([[5, 6]])], 0).toArray(), [[1, 2], [3, 4], [5, 6]]);
    assert.deepEqual(cat([tensor([7, 8])]).toArray(), [7, 8]);
    const p = cat([tensor([1], { dtype: 'int32' }), tensor([0.5])]);
    assert.equal(p.dtype, 'float32');
    assert.deepEqual(vals(p), [1, 0.5]);
  });

  test('stack adds a new axis', () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]), b = tensor([[7, 8, 9], [10, 11, 12]]);
    const s0 = stack([a, b]);
    assert.deepEqual(s0.shape, [2, 2, 3]);
    assert.deepEqual(s0.toArray(), [a.toArray(), b.toArray()]);
    // axis 1: s1[i][k][j] = (k ? b : a)[i][j]
    assert.deepEqual(stack([a, b], 1).toArray(), [[[1, 2, 3], [7, 8, 9]], [[4, 5, 6], [10, 11, 12]]]);
    // axis -1: s[i][j][k]
    assert.deepEqual(stack([a, b], -1).toArray(), [[[1, 7], [2, 8], [3, 9]], [[4, 10], [5, 11], [6, 12]]]);
  });
});

describe('oneHot', () => {
  test('int32 result of shape (..., numClasses)', () => {
    const o = oneHot(i32([0, 2, 1]), 3);
    assert.equal(o.dtype, 'int32');
    assert.deepEqual(o.toArray(), [[1, 0, 0], [0, 0, 1], [0, 1, 0]]);
    const o2 = oneHot(i32([[1, 0], [3, 3]]), 4);
    assert.deepEqual(o2.shape, [2, 2, 4]);
    assert.deepEqual(o2.toArray(), [[[0, 1, 0, 0], [1, 0, 0, 0]], [[0, 0, 0, 1], [0, 0, 0, 1]]]);
  });
});

describe('scatterAdd', () => {
  test('adds src into zeros at the indexed positions (repeats accumulate)', () => {
    // out[0][index[0][j]] += src[0][j]: positions 1, 1, 3 receive 1, 2, 3 -> [0, 3, 0, 3]
    const r = scatterAdd([1, 4], 1, i32([[1, 1, 3]]), tensor([[1, 2, 3]]));
    assert.deepEqual(r.toArray(), [[0, 3, 0, 3]]);
  });
});
