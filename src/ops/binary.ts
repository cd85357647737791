// Binary elementwise ops with broadcasting and type promotion, comparisons, where and clamp.
// Gradients of broadcast operands are reduced back to their shapes once, centrally, by the tape.

import type { BinaryOp } from '../backend/backend.js';
import { isFloat, promoteTypes } from '../backend/dtype.js';
import { shapeEquals } from '../backend/shape.js';
import { record } from '../core/engine.js';
import { DTypeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { to } from './movement.js';
import { backend, broadcastOrThrow, checkOutGrad, coerce, outOf, prepareOut, scalarTensor, viewAs, type OutOptions, type TensorLike } from './util.js';

const COMPARISONS = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr']);

// Frozen all-zero strides by rank (a broadcast single element), shared.
const ZERO_STRIDES: (readonly number[])[] = [];
function zeroStrides(rank: number): readonly number[] {
  return ZERO_STRIDES[rank] ??= Object.freeze(new Array<number>(rank).fill(0));
}

// `out`: write into that tensor (out= when `inplace` is false, x.op_(y) with out = a when true).
function binaryOp(op: BinaryOp, a: TensorLike, b: TensorLike, out?: Tensor, inplace = false): Tensor {
  // The common case first: two tensors of one float dtype and one shape, no out: no promotion, no
  // broadcast views to build (it cuts the per-op cost of small tensors; docs/NATIVE.md "Per-op overhead").
  if (out === undefined && a instanceof Tensor && b instanceof Tensor && a.dtype === b.dtype &&
    (a.dtype === 'float32' || a.dtype === 'float64') && shapeEquals(a.shape, b.shape)) {
    const cmp = COMPARISONS.has(op);
    const outDtype = cmp ? 'bool' : a.dtype;
    const res = new Tensor(backend().binary(op, a.view_(), b.view_(), outDtype), outDtype, a.shape);
    return cmp ? res : record(op, [a, b], res);
  }
  // A float tensor and a number: the number takes the tensor's dtype (scalarDtype) and is read
  // through stride-0 strides, as viewAs would give.
  if (out === undefined && a instanceof Tensor && typeof b === 'number' && (a.dtype === 'float32' || a.dtype === 'float64')) {
    const cmp = COMPARISONS.has(op);
    const outDtype = cmp ? 'bool' : a.dtype;
    const tb = scalarTensor(b, a.dtype);
    const vb = { data: tb.data, shape: a.shape, strides: zeroStrides(a.shape.length), offset: 0 };
    const res = new Tensor(backend().binary(op, a.view_(), vb, outDtype), outDtype, a.shape);
    return cmp ? res : record(op, [a, tb], res);
  }
  const name = inplace ? `${op}_` : op;
  if (out !== undefined) checkOutGrad(name, out, [a, b], inplace);
  let [ta, tb, dt] = coerce(op, a, b);
  if (op === 'div' && !isFloat(dt)) { dt = 'float32'; } // true division, like torch.div
  if (!COMPARISONS.has(op) && dt === 'bool') dt = 'int32';
  // in place into a float tensor: the other operand is converted to its dtype (x.add_(y) keeps x's dtype)
  if (inplace && out !== undefined && dt !== out.dtype && isFloat(out.dtype) && isFloat(dt)) dt = out.dtype;
  if (ta.dtype !== dt) ta = to(ta, dt);
  if (tb.dtype !== dt) tb = to(tb, dt);
  const shape = broadcastOrThrow(name, ta.shape, tb.shape);
  if (op === 'pow' && !isFloat(dt) && tb.dataSync().some((v) => v < 0)) {
    throw new DTypeError('pow', `integers to negative integer powers are not allowed (base ${dt}); convert the base with .to('float32')`);
  }
  const cmp = COMPARISONS.has(op);
  const outDtype = cmp ? 'bool' : dt;
  const va = viewAs(ta, shape), vb = viewAs(tb, shape);
  if (out !== undefined) {
    const window = prepareOut(name, out, shape, outDtype, [a, b], [va, vb], inplace);
    backend().binary(op, va, vb, outDtype, window);
    out.version++;
    return out;
  }
  const data = backend().binary(op, va, vb, outDtype);
  const res = new Tensor(data, outDtype, shape);
  return cmp ? res : record(op, [ta, tb], res);
}

/** a + b with broadcasting. With `{ out }`, written into `out` and returned. @example add(tensor([1, 2]), 1) @example add(a, b, { out: c }) */
export const add = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('add', a, b, outOf(opts));
/** a - b @example sub(x, y) @example sub(x, y, { out }) */
export const sub = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('sub', a, b, outOf(opts));
/** a * b @example mul(x, 2) @example mul(x, y, { out }) */
export const mul = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('mul', a, b, outOf(opts));
/** a / b (true division; integer inputs give float32). @example div(x, 2) */
export const div = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('div', a, b, outOf(opts));
/** a ** b @example pow(x, 2) */
export const pow = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('pow', a, b, outOf(opts));
/** Elementwise max (NaN propagates). @example maximum(x, y) */
export const maximum = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('maximum', a, b, outOf(opts));
/** Elementwise min (NaN propagates). @example minimum(x, y) */
export const minimum = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('minimum', a, b, outOf(opts));
/** a == b (bool). @example eq(x, 0) */
export const eq = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('eq', a, b, outOf(opts));
export const ne = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('ne', a, b, outOf(opts));
export const lt = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('lt', a, b, outOf(opts));
export const le = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('le', a, b, outOf(opts));
export const gt = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('gt', a, b, outOf(opts));
export const ge = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('ge', a, b, outOf(opts));
export const logicalAnd = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('logicalAnd', a, b, outOf(opts));
export const logicalOr = (a: TensorLike, b: TensorLike, opts?: OutOptions): Tensor => binaryOp('logicalOr', a, b, outOf(opts));

// In place, like PyTorch's x.add_(y): x's storage is overwritten with the result and x returned (its
// version counter bumped). y broadcasts to x's shape; a float x keeps its dtype (y is converted);
// an integer x refuses a float result. Refused while gradients are recorded and x or y requires grad.
function inplaceOp(op: BinaryOp, x: Tensor, y: TensorLike): Tensor {
  if (!(x instanceof Tensor)) throw new DTypeError(`${op}_`, `expected a Tensor to write in place, got ${typeof x}`);
  return binaryOp(op, x, y, x, true);
}
/** x += y in place; returns x. @example noGrad(() => add_(x, 1)) */
export const add_ = (x: Tensor, y: TensorLike): Tensor => inplaceOp('add', x, y);
/** x -= y in place; returns x. @example sub_(x, y) */
export const sub_ = (x: Tensor, y: TensorLike): Tensor => inplaceOp('sub', x, y);
/** x *= y in place; returns x. @example mul_(x, 0.5) */
export const mul_ = (x: Tensor, y: TensorLike): Tensor => inplaceOp('mul', x, y);
/** x /= y in place (x must be floating point); returns x. @example div_(x, 2) */
export const div_ = (x: Tensor, y: TensorLike): Tensor => inplaceOp('div', x, y);
/** x = x ** y in place; returns x. @example pow_(x, 2) */
export const pow_ = (x: Tensor, y: TensorLike): Tensor => inplaceOp('pow', x, y);

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
