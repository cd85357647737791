// Reductions over axes with keepdim: sum, mean, max, min, argmax, argmin, variance, logsumexp.

import type { ReduceOp } from '../backend/backend.js';
import { isFloat } from '../backend/dtype.js';
import { fmtShape, numel } from '../backend/shape.js';
import { noGrad, record } from '../core/engine.js';
import { normAxes, normAxis, ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { add, mul, sub } from './binary.js';
import { reshape, to, detach } from './movement.js';
import { exp, log } from './unary.js';
import { backend } from './util.js';

export type Axes = number | readonly number[];

function reduceShape(shape: readonly number[], axes: readonly number[], keepdim: boolean): number[] {
  return keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

function reduceOp(op: 'sum' | 'max' | 'min', x: Tensor, axis: Axes | undefined, keepdim: boolean): Tensor {
  const axes = normAxes(op, axis, x.ndim);
  if (op !== 'sum') {
    for (const a of axes) {
      if (x.shape[a] === 0) throw new ShapeError(op, `cannot reduce over empty dimension ${a} of ${fmtShape(x.shape)}`);
    }
  }
  let src = x;
  if (op === 'sum' && !isFloat(x.dtype)) src = to(x, x.dtype === 'bool' || x.dtype === 'uint8' ? 'int32' : x.dtype);
  const data = backend().reduce(op as ReduceOp, src.view_(), axes, src.dtype);
  const out = new Tensor(data, src.dtype, reduceShape(x.shape, axes, keepdim));
  return record(op, [src], out, { axes, keepdim });
}

/** Sum over the given axes (all when omitted). @example sum(x, 1, true) */
export function sum(x: Tensor, axis?: Axes, keepdim = false): Tensor { return reduceOp('sum', x, axis, keepdim); }

/** Mean over the given axes (all when omitted). @example mean(x, [0, 1]) */
export function mean(x: Tensor, axis?: Axes, keepdim = false): Tensor {
  const axes = normAxes('mean', axis, x.ndim);
  const n = numel(axes.map((a) => x.shape[a]!));
  const src = isFloat(x.dtype) ? x : to(x, 'float32');
  return mul(sum(src, axes, keepdim), 1 / n);
}

/**
 * Maximum over the given axes (values only; use argmax for indices). The gradient is shared
 * equally among tied maxima, like torch.amax.
 * @example max(x, -1)
 */
export function max(x: Tensor, axis?: Axes, keepdim = false): Tensor { return reduceOp('max', x, axis, keepdim); }
/** Minimum over the given axes. @example min(x, 0) */
export function min(x: Tensor, axis?: Axes, keepdim = false): Tensor { return reduceOp('min', x, axis, keepdim); }

function argOp(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepdim: boolean): Tensor {
  if (axis === undefined) {
    if (x.size === 0) throw new ShapeError(op, 'cannot take the index of an empty tensor');
    return argOp(op, reshape(detach(x), [x.size]), 0, false);
  }
  const ax = normAxis(op, axis, x.ndim);
  if (x.shape[ax] === 0) throw new ShapeError(op, `cannot reduce over empty dimension ${ax} of ${fmtShape(x.shape)}`);
  const data = backend().reduce(op, x.view_(), [ax], 'int32');
  return new Tensor(data, 'int32', reduceShape(x.shape, [ax], keepdim));
}

/** Index of the first maximum along `axis` (int32; flat index when no axis). @example argmax(logits, 1) */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor { return argOp('argmax', x, axis, keepdim); }
/** Index of the first minimum along `axis`. @example argmin(x, 0) */
export function argmin(x: Tensor, axis?: number, keepdim = false): Tensor { return argOp('argmin', x, axis, keepdim); }

export interface VarianceOptions { correction?: number; keepdim?: boolean }

/**
 * Variance over axes with Bessel's correction by default (divides by N - correction), like torch.var.
 * @example variance(x, 0)          // unbiased
 * @example variance(x, 0, { correction: 0 })
 */
export function variance(x: Tensor, axis?: Axes, opts: VarianceOptions = {}): Tensor {
  const correction = opts.correction ?? 1;
  const keepdim = opts.keepdim ?? false;
  const axes = normAxes('var', axis, x.ndim);
  const n = numel(axes.map((a) => x.shape[a]!));
  const d = sub(x, mean(x, axes, true));
  return mul(sum(mul(d, d), axes, keepdim), 1 / Math.max(n - correction, 0));
}

/**
 * log(sum(exp(x))) over `axis`, computed stably by subtracting the (constant) maximum.
 * @example logsumexp(logits, -1)
 */
export function logsumexp(x: Tensor, axis: Axes, keepdim = false): Tensor {
  const axes = normAxes('logsumexp', axis, x.ndim);
  // the shift is a constant for autograd; infinite maxima are replaced by 0 so -inf rows stay -inf
  const m = noGrad(() => {
    const mx = max(detach(x), axes, true);
    const d = mx.dataSync();
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) d[i] = 0;
    return new Tensor(d, mx.dtype, mx.shape);
  });
  const s = log(sum(exp(sub(x, m)), axes, true));
  const out = add(s, m);
  return keepdim ? out : reshape(out, reduceShape(x.shape, axes, false));
}
