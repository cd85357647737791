// Fuzz the native fused linear kernels (native/src/linear.cc, bound in src/backends/native/linear.ts)
// against the reference backend on every CPU path this machine has, with 1 and 2 threads: forward
// x W^T (+ bias, + ReLU) against matmul + add + relu, and backward (with the ReLU mask) against
// g W, g^T x and the column sums of g, for float32 and float64, strided views and zero-size axes.
// Tolerances are the classic (K + c) * eps * sum|terms| bound of a dot product.
// The op-level checks (fusedLinear with gradients, composed fallback) are in test/ops/linear.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { View } from '../../src/backend/backend.js';
import type { TypedArray } from '../../src/backend/dtype.js';
import { referenceBackend as ref } from '../../src/backends/reference/index.js';
import { getNativeBackend } from '../../src/backends/native/index.js';
import { EPS, KINDS, alloc, forEachPathAndThreads, mismatch, nativeSkip as skip, normal, randView, readView, rng, withTies, type FloatKind } from './helpers.js';

const nat = getNativeBackend()!;

/**
 * The reference's x W^T (+ bias) (then ReLU) for x (M, K) and w (N, K), and the elementwise error
 * bound (K + 3) eps (sum |x| |w| + |bias|) that the native result must meet.
 */
function linearReference(kind: FloatKind, x: View, w: View, bias: View | null, relu: boolean): { want: TypedArray; bound: number[] } {
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0]!;
  const x3 = { ...x, shape: [1, M, K], strides: [0, ...x.strides] };
  const wt = { ...w, shape: [1, K, N], strides: [0, w.strides[1]!, w.strides[0]!] };
  let want = ref.matmul(x3, wt, kind);
  if (bias) want = ref.binary('add', { data: want, shape: [M, N], strides: [N, 1], offset: 0 }, { ...bias, shape: [M, N], strides: [0, bias.strides[0]!] }, kind);
  if (relu) want = ref.unary('relu', { data: want, shape: [M, N], strides: [N, 1], offset: 0 }, kind);
  const absX = { ...x3, data: x3.data.map(Math.abs) }, absW = { ...wt, data: wt.data.map(Math.abs) };
  const b = bias ? readView(bias) : null;
  const bound = Array.from(ref.matmul(absX, absW, 'float64'), (s, i) => (K + 3) * EPS[kind] * (s + (b ? Math.abs(b[i % N]!) : 0)));
  return { want, bound };
}

describe('native fused linear vs reference', { skip }, () => {
  test('fused linear (+bias, +relu) equals matmul + add + relu of the reference', () => {
    forEachPathAndThreads((path, threads) => {
      const r = rng(91 + threads);
      // [100, 400, 80] and [40, 400, 600]: the parallel driver with several K blocks (bias on the first,
      // ReLU on the last, in the tiles) and with one or several columns of tiles
      for (const kind of KINDS) for (const [M, K, N] of [[0, 3, 4], [5, 0, 3], [1, 1, 1], [7, 33, 19], [128, 300, 100], [100, 400, 80], [40, 400, 600]]) for (const relu of [false, true]) {
        const x = randView(r, kind, [M!, K!], normal);
        const w = randView(r, kind, [N!, K!], normal);
        const bias = r() < 0.8 ? randView(r, kind, [N!], normal) : null;
        const got = nat.linear!(x, w, bias, relu);
        const { want, bound } = linearReference(kind, x, w, bias, relu);
        const bad = mismatch(got, want, 0, 0, bound);
        assert.equal(bad, null, `${path}/${threads}t ${kind} linear (${M}, ${K}) x (${N}, ${K}) relu=${relu}: ${bad}`);
      }
    });
  });

  test('fused linear at 1 to 4 rows (generation: W read in place by sgemv_f32) equals the reference', () => {
    forEachPathAndThreads((path, threads) => {
      const r = rng(57 + threads);
      // K: vector tails (1, 7, 17, 33) and whole vectors; N: groups of 4 rows and their remainder, and
      // [1, 1000, 203] / [4, 300, 130] split into several chunks over the pool; M = 5 is the GEMM again
      for (const kind of KINDS) for (const [M, K, N] of [[1, 1, 1], [1, 17, 5], [2, 16, 9], [3, 33, 300], [4, 7, 8], [4, 100, 37], [1, 1000, 203], [4, 300, 130], [5, 33, 19]]) for (const relu of [false, true]) {
        // rows contiguous, row strides K + pad (a column slice of a wider matrix)
        const padded = (rows: number): View => {
          const pad = Math.floor(r() * 3);
          const v = randView(r, kind, [rows, K! + pad], normal, { permute: false, slice: false });
          return { ...v, shape: [rows, K!] };
        };
        const x = padded(M!), w = padded(N!);
        const bias = r() < 0.7 ? randView(r, kind, [N!], normal) : null;
        const got = nat.linear!(x, w, bias, relu);
        const { want, bound } = linearReference(kind, x, w, bias, relu);
        const bad = mismatch(got, want, 0, 0, bound);
        assert.equal(bad, null, `${path}/${threads}t ${kind} linear (${M}, ${K}) x (${N}, ${K}) relu=${relu}: ${bad}`);
      }
    });
  });

  test('batch-1 linear: the same bits at 1 and 2 threads (GEMV rows split as home tasks over the pool)', () => {
    const r = rng(17);
    // (M, K, N): the mlp preset's first layer (split into home chunks at 2 threads) and a shape below
    // the split threshold (inline)
    for (const [M, K, N] of [[1, 784, 300], [2, 300, 100]]) {
      const x = randView(r, 'float32', [M!, K!], normal, { permute: false, slice: false });
      const w = randView(r, 'float32', [N!, K!], normal, { permute: false, slice: false });
      const bias = randView(r, 'float32', [N!], normal);
      const got: TypedArray[] = [];
      forEachPathAndThreads((path, threads) => {
        const y = nat.linear!(x, w, bias, true);
        const y2 = nat.linear!(x, w, bias, true);  // a repeated call takes the same split
        assert.deepEqual(Array.from(y2), Array.from(y), `${path}/${threads}t (${M}, ${K}) x (${N}, ${K}): repeated call`);
        got.push(y);
        if (threads === 2) {
          const one = got[got.length - 2]!;
          assert.equal(Buffer.compare(Buffer.from(y.buffer, y.byteOffset, y.byteLength), Buffer.from(one.buffer, one.byteOffset, one.byteLength)), 0, `${path} (${M}, ${K}) x (${N}, ${K}): 2 threads differ from 1`);
        }
      });
    }
  });

  test('fused linear backward (+ReLU mask) equals the composed reference: g W, g^T x, column sums of g', () => {
    forEachPathAndThreads((path, threads) => {
      const r = rng(83 + threads);
      // [100, 80, 400]: dw and dx as one parallel job (several K blocks for dx), db in side tasks
      for (const kind of KINDS) for (const [M, K, N] of [[0, 3, 4], [5, 0, 3], [3, 4, 0], [1, 1, 1], [7, 33, 19], [128, 300, 100], [130, 257, 40], [100, 80, 400]]) for (const relu of [false, true]) {
        const dy = randView(r, kind, [M!, N!], normal);
        const y = randView(r, kind, [M!, N!], withTies);
        const x = randView(r, kind, [M!, K!], normal);
        const w = randView(r, kind, [N!, K!], normal);
        const needs = [r() < 0.8, r() < 0.8, r() < 0.8];
        const got = nat.linearBackward(dy, relu ? y : null, x, w, needs);
        assert.ok(got, 'the addon has linearBackward');
        const contig = (data: ArrayLike<number>, shape: number[]): View => ({ data: data as Float64Array, shape, strides: shape.length === 2 ? [shape[1]!, 1] : [1], offset: 0 });
        // the ReLU mask as PyTorch's threshold_backward: 0 where y <= 0, dy elsewhere (a NaN y passes dy)
        const g = relu ? ref.where({ ...y, data: Uint8Array.from(ref.copy(y, kind), (v) => (v <= 0 ? 0 : 1)), strides: [N!, 1], offset: 0 }, dy, { data: alloc(kind, 1), shape: [M!, N!], strides: [0, 0], offset: 0 }, kind) : ref.copy(dy, kind);
        const gv = contig(g, [M!, N!]);
        const absG = contig(Array.from(g, Math.abs), [M!, N!]);
        const t3 = (v: View, tr: boolean): View => ({ ...v, shape: [1, v.shape[tr ? 1 : 0]!, v.shape[tr ? 0 : 1]!], strides: [0, v.strides[tr ? 1 : 0]!, v.strides[tr ? 0 : 1]!] });
        const absOf = (v: View): View => ({ ...v, data: v.data.map(Math.abs) });
        const check = (name: string, out: TypedArray | null, want: ArrayLike<number>, bound: ArrayLike<number>): void => {
          const bad = mismatch(out!, want, 0, 0, bound);
          assert.equal(bad, null, `${path}/${threads}t ${kind} relu=${relu} (${M}, ${K}, ${N}) ${name}: ${bad}`);
        };
        const [dx, dw, db] = got!;
        assert.equal(dx === null, !needs[0]); assert.equal(dw === null, !needs[1]); assert.equal(db === null, !needs[2]);
        if (dx) check('dx', dx, ref.matmul(t3(gv, false), t3(w, false), kind), Array.from(ref.matmul(t3(absG, false), t3(absOf(w), false), 'float64'), (s) => (N! + 2) * EPS[kind] * s));
        if (dw) check('dw', dw, ref.matmul(t3(gv, true), t3(x, false), kind), Array.from(ref.matmul(t3(absG, true), t3(absOf(x), false), 'float64'), (s) => (M! + 2) * EPS[kind] * s));
        if (db) check('db', db, ref.reduce('sum', gv, [0], kind), Array.from(ref.reduce('sum', absG, [0], 'float64'), (s) => (M! + 2) * EPS[kind] * s));
      }
    });
  });

  test('linearChain: the same bits as linear layer by layer (GEMV and GEMM rows, strided x, no bias, scratch reuse), and its errors', () => {
    assert.equal(typeof nat.linearChain, 'function', 'the addon has linearChain');
    forEachPathAndThreads((path, threads) => {
      const r = rng(29 + threads);
      // (M, widths): batch 1 through the mlp preset's shapes (its first layer split over the pool at
      // 2 threads), 3 rows, 7 rows (the GEMM), a wider chain after a narrower one (scratch regrown),
      // one layer, and no rows
      for (const kind of KINDS) for (const [M, widths] of [[1, [784, 300, 100, 10]], [3, [33, 17, 40, 5]], [7, [20, 64, 9]], [1, [9, 500, 300, 2]], [2, [5, 3]], [0, [4, 6, 2]]] as [number, number[]][]) {
        const x = randView(r, kind, [M, widths[0]!], normal);
        const layers = widths.slice(1).map((n, i) => ({
          w: randView(r, kind, [n, widths[i]!], normal, { permute: false, slice: false }),
          bias: r() < 0.7 ? randView(r, kind, [n], normal) : null,
          relu: r() < 0.6,
        }));
        let want: View = x;
        for (const l of layers) {
          const n = l.w.shape[0]!;
          want = { data: nat.linear!(want, l.w, l.bias, l.relu), shape: [M, n], strides: [n, 1], offset: 0 };
        }
        for (let rep = 0; rep < 2; rep++) {
          const got = nat.linearChain!(x, layers);
          assert.equal(Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength)), 0,
            `${path}/${threads}t ${kind} chain ${M} x ${widths.join('-')} (call ${rep + 1}): differs from linear layer by layer`);
        }
      }
    });
    const r = rng(5);
    const x = randView(r, 'float32', [1, 8], normal), w0 = randView(r, 'float32', [4, 8], normal), w1 = randView(r, 'float32', [3, 5], normal);
    assert.throws(() => nat.linearChain!(x, [{ w: w0, bias: null, relu: true }, { w: w1, bias: null, relu: false }]), /native linearChain: layer 1: weight \(3, 5\) expects 5 features but its input has 4/);
    assert.throws(() => nat.linearChain!(x, [{ w: w0, bias: randView(r, 'float32', [3], normal), relu: false }]), /native linearChain: layer 0: bias must have shape \(4,\)/);
    assert.throws(() => nat.linearChain!(x, [{ w: randView(r, 'float64', [4, 8], normal), bias: null, relu: false }]), /native linearChain: layer 0: weight must be 2-D .* of x's dtype/);
  });
});
