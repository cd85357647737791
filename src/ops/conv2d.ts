// Kernel `conv2d`: 2-D convolution (cross-correlation, in groups), like torch.nn.functional.conv2d.
// Where the backend has conv2dForward (native), one kernel that never materializes the
// (N, C*kh*kw, OH*OW) column tensor: each sample's columns live in a cache-sized scratch buffer for
// its GEMM, forward and backward; recorded as 'conv2d', whose gradient is conv2dBackward (dx, dW,
// db in one call) or, when the backward is recorded or the backend lacks it, the composed
// gradient (src/autograd/grads/conv2d.ts). Elsewhere (the reference backend) the forward is the
// composed reference, computed without recording and recorded as 'conv2d' too: unfold2d, one
// matmul against the (O, C*kh*kw) weight (batched over the groups: (G, O/G, C/G*kh*kw) against
// the columns as (N, G, C/G*kh*kw, L)), the bias broadcast.
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

export interface Conv2dOptions {
  stride?: Pair; padding?: Pair; dilation?: Pair;
  /** Channel groups (default 1): C and O divisible by it, weight (O, C/groups, kh, kw); C = depthwise. */
  groups?: number;
}

/**
 * The composed convolution: unfold2d's columns (N, C*kh*kw, OH*OW), one matmul against the weight
 * as (O, C*kh*kw) (with groups: (G, O/G, C/G*kh*kw) against the columns as (N, G, C/G*kh*kw, L)),
 * the bias broadcast. Differentiable through its parts.
 * @example conv2dReference(x, w, b, conv2dGeometry('conv2d', x.shape, [3, 3], [1, 1], [1, 1], [1, 1]))
 */
export function conv2dReference(x: Tensor, weight: Tensor, bias: Tensor | null, g: Conv2dGeometry, groups = 1): Tensor {
  const [o, cg, kh, kw] = weight.shape as [number, number, number, number];
  const l = g.oh * g.ow, gk = cg * kh * kw;
  let y: Tensor;
  if (groups === 1) {
    const cols = reshape(unfold2d(x, g), [g.n, gk, l]);   // (N, C*kh*kw, L)
    y = reshape(matmul(reshape(weight, [o, gk]), cols), [g.n, o, g.oh, g.ow]);
  } else {
    const cols = reshape(unfold2d(x, g), [g.n, groups, gk, l]);   // (N, G, C/G*kh*kw, L): channels are the outer axis
    y = reshape(matmul(reshape(weight, [groups, o / groups, gk]), cols), [g.n, o, g.oh, g.ow]);   // (N, G, O/G, L)
  }
  return bias ? add(y, reshape(bias, [1, o, 1, 1])) : y;
}

/** Validates a group count against the input and weight shapes (errors name both and the fix). */
export function checkConv2dGroups(op: string, groups: number, inChannels: number, outChannels: number): void {
  if (!Number.isInteger(groups) || groups < 1) throw new ShapeError(op, `groups must be an integer >= 1, got ${groups}`);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new ShapeError(op, `groups=${groups} must divide both the input channels (${inChannels}) and the output channels (${outChannels}); use a group count that divides both (depthwise: groups = input channels, output channels a multiple of it)`);
  }
}

/**
 * 2-D cross-correlation, like torch.nn.functional.conv2d (with its `groups`).
 * x: (N, C, H, W), weight: (O, C/groups, kh, kw), bias: (O) -> (N, O, OH, OW)
 * @example conv2d(x, w, b, { padding: 1 })                 // w (O, C, 3, 3)
 * @example conv2d(x, dw, null, { padding: 1, groups: 8 })  // depthwise: x (N, 8, H, W), dw (8, 1, 3, 3)
 */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  requireFloat('conv2d', x);
  const groups = opts.groups ?? 1;
  if (weight.ndim !== 4) throw new ShapeError('conv2d', `weight must be (out, in/groups, kh, kw), got ${fmtShape(weight.shape)}`);
  if (x.ndim !== 4 || x.shape[1] !== weight.shape[1]! * groups) {
    const gtext = groups === 1 ? '' : ` (weight's ${weight.shape[1]} input channels per group x groups=${groups})`;
    throw new ShapeError('conv2d', `input ${fmtShape(x.shape)} must be (N, ${weight.shape[1]! * groups}, H, W)${gtext} to match weight ${fmtShape(weight.shape)}`);
  }
  const [o, , kh, kw] = weight.shape as [number, number, number, number];
  checkConv2dGroups('conv2d', groups, x.shape[1]!, o);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== o)) throw new ShapeError('conv2d', `bias must be (${o},), got ${fmtShape(bias.shape)}`);
  const g = conv2dGeometry('conv2d', x.shape, [kh, kw], pair('conv2d', 'stride', opts.stride ?? 1, 1),
    pair('conv2d', 'padding', opts.padding ?? 0, 0), pair('conv2d', 'dilation', opts.dilation ?? 1, 1));
  const b = bias ?? null;
  const usable = x.size > 0 && weight.size > 0 && weight.dtype === x.dtype && (!b || b.dtype === x.dtype);
  const attrs = groups === 1 ? { geometry: g } : { geometry: g, groups };
  return fusedOr('conv2dForward', usable, (be) => {
    const y = be.conv2dForward(x.view_(), weight.view_(), b ? b.view_() : null, g, groups);
    return y === null ? null : record('conv2d', b ? [x, weight, b] : [x, weight], new Tensor(y, x.dtype, [g.n, o, g.oh, g.ow]), attrs);
  }, () => record('conv2d', b ? [x, weight, b] : [x, weight], noGrad(() => conv2dReference(x, weight, b, g, groups)), attrs));
}
