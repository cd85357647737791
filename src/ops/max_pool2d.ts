// Kernel `maxPool2d`: 2-D max pooling, like torch.nn.functional.max_pool2d. Where the backend has
// maxPool2dForward (both built-in backends), one pass gives the window maxima and the argmax
// position of each, recorded as 'maxPool2d' with the argmax in attrs; the gradient scatters dy to
// those positions (maxPool2dBackward, or a scatterAdd when the backward is recorded, so it stays
// differentiable). Elsewhere the composed reference: a max over unfold2d's window axis (padding
// reads -inf). Ties: the kernel gives a window's whole gradient to its first maximum (torch's rule);
// the composed reference splits it among equal maxima (torch.amax's rule).
//
// Every part of this kernel:
//   op (maxPool2d)                        src/ops/max_pool2d.ts (this file)
//   composed reference                    unfold2d + max, src/ops/conv.ts, src/ops/reduce.ts
//   gradient rule                         src/autograd/grads/max_pool2d.ts
//   backend members                       src/backend/backend.ts FusedKernels.maxPool2dForward, .maxPool2dBackward
//   native TS binding                     src/backends/native/max_pool2d.ts
//   native C++ kernel                     native/src/max_pool2d.cc
//   reference backend                     src/backends/reference/index.ts (maxPool2dForward, maxPool2dBackward)
//   tests                                 test/ops/conv.test.ts, test/native/conv.test.ts
//   callers                               src/nn/conv.ts MaxPool2d, Tensor.maxPool2d (src/autograd/methods.ts)

import { record } from '../core/engine.js';
import { ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { conv2dGeometry, unfold2d } from './conv.js';
import { fusedOr } from './fused_or.js';
import { reshape } from './movement.js';
import { max } from './reduce.js';
import { pair, requireFloat, type Pair } from './util.js';

export interface MaxPool2dOptions { stride?: Pair; padding?: Pair; dilation?: Pair }

/**
 * 2-D max pooling, like torch.nn.functional.max_pool2d (stride defaults to the kernel size;
 * padding reads -inf). The gradient goes to each window's first maximum, as in torch.
 * @example maxPool2d(x, 2)
 */
export function maxPool2d(x: Tensor, kernelSize: Pair, opts: MaxPool2dOptions = {}): Tensor {
  requireFloat('maxPool2d', x);
  const k = pair('maxPool2d', 'kernelSize', kernelSize, 1);
  const pad = pair('maxPool2d', 'padding', opts.padding ?? 0, 0);
  if (pad[0] * 2 > k[0] || pad[1] * 2 > k[1]) throw new ShapeError('maxPool2d', `padding ${pad.join('x')} must be at most half the kernel ${k.join('x')}`);
  const g = conv2dGeometry('maxPool2d', x.shape, k, pair('maxPool2d', 'stride', opts.stride ?? k, 1), pad,
    pair('maxPool2d', 'dilation', opts.dilation ?? 1, 1));
  return fusedOr('maxPool2dForward', x.size > 0, (be) => {
    const { y, argmax } = be.maxPool2dForward(x.view_(), g);
    const shape = [g.n, g.c, g.oh, g.ow];
    return record('maxPool2d', [x], new Tensor(y, x.dtype, shape), { geometry: g, argmax: new Tensor(argmax, 'int32', shape) });
  }, () => max(reshape(unfold2d(x, g, -Infinity), [g.n, g.c, g.kh * g.kw, g.oh, g.ow]), 2));
}
