// Gradient rule of kernel `conv2d` (src/ops/conv2d.ts): dx, dW and db of y = conv(x, W) + b. One
// backend call (conv2dBackward) when the backward is not recorded; otherwise, or when the backend
// declines, the composed form: with cols = unfold2d(x) as (N, CK, L) and dy as (N, O, L),
// dW = sum_n dy_n cols_n^T, dx = fold2d(W^T dy), db = sum of dy over N, OH, OW; with G groups the
// same per group, batched: cols as (N, G, CK/G, L), dy as (N, G, O/G, L), W as (G, O/G, CK/G).

import type { Conv2dGeometry } from '../../backend/backend.js';
import { Tensor } from '../../core/tensor.js';
import { contiguous, fold2d, fusedBackwardOr, matmul, reshape, sum, transpose, unfold2d } from '../../ops/index.js';
import { defineGrad, type GradContext } from '../registry.js';

function composed(dy: Tensor, c: GradContext, g: Conv2dGeometry, groups: number): (Tensor | null)[] {
  const x = c.input(0), w = c.input(1);
  const [o, cg, kh, kw] = w.shape as [number, number, number, number];
  const gk = cg * kh * kw, l = g.oh * g.ow, og = o / groups;
  const dy4 = reshape(dy, [g.n, groups, og, l]);                       // (N, G, O/G, L)
  const w3 = reshape(w, [groups, og, gk]);                             // (G, O/G, CK/G)
  const dx = c.needs[0] ? fold2d(reshape(matmul(transpose(w3, 1, 2), dy4), [g.n, g.c, kh, kw, g.oh, g.ow]), g) : null;
  const dw = c.needs[1] ? reshape(sum(matmul(dy4, transpose(reshape(unfold2d(x, g), [g.n, groups, gk, l]), 2, 3)), 0), [o, cg, kh, kw]) : null;
  const db = c.inputShapes.length > 2 && c.needs[2] ? sum(dy, [0, 2, 3]) : null;
  return c.inputShapes.length > 2 ? [dx, dw, db] : [dx, dw];
}

defineGrad('conv2d', {
  save: { inputs: [0, 1] },
  grad: (dy, c) => {
    const g = c.attrs['geometry'] as Conv2dGeometry;
    const groups = (c.attrs['groups'] as number | undefined) ?? 1;
    const hasBias = c.inputShapes.length > 2;
    const needs: [boolean, boolean, boolean] = [c.needs[0] ?? false, c.needs[1] ?? false, hasBias && (c.needs[2] ?? false)];
    return fusedBackwardOr('conv2dBackward', dy.dtype === c.inputDtypes[0], (be) => {
      const d = contiguous(dy);
      const x = c.input(0), w = c.input(1);
      const r = be.conv2dBackward(d.view_(), x.view_(), w.view_(), g, needs, groups);
      if (r === null) return null;
      const out: (Tensor | null)[] = [
        r.dx ? new Tensor(r.dx, dy.dtype, [g.n, g.c, g.h, g.w]) : null,
        r.dweight ? new Tensor(r.dweight, dy.dtype, [...w.shape]) : null,
      ];
      if (hasBias) out.push(r.dbias ? new Tensor(r.dbias, dy.dtype, [w.shape[0]!]) : null);
      return out;
    }, () => composed(dy, c, g, groups));
  },
});
