// Gradient rule of kernel `gelu` (op: src/ops/gelu.ts; that file's header lists every part).
//
// dx = dy gelu'(x); 'none': gelu' = Phi(x) + x phi(x); 'tanh': with u = k (x + c x^3), t = tanh(u):
//   gelu' = (1 + t) / 2 + x (1 - t^2) k (1 + 3 c x^2) / 2  (k = sqrt(2/pi), c = 0.044715).
// The backend's geluBackward computes it in one pass when the backward is not recorded.

import { Tensor } from '../../core/tensor.js';
import { add, erf, exp, fusedBackwardOr, mul, sub, tanh } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

/** dy * gelu'(x) composed from ops (differentiable, for createGraph). */
function geluGradComposed(dy: Tensor, x: Tensor, approximate: 'none' | 'tanh'): Tensor {
  if (approximate === 'tanh') {
    const k = Math.sqrt(2 / Math.PI), cc = 0.044715;
    const x2 = mul(x, x);
    const t = tanh(mul(add(x, mul(mul(x2, x), cc)), k));
    const d = add(mul(add(t, 1), 0.5), mul(mul(mul(x, sub(1, mul(t, t))), 0.5 * k), add(mul(x2, 3 * cc), 1)));
    return mul(dy, d);
  }
  const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
  const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
  return mul(dy, add(cdf, mul(x, pdf)));
}

defineGrad('gelu', {
  save: { inputs: [0] },
  grad: (dy, c) => {
    if (!c.needs[0]) return [null];
    const x = c.input(0);
    const approximate = c.attrs['approximate'] === 'tanh' ? 'tanh' : 'none';
    return fusedBackwardOr('geluBackward', dy.dtype === x.dtype && x.size > 0,
      (be) => [new Tensor(be.geluBackward(dy.view_(), x.view_(), approximate), x.dtype, [...x.shape])],
      () => [geluGradComposed(dy, x, approximate)]);
  },
});
