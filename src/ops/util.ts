// Helpers shared by ops: turning numbers into tensors, wrapping kernel output, dtype checks.

import type { View } from '../backend/backend.js';
import { allocate, isFloat, promoteTypes, type DType, type TypedArray } from '../backend/dtype.js';
import { getBackend } from '../backend/registry.js';
import { broadcastShapes, broadcastStrides, fmtShape, isContiguous, numel, shapeEquals, type Shape } from '../backend/shape.js';
import { isGradEnabled } from '../core/engine.js';
import { DTypeError, ShapeError, TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';

export type TensorLike = Tensor | number;

export function backend() { return getBackend(); }

// Recently used scalar operands, shared: `add(x, 1.5)` in a loop then allocates no new typed array
// per call. That matters beyond the allocation itself: with large outputs, one fresh tiny
// ArrayBuffer per call made V8 run ~8x as many mark-compact collections (32 against 4 in 60 calls of
// a 2^24-element add), whose concurrent marking took a core from the kernel threads. The tensors
// are internal operands, never handed to users and never written (ops only read them).
const SCALAR_CACHE_SIZE = 64;
const scalarCache = new Map<string, Tensor>();

/** A 0-d tensor holding `v` (read-only: it may be shared with other calls). */
export function scalarTensor(v: number, dtype: DType): Tensor {
  const key = `${dtype}:${Object.is(v, -0) ? '-0' : String(v)}`;
  const hit = scalarCache.get(key);
  if (hit !== undefined) return hit;
  const t = new Tensor(allocate(dtype, 1), dtype, []);
  t.data[0] = v;
  if (scalarCache.size >= SCALAR_CACHE_SIZE) scalarCache.delete(scalarCache.keys().next().value!);
  scalarCache.set(key, t);
  return t;
}

/** The dtype a number takes when combined with a tensor of dtype `other` (PyTorch's scalar rule). */
export function scalarDtype(v: number, other: DType): DType {
  if (isFloat(other)) return other;
  if (!Number.isInteger(v)) return 'float32';
  return other === 'bool' ? 'int32' : other;
}

/** Convert the operands of a binary op to tensors of one common dtype. */
export function coerce(op: string, a: TensorLike, b: TensorLike): [Tensor, Tensor, DType] {
  if (typeof a === 'number' && typeof b === 'number') {
    throw new DTypeError(op, 'at least one operand must be a Tensor; wrap numbers with tensor(...)');
  }
  const da = typeof a === 'number' ? scalarDtype(a, (b as Tensor).dtype) : a.dtype;
  const db = typeof b === 'number' ? scalarDtype(b, (a as Tensor).dtype) : b.dtype;
  const dt = promoteTypes(da, db);
  return [toTensorOf(a, dt), toTensorOf(b, dt), dt];
}

function toTensorOf(x: TensorLike, dtype: DType): Tensor {
  if (typeof x === 'number') return scalarTensor(x, dtype);
  return x;
}

/** Shape both operands broadcast to, or a clear error naming the op and both shapes. */
export function broadcastOrThrow(op: string, a: Shape, b: Shape): number[] {
  const s = broadcastShapes(a, b);
  if (!s) {
    throw new ShapeError(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together (trailing dimensions must be equal or 1)`);
  }
  return s;
}

/** A kernel view of `t` read as if it had `shape` (broadcast). */
export function viewAs(t: Tensor, shape: Shape): View {
  return { data: t.data, shape, strides: broadcastStrides(t.shape, t.strides, shape), offset: t.offset };
}

/**
 * Throws unless `t` is a floating-point Tensor; `name` (e.g. 'target') names the argument in the
 * message, else it speaks of "a floating-point tensor". The one copy of this check (ops and nn/F).
 * @example requireFloat('mseLoss', target, 'target')
 */
export function requireFloat(op: string, t: Tensor, name?: string): void {
  if (!(t instanceof Tensor)) throw new TensorslimError(op, `${name ?? 'the input'} must be a Tensor`);
  if (!isFloat(t.dtype)) {
    throw new DTypeError(op, name === undefined
      ? `expected a floating-point tensor, got ${t.dtype}; convert with .to('float32')`
      : `${name} must be floating point, got ${t.dtype}; convert with ops.to(${name}, 'float32')`);
  }
}

export function requireInt(op: string, t: Tensor, what = 'index'): void {
  if (t.dtype !== 'int32' && t.dtype !== 'uint8') {
    throw new DTypeError(op, `${what} must be an int32 tensor, got ${t.dtype}; convert with .to('int32')`);
  }
}

/** Options of the elementwise ops that can write into caller-owned storage, like PyTorch's `out=`. */
export interface OutOptions {
  /**
   * Write the result into this tensor (exact result shape and dtype, contiguous, not partially
   * overlapping an input) and return it, instead of allocating a new one. Refused while gradients
   * are recorded and an input requires grad (the result would need a gradient node).
   */
  out?: Tensor;
}

/** The `out` of an op's options argument, or undefined (a stray non-object, e.g. an index from Array#map, is ignored). */
export function outOf(opts: unknown): Tensor | undefined {
  if (opts === null || typeof opts !== 'object' || !('out' in opts)) return undefined;
  const out = (opts as { out?: unknown }).out;
  if (out === undefined) return undefined;
  if (!(out instanceof Tensor)) throw new DTypeError('out', `the out option must be a Tensor, got ${typeof out}`);
  return out;
}

/** Refuses an in-place write to `x` where autograd would need its old value or its own gradient. */
export function checkWritable(op: string, x: Tensor): void {
  if (x.requiresGrad && isGradEnabled()) {
    throw new TensorslimError(op, 'in-place write to a tensor that requires grad while gradients are recorded; wrap it in noGrad(() => ...)');
  }
}

// [first byte, end byte) of the memory a view can touch; null when it is empty.
function byteRange(data: TypedArray, shape: Shape, strides: Shape, offset: number): [number, number] | null {
  if (numel(shape) === 0) return null;
  let lo = offset, hi = offset;
  shape.forEach((d, i) => { const st = strides[i]! * (d - 1); if (st < 0) lo += st; else hi += st; });
  const es = data.BYTES_PER_ELEMENT;
  return [data.byteOffset + lo * es, data.byteOffset + (hi + 1) * es];
}

/**
 * Refuses `out`/in-place where autograd would need the result: gradients recorded and an input
 * (`sources`, as the caller passed them) requiring grad, or `out` itself requiring grad. Called
 * before any conversion, so a refused call records nothing.
 */
export function checkOutGrad(op: string, out: Tensor, sources: readonly TensorLike[], inplace = false): void {
  if (!isGradEnabled()) return;
  const tensors = sources.filter((t): t is Tensor => t instanceof Tensor);
  if (tensors.some((t) => t.requiresGrad)) {
    const shapes = tensors.map((t) => fmtShape(t.shape)).join(' and ');
    const fix = inplace
      ? `use the out-of-place ${op.slice(0, -1)}(...), or run it under noGrad(() => ...) if no gradient is wanted`
      : `call ${op}(...) without out, or run it under noGrad(() => ...) if no gradient is wanted`;
    throw new TensorslimError(op, `${inplace ? 'an in-place op' : 'out='} cannot be used while gradients are recorded and an input requires grad (input${tensors.length > 1 ? 's' : ''} ${shapes}): autograd needs a fresh result tensor; ${fix}`);
  }
  checkWritable(op, out);
}

/**
 * Checks `out` for an elementwise op (`op` names it in errors, e.g. 'add' or 'add_') whose result has
 * `shape` and `dtype` and reads the broadcast views `inputs` of the tensors `sources`; returns the
 * contiguous window of out's storage the kernel writes. `inplace` words the errors for x.op_(...).
 */
export function prepareOut(op: string, out: Tensor, shape: Shape, dtype: DType, sources: readonly TensorLike[],
  inputs: readonly View[], inplace = false): TypedArray {
  checkOutGrad(op, out, sources, inplace);
  if (!shapeEquals(out.shape, shape)) {
    throw new ShapeError(op, inplace
      ? `the result has shape ${fmtShape(shape)}, which does not fit in place in the tensor of shape ${fmtShape(out.shape)} (the other operand must broadcast to it); use the out-of-place form`
      : `out has shape ${fmtShape(out.shape)} but the result has shape ${fmtShape(shape)}; pass an out of shape ${fmtShape(shape)} (e.g. empty([${shape.join(', ')}]))`);
  }
  if (out.dtype !== dtype) {
    throw new DTypeError(op, inplace
      ? `the result is ${dtype} and cannot be written in place into a ${out.dtype} tensor; use the out-of-place form or convert with .to('${dtype}')`
      : `out is ${out.dtype} but the result is ${dtype}; pass an out of dtype ${dtype}`);
  }
  if (!isContiguous(out.shape, out.strides)) {
    throw new ShapeError(op, `${inplace ? 'the tensor written in place' : 'out'} must be contiguous, got strides (${out.strides.join(', ')}) for shape ${fmtShape(out.shape)}; use a contiguous tensor (.contiguous()), or assign(x, result) to write into a strided view`);
  }
  const n = numel(shape);
  const w = byteRange(out.data, out.shape, out.strides, out.offset);
  if (w !== null) {
    for (const v of inputs) {
      if (v.data.buffer !== out.data.buffer) continue;
      const same = v.data.byteOffset + v.offset * v.data.BYTES_PER_ELEMENT === out.data.byteOffset + out.offset * out.data.BYTES_PER_ELEMENT &&
        v.data.BYTES_PER_ELEMENT === out.data.BYTES_PER_ELEMENT &&
        v.shape.every((d, i) => d <= 1 || v.strides[i] === out.strides[i]);
      if (same) continue; // the very elements it writes, one for one: safe
      const r = byteRange(v.data, v.shape, v.strides, v.offset);
      if (r !== null && r[0] < w[1] && w[0] < r[1]) {
        throw new TensorslimError(op, `${inplace ? 'the tensor written in place' : 'out'} (shape ${fmtShape(out.shape)}) partially overlaps an input (shape ${fmtShape(v.shape)}, strides (${v.strides.join(', ')})): some elements would be read after being overwritten; ${inplace ? 'use the out-of-place form' : 'use a separate out tensor'}`);
      }
    }
  }
  return out.offset === 0 && out.data.length === n ? out.data : out.data.subarray(out.offset, out.offset + n);
}


/** A window size, stride, padding or dilation: one number for both axes, or [h, w]. */
export type Pair = number | readonly [number, number];

/** A pair from a number or a [h, w] tuple, each an integer >= min, or a clear error. */
export function pair(op: string, name: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= min)) throw new ShapeError(op, `${name} must be integers >= ${min}, got ${String(v)}`);
  return p;
}
