// Attaches the ops as Tensor methods (x.add(y), loss.backward(), ...). Lives above ops and autograd
// so the core Tensor stays free of math. Importing autograd/index.js installs them.

import type { DType } from '../backend/dtype.js';
import { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import type { Axes, GeluOptions, Pair, TensorLike, VarianceOptions } from '../ops/index.js';
import { backward, type BackwardOptions } from './tape.js';

declare module '../core/tensor.js' {
  interface Tensor {
    add(b: TensorLike): Tensor; sub(b: TensorLike): Tensor; mul(b: TensorLike): Tensor; div(b: TensorLike): Tensor;
    pow(b: TensorLike): Tensor; maximum(b: TensorLike): Tensor; minimum(b: TensorLike): Tensor;
    eq(b: TensorLike): Tensor; ne(b: TensorLike): Tensor; lt(b: TensorLike): Tensor; le(b: TensorLike): Tensor;
    gt(b: TensorLike): Tensor; ge(b: TensorLike): Tensor;
    neg(): Tensor; exp(): Tensor; log(): Tensor; sqrt(): Tensor; abs(): Tensor; sign(): Tensor; tanh(): Tensor;
    sigmoid(): Tensor; relu(): Tensor; erf(): Tensor; sin(): Tensor; cos(): Tensor; floor(): Tensor; square(): Tensor;
    clamp(min?: number | null, max?: number | null): Tensor;
    gelu(opts?: GeluOptions): Tensor;
    softmax(axis?: number): Tensor; logSoftmax(axis?: number): Tensor;
    matmul(b: Tensor): Tensor;
    sum(axis?: Axes, keepdim?: boolean): Tensor; mean(axis?: Axes, keepdim?: boolean): Tensor;
    max(axis?: Axes, keepdim?: boolean): Tensor; min(axis?: Axes, keepdim?: boolean): Tensor;
    argmax(axis?: number, keepdim?: boolean): Tensor; argmin(axis?: number, keepdim?: boolean): Tensor;
    var(axis?: Axes, opts?: VarianceOptions): Tensor; logsumexp(axis: Axes, keepdim?: boolean): Tensor;
    reshape(shape: readonly number[]): Tensor; view(shape: readonly number[]): Tensor;
    permute(dims: readonly number[]): Tensor; transpose(d0: number, d1: number): Tensor; t(): Tensor;
    expand(shape: readonly number[]): Tensor; slice(axis: number, start?: number, end?: number, step?: number): Tensor;
    narrow(axis: number, start: number, length: number): Tensor; squeeze(axis?: number): Tensor;
    unsqueeze(axis: number): Tensor; flatten(startDim?: number, endDim?: number): Tensor;
    contiguous(): Tensor; clone(): Tensor; detach(): Tensor; to(dtype: DType): Tensor;
    gather(axis: number, index: Tensor): Tensor; indexSelect(axis: number, index: Tensor): Tensor;
    maxPool2d(kernelSize: Pair): Tensor;
    assign(src: Tensor | number): Tensor; fill_(v: number): Tensor; zero_(): Tensor;
    /** Accumulate gradients of this tensor into the leaves' .grad (see autograd backward()). */
    backward(gradient?: Tensor, opts?: BackwardOptions): void;
  }
}

const P = Tensor.prototype;
P.add = function (b) { return ops.add(this, b); };
P.sub = function (b) { return ops.sub(this, b); };
P.mul = function (b) { return ops.mul(this, b); };
P.div = function (b) { return ops.div(this, b); };
P.pow = function (b) { return ops.pow(this, b); };
P.maximum = function (b) { return ops.maximum(this, b); };
P.minimum = function (b) { return ops.minimum(this, b); };
P.eq = function (b) { return ops.eq(this, b); };
P.ne = function (b) { return ops.ne(this, b); };
P.lt = function (b) { return ops.lt(this, b); };
P.le = function (b) { return ops.le(this, b); };
P.gt = function (b) { return ops.gt(this, b); };
P.ge = function (b) { return ops.ge(this, b); };
P.neg = function () { return ops.neg(this); };
P.exp = function () { return ops.exp(this); };
P.log = function () { return ops.log(this); };
P.sqrt = function () { return ops.sqrt(this); };
P.abs = function () { return ops.abs(this); };
P.sign = function () { return ops.sign(this); };
P.tanh = function () { return ops.tanh(this); };
P.sigmoid = function () { return ops.sigmoid(this); };
P.relu = function () { return ops.relu(this); };
P.erf = function () { return ops.erf(this); };
P.sin = function () { return ops.sin(this); };
P.cos = function () { return ops.cos(this); };
P.floor = function () { return ops.floor(this); };
P.square = function () { return ops.square(this); };
P.clamp = function (min, max) { return ops.clamp(this, min, max); };
P.gelu = function (opts) { return ops.gelu(this, opts); };
P.softmax = function (axis) { return ops.softmax(this, axis); };
P.logSoftmax = function (axis) { return ops.logSoftmax(this, axis); };
P.matmul = function (b) { return ops.matmul(this, b); };
P.sum = function (axis, keepdim) { return ops.sum(this, axis, keepdim); };
P.mean = function (axis, keepdim) { return ops.mean(this, axis, keepdim); };
P.max = function (axis, keepdim) { return ops.max(this, axis, keepdim); };
P.min = function (axis, keepdim) { return ops.min(this, axis, keepdim); };
P.argmax = function (axis, keepdim) { return ops.argmax(this, axis, keepdim); };
P.argmin = function (axis, keepdim) { return ops.argmin(this, axis, keepdim); };
P.var = function (axis, opts) { return ops.variance(this, axis, opts); };
P.logsumexp = function (axis, keepdim) { return ops.logsumexp(this, axis, keepdim); };
P.reshape = function (shape) { return ops.reshape(this, shape); };
P.view = function (shape) { return ops.view(this, shape); };
P.permute = function (dims) { return ops.permute(this, dims); };
P.transpose = function (a, b) { return ops.transpose(this, a, b); };
P.t = function () { return ops.t(this); };
P.expand = function (shape) { return ops.expand(this, shape); };
P.slice = function (axis, start, end, step) { return ops.slice(this, axis, start, end, step); };
P.narrow = function (axis, start, length) { return ops.narrow(this, axis, start, length); };
P.squeeze = function (axis) { return ops.squeeze(this, axis); };
P.unsqueeze = function (axis) { return ops.unsqueeze(this, axis); };
P.flatten = function (s, e) { return ops.flatten(this, s, e); };
P.contiguous = function () { return ops.contiguous(this); };
P.clone = function () { return ops.clone(this); };
P.detach = function () { return ops.detach(this); };
P.to = function (dtype) { return ops.to(this, dtype); };
P.gather = function (axis, index) { return ops.gather(this, axis, index); };
P.indexSelect = function (axis, index) { return ops.indexSelect(this, axis, index); };
P.maxPool2d = function (k) { return ops.maxPool2d(this, k); };
P.assign = function (src) { return ops.assign(this, src); };
P.fill_ = function (v) { return ops.fill_(this, v); };
P.zero_ = function () { return ops.zero_(this); };
P.backward = function (gradient, opts) { backward(this, gradient, opts); };
