// 2-D convolution and max pooling by im2col: unfold2d gathers every receptive field into columns,
// then conv2d is one matmul. unfold2d/fold2d are primitive Backend kernels (native: the addon's
// im2col/col2im in native/src/im2col.cc; reference: src/backends/reference/index.ts); their
// gradient rules are each other (src/autograd/grads/conv.ts); tests: test/ops/conv.test.ts.
// Max pooling is its own kernel, src/ops/max_pool2d.ts (composed there from unfold2d and max).

import type { Conv2dGeometry } from '../backend/backend.js';
import { fmtShape } from '../backend/shape.js';
import { record } from '../core/engine.js';
import { ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { add } from './binary.js';
import { matmul } from './matmul.js';
import { reshape } from './movement.js';
import { backend, pair, requireFloat, type Pair } from './util.js';

export type { Pair } from './util.js';

export interface Conv2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair }


/** Output geometry of a 2-D window op, or a clear error. */
export function conv2dGeometry(op: string, x: readonly number[], k: [number, number], stride: [number, number], pad: [number, number], dil: [number, number]): Conv2dGeometry {
  if (x.length !== 4) throw new ShapeError(op, `expects input (N, C, H, W), got ${fmtShape(x)}`);
  const [n, c, h, w] = x as [number, number, number, number];
  const oh = Math.floor((h + 2 * pad[0] - dil[0] * (k[0] - 1) - 1) / stride[0]) + 1;
  const ow = Math.floor((w + 2 * pad[1] - dil[1] * (k[1] - 1) - 1) / stride[1]) + 1;
  if (oh <= 0 || ow <= 0) {
    throw new ShapeError(op, `kernel ${k[0]}x${k[1]} (dilation ${dil.join('x')}, padding ${pad.join('x')}) is larger than the padded input ${fmtShape(x)}`);
  }
  return { n, c, h, w, kh: k[0], kw: k[1], strideH: stride[0], strideW: stride[1], padH: pad[0], padW: pad[1], dilationH: dil[0], dilationW: dil[1], oh, ow };
}

/** im2col: (N, C, H, W) -> (N, C, kh, kw, OH, OW). Positions outside the image read `padValue`. */
export function unfold2d(x: Tensor, g: Conv2dGeometry, padValue = 0): Tensor {
  const data = backend().unfold2d(x.view_(), g, padValue, x.dtype);
  return record('unfold2d', [x], new Tensor(data, x.dtype, [g.n, g.c, g.kh, g.kw, g.oh, g.ow]), { geometry: g });
}

/** col2im, the adjoint of unfold2d: (N, C, kh, kw, OH, OW) summed into (N, C, H, W). */
export function fold2d(cols: Tensor, g: Conv2dGeometry): Tensor {
  const data = backend().fold2d(cols.view_(), g, cols.dtype);
  return record('fold2d', [cols], new Tensor(data, cols.dtype, [g.n, g.c, g.h, g.w]), { geometry: g });
}

/**
 * 2-D cross-correlation, like torch.nn.functional.conv2d (groups = 1).
 * x: (N, C, H, W), weight: (O, C, kh, kw), bias: (O) -> (N, O, OH, OW)
 * @example conv2d(x, w, b, { padding: 1 })
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  requireFloat('conv2d', x);
  if (weight.ndim !== 4) throw new ShapeError('conv2d', `weight must be (out, in, kh, kw), got ${fmtShape(weight.shape)}`);
  if (x.ndim !== 4 || x.shape[1] !== weight.shape[1]) {
    throw new ShapeError('conv2d', `input ${fmtShape(x.shape)} must be (N, ${weight.shape[1]}, H, W) to match weight ${fmtShape(weight.shape)}`);
  }
  const [o, c, kh, kw] = weight.shape as [number, number, number, number];
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== o)) throw new ShapeError('conv2d', `bias must be (${o},), got ${fmtShape(bias.shape)}`);
  const g = conv2dGeometry('conv2d', x.shape, [kh, kw], pair('conv2d', 'stride', opts.stride ?? 1, 1),
    pair('conv2d', 'padding', opts.padding ?? 0, 0), pair('conv2d', 'dilation', opts.dilation ?? 1, 1));
  const cols = reshape(unfold2d(x, g), [g.n, c * kh * kw, g.oh * g.ow]);   // (N, C*kh*kw, L)
  let y = matmul(reshape(weight, [o, c * kh * kw]), cols);                 // (N, O, L)
  y = reshape(y, [g.n, o, g.oh, g.ow]);
  return bias ? add(y, reshape(bias, [1, o, 1, 1])) : y;
}
