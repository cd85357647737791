// The native backend's fused Adam/AdamW step (native/src/adam.cc): one pass over a whole parameter,
// in place. Returns false (the optimizer then composes the step) for arrays it does not take.

import type { FusedKernels } from '../../backend/backend.js';
import { dtypeOfArray, isFloatArray, type TypedArray } from '../../backend/dtype.js';
import type { NativeAddon } from './addon.js';

/**
 * The fused Adam kernel of `addon`.
 * @example const backend = { ...otherKernels, ...adamKernels(addon) };
 */
export function adamKernels(addon: NativeAddon): Required<Pick<FusedKernels, 'adamUpdate'>> {
  const hp = new Float64Array(10);  // reused hyper-parameter block (layout: kernels_impl.h adam_loop)
  return {
    adamUpdate(param, grad, expAvg, expAvgSq, maxExpAvgSq, h) {
      const dt = dtypeOfArray(param);
      const same = (a: TypedArray | null): boolean => a === null || (dtypeOfArray(a) === dt && a.length === param.length);
      if (!isFloatArray(param) || !same(grad) || !same(expAvg) || !same(expAvgSq) || !same(maxExpAvgSq)) return false;
      if (h.amsgrad && maxExpAvgSq === null) return false;
      // scalars in float64, as PyTorch computes them in Python
      const bc1 = 1 - h.beta1 ** h.step;
      const bc2 = 1 - h.beta2 ** h.step;
      hp[0] = h.beta1; hp[1] = h.beta2; hp[2] = h.lr; hp[3] = h.eps; hp[4] = h.weightDecay;
      hp[5] = h.lr / bc1; hp[6] = Math.sqrt(bc2);
      hp[7] = h.decoupled ? 1 : 0; hp[8] = h.amsgrad ? 1 : 0; hp[9] = h.maximize ? 1 : 0;
      addon.adam(param, grad, expAvg, expAvgSq, maxExpAvgSq, hp);
      return true;
    },
  };
}
