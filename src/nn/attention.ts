// Causal multi-head self-attention (GPT-2 / nanoGPT layout) and its key/value cache for decoding.
// One Linear makes q, k and v (c_attn: C -> 3C, split q | k | v along features, each viewed as
// (B, H, T, C/H)), scaledDotProductAttention mixes positions (fused on backends that have it), and
// c_proj maps the heads back to C. Without a cache the layer calls packedSelfAttention on the c_attn
// output (the same kernel reading q, k, v in place, its gradient one (B, T, 3C) tensor). State-dict keys match nanoGPT's CausalSelfAttention:
// c_attn.weight, c_attn.bias, c_proj.weight, c_proj.bias.

import type { Tensor } from '../core/tensor.js';
import { isGradEnabled, noGrad } from '../core/engine.js';
import { ShapeError, TensorslimError } from '../core/errors.js';
import type { FloatDType } from '../backend/dtype.js';
import { fmtShape } from '../backend/shape.js';
import * as ops from '../ops/index.js';
import { Module } from './module.js';
import { Linear } from './linear.js';
import { Dropout } from './dropout.js';
import { checkDim } from './util.js';

/** Settings of CausalSelfAttention. */
export interface CausalSelfAttentionOptions {
  /** Model width C. */
  nEmbd: number;
  /** Heads H; must divide nEmbd. */
  nHead: number;
  /** Dropout on the attention weights and on the output (nanoGPT's attn_dropout, resid_dropout). Default 0. */
  dropout?: number;
  /** Biases in c_attn and c_proj. Default true. */
  bias?: boolean;
  dtype?: FloatDType;
}

/**
 * The keys and values one attention layer has seen, for incremental decoding: preallocated
 * (B, H, capacity, D) buffers filled from position 0 up to `length`. A new token then costs one
 * position of attention instead of recomputing the whole context.
 *
 * @example
 * const cache = new KVCacheLayer(1, 4, 256, 64);   // batch 1, 4 heads, 256 positions, head size 64
 */
export class KVCacheLayer {
  readonly k: Tensor;
  readonly v: Tensor;
  /** Positions filled. */
  length = 0;
  constructor(readonly batch: number, readonly heads: number, readonly capacity: number, readonly headDim: number, dtype: FloatDType = 'float32') {
    for (const [n, v] of [['batch', batch], ['heads', heads], ['capacity', capacity], ['headDim', headDim]] as const) checkDim('KVCacheLayer', n, v, false);
    this.k = ops.zeros([batch, heads, capacity, headDim], { dtype });
    this.v = ops.zeros([batch, heads, capacity, headDim], { dtype });
  }

  /** Forget everything (keeps the buffers). @example cache.reset() */
  reset(): void { this.length = 0; }

  /**
   * Write k, v (B, H, T, D) at positions [length, length + T) and return views of all filled
   * positions (B, H, length + T, D). Inference only (call under noGrad).
   * @example const [kAll, vAll] = noGrad(() => cache.append(kNew, vNew));
   */
  append(k: Tensor, v: Tensor): [Tensor, Tensor] {
    const op = 'KVCacheLayer.append';
    if (isGradEnabled() && (k.requiresGrad || v.requiresGrad)) {
      throw new TensorslimError(op, 'the key/value cache is for inference; run generation under noGrad(() => ...)');
    }
    const t = k.shape[2]!;
    const want = [this.batch, this.heads, t, this.headDim];
    if (k.ndim !== 4 || k.shape.some((d, i) => d !== want[i]) || v.ndim !== 4 || v.shape.some((d, i) => d !== want[i])) {
      throw new ShapeError(op, `k ${fmtShape(k.shape)} and v ${fmtShape(v.shape)} must be ${fmtShape(want)} for this cache`);
    }
    if (this.length + t > this.capacity) {
      throw new ShapeError(op, `${this.length} cached + ${t} new positions exceed the capacity ${this.capacity}; reset the cache or shorten the context`);
    }
    noGrad(() => {
      ops.assign(ops.narrow(this.k, 2, this.length, t), k);
      ops.assign(ops.narrow(this.v, 2, this.length, t), v);
    });
    this.length += t;
    return [ops.narrow(this.k, 2, 0, this.length), ops.narrow(this.v, 2, 0, this.length)];
  }
}

/**
 * Causal multi-head self-attention, like nanoGPT's CausalSelfAttention: x (B, T, C) -> (B, T, C).
 * With a KVCacheLayer, x holds only the new positions and attends to the cached ones too.
 *
 * @example
 * const attn = new CausalSelfAttention({ nEmbd: 64, nHead: 4 });
 * attn.call(ops.randn([2, 10, 64])).shape;  // [2, 10, 64]
 */
export class CausalSelfAttention extends Module<[x: Tensor, cache?: KVCacheLayer | null], Tensor> {
  readonly nEmbd: number;
  readonly nHead: number;
  readonly dropout: number;
  c_attn: Linear;
  c_proj: Linear;
  attn_dropout: Dropout;
  resid_dropout: Dropout;

  constructor(o: CausalSelfAttentionOptions) {
    super();
    const op = 'CausalSelfAttention';
    checkDim(op, 'nEmbd', o.nEmbd, false);
    checkDim(op, 'nHead', o.nHead, false);
    if (o.nEmbd % o.nHead !== 0) {
      throw new TensorslimError(op, `nHead ${o.nHead} does not divide nEmbd ${o.nEmbd}; choose a head count that divides the width (e.g. ${divisorsNear(o.nEmbd, o.nHead)})`);
    }
    const p = o.dropout ?? 0;
    if (!(p >= 0 && p < 1)) throw new TensorslimError(op, `dropout must be in [0, 1), got ${p}`);
    this.nEmbd = o.nEmbd;
    this.nHead = o.nHead;
    this.dropout = p;
    const lin = { bias: o.bias ?? true, dtype: o.dtype ?? 'float32' } as const;
    this.c_attn = new Linear(o.nEmbd, 3 * o.nEmbd, lin);
    this.c_proj = new Linear(o.nEmbd, o.nEmbd, lin);
    this.attn_dropout = new Dropout(p);
    this.resid_dropout = new Dropout(p);
  }

  forward(x: Tensor, cache: KVCacheLayer | null = null): Tensor {
    const c = this.nEmbd, h = this.nHead, d = c / h;
    if (x.ndim !== 3 || x.shape[2] !== c) {
      throw new ShapeError(`CausalSelfAttention(${c}, heads=${h})`, `expected x (batch, time, ${c}), got ${fmtShape(x.shape)}`);
    }
    const [b, t] = x.shape as [number, number];
    if (cache === null) {
      // training and full-context forward: q, k, v read in place from the packed c_attn output, one
      // recorded kernel whose gradient is the whole (B, T, 3C) at once
      const y = ops.packedSelfAttention(this.c_attn.call(x), h, { causal: true, dropout: this.dropout, training: this.training });
      return this.resid_dropout.call(this.c_proj.call(y));
    }
    // (B, T, 3C) viewed as (3, B, H, T, D): q, k, v are strided views of one buffer, no copies
    const qkv = ops.permute(ops.reshape(this.c_attn.call(x), [b, t, 3, h, d]), [2, 0, 3, 1, 4]);
    const part = (i: number): Tensor => ops.squeeze(ops.narrow(qkv, 0, i, 1), 0);
    let k = part(1), v = part(2);
    [k, v] = cache.append(k, v);
    const y = ops.scaledDotProductAttention(part(0), k, v, { causal: true, dropout: this.dropout, training: this.training });
    const merged = ops.reshape(ops.transpose(y, 1, 2), [b, t, c]);          // (B, T, H, D) -> (B, T, C)
    return this.resid_dropout.call(this.c_proj.call(merged));
  }

  override extraRepr(): string { return `nEmbd=${this.nEmbd}, nHead=${this.nHead}, dropout=${this.dropout}`; }
}

/** Head counts that divide `c`, nearest to `h` first (for the error message). */
function divisorsNear(c: number, h: number): string {
  const ds: number[] = [];
  for (let i = 1; i <= Math.min(c, 64); i++) if (c % i === 0) ds.push(i);
  return ds.sort((a, b) => Math.abs(a - h) - Math.abs(b - h)).slice(0, 3).join(', ');
}
