// The native backend's fused linear kernels (native/src/linear.cc): linear (y = x W^T + b, then
// ReLU when asked, bias and ReLU inside the GEMM's tiles) and linearBackward (dx, dw, db in one
// call). Tensor semantics are validated by the linear op; the addon re-checks shapes and bounds.

import type { View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray, type TypedArray } from '../../backend/dtype.js';
import type { NativeAddon } from './addon.js';
import { packViews } from './pack.js';

const isFloatArray = (a: TypedArray): boolean => a instanceof Float32Array || a instanceof Float64Array;

/** The native linear kernels (the Backend's linear and the optional linearBackward). */
export interface NativeLinearKernels {
  linear(x: View, w: View, bias: View | null, relu: boolean): TypedArray;
  /**
   * Backward of linear (+ReLU when `y`, the forward output, is given) in one call: [dx, dw, db] for
   * dy (M, N), x (M, K), w (N, K), each only where `needs` asks (else null); null for non-float arrays.
   */
  linearBackward(dy: View, y: View | null, x: View, w: View, needs: readonly boolean[]): (TypedArray | null)[] | null;
}

/**
 * The fused linear kernels of `addon`.
 * @example const backend = { ...otherKernels, ...linearKernels(addon) };
 */
export function linearKernels(addon: NativeAddon): NativeLinearKernels {
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
