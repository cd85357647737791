// The im2col pair of 2-D window ops: unfold2d gathers every receptive field into columns, fold2d
// sums columns back (its adjoint). Both are primitive Backend kernels (native: the addon's
// im2col/col2im in native/src/im2col.cc; reference: src/backends/reference/index.ts); their
// gradient rules are each other (src/autograd/grads/conv.ts); tests: test/ops/conv.test.ts.
// Convolution (src/ops/conv2d.ts) and max pooling (src/ops/max_pool2d.ts) are kernels of their
// own, composed from these where a backend lacks them.

import type { Conv2dGeometry } from '../backend/backend.js';
import { fmtShape } from '../backend/shape.js';
import { record } from '../core/engine.js';
import { ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { backend } from './util.js';

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

