// Memory hand-back of the native addon (native/src/alloc.cc, docs/NATIVE.md "Memory tuning"): a
// product whose packed operand would exceed TENSORSLIM_GEMM_SCRATCH_MB (default 32) packs by blocks
// (TENSORSLIM_GEMM_BLOCK_MB); scratch above the kept size (here: a block budget above it, set with
// gemmScratch) is a mapping of its own that releaseScratch() unmaps, so a product after the release
// packs into a fresh one; trimHeap reports
// glibc's heap and trims it above a threshold; trimFreeHeap (src/backend/heap.ts) applies the
// TENSORSLIM_MALLOC_TRIM_MB setting. The results are checked exactly (small integer operands: every
// float32 partial sum is exact).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { View } from '../../src/backend/backend.js';
import { configureHeapTrim, trimFreeHeap } from '../../src/backend/heap.js';
import { getNativeBackend, getNumThreads, setNumThreads } from '../../src/backends/native/index.js';
import { loadAddon } from '../../src/backends/native/addon.js';
import { nativeSkip, rng } from './helpers.js';

const nat = getNativeBackend();
// the native addon's own memory calls, whatever backend the ops use: the native pass only
const skip = process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'native-only memory calls: run in the native pass' : nativeSkip;

describe('native memory hand-back', { skip }, () => {
  test('a product whose packed operand exceeds the kept scratch is exact, by blocks and in a mapped scratch before and after releaseScratch', () => {
    // B (2048 x 4200) packs to ~34 MB of float32 panels: above the default 32 MiB kept, so by blocks;
    // then with 1 MiB kept and 4 MiB blocks, the blocks' scratch is its own mapping
    const [m, k, n] = [8, 2048, 4200];
    const r = rng(17);
    const a = new Float32Array(m * k), b = new Float32Array(k * n);
    for (let i = 0; i < a.length; i++) a[i] = Math.floor(r() * 5) - 2;
    for (let i = 0; i < b.length; i++) b[i] = ((i * 7919) % 13) % 5 - 2;   // cheap: 8.6 M elements
    const va: View = { data: a, shape: [1, m, k], strides: [0, k, 1], offset: 0 };
    const vb: View = { data: b, shape: [1, k, n], strides: [0, n, 1], offset: 0 };
    const prev = getNumThreads();
    const addon = loadAddon().addon!;
    const prevScratch = addon.gemmScratch!();
    setNumThreads(2);   // the parallel driver is the one that packs whole operands or blocks
    try {
      for (let round = 0; round < 3; round++) {
        if (round === 1) addon.gemmScratch!(1 << 20, 4 << 20);
        const c = nat!.matmul(va, vb, 'float32');
        for (let i = 0; i < m; i++) {
          for (const j of [...Array.from({ length: 69 }, (_, q) => round + q * 61), n - 1]) {   // 70 columns, the last included
            let want = 0;
            for (let p = 0; p < k; p++) want += a[i * k + p]! * b[p * n + j]!;
            assert.equal(c[i * n + j], want, `round ${round}: C[${i}][${j}]`);
          }
        }
        addon.releaseScratch!();
      }
    } finally {
      addon.gemmScratch!(prevScratch.keepBytes, prevScratch.blockBytes);
      setNumThreads(prev);
    }
  });

  test('trimHeap measures without trimming below its threshold, trims at 0, refuses a negative one', () => {
    const seen = nat!.trimHeap!(Number.MAX_SAFE_INTEGER);
    if (!seen.available) return;   // not glibc 2.33+: nothing measured (documented)
    assert.equal(seen.trimmed, false);
    assert.ok(seen.heapBytes > 0 && seen.freeBytes >= 0 && seen.freeBytes <= seen.heapBytes, JSON.stringify(seen));
    const done = nat!.trimHeap!(0);
    assert.equal(done.trimmed, true);
    assert.ok(done.trimUs >= 0);
    assert.throws(() => nat!.trimHeap!(-1), /mallocTrim.*>= 0/);
  });

  test('trimFreeHeap follows configureHeapTrim: off at 0, a trim at a tiny threshold, bad values refused', () => {
    const prev = configureHeapTrim({ minFreeMB: 0 });
    try {
      assert.equal(trimFreeHeap(), null);
      configureHeapTrim({ minFreeMB: 1e-9 });
      const r = trimFreeHeap();
      assert.ok(r !== null);
      if (r.available) assert.equal(r.trimmed, r.freeBytes >= 1e-9 * 2 ** 20);
      assert.throws(() => configureHeapTrim({ minFreeMB: -1 }), /configureHeapTrim: minFreeMB must be a finite number >= 0/);
      assert.throws(() => configureHeapTrim({ minFreeMB: NaN }), RangeError);
    } finally {
      configureHeapTrim(prev);
    }
  });
});
