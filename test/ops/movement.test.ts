// Unit tests for ops/movement.ts: views share storage (same .data, new shape/strides/offset) and
// never copy; reshape copies only when a view is impossible; contiguous copies only when needed.
// Expected strides are row-major by hand: shape (2, 3, 4) -> strides (12, 4, 1).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  arange, contiguous, detach, expand, flatten, narrow, permute, reshape, slice, squeeze, t, tensor, to,
  transpose, unsqueeze, view, zeros,
} from '../../src/index.js';
import { tabulate, vals } from '../core/helpers.js';

/** base[i][j][k] = 12i + 4j + k, shape (2, 3, 4), float32. */
function base3(): ReturnType<typeof reshape> {
  return reshape(arange(0, 24, 1, { dtype: 'float32' }), [2, 3, 4]);
}

describe('reshape / view', () => {
  test('reshape of a contiguous tensor is a view', () => {
    const a = arange(0, 24, 1, { dtype: 'float32' });
    const b = reshape(a, [2, 3, 4]);
    assert.equal(b.data, a.data);
    assert.deepEqual(b.shape, [2, 3, 4]);
    assert.deepEqual(b.strides, [12, 4, 1]);
    assert.equal(b.offset, 0);
    const c = reshape(b, [4, -1]); // -1 inferred: 24 / 4 = 6
    assert.deepEqual(c.shape, [4, 6]);
    assert.equal(c.data, a.data);
    assert.equal(b.reshape([24]).data, a.data);
  });

  test('reshape to the same shape returns the tensor itself', () => {
    const b = base3();
    assert.equal(reshape(b, [2, 3, 4]), b);
  });

  test('view refuses a transposed tensor that cannot be flattened; reshape copies it', () => {
    // a = [[0, 1, 2], [3, 4, 5]]; at = a^T = [[0, 3], [1, 4], [2, 5]], strides (1, 3)
    const a = reshape(arange(0, 6, 1, { dtype: 'float32' }), [2, 3]);
    const at = transpose(a, 0, 1);
    assert.deepEqual(at.strides, [1, 3]);
    assert.throws(() => view(at, [6]), /view: a tensor of shape \(3, 2\) with strides \(1, 3\) cannot be viewed as \(6,\); call \.contiguous\(\) first or use reshape/);
    assert.throws(() => at.view([6]), /view: /);
    const r = reshape(at, [6]);
    assert.notEqual(r.data, a.data, 'reshape must copy here');
    assert.deepEqual(vals(r), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(vals(a), [0, 1, 2, 3, 4, 5], 'the source is untouched');
  });

  test('view splits an axis of a permuted tensor without copying', () => {
    // p = permute(base, [1, 0, 2]): shape (3, 2, 4), strides (4, 12, 1); p[i][j][k] = 12j + 4i + k
    const b = base3();
    const p = permute(b, [1, 0, 2]);
    assert.deepEqual(p.strides, [4, 12, 1]);
    // splitting the last axis 4 -> (2, 2): strides (4, 12, 2, 1); v[i][j][k][l] = 12j + 4i + 2k + l
    const v = view(p, [3, 2, 2, 2]);
    assert.equal(v.data, b.data);
    assert.deepEqual(v.strides, [4, 12, 2, 1]);
    assert.deepEqual(vals(v), tabulate([3, 2, 2, 2], (i, j, k, l) => 12 * j + 4 * i + 2 * k + l));
    // merging (2, 4) with strides (12, 1), or (3, 2) with strides (4, 12), is impossible without a copy
    assert.throws(() => view(p, [3, 8]), /view: a tensor of shape \(3, 2, 4\) with strides \(4, 12, 1\) cannot be viewed as \(3, 8\)/);
    assert.throws(() => view(p, [6, 4]), /view: .*cannot be viewed as \(6, 4\)/);
    // inserting a size-1 axis is always a view
    const u = view(transpose(reshape(arange(0, 6, 1, { dtype: 'float32' }), [2, 3]), 0, 1), [3, 1, 2]);
    assert.deepEqual(u.toArray(), [[[0, 3]], [[1, 4]], [[2, 5]]]);
  });

  test('reshape of a viewable non-contiguous tensor does not copy', () => {
    const b = base3();
    const p = permute(b, [1, 0, 2]);
    const r = reshape(p, [3, 2, 2, 2]);
    assert.equal(r.data, b.data);
  });
});

describe('permute / transpose / t', () => {
  test('permute reorders shape and strides over the same storage', () => {
    const b = base3();
    const p = permute(b, [2, 0, 1]); // p[k][i][j] = b[i][j][k] = 12i + 4j + k
    assert.equal(p.data, b.data);
    assert.deepEqual(p.shape, [4, 2, 3]);
    assert.deepEqual(p.strides, [1, 12, 4]);
    assert.equal(p.isContiguous(), false);
    assert.deepEqual(vals(p), tabulate([4, 2, 3], (k, i, j) => 12 * i + 4 * j + k));
    assert.deepEqual(permute(b, [-1, 0, 1]).shape, [4, 2, 3]); // negative dims
  });

  test('transpose with negative dims; t() on 2-D', () => {
    const b = base3();
    const tr = transpose(b, -1, 0);
    assert.deepEqual(tr.shape, [4, 3, 2]);
    assert.deepEqual(tr.strides, [1, 4, 12]);
    assert.equal(tr.data, b.data);
    assert.equal(transpose(b, 1, 1), b);
    const m = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(t(m).toArray(), [[1, 4], [2, 5], [3, 6]]);
    assert.equal(m.t().data, m.data);
    const v = tensor([1, 2]);
    assert.equal(t(v), v); // 1-D: unchanged
    assert.throws(() => t(b), /t: expects a tensor of rank <= 2, got \(2, 3, 4\)/);
  });
});

describe('expand', () => {
  test('broadcast axes get stride 0 and share storage', () => {
    const c = tensor([[1], [2]]); // (2, 1)
    const e = expand(c, [2, 3]);
    assert.equal(e.data, c.data);
    assert.deepEqual(e.shape, [2, 3]);
    assert.deepEqual(e.strides, [1, 0]);
    assert.deepEqual(e.toArray(), [[1, 1, 1], [2, 2, 2]]);
    assert.equal(e.isContiguous(), false);
    // a new leading axis, and -1 keeping a size
    const r = expand(tensor([1, 2, 3]), [2, -1]);
    assert.deepEqual(r.shape, [2, 3]);
    assert.deepEqual(r.strides, [0, 1]);
    assert.deepEqual(r.toArray(), [[1, 2, 3], [1, 2, 3]]);
    assert.deepEqual(expand(tensor(5), [2, 2]).strides, [0, 0]);
  });

  test('-1 is refused for a new leading axis', () => {
    // torch: "the expanded size -1 isn't allowed in a leading, non-existing dimension"
    assert.throws(() => expand(tensor([1, 2]), [-1, 2]), /expand: size -1 is not allowed for new leading dimension 0: \(2,\) -> \(-1, 2\)/);
  });
});

describe('slice / narrow', () => {
  test('slice with a step: offset and stride, no copy', () => {
    const x = arange(10);
    const s = slice(x, 0, 1, 8, 3); // x[1:8:3] = 1, 4, 7
    assert.equal(s.data, x.data);
    assert.deepEqual(s.shape, [3]);
    assert.deepEqual(s.strides, [3]);
    assert.equal(s.offset, 1);
    assert.deepEqual(vals(s), [1, 4, 7]);
  });

  test('negative start/end count from the end; out-of-range ends clamp', () => {
    const x = arange(10);
    const tail = slice(x, 0, -3); // x[-3:] = 7, 8, 9
    assert.equal(tail.offset, 7);
    assert.deepEqual(vals(tail), [7, 8, 9]);
    assert.deepEqual(vals(slice(x, 0, -7, -1, 2)), [3, 5, 7]); // x[3:9:2]
    assert.deepEqual(vals(slice(x, 0, 8, 100)), [8, 9]);
    assert.deepEqual(vals(slice(x, 0, -100, 2)), [0, 1]);
    assert.equal(slice(x, 0, 5, 2).size, 0); // empty, not an error
  });

  test('slice along an inner axis of a 2-D tensor', () => {
    // m = [[0..3], [4..7], [8..11]]; m[:, 1:4:2] = [[1, 3], [5, 7], [9, 11]]
    const m = reshape(arange(12), [3, 4]);
    const s = slice(m, 1, 1, 4, 2);
    assert.equal(s.data, m.data);
    assert.deepEqual(s.strides, [4, 2]);
    assert.equal(s.offset, 1);
    assert.deepEqual(s.toArray(), [[1, 3], [5, 7], [9, 11]]);
    assert.deepEqual(m.slice(-1, 3).toArray(), [[3], [7], [11]]);
  });

  test('narrow', () => {
    const m = reshape(arange(12), [3, 4]);
    const rows = narrow(m, 0, 1, 2); // rows 1..2
    assert.equal(rows.data, m.data);
    assert.equal(rows.offset, 4);
    assert.deepEqual(rows.toArray(), [[4, 5, 6, 7], [8, 9, 10, 11]]);
    const cols = narrow(m, 1, -2, 2); // columns 2..3
    assert.equal(cols.offset, 2);
    assert.deepEqual(cols.toArray(), [[2, 3], [6, 7], [10, 11]]);
  });
});

describe('squeeze / unsqueeze / flatten', () => {
  test('squeeze all or one size-1 axis, as views', () => {
    const z = zeros([1, 3, 1, 2]);
    assert.deepEqual(squeeze(z).shape, [3, 2]);
    assert.deepEqual(squeeze(z, 2).shape, [1, 3, 2]);
    assert.deepEqual(squeeze(z, -4).shape, [3, 1, 2]);
    assert.deepEqual(squeeze(z, 1).shape, [1, 3, 1, 2]); // size 3: unchanged
    assert.equal(squeeze(z).data, z.data);
    assert.deepEqual(squeeze(zeros([1])).shape, []);
  });

  test('unsqueeze at the front, the back and negative positions', () => {
    const x = tensor([1, 2, 3]);
    assert.deepEqual(unsqueeze(x, 0).shape, [1, 3]);
    assert.deepEqual(unsqueeze(x, 1).shape, [3, 1]);
    assert.deepEqual(unsqueeze(x, -1).shape, [3, 1]);
    assert.deepEqual(unsqueeze(x, -2).shape, [1, 3]);
    assert.equal(unsqueeze(x, 0).data, x.data);
    assert.deepEqual(unsqueeze(tensor(4), 0).shape, [1]);
  });

  test('flatten ranges of axes', () => {
    const b = base3();
    assert.deepEqual(flatten(b).shape, [24]);
    assert.deepEqual(flatten(b, 1).shape, [2, 12]);
    assert.deepEqual(flatten(b, 0, 1).shape, [6, 4]);
    assert.deepEqual(flatten(b, -2, -1).shape, [2, 12]);
    assert.equal(flatten(b, 1).data, b.data);
    assert.deepEqual(flatten(tensor(7)).shape, [1]);
    assert.throws(() => flatten(b, 2, 1), /flatten: startDim 2 comes after endDim 1 for shape \(2, 3, 4\)/);
  });
});

describe('contiguous / detach / to', () => {
  test('contiguous copies only when needed', () => {
    const b = base3();
    assert.equal(contiguous(b), b);
    const rows = narrow(b, 0, 1, 1); // offset 12 but contiguous strides: no copy needed
    assert.equal(contiguous(rows), rows);
    const p = permute(b, [2, 0, 1]);
    const c = contiguous(p);
    assert.notEqual(c.data, b.data);
    assert.equal(c.isContiguous(), true);
    assert.deepEqual(c.strides, [6, 3, 1]);
    assert.equal(c.offset, 0);
    assert.deepEqual(vals(c), tabulate([4, 2, 3], (k, i, j) => 12 * i + 4 * j + k));
    assert.equal(c.contiguous(), c);
  });

  test('detach shares storage', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const d = detach(x);
    assert.equal(d.data, x.data);
    assert.equal(d.requiresGrad, false);
    assert.notEqual(d, x);
  });

  test('to converts with a copy; the same dtype returns the tensor', () => {
    const x = tensor([1.7, -1.7, 0, 2]);
    assert.equal(to(x, 'float32'), x);
    const i = to(x, 'int32'); // truncation toward zero
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(vals(i), [1, -1, 0, 2]);
    const bl = x.to('bool'); // nonzero -> true
    assert.deepEqual(bl.toArray(), [true, true, false, true]);
    const d = to(slice(x, 0, 0, 4, 2), 'float64'); // from a strided view
    assert.equal(d.dtype, 'float64');
    assert.deepEqual(vals(d), [Math.fround(1.7), 0]);
  });
});
