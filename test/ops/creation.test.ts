// Unit tests for ops/creation.ts: tensor(), constants, ranges, eye and the seeded random makers.
// Expected values are worked out by hand in the comments.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  arange, eye, full, fullLike, Generator, linspace, manualSeed, ones, onesLike, rand, randint, randn,
  ShapeError, tensor, TensorslimError, zeros, zerosLike,
} from '../../src/index.js';
import { assertClose, vals } from '../core/helpers.js';

describe('tensor()', () => {
  test('nested number arrays: shape, row-major strides, float32 by default', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.deepEqual(t.strides, [3, 1]);
    assert.equal(t.offset, 0);
    assert.equal(t.dtype, 'float32');
    assert.ok(t.data instanceof Float32Array);
    assert.deepEqual(vals(t), [1, 2, 3, 4, 5, 6]);
    assert.equal(t.ndim, 2);
    assert.equal(t.size, 6);
  });

  test('3-D nested arrays', () => {
    const t = tensor([[[1], [2]], [[3], [4]], [[5], [6]]]);
    assert.deepEqual(t.shape, [3, 2, 1]);
    assert.deepEqual(t.strides, [2, 1, 1]);
    assert.deepEqual(vals(t), [1, 2, 3, 4, 5, 6]);
  });

  test('a number gives a 0-d tensor', () => {
    const t = tensor(3.5);
    assert.deepEqual(t.shape, []);
    assert.equal(t.ndim, 0);
    assert.equal(t.size, 1);
    assert.equal(t.item(), 3.5);
  });

  test('booleans infer dtype bool, stored as 0/1 bytes', () => {
    const t = tensor([[true, false], [false, true]]);
    assert.equal(t.dtype, 'bool');
    assert.ok(t.data instanceof Uint8Array);
    assert.deepEqual(vals(t), [1, 0, 0, 1]);
    assert.deepEqual(t.toArray(), [[true, false], [false, true]]);
    const s = tensor(true);
    assert.equal(s.dtype, 'bool');
    assert.equal(s.toArray(), true);
  });

  test('typed arrays give their own dtype and are copied', () => {
    const f64 = new Float64Array([1, 2, 3, 4]);
    const t = tensor(f64, { shape: [2, 2] });
    assert.equal(t.dtype, 'float64');
    assert.deepEqual(t.shape, [2, 2]);
    f64[0] = 99; // the tensor owns a copy
    assert.deepEqual(vals(t), [1, 2, 3, 4]);
    assert.notEqual(t.data, f64);
    assert.equal(tensor(new Int32Array([1, -2])).dtype, 'int32');
    assert.equal(tensor(new Uint8Array([1, 2])).dtype, 'uint8');
    assert.equal(tensor(new Float32Array([0.5])).dtype, 'float32');
    assert.deepEqual(tensor(new Int32Array([7, 8, 9])).shape, [3]); // 1-D by default
  });

  test('typed array with a dtype converts values', () => {
    // float -> int32 truncates toward zero, as Int32Array (and torch .to(int)) do
    const t = tensor(new Float64Array([1.7, -1.7, 3]), { dtype: 'int32' });
    assert.equal(t.dtype, 'int32');
    assert.deepEqual(vals(t), [1, -1, 3]);
  });

  test('explicit dtype for nested arrays', () => {
    assert.deepEqual(vals(tensor([1.7, -1.7], { dtype: 'int32' })), [1, -1]);
    const d = tensor([0.1], { dtype: 'float64' });
    assert.equal(d.dtype, 'float64');
    assert.equal(d.item(), 0.1); // exact in float64, unlike float32
    assert.equal(tensor([0.1]).item(), Math.fround(0.1));
  });

  test('dtype bool from numbers stores 0/1 (nonzero is true)', () => {
    assert.deepEqual(vals(tensor([0, 2, -1], { dtype: 'bool' })), [0, 1, 1]);
    assert.deepEqual(vals(tensor(new Float32Array([0, 2]), { dtype: 'bool' })), [0, 1]);
  });

  test('empty list gives shape (0,)', () => {
    const t = tensor([]);
    assert.deepEqual(t.shape, [0]);
    assert.equal(t.size, 0);
  });

  test('requiresGrad option', () => {
    const t = tensor([1, 2], { requiresGrad: true });
    assert.equal(t.requiresGrad, true);
    assert.equal(t.isLeaf, true);
  });

  test('ragged nested arrays are refused', () => {
    assert.throws(() => tensor([[1, 2], [3]]), (e: unknown) => e instanceof ShapeError && /tensor: nested arrays are not rectangular: expected length 2 at depth 1, got 1/.test(e.message));
    assert.throws(() => tensor([[1], 2]), /tensor: nested arrays are not rectangular/);
    assert.throws(() => tensor([1, [2]]), (e: unknown) => e instanceof TensorslimError && /^tensor: /.test(e.message));
  });

  test('typed array length must match the shape option', () => {
    assert.throws(() => tensor(new Float32Array(4), { shape: [3] }), /tensor: shape \(3,\) holds 3 elements but the typed array has 4/);
  });

  test('the shape option reshapes nested data with the same element count', () => {
    const t = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] });
    assert.deepEqual(t.toArray(), [[1, 2, 3], [4, 5, 6]]);
    assert.throws(() => tensor([1, 2, 3], { shape: [2, 2] }), /tensor: shape \(2, 2\) holds 4 elements but the data has 3/);
  });
});

describe('constants', () => {
  test('zeros / ones / full: shape, dtype, values', () => {
    const z = zeros([2, 3]);
    assert.deepEqual(z.shape, [2, 3]);
    assert.equal(z.dtype, 'float32');
    assert.deepEqual(vals(z), [0, 0, 0, 0, 0, 0]);
    const o = ones([3], { dtype: 'float64' });
    assert.equal(o.dtype, 'float64');
    assert.deepEqual(vals(o), [1, 1, 1]);
    const f = full([2, 2], 7, { dtype: 'int32' });
    assert.equal(f.dtype, 'int32');
    assert.deepEqual(vals(f), [7, 7, 7, 7]);
    assert.deepEqual(full([2], -0.5).toArray(), [-0.5, -0.5]);
    assert.deepEqual(full([2], 1, { dtype: 'bool' }).toArray(), [true, true]);
  });

  test('0-d and empty shapes', () => {
    const s = zeros([]);
    assert.deepEqual(s.shape, []);
    assert.equal(s.size, 1);
    assert.equal(ones([0, 3]).size, 0);
  });

  test('*Like keep shape and dtype unless overridden', () => {
    const src = full([2, 1], 3, { dtype: 'float64' });
    const z = zerosLike(src);
    assert.deepEqual(z.shape, [2, 1]);
    assert.equal(z.dtype, 'float64');
    assert.deepEqual(vals(z), [0, 0]);
    const o = onesLike(src, { dtype: 'int32' });
    assert.equal(o.dtype, 'int32');
    assert.deepEqual(vals(o), [1, 1]);
    assert.deepEqual(vals(fullLike(src, 4)), [4, 4]);
    assert.equal(zerosLike(src, { requiresGrad: true }).requiresGrad, true);
  });

  test('bad shapes are refused', () => {
    assert.throws(() => full([2, -1], 0), /full: shape must be non-negative integers, got \(2, -1\)/);
    assert.throws(() => full([1.5], 0), /full: shape must be non-negative integers/);
  });

  test('zeros/ones name themselves in shape errors', () => {
    assert.throws(() => zeros([2, -1]), (e: unknown) => e instanceof Error && e.message.startsWith('zeros:'));
    assert.throws(() => ones([-3]), (e: unknown) => e instanceof Error && e.message.startsWith('ones:'));
  });
});

describe('arange', () => {
  test('integer arguments give int32', () => {
    const a = arange(5);
    assert.equal(a.dtype, 'int32');
    assert.deepEqual(vals(a), [0, 1, 2, 3, 4]);
    assert.deepEqual(vals(arange(2, 8, 3)), [2, 5]);          // 2, 5 (8 excluded)
    assert.deepEqual(vals(arange(-2, 2)), [-2, -1, 0, 1]);
  });

  test('negative step counts down, end excluded', () => {
    // ceil((0 - 5) / -2) = ceil(2.5) = 3 values: 5, 3, 1
    assert.deepEqual(vals(arange(5, 0, -2)), [5, 3, 1]);
    assert.deepEqual(vals(arange(3, -1, -1)), [3, 2, 1, 0]);
    // ceil((0 - 1) / -0.25) = 4 values
    const f = arange(1, 0, -0.25);
    assert.equal(f.dtype, 'float32');
    assert.deepEqual(vals(f), [1, 0.75, 0.5, 0.25]);
  });

  test('float arguments give float32', () => {
    const a = arange(0, 1, 0.25);
    assert.equal(a.dtype, 'float32');
    assert.deepEqual(vals(a), [0, 0.25, 0.5, 0.75]);
    // (0.3 - 0) / 0.1 = 2.9999999999999996 in doubles -> ceil = 3 values, like torch.arange(0, 0.3, 0.1)
    assertClose(arange(0, 0.3, 0.1), [0, 0.1, 0.2]);
    assert.equal(arange(0.5, 3).dtype, 'float32');
    assert.deepEqual(vals(arange(0.5, 3)), [0.5, 1.5, 2.5]);
  });

  test('empty ranges and dtype option', () => {
    assert.equal(arange(3, 3).size, 0);
    assert.equal(arange(3, 0).size, 0);       // positive step, end < start
    assert.equal(arange(0, 3, -1).size, 0);   // negative step, end > start
    const d = arange(0, 3, 1, { dtype: 'float64' });
    assert.equal(d.dtype, 'float64');
    assert.deepEqual(vals(d), [0, 1, 2]);
  });

  test('step 0 is refused', () => {
    assert.throws(() => arange(0, 1, 0), /arange: step must be a non-zero finite number, got 0/);
  });
});

describe('linspace', () => {
  test('evenly spaced, both ends included', () => {
    // step (1 - 0) / 4 = 0.25
    assert.deepEqual(vals(linspace(0, 1, 5)), [0, 0.25, 0.5, 0.75, 1]);
    assert.deepEqual(vals(linspace(3, -3, 3)), [3, 0, -3]);
  });

  test('the last value is exactly end, the first exactly start', () => {
    // step 1.3 / 6 = 0.21666...; accumulating from start would leave rounding error at the end
    const t = linspace(-1, 0.3, 7);
    const v = vals(t);
    assert.equal(v[0], -1);
    assert.equal(v[6], Math.fround(0.3));
    assertClose(v, [-1, -1 + 1.3 / 6, -1 + 2.6 / 6, -0.35, 0.3 - 2.6 / 6, 0.3 - 1.3 / 6, 0.3]);
    const d = vals(linspace(0, 0.3, 4, { dtype: 'float64' }));
    assert.equal(d[3], 0.3);
    assert.equal(d[0], 0);
  });

  test('steps 1 gives start, steps 0 gives empty', () => {
    assert.deepEqual(vals(linspace(2, 5, 1)), [2]);
    assert.equal(linspace(0, 1, 0).size, 0);
    assert.throws(() => linspace(0, 1, -1), /linspace: steps must be a non-negative integer, got -1/);
  });
});

describe('eye', () => {
  test('square and rectangular identities', () => {
    assert.deepEqual(eye(3).toArray(), [[1, 0, 0], [0, 1, 0], [0, 0, 1]]);
    assert.deepEqual(eye(2, 3).toArray(), [[1, 0, 0], [0, 1, 0]]);
    assert.deepEqual(eye(3, 2).toArray(), [[1, 0], [0, 1], [0, 0]]);
    const i = eye(2, 2, { dtype: 'int32' });
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(vals(i), [1, 0, 0, 1]);
  });
});

describe('random makers', () => {
  test('the same seed gives the same values, another seed different ones', () => {
    manualSeed(123);
    const a = vals(rand([50]));
    const an = vals(randn([7])); // odd count: leaves a cached Box-Muller spare behind
    const ai = vals(randint(0, 1000, [20]));
    manualSeed(123);
    assert.deepEqual(vals(rand([50])), a);
    assert.deepEqual(vals(randn([7])), an, 'manualSeed must also drop the cached normal');
    assert.deepEqual(vals(randint(0, 1000, [20])), ai);
    manualSeed(124);
    assert.notDeepEqual(vals(rand([50])), a);
  });

  test('an explicit generator with seed s matches manualSeed(s) on the default one', () => {
    manualSeed(9);
    const a = vals(randn([5], { dtype: 'float64' }));
    const b = vals(randn([5], { dtype: 'float64', generator: new Generator(9) }));
    assert.deepEqual(b, a);
  });

  test('a generator passed in does not disturb the default stream', () => {
    manualSeed(5);
    const expected = vals(rand([4]));
    manualSeed(5);
    rand([100], { generator: new Generator(1) });
    assert.deepEqual(vals(rand([4])), expected);
  });

  test('draws continue the stream: rand([2]) twice == rand([4])', () => {
    const g = new Generator(77);
    const whole = vals(rand([4], { generator: g.manualSeed(77) }));
    g.manualSeed(77);
    const parts = [...vals(rand([2], { generator: g })), ...vals(rand([2], { generator: g }))];
    assert.deepEqual(parts, whole);
  });

  test('rand: in [0, 1), mean 1/2 and variance 1/12 on 10^5 samples', () => {
    const v = vals(rand([100000], { dtype: 'float64', generator: new Generator(3) }));
    assert.ok(v.every((x) => x >= 0 && x < 1));
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const varr = v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length;
    // sd of the mean = sqrt(1/12 / 1e5) = 9.1e-4; allow ~5 sd
    assert.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`);
    assert.ok(Math.abs(varr - 1 / 12) < 0.003, `var ${varr}`);
  });

  test('randn: mean 0 and std 1 on 10^5 samples', () => {
    const v = vals(randn([100000], { generator: new Generator(11) }));
    const mean = v.reduce((s, x) => s + x, 0) / v.length;
    const std = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length);
    // sd of the mean = 1/sqrt(1e5) = 0.0032; sd of the std ~ 1/sqrt(2e5) = 0.0022
    assert.ok(Math.abs(mean) < 0.016, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.012, `std ${std}`);
    // about 68.3% within one sd
    const within = v.filter((x) => Math.abs(x) < 1).length / v.length;
    assert.ok(Math.abs(within - 0.6827) < 0.01, `within 1 sd: ${within}`);
  });

  test('rand/randn: shape, dtype and requiresGrad options', () => {
    const r = rand([2, 3], { dtype: 'float64', requiresGrad: true });
    assert.deepEqual(r.shape, [2, 3]);
    assert.equal(r.dtype, 'float64');
    assert.equal(r.requiresGrad, true);
    assert.throws(() => rand([2], { dtype: 'int32' }), /rand: dtype must be float32 or float64, got int32/);
    assert.throws(() => randn([2], { dtype: 'bool' }), /randn: dtype must be float32 or float64, got bool/);
  });

  test('randint: int32 values in [low, high), every value reached', () => {
    const t = randint(-3, 4, [10000], { generator: new Generator(2) });
    assert.equal(t.dtype, 'int32');
    assert.deepEqual(t.shape, [10000]);
    const v = vals(t);
    assert.ok(v.every((x) => Number.isInteger(x) && x >= -3 && x <= 3));
    assert.deepEqual([...new Set(v)].sort((a, b) => a - b), [-3, -2, -1, 0, 1, 2, 3]);
    assert.ok(vals(randint(5, 6, [10])).every((x) => x === 5)); // a range of one value
    assert.throws(() => randint(3, 3, [2]), /randint: need integers low < high, got low=3, high=3/);
    assert.throws(() => randint(0, 1.5, [2]), /randint: need integers low < high/);
  });
});
