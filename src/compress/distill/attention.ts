// Attention maps for attention-map distillation. Our CausalSelfAttention computes its maps inside
// the fused attention kernel, so they are never a module output that a tap could record; the
// output of its `c_attn` Linear is (q | k | v), from which the maps are recomputed here with ops
// (differentiable for the student). Used as a FeaturePair transform:
//   { student: 'h.0.attn.c_attn', teacher: 'h.3.attn.c_attn', loss: 'attention-kl', meanOverHeads: true,
//     studentTransform: (t) => attentionMapsFromQkv(t, 2), teacherTransform: (t) => attentionMapsFromQkv(t, 12) }

import { fmtShape } from '../../backend/shape.js';
import { ShapeError, TensorslimError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import * as ops from '../../ops/index.js';

/**
 * Attention probabilities softmax(q k^T / sqrt(D)) (causal: positions j > i masked) from a fused
 * projection qkv (B, T, 3C) laid out q | k | v along the last axis, each split into nHead heads of
 * D = C / nHead (nanoGPT's c_attn). Returns (B, H, T, T); each row sums to 1.
 * @example
 * const maps = attentionMapsFromQkv(tap.get('h.0.attn.c_attn'), 4);   // (B, 4, T, T)
 */
export function attentionMapsFromQkv(qkv: Tensor, nHead: number, opts: { causal?: boolean } = {}): Tensor {
  const op = 'attentionMapsFromQkv';
  if (qkv.ndim !== 3 || qkv.shape[2]! % 3 !== 0) throw new ShapeError(op, `qkv must be (B, T, 3C), got ${fmtShape(qkv.shape)}`);
  const [b, t, c3] = qkv.shape as [number, number, number];
  const c = c3 / 3;
  if (!Number.isInteger(nHead) || nHead < 1 || c % nHead !== 0) throw new TensorslimError(op, `nHead ${nHead} must be a positive integer dividing C = ${c}`);
  const d = c / nHead;
  // (B, T, 3, H, D) -> (3, B, H, T, D)
  const parts = ops.permute(ops.reshape(qkv, [b, t, 3, nHead, d]), [2, 0, 3, 1, 4]);
  const q = ops.squeeze(ops.narrow(parts, 0, 0, 1), 0);
  const k = ops.squeeze(ops.narrow(parts, 0, 1, 1), 0);
  let scores = ops.div(ops.matmul(q, ops.transpose(k, 2, 3)), Math.sqrt(d));   // (B, H, T, T)
  if (opts.causal ?? true) {
    const pos = ops.arange(t);
    const allowed = ops.ge(ops.reshape(pos, [t, 1]), ops.reshape(pos, [1, t]));  // j <= i
    scores = ops.where(allowed, scores, -Infinity);
  }
  return ops.softmax(scores, -1);
}
