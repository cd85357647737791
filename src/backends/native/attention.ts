// The native backend's fused attention kernels (native/src/attention.cc): attentionForward and
// attentionBackward of the FusedKernels interface. No validation of tensor semantics here:
// ops/attention.ts does that; the addon re-checks shapes and bounds.

import type { AttentionParams, FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray, isFloatArray, type TypedArray } from '../../backend/dtype.js';
import { numel } from '../../backend/shape.js';
import type { NativeAddon } from './addon.js';
import { metaBuffer, metaSize, putDense, putView } from './pack.js';

const params = new Float64Array(4);  // reused: [scale, causal, dropout, seed]
function paramsOf(p: AttentionParams): Float64Array {
  params[0] = p.scale; params[1] = p.causal ? 1 : 0; params[2] = p.dropout; params[3] = p.seed;
  return params;
}


/**
 * The fused attention kernels of `addon`.
 * @example const backend = { ...otherKernels, ...attentionKernels(addon) };
 */
export function attentionKernels(addon: NativeAddon): Required<Pick<FusedKernels, 'attentionForward' | 'attentionBackward'>> {
  return {
    attentionForward(q: View, k: View, v: View, p: AttentionParams, into?: View) {
      if (!isFloatArray(q.data)) throw new Error(`native attentionForward: expected float32 or float64, got ${dtypeOfArray(q.data)}`);
      const dt = dtypeOfArray(q.data);
      const rows = q.shape[0]! * q.shape[1]! * q.shape[2]!;
      // the kernels write every element of their outputs: uninitialized storage (no zero-fill pass)
      const out = into ? into.data : allocateUninit(dt, rows * v.shape[3]!);
      const lse = allocateUninit(dt, rows);
      // meta: q, k, v, then the destination (into, or the fresh out as a contiguous view)
      const m = metaBuffer(metaSize(q) + metaSize(k) + metaSize(v) + 10);
      const at = putView(m, putView(m, putView(m, 0, q), k), v);
      if (into) putView(m, at, into); else putDense(m, at, [q.shape[0]!, q.shape[1]!, q.shape[2]!, v.shape[3]!]);
      addon.attentionForward(q.data, k.data, v.data, m, paramsOf(p), out, lse);
      return { out, lse };
    },
    attentionBackward(q: View, k: View, v: View, out: View, dOut: View, lse: View, p: AttentionParams, into?: readonly [View, View, View]) {
      if (!isFloatArray(q.data)) throw new Error(`native attentionBackward: expected float32 or float64, got ${dtypeOfArray(q.data)}`);
      const dt = dtypeOfArray(q.data);
      const dq = into ? into[0].data : allocateUninit(dt, numel(q.shape));
      const dk = into ? into[1].data : allocateUninit(dt, numel(k.shape));
      const dv = into ? into[2].data : allocateUninit(dt, numel(v.shape));
      // meta: q, k, v, out, dOut, lse, then the destinations (into, or the fresh dq, dk, dv as contiguous views)
      const m = metaBuffer(metaSize(q) + metaSize(k) + metaSize(v) + metaSize(out) + metaSize(dOut) + metaSize(lse) + 30);
      let at = 0;
      for (const x of [q, k, v, out, dOut, lse]) at = putView(m, at, x);
      if (into) for (const x of into) at = putView(m, at, x);
      else for (const x of [q, k, v]) at = putDense(m, at, x.shape);
      addon.attentionBackward(q.data, k.data, v.data, out.data, dOut.data, lse.data, m, paramsOf(p), dq, dk, dv);
      return { dq, dk, dv };
    },
  };
}
