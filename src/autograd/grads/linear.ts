// Gradient rule of kernel `linear` (op: src/ops/linear.ts; that file's header lists every part).
//
// y = act(x W^T + b), x (M, K), W (N, K), b (N,). With g = dy * act'(.):
//   dx = g W, dW = g^T x, db = sum_rows g. For ReLU, act' = 1[y > 0] (0 at 0, as PyTorch).
// The backend's linearBackward does it in one call (no intermediate tensors, the ReLU mask and the
// bias sum fused into one pass over dy) when the backward is not recorded; the composed rule is its
// reference and the path for higher-order gradients.
// When the tape asks for W's gradient in row blocks (a grad-chunk hook, e.g. DDP on the first layer)
// and dx is not needed, dW and db are computed block by block over output rows [a, b):
// dW[a:b] = g[:, a:b]^T x, db[a:b] = column sums of g[:, a:b]; each element's sum runs over the same
// rows of g in the same order as unsplit, so the blocks and the whole are bit-identical to the
// unsplit result (test/core/autograd.test.ts checks it on both backends).

import { Tensor } from '../../core/tensor.js';
import { cat, fusedBackwardOr, le, matmul, slice, sum, transpose, where } from '../../ops/index.js';
import type { GradChunks } from '../registry.js';
import { defineGrad } from '../registry.js';

defineGrad('linear', {
  save: { inputs: [0, 1], output: (a) => a['relu'] === true },   // the output only for the ReLU mask
  grad: (dy, c) => {
    const relu = c.attrs['relu'] === true;
    const x = c.input(0), w = c.input(1);
    const needs = [c.needs[0] === true, c.needs[1] === true, c.inputShapes.length > 2 && c.needs[2] === true];
    const chunks = needs[1] && !needs[0] ? c.gradChunks(1) : null;
    if (chunks !== null && chunks.rows < w.shape[0]!) return byRowBlocks(dy, relu ? c.output() : null, x, w, needs[2] === true, chunks);
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

// dW (and db) of a layer whose input needs no gradient, in blocks of output rows handed to the tape
// as they are done; returns [null, dW, db | null] like the rule.
function byRowBlocks(dy: Tensor, y: Tensor | null, x: Tensor, w: Tensor, needBias: boolean, chunks: GradChunks): (Tensor | null)[] {
  const n = w.shape[0]!;
  const dws: Tensor[] = [], dbs: Tensor[] = [];
  for (let a = 0; a < n; a += chunks.rows) {
    const b = Math.min(n, a + chunks.rows);
    const dyb = slice(dy, 1, a, b), yb = y === null ? null : slice(y, 1, a, b), wb = slice(w, 0, a, b);
    const [dwb, dbb] = fusedBackwardOr('linearBackward', dy.dtype === x.dtype && dy.ndim === 2,
      (be) => {
        const r = be.linearBackward(dyb.view_(), yb === null ? null : yb.view_(), x.view_(), wb.view_(), [false, true, needBias]);
        if (!r) return null;
        return [new Tensor(r[1]!, w.dtype, [b - a, w.shape[1]!]), r[2] ? new Tensor(r[2], x.dtype, [b - a]) : null] as const;
      },
      () => {
        const g = yb === null ? dyb : where(le(yb, 0), 0, dyb);
        return [matmul(transpose(g, 0, 1), x), needBias ? sum(g, 0) : null] as const;
      });
    chunks.emit(a, dwb);
    dws.push(dwb);
    if (dbb !== null) dbs.push(dbb);
  }
  return [null, cat(dws, 0), needBias ? cat(dbs, 0) : null];
}
