// Gradient rule of kernel `softmaxCrossEntropy` (op: src/ops/softmax_cross_entropy.ts; that file's
// header lists every part).
//
// L = mean_i (logsumexp(z_i) - z_i[t_i]), z (N, C): dL/dz = (softmax(z) - onehot(t)) / N, times
// the upstream scalar dy. The backend's softmaxCrossEntropyBackward does it in one pass when the
// backward is not recorded. The target (int32) gets no gradient.

import { Tensor } from '../../core/tensor.js';
import { div, fusedBackwardOr, mul, oneHot, softmax, sub, to } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('softmaxCrossEntropy', {
  save: { inputs: [0, 1] },
  grad: (dy, c) => {
    if (!c.needs[0]) return [null, null];
    const z = c.input(0);
    const [n, k] = z.shape as [number, number];
    return fusedBackwardOr('softmaxCrossEntropyBackward', n > 0,
      (be) => [new Tensor(be.softmaxCrossEntropyBackward(z.view_(), c.input(1).view_(), dy.item() / n), z.dtype, [n, k]), null],
      () => {
        const onehot = to(oneHot(c.input(1), k), z.dtype);
        return [mul(div(sub(softmax(z, -1), onehot), n), dy), null];
      });
  },
});
