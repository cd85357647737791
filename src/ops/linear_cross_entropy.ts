// Kernel `linearCrossEntropy`: a linear layer without bias (a language model's head) and the mean
// softmax cross-entropy of its output, as one recorded kernel that never materializes the logits:
// loss = mean_i (logsumexp(x[i] W^T) - (x[i] W^T)[target[i]]). For GPT-2's vocabulary (50,257) at
// 4 x 256 tokens the logits and their gradient are 206 MB each; the fused kernel keeps one chunk of
// rows of them at a time (backend.ts FusedKernels.linearCrossEntropy).
//
// When the loss will be differentiated (grad mode on and x or W requires grad), the forward already
// computes the gradients of the mean loss (dx, dW) chunk by chunk, from the chunk's logits while
// they are in hand, and keeps them for backward (attrs.pre), which then only scales them by the
// upstream gradient: no recomputation of the logits. A second backward through a retained graph,
// or one recorded (createGraph), computes them again from the saved inputs.
//
// Every part of this kernel:
//   op, shape checks, composed reference  src/ops/linear_cross_entropy.ts (this file)
//   gradient rule                         src/autograd/grads/linear_cross_entropy.ts
//   backend member                        src/backend/backend.ts FusedKernels.linearCrossEntropy
//   native TS binding                     src/backends/native/linear_cross_entropy.ts (on the addon's
//                                         linear, linearBackward, matmul and softmaxCrossEntropy)
//   reference backend                     none (the composed reference below)
//   tests                                 test/ops/linear_cross_entropy.test.ts,
//                                         test/autograd/gradcheck.test.ts, test/models/gpt_parity.test.ts
//   callers                               src/models/gpt.ts GPT.loss (lmLossFn, benchGpt)

import { fmtShape } from '../backend/shape.js';
import { isGradEnabled, noGrad, record } from '../core/engine.js';
import { DTypeError, ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { fusedOr } from './fused_or.js';
import { linearReference } from './linear.js';
import { reshape } from './movement.js';
import { softmaxCrossEntropyReference } from './softmax_cross_entropy.js';

/** Default bound on the logits scratch of the fused kernel, elements (64 MiB of float32). */
export const LINEAR_CROSS_ENTROPY_CHUNK_ELEMENTS = 2 ** 24;

/** Gradients computed by the forward for the first backward (the gradient rule takes them once). */
export interface LinearCrossEntropySaved {
  dx: Tensor | null;
  dw: Tensor | null;
}

/**
 * The composed reference: softmaxCrossEntropy(x W^T, target), differentiable through its
 * composition (materializes the logits).
 *
 * @example
 * const loss = linearCrossEntropyReference(h, head.weight, targets);   // h (N, C), weight (V, C), targets int32 (N,)
 */
export function linearCrossEntropyReference(x: Tensor, weight: Tensor, target: Tensor): Tensor {
  return softmaxCrossEntropyReference(linearReference(x, weight), target);
}

/**
 * Mean softmax cross-entropy of the logits x W^T against int32 class indices, without
 * materializing the logits on backends with the fused kernel: the same value and gradients as
 * softmaxCrossEntropy(fusedLinear(x, weight), target). x (..., C), weight (V, C), target (...)
 * int32 in [0, V); returns a 0-d tensor of x's dtype. `chunkElements` bounds the fused kernel's
 * logits scratch (default 2^24 elements: rows per chunk = floor(chunkElements / V)).
 *
 * @example
 * const loss = linearCrossEntropy(hidden, model.lm_head.weight, targets);   // hidden (B, T, C), targets (B, T)
 * loss.backward();
 */
export function linearCrossEntropy(x: Tensor, weight: Tensor, target: Tensor, opts: { chunkElements?: number } = {}): Tensor {
  const op = 'linearCrossEntropy';
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new DTypeError(op, `x must be float32 or float64, got ${x.dtype}`);
  if (weight.dtype !== x.dtype) throw new DTypeError(op, `x and weight must share one dtype, got ${x.dtype} and ${weight.dtype}; convert with ops.to`);
  if (target.dtype !== 'int32') throw new DTypeError(op, `target must hold int32 class indices, got ${target.dtype}; convert with ops.to(target, 'int32')`);
  if (weight.ndim !== 2) throw new ShapeError(op, `weight must be 2-D (classes, features), got ${fmtShape(weight.shape)}`);
  const [v, c] = weight.shape as [number, number];
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== c || target.ndim !== x.ndim - 1 || target.shape.some((d, i) => d !== x.shape[i])) {
    throw new ShapeError(op, `expected x (..., ${c}) and target (...) with the same leading shape for weight ${fmtShape(weight.shape)}, got x ${fmtShape(x.shape)} and target ${fmtShape(target.shape)}`);
  }
  const chunk = opts.chunkElements ?? LINEAR_CROSS_ENTROPY_CHUNK_ELEMENTS;
  if (!Number.isInteger(chunk) || chunk < 1) throw new ShapeError(op, `chunkElements must be a positive integer, got ${chunk}`);
  const x2 = x.ndim === 2 ? x : reshape(x, [-1, c]);
  const t1 = target.ndim === 1 ? target : reshape(target, [-1]);
  const n = x2.shape[0]!;
  const td = t1.data, ts = t1.strides[0]!;
  for (let i = 0; i < n; i++) {
    const k = td[t1.offset + i * ts]!;
    if (!(k >= 0 && k < v)) throw new ShapeError(op, `target ${k} at row ${i} is out of range for ${v} classes (weight ${fmtShape(weight.shape)})`);
  }
  const needs: [boolean, boolean] = [x2.requiresGrad, weight.requiresGrad];
  const eager = isGradEnabled() && (needs[0] || needs[1]);
  const saved: LinearCrossEntropySaved = { dx: null, dw: null };
  const value = fusedOr('linearCrossEntropy', n > 0 && v > 0 && c > 0,
    (be) => {
      const r = be.linearCrossEntropy(x2.view_(), weight.view_(), t1.view_(), eager ? needs : [false, false], chunk);
      if (r.dx) saved.dx = new Tensor(r.dx, x.dtype, [n, c]);
      if (r.dw) saved.dw = new Tensor(r.dw, x.dtype, [v, c]);
      let s = 0;
      for (let i = 0; i < n; i++) s += r.loss[i]!;
      return s / n;
    },
    () => noGrad(() => linearCrossEntropyReference(x2, weight, t1).item()));
  const out = new Tensor(x.dtype === 'float32' ? new Float32Array([value]) : new Float64Array([value]), x.dtype, []);
  return record('linearCrossEntropy', [x2, weight, t1], out, { pre: saved, chunkElements: chunk });
}
