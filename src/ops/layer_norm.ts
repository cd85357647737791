// Kernel `layerNorm`: layer normalization over the last dimension with optional weight and bias,
// as one recorded kernel. F.layerNorm over several trailing dimensions composes the same math
// (layerNormParts, the one copy of it) without the kernel.
//
// Every part of this kernel:
//   op, composed reference (the math)     src/ops/layer_norm.ts (this file)
//   gradient rule                         src/autograd/grads/layer_norm.ts
//   backend members                       src/backend/backend.ts FusedKernels.layerNormForward, .layerNormBackward
//   native TS binding                     src/backends/native/layer_norm.ts
//   native C++ kernel                     native/src/layer_norm.cc
//   reference backend                     none (the composed reference below)
//   tests                                 test/ops/layer_norm.test.ts, test/native/layer_norm.test.ts,
//                                         test/autograd/gradcheck.test.ts
//   callers                               src/nn/functional.ts F.layerNorm, src/nn/normalization.ts LayerNorm

import { fmtShape } from '../backend/shape.js';
import { noGrad, record } from '../core/engine.js';
import { DTypeError, ShapeError, TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { add, div, mul, sub } from './binary.js';
import { fusedOr } from './fused_or.js';
import { reshape } from './movement.js';
import { mean } from './reduce.js';
import { sqrt } from './unary.js';
import { requireFloat } from './util.js';

/** The intermediate values of layer normalization (keepdim shapes: 1 on the normalized axes). */
export interface LayerNormParts {
  /** mean over the normalized axes */
  readonly mean: Tensor;
  /** x - mean */
  readonly centered: Tensor;
  /** sqrt(var + eps), var the biased variance E[(x - mean)^2] */
  readonly std: Tensor;
}

/**
 * The math of layer normalization, the one copy: mean, x - mean and sqrt(var + eps) over `axes`
 * (biased variance), composed from differentiable ops. The reference, the composed forward, the
 * composed gradient rule and F.layerNorm's multi-axis form all start from it.
 *
 * @example
 * const { centered, std } = layerNormParts(x, [x.ndim - 1], 1e-5);
 * const xhat = div(centered, std);
 */
export function layerNormParts(x: Tensor, axes: number | readonly number[], eps: number): LayerNormParts {
  const mu = mean(x, axes, true);
  const centered = sub(x, mu);
  return { mean: mu, centered, std: sqrt(add(mean(mul(centered, centered), axes, true), eps)) };
}

/**
 * y = centered / std * weight + bias from the parts of layerNormParts (weight and bias broadcast
 * over the normalized axes), composed.
 *
 * @example
 * const y = layerNormApply(layerNormParts(x, [1, 2], 1e-5), w, b);   // x (N, 4, 8), w/b (4, 8)
 */
export function layerNormApply(p: LayerNormParts, weight: Tensor | null, bias: Tensor | null): Tensor {
  let y = div(p.centered, p.std);
  if (weight) y = mul(y, weight);
  if (bias) y = add(y, bias);
  return y;
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
  return layerNormApply(layerNormParts(x, x.ndim - 1, eps), weight, bias);
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
  const [y, mu, rstd] = fusedOr('layerNormForward', D > 0,
    (be): [Tensor, Tensor, Tensor] => {
      const r = be.layerNormForward(x2.view_(), weight ? weight.view_() : null, bias ? bias.view_() : null, eps);
      return [new Tensor(r.y, x.dtype, [R, D]), new Tensor(r.mean, x.dtype, [R]), new Tensor(r.rstd, x.dtype, [R])];
    },
    () => noGrad((): [Tensor, Tensor, Tensor] => {
      const p = layerNormParts(x2, 1, eps);
      const t = layerNormApply(p, weight, bias);
      return [new Tensor(t.data, x.dtype, [R, D]), reshape(p.mean, [R]), reshape(div(1, p.std), [R])];
    }));
  const inputs = [x2];
  if (weight) inputs.push(weight);
  if (bias) inputs.push(bias);
  const out = record('layerNorm', inputs, y, { eps, weight: weight !== null, bias: bias !== null, mean: mu, rstd });
  return x.ndim === 2 ? out : reshape(out, [...x.shape]);
}
