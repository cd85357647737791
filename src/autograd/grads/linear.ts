// Gradient rule of kernel `linear` (op: src/ops/linear.ts; that file's header lists every part).
//
// y = act(x W^T + b), x (M, K), W (N, K), b (N,). With g = dy * act'(.):
//   dx = g W, dW = g^T x, db = sum_rows g. For ReLU, act' = 1[y > 0] (0 at 0, as PyTorch).
// The backend's linearBackward does it in one call (no intermediate tensors, the ReLU mask and the
// bias sum fused into one pass over dy) when the backward is not recorded; the composed rule is its
// reference and the path for higher-order gradients.

import { Tensor } from '../../core/tensor.js';
import { fusedBackwardOr, le, matmul, sum, transpose, where } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('linear', {
  save: { inputs: [0, 1], output: (a) => a['relu'] === true },   // the output only for the ReLU mask
  grad: (dy, c) => {
    const relu = c.attrs['relu'] === true;
    const x = c.input(0), w = c.input(1);
    const needs = [c.needs[0] === true, c.needs[1] === true, c.inputShapes.length > 2 && c.needs[2] === true];
    return fusedBackwardOr('linearBackward', dy.dtype === x.dtype && dy.ndim === 2,
      (be) => {
        const r = be.linearBackward(dy.view_(), relu ? c.output().view_() : null, x.view_(), w.view_(), needs);
        if (!r) return null;   // this backend declined these arrays: compose
        const [dx, dw, db] = r;
        return [
          dx ? new Tensor(dx, x.dtype, [...x.shape]) : null,
          dw ? new Tensor(dw, w.dtype, [...w.shape]) : null,
          db ? new Tensor(db, x.dtype, [w.shape[0]!]) : null,
        ];
      },
      () => {
        const g = relu ? where(le(c.output(), 0), 0, dy) : dy;   // as the relu rule: NaN passes
        return [
          needs[0] ? matmul(g, w) : null,
          needs[1] ? matmul(transpose(g, 0, 1), x) : null,
          needs[2] ? sum(g, 0) : null,
        ];
      });
  },
});
