// Gradient rule of kernel `maxPool2d` (src/ops/max_pool2d.ts): dx (N, C, H, W) is zero but at
// each window's argmax position, where dy adds up (windows may overlap). One backend kernel when
// the backward is not recorded; recorded (createGraph), a scatterAdd over the flattened planes, which
// is differentiable again.

import type { Conv2dGeometry } from '../../backend/backend.js';
import { Tensor } from '../../core/tensor.js';
import { fusedBackwardOr, reshape, scatterAdd } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('maxPool2d', {
  grad: (dy, c) => {
    const g = c.attrs['geometry'] as Conv2dGeometry;
    const argmax = c.attrs['argmax'] as Tensor;
    return fusedBackwardOr('maxPool2dBackward', dy.dtype === c.inputDtypes[0],
      (be) => [new Tensor(be.maxPool2dBackward(dy.view_(), argmax.view_().data as Int32Array, g), dy.dtype, [g.n, g.c, g.h, g.w])],
      () => [reshape(scatterAdd([g.n * g.c, g.h * g.w], 1, reshape(argmax, [g.n * g.c, g.oh * g.ow]), reshape(dy, [g.n * g.c, g.oh * g.ow])), [g.n, g.c, g.h, g.w])]);
  },
});
