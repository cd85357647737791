// Binary elementwise ops with broadcasting and type promotion, comparisons, where and clamp.
// Gradients of broadcast operands are reduced back to their shapes once, centrally, by the tape.

import type { BinaryOp } from '../backend/backend.js';
import { isFloat, promoteTypes } from '../backend/dtype.js';
import { shapeEquals } from '../backend/shape.js';
import { record } from '../core/engine.js';
import { DTypeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { to } from './movement.js';
import { backend, broadcastOrThrow, coerce, scalarTensor, viewAs, type TensorLike } from './util.js';

const COMPARISONS = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr']);

function binaryOp(op: BinaryOp, a: TensorLike, b: TensorLike): Tensor {
  let [ta, tb, dt] = coerce(op, a, b);
  if (op === 'div' && !isFloat(dt)) { dt = 'float32'; } // true division, like torch.div
  if (!COMPARISONS.has(op) && dt === 'bool') dt = 'int32';
  if (ta.dtype !== dt) ta = to(ta, dt);
  if (tb.dtype !== dt) tb = to(tb, dt);
  const shape = broadcastOrThrow(op, ta.shape, tb.shape);
  if (op === 'pow' && !isFloat(dt) && tb.dataSync().some((v) => v < 0)) {
    throw new DTypeError('pow', `integers to negative integer powers are not allowed (base ${dt}); convert the base with .to('float32')`);
  }
  const cmp = COMPARISONS.has(op);
  const outDtype = cmp ? 'bool' : dt;
  const data = backend().binary(op, viewAs(ta, shape), viewAs(tb, shape), outDtype);
  const out = new Tensor(data, outDtype, shape);
  return cmp ? out : record(op, [ta, tb], out);
}

/** a + b with broadcasting. @example add(tensor([1, 2]), 1) */
export const add = (a: TensorLike, b: TensorLike): Tensor => binaryOp('add', a, b);
/** a - b @example sub(x, y) */
export const sub = (a: TensorLike, b: TensorLike): Tensor => binaryOp('sub', a, b);
/** a * b @example mul(x, 2) */
export const mul = (a: TensorLike, b: TensorLike): Tensor => binaryOp('mul', a, b);
/** a / b (true division; integer inputs give float32). @example div(x, 2) */
export const div = (a: TensorLike, b: TensorLike): Tensor => binaryOp('div', a, b);
/** a ** b @example pow(x, 2) */
export const pow = (a: TensorLike, b: TensorLike): Tensor => binaryOp('pow', a, b);
/** Elementwise max (NaN propagates). @example maximum(x, y) */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binaryOp('maximum', a, b);
/** Elementwise min (NaN propagates). @example minimum(x, y) */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binaryOp('minimum', a, b);
/** a == b (bool). @example eq(x, 0) */
export const eq = (a: TensorLike, b: TensorLike): Tensor => binaryOp('eq', a, b);
export const ne = (a: TensorLike, b: TensorLike): Tensor => binaryOp('ne', a, b);
export const lt = (a: TensorLike, b: TensorLike): Tensor => binaryOp('lt', a, b);
export const le = (a: TensorLike, b: TensorLike): Tensor => binaryOp('le', a, b);
export const gt = (a: TensorLike, b: TensorLike): Tensor => binaryOp('gt', a, b);
export const ge = (a: TensorLike, b: TensorLike): Tensor => binaryOp('ge', a, b);
export const logicalAnd = (a: TensorLike, b: TensorLike): Tensor => binaryOp('logicalAnd', a, b);
export const logicalOr = (a: TensorLike, b: TensorLike): Tensor => binaryOp('logicalOr', a, b);

/** x * x @example square(tensor([3])) */
export const square = (x: Tensor): Tensor => mul(x, x);
/** 1 / x @example reciprocal(tensor([4])) */
export const reciprocal = (x: Tensor): Tensor => div(1, x);

/**
 * Pick from a where cond is true, else from b; all three broadcast together.
 * @example where(gt(x, 0), x, 0)
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (!(cond instanceof Tensor)) throw new DTypeError('where', 'cond must be a bool Tensor');
  if (cond.dtype !== 'bool') throw new DTypeError('where', `cond must be a bool tensor, got ${cond.dtype}; build it with a comparison such as gt(x, 0)`);
  let ta: Tensor, tb: Tensor;
  if (typeof a === 'number' && typeof b === 'number') {
    ta = scalarTensor(a, 'float32'); tb = scalarTensor(b, 'float32');
  } else {
    [ta, tb] = coerce('where', a, b);
  }
  const dt = promoteTypes(ta.dtype, tb.dtype);
  if (ta.dtype !== dt) ta = to(ta, dt);
  if (tb.dtype !== dt) tb = to(tb, dt);
  const shape = broadcastOrThrow('where', broadcastOrThrow('where', cond.shape, ta.shape), tb.shape);
  const data = backend().where(viewAs(cond, shape), viewAs(ta, shape), viewAs(tb, shape), dt);
  return record('where', [cond, ta, tb], new Tensor(data, dt, shape));
}

/**
 * Clamp into [min, max]; either bound may be omitted. The gradient passes where min <= x <= max,
 * as in PyTorch. @example clamp(x, 0, 6)
 */
export function clamp(x: Tensor, min?: number | null, max?: number | null): Tensor {
  if ((min === undefined || min === null) && (max === undefined || max === null)) {
    throw new DTypeError('clamp', 'at least one of min or max must be given');
  }
  let out = x;
  if (min !== undefined && min !== null) out = where(lt(out, min), scalarTensor(min, x.dtype), out);
  if (max !== undefined && max !== null) out = where(gt(out, max), scalarTensor(max, x.dtype), out);
  return out;
}

/** True when two tensors have the same shape and all values within atol + rtol * |b|. */
export function allClose(a: Tensor, b: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
  if (!shapeEquals(a.shape, b.shape)) return false;
  const x = a.dataSync(), y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    if (!(d <= atol + rtol * Math.abs(y[i]!)) && !(Number.isNaN(x[i]!) && Number.isNaN(y[i]!))) return false;
  }
  return true;
}
