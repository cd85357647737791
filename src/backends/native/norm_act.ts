// The native backend's fused LayerNorm and GELU kernels (native/src/norm_act.cc): layerNormForward,
// layerNormBackward, geluForward and geluBackward of the FusedKernels interface. Offered only when
// the loaded addon has them (an addon built before they existed simply lacks them, and ops/fused.ts
// then composes the same math from primitives). Tensor semantics are validated by ops/fused.ts; the
// addon re-checks dtypes, shapes and bounds and throws naming the kernel.

import type { FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray, type TypedArray } from '../../backend/dtype.js';

/** The addon's entry points; views travel as (array, meta slice), as in addon.ts. */
interface NormActAddon {
  layerNormForward?(x: TypedArray, w: TypedArray | null, b: TypedArray | null, meta: Float64Array, eps: number,
    y: TypedArray, mean: TypedArray, rstd: TypedArray): void;
  layerNormBackward?(dy: TypedArray, x: TypedArray, w: TypedArray | null, mean: TypedArray, rstd: TypedArray, meta: Float64Array,
    dx: TypedArray | null, dw: TypedArray | null, db: TypedArray | null): void;
  geluForward?(x: TypedArray, meta: Float64Array, form: number, y: TypedArray): void;
  geluBackward?(dy: TypedArray, x: TypedArray, meta: Float64Array, form: number, dx: TypedArray): void;
}

function metaOf(views: readonly (View | null)[]): Float64Array {
  const m: number[] = [];
  for (const v of views) if (v) m.push(v.shape.length, v.offset, ...v.shape, ...v.strides);
  return new Float64Array(m);
}

const size = (v: View): number => v.shape.reduce((a, b) => a * b, 1);
const form = (approximate: 'none' | 'tanh'): number => (approximate === 'tanh' ? 1 : 0);

function floatDtype(kernel: string, v: View): 'float32' | 'float64' {
  const dt = dtypeOfArray(v.data);
  if (dt !== 'float32' && dt !== 'float64') throw new Error(`native ${kernel}: expected float32 or float64, got ${dt}`);
  return dt;
}

type NormActKernels = Pick<FusedKernels, 'layerNormForward' | 'layerNormBackward' | 'geluForward' | 'geluBackward'>;

/**
 * The fused LayerNorm and GELU kernels of `addon`, or {} when it was built without them.
 * @example const backend = { ...otherKernels, ...normActKernels(addon) };
 */
export function normActKernels(addon: object): NormActKernels {
  const a = addon as NormActAddon;
  const lnF = a.layerNormForward, lnB = a.layerNormBackward, gF = a.geluForward, gB = a.geluBackward;
  if (typeof lnF !== 'function' || typeof lnB !== 'function' || typeof gF !== 'function' || typeof gB !== 'function') return {};
  return {
    layerNormForward(x: View, weight: View | null, bias: View | null, eps: number) {
      const dt = floatDtype('layerNormForward', x);
      const [r, d] = x.shape as [number, number];
      // every output element is written by the kernels: uninitialized storage (no zero-fill pass)
      const y = allocateUninit(dt, r * d), mean = allocateUninit(dt, r), rstd = allocateUninit(dt, r);
      lnF.call(addon, x.data, weight ? weight.data : null, bias ? bias.data : null, metaOf([x, weight, bias]), eps, y, mean, rstd);
      return { y, mean, rstd };
    },
    layerNormBackward(dy: View, x: View, weight: View | null, mean: View, rstd: View, needs: readonly [boolean, boolean, boolean]) {
      const dt = floatDtype('layerNormBackward', x);
      const [r, d] = x.shape as [number, number];
      const dx = needs[0] ? allocateUninit(dt, r * d) : null;
      const dweight = needs[1] && weight ? allocateUninit(dt, d) : null;
      const dbias = needs[2] ? allocateUninit(dt, d) : null;
      lnB.call(addon, dy.data, x.data, weight ? weight.data : null, mean.data, rstd.data, metaOf([dy, x, weight, mean, rstd]), dx, dweight, dbias);
      return { dx, dweight, dbias };
    },
    geluForward(x: View, approximate: 'none' | 'tanh') {
      const y = allocateUninit(floatDtype('geluForward', x), size(x));
      gF.call(addon, x.data, metaOf([x]), form(approximate), y);
      return y;
    },
    geluBackward(dy: View, x: View, approximate: 'none' | 'tanh') {
      const dx = allocateUninit(floatDtype('geluBackward', x), size(x));
      gB.call(addon, dy.data, x.data, metaOf([dy, x]), form(approximate), dx);
      return dx;
    },
  };
}
