// Gradient rule of the batched matmul kernel: C = A B with A (B, M, K), B (B, K, N).
// dA = dC B^T, dB = A^T dC.

import { matmul, transpose } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('matmul', {
  save: { inputs: [0, 1] },
  grad: (dy, c) => [
    c.needs[0] ? matmul(dy, transpose(c.input(1), 1, 2)) : null,
    c.needs[1] ? matmul(transpose(c.input(0), 1, 2), dy) : null,
  ],
});
