// The native backend's fused ReLU gradient (native/src/relu_backward.cc): reluBackward of the
// FusedKernels interface, dx = 0 where y <= 0, else dy, in one pass instead of the composed
// `where(le(y, 0), 0, dy)` (a uint8 mask and two kernels). The gradient rule (src/autograd/grads/
// unary.ts, relu) validates dtypes and shapes; the addon re-checks them and throws naming the kernel.

import type { FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit } from '../../backend/dtype.js';
import { numel } from '../../backend/shape.js';
import type { NativeAddon } from './addon.js';
import { floatDtype } from './layer_norm.js';
import { packViews } from './pack.js';

/**
 * The fused ReLU gradient of `addon`.
 * @example const backend = { ...otherKernels, ...reluBackwardKernels(addon) };
 */
export function reluBackwardKernels(addon: NativeAddon): Required<Pick<FusedKernels, 'reluBackward'>> {
  return {
    reluBackward(dy: View, y: View) {
      const dx = allocateUninit(floatDtype('reluBackward', y), numel(y.shape));  // every element written
      addon.reluBackward(dy.data, y.data, packViews(dy, y), dx);
      return dx;
    },
  };
}
