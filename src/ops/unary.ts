// Unary elementwise ops. Integer inputs of float-valued functions are promoted to float32, as in PyTorch.

import type { UnaryOp } from '../backend/backend.js';
import { isFloat } from '../backend/dtype.js';
import { record } from '../core/engine.js';
import { DTypeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { to } from './movement.js';
import { backend } from './util.js';

/** Ops that keep integer dtypes (the rest promote ints to float32). */
const KEEPS_INT = new Set<UnaryOp>(['neg', 'abs', 'sign', 'relu', 'floor']);

function unaryOp(op: UnaryOp, x: Tensor): Tensor {
  if (!(x instanceof Tensor)) throw new DTypeError(op, `expected a Tensor, got ${typeof x}`);
  if (x.dtype === 'bool' && op !== 'logicalNot') x = to(x, 'int32');
  if (!isFloat(x.dtype) && !KEEPS_INT.has(op) && op !== 'logicalNot') x = to(x, 'float32');
  const outDtype = op === 'logicalNot' ? 'bool' : x.dtype;
  const out = new Tensor(backend().unary(op, x.view_(), outDtype), outDtype, x.shape);
  return op === 'logicalNot' ? out : record(op, [x], out);
}

/** -x @example neg(tensor([1, -2])) */
export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
/** e^x @example exp(tensor([0, 1])) */
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
/** Natural logarithm. @example log(tensor([1, Math.E])) */
export const log = (x: Tensor): Tensor => unaryOp('log', x);
/** @example sqrt(tensor([4, 9])) */
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
/** @example abs(tensor([-1, 2])) */
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
/** @example tanh(tensor([0.5])) */
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
/** 1 / (1 + e^-x), computed stably. @example sigmoid(tensor([0])) */
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
/** max(x, 0) @example relu(tensor([-1, 2])) */
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
/** Gauss error function. @example erf(tensor([0.5])) */
export const erf = (x: Tensor): Tensor => unaryOp('erf', x);
/** -1, 0 or 1. Its gradient is zero. @example sign(tensor([-3, 0, 2])) */
export const sign = (x: Tensor): Tensor => unaryOp('sign', x);
/** @example sin(tensor([0])) */
export const sin = (x: Tensor): Tensor => unaryOp('sin', x);
/** @example cos(tensor([0])) */
export const cos = (x: Tensor): Tensor => unaryOp('cos', x);
/** Round down. Its gradient is zero. @example floor(tensor([1.5])) */
export const floor = (x: Tensor): Tensor => unaryOp('floor', x);
/** Elementwise not of a bool tensor. @example logicalNot(tensor([true, false])) */
export const logicalNot = (x: Tensor): Tensor => unaryOp('logicalNot', x);
