// GEMM fuzz cases aimed at the driver's code paths (native/src/gemm.cc), on every CPU path this
// machine has and with 1 and 2 threads, against the reference backend: every transpose combination
// with explicit layouts (row-major, transposed, stepped rows/columns, offsets, overlapping strides),
// small M or N with large K (the weight-gradient shape: A^T packed row by row, the parallel packing
// split by rows of each K block), edge panels of every height 1..13 (the AVX-512 edge kernel, full
// and partial width, one and two K blocks), attention's 64 x 64 tiles, and products just above the
// parallel threshold.
// The shapes also reach the AVX2 kernel's K tail (K not a multiple of its unroll by 4: 5, 70, 20..79)
// and the 5..7-row packing transposes (row-major A with M = 5, 11; transposed B with N = 45, 70).
// Outputs from 256 KiB up go through the page prefault (fresh storage written before it is read).
// Products packed by blocks (gemm_blocked: K, N, M and N and M split, with the bias / ReLU epilogue
// of linear across K blocks) are reached at small sizes by shrinking the kept scratch and the block
// budget at run time (gemmScratch).
// Products with many tiles, row and column bands and K blocks run repeatedly on 2 threads (the
// dynamic split of packing and tile tasks differs between runs).
// Products write into uninitialized storage (C = A B: the AVX2 kernel's store-only first K block,
// zeroed partial tiles), poisoned with 0xff bytes here, so an element the driver fails to write is NaN.
// Tolerance: the classic (K + 2) * eps * sum |a| |b| bound.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { View } from '../../src/backend/backend.js';
import { setUninitPoison } from '../../src/backend/dtype.js';
import { referenceBackend as ref } from '../../src/backends/reference/index.js';
import { getNativeBackend, getNumThreads, setCpuPath, setNumThreads } from '../../src/backends/native/index.js';
import { loadAddon } from '../../src/backends/native/addon.js';
import { alloc, mismatch, rng, type FloatKind } from './helpers.js';
import { forEachPathAndThreads as forEachSetting, CPU_PATHS as PATHS, nativeSkip as skip } from './helpers.js';

const nativeBackend = getNativeBackend();

const nat = nativeBackend!;
const KINDS: FloatKind[] = ['float32', 'float64'];
const EPS: Record<FloatKind, number> = { float32: 2 ** -23, float64: 2 ** -52 };


/** Layout of a (rows x cols) operand: row-major, transposed storage, stepped, or overlapping. */
type Layout = 'row' | 'trans' | 'rowStep' | 'transStep' | 'overlapRows';

function operand(r: () => number, kind: FloatKind, rows: number, cols: number, layout: Layout): View {
  const offset = Math.floor(r() * 3);
  let rs: number, cs: number, len: number;
  switch (layout) {
    case 'row': rs = cols; cs = 1; len = rows * cols; break;
    case 'trans': rs = 1; cs = rows; len = rows * cols; break;
    case 'rowStep': rs = 2 * cols + 1; cs = 2; len = rows * (2 * cols + 1); break; // every other column, padded rows
    case 'transStep': rs = 2; cs = 2 * rows + 3; len = cols * (2 * rows + 3); break;
    case 'overlapRows': rs = 1; cs = 1; len = rows + cols; break; // A[i][p] = data[i + p]: both strides 1
  }
  const data = alloc(kind, offset + len + 1);
  for (let i = 0; i < data.length; i++) data[i] = (r() - 0.5) * 4;
  return { data, shape: [1, rows, cols], strides: [0, rs, cs], offset };
}

function check(label: string, kind: FloatKind, a: View, b: View): void {
  const K = a.shape[2]!;
  const want = ref.matmul(a, b, kind);
  const got = nat.matmul(a, b, kind);
  const absA = { ...a, data: a.data.map(Math.abs) }, absB = { ...b, data: b.data.map(Math.abs) };
  const bound = Array.from(ref.matmul(absA, absB, 'float64'), (s) => (K + 2) * EPS[kind] * s);
  const bad = mismatch(got, want, 0, 0, bound);
  assert.equal(bad, null, `${label} ${kind} A (${a.shape.join(', ')}) strides (${a.strides.join(', ')}) B (${b.shape.join(', ')}) strides (${b.strides.join(', ')}): ${bad}`);
}

const LAYOUTS: Layout[] = ['row', 'trans', 'rowStep', 'transStep'];

describe('native GEMM driver paths vs reference', { skip }, () => {
  let poison: number | null = null;
  before(() => { poison = setUninitPoison(0xff); });
  after(() => { setUninitPoison(poison); });
  test('all transpose combinations and strides, serial and parallel sizes', () => {
    forEachSetting((path, threads) => {
      const r = rng(301 + threads);
      // [M, N, K]: serial (< 4 MFLOP) and parallel, with several K blocks and ragged edges
      const shapes: [number, number, number][] = [[7, 9, 5], [37, 45, 70], [61, 97, 420], [130, 70, 500]];
      for (const kind of KINDS) for (const [M, N, K] of shapes) for (const la of LAYOUTS) for (const lb of LAYOUTS) {
        check(`${path}/${threads}t ${la} x ${lb}`, kind, operand(r, kind, M, K, la), operand(r, kind, K, N, lb));
      }
    });
  });

  test('small M or N with large K (weight gradients: A^T B, K = 2048 class)', () => {
    forEachSetting((path, threads) => {
      const r = rng(311 + threads);
      // mp >= 64 so the parallel row-split packing has several tasks per K block
      const shapes: [number, number, number][] = [[200, 50, 900], [52, 200, 1100], [13, 33, 2100], [100, 64, 1500]];
      for (const kind of KINDS) for (const [M, N, K] of shapes) {
        check(`${path}/${threads}t A^T B`, kind, operand(r, kind, M, K, 'trans'), operand(r, kind, K, N, 'row'));
        check(`${path}/${threads}t A^T B^T`, kind, operand(r, kind, M, K, 'trans'), operand(r, kind, K, N, 'trans'));
        check(`${path}/${threads}t A B (stepped)`, kind, operand(r, kind, M, K, 'rowStep'), operand(r, kind, K, N, 'rowStep'));
      }
    });
  });

  test('edge panels of every height, full and partial width; overlapping strides', () => {
    forEachSetting((path, threads) => {
      const r = rng(321 + threads);
      for (const kind of KINDS) {
        // N = 66: a whole 64-column panel (the AVX-512 6 x 64 kernel and its 1..5-row edge
        // kernel straight into C) and a 2-column edge, over two K blocks (the store-only first block)
        for (let M = 1; M <= 13; M++) for (const N of [32, 64, 40, 66]) {
          const K = N === 66 ? 390 + Math.floor(r() * 30) : 20 + Math.floor(r() * 60);
          const la: Layout = M % 2 ? 'row' : 'trans';
          check(`${path}/${threads}t edge M=${M}`, kind, operand(r, kind, M, K, la), operand(r, kind, K, N, N === 40 ? 'trans' : 'row'));
        }
        // both strides 1 (A[i][p] = data[i + p]; B likewise)
        check(`${path}/${threads}t overlapping`, kind, operand(r, kind, 9, 17, 'overlapRows'), operand(r, kind, 17, 35, 'overlapRows'));
        check(`${path}/${threads}t overlapping big`, kind, operand(r, kind, 150, 300, 'overlapRows'), operand(r, kind, 300, 70, 'overlapRows'));
      }
    });
  });

  test('outputs from 256 KiB up (their never-touched pages faulted in with a write before the kernels)', () => {
    forEachSetting((path, threads) => {
      const r = rng(341 + threads);
      for (const kind of KINDS) check(`${path}/${threads}t large output`, kind, operand(r, kind, 270, 7, 'row'), operand(r, kind, 7, 261, 'trans'));
    });
  });

  test("attention's 64 x 64 tiles (Q K^T, P V, dS^T Q) and a 76-row block", () => {
    forEachSetting((path, threads) => {
      const r = rng(331 + threads);
      for (const kind of KINDS) for (const M of [64, 76]) {
        check(`${path}/${threads}t QK^T`, kind, operand(r, kind, M, 64, 'row'), operand(r, kind, 64, 64, 'trans'));
        check(`${path}/${threads}t PV`, kind, operand(r, kind, M, 64, 'row'), operand(r, kind, 64, 64, 'row'));
        check(`${path}/${threads}t dS^T Q`, kind, operand(r, kind, M, 64, 'trans'), operand(r, kind, 64, 64, 'row'));
      }
    });
  });

  test('many tiles and bands, several K blocks, 2 threads, repeated', () => {
    // 250 x 300 x 800: several row bands x column bands of tiles and 3 K blocks on every path, edge
    // rows and columns; repeated runs on 2 threads split the packing and tile tasks differently.
    // The output is poisoned storage (NaN where the first K block fails to store).
    const r = rng(361);
    // A by panels (register transposes) and B by rows of each K block; then A^T by rows, B^T by panels
    const layouts: [Layout, Layout][] = [['row', 'row'], ['trans', 'trans']];
    for (const [la, lb] of layouts) {
      const a = operand(r, 'float32', 250, 800, la), b = operand(r, 'float32', 800, 300, lb);
      const want = ref.matmul(a, b, 'float32');
      const absA = { ...a, data: a.data.map(Math.abs) }, absB = { ...b, data: b.data.map(Math.abs) };
      const bound = Array.from(ref.matmul(absA, absB, 'float64'), (s) => (800 + 2) * EPS.float32 * s);
      forEachSetting((path, threads) => {
        for (let rep = 0; rep < (threads > 1 ? 4 : 1); rep++) {
          const bad = mismatch(nat.matmul(a, b, 'float32'), want, 0, 0, bound);
          assert.equal(bad, null, `${path}/${threads}t ${la} x ${lb} run ${rep}: ${bad}`);
        }
      });
    }
  });

  test('products packed by blocks: K split, N split (A packed once), M split (B packed once), both; linear bias + ReLU across K blocks', () => {
    const addon = loadAddon().addon!;
    if (!addon.gemmScratch) throw new Error('the addon predates gemmScratch: rebuild it with node scripts/build-native.mjs');
    const prevThreads = getNumThreads();
    const prev = addon.gemmScratch(0, 256 << 10);   // keep nothing: every parallel product packs by blocks of 256 KiB
    try {
      setNumThreads(2);   // the blocked driver is the parallel one's
      for (const path of PATHS) {
        setCpuPath(path);
        const r = rng(353);
        for (const kind of KINDS) {
          // [M, N, K, layout A, layout B]: K split (M, N small, K long: the LM head's g W), N split
          // (the LM head's forward x W^T), M split (its weight gradient g^T x), strided operands
          const cases: [number, number, number, Layout, Layout][] = [[24, 64, 1600, 'row', 'row'], [30, 900, 200, 'row', 'trans'], [900, 30, 200, 'trans', 'row'], [31, 400, 190, 'rowStep', 'transStep']];
          for (const [M, N, K, la, lb] of cases) check(`${path}/blocked`, kind, operand(r, kind, M, K, la), operand(r, kind, K, N, lb));
          addon.gemmScratch(0, 64 << 10);   // M and N both split, two K blocks
          check(`${path}/blocked both`, kind, operand(r, kind, 120, 900, 'row'), operand(r, kind, 900, 120, 'trans'));
          // linear: bias on the first K block only, ReLU after the last
          const x = operand(r, kind, 20, 1500, 'row'), w = operand(r, kind, 70, 1500, 'row');
          const bias: View = { data: alloc(kind, 70).map(() => (r() - 0.5) * 40), shape: [70], strides: [1], offset: 0 };
          const got = nat.linear!({ ...x, shape: [20, 1500], strides: x.strides.slice(1) }, { ...w, shape: [70, 1500], strides: w.strides.slice(1) }, bias, true);
          const wt: View = { ...w, shape: [1, 1500, 70], strides: [0, w.strides[2]!, w.strides[1]!] };
          const prod = ref.matmul(x, wt, kind);
          const absProd = ref.matmul({ ...x, data: x.data.map(Math.abs) }, { ...wt, data: wt.data.map(Math.abs) }, 'float64');
          const want = Array.from(prod, (v, i) => Math.max(0, v + bias.data[i % 70]!));
          const bound = Array.from(absProd, (v, i) => (1500 + 3) * EPS[kind] * (v + Math.abs(bias.data[i % 70]!)));
          assert.equal(mismatch(got, want, 0, 0, bound), null, `${path} ${kind} blocked linear + bias + relu`);
          addon.gemmScratch(0, 256 << 10);
        }
      }
    } finally {
      addon.gemmScratch(prev.keepBytes, prev.blockBytes);
      setCpuPath(PATHS[0]!);
      setNumThreads(prevThreads);
    }
  });
});
