// The `out` option and the in-place elementwise ops (add_, relu_, ...), and uninitialized output
// storage (allocateUninit, empty). Expected values are hand-derived (JavaScript's Math on the same
// inputs), never our own kernels' output. Runs on whichever backend the suite selects (npm test runs
// it on both). Poison tests fill every uninitialized buffer with a byte pattern first, so an output
// element a kernel failed to write shows up as garbage.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { allocateUninit, setUninitPoison } from '../../src/backend/dtype.js';
import {
  abs_, add, add_, backward, clone, div, div_, empty, eq, exp, exp_, gt, maximum, mul, mul_, neg, neg_, noGrad, ones,
  pow_, relu, relu_, reshape, sigmoid_, sqrt_, sub, sub_, sum, tensor, transpose, where, zeros, type Tensor,
} from '../../src/index.js';
import { narrow } from '../../src/ops/index.js';

/** Row i of a (rows, cols) tensor as a (cols,) view of its storage. */
const select = (x: Tensor, _axis: 0, i: number): Tensor => reshape(narrow(x, 0, i, 1), [x.shape[1]!]);
import { assertClose, vals } from '../core/helpers.js';

/** Runs f with every uninitialized buffer pre-filled with `byte`. */
function poisoned<T>(byte: number, f: () => T): T {
  const prev = setUninitPoison(byte);
  try { return f(); } finally { setUninitPoison(prev); }
}

/** Deterministic float values in [-2, 2), no randomness from the library under test. */
function seq(n: number, k = 1): number[] {
  return Array.from({ length: n }, (_, i) => (((i * 7919 * k + 13) % 1000) / 250) - 2);
}

const f32 = (v: number): number => Math.fround(v);

test('allocateUninit: own ArrayBuffer at byte 0 (Float64Array-aligned), exact length, poison visible', () => {
  for (const n of [0, 1, 5, 4095, 4096, 70001]) {
    const d = allocateUninit('float64', n);
    assert.ok(d instanceof Float64Array);
    assert.equal(d.length, n);
    assert.equal(d.byteOffset, 0);
    assert.equal(d.buffer.byteLength, n * 8);
    const i = allocateUninit('int32', n);
    assert.ok(i instanceof Int32Array && i.length === n && i.byteOffset === 0);
  }
  poisoned(0xff, () => {
    const big = allocateUninit('float32', 70001);
    assert.ok(Number.isNaN(big[0]!) && Number.isNaN(big[70000]!), 'poison 0xff reads as NaN');
    assert.equal(allocateUninit('int32', 10)[3], -1); // small sizes are poisoned too
  });
  assert.throws(() => setUninitPoison(256), /expected a byte/);
});

test('empty(): shape, dtype and requiresGrad as asked, contents overwritten by an out= op', () => {
  const e = empty([3, 5], { dtype: 'float64', requiresGrad: true });
  assert.deepEqual(e.shape, [3, 5]);
  assert.equal(e.dtype, 'float64');
  assert.equal(e.requiresGrad, true);
  assert.equal(empty([0]).size, 0);
  assert.throws(() => empty([-1]), /empty: shape/);
  const out = empty([4]);
  assertClose(add(tensor([1, 2, 3, 4]), 10, { out }), [11, 12, 13, 14]);
});

// Every elementwise kernel whose output starts uninitialized, at sizes around the 16 KiB switch to
// uninitialized storage and the native kernels' threading grain, odd lengths, and zero size.
const SIZES = [0, 1, 7, 33, 4097, 70001, 131075];
for (const byte of [0xff, 0x42]) {
  test(`poison 0x${byte.toString(16)}: unary, binary, comparison, where, copy and sum write every element`, () => {
    poisoned(byte, () => {
      for (const dtype of ['float32', 'float64'] as const) {
        const r = dtype === 'float32' ? f32 : (v: number) => v;
        for (const n of SIZES) {
          const xs = seq(n, 1), ys = seq(n, 3);
          const x = tensor(new Float64Array(xs), { dtype }), y = tensor(new Float64Array(ys), { dtype });
          const rx = xs.map(r), ry = ys.map(r);
          const what = `${dtype} n=${n}`;
          assertClose(relu(x), rx.map((v) => Math.max(v, 0)), `relu ${what}`, 0, 0);
          assertClose(neg(x), rx.map((v) => -v), `neg ${what}`, 0, 0);
          assertClose(exp(x), rx.map(Math.exp), `exp ${what}`, 1e-6, 0);
          assertClose(add(x, y), rx.map((v, i) => r(v + ry[i]!)), `add ${what}`, 0, 0);
          assertClose(mul(x, 1.5), rx.map((v) => r(v * 1.5)), `mul scalar ${what}`, 0, 0);
          assertClose(sub(x, y), rx.map((v, i) => r(v - ry[i]!)), `sub ${what}`, 0, 0);
          assertClose(gt(x, y), rx.map((v, i) => (v > ry[i]! ? 1 : 0)), `gt ${what}`, 0, 0);
          assertClose(where(gt(x, 0), x, y), rx.map((v, i) => (v > 0 ? v : ry[i]!)), `where ${what}`, 0, 0);
          assertClose(clone(x), rx, `clone ${what}`, 0, 0);
          assertClose(x.to(dtype === 'float32' ? 'float64' : 'float32'), dtype === 'float32' ? rx : rx.map(f32), `convert ${what}`, 0, 0);
          if (n > 0) assertClose(sum(x), [rx.reduce((s, v) => s + v, 0)], `sum ${what}`, 1e-5, 1e-3);
        }
        // broadcast and strided inputs, and axis reductions, at a size past the threading grain
        const rows = 300, cols = 457; // 137,100 elements
        const m = tensor(new Float64Array(seq(rows * cols)), { dtype, shape: [rows, cols] });
        const row = tensor(new Float64Array(seq(cols, 5)), { dtype, shape: [1, cols] });
        const mv = seq(rows * cols).map(r), rv = seq(cols, 5).map(r);
        assertClose(add(m, row), mv.map((v, i) => r(v + rv[i % cols]!)), `broadcast add ${dtype}`, 0, 0);
        const mt = transpose(m, 0, 1); // (cols, rows), strided
        const tv = Array.from({ length: rows * cols }, (_, k) => mv[(k % rows) * cols + Math.floor(k / rows)]!);
        assertClose(relu(mt), tv.map((v) => Math.max(v, 0)), `strided relu ${dtype}`, 0, 0);
        assertClose(clone(mt), tv, `strided clone ${dtype}`, 0, 0);
        const colSums = Array.from({ length: cols }, (_, j) => mv.filter((_, k) => k % cols === j).reduce((s, v) => s + v, 0));
        assertClose(sum(m, 0), colSums, `sum axis 0 ${dtype}`, 1e-5, 1e-3);
      }
      // integer and bool paths (reference kernels on both backends, native comparisons)
      const ints = tensor(new Int32Array(seq(5000).map((v) => Math.round(v * 10))), { dtype: 'int32' });
      assertClose(eq(ints, 0), vals(ints).map((v) => (v === 0 ? 1 : 0)), 'int eq', 0, 0);
      assertClose(add(ints, 3), vals(ints).map((v) => v + 3), 'int add', 0, 0);
      assertClose(ints.to('float32'), vals(ints), 'int -> float32', 0, 0);
    });
  });
}

test('out=: written into out, out returned, values as computed by hand, version bumped', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const a = tensor([[1, -2, 3], [4, 5, -6]], { dtype });
    const b = tensor([10, 20, 30], { dtype });
    const out = zeros([2, 3], { dtype });
    const v0 = out.version;
    assert.equal(add(a, b, { out }), out);
    assert.deepEqual(vals(out), [11, 18, 33, 14, 25, 24]);
    assert.equal(out.version, v0 + 1);
    assert.deepEqual(vals(mul(a, 2, { out })), [2, -4, 6, 8, 10, -12]);
    assert.deepEqual(vals(maximum(a, 0, { out })), [1, 0, 3, 4, 5, 0]);
    assert.deepEqual(vals(div(a, b, { out })), [0.1, -0.1, 0.1, 0.4, 0.25, -0.2].map(dtype === 'float32' ? f32 : (v) => v));
    assert.deepEqual(vals(relu(a, { out })), [1, 0, 3, 4, 5, 0]);
    assertClose(exp(a, { out }), [1, -2, 3, 4, 5, -6].map(Math.exp), 'exp out', 1e-6);
    const mask = zeros([2, 3], { dtype: 'bool' });
    assert.deepEqual(vals(gt(a, 0, { out: mask })), [1, 0, 1, 1, 1, 0]);
  }
  // an out that is a contiguous window with an offset: row 1 of a (2, 3) tensor
  const big = zeros([2, 3]);
  const row1 = select(big, 0, 1);
  add(tensor([1, 2, 3]), 1, { out: row1 });
  assert.deepEqual(vals(big), [0, 0, 0, 2, 3, 4]);
  // out may be an input itself (the very same elements): a = a + b
  const a = tensor([1, 2, 3]);
  add(a, tensor([10, 10, 10]), { out: a });
  assert.deepEqual(vals(a), [11, 12, 13]);
  // zero-size
  assert.equal(add(zeros([0]), 1, { out: empty([0]) }).size, 0);
});

test('out=: refused with wrong shape or dtype, strided out, partial overlap, non-Tensor', () => {
  const a = tensor([1, 2, 3]);
  assert.throws(() => add(a, 1, { out: zeros([4]) }), /add: out has shape \(4,\) but the result has shape \(3,\)/);
  assert.throws(() => add(a, 1, { out: zeros([1, 3]) }), /out has shape/); // no implicit reshape
  assert.throws(() => add(a, 1, { out: zeros([3], { dtype: 'float64' }) }), /add: out is float64 but the result is float32/);
  assert.throws(() => gt(a, 1, { out: zeros([3]) }), /out is float32 but the result is bool/);
  const m = zeros([3, 2]);
  assert.throws(() => add(ones([2, 3]), 1, { out: transpose(m, 0, 1) }), /must be contiguous/);
  assert.throws(() => relu(tensor([1]), { out: 5 as unknown as Tensor }), /out option must be a Tensor/);
});

test('out=: disjoint windows of one buffer are fine; a broadcast row of out is refused', () => {
  const lo = reshape(tensor([1, 2, 3, 4, 5, 6]), [2, 3]);
  add(select(lo, 0, 0), 1, { out: select(lo, 0, 1) }); // reads row 0, writes row 1
  assert.deepEqual(vals(lo), [1, 2, 3, 2, 3, 4]);
  const x = reshape(tensor([1, 2, 3, 4, 5, 6]), [2, 3]);
  assert.throws(() => add(x, select(x, 0, 0), { out: x }), /partially overlaps an input/);
  assert.throws(() => add_(x, select(x, 0, 1)), /add_: the tensor written in place .* partially overlaps/);
});

test('out= and in-place ops are refused while autograd needs the result, allowed under noGrad', () => {
  const w = tensor([1, 2, 3], { requiresGrad: true });
  const c = zeros([3]);
  assert.throws(() => mul(w, 2, { out: c }), (e: Error) => /^mul: out= cannot be used while gradients are recorded/.test(e.message) && /\(3,\)/.test(e.message) && /noGrad/.test(e.message));
  assert.throws(() => relu(w, { out: c }), /relu: out= cannot be used/);
  assert.throws(() => add_(c, w), /add_: an in-place op cannot be used .*use the out-of-place add/);
  assert.throws(() => relu_(w), /relu_: an in-place op cannot be used/);
  assert.throws(() => add(c, 1, { out: w }), /in-place write to a tensor that requires grad/);
  noGrad(() => {
    mul(w, 2, { out: c });
    relu_(w);
  });
  assert.deepEqual(vals(c), [2, 4, 6]);
});

test('in-place ops: values, same tensor returned, dtype rules, version bump caught by backward', () => {
  const x = tensor([1, -2, 3, -4]);
  assert.equal(add_(x, 1), x);
  assert.deepEqual(vals(x), [2, -1, 4, -3]);
  sub_(x, tensor([1, 1, 1, 1]));
  mul_(x, 2);
  assert.deepEqual(vals(x), [2, -4, 6, -8]);
  div_(x, 4);
  assert.deepEqual(vals(x), [0.5, -1, 1.5, -2]);
  neg_(x);
  abs_(x);
  assert.deepEqual(vals(x), [0.5, 1, 1.5, 2]);
  pow_(x, 2);
  assert.deepEqual(vals(x), [0.25, 1, 2.25, 4]);
  sqrt_(x);
  assert.deepEqual(vals(x), [0.5, 1, 1.5, 2]);
  relu_(sub_(x, 1));
  assert.deepEqual(vals(x), [0, 0, 0.5, 1]);
  exp_(x);
  assertClose(x, [1, 1, Math.exp(0.5), Math.E], 'exp_', 1e-6);
  sigmoid_(zeros([2])).dtype; // runs
  // broadcasting: y broadcasts to x, never x to a bigger shape
  const m = zeros([2, 3]);
  add_(m, tensor([1, 2, 3]));
  assert.deepEqual(vals(m), [1, 2, 3, 1, 2, 3]);
  assert.throws(() => add_(tensor([1, 2, 3]), zeros([2, 3])), /add_: the result has shape \(2, 3\), which does not fit in place/);
  // a float32 x keeps its dtype with a float64 y; an int x refuses a float result
  const f = tensor([1, 2]);
  add_(f, tensor([0.5, 0.5], { dtype: 'float64' }));
  assert.equal(f.dtype, 'float32');
  assert.deepEqual(vals(f), [1.5, 2.5]);
  const i = tensor(new Int32Array([1, 2]));
  add_(i, 3);
  assert.deepEqual(vals(i), [4, 5]);
  assert.throws(() => add_(i, 0.5), /add_: the result is float32 and cannot be written in place into a int32 tensor/);
  assert.throws(() => div_(i, 2), /div_: the result is float32/);
  assert.throws(() => exp_(i), /exp_: the result is float32/);
  // an input saved for backward, then overwritten in place: backward refuses
  const w = tensor([1, 2], { requiresGrad: true });
  const a = tensor([3, 4]);
  const y = sum(mul(w, a));
  mul_(a, 2);
  assert.throws(() => backward(y), /modified in place/);
});

test('in-place Tensor methods (x.add_(y), x.relu_()) write x and return it', () => {
  const x = tensor([[-1, 2], [3, -4]]);
  const y = tensor([10, 20]);
  noGrad(() => {
    assert.equal(x.add_(y), x);
    assert.deepEqual(vals(x), [9, 22, 13, 16]);
    x.sub_(20).mul_(2).relu_();  // [-11, 2, -7, -4] * 2 = [-22, 4, -14, -8], relu
    assert.deepEqual(vals(x), [0, 4, 0, 0]);
    x.div_(4).neg_().abs_();
    assert.deepEqual(vals(x), [0, 1, 0, 0]);
    const e = tensor([0, 1]).exp_();
    assertClose(vals(e), [1, Math.E]);
  });
  const p = tensor([1, 2], { requiresGrad: true });
  assert.throws(() => p.add_(1), /add_/);
});
