// Gradient rules of the fused kernels (ops/fused.ts), written with ops like every other rule.
//
// linear: y = act(x W^T + b), x (M, K), W (N, K), b (N,). With g = dy * act'(.):
//   dx = g W, dW = g^T x, db = sum_rows g. For ReLU, act' = 1[y > 0] = sign(y), since y >= 0.
// softmaxCrossEntropy: L = mean_i (logsumexp(z_i) - z_i[t_i]), z (N, C):
//   dL/dz = (softmax(z) - onehot(t)) / N, times the upstream scalar dy.

import { div, matmul, mul, oneHot, sign, softmax, sub, sum, to, transpose } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('linear', {
  save: { inputs: [0, 1], output: true },
  grad: (dy, c) => {
    const g = c.attrs['relu'] === true ? mul(dy, sign(c.output())) : dy;
    return [
      c.needs[0] ? matmul(g, c.input(1)) : null,
      c.needs[1] ? matmul(transpose(g, 0, 1), c.input(0)) : null,
      c.inputShapes.length > 2 && c.needs[2] ? sum(g, 0) : null,
    ];
  },
});

defineGrad('softmaxCrossEntropy', {
  save: { inputs: [0, 1] },
  grad: (dy, c) => {
    if (!c.needs[0]) return [null, null];
    const z = c.input(0);
    const [n, k] = z.shape as [number, number];
    const onehot = to(oneHot(c.input(1), k), z.dtype);
    return [mul(div(sub(softmax(z, -1), onehot), n), dy), null];
  },
});
