// Gradient rules of the fused kernels (ops/fused.ts), written with ops like every other rule.
//
// linear: y = act(x W^T + b), x (M, K), W (N, K), b (N,). With g = dy * act'(.):
//   dx = g W, dW = g^T x, db = sum_rows g. For ReLU, act' = 1[y > 0] (0 at 0, as PyTorch).
// softmaxCrossEntropy: L = mean_i (logsumexp(z_i) - z_i[t_i]), z (N, C):
//   dL/dz = (softmax(z) - onehot(t)) / N, times the upstream scalar dy.
//
// A backend may offer each backward as one kernel (the native one does: no intermediate tensors,
// the ReLU mask and the bias sum fused into one pass over dy). It is used only when the backward
// itself is not being recorded (no createGraph); the composed rules are the reference it is tested
// against, and the path for higher-order gradients.

import type { View } from '../../backend/backend.js';
import type { TypedArray } from '../../backend/dtype.js';
import { getBackend } from '../../backend/registry.js';
import { isGradEnabled } from '../../core/engine.js';
import { Tensor } from '../../core/tensor.js';
import { div, gt, matmul, mul, oneHot, softmax, sub, sum, to, transpose, where } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

/** Optional backward kernels of the fused ops (structural: read off the active backend). */
interface FusedBackwardKernels {
  softmaxCrossEntropyBackward?(logits: View, target: View, scale: number): TypedArray;
  linearBackward?(dy: View, y: View | null, x: View, w: View, needs: readonly boolean[]): (TypedArray | null)[] | null;
}

const kernels = (): FusedBackwardKernels => getBackend() as FusedBackwardKernels;

defineGrad('linear', {
  save: { inputs: [0, 1], output: true },
  grad: (dy, c) => {
    const relu = c.attrs['relu'] === true;
    const x = c.input(0), w = c.input(1);
    const needs = [c.needs[0] === true, c.needs[1] === true, c.inputShapes.length > 2 && c.needs[2] === true];
    const be = kernels();
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
    const be = kernels();
    if (be.softmaxCrossEntropyBackward && !isGradEnabled() && n > 0) {
      const scale = dy.item() / n;
      return [new Tensor(be.softmaxCrossEntropyBackward(z.view_(), c.input(1).view_(), scale), z.dtype, [n, k]), null];
    }
    const onehot = to(oneHot(c.input(1), k), z.dtype);
    return [mul(div(sub(softmax(z, -1), onehot), n), dy), null];
  },
});
