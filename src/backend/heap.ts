// When to give the C heap's free pages back to the operating system. Tensor storage lives in the
// C heap (Node allocates ArrayBuffers with malloc), and the native addon makes glibc keep even large
// freed buffers resident for reuse (M_MMAP_MAX = 0, docs/NATIVE.md "Memory tuning"): fast, but the
// resident set then stays at its high-water mark, free pages included. trimFreeHeap() hands those
// pages back (glibc malloc_trim) when the heap holds at least TENSORSLIM_MALLOC_TRIM_MB free. The
// addon does so by itself only before it maps a GEMM scratch larger than TENSORSLIM_GEMM_SCRATCH_MB,
// which its blocked packing avoids with the defaults (docs/NATIVE.md "Memory tuning"); this is for a
// program's own quiet points (after dropping a model, between phases). Not called after every optimizer step: measured on the GPT-2-sized step, it cost ~100 ms
// (load 30) and did not lower the peak (docs/NATIVE.md "Memory tuning"). A backend without the
// capability (reference, or a native addon on a C library other than glibc) makes it a no-op. It
// decides nothing about tensors: only memory the C library already counts as free is returned.

import type { HeapTrimInfo } from './backend.js';
import { getBackend } from './registry.js';

const DEFAULT_MIN_FREE_MB = 64;

function envMB(): number {
  const e = typeof process !== 'undefined' ? process.env['TENSORSLIM_MALLOC_TRIM_MB'] : undefined;
  const v = e === undefined || e === '' ? DEFAULT_MIN_FREE_MB : Number(e);
  return Number.isFinite(v) && v >= 0 ? v : DEFAULT_MIN_FREE_MB;
}

let minFreeMB = envMB();

/**
 * Return the C heap's free pages to the operating system when it holds at least the configured
 * free bytes (TENSORSLIM_MALLOC_TRIM_MB, default 64; 0 turns it off). Returns what the backend saw
 * and did, or null when trimming is off or the backend cannot trim. Call it at a quiet point after
 * large tensors became garbage (the C heap frees them only when V8 collects them).
 *
 * @example
 * teacher = null; // a distillation teacher no longer needed
 * const r = trimFreeHeap(); // r?.trimmed: whether pages were returned
 */
export function trimFreeHeap(): HeapTrimInfo | null {
  if (minFreeMB === 0) return null;
  const b = getBackend();
  if (typeof b.trimHeap !== 'function') return null;
  return b.trimHeap(minFreeMB * 2 ** 20);
}

/**
 * Change the trimming threshold at run time (as TENSORSLIM_MALLOC_TRIM_MB: MiB of free C heap that
 * triggers a trim; 0 = never). Returns the previous setting.
 *
 * @example
 * const prev = configureHeapTrim({ minFreeMB: 0 }); ...; configureHeapTrim(prev);
 */
export function configureHeapTrim(opts: { minFreeMB?: number }): { minFreeMB: number } {
  const prev = { minFreeMB };
  if (opts.minFreeMB !== undefined) {
    if (!Number.isFinite(opts.minFreeMB) || opts.minFreeMB < 0) {
      throw new RangeError(`configureHeapTrim: minFreeMB must be a finite number >= 0 (0 = never trim), got ${opts.minFreeMB}`);
    }
    minFreeMB = opts.minFreeMB;
  }
  return prev;
}
