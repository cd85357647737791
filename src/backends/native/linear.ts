// The native backend's fused linear kernels (native/src/linear.cc): linear (y = x W^T + b, then
// ReLU when asked, bias and ReLU inside the GEMM's tiles) and linearBackward (dx, dw, db in one
// call). Tensor semantics are validated by the linear op; the addon re-checks shapes and bounds.

import type { FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray, isFloatArray, type TypedArray } from '../../backend/dtype.js';
import type { NativeAddon } from './addon.js';
import { packViews } from './pack.js';


/**
 * The fused linear kernels of `addon`.
 * @example const backend = { ...otherKernels, ...linearKernels(addon) };
 */
export function linearKernels(addon: NativeAddon): Required<Pick<FusedKernels, 'linear' | 'linearBackward'>> {
  return {
    linear(x: View, w: View, bias: View | null, relu: boolean): TypedArray {
      const out = allocateUninit(dtypeOfArray(x.data), x.shape[0]! * w.shape[0]!);  // the kernel writes every element
      addon.linear(x.data, w.data, bias ? bias.data : null, packViews(x, w, bias), relu, out);
      return out;
    },
    linearBackward(dy: View, y: View | null, x: View, w: View, needs: readonly boolean[]): (TypedArray | null)[] | null {
      if (!isFloatArray(dy.data)) return null;
      const dt = dtypeOfArray(dy.data);
      const [M, N] = dy.shape as [number, number];
      const K = x.shape[1]!;
      const dx = needs[0] ? allocateUninit(dt, M * K) : null;  // the kernel writes every element of each
      const dw = needs[1] ? allocateUninit(dt, N * K) : null;
      const db = needs[2] ? allocateUninit(dt, N) : null;
      addon.linearBackward(dy.data, y ? y.data : null, x.data, w.data, packViews(dy, y, x, w), null, dx, dw, db); // g: native scratch
      return [dx, dw, db];
    },
  };
}
