// The one packer of view metadata for the native addon; native/src/binding.h (`Call::view`) is the
// one reader. A view travels as its typed array plus a slice of a Float64Array `meta`:
//   [ndim, offset, shape[0..ndim), strides[0..ndim)]
// and an entry point reads the views of its meta front to back (extra values, such as reduce flags
// or conv geometry, follow the views). Every binding packs into one module-level buffer that grows
// on demand and is reused, so a kernel call allocates no metadata (the addon reads it synchronously,
// before the call returns).

import type { View } from '../../backend/backend.js';

let meta = new Float64Array(256);

/** Values one view takes in meta. @example metaSize(v) // 2 + 2 * v.shape.length */
export function metaSize(v: View | null | undefined): number {
  return v ? 2 + 2 * v.shape.length : 0;
}

/**
 * The shared meta buffer, grown to hold at least `size` values (its contents are scratch).
 * @example const m = metaBuffer(64); putView(m, 0, x);
 */
export function metaBuffer(size: number): Float64Array {
  if (meta.length < size) meta = new Float64Array(size * 2);
  return meta;
}

/**
 * Writes view `v` into `m` at `at`; returns the index after it (where the next view or extra value goes).
 * @example const at = putView(m, putView(m, 0, a), b);
 */
export function putView(m: Float64Array, at: number, v: View): number {
  const nd = v.shape.length;
  m[at] = nd;
  m[at + 1] = v.offset;
  for (let i = 0; i < nd; i++) { m[at + 2 + i] = v.shape[i]!; m[at + 2 + nd + i] = v.strides[i]!; }
  return at + 2 + 2 * nd;
}

/**
 * Writes the contiguous row-major view of `shape` at offset 0 into `m` at `at` (a fresh output
 * passed where the entry point takes a destination view); returns the index after it.
 * @example putDense(m, at, [b, h, t, d])
 */
export function putDense(m: Float64Array, at: number, shape: readonly number[]): number {
  const nd = shape.length;
  m[at] = nd;
  m[at + 1] = 0;
  let stride = 1;
  for (let i = nd - 1; i >= 0; i--) { m[at + 2 + i] = shape[i]!; m[at + 2 + nd + i] = stride; stride *= shape[i]!; }
  return at + 2 + 2 * nd;
}

/**
 * Packs up to five views (null or undefined ones are skipped, as the addon skips absent optional
 * arguments) into the shared buffer; returns the buffer.
 * @example addon.binary(code, a.data, b.data, packViews(a, b), out)
 */
export function packViews(v0: View, v1?: View | null, v2?: View | null, v3?: View | null, v4?: View | null): Float64Array {
  const m = metaBuffer(metaSize(v0) + metaSize(v1) + metaSize(v2) + metaSize(v3) + metaSize(v4));
  let at = putView(m, 0, v0);
  if (v1) at = putView(m, at, v1);
  if (v2) at = putView(m, at, v2);
  if (v3) at = putView(m, at, v3);
  if (v4) putView(m, at, v4);
  return m;
}
