// Gradient rules of the im2col pair (unfold2d and fold2d are each other's adjoints) and of max
// pooling (ops/conv.ts maxPool2d): dy scattered to each window's argmax position.

import type { Conv2dGeometry } from '../../backend/backend.js';
import { Tensor } from '../../core/tensor.js';
import { fold2d, fusedBackwardOr, reshape, scatterAdd, unfold2d } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('unfold2d', { grad: (dy, c) => [fold2d(dy, c.attrs['geometry'] as Conv2dGeometry)] });
defineGrad('fold2d', { grad: (dy, c) => [unfold2d(dy, c.attrs['geometry'] as Conv2dGeometry, 0)] });

// dx (N, C, H, W): zeros, then dx[n, c, argmax] += dy; one kernel when not recorded, else a
// scatterAdd over the flattened planes (differentiable again, for higher-order gradients)
defineGrad('maxPool2d', {
  grad: (dy, c) => {
    const g = c.attrs['geometry'] as Conv2dGeometry;
    const argmax = c.attrs['argmax'] as Tensor;
    return fusedBackwardOr('maxPool2dBackward', dy.dtype === c.inputDtypes[0],
      (be) => [new Tensor(be.maxPool2dBackward(dy.view_(), argmax.view_().data as Int32Array, g), dy.dtype, [g.n, g.c, g.h, g.w])],
      () => [reshape(scatterAdd([g.n * g.c, g.h * g.w], 1, reshape(argmax, [g.n * g.c, g.oh * g.ow]), reshape(dy, [g.n * g.c, g.oh * g.ow])), [g.n, g.c, g.h, g.w])]);
  },
});
