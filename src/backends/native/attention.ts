// The native backend's fused attention kernels (native/src/attention.cc): attentionForward and
// attentionBackward of the FusedKernels interface. They are offered only when the loaded addon has
// them (an addon built before they existed simply lacks them, and ops/attention.ts then composes the
// same math from primitives). No validation of tensor semantics here: ops/attention.ts does that;
// the addon re-checks shapes and bounds.

import type { AttentionParams, FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray, type TypedArray } from '../../backend/dtype.js';

/** The addon's attention entry points; views travel as (array, meta slice), as in addon.ts. */
interface AttentionAddon {
  attentionForward?(q: TypedArray, k: TypedArray, v: TypedArray, meta: Float64Array, params: Float64Array, out: TypedArray, lse: TypedArray): void;
  attentionBackward?(q: TypedArray, k: TypedArray, v: TypedArray, out: TypedArray, dOut: TypedArray, lse: TypedArray,
    meta: Float64Array, params: Float64Array, dq: TypedArray, dk: TypedArray, dv: TypedArray): void;
}

function putView(m: number[], v: View): void {
  m.push(v.shape.length, v.offset, ...v.shape, ...v.strides);
}

function paramsOf(p: AttentionParams): Float64Array {
  return new Float64Array([p.scale, p.causal ? 1 : 0, p.dropout, p.seed]);
}

const isFloat = (a: TypedArray): boolean => a instanceof Float32Array || a instanceof Float64Array;
const size = (v: View): number => v.shape.reduce((a, b) => a * b, 1);

/**
 * The fused attention kernels of `addon`, or {} when it was built without them.
 * @example const backend = { ...otherKernels, ...attentionKernels(addon) };
 */
export function attentionKernels(addon: object): Pick<FusedKernels, 'attentionForward' | 'attentionBackward'> {
  const a = addon as AttentionAddon;
  const fwd = a.attentionForward, bwd = a.attentionBackward;
  if (typeof fwd !== 'function' || typeof bwd !== 'function') return {};
  return {
    attentionForward(q: View, k: View, v: View, p: AttentionParams, into?: View) {
      if (!isFloat(q.data)) throw new Error(`native attentionForward: expected float32 or float64, got ${dtypeOfArray(q.data)}`);
      const dt = dtypeOfArray(q.data);
      const rows = q.shape[0]! * q.shape[1]! * q.shape[2]!;
      // the kernels write every element of their outputs: uninitialized storage (no zero-fill pass)
      const out = into ? into.data : allocateUninit(dt, rows * v.shape[3]!);
      const lse = allocateUninit(dt, rows);
      const m: number[] = [];
      putView(m, q); putView(m, k); putView(m, v);
      if (into) putView(m, into);
      fwd.call(addon, q.data, k.data, v.data, new Float64Array(m), paramsOf(p), out, lse);
      return { out, lse };
    },
    attentionBackward(q: View, k: View, v: View, out: View, dOut: View, lse: View, p: AttentionParams, into?: readonly [View, View, View]) {
      if (!isFloat(q.data)) throw new Error(`native attentionBackward: expected float32 or float64, got ${dtypeOfArray(q.data)}`);
      const dt = dtypeOfArray(q.data);
      const dq = into ? into[0].data : allocateUninit(dt, size(q));
      const dk = into ? into[1].data : allocateUninit(dt, size(k));
      const dv = into ? into[2].data : allocateUninit(dt, size(v));
      const m: number[] = [];
      for (const x of [q, k, v, out, dOut, lse]) putView(m, x);
      if (into) for (const x of into) putView(m, x);
      bwd.call(addon, q.data, k.data, v.data, out.data, dOut.data, lse.data, new Float64Array(m), paramsOf(p), dq, dk, dv);
      return { dq, dk, dv };
    },
  };
}
