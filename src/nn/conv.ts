// Conv2d and MaxPool2d layers over (N, C, H, W) inputs (or unbatched (C, H, W)).

import type { Tensor } from '../core/tensor.js';
import { ShapeError, TensorslimError } from '../core/errors.js';
import type { FloatDType } from '../backend/dtype.js';
import { fmtShape } from '../backend/shape.js';
import * as ops from '../ops/index.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { defaultLayerInit } from './init.js';
import { checkDim } from './util.js';

/** A size given as one number for both dims or as [h, w]. */
export type Size2 = number | readonly [number, number];

function pair(op: string, what: string, v: Size2, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((x) => Number.isInteger(x) && x >= min)) {
    throw new TensorslimError(op, `${what} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

const fmtPair = (p: readonly [number, number]): string => `(${p[0]}, ${p[1]})`;

/** Accept (N, C, H, W) or unbatched (C, H, W); returns the 4-D input and whether to squeeze back. */
function batched(op: string, x: Tensor, channels: number | null): [Tensor, boolean] {
  if (x.ndim !== 3 && x.ndim !== 4) {
    throw new ShapeError(op, `expected input (N, C, H, W) or (C, H, W), got ${fmtShape(x.shape)}`);
  }
  const c = x.shape[x.ndim - 3]!;
  if (channels !== null && c !== channels) {
    throw new ShapeError(op, `input has ${c} channels but the layer expects ${channels}; input shape ${fmtShape(x.shape)} (channels are dim ${x.ndim - 3}: use (N, C, H, W))`);
  }
  return x.ndim === 3 ? [ops.unsqueeze(x, 0), true] : [x, false];
}

/**
 * 2-D convolution, like torch.nn.Conv2d. weight (out, in/groups, kh, kw) and bias use PyTorch's
 * default init: kaimingUniform_(a = sqrt(5)) and U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
 * padding may be a number, a pair, 'valid' (0) or 'same' (stride 1, odd effective kernel).
 * groups (default 1) must divide in and out channels; groups = in is depthwise (MobileNets), with
 * out = in * channel multiplier.
 * @example new Conv2d(1, 8, 3, { padding: 1 }).call(ops.zeros([2, 1, 28, 28])).shape  // [2, 8, 28, 28]
 * @example new Conv2d(8, 8, 3, { padding: 1, groups: 8 }).weight.shape                 // [8, 1, 3, 3]
 */
export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  declare weight: Tensor;
  declare bias: Tensor | null;

  constructor(
    inChannels: number, outChannels: number, kernelSize: Size2,
    opts: { stride?: Size2; padding?: Size2 | 'valid' | 'same'; dilation?: Size2; groups?: number; bias?: boolean; dtype?: FloatDType } = {},
  ) {
    super();
    const op = 'Conv2d';
    checkDim(op, 'inChannels', inChannels, false);
    checkDim(op, 'outChannels', outChannels, false);
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.groups = opts.groups ?? 1;
    ops.checkConv2dGroups(`Conv2d(${inChannels}, ${outChannels})`, this.groups, inChannels, outChannels);
    this.kernelSize = pair(op, 'kernelSize', kernelSize, 1);
    this.stride = pair(op, 'stride', opts.stride ?? 1, 1);
    this.dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
    const pad = opts.padding ?? 0;
    if (pad === 'valid') this.padding = [0, 0];
    else if (pad === 'same') {
      const eff = [0, 1].map((i) => this.dilation[i]! * (this.kernelSize[i]! - 1));
      if (this.stride[0] !== 1 || this.stride[1] !== 1 || eff[0]! % 2 !== 0 || eff[1]! % 2 !== 0) {
        throw new TensorslimError(op, `padding='same' needs stride 1 and an odd effective kernel (dilation * (k - 1) even); got kernel ${fmtPair(this.kernelSize)}, stride ${fmtPair(this.stride)}, dilation ${fmtPair(this.dilation)}; pass explicit padding instead`);
      }
      this.padding = [eff[0]! / 2, eff[1]! / 2];
    } else this.padding = pair(op, 'padding', pad, 0);
    const dtype = opts.dtype ?? 'float32';
    const [kh, kw] = this.kernelSize;
    this.registerParameter('weight', new Parameter(ops.zeros([outChannels, inChannels / this.groups, kh, kw], { dtype })));
    this.registerParameter('bias', (opts.bias ?? true) ? new Parameter(ops.zeros([outChannels], { dtype })) : null);
    this.resetParameters();
  }

  /** Re-draw weight and bias with PyTorch's default init. @example conv.resetParameters() */
  resetParameters(): void {
    defaultLayerInit(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    const [x4, squeeze] = batched(`Conv2d(${this.inChannels}, ${this.outChannels}, kernelSize=${fmtPair(this.kernelSize)})`, x, this.inChannels);
    const y = ops.conv2d(x4, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
    return squeeze ? ops.squeeze(y, 0) : y;
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernelSize=${fmtPair(this.kernelSize)}, stride=${fmtPair(this.stride)}`;
    if (this.padding[0] !== 0 || this.padding[1] !== 0) s += `, padding=${fmtPair(this.padding)}`;
    if (this.dilation[0] !== 1 || this.dilation[1] !== 1) s += `, dilation=${fmtPair(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (this.bias === null) s += ', bias=false';
    return s;
  }
}

/**
 * 2-D max pooling, like torch.nn.MaxPool2d (stride defaults to kernelSize).
 * @example new MaxPool2d(2).call(ops.zeros([1, 3, 28, 28])).shape  // [1, 3, 14, 14]
 */
export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];

  constructor(kernelSize: Size2, opts: { stride?: Size2 | null; padding?: Size2; dilation?: Size2 } = {}) {
    super();
    const op = 'MaxPool2d';
    this.kernelSize = pair(op, 'kernelSize', kernelSize, 1);
    this.stride = pair(op, 'stride', opts.stride ?? this.kernelSize, 1);
    this.padding = pair(op, 'padding', opts.padding ?? 0, 0);
    this.dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
  }

  forward(x: Tensor): Tensor {
    const [x4, squeeze] = batched(`MaxPool2d(kernelSize=${fmtPair(this.kernelSize)})`, x, null);
    const y = ops.maxPool2d(x4, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation });
    return squeeze ? ops.squeeze(y, 0) : y;
  }

  override extraRepr(): string {
    return `kernelSize=${fmtPair(this.kernelSize)}, stride=${fmtPair(this.stride)}, padding=${fmtPair(this.padding)}, dilation=${fmtPair(this.dilation)}`;
  }
}
