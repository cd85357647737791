// Composite activations and normalizers: softmax, logSoftmax, dropout (no kernels of their own:
// autograd differentiates the composition). gelu has its own kernel and file: ops/gelu.ts.

import { isFloat } from '../backend/dtype.js';
import { noGrad } from '../core/engine.js';
import { normAxis, TensorslimError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import { div, mul, sub } from './binary.js';
import { rand } from './creation.js';
import { detach } from './movement.js';
import { logsumexp, max, sum } from './reduce.js';
import { exp } from './unary.js';
import { requireFloat } from './util.js';

/**
 * softmax(x)_i = exp(x_i - m) / sum_j exp(x_j - m) along `axis`, with m the (constant) row maximum.
 * @example softmax(logits, -1)
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  requireFloat('softmax', x);
  const ax = normAxis('softmax', axis, x.ndim);
  const m = noGrad(() => max(detach(x), ax, true));
  const e = exp(sub(x, m));
  return div(e, sum(e, ax, true));
}

/** log(softmax(x)) = x - logsumexp(x), stable. @example logSoftmax(logits, 1) */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  requireFloat('logSoftmax', x);
  const ax = normAxis('logSoftmax', axis, x.ndim);
  return sub(x, logsumexp(x, ax, true));
}

/**
 * Inverted dropout: zero each element with probability p and scale survivors by 1/(1-p).
 * Identity when training is false or p is 0. The mask comes from the seeded generator.
 * @example dropout(x, 0.5, model.training)
 */
export function dropout(x: Tensor, p = 0.5, training = true, generator: Generator = defaultGenerator): Tensor {
  if (!(p >= 0 && p <= 1)) throw new TensorslimError('dropout', `probability must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  if (!isFloat(x.dtype)) throw new TensorslimError('dropout', `expected a floating-point tensor, got ${x.dtype}`);
  if (p === 1) return mul(x, 0);
  const u = rand(x.shape, { dtype: x.dtype, generator });
  const mask = u.data;
  const scale = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = mask[i]! < p ? 0 : scale;
  return mul(x, u);
}
