// Tensor parallelism in the style of Megatron-LM (Shoeybi et al. 2019): one layer's weight split
// across the ranks of a group, every rank seeing the same input batch.
//
//   ColumnParallelLinear  W (out, in) split by output rows: rank r computes its slice of the output
//                         features. Its input passes through f = copyToParallel: identity forward,
//                         all-reduce (sum) of the input's gradient in backward (each rank only sees
//                         its slice's contribution to dL/dx).
//   RowParallelLinear     W split by input columns: rank r multiplies its slice of the features
//                         and g = reduceFromParallel all-reduces (sums) the partial outputs in
//                         forward; its backward is the identity. The bias is added once, after g.
//   MLP:       c_fc column-parallel -> GELU on the local slice -> c_proj row-parallel: one
//              all-reduce forward (g) and one backward (f) per MLP.
//   Attention: c_attn column-parallel with the rows of this rank's heads (their q, k and v rows),
//              attention over the local heads, c_proj row-parallel over those heads' features.
// Replicated parameters (LayerNorms, embeddings, the row-parallel bias) get identical gradients on
// every rank, since every rank computes the same activations outside the split layers.
//
// Autograd runs synchronously, so f's backward and g's forward use the group's blocking
// allReduceSync (queued on the communication thread behind earlier collectives). The two gradient
// rules ('tpCopyToParallel', 'tpReduceFromParallel') are registered on first use.

import { Tensor } from '../core/tensor.js';
import { isGradEnabled, noGrad, record } from '../core/engine.js';
import { defineGrad, getGradRule } from '../autograd/index.js';
import * as ops from '../ops/index.js';
import { F, Block, CausalSelfAttention, Dropout, KVCacheLayer, Linear, MLP, Module, Parameter, type AnyModule } from '../nn/index.js';
import { defaultGroup, type ProcessGroup } from './process_group.js';

const COPY = 'tpCopyToParallel';
const REDUCE = 'tpReduceFromParallel';

function ensureRules(): void {
  if (getGradRule(COPY) !== undefined) return;
  defineGrad(COPY, {
    grad: (dy, c) => {
      const g = noGrad(() => ops.clone(dy));
      (c.attrs['group'] as ProcessGroup).allReduceSync(g, 'sum');
      return [g];
    },
  });
  defineGrad(REDUCE, { grad: (dy) => [dy] });
}

/**
 * Megatron's f: the identity in forward; in backward the gradient is summed over the group's ranks.
 * Put it where a replicated tensor enters rank-local computation (a column-parallel layer's input).
 * @example const y = F.linear(copyToParallel(x, pg), wShard, bShard);
 */
export function copyToParallel(x: Tensor, group: ProcessGroup = defaultGroup('copyToParallel')): Tensor {
  if (!isGradEnabled() || !x.requiresGrad) return x;
  ensureRules();
  const out = new Tensor(x.data, x.dtype, x.shape, x.strides, x.offset);
  return record(COPY, [x], out, { group });
}

/**
 * Megatron's g: sums `x` over the group's ranks in forward (blocking); the identity in backward.
 * Put it where rank-local partial results become a replicated tensor (a row-parallel layer's output).
 * @example const y = reduceFromParallel(F.linear(xShard, wShard), pg);
 */
export function reduceFromParallel(x: Tensor, group: ProcessGroup = defaultGroup('reduceFromParallel')): Tensor {
  const y = noGrad(() => ops.clone(x));
  group.allReduceSync(y, 'sum');
  if (!isGradEnabled() || !x.requiresGrad) return y;
  ensureRules();
  return record(REDUCE, [x], y, {});
}

function checkSplit(op: string, what: string, n: number, world: number): void {
  if (n % world !== 0) throw new Error(`${op}: ${what} ${n} is not divisible by the tensor-parallel world size ${world}; pick sizes that divide evenly`);
}

function rowsOf(w: Tensor, rows: readonly number[]): Tensor {
  return noGrad(() => ops.clone(ops.indexSelect(w, 0, ops.tensor(rows, { dtype: 'int32' }))));
}

function blockRows(rank: number, world: number, n: number): number[] {
  const k = n / world;
  return Array.from({ length: k }, (_, i) => rank * k + i);
}

// The parameters of a column- or row-parallel Linear: this rank's part of the weight and bias.
abstract class ParallelLinearBase extends Module<[x: Tensor], Tensor> {
  declare weight: Parameter;
  declare bias: Parameter | null;
  constructor(weight: Tensor, bias: Tensor | null, readonly group: ProcessGroup) {
    super();
    this.registerParameter('weight', new Parameter(weight));
    this.registerParameter('bias', bias === null ? null : new Parameter(bias));
  }
}

/**
 * A Linear whose output features are split across the group: rank r holds rows `rows` of the full
 * weight (default: the r-th contiguous block) and returns those output features. Build it from the
 * full layer (every rank passes the same one) with `fromLinear`.
 * @example const fc = ColumnParallelLinear.fromLinear(new Linear(64, 256), { group: pg }); // weight (256 / N, 64)
 */
export class ColumnParallelLinear extends ParallelLinearBase {

  /** This rank's share of `linear` (rows `rows`, default the rank's contiguous block of outFeatures / N). */
  static fromLinear(linear: Linear, opts: { group?: ProcessGroup; rows?: readonly number[] } = {}): ColumnParallelLinear {
    const group = opts.group ?? defaultGroup('ColumnParallelLinear');
    checkSplit('ColumnParallelLinear', 'outFeatures', linear.outFeatures, group.worldSize);
    const rows = opts.rows ?? blockRows(group.rank, group.worldSize, linear.outFeatures);
    return new ColumnParallelLinear(rowsOf(linear.weight, rows), linear.bias === null ? null : rowsOf(linear.bias, rows), group);
  }

  forward(x: Tensor): Tensor {
    return F.linear(copyToParallel(x, this.group), this.weight, this.bias, `ColumnParallelLinear(rank ${this.group.rank} of ${this.group.worldSize})`);
  }
}

/**
 * A Linear whose input features are split across the group: rank r holds columns
 * [r * in / N, (r + 1) * in / N) of the full weight, takes that slice of the input (as a
 * column-parallel layer leaves it), and the partial outputs are summed over ranks; the bias is
 * added once after the sum. Every rank returns the full output.
 * @example const proj = RowParallelLinear.fromLinear(new Linear(256, 64), { group: pg }); // weight (64, 256 / N)
 */
export class RowParallelLinear extends ParallelLinearBase {

  /** This rank's share of `linear`: its block of inFeatures / N input columns (the bias whole). */
  static fromLinear(linear: Linear, opts: { group?: ProcessGroup } = {}): RowParallelLinear {
    const group = opts.group ?? defaultGroup('RowParallelLinear');
    checkSplit('RowParallelLinear', 'inFeatures', linear.inFeatures, group.worldSize);
    const k = linear.inFeatures / group.worldSize;
    const w = noGrad(() => ops.clone(ops.narrow(linear.weight, 1, group.rank * k, k)));
    return new RowParallelLinear(w, linear.bias === null ? null : noGrad(() => ops.clone(linear.bias!)), group);
  }

  forward(x: Tensor): Tensor {
    const y = reduceFromParallel(F.linear(x, this.weight, null, `RowParallelLinear(rank ${this.group.rank} of ${this.group.worldSize})`), this.group);
    return this.bias === null ? y : ops.add(y, this.bias);
  }
}

/**
 * The transformer MLP split across the group: c_fc column-parallel, GELU, c_proj row-parallel,
 * dropout. One all-reduce in forward and one in backward.
 * @example block.mlp = TensorParallelMLP.fromMLP(block.mlp, { group: pg });
 */
export class TensorParallelMLP extends Module<[x: Tensor], Tensor> {
  constructor(readonly c_fc: ColumnParallelLinear, readonly c_proj: RowParallelLinear, readonly dropout: Dropout, readonly approximate: 'none' | 'tanh' = 'none') {
    super();
  }

  /** This rank's share of `mlp` (the hidden width 4C must divide by the world size). */
  static fromMLP(mlp: MLP, opts: { group?: ProcessGroup } = {}): TensorParallelMLP {
    return new TensorParallelMLP(ColumnParallelLinear.fromLinear(mlp.c_fc, opts), RowParallelLinear.fromLinear(mlp.c_proj, opts), mlp.dropout, mlp.approximate);
  }

  forward(x: Tensor): Tensor {
    return this.dropout.call(this.c_proj.call(ops.gelu(this.c_fc.call(x), { approximate: this.approximate })));
  }
}

/**
 * Causal self-attention with its heads split across the group: rank r computes heads
 * [r * H / N, (r + 1) * H / N) (c_attn column-parallel over those heads' q, k and v rows) and
 * c_proj is row-parallel over their features. Training only: no key/value cache.
 * @example block.attn = TensorParallelAttention.fromAttention(block.attn, { group: pg });
 */
export class TensorParallelAttention extends Module<[x: Tensor, cache?: KVCacheLayer | null], Tensor> {
  constructor(
    readonly c_attn: ColumnParallelLinear, readonly c_proj: RowParallelLinear, readonly localHeads: number,
    readonly attnDropout: number, readonly resid_dropout: Dropout,
  ) {
    super();
  }

  /** This rank's heads of `attn` (nHead must divide by the world size). */
  static fromAttention(attn: CausalSelfAttention, opts: { group?: ProcessGroup } = {}): TensorParallelAttention {
    const group = opts.group ?? defaultGroup('TensorParallelAttention');
    checkSplit('TensorParallelAttention', 'nHead', attn.nHead, group.worldSize);
    const c = attn.nEmbd;
    const local = blockRows(group.rank, group.worldSize, c); // this rank's heads' features
    const rows = [0, 1, 2].flatMap((part) => local.map((i) => part * c + i)); // their q, k, v rows
    return new TensorParallelAttention(ColumnParallelLinear.fromLinear(attn.c_attn, { group, rows }), RowParallelLinear.fromLinear(attn.c_proj, { group }),
      attn.nHead / group.worldSize, attn.dropout, attn.resid_dropout);
  }

  forward(x: Tensor, cache: KVCacheLayer | null = null): Tensor {
    if (cache !== null) throw new Error('TensorParallelAttention: the key/value cache is not supported; generate with the unsplit model');
    const y = ops.packedSelfAttention(this.c_attn.call(x), this.localHeads, { causal: true, dropout: this.attnDropout, training: this.training });
    return this.resid_dropout.call(this.c_proj.call(y));
  }
}

/**
 * Splits every transformer block of `model` (a GPT, or any module holding `Block`s) across the
 * group in place: each block's attention and MLP become their tensor-parallel versions, built from
 * the current weights (every rank must start from the same weights). Returns the number of blocks.
 * @example const gpt = createGpt('gpt-tiny'); parallelizeTransformer(gpt, { group: pg });
 */
export function parallelizeTransformer(model: AnyModule, opts: { group?: ProcessGroup } = {}): number {
  const group = opts.group ?? defaultGroup('parallelizeTransformer');
  let n = 0;
  for (const m of model.modules()) {
    if (!(m instanceof Block)) continue;
    const attn = TensorParallelAttention.fromAttention(m.attn, { group });
    const mlp = TensorParallelMLP.fromMLP(m.mlp, { group });
    m.deleteModule('attn');
    m.registerModule('attn', attn);
    m.deleteModule('mlp');
    m.registerModule('mlp', mlp);
    n++;
  }
  return n;
}
