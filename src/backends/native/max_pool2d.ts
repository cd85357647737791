// The native backend's max-pooling kernels (native/src/max_pool2d.cc): maxPool2dForward (window
// maxima with their argmax positions) and maxPool2dBackward (dy scattered to them) of the
// FusedKernels interface; float32 and float64 (other dtypes go to the fallback backend's loops).

import type { Conv2dGeometry, FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray, isFloatArray, type TypedArray } from '../../backend/dtype.js';
import type { NativeAddon } from './addon.js';
import { metaBuffer, putView } from './pack.js';

type MaxPool2dKernels = Required<Pick<FusedKernels, 'maxPool2dForward' | 'maxPool2dBackward'>>;

/** Writes the 14 geometry values at m[at..] (the order native/src/conv_geometry.h reads). */
function putGeometry(m: Float64Array, at: number, p: Conv2dGeometry): void {
  const g = [p.n, p.c, p.h, p.w, p.kh, p.kw, p.strideH, p.strideW, p.padH, p.padW, p.dilationH, p.dilationW, p.oh, p.ow];
  for (let i = 0; i < g.length; i++) m[at + i] = g[i]!;
}

/**
 * The max-pooling kernels of `addon`, falling back to `fallback`'s for non-float inputs.
 * @example const backend = { ...otherKernels, ...maxPool2dKernels(addon, referencePooling) };
 */
export function maxPool2dKernels(addon: NativeAddon, fallback: MaxPool2dKernels): MaxPool2dKernels {
  return {
    maxPool2dForward(x: View, p: Conv2dGeometry): { y: TypedArray; argmax: Int32Array } {
      if (!isFloatArray(x.data)) return fallback.maxPool2dForward(x, p);
      const m = metaBuffer(2 + 2 * 4 + 14);  // the view (N, C, H, W), then the geometry
      putGeometry(m, putView(m, 0, x), p);
      const count = p.n * p.c * p.oh * p.ow;
      const y = allocateUninit(dtypeOfArray(x.data), count), argmax = allocateUninit('int32', count) as Int32Array;  // every output written
      addon.maxPool2dForward(x.data, m, y, argmax);
      return { y, argmax };
    },
    maxPool2dBackward(dy: View, argmax: Int32Array, p: Conv2dGeometry): TypedArray {
      if (!isFloatArray(dy.data)) return fallback.maxPool2dBackward(dy, argmax, p);
      const m = metaBuffer(2 + 2 * 4 + 14);  // the view of dy (N, C, OH, OW), then the geometry
      putGeometry(m, putView(m, 0, dy), p);
      const out = allocateUninit(dtypeOfArray(dy.data), p.n * p.c * p.h * p.w);  // every element written
      addon.maxPool2dBackward(dy.data, argmax, m, out);
      return out;
    },
  };
}
