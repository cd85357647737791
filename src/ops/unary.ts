// Unary elementwise ops. Integer inputs of float-valued functions are promoted to float32, as in PyTorch.

import type { UnaryOp } from '../backend/backend.js';
import { isFloat } from '../backend/dtype.js';
import { record } from '../core/engine.js';
import { DTypeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { to } from './movement.js';
import { backend, checkOutGrad, outOf, prepareOut, type OutOptions } from './util.js';

/** Ops that keep integer dtypes (the rest promote ints to float32). */
const KEEPS_INT = new Set<UnaryOp>(['neg', 'abs', 'sign', 'relu', 'floor']);

// `out`: write into that tensor (out= when `inplace` is false, x.op_() with out = x when true).
function unaryOp(op: UnaryOp, x: Tensor, out?: Tensor, inplace = false): Tensor {
  const name = inplace ? `${op}_` : op;
  if (!(x instanceof Tensor)) throw new DTypeError(name, `expected a Tensor, got ${typeof x}`);
  if (out !== undefined) checkOutGrad(name, out, [x], inplace);
  const src = x;
  if (x.dtype === 'bool' && op !== 'logicalNot') x = to(x, 'int32');
  if (!isFloat(x.dtype) && !KEEPS_INT.has(op) && op !== 'logicalNot') x = to(x, 'float32');
  const outDtype = op === 'logicalNot' ? 'bool' : x.dtype;
  const view = x.view_();
  if (out !== undefined) {
    backend().unary(op, view, outDtype, prepareOut(name, out, x.shape, outDtype, [src], [view], inplace));
    out.version++;
    return out;
  }
  const res = new Tensor(backend().unary(op, view, outDtype), outDtype, x.shape);
  return op === 'logicalNot' ? res : record(op, [x], res);
}

/** -x @example neg(tensor([1, -2])) @example neg(x, { out }) */
export const neg = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('neg', x, outOf(opts));
/** e^x. With `{ out }`, written into `out` and returned. @example exp(tensor([0, 1])) @example exp(x, { out: y }) */
export const exp = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('exp', x, outOf(opts));
/** Natural logarithm. @example log(tensor([1, Math.E])) */
export const log = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('log', x, outOf(opts));
/** @example sqrt(tensor([4, 9])) */
export const sqrt = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('sqrt', x, outOf(opts));
/** @example abs(tensor([-1, 2])) */
export const abs = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('abs', x, outOf(opts));
/** @example tanh(tensor([0.5])) */
export const tanh = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('tanh', x, outOf(opts));
/** 1 / (1 + e^-x), computed stably. @example sigmoid(tensor([0])) */
export const sigmoid = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('sigmoid', x, outOf(opts));
/** max(x, 0) @example relu(tensor([-1, 2])) @example relu(x, { out }) */
export const relu = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('relu', x, outOf(opts));
/** Gauss error function. @example erf(tensor([0.5])) */
export const erf = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('erf', x, outOf(opts));
/** -1, 0 or 1. Its gradient is zero. @example sign(tensor([-3, 0, 2])) */
export const sign = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('sign', x, outOf(opts));
/** @example sin(tensor([0])) */
export const sin = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('sin', x, outOf(opts));
/** @example cos(tensor([0])) */
export const cos = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('cos', x, outOf(opts));
/** Round down. Its gradient is zero. @example floor(tensor([1.5])) */
export const floor = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('floor', x, outOf(opts));
/** Elementwise not of a bool tensor. @example logicalNot(tensor([true, false])) */
export const logicalNot = (x: Tensor, opts?: OutOptions): Tensor => unaryOp('logicalNot', x, outOf(opts));

// In place, like PyTorch's x.relu_(): x's storage is overwritten and x returned (version bumped).
// Functions that give floats refuse integer x. Refused while gradients are recorded and x requires grad.
const inplace = (op: UnaryOp) => (x: Tensor): Tensor => unaryOp(op, x, x, true);
/** x = -x in place; returns x. @example neg_(x) */
export const neg_ = inplace('neg');
/** x = e^x in place; returns x. @example noGrad(() => exp_(x)) */
export const exp_ = inplace('exp');
/** x = log(x) in place. @example log_(x) */
export const log_ = inplace('log');
/** x = sqrt(x) in place. @example sqrt_(x) */
export const sqrt_ = inplace('sqrt');
/** x = |x| in place. @example abs_(x) */
export const abs_ = inplace('abs');
/** x = tanh(x) in place. @example tanh_(x) */
export const tanh_ = inplace('tanh');
/** x = sigmoid(x) in place. @example sigmoid_(x) */
export const sigmoid_ = inplace('sigmoid');
/** x = max(x, 0) in place; returns x. @example relu_(x) */
export const relu_ = inplace('relu');
/** x = erf(x) in place. @example erf_(x) */
export const erf_ = inplace('erf');
/** x = sign(x) in place. @example sign_(x) */
export const sign_ = inplace('sign');
/** x = sin(x) in place. @example sin_(x) */
export const sin_ = inplace('sin');
/** x = cos(x) in place. @example cos_(x) */
export const cos_ = inplace('cos');
/** x = floor(x) in place. @example floor_(x) */
export const floor_ = inplace('floor');
