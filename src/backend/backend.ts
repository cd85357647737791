// The Backend interface: the small closed set of primitive kernels every backend implements.
// Kernels do math only. They see typed arrays with shape/strides/offset (a View), never a
// Tensor, autograd or modules. Every kernel returns a fresh contiguous row-major buffer.
// Everything else (softmax, losses, layers, conv2d, ...) is composed from these in ops/.

import type { DType, TypedArray } from './dtype.js';
import type { Shape } from './shape.js';

/** A strided window onto a typed array. */
export interface View {
  readonly data: TypedArray;
  readonly shape: Shape;
  readonly strides: Shape;
  readonly offset: number;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'tanh' | 'sigmoid' | 'relu' | 'erf' | 'sign'
  | 'sin' | 'cos' | 'floor' | 'logicalNot';

export type BinaryOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'minimum'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'logicalAnd' | 'logicalOr';

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax' | 'argmin';

export interface Backend {
  readonly name: string;
  /** out[i] = op(x[i]); out has x's shape and dtype `outDtype`. */
  unary(op: UnaryOp, x: View, outDtype: DType): TypedArray;
  /** a and b are already broadcast to `a.shape` (stride 0 on broadcast axes). */
  binary(op: BinaryOp, a: View, b: View, outDtype: DType): TypedArray;
  /** out = cond ? a : b, all three views broadcast to cond.shape. */
  where(cond: View, a: View, b: View, outDtype: DType): TypedArray;
  /**
   * Reduce over `axes` (sorted, distinct). Output shape = input shape with those axes set to 1.
   * argmax/argmin take exactly one axis and return int32 indices (first occurrence).
   */
  reduce(op: ReduceOp, x: View, axes: readonly number[], outDtype: DType): TypedArray;
  /** Batched product: a (B, M, K) @ b (B, K, N) -> (B, M, N); any strides. */
  matmul(a: View, b: View, outDtype: DType): TypedArray;
  /** Materialize a view contiguously, converting to `outDtype`. */
  copy(x: View, outDtype: DType): TypedArray;
  /** Write `src` (already broadcast to dst.shape) into the strided window `dst`, in place. */
  assign(dst: View, src: View): void;
  /** out[..., i, ...] = x[..., index[..., i, ...], ...] along `axis`; out has index's shape. */
  gather(x: View, axis: number, index: View): TypedArray;
  /** Zeros of `shape`, then out[..., index[...], ...] += src[...] along `axis` (the adjoint of gather). */
  scatterAdd(shape: Shape, axis: number, index: View, src: View, outDtype: DType): TypedArray;
  /**
   * im2col for 2-D convolution and pooling: x (N, C, H, W) -> (N, C, kh, kw, OH, OW), reading
   * `padValue` outside the image.
   */
  unfold2d(x: View, p: Conv2dGeometry, padValue: number, outDtype: DType): TypedArray;
  /** col2im, the adjoint of unfold2d: cols (N, C, kh, kw, OH, OW) summed back into (N, C, H, W). */
  fold2d(cols: View, p: Conv2dGeometry, outDtype: DType): TypedArray;
}

export interface Conv2dGeometry {
  readonly n: number; readonly c: number; readonly h: number; readonly w: number;
  readonly kh: number; readonly kw: number;
  readonly strideH: number; readonly strideW: number;
  readonly padH: number; readonly padW: number;
  readonly dilationH: number; readonly dilationW: number;
  readonly oh: number; readonly ow: number;
}
