// Fused ops: one kernel call where the composed version would take several, each recorded on the
// tape as its own kernel with its own gradient rule (autograd/grads/fused.ts). When the active
// backend lacks the fused kernel, the forward is composed from primitive ops (with recording off)
// and the same kernel is recorded, so results and gradients do not depend on the backend.

import { fmtShape } from '../backend/shape.js';
import { noGrad, record } from '../core/engine.js';
import { DTypeError, ShapeError, TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { add, div, mul, sub } from './binary.js';
import { gather } from './indexing.js';
import { matmul } from './matmul.js';
import { reshape, transpose, unsqueeze } from './movement.js';
import { logsumexp, mean } from './reduce.js';
import { erf, relu as reluOp, sqrt, tanh } from './unary.js';
import { backend, requireFloat } from './util.js';

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

/** The two GELU forms: 'none' (exact, erf) and 'tanh' (the tanh approximation). */
export type GeluApproximate = 'none' | 'tanh';

/**
 * GELU composed from primitive ops (differentiated through its composition): the reference the
 * fused kernel is tested against. 'none': x/2 (1 + erf(x / sqrt 2)); 'tanh':
 * x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 *
 * @example
 * const y = geluReference(x, 'tanh');
 */
export function geluReference(x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  requireFloat('gelu', x);
  if (approximate === 'tanh') {
    const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  if (approximate !== 'none') throw new TensorslimError('gelu', `approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/**
 * GELU as one recorded kernel ('gelu', with its own gradient rule): fused forward and backward on
 * backends that have them (native), the composed reference elsewhere; same results either way.
 * ops.gelu (and so F.gelu, nn.GELU and the transformer MLP) calls this.
 *
 * @example
 * const h = fusedGelu(x);            // exact (erf) form
 * const t = fusedGelu(x, 'tanh');    // tanh approximation
 */
export function fusedGelu(x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  requireFloat('gelu', x);
  if (approximate !== 'none' && approximate !== 'tanh') throw new TensorslimError('gelu', `approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  const be = backend();
  let y: Tensor;
  if (be.geluForward && x.size > 0) {
    y = new Tensor(be.geluForward(x.view_(), approximate), x.dtype, [...x.shape]);
  } else {
    const composed = noGrad(() => geluReference(x, approximate));
    y = new Tensor(composed.data, x.dtype, [...x.shape]);
  }
  return record('gelu', [x], y, { approximate });
}

/**
 * Layer normalization over the last dimension composed from primitive ops (the reference of the
 * fused kernel): y = (x - mean) / sqrt(var + eps) * weight + bias, biased variance.
 *
 * @example
 * const y = layerNormReference(x, ln.weight, ln.bias, 1e-5);   // x (2, 5, 8), weight/bias (8,)
 */
export function layerNormReference(x: Tensor, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  requireFloat('layerNorm', x);
  const ax = x.ndim - 1;
  const mu = mean(x, ax, true);
  const xc = sub(x, mu);
  let y = div(xc, sqrt(add(mean(mul(xc, xc), ax, true), eps)));
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
}

/**
 * Layer normalization over the last dimension of x (..., D) with optional weight and bias (D,), as
 * one recorded kernel ('layerNorm'): forward and backward fused on backends that have them (the
 * forward saves each row's mean and 1/std; backward gives dx, dweight and dbias in one pass), the
 * composed reference elsewhere. Same math as torch.nn.functional.layer_norm(x, [D], w, b, eps).
 *
 * @example
 * const y = fusedLayerNorm(x, ln.weight, ln.bias);   // x (16, 128, 256), weight/bias (256,)
 */
export function fusedLayerNorm(x: Tensor, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const op = 'fusedLayerNorm';
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new DTypeError(op, `x must be float32 or float64, got ${x.dtype}`);
  if ((weight && weight.dtype !== x.dtype) || (bias && bias.dtype !== x.dtype)) {
    throw new DTypeError(op, `x, weight and bias must share one dtype, got ${x.dtype}${weight ? `, weight ${weight.dtype}` : ''}${bias ? `, bias ${bias.dtype}` : ''}; convert with ops.to`);
  }
  if (x.ndim === 0) throw new ShapeError(op, 'x must have at least one dimension (the one normalized), got a scalar');
  const D = x.shape[x.ndim - 1]!;
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && (p.ndim !== 1 || p.shape[0] !== D)) throw new ShapeError(op, `${name} must have shape (${D},) to match x ${fmtShape(x.shape)}, got ${fmtShape(p.shape)}`);
  }
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new TensorslimError(op, `eps must be finite and >= 0, got ${eps}`);
  const x2 = x.ndim === 2 ? x : reshape(x, [-1, D]);
  const R = x2.shape[0]!;
  const be = backend();
  let y: Tensor, mu: Tensor, rstd: Tensor;
  if (be.layerNormForward && D > 0) {
    const r = be.layerNormForward(x2.view_(), weight ? weight.view_() : null, bias ? bias.view_() : null, eps);
    y = new Tensor(r.y, x.dtype, [R, D]);
    mu = new Tensor(r.mean, x.dtype, [R]);
    rstd = new Tensor(r.rstd, x.dtype, [R]);
  } else {
    [y, mu, rstd] = noGrad(() => {
      const m = mean(x2, 1, true);
      const xc = sub(x2, m);
      const sd = sqrt(add(mean(mul(xc, xc), 1, true), eps));
      let t = div(xc, sd);
      if (weight) t = mul(t, weight);
      if (bias) t = add(t, bias);
      return [new Tensor(t.data, x.dtype, [R, D]), reshape(m, [R]), reshape(div(1, sd), [R])];
    });
  }
  const inputs = [x2];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  const out = record('layerNorm', inputs, y, { eps, weight: weight !== null, bias: bias !== null, mean: mu, rstd });
  return x.ndim === 2 ? out : reshape(out, [...x.shape]);
}
