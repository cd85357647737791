// Transformer building blocks in GPT-2 / nanoGPT form: the GELU MLP (4x width) and the pre-LayerNorm
// residual block x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)). State-dict keys match nanoGPT's
// Block: ln_1.*, attn.c_attn.*, attn.c_proj.*, ln_2.*, mlp.c_fc.*, mlp.c_proj.*.
// Also re-exports checkpoint() (activation recomputation, autograd/recompute.ts), which a model
// applies per block to trade one extra forward for the memory of the block's activations.

import type { Tensor } from '../core/tensor.js';
import type { FloatDType } from '../backend/dtype.js';
import * as ops from '../ops/index.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { Dropout } from './dropout.js';
import { LayerNorm } from './normalization.js';
import { CausalSelfAttention, type KVCacheLayer } from './attention.js';

export { checkpoint, checkpointWith, type CheckpointOptions } from '../autograd/recompute.js';

/** Settings shared by MLP and Block. */
export interface TransformerBlockOptions {
  /** Model width C. */
  nEmbd: number;
  /** Attention heads; must divide nEmbd. */
  nHead: number;
  /** Dropout probability (attention weights, attention output, MLP output). Default 0. */
  dropout?: number;
  /** Biases in the Linear and LayerNorm layers. Default true. */
  bias?: boolean;
  dtype?: FloatDType;
  /** The MLP's GELU: 'none' (exact, erf; nanoGPT) or 'tanh' (GPT-2's gelu_new). Default 'none'. */
  gelu?: 'none' | 'tanh';
}

/**
 * The transformer feed-forward: Linear(C, 4C) -> GELU (exact, erf; or its tanh form with gelu 'tanh') -> Linear(4C, C) -> Dropout.
 * @example new MLP({ nEmbd: 64, nHead: 4 }).call(ops.randn([2, 8, 64])).shape  // [2, 8, 64]
 */
export class MLP extends Module {
  c_fc: Linear;
  c_proj: Linear;
  dropout: Dropout;
  /** The GELU form: 'none' (erf) or 'tanh'. */
  readonly approximate: 'none' | 'tanh';
  constructor(o: TransformerBlockOptions) {
    super();
    this.approximate = o.gelu ?? 'none';
    const lin = { bias: o.bias ?? true, dtype: o.dtype ?? 'float32' } as const;
    this.c_fc = new Linear(o.nEmbd, 4 * o.nEmbd, lin);
    this.c_proj = new Linear(4 * o.nEmbd, o.nEmbd, lin);
    this.dropout = new Dropout(o.dropout ?? 0);
  }
  forward(x: Tensor): Tensor {
    return this.dropout.call(this.c_proj.call(ops.gelu(this.c_fc.call(x), { approximate: this.approximate })));
  }
}

/**
 * A pre-LayerNorm transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)). (B, T, C) -> (B, T, C).
 * @example
 * const block = new Block({ nEmbd: 64, nHead: 4 });
 * block.call(ops.randn([2, 8, 64])).shape;  // [2, 8, 64]
 */
export class Block extends Module<[x: Tensor, cache?: KVCacheLayer | null], Tensor> {
  ln_1: LayerNorm;
  attn: CausalSelfAttention;
  ln_2: LayerNorm;
  mlp: MLP;
  constructor(o: TransformerBlockOptions) {
    super();
    const ln = { bias: o.bias ?? true, dtype: o.dtype ?? 'float32' } as const;
    this.ln_1 = new LayerNorm(o.nEmbd, ln);
    this.attn = new CausalSelfAttention(o);
    this.ln_2 = new LayerNorm(o.nEmbd, ln);
    this.mlp = new MLP(o);
  }
  forward(x: Tensor, cache: KVCacheLayer | null = null): Tensor {
    const h = ops.add(x, this.attn.call(this.ln_1.call(x), cache));
    return ops.add(h, this.mlp.call(this.ln_2.call(h)));
  }
}
