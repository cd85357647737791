// Functional forms of layers and losses (torch.nn.functional), exported as the namespace `F`.
// Everything is composed from ops, so autograd differentiates it: no hand-written backward here.
// Each function validates its inputs first and names itself, the shapes and the fix in errors.

import { Tensor } from '../core/tensor.js';
import { ShapeError, DTypeError, TensorslimError } from '../core/errors.js';
import { isFloat } from '../backend/dtype.js';
import { fmtShape, shapeEquals } from '../backend/shape.js';
import * as ops from '../ops/index.js';
import { checkLinearShapes } from '../ops/linear.js';
import { requireFloat } from '../ops/util.js';

export { relu, gelu, tanh, sigmoid, softmax, logSoftmax, dropout, conv2d, maxPool2d } from '../ops/index.js';

/** How a loss is reduced over its elements. */
export type Reduction = 'mean' | 'sum' | 'none';

function checkReduction(op: string, r: string, allowed: readonly string[] = ['mean', 'sum', 'none']): void {
  if (!allowed.includes(r)) throw new TensorslimError(op, `reduction must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${r}'`);
}

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'mean') return ops.mean(loss);
  if (reduction === 'sum') return ops.sum(loss);
  return loss;
}

function requireSameShape(op: string, input: Tensor, target: Tensor): void {
  if (!shapeEquals(input.shape, target.shape)) {
    throw new ShapeError(op, `input ${fmtShape(input.shape)} and target ${fmtShape(target.shape)} must have the same shape (broadcasting them is almost always a bug); reshape the target to ${fmtShape(input.shape)}`);
  }
}

// -------------------------------------------------------------------------------------------------
// Layers

/**
 * y = x W^T + b. x: (*, in), weight: (out, in), bias: (out) -> (*, out).
 * @example F.linear(ops.ones([4, 3]), ops.ones([2, 3]))  // (4, 2), every value 3
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null, op = 'linear'): Tensor {
  checkLinearShapes(op, x, weight, bias);
  // one fused kernel (with its own gradient rule) when the dtypes agree; it reads the weight
  // transposed in place and returns its gradient in the weight's own layout
  const sameDtype = weight.dtype === x.dtype && (!bias || bias.dtype === x.dtype);
  if (sameDtype && (x.dtype === 'float32' || x.dtype === 'float64')) return ops.fusedLinear(x, weight, bias ?? null);
  return ops.linearReference(x, weight, bias ?? null);
}

/**
 * Layer normalization over the trailing `normalizedShape` dims:
 * y = (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance (divide by n).
 * @example F.layerNorm(x, [768], ln.weight, ln.bias)
 */
export function layerNorm(
  x: Tensor, normalizedShape: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5, op = 'layerNorm',
): Tensor {
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  requireFloat(op, x, 'input');
  const k = ns.length;
  if (k === 0 || x.ndim < k || !shapeEquals(x.shape.slice(x.ndim - k), ns)) {
    throw new ShapeError(op, `input shape ${fmtShape(x.shape)} must end with normalizedShape ${fmtShape(ns)}`);
  }
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && !shapeEquals(p.shape, ns)) throw new ShapeError(op, `${name} must have shape ${fmtShape(ns)}, got ${fmtShape(p.shape)}`);
  }
  // over the last dimension with one dtype throughout: one fused kernel with its own gradient rule
  // (forward saves mean and 1/std; backward gives dx, dweight and dbias in one pass)
  const sameDtype = (!weight || weight.dtype === x.dtype) && (!bias || bias.dtype === x.dtype);
  if (k === 1 && sameDtype && (x.dtype === 'float32' || x.dtype === 'float64')) return ops.fusedLayerNorm(x, weight ?? null, bias ?? null, eps);
  const axes = Array.from({ length: k }, (_, i) => x.ndim - k + i);
  return ops.layerNormApply(ops.layerNormParts(x, axes, eps), weight ?? null, bias ?? null);
}

/**
 * Look rows of `weight` (num, dim) up by int32 indices of any shape -> (*indices.shape, dim).
 * @example F.embedding(ops.tensor([[1, 2]], { dtype: 'int32' }), table)  // (1, 2, dim)
 */
export function embedding(indices: Tensor, weight: Tensor, op = 'embedding'): Tensor {
  if (indices.dtype !== 'int32') {
    throw new DTypeError(op, `indices must be int32, got ${indices.dtype}; convert with ops.to(indices, 'int32')`);
  }
  if (weight.ndim !== 2) throw new ShapeError(op, `weight must be 2-D (num, dim), got ${fmtShape(weight.shape)}`);
  const n = weight.shape[0]!;
  const flat = indices.dataSync();
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i]!;
    if (v < 0 || v >= n) {
      throw new TensorslimError(op, `index ${v} at flat position ${i} is out of range for an embedding of ${n} rows (valid: 0..${n - 1}); indices shape ${fmtShape(indices.shape)}`);
    }
  }
  const rows = ops.indexSelect(weight, 0, ops.reshape(indices, [-1]));
  return ops.reshape(rows, [...indices.shape, weight.shape[1]!]);
}

// -------------------------------------------------------------------------------------------------
// Losses

/**
 * Mean squared error: mean((input - target)^2) (or sum / per element).
 * @example F.mseLoss(ops.tensor([1, 2]), ops.tensor([1, 4]))  // (0 + 4) / 2 = 2
 */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  checkReduction('mseLoss', reduction);
  requireFloat('mseLoss', input, 'input');
  requireFloat('mseLoss', target, 'target');
  requireSameShape('mseLoss', input, target);
  const d = ops.sub(input, target);
  return reduce(ops.mul(d, d), reduction);
}

/**
 * L1 loss: mean(|input - target|).
 * @example F.l1Loss(ops.tensor([1, 2]), ops.tensor([1, 4]))  // (0 + 2) / 2 = 1
 */
export function l1Loss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  checkReduction('l1Loss', reduction);
  requireFloat('l1Loss', input, 'input');
  requireFloat('l1Loss', target, 'target');
  requireSameShape('l1Loss', input, target);
  return reduce(ops.abs(ops.sub(input, target)), reduction);
}

export interface NllLossOptions {
  /** Per-class weights, shape (C,). */
  weight?: Tensor | null;
  /** Targets equal to this contribute nothing (and are not counted by 'mean'). Default -100. */
  ignoreIndex?: number;
  reduction?: Reduction;
}

/** Check target shape/dtype/range against input (N, C, d1...) and return the class count. */
function checkClassTarget(op: string, input: Tensor, target: Tensor, ignoreIndex: number, weight: Tensor | null | undefined): number {
  if (!(target instanceof Tensor)) throw new TensorslimError(op, 'target must be a Tensor');
  if (target.dtype !== 'int32') {
    throw new DTypeError(op, `target must hold int32 class indices, got ${target.dtype} with shape ${fmtShape(target.shape)}; convert with ops.to(target, 'int32')${op === 'crossEntropy' ? ', or pass class probabilities with the input\'s shape as a float tensor' : ''}`);
  }
  if (input.ndim < 2) throw new ShapeError(op, `input must be (N, C) or (N, C, d1, ...) or (C,), got ${fmtShape(input.shape)}`);
  const expected = [input.shape[0]!, ...input.shape.slice(2)];
  if (!shapeEquals(target.shape, expected)) {
    throw new ShapeError(op, `target shape ${fmtShape(target.shape)} does not match input ${fmtShape(input.shape)}; expected target ${fmtShape(expected)} (input without its class dimension 1)`);
  }
  const c = input.shape[1]!;
  if (weight) {
    requireFloat(op, weight, 'weight');
    if (weight.ndim !== 1 || weight.shape[0] !== c) throw new ShapeError(op, `weight must be (${c},), one per class, got ${fmtShape(weight.shape)}`);
  }
  const flat = target.dataSync();
  for (let i = 0; i < flat.length; i++) {
    const v = flat[i]!;
    if (v !== ignoreIndex && (v < 0 || v >= c)) {
      throw new TensorslimError(op, `target value ${v} at flat position ${i} is out of range for ${c} classes (valid: 0..${c - 1}, or ignoreIndex ${ignoreIndex}); input shape ${fmtShape(input.shape)}, target shape ${fmtShape(target.shape)}`);
    }
  }
  return c;
}

/** For unbatched (C,) input with a 0-d target: run as a batch of one. */
function unbatched(op: string, input: Tensor, target: Tensor, reduction: Reduction, fn: (i: Tensor, t: Tensor) => Tensor): Tensor {
  if (input.ndim !== 1) return fn(input, target);
  if (target.ndim !== 0 && !(isFloat(target.dtype) && target.ndim === 1)) {
    throw new ShapeError(op, `for an unbatched input ${fmtShape(input.shape)} the target must be a 0-d class index, got ${fmtShape(target.shape)}`);
  }
  const out = fn(ops.unsqueeze(input, 0), ops.unsqueeze(target, 0));
  return reduction === 'none' ? ops.squeeze(out, 0) : out;
}

/**
 * Negative log likelihood: input holds log-probabilities (N, C, d1...), target int32 (N, d1...).
 * loss_i = -w[t_i] * input[i, t_i]; 'mean' divides by sum_i w[t_i] over non-ignored i
 * (the count of non-ignored targets without weights), exactly like PyTorch.
 * @example F.nllLoss(ops.logSoftmax(logits, 1), targets)
 */
export function nllLoss(input: Tensor, target: Tensor, opts: NllLossOptions = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  const ignoreIndex = opts.ignoreIndex ?? -100;
  checkReduction('nllLoss', reduction);
  requireFloat('nllLoss', input, 'input');
  return unbatched('nllLoss', input, target, reduction, (inp, tgt) => {
    checkClassTarget('nllLoss', inp, tgt, ignoreIndex, opts.weight);
    return nllCore(inp, tgt, opts.weight ?? null, ignoreIndex, reduction);
  });
}

function nllCore(logp: Tensor, target: Tensor, weight: Tensor | null, ignoreIndex: number, reduction: Reduction): Tensor {
  const keep = ops.ne(target, ignoreIndex);                        // bool (N, d...)
  const safe = ops.where(keep, target, 0);                         // ignored -> class 0 (masked out below)
  const picked = ops.squeeze(ops.gather(logp, 1, ops.unsqueeze(safe, 1)), 1); // logp[i, t_i]: (N, d...)
  let w = ops.to(keep, logp.dtype);                                // 1 for kept, 0 for ignored
  if (weight) w = ops.mul(w, ops.reshape(ops.indexSelect(weight, 0, ops.reshape(safe, [-1])), target.shape));
  const loss = ops.neg(ops.mul(picked, w));
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return ops.sum(loss);
  return ops.div(ops.sum(loss), ops.sum(w));
}

export interface CrossEntropyOptions extends NllLossOptions {
  /** Mix the target with the uniform distribution: (1 - e) * onehot + e / C. Default 0. */
  labelSmoothing?: number;
}

/**
 * Cross entropy of logits (N, C) or (N, C, d1...) (or (C,)) against int32 class indices
 * (N, d1...), or against class probabilities of the input's shape (float).
 * With label smoothing e: (1 - e) * nll + (e / C) * sum_c(-w_c * logp_c), each part reduced as
 * PyTorch does (ignored targets drop out; 'mean' divides by the kept targets' total weight).
 * @example F.crossEntropy(logits, ops.tensor([2, 0], { dtype: 'int32' }), { labelSmoothing: 0.1 })
 */
export function crossEntropy(input: Tensor, target: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  const reduction = opts.reduction ?? 'mean';
  const ignoreIndex = opts.ignoreIndex ?? -100;
  const ls = opts.labelSmoothing ?? 0;
  checkReduction(op, reduction);
  requireFloat(op, input, 'input');
  if (!(ls >= 0 && ls <= 1)) throw new TensorslimError(op, `labelSmoothing must be in [0, 1], got ${ls}`);
  const weight = opts.weight ?? null;
  return unbatched(op, input, target, reduction, (inp, tgt) => {
    if (tgt instanceof Tensor && isFloat(tgt.dtype)) return softTargetCE(inp, tgt, weight, ls, reduction);
    const c = checkClassTarget(op, inp, tgt, ignoreIndex, weight);
    // the common case (mean over (N, C) logits, no weights, smoothing or ignored targets) is one
    // fused kernel with its own gradient rule; the composition below is its reference
    if (reduction === 'mean' && ls === 0 && !weight && inp.ndim === 2 && tgt.dtype === 'int32' && tgt.shape[0]! > 0
      && !tgt.dataSync().includes(ignoreIndex)) {
      return ops.softmaxCrossEntropy(inp, tgt);
    }
    const logp = ops.logSoftmax(inp, 1);
    const nll = nllCore(logp, tgt, weight, ignoreIndex, reduction);
    if (ls === 0) return nll;
    // smooth_i = -sum_c w_c * logp[i, c], zero where the target is ignored
    const wb = weight ? ops.reshape(weight, [1, c, ...Array<number>(inp.ndim - 2).fill(1)]) : null;
    const keep = ops.to(ops.ne(tgt, ignoreIndex), inp.dtype);
    const smooth = ops.mul(ops.neg(ops.sum(wb ? ops.mul(logp, wb) : logp, 1)), keep);
    let s: Tensor;
    if (reduction === 'none') s = smooth;
    else if (reduction === 'sum') s = ops.sum(smooth);
    else {
      const safe = ops.where(ops.ne(tgt, ignoreIndex), tgt, 0);
      const denom = weight
        ? ops.sum(ops.mul(ops.reshape(ops.indexSelect(weight, 0, ops.reshape(safe, [-1])), tgt.shape), keep))
        : ops.sum(keep);
      s = ops.div(ops.sum(smooth), denom);
    }
    return ops.add(ops.mul(nll, 1 - ls), ops.mul(s, ls / c));
  });
}

/** Cross entropy against class probabilities (float target with the input's shape). */
function softTargetCE(input: Tensor, target: Tensor, weight: Tensor | null, ls: number, reduction: Reduction): Tensor {
  const op = 'crossEntropy';
  if (input.ndim < 2) throw new ShapeError(op, `input must be (N, C) or (N, C, d1, ...), got ${fmtShape(input.shape)}`);
  if (!shapeEquals(input.shape, target.shape)) {
    throw new ShapeError(op, `a float target holds class probabilities and must have the input's shape ${fmtShape(input.shape)}, got ${fmtShape(target.shape)}; for class indices pass an int32 tensor of shape ${fmtShape([input.shape[0]!, ...input.shape.slice(2)])}`);
  }
  const c = input.shape[1]!;
  if (weight && (weight.ndim !== 1 || weight.shape[0] !== c)) throw new ShapeError(op, `weight must be (${c},), got ${fmtShape(weight.shape)}`);
  const logp = ops.logSoftmax(input, 1);
  let t = ls > 0 ? ops.add(ops.mul(target, 1 - ls), ls / c) : target;
  if (weight) t = ops.mul(t, ops.reshape(weight, [1, c, ...Array<number>(input.ndim - 2).fill(1)]));
  const loss = ops.neg(ops.sum(ops.mul(logp, t), 1));               // (N, d...)
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return ops.sum(loss);
  return ops.div(ops.sum(loss), input.size / c);                      // mean over N * d1 * ...
}

export type KlReduction = 'mean' | 'batchmean' | 'sum' | 'none';

/**
 * KL divergence with `input` as log-probabilities: pointwise target * (log target - input)
 * (0 where target is 0), or exp(target) * (target - input) when `logTarget`.
 * 'batchmean' (the mathematically correct KL) divides the sum by the batch size input.shape[0];
 * 'mean' divides by the number of elements (PyTorch's default, kept for parity).
 * @example F.klDiv(ops.logSoftmax(student, -1), ops.softmax(teacher, -1), { reduction: 'batchmean' })
 */
export function klDiv(input: Tensor, target: Tensor, opts: { reduction?: KlReduction; logTarget?: boolean } = {}): Tensor {
  const op = 'klDiv';
  const reduction = opts.reduction ?? 'mean';
  checkReduction(op, reduction, ['mean', 'batchmean', 'sum', 'none']);
  requireFloat(op, input, 'input');
  requireFloat(op, target, 'target');
  requireSameShape(op, input, target);
  let loss: Tensor;
  if (opts.logTarget) loss = ops.mul(ops.exp(target), ops.sub(target, input));
  else {
    // xlogy(t, t) = t * log(t) with 0 at t == 0; log reads 1 there so no -inf or NaN gradient leaks.
    const zero = ops.eq(target, 0);
    const tlogt = ops.where(zero, 0, ops.mul(target, ops.log(ops.where(zero, 1, target))));
    loss = ops.sub(tlogt, ops.mul(target, input));
  }
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return ops.sum(loss);
  if (reduction === 'mean') return ops.mean(loss);
  return ops.div(ops.sum(loss), input.ndim === 0 ? 1 : input.shape[0]!);
}

/**
 * log(sigmoid(x)), stable: min(x, 0) - log(1 + exp(-|x|)). |x| is written as a where() so that
 * the gradient at x = 0 is the true 1/2.
 * @example F.logSigmoid(ops.tensor([0]))  // [-log 2]
 */
export function logSigmoid(x: Tensor): Tensor {
  const neg = ops.lt(x, 0);
  const absx = ops.where(neg, ops.neg(x), x);
  return ops.sub(ops.where(neg, x, 0), ops.log(ops.add(ops.exp(ops.neg(absx)), 1)));
}

/**
 * Binary cross entropy on logits, stable for any x:
 * loss = (1 - t) * x - (1 + (posWeight - 1) * t) * logSigmoid(x), times `weight` if given.
 * posWeight (C,) broadcasts over the last dimension (one per class), as in PyTorch.
 * @example F.bceWithLogits(logits, ops.tensor([1, 0, 1]))
 */
export function bceWithLogits(
  input: Tensor, target: Tensor,
  opts: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {},
): Tensor {
  const op = 'bceWithLogits';
  const reduction = opts.reduction ?? 'mean';
  checkReduction(op, reduction);
  requireFloat(op, input, 'input');
  requireFloat(op, target, 'target');
  requireSameShape(op, input, target);
  let lw: Tensor | number = 1;
  if (opts.posWeight) {
    if (opts.posWeight.ndim > input.ndim || !shapeEquals(opts.posWeight.shape, input.shape.slice(input.ndim - opts.posWeight.ndim)) && opts.posWeight.size !== 1) {
      throw new ShapeError(op, `posWeight ${fmtShape(opts.posWeight.shape)} must broadcast to the input ${fmtShape(input.shape)} (usually one value per class: (${input.shape[input.ndim - 1] ?? 1},))`);
    }
    lw = ops.add(ops.mul(ops.sub(opts.posWeight, 1), target), 1);
  }
  let loss = ops.sub(ops.mul(ops.sub(1, target), input), typeof lw === 'number' ? logSigmoid(input) : ops.mul(lw, logSigmoid(input)));
  if (opts.weight) loss = ops.mul(loss, opts.weight);
  return reduce(loss, reduction);
}
