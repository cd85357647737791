// Gradient rule of kernel `maxPool2d` (src/ops/max_pool2d.ts): dx (N, C, H, W) is zero but at
// each window's argmax position, where dy adds up (windows may overlap; a window wholly in the
// padding, argmax -1, sends nothing). One backend kernel when
// the backward is not recorded; recorded (createGraph), a scatterAdd over the flattened planes, which
// is differentiable again.

import type { Conv2dGeometry } from '../../backend/backend.js';
import { Tensor } from '../../core/tensor.js';
import { fusedBackwardOr, mul, reshape, scatterAdd, to } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('maxPool2d', {
  grad: (dy, c) => {
    const g = c.attrs['geometry'] as Conv2dGeometry;
    const argmax = c.attrs['argmax'] as Tensor;
    return fusedBackwardOr('maxPool2dBackward', dy.dtype === c.inputDtypes[0],
      (be) => [new Tensor(be.maxPool2dBackward(dy.view_(), argmax.view_().data as Int32Array, g), dy.dtype, [g.n, g.c, g.h, g.w])],
      () => {
        const rows = [g.n * g.c, g.oh * g.ow];
        let index = reshape(argmax, rows), src = reshape(dy, rows);
        // a window wholly in the padding (possible with dilation) has argmax -1 and no gradient
        const at = argmax.dataSync();
        if (at.some((a) => a < 0)) {
          index = new Tensor(Int32Array.from(at, (a) => Math.max(a, 0)), 'int32', rows);
          src = mul(src, to(new Tensor(Float64Array.from(at, (a) => (a < 0 ? 0 : 1)), 'float64', rows), dy.dtype));
        }
        return [reshape(scatterAdd([g.n * g.c, g.h * g.w], 1, index, src), [g.n, g.c, g.h, g.w])];
      });
  },
});
