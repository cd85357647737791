// The native backend's embedding kernels (native/src/embedding.cc): embeddingForward (row gather)
// and embeddingBackward (its scatter-add adjoint, summed in index order so results equal the
// sequential reference bit for bit) of the FusedKernels interface. Offered only when the loaded
// addon has them; float32 and float64 (other dtypes go to the reference backend's loops).

import type { FusedKernels, View } from '../../backend/backend.js';
import { allocate, allocateUninit, dtypeOfArray, type TypedArray } from '../../backend/dtype.js';

/** The addon's embedding entry points; a 2-D view travels as [rows, cols, rowStride, colStride, offset]. */
interface EmbeddingAddon {
  embeddingForward?(weight: TypedArray, meta: Float64Array, indices: Int32Array, out: TypedArray): void;
  embeddingBackward?(dy: TypedArray, meta: Float64Array, indices: Int32Array, rows: number, out: TypedArray): void;
}

const meta = new Float64Array(5);
function put2(v: View): Float64Array {
  meta[0] = v.shape[0]!; meta[1] = v.shape[1]!; meta[2] = v.strides[0]!; meta[3] = v.strides[1]!; meta[4] = v.offset;
  return meta;
}

/** The indices as a dense Int32Array (a view of the storage when already contiguous). */
function denseIndices(ix: View): Int32Array {
  const n = ix.shape[0]!;
  const d = ix.data as Int32Array;
  if (ix.strides[0] === 1 || n <= 1) return d.subarray(ix.offset, ix.offset + n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = d[ix.offset + i * ix.strides[0]!]!;
  return out;
}

const isFloat = (a: TypedArray): boolean => a instanceof Float32Array || a instanceof Float64Array;

/**
 * The embedding kernels of `addon` (falling back to `fallback`'s for non-float tables), or {} when
 * the addon was built without them.
 * @example const backend = { ...otherKernels, ...embeddingKernels(addon, referenceBackend) };
 */
export function embeddingKernels(addon: object, fallback: FusedKernels): Pick<FusedKernels, 'embeddingForward' | 'embeddingBackward'> {
  const a = addon as EmbeddingAddon;
  const fwd = a.embeddingForward, bwd = a.embeddingBackward;
  if (typeof fwd !== 'function' || typeof bwd !== 'function' || !fallback.embeddingForward || !fallback.embeddingBackward) return {};
  const refFwd = fallback.embeddingForward, refBwd = fallback.embeddingBackward;
  return {
    embeddingForward(weight: View, indices: View): TypedArray {
      if (!isFloat(weight.data) || !(indices.data instanceof Int32Array)) return refFwd(weight, indices);
      const out = allocateUninit(dtypeOfArray(weight.data), indices.shape[0]! * weight.shape[1]!);  // every row written
      fwd.call(addon, weight.data, put2(weight), denseIndices(indices), out);
      return out;
    },
    embeddingBackward(dy: View, indices: View, rows: number): TypedArray {
      if (!isFloat(dy.data) || !(indices.data instanceof Int32Array)) return refBwd(dy, indices, rows);
      const out = allocate(dtypeOfArray(dy.data), rows * dy.shape[1]!);
      bwd.call(addon, dy.data, put2(dy), denseIndices(indices), rows, out);
      return out;
    },
  };
}
