// Kernel `conv2d`: 2-D convolution (cross-correlation, groups 1), like torch.nn.functional.conv2d.
// Where the backend has conv2dForward (native), one kernel that never materializes the
// (N, C*kh*kw, OH*OW) column tensor: each sample's columns live in a cache-sized scratch buffer for
// its GEMM, forward and backward; recorded as 'conv2d', whose gradient is conv2dBackward (dx, dW,
// db in one call) or, when the backward is recorded or the backend lacks it, the composed
// gradient (src/autograd/grads/conv2d.ts). Elsewhere (the reference backend) the forward is the
// composed reference, computed without recording and recorded as 'conv2d' too: unfold2d, one
// matmul against the (O, C*kh*kw) weight, the bias broadcast.
//
// Every part of this kernel:
//   op (conv2d)                           src/ops/conv2d.ts (this file)
//   composed reference                    conv2dReference here, from src/ops/conv.ts unfold2d and src/ops/matmul.ts
//   gradient rule                         src/autograd/grads/conv2d.ts
//   backend members                       src/backend/backend.ts FusedKernels.conv2dForward, .conv2dBackward
//   native TS binding                     src/backends/native/conv2d.ts
//   native C++ kernel                     native/src/conv2d.cc (im2col loops: native/src/conv_geometry.h)
//   tests                                 test/ops/conv.test.ts, test/native/conv.test.ts, test/autograd/gradcheck.test.ts
//   callers                               src/nn/conv.ts Conv2d, src/nn/functional.ts

import type { Conv2dGeometry } from '../backend/backend.js';
import { fmtShape } from '../backend/shape.js';
import { noGrad, record } from '../core/engine.js';
import { ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { add } from './binary.js';
import { conv2dGeometry, unfold2d } from './conv.js';
import { fusedOr } from './fused_or.js';
import { matmul } from './matmul.js';
import { reshape } from './movement.js';
import { pair, requireFloat, type Pair } from './util.js';

export type { Pair } from './util.js';

export interface Conv2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair }

/**
 * The composed convolution: unfold2d's columns (N, C*kh*kw, OH*OW), one matmul against the weight
 * as (O, C*kh*kw), the bias broadcast. Differentiable through its parts.
 * @example conv2dReference(x, w, b, conv2dGeometry('conv2d', x.shape, [3, 3], [1, 1], [1, 1], [1, 1]))
 */
export function conv2dReference(x: Tensor, weight: Tensor, bias: Tensor | null, g: Conv2dGeometry): Tensor {
  const [o, c, kh, kw] = weight.shape as [number, number, number, number];
  const cols = reshape(unfold2d(x, g), [g.n, c * kh * kw, g.oh * g.ow]);   // (N, C*kh*kw, L)
  const y = reshape(matmul(reshape(weight, [o, c * kh * kw]), cols), [g.n, o, g.oh, g.ow]);
  return bias ? add(y, reshape(bias, [1, o, 1, 1])) : y;
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
  const [o, , kh, kw] = weight.shape as [number, number, number, number];
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== o)) throw new ShapeError('conv2d', `bias must be (${o},), got ${fmtShape(bias.shape)}`);
  const g = conv2dGeometry('conv2d', x.shape, [kh, kw], pair('conv2d', 'stride', opts.stride ?? 1, 1),
    pair('conv2d', 'padding', opts.padding ?? 0, 0), pair('conv2d', 'dilation', opts.dilation ?? 1, 1));
  const b = bias ?? null;
  const usable = x.size > 0 && weight.size > 0 && weight.dtype === x.dtype && (!b || b.dtype === x.dtype);
  return fusedOr('conv2dForward', usable, (be) => {
    const y = be.conv2dForward(x.view_(), weight.view_(), b ? b.view_() : null, g);
    return y === null ? null : record('conv2d', b ? [x, weight, b] : [x, weight], new Tensor(y, x.dtype, [g.n, o, g.oh, g.ow]), { geometry: g });
  }, () => record('conv2d', b ? [x, weight, b] : [x, weight], noGrad(() => conv2dReference(x, weight, b, g)), { geometry: g }));
}
