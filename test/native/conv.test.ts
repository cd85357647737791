// Fuzz the native convolution kernels against loops written directly from the definitions (the
// reference backend's, and direct convolution loops here): unfold2d and fold2d (native/src/im2col.cc;
// rows take a contiguous fast path when the stride along the width is 1), maxPool2dForward/-Backward
// (native/src/max_pool2d.cc: window maxima with their argmax positions, and the scatter of dy to
// them; the 2x2 stride-2 fast paths) and conv2dForward/-Backward (native/src/conv2d.cc: per-sample
// im2col in scratch + GEMM per group; depthwise loops when every group has one input channel; for
// stride 1, dilation 1, one group and few weights the direct wide-plane loops of
// native/src/conv_direct_impl.h, one body per CPU path). Geometries cover strides 1-3,
// dilations 1-2, padding up to half the kernel, kernels wider than the input rows,
// permuted and stepped input layouts, ties and NaN, float32 and float64, 1 and 2 threads; the direct loops run
// on every CPU path (the rest is scalar C++, so one path is enough there).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Conv2dGeometry, View } from '../../src/backend/backend.js';
import { referenceBackend as ref } from '../../src/backends/reference/index.js';
import { getNativeBackend, getNumThreads, setNumThreads } from '../../src/backends/native/index.js';
import { conv2dGeometry } from '../../src/ops/conv.js';
import { fmt, forEachPathAndThreads, mismatch, randView, readView, rng, withTies, type FloatKind } from './helpers.js';
import { nativeSkip as skip } from './helpers.js';

const nat = getNativeBackend()!;
const KINDS: FloatKind[] = ['float32', 'float64'];

/** A random geometry: input (N, C, H, W) and a window with its stride, padding and dilation. */
function randGeometry(r: () => number, pool: boolean): Conv2dGeometry {
  for (;;) {
    const shape = [1 + Math.floor(r() * 3), 1 + Math.floor(r() * 3), 1 + Math.floor(r() * 9), 1 + Math.floor(r() * 9)];
    const k: [number, number] = [1 + Math.floor(r() * 4), 1 + Math.floor(r() * 4)];
    const s: [number, number] = [1 + Math.floor(r() * 3), r() < 0.6 ? 1 : 1 + Math.floor(r() * 3)];
    const d: [number, number] = [r() < 0.7 ? 1 : 2, r() < 0.7 ? 1 : 2];
    const p: [number, number] = [Math.floor(r() * (Math.floor(k[0] / 2) + 1)), Math.floor(r() * (Math.floor(k[1] / 2) + 1))];
    try { return conv2dGeometry('test', shape, k, s, pool ? p : [Math.floor(r() * 3), Math.floor(r() * 3)], d); } catch { /* window larger than the input: draw again */ }
  }
}

function withThreads(body: (threads: number) => void): void {
  const prev = getNumThreads();
  try { for (const t of [1, 2]) { setNumThreads(t); body(t); } } finally { setNumThreads(prev); }
}

describe('native unfold2d / fold2d', { skip }, () => {
  test('equal the reference loops on random geometries and layouts', () => {
    const r = rng(17);
    withThreads((threads) => {
      for (let it = 0; it < 150; it++) {
        const kind = KINDS[it % 2]!;
        const g = randGeometry(r, false);
        const x = randView(r, kind, [g.n, g.c, g.h, g.w], (q) => (q() - 0.5) * 4);
        const pad = it % 3 === 0 ? -Infinity : 0;
        const what = `${kind} ${threads} threads ${JSON.stringify(g)} x ${fmt(x)}`;
        assert.equal(mismatch(nat.unfold2d(x, g, pad, kind), ref.unfold2d(x, g, pad, kind), 0), null, `unfold2d ${what}`);
        const cols = randView(r, kind, [g.n, g.c, g.kh, g.kw, g.oh, g.ow], (q) => (q() - 0.5) * 4);
        // fold2d sums in another order than the reference: a few ulps
        assert.equal(mismatch(nat.fold2d(cols, g, kind), ref.fold2d(cols, g, kind), kind === 'float32' ? 1e-5 : 1e-12, 1e-6), null, `fold2d ${what} cols ${fmt(cols)}`);
      }
    });
  });
});

describe('native maxPool2dForward / maxPool2dBackward', { skip }, () => {
  test('maxima, argmax and the gradient scatter equal the reference on random geometries, ties and NaN', () => {
    const r = rng(29);
    withThreads((threads) => {
      for (let it = 0; it < 150; it++) {
        const kind = KINDS[it % 2]!;
        const g = randGeometry(r, true);
        const x = randView(r, kind, [g.n, g.c, g.h, g.w], it % 4 === 0 ? withTies : (q) => (q() - 0.5) * 4);
        const what = `${kind} ${threads} threads ${JSON.stringify(g)} x ${fmt(x)}`;
        const got = nat.maxPool2dForward!(x, g), want = ref.maxPool2dForward!(x, g);
        assert.equal(mismatch(got.y, want.y, 0), null, `y ${what}`);
        assert.deepEqual([...got.argmax], [...want.argmax], `argmax ${what}`);
        // every argmax is a position inside its window that holds the maximum (or a NaN); -1 marks a
        // window wholly in the padding (dilation can do that), whose maximum is -inf
        const xs = readView(x), hw = g.h * g.w;
        got.argmax.forEach((a, i) => {
          if (a < 0) { assert.equal(got.y[i], -Infinity, `window ${i} wholly in the padding (${what})`); return; }
          const v = xs[Math.floor(i / (g.oh * g.ow)) * hw + a]!;
          assert.ok(Object.is(v, got.y[i]) || v === got.y[i], `argmax ${i} -> ${a} reads ${v}, y ${got.y[i]} (${what})`);
        });
        const dy: View = randView(r, kind, [g.n, g.c, g.oh, g.ow], (q) => (q() - 0.5) * 4);
        const tol = kind === 'float32' ? 1e-5 : 1e-12;
        assert.equal(mismatch(nat.maxPool2dBackward!(dy, got.argmax, g), ref.maxPool2dBackward!(dy, want.argmax, g), tol, 1e-6), null, `dx ${what} dy ${fmt(dy)}`);
      }
    });
  });

  test('2x2 windows of stride 2 (vector loops on every CPU path) on even and odd planes, ties, NaN and stray argmax', () => {
    const r = rng(31);
    forEachPathAndThreads((path, threads) => {
      for (let it = 0; it < 12; it++) {
        const kind = KINDS[it % 2]!;
        // widths to 43: 21 outputs per row cover the 16-, 8- and 4-lane loops and the scalar tail
        const shape = [1 + (it % 3), 1 + (it % 2), 2 + Math.floor(r() * 8), 2 + Math.floor(r() * 42)];
        const g = conv2dGeometry('test', shape, [2, 2], [2, 2], [0, 0], [1, 1]);
        const fill = it % 3 === 0 ? withTies : it % 3 === 1 ? (q: () => number) => (q() < 0.1 ? NaN : q() - 0.5) : (q: () => number) => q() - 0.5;
        const x = randView(r, kind, shape, fill);
        const what = `${kind} ${path} ${threads} threads ${JSON.stringify(shape)} x ${fmt(x)}`;
        const got = nat.maxPool2dForward!(x, g), want = ref.maxPool2dForward!(x, g);
        assert.equal(mismatch(got.y, want.y, 0), null, `y ${what}`);
        assert.deepEqual([...got.argmax], [...want.argmax], `argmax ${what}`);
        const dy: View = randView(r, kind, [g.n, g.c, g.oh, g.ow], (q) => q() - 0.5);
        // a position outside its window (the general scatter handles that plane)
        const arg = Int32Array.from(got.argmax);
        if (it % 4 === 3) arg[arg.length - 1] = 0;
        assert.equal(mismatch(nat.maxPool2dBackward!(dy, arg, g), ref.maxPool2dBackward!(dy, arg, g), 1e-6, 1e-7), null, `dx ${what}`);
      }
    });
  });

  test('any window, stride, padding and dilation on wide planes (float32 vector loops on every CPU path) equals the reference', () => {
    const r = rng(37);
    forEachPathAndThreads((path, threads) => {
      for (let it = 0; it < 14; it++) {
        // rows of up to 45 outputs: full-width, 8- and 4-lane blocks with an overlapping last block,
        // border windows (padding, dilation) scalar; strides 1 (plain loads), 2 (shuffles), 3 (gathers)
        const k: [number, number] = [1 + Math.floor(r() * 4), 1 + Math.floor(r() * 4)];
        const s: [number, number] = [1 + Math.floor(r() * 3), 1 + (it % 3)];
        const d: [number, number] = [r() < 0.7 ? 1 : 2, r() < 0.7 ? 1 : 2];
        const p: [number, number] = [Math.floor(r() * (Math.floor(k[0] / 2) + 1)), Math.floor(r() * (Math.floor(k[1] / 2) + 1))];
        const shape = [1 + (it % 2), 1 + (it % 3), k[0] * d[0] + Math.floor(r() * 9), k[1] * d[1] + Math.floor(r() * 46)];
        const g = conv2dGeometry('test', shape, k, s, p, d);
        const fill = it % 3 === 0 ? withTies : it % 3 === 1 ? (q: () => number) => (q() < 0.1 ? NaN : q() - 0.5) : (q: () => number) => q() - 0.5;
        const x = randView(r, 'float32', shape, fill, { permute: false });
        const what = `${path} ${threads} threads ${JSON.stringify(g)} x ${fmt(x)}`;
        const got = nat.maxPool2dForward!(x, g), want = ref.maxPool2dForward!(x, g);
        assert.equal(mismatch(got.y, want.y, 0), null, `y ${what}`);
        assert.deepEqual([...got.argmax], [...want.argmax], `argmax ${what}`);
        const dy: View = randView(r, 'float32', [g.n, g.c, g.oh, g.ow], (q) => q() - 0.5);
        assert.equal(mismatch(nat.maxPool2dBackward!(dy, got.argmax, g), ref.maxPool2dBackward!(dy, want.argmax, g), 1e-6, 1e-7), null, `dx ${what}`);
      }
    });
  });

  test('a bad argmax position is refused before anything is written', () => {
    const g = conv2dGeometry('test', [1, 1, 2, 2], [2, 2], [2, 2], [0, 0], [1, 1]);
    const dy: View = { data: new Float32Array([1]), shape: [1, 1, 1, 1], strides: [1, 1, 1, 1], offset: 0 };
    assert.throws(() => nat.maxPool2dBackward!(dy, new Int32Array([4]), g), /maxPool2dBackward: argmax position out of range/);
  });
});

/**
 * Direct convolution in `groups` groups: y, and for dy the gradients dx, dw, db, by the definition
 * (output channel oc reads input channels [gi * C/G, (gi + 1) * C/G) with gi = oc / (O/G)).
 */
function directConv(x: number[], w: number[], b: number[] | null, g: Conv2dGeometry, o: number, dy: number[], groups = 1) {
  const cg = g.c / groups, og = o / groups;
  const y = new Array<number>(g.n * o * g.oh * g.ow).fill(0);
  const dx = new Array<number>(g.n * g.c * g.h * g.w).fill(0), dw = new Array<number>(w.length).fill(0), db = new Array<number>(o).fill(0);
  for (let n = 0; n < g.n; n++) for (let oc = 0; oc < o; oc++) for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
    const yi = ((n * o + oc) * g.oh + oy) * g.ow + ox;
    let acc = b ? b[oc]! : 0;
    db[oc]! += dy[yi]!;
    for (let cl = 0; cl < cg; cl++) for (let i = 0; i < g.kh; i++) for (let j = 0; j < g.kw; j++) {
      const yy = oy * g.strideH - g.padH + i * g.dilationH, xx = ox * g.strideW - g.padW + j * g.dilationW;
      if (yy < 0 || yy >= g.h || xx < 0 || xx >= g.w) continue;
      const c = Math.floor(oc / og) * cg + cl;
      const xi = ((n * g.c + c) * g.h + yy) * g.w + xx, wi = ((oc * cg + cl) * g.kh + i) * g.kw + j;
      acc += x[xi]! * w[wi]!;
      dx[xi]! += dy[yi]! * w[wi]!;
      dw[wi]! += dy[yi]! * x[xi]!;
    }
    y[yi] = acc;
  }
  return { y, dx, dw, db };
}

describe('native conv2dForward / conv2dBackward', { skip }, () => {
  test('equal direct convolution loops on random geometries, layouts, with and without bias and gradients', () => {
    const r = rng(41);
    withThreads((threads) => {
      for (let it = 0; it < 80; it++) {
        const kind = KINDS[it % 2]!;
        const g = randGeometry(r, false);
        const o = 1 + Math.floor(r() * 5);
        const x = randView(r, kind, [g.n, g.c, g.h, g.w], (q) => (q() - 0.5) * 4);
        const w = randView(r, kind, [o, g.c, g.kh, g.kw], (q) => (q() - 0.5) * 4, { permute: false, slice: false });
        const b = it % 3 === 0 ? null : randView(r, kind, [o], (q) => (q() - 0.5) * 4, { permute: false, slice: false });
        // the bias as a view at an offset inside a larger array (a slice of some storage)
        const padded = [7, 7, ...(b ? readView(b) : []), 7];
        const bias: View | null = b ? { data: kind === 'float32' ? Float32Array.from(padded) : Float64Array.from(padded), shape: [o], strides: [1], offset: 2 } : null;
        const dy = randView(r, kind, [g.n, o, g.oh, g.ow], (q) => (q() - 0.5) * 4, { permute: false, slice: false });
        const want = directConv(readView(x), readView(w), bias ? readView(bias) : null, g, o, readView(dy));
        const what = `${kind} ${threads} threads ${JSON.stringify(g)} O ${o} x ${fmt(x)}${bias ? '' : ' no bias'}`;
        const tol = kind === 'float32' ? 1e-4 : 1e-11;
        const y = nat.conv2dForward!(x, w, bias, g);
        assert.ok(y !== null, what);
        assert.equal(mismatch(y!, want.y, tol, tol), null, `y ${what}`);
        const needs: [boolean, boolean, boolean] = [it % 4 !== 1, it % 4 !== 2, bias !== null && it % 4 !== 3];
        const got = nat.conv2dBackward!(dy, x, w, g, needs)!;
        assert.equal(got.dx === null, !needs[0], what);
        if (needs[0]) assert.equal(mismatch(got.dx!, want.dx, tol, tol), null, `dx ${what}`);
        if (needs[1]) assert.equal(mismatch(got.dweight!, want.dw, tol, tol * 10), null, `dw ${what}`);
        if (needs[2]) assert.equal(mismatch(got.dbias!, want.db, tol, tol * 10), null, `db ${what}`);
      }
    });
  });

  test('grouped and depthwise (with channel multipliers) equal direct loops, every gradient subset', () => {
    const r = rng(43);
    withThreads((threads) => {
      for (let it = 0; it < 60; it++) {
        const kind = KINDS[it % 2]!;
        const groups = 2 + Math.floor(r() * 3);
        const cg = it % 2 === 0 ? 1 : 1 + Math.floor(r() * 2);   // 1: depthwise (its own loops)
        const og = 1 + Math.floor(r() * 3), o = og * groups;
        let g: Conv2dGeometry;
        for (;;) {
          const base = randGeometry(r, false);
          try { g = conv2dGeometry('test', [base.n, groups * cg, base.h, base.w], [base.kh, base.kw], [base.strideH, base.strideW], [base.padH, base.padW], [base.dilationH, base.dilationW]); break; } catch { /* draw again */ }
        }
        const x = randView(r, kind, [g.n, g.c, g.h, g.w], (q) => (q() - 0.5) * 4);
        const w = randView(r, kind, [o, cg, g.kh, g.kw], (q) => (q() - 0.5) * 4, { permute: false, slice: false });
        const bias = it % 3 === 0 ? null : randView(r, kind, [o], (q) => (q() - 0.5) * 4, { permute: false, slice: false });
        const dy = randView(r, kind, [g.n, o, g.oh, g.ow], (q) => (q() - 0.5) * 4, { permute: false, slice: false });
        const want = directConv(readView(x), readView(w), bias ? readView(bias) : null, g, o, readView(dy), groups);
        const what = `${kind} ${threads} threads ${JSON.stringify(g)} O ${o} groups ${groups} x ${fmt(x)}${bias ? '' : ' no bias'}`;
        const tol = kind === 'float32' ? 1e-4 : 1e-11;
        assert.equal(mismatch(nat.conv2dForward!(x, w, bias, g, groups)!, want.y, tol, tol), null, `y ${what}`);
        const needs: [boolean, boolean, boolean] = [it % 4 !== 1, it % 4 !== 2, bias !== null && it % 4 !== 3];
        const got = nat.conv2dBackward!(dy, x, w, g, needs, groups)!;
        assert.equal(got.dweight === null, !needs[1], what);
        if (needs[0]) assert.equal(mismatch(got.dx!, want.dx, tol, tol), null, `dx ${what}`);
        if (needs[1]) assert.equal(mismatch(got.dweight!, want.dw, tol, tol * 10), null, `dw ${what}`);
        if (needs[2]) assert.equal(mismatch(got.dbias!, want.db, tol, tol * 10), null, `db ${what}`);
      }
    });
  });

  test('the direct loops (stride 1, dilation 1) equal direct convolution on every CPU path, and lenet5-like layers', () => {
    const r = rng(43);
    forEachPathAndThreads((path, threads) => {
      for (let it = 0; it < 14; it++) {
        const kind = KINDS[it % 2]!;
        // widths to 21 (vector tails of 16, 8 and 4 lanes), O to 9 (blocks of 4, 2 and 1 channels);
        // the last four: a batch of 35, lenet5's layers at batch 2, and one above the direct path's
        // weight limit (GEMM)
        const k: [number, number] = [1 + Math.floor(r() * 5), 1 + Math.floor(r() * 5)];
        let shape = [1 + Math.floor(r() * 3), 1 + Math.floor(r() * 4), k[0] + Math.floor(r() * 12), k[1] + Math.floor(r() * 16)];
        let pad: [number, number] = [Math.floor(r() * 3), Math.floor(r() * 3)];
        let o = 1 + Math.floor(r() * 9);
        // more samples than the 16 weight-gradient chunks (2 or 3 per chunk, in one call of the dW loop), taps of 5 in a row
        if (it === 10) { shape = [35, 2, 7, 9]; k[0] = 3; k[1] = 5; pad = [1, 2]; o = 5; }
        if (it === 11) { shape = [2, 1, 28, 28]; k[0] = k[1] = 5; pad = [2, 2]; o = 6; }
        if (it === 12) { shape = [2, 6, 14, 14]; k[0] = k[1] = 5; pad = [0, 0]; o = 16; }
        if (it === 13) { shape = [1, 9, 7, 6]; k[0] = k[1] = 5; pad = [1, 1]; o = 20; }
        const g = conv2dGeometry('test', shape, k, [1, 1], pad, [1, 1]);
        const x = randView(r, kind, shape, (q) => (q() - 0.5) * 4);
        const w = randView(r, kind, [o, g.c, g.kh, g.kw], (q) => (q() - 0.5) * 4, { permute: false, slice: false });
        const b = it % 3 === 0 ? null : randView(r, kind, [o], (q) => (q() - 0.5) * 4, { permute: false, slice: false });
        const dy = randView(r, kind, [g.n, o, g.oh, g.ow], (q) => (q() - 0.5) * 4, { permute: false, slice: false });
        const want = directConv(readView(x), readView(w), b ? readView(b) : null, g, o, readView(dy));
        const what = `${kind} ${path} ${threads} threads ${JSON.stringify(g)} O ${o} x ${fmt(x)}`;
        const tol = kind === 'float32' ? 1e-4 : 1e-11;
        assert.equal(mismatch(nat.conv2dForward!(x, w, b, g)!, want.y, tol, tol), null, `y ${what}`);
        const needs: [boolean, boolean, boolean] = [it % 5 !== 1, it % 5 !== 2, b !== null];
        const got = nat.conv2dBackward!(dy, x, w, g, needs)!;
        if (needs[0]) assert.equal(mismatch(got.dx!, want.dx, tol, tol * 10), null, `dx ${what}`);
        if (needs[1]) assert.equal(mismatch(got.dweight!, want.dw, tol, tol * 10), null, `dw ${what}`);
        if (needs[2]) assert.equal(mismatch(got.dbias!, want.db, tol, tol * 10), null, `db ${what}`);
      }
    });
  });

  test('the weight gradient does not depend on the thread count (fixed partial-sum chunks)', () => {
    const g = conv2dGeometry('test', [37, 3, 9, 8], [3, 3], [1, 1], [1, 1], [1, 1]);
    const r = rng(5);
    const x = randView(r, 'float32', [37, 3, 9, 8], (q) => q() - 0.5, { permute: false, slice: false });
    const w = randView(r, 'float32', [4, 3, 3, 3], (q) => q() - 0.5, { permute: false, slice: false });
    const dy = randView(r, 'float32', [37, 4, 9, 8], (q) => q() - 0.5, { permute: false, slice: false });
    const runs: number[][] = [];
    withThreads(() => { runs.push([...nat.conv2dBackward!(dy, x, w, g, [true, true, true])!.dweight!]); });
    assert.deepEqual(runs[0], runs[1]);
  });

  test('shapes that do not match the geometry are refused', () => {
    const g = conv2dGeometry('test', [1, 2, 4, 4], [3, 3], [1, 1], [0, 0], [1, 1]);
    const x: View = { data: new Float32Array(32), shape: [1, 2, 4, 4], strides: [32, 16, 4, 1], offset: 0 };
    const w: View = { data: new Float32Array(27), shape: [1, 3, 3, 3], strides: [27, 9, 3, 1], offset: 0 };
    assert.throws(() => nat.conv2dForward!(x, w, null, g), /conv2dForward: weight shape does not match the geometry/);
    const w2: View = { data: new Float32Array(9), shape: [1, 1, 3, 3], strides: [9, 9, 3, 1], offset: 0 };
    assert.throws(() => nat.conv2dForward!(x, w2, null, g, 2), /conv2dForward: groups must divide the output channels/);
    assert.throws(() => nat.conv2dForward!(x, w2, null, g, 3), /conv2dForward: groups must be >= 1 and divide the input channels/);
  });
});
