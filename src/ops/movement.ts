// Movement ops: views that share storage (reshape, permute, expand, slice, ...) and the two that
// copy (contiguous, cast). A view only computes new shape/strides/offset.

import { allocate, type DType } from '../backend/dtype.js';
import { contiguousStrides, fmtShape, numel, shapeEquals, type Shape } from '../backend/shape.js';
import { record } from '../core/engine.js';
import { DTypeError, normAxis, ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { backend } from './util.js';

function viewOf(x: Tensor, shape: Shape, strides: Shape, offset: number): Tensor {
  return new Tensor(x.data, x.dtype, shape, strides, offset);
}

/** Convert to another dtype (a copy; the same tensor when the dtype already matches). @example x.to('float64') */
export function to(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = new Tensor(backend().copy(x.view_(), dtype), dtype, x.shape);
  return out.dtype === 'float32' || out.dtype === 'float64' ? record('cast', [x], out) : out;
}

/** A contiguous tensor with the same values (the same tensor when already contiguous). */
export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous()) return x;
  return record('contiguous', [x], new Tensor(backend().copy(x.view_(), x.dtype), x.dtype, x.shape));
}

/** A tensor that shares storage but is cut off from the tape. */
export function detach(x: Tensor): Tensor {
  return viewOf(x, x.shape, x.strides, x.offset);
}

function inferShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const neg = out.indexOf(-1);
  if (out.filter((d) => d === -1).length > 1) throw new ShapeError(op, `only one dimension can be -1, got ${fmtShape(shape)}`);
  for (const d of out) if (d !== -1 && (!Number.isInteger(d) || d < 0)) throw new ShapeError(op, `invalid dimension ${d} in ${fmtShape(shape)}`);
  if (neg >= 0) {
    const known = out.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(op, `cannot reshape tensor of shape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`);
    }
    out[neg] = x.size / known;
  }
  if (numel(out) !== x.size) {
    throw new ShapeError(op, `cannot reshape tensor of shape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)} (${numel(out)} elements)`);
  }
  return out;
}

/**
 * Strides for viewing (shape, strides) as `target` without a copy, or null when impossible.
 * Walk both shapes from the innermost axis in "chunks" of source axes that are laid out
 * contiguously among themselves; target axes may split or merge only within one chunk.
 */
function viewStrides(shape: Shape, strides: Shape, target: Shape): number[] | null {
  const out = new Array<number>(target.length);
  let vd = target.length - 1;
  let chunkStride = strides[shape.length - 1] ?? 1;
  let srcCount = 1;
  let viewCount = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    srcCount *= shape[d]!;
    const chunkEnds = d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== srcCount * chunkStride);
    if (!chunkEnds) continue;
    while (vd >= 0 && (viewCount < srcCount || target[vd] === 1)) {
      out[vd] = viewCount * chunkStride;
      viewCount *= target[vd]!;
      vd--;
    }
    if (viewCount !== srcCount) return null;
    if (d > 0) { chunkStride = strides[d - 1]!; srcCount = 1; viewCount = 1; }
  }
  return vd === -1 ? out : null;
}

function reshapeImpl(op: string, x: Tensor, shape: readonly number[], allowCopy: boolean): Tensor {
  const target = inferShape(op, x, shape);
  if (shapeEquals(target, x.shape)) return x;
  let st = x.isContiguous() ? contiguousStrides(target) : viewStrides(x.shape, x.strides, target);
  let src = x;
  if (st === null) {
    if (!allowCopy) {
      throw new ShapeError(op, `a tensor of shape ${fmtShape(x.shape)} with strides ${fmtShape(x.strides)} cannot be viewed as ${fmtShape(target)}; call .contiguous() first or use reshape`);
    }
    src = contiguous(x);
    st = contiguousStrides(target);
  }
  return record('reshape', [src], viewOf(src, target, st, src.offset), { shape: src.shape });
}

/** Same data, new shape (one -1 is inferred). A view when possible, else a copy. @example reshape(x, [2, -1]) */
export function reshape(x: Tensor, shape: readonly number[]): Tensor { return reshapeImpl('reshape', x, shape, true); }

/** Like reshape but never copies; throws when the strides do not allow a view. */
export function view(x: Tensor, shape: readonly number[]): Tensor { return reshapeImpl('view', x, shape, false); }

/** Reorder axes. @example permute(x, [0, 2, 1]) */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== x.ndim) throw new ShapeError('permute', `got ${dims.length} dims [${dims.join(', ')}] for a tensor of rank ${x.ndim} ${fmtShape(x.shape)}`);
  const d = dims.map((a) => normAxis('permute', a, x.ndim));
  if (new Set(d).size !== d.length) throw new ShapeError('permute', `repeated dim in [${dims.join(', ')}]`);
  const out = viewOf(x, d.map((i) => x.shape[i]!), d.map((i) => x.strides[i]!), x.offset);
  return record('permute', [x], out, { dims: d });
}

/** Swap two axes. @example transpose(x, 0, 1) */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const a = normAxis('transpose', dim0, x.ndim), b = normAxis('transpose', dim1, x.ndim);
  if (a === b) return x;
  const dims = Array.from({ length: x.ndim }, (_, i) => i);
  dims[a] = b; dims[b] = a;
  return permute(x, dims);
}

/** Transpose of a 2-D tensor (a 0-D or 1-D tensor is returned as is). */
export function t(x: Tensor): Tensor {
  if (x.ndim > 2) throw new ShapeError('t', `expects a tensor of rank <= 2, got ${fmtShape(x.shape)}; use transpose or permute`);
  return x.ndim < 2 ? x : transpose(x, 0, 1);
}

/** Broadcast to a larger shape without copying (-1 keeps a dimension). @example expand(tensor([[1], [2]]), [2, 3]) */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  if (shape.length < x.ndim) throw new ShapeError('expand', `target ${fmtShape(shape)} has fewer dimensions than the tensor ${fmtShape(x.shape)}`);
  const off = shape.length - x.ndim;
  for (let i = 0; i < off; i++) {
    if (!Number.isInteger(shape[i]) || shape[i]! < 0) {
      throw new ShapeError('expand', `size ${shape[i]} is not allowed for new leading dimension ${i}: ${fmtShape(x.shape)} -> ${fmtShape(shape)} (-1 only keeps an existing dimension)`);
    }
  }
  const target = shape.map((d, i) => (d === -1 && i >= off ? x.shape[i - off]! : d));
  const strides = target.map((d, i) => {
    if (i < off) return 0;
    const s = x.shape[i - off]!;
    if (s === d) return x.strides[i - off]!;
    if (s === 1) return 0;
    throw new ShapeError('expand', `the size of dimension ${i} (${s}) must be 1 or match the target ${d}: ${fmtShape(x.shape)} -> ${fmtShape(shape)}`);
  });
  if (shapeEquals(target, x.shape)) return x;
  return record('expand', [x], viewOf(x, target, strides, x.offset), { shape: x.shape });
}

/**
 * Elements start, start+step, ... < end along one axis, as a view. Negative start/end count from the end.
 * @example slice(x, 1, 0, 4, 2) // x[:, 0:4:2]
 */
export function slice(x: Tensor, axis: number, start = 0, end?: number, step = 1): Tensor {
  const ax = normAxis('slice', axis, x.ndim);
  const n = x.shape[ax]!;
  if (!Number.isInteger(step) || step <= 0) throw new ShapeError('slice', `step must be a positive integer, got ${step}`);
  const clampIdx = (v: number): number => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
  const s = clampIdx(start);
  const e = Math.max(clampIdx(end ?? n), s);
  const len = Math.ceil((e - s) / step);
  const shape = [...x.shape]; shape[ax] = len;
  const strides = [...x.strides]; strides[ax] = x.strides[ax]! * step;
  const out = viewOf(x, shape, strides, x.offset + s * x.strides[ax]!);
  return record('slice', [x], out, { axis: ax, start: s, step, inputShape: x.shape });
}

/** `length` elements from `start` along `axis`, as a view. @example narrow(x, 0, 2, 3) */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const ax = normAxis('narrow', axis, x.ndim);
  const n = x.shape[ax]!;
  const s = start < 0 ? start + n : start;
  if (s < 0 || length < 0 || s + length > n) {
    throw new ShapeError('narrow', `start ${start} + length ${length} exceeds dimension ${ax} of size ${n} in ${fmtShape(x.shape)}`);
  }
  return slice(x, ax, s, s + length);
}

/**
 * The adjoint of slice: a zero tensor of `shape` with `x` written at start, start+step, ... along `axis`.
 * Used by the gradient of slice; rarely needed directly.
 */
export function padSlice(x: Tensor, shape: readonly number[], axis: number, start: number, step: number): Tensor {
  const out = new Tensor(allocate(x.dtype, numel(shape)), x.dtype, shape);
  const strides = [...out.strides]; strides[axis] = out.strides[axis]! * step;
  backend().assign({ data: out.data, shape: x.shape, strides, offset: start * out.strides[axis]! }, x.view_());
  return record('padSlice', [x], out, { axis, start, step, inputShape: x.shape });
}

/** Remove size-1 axes (all, or the given one). @example squeeze(x, 0) */
export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const ax = normAxis('squeeze', axis, x.ndim);
  if (x.shape[ax] !== 1) return x;
  return reshape(x, x.shape.filter((_, i) => i !== ax));
}

/** Insert a size-1 axis. @example unsqueeze(x, -1) */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const ax = normAxis('unsqueeze', axis, x.ndim + 1);
  const shape = [...x.shape]; shape.splice(ax, 0, 1);
  return reshape(x, shape);
}

/** Merge axes startDim..endDim into one. @example flatten(x, 1) // (N, C, H, W) -> (N, C*H*W) */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normAxis('flatten', startDim, x.ndim), e = normAxis('flatten', endDim, x.ndim);
  if (s > e) throw new ShapeError('flatten', `startDim ${startDim} comes after endDim ${endDim} for shape ${fmtShape(x.shape)}`);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

export function checkDtype(op: string, x: Tensor, allowed: readonly DType[]): void {
  if (!allowed.includes(x.dtype)) throw new DTypeError(op, `expected dtype ${allowed.join(' or ')}, got ${x.dtype}`);
}

/** A copy with its own storage; gradients flow through unchanged. @example const w0 = clone(w) */
export function clone(x: Tensor): Tensor {
  return record('contiguous', [x], new Tensor(backend().copy(x.view_(), x.dtype), x.dtype, x.shape));
}
