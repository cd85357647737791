// Random strided views for fuzzing native kernels against the reference backend: permuted, sliced
// (offset + step), expanded (stride 0) and zero-size layouts over a larger storage array. The
// expected values always come from the reference backend (the outside truth for these kernels),
// with tolerances from floating-point error bounds, never from native output.

import type { View } from '../../src/backend/backend.js';
import type { TypedArray } from '../../src/backend/dtype.js';
import { numel } from '../../src/backend/shape.js';

/** mulberry32: a tiny seeded generator, so failures repeat. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type FloatKind = 'float32' | 'float64';

/** Both float kinds, and their unit roundoff. */
export const KINDS: FloatKind[] = ['float32', 'float64'];
export const EPS: Record<FloatKind, number> = { float32: 2 ** -23, float64: 2 ** -52 };

/** Fill for random views: uniform on [-3, 3). */
export const normal = (r: () => number): number => (r() - 0.5) * 6;

/** Fill with small integers (comparisons and ReLU masks hit ties and zeros) and an occasional NaN. */
export const withTies = (r: () => number): number => (r() < 0.02 ? NaN : Math.floor(r() * 5) - 2);

export function alloc(kind: FloatKind, n: number): Float32Array | Float64Array {
  return kind === 'float32' ? new Float32Array(n) : new Float64Array(n);
}

/** A random shape: rank 0..maxRank, dims mostly 1..maxDim, sometimes 1, rarely 0. */
export function randShape(r: () => number, maxRank = 4, maxDim = 7, zeroProb = 0.05): number[] {
  const rank = Math.floor(r() * (maxRank + 1));
  return Array.from({ length: rank }, () => {
    const u = r();
    if (u < zeroProb) return 0;
    if (u < 0.25) return 1;
    return 1 + Math.floor(r() * maxDim);
  });
}

export interface LayoutOptions { permute?: boolean; slice?: boolean; expandAxes?: readonly number[] }

/**
 * A view of `shape` laid out at random inside a larger array filled by `fill`: axes stored in a
 * random order, every axis possibly stepped (stride > 1), a random offset, and size-1 axes in
 * `expandAxes` broadcast with stride 0 to the requested size.
 */
export function randView(r: () => number, kind: FloatKind | 'int32', shape: readonly number[], fill: (r: () => number) => number, o: LayoutOptions = {}): View {
  const nd = shape.length;
  const order = [...Array(nd).keys()];
  if (o.permute !== false) for (let i = nd - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [order[i], order[j]] = [order[j]!, order[i]!]; }
  const strides = new Array<number>(nd).fill(0);
  let acc = 1;
  for (let q = nd - 1; q >= 0; q--) {
    const ax = order[q]!;
    const expanded = o.expandAxes?.includes(ax) ?? false;
    const step = o.slice !== false && r() < 0.3 ? 2 : 1;
    strides[ax] = expanded ? 0 : acc * step;
    if (!expanded) acc *= Math.max(1, shape[ax]!) * step;
  }
  const offset = o.slice !== false ? Math.floor(r() * 3) : 0;
  const len = offset + acc + 1;
  const data: TypedArray = kind === 'int32' ? new Int32Array(len) : alloc(kind, len);
  for (let i = 0; i < len; i++) data[i] = fill(r);
  return { data, shape: [...shape], strides, offset };
}

/** Read a view element by element into a flat number array (row-major). */
export function readView(v: View): number[] {
  const n = numel(v.shape);
  const out: number[] = [];
  const idx = new Array<number>(v.shape.length).fill(0);
  for (let k = 0; k < n; k++) {
    let o = v.offset;
    for (let d = 0; d < idx.length; d++) o += idx[d]! * v.strides[d]!;
    out.push(v.data[o]!);
    for (let d = idx.length - 1; d >= 0; d--) { if (++idx[d]! < v.shape[d]!) break; idx[d] = 0; }
  }
  return out;
}

/**
 * |got - want| <= atol + rtol * |want| + bound[i] elementwise; NaN matches NaN, infinities must be
 * equal. Returns a message for the first mismatch, or null.
 */
export function mismatch(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol = 0, bound?: ArrayLike<number>): string | null {
  if (got.length !== want.length) return `length ${got.length} != ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (!Number.isFinite(w) || !Number.isFinite(g)) { if (g === w) continue; return `[${i}]: got ${g}, want ${w}`; }
    const tol = atol + rtol * Math.abs(w) + (bound ? bound[i]! : 0);
    if (!(Math.abs(g - w) <= tol)) return `[${i}]: got ${g}, want ${w} (|diff| ${Math.abs(g - w)} > tol ${tol})`;
  }
  return null;
}

/** A contiguous 1-D view of `xs` as `kind`. */
export const vec = (kind: FloatKind, xs: number[]): View => ({ data: alloc(kind, xs.length).map((_, i) => xs[i]!), shape: [xs.length], strides: [1], offset: 0 });

export const fmt = (v: View): string => `shape (${v.shape.join(', ')}) strides (${v.strides.join(', ')}) offset ${v.offset}`;

// ---- the native backend under test, and the loop over CPU paths x thread counts ----

import { getNativeBackend, getNumThreads, setCpuPath, setNumThreads, supportedCpuPaths } from '../../src/backends/native/index.js';
import { requireOrSkip } from '../helpers/requirements.js';

const nativeBackend = getNativeBackend();

/** A CPU kernel path this machine can run. */
export type CpuPath = 'avx512' | 'avx2' | 'generic';

/** node:test `skip` value: false when the native addon loaded, else the reason and the fix (a failure in CI). */
export const nativeSkip: string | false = requireOrSkip('native');

/** Every CPU path this machine supports, best first (empty without the addon). */
export const CPU_PATHS: CpuPath[] = nativeBackend ? supportedCpuPaths() as CpuPath[] : [];

/** Runs body on every CPU path with 1 and 2 threads, then restores the best path and the thread count. */
export function forEachPathAndThreads(body: (path: CpuPath, threads: number) => void): void {
  const prev = getNumThreads();
  try {
    for (const path of CPU_PATHS) for (const threads of [1, 2]) {
      setCpuPath(path);
      setNumThreads(threads);
      body(path, threads);
    }
  } finally {
    setCpuPath(CPU_PATHS[0]!);
    setNumThreads(prev);
  }
}

/** forEachPathAndThreads with a label for messages, e.g. 'avx2, 1 thread(s)'. */
export function forEachSetting(body: (setting: string) => void): void {
  forEachPathAndThreads((path, threads) => body(`${path}, ${threads} thread(s)`));
}
