// Gradient rules of the fused kernels (ops/fused.ts), written with ops like every other rule.
//
// linear: y = act(x W^T + b), x (M, K), W (N, K), b (N,). With g = dy * act'(.):
//   dx = g W, dW = g^T x, db = sum_rows g. For ReLU, act' = 1[y > 0] (0 at 0, as PyTorch).
// softmaxCrossEntropy: L = mean_i (logsumexp(z_i) - z_i[t_i]), z (N, C):
//   dL/dz = (softmax(z) - onehot(t)) / N, times the upstream scalar dy.
// layerNorm: y = xh w + b over the last dim of x (R, D), xh = (x - mean) rstd, rstd = 1/sqrt(var + eps):
//   g = dy w;  dx = rstd (g - mean_j g - xh mean_j(g xh));  dw = sum_rows dy xh;  db = sum_rows dy.
//   The fused backward reads the forward's saved mean and rstd (attrs); the composed rule recomputes
//   them from x with ops, so that with createGraph the gradient is differentiable in x.
// gelu: dx = dy gelu'(x); 'none': gelu' = Phi(x) + x phi(x); 'tanh': with u = k (x + c x^3),
//   t = tanh(u): gelu' = (1 + t) / 2 + x (1 - t^2) k (1 + 3 c x^2) / 2  (k = sqrt(2/pi), c = 0.044715).
//
// A backend may offer each backward as one kernel (the native one does: no intermediate tensors,
// the ReLU mask and the bias sum fused into one pass over dy). It is used only when the backward
// itself is not being recorded (no createGraph); the composed rules are the reference it is tested
// against, and the path for higher-order gradients.

import { getBackend } from '../../backend/registry.js';
import { isGradEnabled } from '../../core/engine.js';
import { Tensor } from '../../core/tensor.js';
import { add, div, erf, exp, gt, matmul, mean, mul, oneHot, softmax, sqrt, sub, sum, tanh, to, transpose, where } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('linear', {
  save: { inputs: [0, 1], output: true },
  grad: (dy, c) => {
    const relu = c.attrs['relu'] === true;
    const x = c.input(0), w = c.input(1);
    const needs = [c.needs[0] === true, c.needs[1] === true, c.inputShapes.length > 2 && c.needs[2] === true];
    const be = getBackend();
    if (be.linearBackward && !isGradEnabled() && dy.dtype === x.dtype && dy.ndim === 2) {
      const r = be.linearBackward(dy.view_(), relu ? c.output().view_() : null, x.view_(), w.view_(), needs);
      if (r) {
        const [dx, dw, db] = r;
        return [
          dx ? new Tensor(dx, x.dtype, [...x.shape]) : null,
          dw ? new Tensor(dw, w.dtype, [...w.shape]) : null,
          db ? new Tensor(db, x.dtype, [w.shape[0]!]) : null,
        ];
      }
    }
    const g = relu ? where(gt(c.output(), 0), dy, 0) : dy;
    return [
      needs[0] ? matmul(g, w) : null,
      needs[1] ? matmul(transpose(g, 0, 1), x) : null,
      needs[2] ? sum(g, 0) : null,
    ];
  },
});

defineGrad('softmaxCrossEntropy', {
  save: { inputs: [0, 1] },
  grad: (dy, c) => {
    if (!c.needs[0]) return [null, null];
    const z = c.input(0);
    const [n, k] = z.shape as [number, number];
    const be = getBackend();
    if (be.softmaxCrossEntropyBackward && !isGradEnabled() && n > 0) {
      const scale = dy.item() / n;
      return [new Tensor(be.softmaxCrossEntropyBackward(z.view_(), c.input(1).view_(), scale), z.dtype, [n, k]), null];
    }
    const onehot = to(oneHot(c.input(1), k), z.dtype);
    return [mul(div(sub(softmax(z, -1), onehot), n), dy), null];
  },
});

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
    const be = getBackend();
    if (be.layerNormBackward && !isGradEnabled() && dy.dtype === x.dtype && x.shape[1]! > 0) {
      const mu = c.attrs['mean'] as Tensor, rstd = c.attrs['rstd'] as Tensor;
      const r = be.layerNormBackward(dy.view_(), x.view_(), w ? w.view_() : null, mu.view_(), rstd.view_(), needs);
      const d = x.shape[1]!;
      return pack(
        r.dx ? new Tensor(r.dx, x.dtype, [...x.shape]) : null,
        r.dweight ? new Tensor(r.dweight, x.dtype, [d]) : null,
        r.dbias ? new Tensor(r.dbias, x.dtype, [d]) : null,
      );
    }
    const eps = c.attrs['eps'] as number;
    const mu = mean(x, 1, true);
    const xc = sub(x, mu);
    const rstd = div(1, sqrt(add(mean(mul(xc, xc), 1, true), eps)));
    const xh = mul(xc, rstd);
    let dx: Tensor | null = null;
    if (needs[0]) {
      const g = w ? mul(dy, w) : dy;
      dx = mul(rstd, sub(sub(g, mean(g, 1, true)), mul(xh, mean(mul(g, xh), 1, true))));
    }
    return pack(dx, needs[1] ? sum(mul(dy, xh), 0) : null, needs[2] ? sum(dy, 0) : null);
  },
});

defineGrad('gelu', {
  save: { inputs: [0] },
  grad: (dy, c) => {
    if (!c.needs[0]) return [null];
    const x = c.input(0);
    const approximate = c.attrs['approximate'] === 'tanh' ? 'tanh' : 'none';
    const be = getBackend();
    if (be.geluBackward && !isGradEnabled() && dy.dtype === x.dtype && x.size > 0) {
      return [new Tensor(be.geluBackward(dy.view_(), x.view_(), approximate), x.dtype, [...x.shape])];
    }
    if (approximate === 'tanh') {
      const k = Math.sqrt(2 / Math.PI), cc = 0.044715;
      const x2 = mul(x, x);
      const t = tanh(mul(add(x, mul(mul(x2, x), cc)), k));
      const d = add(mul(add(t, 1), 0.5), mul(mul(mul(x, sub(1, mul(t, t))), 0.5 * k), add(mul(x2, 3 * cc), 1)));
      return [mul(dy, d)];
    }
    const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(x, x), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [mul(dy, add(cdf, mul(x, pdf)))];
  },
});
