// The native backend's weight-only int8 / int4 matmul (native/src/weight_only_linear.cc): the
// backend's optional `weightOnlyLinear` (backend/weight_only.ts: layout, contract and the
// TypeScript twin it is fuzzed against). An addon built before the kernel existed has no such
// entry point; the backend then leaves the method out and the layers use the twin.

import type { WeightOnlyKernels } from '../../backend/weight_only.js';
import type { NativeAddon } from './addon.js';

/**
 * The weight-only kernel of `addon`, or nothing when this addon build lacks it.
 * @example const backend = { ...otherKernels, ...weightOnlyLinearKernels(addon) };  // backend.weightOnlyLinear?.(x, 1, w, null)
 */
export function weightOnlyLinearKernels(addon: NativeAddon): WeightOnlyKernels {
  const fn = addon.weightOnlyLinear;
  if (fn === undefined) return {};
  return {
    weightOnlyLinear(x, rows, w, bias) {
      const out = new Float32Array(rows * w.rows);
      const bytes = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
      fn.call(addon, x, rows, w.rows, w.cols, w.groupSize, w.bits, bytes, w.scales, w.zeroPoints, bias, out);
      return out;
    },
  };
}
