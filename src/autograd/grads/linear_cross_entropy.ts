// Gradient rule of kernel `linearCrossEntropy` (op: src/ops/linear_cross_entropy.ts; that file's
// header lists every part).
//
// L = mean_i (logsumexp(z_i) - z_i[t_i]) with z = x W^T (N, V): with g = (softmax(z) - onehot(t)) / N,
// dL/dx = g W and dL/dW = g^T x, times the upstream scalar dy. The fused forward leaves both in
// attrs.pre (computed chunk by chunk while it had the logits); the first backward takes them (and
// drops the reference, so their memory goes with the graph's use of them) and scales them by dy.
// A later backward through a retained graph, or a backward whose precomputed gradient is missing,
// calls the fused kernel again on the saved inputs; a recorded backward (createGraph) composes the
// same math from differentiable ops (materializing the logits).

import { Tensor } from '../../core/tensor.js';
import { div, fusedBackwardOr, matmul, mul, oneHot, softmax, sub, to, transpose } from '../../ops/index.js';
import type { LinearCrossEntropySaved } from '../../ops/linear_cross_entropy.js';
import { defineGrad } from '../registry.js';
import { markExclusiveGrad } from '../tape.js';

defineGrad('linearCrossEntropy', {
  save: { inputs: [0, 1, 2] },
  grad: (dy, c) => {
    const needs = [c.needs[0] === true, c.needs[1] === true] as const;
    if (!needs[0] && !needs[1]) return [null, null, null];
    const x = c.input(0), w = c.input(1), t = c.input(2);
    const [n, k] = x.shape as [number, number];
    const v = w.shape[0]!;
    const pre = c.attrs['pre'] as LinearCrossEntropySaved | undefined;
    return fusedBackwardOr('linearCrossEntropy', n > 0 && v > 0 && k > 0 && dy.dtype === x.dtype,
      (be) => {
        let dx = pre?.dx ?? null, dw = pre?.dw ?? null;
        if (pre) { pre.dx = null; pre.dw = null; }   // handed out once: the leaf may keep and modify them
        if ((needs[0] && dx === null) || (needs[1] && dw === null)) {
          const r = be.linearCrossEntropy(x.view_(), w.view_(), t.view_(), [needs[0], needs[1]], c.attrs['chunkElements'] as number);
          dx = r.dx ? new Tensor(r.dx, x.dtype, [n, k]) : null;
          dw = r.dw ? new Tensor(r.dw, x.dtype, [v, k]) : null;
        }
        const s = dy.item();
        // the weight gradient's storage is handed over whole (the forward made it for this result, or
        // mul did): a tied embedding's gradient is added into it in place (tape.ts markExclusiveGrad)
        const scaled = (g: Tensor | null): Tensor | null => (g === null ? null : markExclusiveGrad(s === 1 ? g : mul(g, s)));
        return [needs[0] ? scaled(dx) : null, needs[1] ? scaled(dw) : null, null];
      },
      () => {
        if (pre) { pre.dx = null; pre.dw = null; }
        const z = matmul(x, transpose(w, 0, 1));
        const g = mul(div(sub(softmax(z, -1), to(oneHot(t, v), x.dtype)), n), dy);
        return [needs[0] ? matmul(g, w) : null, needs[1] ? matmul(transpose(g, 0, 1), x) : null, null];
      });
  },
});
