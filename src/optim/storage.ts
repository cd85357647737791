// Storage helpers for optimizers and gradient clipping: read a tensor's values as one contiguous
// float array, and write updated values back into the tensor's own storage, in place, so that
// parameter and gradient objects keep their identity (DDP hooks, pruning masks and the optimizer
// state all hold references to them).
// Internal to optim/: not exported from the package. No math lives here.

import type { View } from '../backend/backend.js';
import type { FloatDType } from '../backend/dtype.js';
import { getBackend } from '../backend/registry.js';
import { contiguousStrides } from '../backend/shape.js';
import { TensorslimError } from '../core/errors.js';
import { Tensor, fromBuffer } from '../core/tensor.js';

/** Float storage the update math reads and writes. */
export type FloatArray = Float32Array | Float64Array;

/** True when the tensor is the whole of its storage, in row-major order (writes can go straight to `data`). */
export function ownsStorage(t: Tensor): boolean {
  return t.offset === 0 && t.data.length === t.size && t.isContiguous();
}

/** Values of `t` as a contiguous array of `dtype`: the storage itself when possible, else a copy. */
export function readFloat(t: Tensor, dtype: FloatDType): FloatArray {
  if (t.dtype === dtype && ownsStorage(t)) return t.data as FloatArray;
  return getBackend().copy(t.view_(), dtype) as FloatArray;
}

/**
 * Run `update` on a contiguous float array holding `t`'s values, then make sure they end up in
 * `t`'s storage. When `t` owns its storage, `update` writes it directly; otherwise (a strided
 * view) it works on a copy that is written back through the view. Bumps `t.version` either way,
 * so the tape refuses graphs that saved the old values.
 */
export function updateInPlace(t: Tensor, op: string, update: (data: FloatArray) => void): void {
  if (t.dtype !== 'float32' && t.dtype !== 'float64') {
    throw new TensorslimError(op, `can only update floating-point tensors in place, got ${t.dtype}`);
  }
  if (ownsStorage(t)) {
    update(t.data as FloatArray);
  } else {
    const scratch = readFloat(t, t.dtype);
    const copy = scratch === t.data ? scratch.slice() : scratch;
    update(copy);
    const src: View = { data: copy, shape: t.shape, strides: contiguousStrides(t.shape), offset: 0 };
    getBackend().assign(t.view_(), src);
  }
  t.version++;
}

/** A fresh contiguous tensor of zeros with `like`'s shape and the given dtype. */
export function zerosOf(like: Tensor, dtype: FloatDType): Tensor {
  const data = dtype === 'float64' ? new Float64Array(like.size) : new Float32Array(like.size);
  return fromBuffer(data, dtype, like.shape);
}

/** A contiguous copy of `t`, converted to `dtype` (detached: no gradFn, no requiresGrad). */
export function cloneAs(t: Tensor, dtype: FloatDType): Tensor {
  return fromBuffer(getBackend().copy(t.view_(), dtype), dtype, t.shape);
}
