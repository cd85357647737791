// Fuzz the native convolution kernels of native/src/im2col.cc against the reference backend's loops
// (the outside truth, written directly from the definitions): unfold2d and fold2d (whose rows take
// a contiguous fast path when the stride along the width is 1) and maxPool2dForward/-Backward
// (window maxima with their argmax positions, and the scatter of dy to them). Geometries cover
// strides 1-3, dilations 1-2, padding up to half the kernel, kernels wider than the input rows,
// permuted and stepped input layouts, ties and NaN, float32 and float64, 1 and 2 threads.
// The kernels are scalar C++ (no per-path SIMD), so one CPU path is enough.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Conv2dGeometry, View } from '../../src/backend/backend.js';
import { referenceBackend as ref } from '../../src/backends/reference/index.js';
import { getNativeBackend, getNumThreads, setNumThreads } from '../../src/backends/native/index.js';
import { conv2dGeometry } from '../../src/ops/conv.js';
import { fmt, mismatch, randView, readView, rng, withTies, type FloatKind } from './helpers.js';
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

  test('a bad argmax position is refused before anything is written', () => {
    const g = conv2dGeometry('test', [1, 1, 2, 2], [2, 2], [2, 2], [0, 0], [1, 1]);
    const dy: View = { data: new Float32Array([1]), shape: [1, 1, 1, 1], strides: [1, 1, 1, 1], offset: 0 };
    assert.throws(() => nat.maxPool2dBackward!(dy, new Int32Array([4]), g), /maxPool2dBackward: argmax position out of range/);
  });
});
