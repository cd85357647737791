// Unit tests for ops/binary.ts: broadcasting for every binary op, type promotion, comparisons
// (bool results), logical ops, where and clamp. Expected values come from the scalar formula in
// plain JS applied at broadcast indices (NumPy rule: align trailing axes, size 1 stretches).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  add, clamp, div, eq, ge, gt, le, logicalAnd, logicalNot, logicalOr, lt, maximum, minimum, mul, ne, pow,
  reshape, arange, square, reciprocal, sub, tensor, transpose, where, type Tensor,
} from '../../src/index.js';
import { assertClose, tabulate, vals } from '../core/helpers.js';

type Bin = (a: Tensor | number, b: Tensor | number) => Tensor;
const OPS: [string, Bin, (x: number, y: number) => number][] = [
  ['add', add, (x, y) => x + y],
  ['sub', sub, (x, y) => x - y],
  ['mul', mul, (x, y) => x * y],
  ['div', div, (x, y) => x / y],
  ['pow', pow, (x, y) => x ** y],
  ['maximum', maximum, (x, y) => Math.max(x, y)],
  ['minimum', minimum, (x, y) => Math.min(x, y)],
];
const CMPS: [string, Bin, (x: number, y: number) => boolean][] = [
  ['eq', eq, (x, y) => x === y], ['ne', ne, (x, y) => x !== y], ['lt', lt, (x, y) => x < y],
  ['le', le, (x, y) => x <= y], ['gt', gt, (x, y) => x > y], ['ge', ge, (x, y) => x >= y],
];

// a[i][0][k] = 0.5 + 0.25 * (4i + k) on (3, 1, 4), positive so pow is real; b[j][0] = 1 + j on (2, 1)
const aVal = (i: number, k: number): number => 0.5 + 0.25 * (4 * i + k);
const bVal = (j: number): number => 1 + j;
const A = tensor(tabulate([3, 1, 4], (i, _z, k) => aVal(i, k)), { dtype: 'float64' });
const A3 = reshape(A, [3, 1, 4]);
const B = reshape(tensor([1, 2], { dtype: 'float64' }), [2, 1]);

describe('broadcasting', () => {
  for (const [name, op, f] of OPS) {
    test(`${name}: (3, 1, 4) with (2, 1) -> (3, 2, 4), both orders`, () => {
      const out = op(A3, B);
      assert.deepEqual(out.shape, [3, 2, 4]);
      assertClose(out, tabulate([3, 2, 4], (i, j, k) => f(aVal(i, k), bVal(j))), name, 1e-12, 1e-12);
      const rev = op(B, A3);
      assert.deepEqual(rev.shape, [3, 2, 4]);
      assertClose(rev, tabulate([3, 2, 4], (i, j, k) => f(bVal(j), aVal(i, k))), `${name} reversed`, 1e-12, 1e-12);
    });
  }

  for (const [name, op, f] of CMPS) {
    test(`${name}: broadcasts and gives bool`, () => {
      // a (2, 3) = [[1, 2, 3], [4, 5, 6]] against b (3,) = [2, 2, 6]
      const a = tensor([[1, 2, 3], [4, 5, 6]]), b = tensor([2, 2, 6]);
      const out = op(a, b);
      assert.equal(out.dtype, 'bool');
      assert.deepEqual(out.shape, [2, 3]);
      const av = [[1, 2, 3], [4, 5, 6]], bv = [2, 2, 6];
      assert.deepEqual(out.toArray(), av.map((row) => row.map((x, k) => f(x, bv[k]!))));
      assert.equal(out.requiresGrad, false);
    });
  }

  test('more shapes: (4, 1, 3) with (2, 1) -> (4, 2, 3); (2, 3) with (3,); 0-d with 2-D', () => {
    const x = reshape(arange(0, 12, 1, { dtype: 'float32' }), [4, 1, 3]); // x[i][0][k] = 3i + k
    const y = tensor([[10], [20]]);
    const s = add(x, y);
    assert.deepEqual(s.shape, [4, 2, 3]);
    assert.deepEqual(vals(s), tabulate([4, 2, 3], (i, j, k) => 3 * i + k + 10 * (j + 1)));
    assert.deepEqual(mul(tensor([[1, 2, 3], [4, 5, 6]]), tensor([1, 0, -1])).toArray(), [[1, 0, -3], [4, 0, -6]]);
    assert.deepEqual(sub(tensor([[1, 2], [3, 4]]), tensor(1)).toArray(), [[0, 1], [2, 3]]);
    assert.deepEqual(add(tensor(2), tensor(3)).shape, []);
  });

  test('numbers on either side', () => {
    const x = tensor([1, 2, 4]);
    assert.deepEqual(vals(sub(1, x)), [0, -1, -3]);
    assert.deepEqual(vals(div(x, 2)), [0.5, 1, 2]);
    assert.deepEqual(vals(div(8, x)), [8, 4, 2]);
    assert.deepEqual(vals(pow(2, x)), [2, 4, 16]);
    assert.deepEqual(vals(pow(x, 0.5)), [1, Math.fround(Math.SQRT2), 2]);
    assert.deepEqual(vals(x.add(1).mul(2)), [4, 6, 10]);
    assert.deepEqual(vals(square(tensor([-3, 2]))), [9, 4]);
    assert.deepEqual(vals(reciprocal(tensor([4, -0.5]))), [0.25, -2]);
  });

  test('a non-contiguous operand broadcasts correctly', () => {
    // mt = [[1, 2, 3], [4, 5, 6]]^T = [[1, 4], [2, 5], [3, 6]]; + [10, 20] per row
    const mt = transpose(tensor([[1, 2, 3], [4, 5, 6]]), 0, 1);
    assert.deepEqual(add(mt, tensor([10, 20])).toArray(), [[11, 24], [12, 25], [13, 26]]);
  });

  test('maximum / minimum propagate NaN', () => {
    const a = tensor([NaN, 1, 3]), b = tensor([0, NaN, 2]);
    assertClose(maximum(a, b), [NaN, NaN, 3]);
    assertClose(minimum(a, b), [NaN, NaN, 2]);
  });
});

describe('type promotion', () => {
  const i32 = tensor([1, 2, 3], { dtype: 'int32' });

  test('int32 with float32 -> float32', () => {
    const r = add(i32, tensor([0.5, 0.5, 0.5]));
    assert.equal(r.dtype, 'float32');
    assert.deepEqual(vals(r), [1.5, 2.5, 3.5]);
    assert.equal(mul(tensor([2]), i32).dtype, 'float32');
  });

  test('int32 with an integer number stays int32; with a fractional number -> float32', () => {
    const r = add(i32, 2);
    assert.equal(r.dtype, 'int32');
    assert.deepEqual(vals(r), [3, 4, 5]);
    const f = add(i32, 2.5);
    assert.equal(f.dtype, 'float32');
    assert.deepEqual(vals(f), [3.5, 4.5, 5.5]);
  });

  test('float32 with float64 -> float64; float32 with a number stays float32', () => {
    const r = add(tensor([1]), tensor([0.1], { dtype: 'float64' }));
    assert.equal(r.dtype, 'float64');
    assert.equal(r.item(), 1.1); // 1 + 0.1 in doubles: the float64 operand was not rounded to float32
    assert.equal(add(tensor([1]), 0.1).dtype, 'float32');
    assert.equal(mul(tensor([1], { dtype: 'float64' }), 3).dtype, 'float64');
  });

  test('integer division is true division -> float32', () => {
    // 7 / 2 = 3.5, -7 / 2 = -3.5 (no truncation), 1 / 0 = inf
    const r = div(tensor([7, -7, 1], { dtype: 'int32' }), tensor([2, 2, 0], { dtype: 'int32' }));
    assert.equal(r.dtype, 'float32');
    assert.deepEqual(vals(r), [3.5, -3.5, Infinity]);
    const s = div(i32, 2);
    assert.equal(s.dtype, 'float32');
    assert.deepEqual(vals(s), [0.5, 1, 1.5]);
  });

  test('bool and uint8 promote to the wider operand', () => {
    const bl = tensor([true, false, true]);
    const r = add(i32, bl);
    assert.equal(r.dtype, 'int32');
    assert.deepEqual(vals(r), [2, 2, 4]);
    assert.equal(add(tensor(new Uint8Array([1, 2])), tensor([1, 1], { dtype: 'int32' })).dtype, 'int32');
    assert.equal(mul(bl, tensor([0.5, 0.5, 0.5])).dtype, 'float32');
  });

  test('integer pow with a negative integer exponent is refused', () => {
    assert.throws(() => pow(tensor([2], { dtype: 'int32' }), -1), /pow: integers to negative integer powers are not allowed/);
    assert.deepEqual(vals(pow(tensor([2, 3], { dtype: 'int32' }), 2)), [4, 9]);
  });

  test('comparisons across dtypes compare values', () => {
    assert.deepEqual(eq(i32, tensor([1, 2.5, 3])).toArray(), [true, false, true]);
    assert.deepEqual(lt(i32, 2.5).toArray(), [true, true, false]);
    assert.deepEqual(eq(tensor([NaN]), tensor([NaN])).toArray(), [false]);
    assert.deepEqual(ne(tensor([NaN]), tensor([NaN])).toArray(), [true]);
  });
});

describe('logical ops', () => {
  test('and / or / not on bool tensors, with broadcasting', () => {
    const a = tensor([[true], [false]]), b = tensor([true, false]);
    assert.deepEqual(logicalAnd(a, b).toArray(), [[true, false], [false, false]]);
    assert.deepEqual(logicalOr(a, b).toArray(), [[true, true], [true, false]]);
    const n = logicalNot(b);
    assert.equal(n.dtype, 'bool');
    assert.deepEqual(n.toArray(), [false, true]);
  });
});

describe('where', () => {
  test('broadcasts cond (2, 1), a (1, 3) and a number', () => {
    const cond = tensor([[true], [false]]);
    const a = tensor([[1, 2, 3]]);
    const r = where(cond, a, 0);
    assert.deepEqual(r.shape, [2, 3]);
    assert.equal(r.dtype, 'float32');
    assert.deepEqual(r.toArray(), [[1, 2, 3], [0, 0, 0]]);
  });

  test('elementwise selection', () => {
    const x = tensor([-2, -1, 0, 1, 2]);
    assert.deepEqual(vals(where(gt(x, 0), x, mul(x, 10))), [-20, -10, 0, 1, 2]);
  });

  test('dtypes: two numbers -> float32; int tensor and int number -> int32; float32 with float64 -> float64', () => {
    const c = tensor([true, false]);
    const n = where(c, 1, 0);
    assert.equal(n.dtype, 'float32');
    assert.deepEqual(vals(n), [1, 0]);
    const i = where(c, tensor([5, 6], { dtype: 'int32' }), -1);
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(vals(i), [5, -1]);
    assert.equal(where(c, tensor([1, 2]), tensor([3, 4], { dtype: 'float64' })).dtype, 'float64');
  });
});

describe('clamp', () => {
  test('both bounds, one bound, NaN passes through', () => {
    const x = tensor([-2, -0.5, 0.5, 2, NaN]);
    assertClose(clamp(x, -1, 1), [-1, -0.5, 0.5, 1, NaN]);
    assertClose(clamp(x, 0), [0, 0, 0.5, 2, NaN]);
    assertClose(clamp(x, null, 0), [-2, -0.5, 0, 0, NaN]);
    assertClose(x.clamp(undefined, 0.5), [-2, -0.5, 0.5, 0.5, NaN]);
  });

  test('keeps the dtype and shape', () => {
    const i = clamp(tensor([[-5, 3], [10, 0]], { dtype: 'int32' }), 0, 4);
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(i.toArray(), [[0, 3], [4, 0]]);
    assert.equal(clamp(tensor([1], { dtype: 'float64' }), 0, 2).dtype, 'float64');
  });

  test('needs at least one bound', () => {
    assert.throws(() => clamp(tensor([1])), /clamp: at least one of min or max must be given/);
  });
});
