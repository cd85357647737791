// Fused ops: one kernel call where the composed version would take several, each recorded on the
// tape as its own kernel with its own gradient rule (autograd/grads/fused.ts). When the active
// backend lacks the fused kernel, the forward is composed from primitive ops (with recording off)
// and the same kernel is recorded, so results and gradients do not depend on the backend.

import { fmtShape } from '../backend/shape.js';
import { noGrad, record } from '../core/engine.js';
import { DTypeError, ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { add, sub } from './binary.js';
import { gather } from './indexing.js';
import { matmul } from './matmul.js';
import { reshape, transpose, unsqueeze } from './movement.js';
import { logsumexp, mean } from './reduce.js';
import { relu as reluOp } from './unary.js';
import { backend } from './util.js';

/**
 * y = x W^T + b (then ReLU when `relu`), like torch.nn.functional.linear (+ relu), in one kernel on
 * backends that have it. x: (..., K), weight: (N, K), bias: (N,) or null -> (..., N).
 *
 * @example
 * const h = fusedLinear(x, fc.weight, fc.bias, { relu: true });   // (128, 784) -> (128, 1200)
 */
export function fusedLinear(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: { relu?: boolean } = {}): Tensor {
  const op = 'fusedLinear';
  const relu = opts.relu ?? false;
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new DTypeError(op, `x must be float32 or float64, got ${x.dtype}`);
  if (weight.dtype !== x.dtype || (bias && bias.dtype !== x.dtype)) {
    throw new DTypeError(op, `x, weight and bias must share one dtype, got ${x.dtype}, ${weight.dtype}${bias ? `, ${bias.dtype}` : ''}; convert with ops.to`);
  }
  if (weight.ndim !== 2 || x.ndim === 0 || x.shape[x.ndim - 1] !== weight.shape[1]) {
    throw new ShapeError(op, `x ${fmtShape(x.shape)} does not match weight ${fmtShape(weight.shape)}: weight must be (outFeatures, inFeatures) with inFeatures = x's last dimension`);
  }
  const [N, K] = weight.shape as [number, number];
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== N)) throw new ShapeError(op, `bias must have shape (${N},), got ${fmtShape(bias.shape)}`);
  const lead = x.shape.slice(0, -1);
  const x2 = x.ndim === 2 ? x : reshape(x, [-1, K]);
  const be = backend();
  let y: Tensor;
  if (be.linear) {
    y = new Tensor(be.linear(x2.view_(), weight.view_(), bias ? bias.view_() : null, relu), x.dtype, [x2.shape[0]!, N]);
  } else {
    const composed = noGrad(() => {
      let t = matmul(x2, transpose(weight, 0, 1));
      if (bias) t = add(t, bias);
      return relu ? reluOp(t) : t;
    });
    y = new Tensor(composed.data, x.dtype, [x2.shape[0]!, N]);
  }
  const out = record('linear', bias ? [x2, weight, bias] : [x2, weight], y, { relu });
  return x.ndim === 2 ? out : reshape(out, [...lead, N]);
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
  const be = backend();
  let value: number;
  if (be.softmaxCrossEntropy) {
    const rows = be.softmaxCrossEntropy(logits.view_(), target.view_());
    let s = 0;
    for (let i = 0; i < n; i++) s += rows[i]!;
    value = s / n; // NaN for N = 0, as PyTorch's mean of nothing
  } else {
    value = noGrad(() => {
      const picked = gather(logits, 1, unsqueeze(target, 1));                     // (N, 1)
      return mean(sub(logsumexp(logits, 1, true), picked)).item();
    });
  }
  const out = new Tensor(logits.dtype === 'float32' ? new Float32Array([value]) : new Float64Array([value]), logits.dtype, []);
  return record('softmaxCrossEntropy', [logits, target], out);
}
