// Gradient rule of kernel `layerNorm` (op: src/ops/layer_norm.ts; that file's header lists every part).
//
// y = xh w + b over the last dim of x (R, D), xh = (x - mean) rstd, rstd = 1/sqrt(var + eps):
//   g = dy w;  dx = rstd (g - mean_j g - xh mean_j(g xh));  dw = sum_rows dy xh;  db = sum_rows dy.
// The fused backward reads the forward's saved mean and rstd (attrs); the composed rule recomputes
// them from x with ops (layerNormParts, the one copy of the math), so that with createGraph the
// gradient is differentiable in x.

import { Tensor } from '../../core/tensor.js';
import { div, fusedBackwardOr, layerNormParts, mean, mul, sub, sum } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('layerNorm', {
  // x, and the weight when there is one (input 1 is the bias when there is no weight: kept, unused)
  save: { inputs: [0, 1] },
  grad: (dy, c) => {
    const hasW = c.attrs['weight'] === true, hasB = c.attrs['bias'] === true;
    const x = c.input(0);
    const w = hasW ? c.input(1) : null;
    const needs: [boolean, boolean, boolean] = [c.needs[0] === true, hasW && c.needs[1] === true, hasB && c.needs[hasW ? 2 : 1] === true];
    const pack = (dx: Tensor | null, dw: Tensor | null, db: Tensor | null): (Tensor | null)[] => {
      const r: (Tensor | null)[] = [dx];
      if (hasW) r.push(dw);
      if (hasB) r.push(db);
      return r;
    };
    return fusedBackwardOr('layerNormBackward', dy.dtype === x.dtype && x.shape[1]! > 0,
      (be) => {
        const mu = c.attrs['mean'] as Tensor, rstd = c.attrs['rstd'] as Tensor;
        const r = be.layerNormBackward(dy.view_(), x.view_(), w ? w.view_() : null, mu.view_(), rstd.view_(), needs);
        const d = x.shape[1]!;
        return pack(
          r.dx ? new Tensor(r.dx, x.dtype, [...x.shape]) : null,
          r.dweight ? new Tensor(r.dweight, x.dtype, [d]) : null,
          r.dbias ? new Tensor(r.dbias, x.dtype, [d]) : null,
        );
      },
      () => {
        const p = layerNormParts(x, 1, c.attrs['eps'] as number);
        const rstd = div(1, p.std);
        const xh = mul(p.centered, rstd);
        let dx: Tensor | null = null;
        if (needs[0]) {
          const g = w ? mul(dy, w) : dy;
          dx = mul(rstd, sub(sub(g, mean(g, 1, true)), mul(xh, mean(mul(g, xh), 1, true))));
        }
        return pack(dx, needs[1] ? sum(mul(dy, xh), 0) : null, needs[2] ? sum(dy, 0) : null);
      });
  },
});
