// Gradient rule of kernel `attention` (op: src/ops/attention.ts; that file's header lists every part).
//
// out = Pd V with P = softmax(scale q k^T + mask) (row log-sum-exp `lse` saved by the forward in
// attrs), Pd = P * Z (dropout multipliers, recomputed from the seed):
//   dV = Pd^T dO;  dP = (dO V^T) * Z;  dS = P * (dP - rowsum(dO * out));  dQ = scale dS K;  dK = scale dS^T Q.
// Without createGraph this runs the fused backward where the backend has one (the weights are
// recomputed block by block, never stored); with createGraph it composes the same math from
// differentiable ops. packedSelfAttention records the same kernel with one input, the packed
// qkv (B, T, 3C) (attrs.packedHeads = H): its gradient is one (B, T, 3C) tensor.

import type { AttentionParams } from '../../backend/backend.js';
import { isGradEnabled } from '../../core/engine.js';
import type { Tensor } from '../../core/tensor.js';
import { attentionBackward, attentionBackwardComposed, packedAttentionBackward } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

defineGrad('attention', {
  save: { inputs: [0, 1, 2], output: true },
  grad: (dy, c) => {
    const a = c.attrs;
    const p: AttentionParams = { scale: a['scale'] as number, causal: a['causal'] as boolean, dropout: a['dropout'] as number, seed: a['seed'] as number };
    const lse = a['lse'] as Tensor;
    const heads = a['packedHeads'] as number | undefined;
    if (heads !== undefined) {   // packedSelfAttention: one input qkv (B, T, 3C), output (B, T, C)
      return [c.needs[0] ? packedAttentionBackward(c.input(0), c.output(), lse, dy, heads, p) : null];
    }
    const args = [c.input(0), c.input(1), c.input(2), c.output(), lse, dy, p] as const;
    const [dq, dk, dv] = isGradEnabled() ? attentionBackwardComposed(...args) : attentionBackward(...args);
    return [c.needs[0] ? dq : null, c.needs[1] ? dk : null, c.needs[2] ? dv : null];
  },
});
