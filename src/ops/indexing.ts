// Indexing: gather and its adjoint scatterAdd, cat, stack, oneHot (indexSelect, whose 2-D case is
// the embedding kernel, lives in ops/embedding.ts).

import { allocate, promoteTypes } from '../backend/dtype.js';
import { fmtShape, numel } from '../backend/shape.js';
import { record } from '../core/engine.js';
import { normAxis, ShapeError, TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { eq } from './binary.js';
import { arange } from './creation.js';
import { to, unsqueeze } from './movement.js';
import { backend, requireInt } from './util.js';

/**
 * out[i][j] = x[i][index[i][j]] for axis 1 (and likewise for other axes), like torch.gather.
 * index has x's rank; its size may be smaller than x's on every axis.
 * @example gather(logProbs, 1, unsqueeze(targets, 1))
 */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  requireInt('gather', index);
  const ax = normAxis('gather', axis, x.ndim);
  if (index.ndim !== x.ndim) {
    throw new ShapeError('gather', `index rank ${index.ndim} ${fmtShape(index.shape)} must equal input rank ${x.ndim} ${fmtShape(x.shape)}`);
  }
  for (let i = 0; i < x.ndim; i++) {
    if (i !== ax && index.shape[i]! > x.shape[i]!) {
      throw new ShapeError('gather', `index ${fmtShape(index.shape)} is larger than input ${fmtShape(x.shape)} at dimension ${i}`);
    }
  }
  const n = x.shape[ax]!;
  for (const k of index.dataSync()) {
    if (k < 0 || k >= n) throw new ShapeError('gather', `index ${k} is out of range for axis ${ax} of size ${n} in ${fmtShape(x.shape)} (index shape ${fmtShape(index.shape)})`);
  }
  const data = backend().gather(x.view_(), ax, index.view_());
  return record('gather', [x, index], new Tensor(data, x.dtype, index.shape), { axis: ax });
}

/**
 * A zero tensor of `shape` into which src is added at the positions index names along `axis`
 * (torch.zeros(shape).scatter_add_(axis, index, src)). The adjoint of gather.
 * @example scatterAdd([2, 5], 1, index, src)
 */
export function scatterAdd(shape: readonly number[], axis: number, index: Tensor, src: Tensor): Tensor {
  requireInt('scatterAdd', index);
  const ax = normAxis('scatterAdd', axis, shape.length);
  if (index.ndim !== shape.length || src.ndim !== shape.length) {
    throw new ShapeError('scatterAdd', `index ${fmtShape(index.shape)} and src ${fmtShape(src.shape)} must have the rank of the output ${fmtShape(shape)}`);
  }
  for (let i = 0; i < shape.length; i++) {
    if (index.shape[i]! > src.shape[i]! || (i !== ax && index.shape[i]! > shape[i]!)) {
      throw new ShapeError('scatterAdd', `index ${fmtShape(index.shape)} does not fit src ${fmtShape(src.shape)} and output ${fmtShape(shape)}`);
    }
  }
  for (const k of index.dataSync()) {
    if (k < 0 || k >= shape[ax]!) throw new ShapeError('scatterAdd', `index ${k} is out of range for dimension ${ax} of size ${shape[ax]} in output ${fmtShape(shape)}`);
  }
  const data = backend().scatterAdd(shape, ax, index.view_(), src.view_(), src.dtype);
  return record('scatterAdd', [index, src], new Tensor(data, src.dtype, shape), { axis: ax, srcShape: src.shape });
}

/**
 * Concatenate along an existing axis; all other sizes must match.
 * @example cat([a, b], 0)
 */
export function cat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new TensorslimError('cat', 'expected a non-empty list of tensors');
  const first = tensors[0]!;
  const ax = normAxis('cat', axis, first.ndim);
  let dt = first.dtype;
  for (const t of tensors) {
    dt = promoteTypes(dt, t.dtype);
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new ShapeError('cat', `shapes must match except along axis ${ax}: ${tensors.map((x) => fmtShape(x.shape)).join(', ')}`);
    }
  }
  const parts = tensors.map((t) => to(t, dt));
  const shape = [...first.shape];
  shape[ax] = parts.reduce((s, t) => s + t.shape[ax]!, 0);
  const out = new Tensor(allocate(dt, numel(shape)), dt, shape);
  let pos = 0;
  for (const p of parts) {
    backend().assign({ data: out.data, shape: p.shape, strides: out.strides, offset: pos * out.strides[ax]! }, p.view_());
    pos += p.shape[ax]!;
  }
  return record('cat', parts, out, { axis: ax, sizes: parts.map((p) => p.shape[ax]!) });
}

/** Stack equal-shaped tensors along a new axis. @example stack([a, b], 0) */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new TensorslimError('stack', 'expected a non-empty list of tensors');
  const s0 = tensors[0]!.shape;
  for (const t of tensors) {
    if (t.shape.length !== s0.length || t.shape.some((d, i) => d !== s0[i])) {
      throw new ShapeError('stack', `all tensors must have the same shape, got ${tensors.map((x) => fmtShape(x.shape)).join(', ')}`);
    }
  }
  const ax = normAxis('stack', axis, s0.length + 1);
  return cat(tensors.map((t) => unsqueeze(t, ax)), ax);
}

/**
 * One-hot encoding of int32 class indices: shape (..., numClasses), int32 like torch.nn.functional.one_hot.
 * @example oneHot(tensor([0, 2], { dtype: 'int32' }), 3)
 */
export function oneHot(indices: Tensor, numClasses: number): Tensor {
  requireInt('oneHot', indices, 'indices');
  const d = indices.dataSync();
  for (const k of d) {
    if (k < 0 || k >= numClasses) throw new ShapeError('oneHot', `class index ${k} is out of range for numClasses ${numClasses}`);
  }
  return to(eq(unsqueeze(indices, -1), arange(numClasses)), 'int32');
}
