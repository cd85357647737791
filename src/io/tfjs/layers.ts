// A layer TF.js models use and nn/ has no class for: zero padding of images with its own amount on
// each side (TensorFlow's 'same' convolutions put the odd pixel after; Keras' ZeroPadding2D). It
// writes itself to ONNX (a Pad node), so an imported model exports again.

import type { Tensor } from '../../core/tensor.js';
import { ShapeError, TensorslimError } from '../../core/errors.js';
import { fmtShape } from '../../backend/shape.js';
import * as ops from '../../ops/index.js';
import { attr } from '../onnx/proto.js';
import { OnnxLayer, type OnnxEmitContext } from '../onnx/layers.js';

/**
 * Pad (N, C, H, W) with zeros: `pads` = [top, bottom, left, right].
 * @example new ZeroPad2d([0, 1, 0, 1]).call(ops.zeros([1, 3, 4, 4])).shape  // [1, 3, 5, 5]
 */
export class ZeroPad2d extends OnnxLayer {
  constructor(readonly pads: readonly [number, number, number, number]) {
    super();
    if (!pads.every((p) => Number.isInteger(p) && p >= 0)) throw new TensorslimError('ZeroPad2d', `pads must be non-negative integers [top, bottom, left, right], got [${pads.join(', ')}]`);
  }
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new ShapeError('ZeroPad2d', `expects (N, C, H, W), got ${fmtShape(x.shape)}`);
    const [t, b, l, r] = this.pads;
    const [n, c, , w] = x.shape as [number, number, number, number];
    let y = x;
    if (l + r > 0) y = ops.cat([...(l > 0 ? [ops.zeros([n, c, y.shape[2]!, l], { dtype: x.dtype })] : []), y, ...(r > 0 ? [ops.zeros([n, c, y.shape[2]!, r], { dtype: x.dtype })] : [])], 3);
    const w2 = w + l + r;
    if (t + b > 0) y = ops.cat([...(t > 0 ? [ops.zeros([n, c, t, w2], { dtype: x.dtype })] : []), y, ...(b > 0 ? [ops.zeros([n, c, b, w2], { dtype: x.dtype })] : [])], 2);
    return y;
  }
  emitOnnx(g: OnnxEmitContext, x: string): string {
    const [t, b, l, r] = this.pads;
    const pads = [0, 0, t, l, 0, 0, b, r];
    return g.opset >= 11 ? g.node('Pad', [x, g.constI64('pads', pads)]) : g.node('Pad', [x], [attr('pads', pads)]);
  }
  override extraRepr(): string { return `pads=(top ${this.pads[0]}, bottom ${this.pads[1]}, left ${this.pads[2]}, right ${this.pads[3]})`; }
}
