// Layers that ONNX graphs use and nn/ has no class for: average pooling, global average pooling,
// a static Reshape, Transpose and eval-mode batch normalization. importOnnx builds them; each
// knows how to write itself back (emitOnnx), so an imported model exports again. They are plain
// Modules built from public ops, so they train, hook and prune like any layer.

import type { Tensor } from '../../core/tensor.js';
import { ShapeError } from '../../core/errors.js';
import { fmtShape } from '../../backend/shape.js';
import * as ops from '../../ops/index.js';
import { Module, Parameter, type AnyModule } from '../../nn/index.js';
import { attr, type AttributeProto } from './proto.js';

/** What a layer may add to the graph being exported. */
export interface OnnxEmitContext {
  readonly opset: number;
  /** Add a node with one output; returns the output name. */
  node(opType: string, inputs: readonly string[], attrs?: readonly AttributeProto[]): string;
  /** A float32 initializer named after the layer's path and `name`. */
  weight(name: string, t: Tensor): string;
  constI64(name: string, data: readonly number[]): string;
  /** Add a node with `outputs` outputs; returns their names. */
  nodeMulti(opType: string, inputs: readonly string[], outputs: number, attrs?: readonly AttributeProto[]): string[];
  /** An initializer of any element type (ELEM codes: int8 weights, uint8 zero points, scales), named after the layer's path. */
  constTensor(name: string, elem: number, dims: readonly number[], data: ArrayLike<number>): string;
  /** Emit a child module (any exportable layer) at path/name on value `x`, whose sample value is `input`; returns its output's name. */
  emitModule?(m: AnyModule, name: string, x: string, input: Tensor): string;
}

/** A layer that writes its own ONNX nodes. */
export abstract class OnnxLayer extends Module {
  /** Append the nodes computing this layer on graph value `x` (sample value `input`); returns the output's name. */
  abstract emitOnnx(g: OnnxEmitContext, x: string, input?: Tensor): string;
}

type P2 = readonly [number, number];

/**
 * Average pooling over (N, C, H, W), windows that do not cross the padding (ONNX AveragePool with
 * count_include_pad = 1 when padded, torch's default).
 * @example new AvgPool2d([2, 2], [2, 2], [0, 0]).call(ops.zeros([1, 3, 8, 8])).shape  // [1, 3, 4, 4]
 */
export class AvgPool2d extends OnnxLayer {
  constructor(readonly kernelSize: P2, readonly stride: P2, readonly padding: P2) { super(); }
  forward(x: Tensor): Tensor {
    const g = ops.conv2dGeometry('AvgPool2d', x.shape, [...this.kernelSize], [...this.stride], [...this.padding], [1, 1]);
    return ops.mean(ops.unfold2d(x, g, 0), [2, 3]);   // (N, C, kh, kw, OH, OW) -> (N, C, OH, OW)
  }
  emitOnnx(g: OnnxEmitContext, x: string): string {
    const p = this.padding;
    return g.node('AveragePool', [x], [attr('kernel_shape', this.kernelSize), attr('strides', this.stride), attr('pads', [p[0], p[1], p[0], p[1]]), attr('count_include_pad', 1)]);
  }
  override extraRepr(): string { return `kernelSize=(${this.kernelSize.join(', ')}), stride=(${this.stride.join(', ')}), padding=(${this.padding.join(', ')})`; }
}

/**
 * Mean over H and W, keeping them as size 1: (N, C, H, W) -> (N, C, 1, 1).
 * @example new GlobalAvgPool2d().call(ops.zeros([2, 8, 5, 5])).shape  // [2, 8, 1, 1]
 */
export class GlobalAvgPool2d extends OnnxLayer {
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new ShapeError('GlobalAvgPool2d', `expects (N, C, H, W), got ${fmtShape(x.shape)}`);
    return ops.mean(x, [2, 3], true);
  }
  emitOnnx(g: OnnxEmitContext, x: string): string { return g.node('GlobalAveragePool', [x]); }
}

/**
 * Reshape to a fixed shape; 0 copies the input's dim at that place, -1 is inferred (ONNX Reshape).
 * @example new Reshape([0, -1]).call(ops.zeros([4, 2, 3])).shape  // [4, 6]
 */
export class Reshape extends OnnxLayer {
  constructor(readonly shape: readonly number[]) { super(); }
  forward(x: Tensor): Tensor {
    return ops.reshape(x, this.shape.map((d, i) => (d === 0 ? x.shape[i] ?? 0 : d)));
  }
  emitOnnx(g: OnnxEmitContext, x: string): string { return g.node('Reshape', [x, g.constI64('shape', this.shape)]); }
  override extraRepr(): string { return `shape=(${this.shape.join(', ')})`; }
}

/**
 * Permute dims (ONNX Transpose).
 * @example new Transpose([0, 2, 1]).call(ops.zeros([2, 3, 4])).shape  // [2, 4, 3]
 */
export class Transpose extends OnnxLayer {
  constructor(readonly perm: readonly number[]) { super(); }
  forward(x: Tensor): Tensor { return ops.permute(x, this.perm); }
  emitOnnx(g: OnnxEmitContext, x: string): string { return g.node('Transpose', [x], [attr('perm', this.perm)]); }
  override extraRepr(): string { return `perm=(${this.perm.join(', ')})`; }
}

/**
 * Batch normalization with frozen statistics (inference form), over dim 1:
 * y = (x - mean) / sqrt(var + eps) * weight + bias. weight and bias train; running_mean and
 * running_var are buffers. Used when a BatchNormalization cannot be folded into the layer before it.
 * @example new FrozenBatchNorm(ops.ones([8]), ops.zeros([8]), ops.zeros([8]), ops.ones([8]), 1e-5)
 */
export class FrozenBatchNorm extends OnnxLayer {
  declare weight: Tensor;
  declare bias: Tensor;
  declare running_mean: Tensor;
  declare running_var: Tensor;
  constructor(weight: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, readonly eps: number) {
    super();
    this.registerParameter('weight', new Parameter(weight));
    this.registerParameter('bias', new Parameter(bias));
    this.registerBuffer('running_mean', mean);
    this.registerBuffer('running_var', variance);
  }
  forward(x: Tensor): Tensor {
    const c = this.weight.shape[0]!;
    if (x.ndim < 2 || x.shape[1] !== c) throw new ShapeError('FrozenBatchNorm', `expects (N, ${c}, ...), got ${fmtShape(x.shape)}`);
    const view = (t: Tensor): Tensor => ops.reshape(t, [1, c, ...new Array<number>(x.ndim - 2).fill(1)]);
    const inv = ops.div(this.weight, ops.sqrt(ops.add(this.running_var, this.eps)));
    return ops.add(ops.mul(ops.sub(x, view(this.running_mean)), view(inv)), view(this.bias));
  }
  emitOnnx(g: OnnxEmitContext, x: string): string {
    return g.node('BatchNormalization', [x, g.weight('weight', this.weight), g.weight('bias', this.bias), g.weight('running_mean', this.running_mean), g.weight('running_var', this.running_var)], [attr('epsilon', { float: this.eps })]);
  }
}
