// The native backend's convolution kernels (native/src/conv2d.cc): conv2dForward and conv2dBackward
// of the FusedKernels interface (any group count; depthwise has its own loops), one sample's im2col
// columns in a cached scratch buffer at a time (no column tensor); float32 and float64 with a contiguous weight, bias and dy (otherwise null:
// the op composes unfold2d and matmul).

import type { Conv2dGeometry, FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray, isFloatArray, type TypedArray } from '../../backend/dtype.js';
import { isContiguous } from '../../backend/shape.js';
import type { NativeAddon } from './addon.js';
import { metaBuffer, putView } from './pack.js';

type Conv2dKernels = Required<Pick<FusedKernels, 'conv2dForward' | 'conv2dBackward'>>;

/** Writes the 14 geometry values at m[at..] (the order native/src/conv_geometry.h reads). */
function putGeometry(m: Float64Array, at: number, p: Conv2dGeometry): void {
  const g = [p.n, p.c, p.h, p.w, p.kh, p.kw, p.strideH, p.strideW, p.padH, p.padW, p.dilationH, p.dilationW, p.oh, p.ow];
  for (let i = 0; i < g.length; i++) m[at + i] = g[i]!;
}

/** A 1-D view's elements as one dense array (a subarray, no copy), or null when it is strided. */
const dense1d = (v: View): TypedArray | null => (v.shape[0]! <= 1 || v.strides[0] === 1 ? v.data.subarray(v.offset, v.offset + v.shape[0]!) : null);

/**
 * The convolution kernels of `addon`.
 * @example const backend = { ...otherKernels, ...conv2dKernels(addon) };
 */
export function conv2dKernels(addon: NativeAddon): Conv2dKernels {
  return {
    conv2dForward(x: View, weight: View, bias: View | null, p: Conv2dGeometry, groups = 1): TypedArray | null {
      if (!isFloatArray(x.data) || weight.data.constructor !== x.data.constructor || !isContiguous(weight.shape, weight.strides)) return null;
      const b = bias ? dense1d(bias) : null;
      if (bias && (bias.data.constructor !== x.data.constructor || b === null)) return null;
      const m = metaBuffer(2 * (2 + 2 * 4) + 15);  // views of x and the weight, then the geometry and groups
      const at = putView(m, putView(m, 0, x), weight);
      putGeometry(m, at, p);
      m[at + 14] = groups;
      const out = allocateUninit(dtypeOfArray(x.data), p.n * weight.shape[0]! * p.oh * p.ow);  // every element written
      addon.conv2dForward(x.data, weight.data, b, m, out);
      return out;
    },
    conv2dBackward(dy: View, x: View, weight: View, p: Conv2dGeometry, needs: readonly [boolean, boolean, boolean], groups = 1) {
      if (!isFloatArray(x.data) || weight.data.constructor !== x.data.constructor || dy.data.constructor !== x.data.constructor) return null;
      if (!isContiguous(weight.shape, weight.strides) || !isContiguous(dy.shape, dy.strides)) return null;
      const m = metaBuffer(3 * (2 + 2 * 4) + 15);  // views of dy, x and the weight, then the geometry and groups
      const at = putView(m, putView(m, putView(m, 0, dy), x), weight);
      putGeometry(m, at, p);
      m[at + 14] = groups;
      const dt = dtypeOfArray(x.data), o = weight.shape[0]!;
      const dx = needs[0] ? allocateUninit(dt, p.n * p.c * p.h * p.w) : null;  // every element written (zeroed natively where it accumulates)
      const dweight = needs[1] ? allocateUninit(dt, o * (p.c / groups) * p.kh * p.kw) : null;
      const dbias = needs[2] ? allocateUninit(dt, o) : null;
      addon.conv2dBackward(dy.data, x.data, weight.data, m, dx, dweight, dbias);
      return { dx, dweight, dbias };
    },
  };
}
