// The native backend's fused softmax cross-entropy (native/src/softmax_cross_entropy.cc): the
// per-row loss, and the gradient w.r.t. the logits in one pass.

import type { FusedKernels, View } from '../../backend/backend.js';
import { allocate, dtypeOfArray, type TypedArray } from '../../backend/dtype.js';
import type { NativeAddon } from './addon.js';
import { packViews } from './pack.js';

/**
 * The fused softmax cross-entropy kernels of `addon`.
 * @example const backend = { ...otherKernels, ...softmaxCrossEntropyKernels(addon) };
 */
export function softmaxCrossEntropyKernels(addon: NativeAddon): Required<Pick<FusedKernels, 'softmaxCrossEntropy' | 'softmaxCrossEntropyBackward'>> {
  return {
    softmaxCrossEntropy(logits: View, target: View): Float64Array {
      const loss = new Float64Array(logits.shape[0]!);
      addon.softmaxCrossEntropy(logits.data, target.data, packViews(logits, target), loss, null, 1);
      return loss;
    },
    softmaxCrossEntropyBackward(logits: View, target: View, scale: number): TypedArray {
      const [rows, cols] = logits.shape as [number, number];
      const grad = allocate(dtypeOfArray(logits.data), rows * cols);
      addon.softmaxCrossEntropy(logits.data, target.data, packViews(logits, target), new Float64Array(rows), grad, scale);
      return grad;
    },
  };
}
