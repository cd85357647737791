// The native backend's fused LayerNorm kernels (native/src/layer_norm.cc; loops in
// native/src/layer_norm_gelu_impl.h): layerNormForward and layerNormBackward of the FusedKernels
// interface. Tensor semantics are validated by the layer norm op; the addon re-checks dtypes,
// shapes and bounds and throws naming the kernel.

import type { FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray } from '../../backend/dtype.js';
import type { NativeAddon } from './addon.js';
import { packViews } from './pack.js';

/**
 * The float dtype of `v`, else an error naming the kernel.
 * @example floatDtype('geluForward', x) // 'float32'
 */
export function floatDtype(kernel: string, v: View): 'float32' | 'float64' {
  const dt = dtypeOfArray(v.data);
  if (dt !== 'float32' && dt !== 'float64') throw new Error(`native ${kernel}: expected float32 or float64, got ${dt}`);
  return dt;
}

/**
 * The fused LayerNorm kernels of `addon`.
 * @example const backend = { ...otherKernels, ...layerNormKernels(addon) };
 */
export function layerNormKernels(addon: NativeAddon): Required<Pick<FusedKernels, 'layerNormForward' | 'layerNormBackward'>> {
  return {
    layerNormForward(x: View, weight: View | null, bias: View | null, eps: number) {
      const dt = floatDtype('layerNormForward', x);
      const [r, d] = x.shape as [number, number];
      // every output element is written by the kernels: uninitialized storage (no zero-fill pass)
      const y = allocateUninit(dt, r * d), mean = allocateUninit(dt, r), rstd = allocateUninit(dt, r);
      addon.layerNormForward(x.data, weight ? weight.data : null, bias ? bias.data : null, packViews(x, weight, bias), eps, y, mean, rstd);
      return { y, mean, rstd };
    },
    layerNormBackward(dy: View, x: View, weight: View | null, mean: View, rstd: View, needs: readonly [boolean, boolean, boolean]) {
      const dt = floatDtype('layerNormBackward', x);
      const [r, d] = x.shape as [number, number];
      const dx = needs[0] ? allocateUninit(dt, r * d) : null;
      const dweight = needs[1] && weight ? allocateUninit(dt, d) : null;
      const dbias = needs[2] ? allocateUninit(dt, d) : null;
      addon.layerNormBackward(dy.data, x.data, weight ? weight.data : null, mean.data, rstd.data, packViews(dy, x, weight, mean, rstd), dx, dweight, dbias);
      return { dx, dweight, dbias };
    },
  };
}
