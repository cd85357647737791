// The native backend's fused LM head + cross-entropy (kernel `linearCrossEntropy`, op
// src/ops/linear_cross_entropy.ts), composed from the addon's entry points by chunks of rows, so the
// (N, V) logits and their gradient never exist whole (GPT-2's vocabulary at 1024 rows: 206 MB each):
//   per chunk of r rows: z = x_c W^T (linear, into one (r, V) scratch), then the softmax
//   cross-entropy's per-row loss and, in the same pass and in place, g = (softmax(z) - onehot) / N
//   (softmaxCrossEntropy with grad = the scratch itself: each row is read whole before it is written);
//   then dx_c = g W and dw (+)= g^T x_c: the first chunk by linearBackward (one pool job for both
//   products, dw overwritten), later chunks by linear (dx_c, W read transposed in place) and matmul,
//   which accumulates into dw (C += A B).
// No native code of its own: it runs on the packed GEMM (which packs W (V, C) and g (r, V), too
// large to pack whole, by blocks of TENSORSLIM_GEMM_BLOCK_MB: docs/NATIVE.md "Memory tuning") and the
// softmax cross-entropy kernel, and hands back any GEMM scratch mapped beyond the kept size when its
// chunks are done (releaseScratch: only with TENSORSLIM_GEMM_SCRATCH_MB below the block budget).

import type { FusedKernels, View } from '../../backend/backend.js';
import { allocateUninit, dtypeOfArray, type TypedArray } from '../../backend/dtype.js';
import { release } from '../../backend/pool.js';
import type { NativeAddon } from './addon.js';
import { packViews } from './pack.js';

/**
 * The fused linear cross-entropy of `addon`.
 * @example const backend = { ...otherKernels, ...linearCrossEntropyKernels(addon) };
 */
export function linearCrossEntropyKernels(addon: NativeAddon): Required<Pick<FusedKernels, 'linearCrossEntropy'>> {
  return {
    linearCrossEntropy(x: View, w: View, target: View, needs: readonly [boolean, boolean], chunkElements: number) {
      const dt = dtypeOfArray(x.data);
      const [n, c] = x.shape as [number, number];
      const v = w.shape[0]!;
      const loss = new Float64Array(n);
      const dx = needs[0] ? allocateUninit(dt, n * c) : null;   // every element written below
      const dw = needs[1] ? allocateUninit(dt, v * c) : null;
      if (n === 0 || v === 0 || c === 0) {
        dx?.fill(0); dw?.fill(0);
        if (v === 0) loss.fill(NaN);
        return { loss, dx, dw };
      }
      const grad = dx !== null || dw !== null;
      const chunks = Math.ceil(n / Math.max(1, Math.floor(chunkElements / v)));
      const rows = Math.ceil(n / chunks);   // equal chunks
      const scratch = allocateUninit(dt, rows * v);
      const [xs0, xs1] = x.strides as [number, number];
      const [ws0, ws1] = w.strides as [number, number];
      const wT: View = { data: w.data, shape: [c, v], strides: [ws1, ws0], offset: w.offset };
      for (let r0 = 0, k = 0; r0 < n; r0 += rows, k++) {
        const r = Math.min(rows, n - r0);
        const xc: View = { data: x.data, shape: [r, c], strides: [xs0, xs1], offset: x.offset + r0 * xs0 };
        const z = scratch.subarray(0, r * v) as TypedArray;
        const zv: View = { data: z, shape: [r, v], strides: [v, 1], offset: 0 };
        addon.linear(x.data, w.data, null, packViews(xc, w), false, z);
        const tc: View = { data: target.data, shape: [r], strides: target.strides, offset: target.offset + r0 * target.strides[0]! };
        addon.softmaxCrossEntropy(z, target.data, packViews(zv, tc), loss.subarray(r0, r0 + r), grad ? z : null, 1 / n);
        if (!grad) continue;
        const dxc = dx ? dx.subarray(r0 * c, (r0 + r) * c) as TypedArray : null;
        if (k === 0 || dw === null) {
          addon.linearBackward(z, null, x.data, w.data, packViews(zv, null, xc, w), null, dxc, k === 0 ? dw : null, null);
        } else {
          if (dxc) addon.linear(z, w.data, null, packViews(zv, wT), false, dxc);
          // dw (1, V, C) += g^T (1, V, r) @ x_c (1, r, C)
          const gT: View = { data: z, shape: [1, v, r], strides: [r * v, 1, v], offset: 0 };
          const x3: View = { data: x.data, shape: [1, r, c], strides: [0, xs0, xs1], offset: xc.offset };
          addon.matmul(z, x.data, packViews(gT, x3), dw);
        }
      }
      release(scratch.buffer);   // dead here: back to the storage pool when the pool made it (a no-op otherwise)
      // scratch above TENSORSLIM_GEMM_SCRATCH_MB is a mapping of its own: not held through backward
      // (where the step's memory peaks); with the defaults the blocks' scratch is kept (8 MiB) and
      // this frees nothing
      addon.releaseScratch?.();
      return { loss, dx, dw };
    },
  };
}
