// The native backend's fused GELU kernels (native/src/gelu.cc; loops in
// native/src/layer_norm_gelu_impl.h): geluForward and geluBackward of the FusedKernels interface.
// Tensor semantics are validated by the gelu op; the addon re-checks dtypes, shapes and bounds and
// throws naming the kernel.

import type { FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit } from '../../backend/dtype.js';
import { numel } from '../../backend/shape.js';
import type { NativeAddon } from './addon.js';
import { floatDtype } from './layer_norm.js';
import { packViews } from './pack.js';

const form = (approximate: 'none' | 'tanh'): number => (approximate === 'tanh' ? 1 : 0);

/**
 * The fused GELU kernels of `addon`.
 * @example const backend = { ...otherKernels, ...geluKernels(addon) };
 */
export function geluKernels(addon: NativeAddon): Required<Pick<FusedKernels, 'geluForward' | 'geluBackward'>> {
  return {
    geluForward(x: View, approximate: 'none' | 'tanh') {
      const y = allocateUninit(floatDtype('geluForward', x), numel(x.shape));  // every element written
      addon.geluForward(x.data, packViews(x), form(approximate), y);
      return y;
    },
    geluBackward(dy: View, x: View, approximate: 'none' | 'tanh') {
      const dx = allocateUninit(floatDtype('geluBackward', x), numel(x.shape));
      addon.geluBackward(dy.data, x.data, packViews(dy, x), form(approximate), dx);
      return dx;
    },
  };
}
