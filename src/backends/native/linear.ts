// The native backend's fused linear kernels (native/src/linear.cc): linear (y = x W^T + b, then
// ReLU when asked, bias and ReLU inside the GEMM's tiles), linearBackward (dx, dw, db in one
// call) and linearChain (a chain of such layers in one call, for the inference plan). Tensor
// semantics are validated by the linear op and the plan; the addon re-checks shapes and bounds.

import type { FusedKernels, LinearChainLayer, View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray, isFloatArray, type TypedArray } from '../../backend/dtype.js';
import type { NativeAddon } from './addon.js';
import { metaBuffer, metaSize, packViews, putView } from './pack.js';

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

/**
 * The chained linear kernel of `addon` (native/src/linear.cc linearChain: one call for the whole
 * chain); with an addon build that predates it, the same layers through `linear` one by one.
 * @example const backend = { ...linearKernels(addon), ...linearChainKernel(addon) };  // backend.linearChain(x, layers)
 */
export function linearChainKernel(addon: NativeAddon): Required<Pick<FusedKernels, 'linearChain'>> {
  const chain = addon.linearChain;
  if (typeof chain !== 'function') {
    const { linear } = linearKernels(addon);
    return {
      linearChain(x: View, layers: readonly LinearChainLayer[]): TypedArray {
        let y = x;
        for (const l of layers) {
          const n = l.w.shape[0]!;
          y = { data: linear(y, l.w, l.bias, l.relu), shape: [x.shape[0]!, n], strides: [n, 1], offset: 0 };
        }
        return y.data;
      },
    };
  }
  const args: (TypedArray | null)[] = [];
  return {
    linearChain(x: View, layers: readonly LinearChainLayer[]): TypedArray {
      const L = layers.length;
      let size = 1 + L + metaSize(x);
      for (const l of layers) size += metaSize(l.w) + metaSize(l.bias);
      const m = metaBuffer(size);
      m[0] = L;
      for (let i = 0; i < L; i++) m[1 + i] = layers[i]!.relu ? 1 : 0;
      let at = putView(m, 1 + L, x);
      args.length = 2 * L;
      for (let i = 0; i < L; i++) {
        const l = layers[i]!;
        at = putView(m, at, l.w);
        if (l.bias) at = putView(m, at, l.bias);
        args[2 * i] = l.w.data; args[2 * i + 1] = l.bias ? l.bias.data : null;
      }
      const out = allocateUninit(dtypeOfArray(x.data), x.shape[0]! * (L > 0 ? layers[L - 1]!.w.shape[0]! : 0));  // every element written
      chain.call(addon, m, out, x.data, ...args);
      return out;
    },
  };
}
