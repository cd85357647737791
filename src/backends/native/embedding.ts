// The native backend's embedding kernels (native/src/embedding.cc): embeddingForward (row gather)
// and embeddingBackward (its scatter-add adjoint, summed in index order so results equal the
// sequential reference bit for bit) of the FusedKernels interface; float32 and float64 (other
// dtypes go to the fallback backend's loops).

import type { FusedKernels, View } from '../../backend/backend.js';
import { allocate, allocateUninit, dtypeOfArray, isFloatArray, type TypedArray } from '../../backend/dtype.js';
import type { NativeAddon } from './addon.js';
import { packViews } from './pack.js';

/** The indices as a dense Int32Array (a view of the storage when already contiguous). */
function denseIndices(ix: View): Int32Array {
  const n = ix.shape[0]!;
  const d = ix.data as Int32Array;
  if (ix.strides[0] === 1 || n <= 1) return d.subarray(ix.offset, ix.offset + n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = d[ix.offset + i * ix.strides[0]!]!;
  return out;
}


type EmbeddingKernels = Required<Pick<FusedKernels, 'embeddingForward' | 'embeddingBackward'>>;

/**
 * The embedding kernels of `addon`, falling back to `fallback`'s for non-float tables.
 * @example const backend = { ...otherKernels, ...embeddingKernels(addon, referenceEmbedding) };
 */
export function embeddingKernels(addon: NativeAddon, fallback: EmbeddingKernels): EmbeddingKernels {
  return {
    embeddingForward(weight: View, indices: View): TypedArray {
      if (!isFloatArray(weight.data) || !(indices.data instanceof Int32Array)) return fallback.embeddingForward(weight, indices);
      const out = allocateUninit(dtypeOfArray(weight.data), indices.shape[0]! * weight.shape[1]!);  // every row written
      addon.embeddingForward(weight.data, packViews(weight), denseIndices(indices), out);
      return out;
    },
    embeddingBackward(dy: View, indices: View, rows: number): TypedArray {
      if (!isFloatArray(dy.data) || !(indices.data instanceof Int32Array)) return fallback.embeddingBackward(dy, indices, rows);
      const out = allocate(dtypeOfArray(dy.data), rows * dy.shape[1]!);
      addon.embeddingBackward(dy.data, packViews(dy), denseIndices(indices), rows, out);
      return out;
    },
  };
}
