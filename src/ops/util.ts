// Helpers shared by ops: turning numbers into tensors, wrapping kernel output, dtype checks.

import type { View } from '../backend/backend.js';
import { isFloat, promoteTypes, type DType, type TypedArray } from '../backend/dtype.js';
import { getBackend } from '../backend/registry.js';
import { broadcastShapes, broadcastStrides, fmtShape, type Shape } from '../backend/shape.js';
import { DTypeError, ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';

export type TensorLike = Tensor | number;

export function backend() { return getBackend(); }

/** A 0-d tensor holding `v`. */
export function scalarTensor(v: number, dtype: DType): Tensor {
  const t = new Tensor(newArray(dtype, 1), dtype, []);
  t.data[0] = v;
  return t;
}

function newArray(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int32': return new Int32Array(n);
    default: return new Uint8Array(n);
  }
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

export function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new DTypeError(op, `expected a floating-point tensor, got ${t.dtype}; convert with .to('float32')`);
}

export function requireInt(op: string, t: Tensor, what = 'index'): void {
  if (t.dtype !== 'int32' && t.dtype !== 'uint8') {
    throw new DTypeError(op, `${what} must be an int32 tensor, got ${t.dtype}; convert with .to('int32')`);
  }
}
