// Kernel `softmaxCrossEntropy`: the mean cross-entropy of logits (N, C) against int32 class
// indices (N,), as one recorded kernel. The public losses F.crossEntropy / nn.CrossEntropyLoss keep
// their PyTorch names and call this op in their common case (mean, no weights, smoothing or ignored
// targets); their general form (logSoftmax + nll) stays in nn/functional.ts.
//
// Every part of this kernel:
//   op, composed reference                src/ops/softmax_cross_entropy.ts (this file)
//   gradient rule                         src/autograd/grads/softmax_cross_entropy.ts
//   backend members                       src/backend/backend.ts FusedKernels.softmaxCrossEntropy,
//                                         .softmaxCrossEntropyBackward
//   native TS binding                     src/backends/native/softmax_cross_entropy.ts
//   native C++ kernel                     native/src/softmax_cross_entropy.cc
//   reference backend                     none (the composed reference below)
//   tests                                 test/ops/softmax_cross_entropy.test.ts, test/nn/loss.test.ts,
//                                         test/native/softmax_cross_entropy.test.ts,
//                                         test/autograd/gradcheck.test.ts
//   callers                               src/nn/functional.ts F.crossEntropy, src/models/gpt.ts gptLoss

import { fmtShape } from '../backend/shape.js';
import { noGrad, record } from '../core/engine.js';
import { DTypeError, ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { sub } from './binary.js';
import { fusedOr } from './fused_or.js';
import { gather } from './indexing.js';
import { unsqueeze } from './movement.js';
import { logsumexp, mean } from './reduce.js';

/**
 * The mean softmax cross-entropy composed from primitive ops (differentiable through its
 * composition): mean_i (logsumexp(logits[i]) - logits[i, target[i]]). The reference of the fused kernel.
 *
 * @example
 * const loss = softmaxCrossEntropyReference(logits, labels);   // logits (128, 10), labels int32 (128,)
 */
export function softmaxCrossEntropyReference(logits: Tensor, target: Tensor): Tensor {
  const picked = gather(logits, 1, unsqueeze(target, 1));                       // (N, 1)
  return mean(sub(logsumexp(logits, 1, true), picked));
}

/**
 * Mean cross-entropy of logits (N, C) against int32 class indices (N,), fused: the mean over rows
 * of logsumexp(logits[i]) - logits[i, target[i]]. Same value as F.crossEntropy with the default
 * options; returns a 0-d tensor of the logits' dtype.
 *
 * @example
 * const loss = softmaxCrossEntropy(logits, labels);   // logits (128, 10), labels int32 (128,)
 */
export function softmaxCrossEntropy(logits: Tensor, target: Tensor): Tensor {
  const op = 'softmaxCrossEntropy';
  if (logits.dtype !== 'float32' && logits.dtype !== 'float64') throw new DTypeError(op, `logits must be float32 or float64, got ${logits.dtype}`);
  if (target.dtype !== 'int32') throw new DTypeError(op, `target must hold int32 class indices, got ${target.dtype}; convert with ops.to(target, 'int32')`);
  if (logits.ndim !== 2 || target.ndim !== 1 || target.shape[0] !== logits.shape[0]) {
    throw new ShapeError(op, `expected logits (N, C) and target (N,), got ${fmtShape(logits.shape)} and ${fmtShape(target.shape)}`);
  }
  const [n, c] = logits.shape as [number, number];
  const t = target.data;
  for (let i = 0; i < n; i++) {
    const k = t[target.offset + i * target.strides[0]!]!;
    if (!(k >= 0 && k < c)) throw new ShapeError(op, `target ${k} at row ${i} is out of range for ${c} classes`);
  }
  const value = fusedOr('softmaxCrossEntropy', true,
    (be) => {
      const rows = be.softmaxCrossEntropy(logits.view_(), target.view_());
      let s = 0;
      for (let i = 0; i < n; i++) s += rows[i]!;
      return s / n; // NaN for N = 0, as PyTorch's mean of nothing
    },
    () => noGrad(() => softmaxCrossEntropyReference(logits, target).item()));
  const out = new Tensor(logits.dtype === 'float32' ? new Float32Array([value]) : new Float64Array([value]), logits.dtype, []);
  return record('softmaxCrossEntropy', [logits, target], out);
}
