// A GPT-2 style decoder-only transformer (nanoGPT's model.py in TypeScript): token + position
// embeddings, nLayer pre-LayerNorm blocks (causal self-attention + GELU MLP 4x), a final LayerNorm
// and a linear LM head tied to the token embedding. Parameter names and initialization follow
// nanoGPT, so a PyTorch state_dict loads as is:
//
//   transformer.wte.weight (V, C), transformer.wpe.weight (blockSize, C),
//   transformer.h.<i>.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj}.{weight, bias},
//   transformer.ln_f.{weight, bias}, lm_head.weight (V, C) (the same tensor as wte.weight when tied)
//
// init: every Linear and Embedding weight ~ N(0, 0.02), biases 0, LayerNorm 1/0, and the residual
// projections (attn.c_proj, mlp.c_proj) ~ N(0, 0.02 / sqrt(2 nLayer)) (GPT-2 paper).
// Also here: the presets gpt-tiny and gpt-small, config validation, a key/value cache and sampling
// (temperature, top-k), and the language-modelling loss. This file builds and runs models only:
// no datasets, files or training loops.

import { Tensor } from '../core/tensor.js';
import { isGradEnabled, noGrad } from '../core/engine.js';
import { DTypeError, ShapeError, TensorslimError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { fmtShape } from '../backend/shape.js';
import type { FloatDType } from '../backend/dtype.js';
import * as ops from '../ops/index.js';
import {
  Block, Dropout, Embedding, KVCacheLayer, LayerNorm, Linear, Module, ModuleList, checkpoint, init, type AnyModule,
} from '../nn/index.js';

/** Everything needed to rebuild a GPT (stored in checkpoints). */
export interface GptConfig {
  readonly arch: 'gpt';
  /** Transformer blocks. */
  readonly nLayer: number;
  /** Model width C. */
  readonly nEmbd: number;
  /** Attention heads; must divide nEmbd. */
  readonly nHead: number;
  /** Longest context (positions of the position embedding). */
  readonly blockSize: number;
  /** Token ids are in [0, vocabSize). */
  readonly vocabSize: number;
  /** Dropout probability (embeddings, attention, residual branches). */
  readonly dropout: number;
  /** Biases in Linear and LayerNorm layers (GPT-2: true). */
  readonly bias: boolean;
  /** LM head shares the token embedding matrix (GPT-2: true). */
  readonly tieWeights: boolean;
  /** The MLP's GELU: absent or 'none' = exact (erf; nanoGPT), 'tanh' = GPT-2's gelu_new (Hugging Face checkpoints). */
  readonly gelu?: 'none' | 'tanh';
  /** Recompute each block's activations during backward instead of keeping them (less memory, ~1/3 more compute). */
  readonly checkpointing?: boolean;
  /** Preset name, when built from one. */
  readonly preset?: string;
}

/** Fields a caller may override in a preset. */
export type GptOverrides = Partial<Omit<GptConfig, 'arch' | 'preset'>>;

/** Names of the GPT presets. */
export type GptPresetName = 'gpt-tiny' | 'gpt-small';

/** A named GPT configuration. */
export interface GptPreset {
  readonly name: GptPresetName;
  readonly description: string;
  readonly config: GptConfig;
}

const BYTE_GPT = { arch: 'gpt', vocabSize: 256, dropout: 0, bias: true, tieWeights: true } as const;

/**
 * The GPT presets. Both are byte-level (vocabulary 256; override vocabSize for GPT-2 BPE).
 * gpt-tiny trains to well below the unigram entropy of English text in minutes on 2 cores;
 * gpt-small is the benchmark size (4 layers, width 256).
 */
export const GPT_PRESETS: readonly GptPreset[] = [
  {
    name: 'gpt-tiny',
    description: 'GPT, 4 layers, width 128, 4 heads, context 128, byte vocabulary (0.8 M parameters)',
    config: { ...BYTE_GPT, nLayer: 4, nEmbd: 128, nHead: 4, blockSize: 128, preset: 'gpt-tiny' },
  },
  {
    name: 'gpt-small',
    description: 'GPT, 4 layers, width 256, 4 heads, context 128, byte vocabulary (3.3 M parameters; the benchmark model)',
    config: { ...BYTE_GPT, nLayer: 4, nEmbd: 256, nHead: 4, blockSize: 128, preset: 'gpt-small' },
  },
];

function isPosInt(v: unknown): v is number { return typeof v === 'number' && Number.isInteger(v) && v > 0; }

/**
 * Check a GPT config; throws a TensorslimError naming the bad field and the fix.
 * @example validateGptConfig({ ...gptConfig('gpt-tiny'), nHead: 5 })  // throws: nHead 5 does not divide nEmbd 128
 */
export function validateGptConfig(c: unknown): asserts c is GptConfig {
  const op = 'gptConfig';
  if (c === null || typeof c !== 'object') throw new TensorslimError(op, `expected a config object, got ${c === null ? 'null' : typeof c}`);
  const o = c as Record<string, unknown>;
  if (o['arch'] !== 'gpt') throw new TensorslimError(op, `arch must be 'gpt', got ${JSON.stringify(o['arch'])}`);
  for (const k of ['nLayer', 'nEmbd', 'nHead', 'blockSize', 'vocabSize']) {
    if (!isPosInt(o[k])) throw new TensorslimError(op, `${k} must be a positive integer, got ${JSON.stringify(o[k])}`);
  }
  const nEmbd = o['nEmbd'] as number, nHead = o['nHead'] as number;
  if (nEmbd % nHead !== 0) {
    throw new TensorslimError(op, `nHead ${nHead} does not divide nEmbd ${nEmbd}: each head gets nEmbd / nHead features; pick nHead among the divisors of ${nEmbd}`);
  }
  const p = o['dropout'];
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new TensorslimError(op, `dropout must be in [0, 1), got ${JSON.stringify(p)}`);
  for (const k of ['bias', 'tieWeights']) if (typeof o[k] !== 'boolean') throw new TensorslimError(op, `${k} must be true or false, got ${JSON.stringify(o[k])}`);
  if (o['checkpointing'] !== undefined && typeof o['checkpointing'] !== 'boolean') throw new TensorslimError(op, 'checkpointing must be true or false');
  if (o['gelu'] !== undefined && o['gelu'] !== 'none' && o['gelu'] !== 'tanh') throw new TensorslimError(op, `gelu must be 'none' (erf) or 'tanh', got ${JSON.stringify(o['gelu'])}`);
  if (o['preset'] !== undefined && typeof o['preset'] !== 'string') throw new TensorslimError(op, 'preset must be a string');
}

/**
 * The config of GPT preset `name` with `overrides` applied (validated).
 * @example gptConfig('gpt-tiny', { dropout: 0.1 }).nLayer  // 4
 */
export function gptConfig(name: string, overrides: GptOverrides = {}): GptConfig {
  const p = GPT_PRESETS.find((q) => q.name === name);
  if (p === undefined) throw new TensorslimError('gptConfig', `unknown GPT preset '${name}'; presets: ${GPT_PRESETS.map((q) => q.name).join(', ')}`);
  const allowed = new Set([...Object.keys(p.config), 'checkpointing', 'gelu'].filter((k) => k !== 'arch' && k !== 'preset'));
  for (const k of Object.keys(overrides)) {
    if (!allowed.has(k)) throw new TensorslimError('gptConfig', `GPT has no setting '${k}'; settings: ${[...allowed].join(', ')}`);
  }
  const c = { ...p.config, ...overrides };
  validateGptConfig(c);
  return c;
}

/** The embeddings, blocks and final norm, under nanoGPT's `transformer.*` names. */
class GptTransformer extends Module<never[], never> {
  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: ModuleList<Block>;
  ln_f: LayerNorm;
  constructor(c: GptConfig, dtype: FloatDType) {
    super();
    this.wte = new Embedding(c.vocabSize, c.nEmbd, { dtype });
    this.wpe = new Embedding(c.blockSize, c.nEmbd, { dtype });
    this.drop = new Dropout(c.dropout);
    const o = { nEmbd: c.nEmbd, nHead: c.nHead, dropout: c.dropout, bias: c.bias, dtype, gelu: c.gelu ?? 'none' };
    this.h = new ModuleList(Array.from({ length: c.nLayer }, () => new Block(o)));
    this.ln_f = new LayerNorm(c.nEmbd, { bias: c.bias, dtype });
  }
  forward(): never { throw new TensorslimError('GPT.transformer', 'has no forward(); call the GPT'); }
}

/**
 * Key/value caches of every layer of a GPT, for incremental decoding (see GPT.generate).
 * @example
 * const cache = new KVCache(model, 1);
 * noGrad(() => { model.call(prompt, cache); model.call(nextToken, cache); });   // the second call costs one position
 */
export class KVCache {
  readonly layers: KVCacheLayer[];
  constructor(model: GPT, batch: number, dtype: FloatDType = model.dtype) {
    const c = model.config;
    this.layers = Array.from({ length: c.nLayer }, () => new KVCacheLayer(batch, c.nHead, c.blockSize, c.nEmbd / c.nHead, dtype));
  }
  /** Positions cached (the position of the next token). */
  get length(): number { return this.layers[0]?.length ?? 0; }
  get capacity(): number { return this.layers[0]?.capacity ?? 0; }
  get batch(): number { return this.layers[0]?.batch ?? 0; }
  /** Forget the cached positions. @example cache.reset() */
  reset(): void { for (const l of this.layers) l.reset(); }
}

/** Options of GPT.generate. */
export interface GenerateOptions {
  /** Divides the logits; 0 picks the most likely token (greedy). Default 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens. Default: all. */
  topK?: number;
  /** Source of the samples (default: the default generator). */
  generator?: Generator;
  /** Use a key/value cache (default true): each new token then costs one position, not the whole context. */
  useCache?: boolean;
  /** Called with each new token of every sequence (token ids of batch rows 0..B-1), as it is drawn. */
  onToken?: (tokens: readonly number[], step: number) => void;
}

/**
 * GPT language model: int32 token ids (B, T) -> logits (B, T, vocabSize).
 *
 * @example
 * manualSeed(0);
 * const model = new GPT(gptConfig('gpt-tiny'));
 * const logits = model.call(ops.tensor([[72, 105]], { dtype: 'int32' }));   // (1, 2, 256)
 * const loss = gptLoss(logits, targets);
 */
export class GPT extends Module<[idx: Tensor, cache?: KVCache | null], Tensor> {
  readonly config: GptConfig;
  readonly dtype: FloatDType;
  transformer: GptTransformer;
  lm_head: Linear;

  constructor(config: GptConfig, opts: { dtype?: FloatDType } = {}) {
    super();
    validateGptConfig(config);
    this.config = Object.freeze({ ...config });
    this.dtype = opts.dtype ?? 'float32';
    this.transformer = new GptTransformer(config, this.dtype);
    this.lm_head = new Linear(config.nEmbd, config.vocabSize, { bias: false, dtype: this.dtype });
    this.resetParameters();
    if (config.tieWeights) this.lm_head.weight = this.transformer.wte.weight;
  }

  /** nanoGPT's init (see the file header), drawn from the default generator. @example model.resetParameters() */
  resetParameters(): void {
    const std = 0.02, projStd = 0.02 / Math.sqrt(2 * this.config.nLayer);
    for (const [name, m] of this.namedModules()) {
      if (m instanceof Linear) {
        init.normal_(m.weight, 0, name.endsWith('c_proj') ? projStd : std);
        if (m.bias) init.zeros_(m.bias);
      } else if (m instanceof Embedding) {
        init.normal_(m.weight, 0, std);
      }
    }
  }

  /** Parameters, counting a tied matrix once; without the position embedding when `nonEmbedding` (nanoGPT's count). @example createGpt('gpt-small').countParameters(false) // 3257856 */
  countParameters(nonEmbedding = true): number {
    const n = this.numParameters();
    return nonEmbedding ? n - this.transformer.wpe.weight.size : n;
  }

  /**
   * Logits (B, T, vocabSize) for token ids idx (B, T), int32. With a cache, idx holds the tokens
   * after the cached ones (positions cache.length ...), and the cache is extended by them.
   */
  forward(idx: Tensor, cache: KVCache | null = null): Tensor {
    return this.lm_head.call(this.hiddenStates(idx, cache));
  }

  /**
   * The final hidden states (B, T, nEmbd), after `ln_f` and before the LM head: what forward()
   * multiplies by the head. Generation uses it to run the head (vocabSize x nEmbd, most of a small
   * model's weights) on the last position only. Same arguments and checks as forward().
   * @example const h = model.hiddenStates(idx);   // (B, T, C)
   */
  hiddenStates(idx: Tensor, cache: KVCache | null = null): Tensor {
    const c = this.config;
    const op = 'GPT';
    if (!(idx instanceof Tensor)) throw new TensorslimError(op, 'idx must be a Tensor of token ids');
    if (idx.dtype !== 'int32') {
      throw new DTypeError(op, idx.dtype === 'float32' || idx.dtype === 'float64'
        ? `a GPT reads int32 token ids (batch, time), got ${idx.dtype} ${fmtShape(idx.shape)}: images or features do not fit a language model (it trains and evaluates on text: tensorslim train --model gpt-tiny --dataset sotu); for token ids stored as floats, convert with ops.to(idx, 'int32')`
        : `token ids must be int32, got ${idx.dtype}; convert with ops.to(idx, 'int32')`);
    }
    if (idx.ndim !== 2 || idx.shape[1] === 0) throw new ShapeError(op, `token ids must be (batch, time) with time >= 1, got ${fmtShape(idx.shape)}`);
    const [b, t] = idx.shape as [number, number];
    const pos0 = cache ? cache.length : 0;
    if (pos0 + t > c.blockSize) {
      throw new ShapeError(op, cache && pos0 > 0
        ? `${pos0} cached + ${t} new tokens exceed the context length blockSize ${c.blockSize}; reset the cache or feed the last ${c.blockSize} tokens`
        : `the sequence has ${t} tokens but the model's context length (blockSize) is ${c.blockSize}; crop it to the last ${c.blockSize} tokens`);
    }
    if (cache && cache.batch !== b) throw new ShapeError(op, `the cache was made for batch ${cache.batch}, got token ids ${fmtShape(idx.shape)}`);
    const ids = idx.dataSync();
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      if (v < 0 || v >= c.vocabSize) {
        throw new TensorslimError(op, `token id ${v} at (${Math.floor(i / t)}, ${i % t}) is outside the vocabulary [0, ${c.vocabSize}); was the text encoded with this model's tokenizer?`);
      }
    }
    const tr = this.transformer;
    const pos = ops.arange(pos0, pos0 + t, 1, { dtype: 'int32' });
    let x = tr.drop.call(ops.add(tr.wte.call(idx), tr.wpe.call(pos)));       // (B, T, C)
    const recompute = (c.checkpointing ?? false) && this.training && cache === null && isGradEnabled();
    let i = 0;
    for (const block of tr.h) {
      // plain checkpoint, not checkpointWith({ stateless }): pooling the blocks' forward temporaries
      // left V8 less allocation to react to, so the previous step's dropped gradients were
      // collected later and the peak rose (2.79 vs 2.65 GB at GPT-2's size: docs/GPT.md)
      x = recompute ? checkpoint((h) => block.call(h), x) : block.call(x, cache ? cache.layers[i]! : null);
      i++;
    }
    return tr.ln_f.call(x);
  }

  /**
   * Mean next-token cross-entropy (nats) of this model on token ids idx (B, T) against int32
   * targets (B, T): the value and gradients of gptLoss(model.call(idx), targets), with the LM head
   * fused into the loss (ops.linearCrossEntropy), so the (B, T, vocabSize) logits and their
   * gradient are never materialized whole (for GPT-2's vocabulary at 4 x 256 tokens, 206 MB each).
   * Falls back to gptLoss(model.call(idx), targets) when hooks are registered on the model or its
   * head, or the head is not a bias-free Linear.
   * @example const loss = model.loss(x, y); loss.backward();
   */
  loss(idx: Tensor, targets: Tensor): Tensor {
    const head = this.lm_head;
    if (this.hasForwardHooks || !(head instanceof Linear) || head.hasForwardHooks || head.bias) return gptLoss(this.call(idx), targets);
    if (targets.ndim !== 2 || idx.ndim !== 2 || targets.shape[0] !== idx.shape[0] || targets.shape[1] !== idx.shape[1]) {
      throw new ShapeError('GPT.loss', `expected token ids (B, T) and targets (B, T) of the same shape, got ${fmtShape(idx.shape)} and ${fmtShape(targets.shape)}`);
    }
    return ops.linearCrossEntropy(this.hiddenStates(idx), head.weight, targets);
  }

  /**
   * Extend each row of idx (B, T) by `maxNewTokens` sampled tokens (eval mode, no gradients).
   * Returns (B, T + maxNewTokens) int32. Once the context is full, the cache restarts from the last
   * blockSize / 2 tokens (positions must shift), so most tokens still cost one position; without
   * the cache every token re-reads the last blockSize tokens (nanoGPT's sampling).
   *
   * @example
   * const out = model.generate(ops.tensor([[72]], { dtype: 'int32' }), 50, { temperature: 0.8, topK: 40 });
   */
  generate(idx: Tensor, maxNewTokens: number, opts: GenerateOptions = {}): Tensor {
    const op = 'GPT.generate';
    const c = this.config;
    const temperature = opts.temperature ?? 1;
    if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new TensorslimError(op, `temperature must be >= 0, got ${temperature}`);
    const topK = opts.topK;
    if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) throw new TensorslimError(op, `topK must be a positive integer, got ${topK}`);
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new TensorslimError(op, `maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
    if (idx.dtype !== 'int32' || idx.ndim !== 2 || idx.shape[1] === 0) {
      throw new ShapeError(op, `the prompt must be int32 token ids (batch, time) with time >= 1, got ${idx.dtype} ${fmtShape(idx.shape)}`);
    }
    const gen = opts.generator ?? defaultGenerator;
    const [b, t0] = idx.shape as [number, number];
    const rows: number[][] = [];
    const flat = idx.dataSync();
    for (let r = 0; r < b; r++) rows.push(Array.from(flat.subarray(r * t0, (r + 1) * t0)));
    const useCache = opts.useCache ?? true;
    const wasTraining = this.training;
    this.eval();
    try {
      noGrad(() => {
        const cache = useCache ? new KVCache(this, b) : null;
        const feed = (from: number): Tensor => {
          const n = rows[0]!.length - from;
          const d = new Int32Array(b * n);
          rows.forEach((row, r) => d.set(row.slice(from), r * n));
          return new Tensor(d, 'int32', [b, n]);
        };
        // logits of the last position, (B, V) flattened: the LM head runs on that position only
        const nextLogits = (ids: Tensor, kv: KVCache | null = null): Float32Array | Float64Array => {
          const h = this.hiddenStates(ids, kv);
          return this.lm_head.call(ops.narrow(h, 1, h.shape[1]! - 1, 1)).dataSync() as Float32Array | Float64Array;
        };
        let logits = nextLogits(feed(Math.max(0, t0 - c.blockSize)), cache);
        for (let step = 0; step < maxNewTokens; step++) {
          const next = rows.map((row, r) => {
            const tok = sampleToken(logits.subarray(r * c.vocabSize, (r + 1) * c.vocabSize), temperature, topK, gen);
            row.push(tok);
            return tok;
          });
          opts.onToken?.(next, step);
          if (step + 1 === maxNewTokens) break;
          const len = rows[0]!.length;
          if (cache === null) logits = nextLogits(feed(Math.max(0, len - c.blockSize)));
          else if (cache.length < c.blockSize) logits = nextLogits(feed(len - 1), cache);
          else {
            cache.reset();
            logits = nextLogits(feed(len - Math.max(1, Math.floor(c.blockSize / 2))), cache);
          }
        }
      });
    } finally {
      this.train(wasTraining);
    }
    const out = new Int32Array(b * (t0 + maxNewTokens));
    rows.forEach((row, r) => out.set(row, r * (t0 + maxNewTokens)));
    return new Tensor(out, 'int32', [b, t0 + maxNewTokens]);
  }

  override extraRepr(): string {
    const c = this.config;
    return `nLayer=${c.nLayer}, nEmbd=${c.nEmbd}, nHead=${c.nHead}, blockSize=${c.blockSize}, vocabSize=${c.vocabSize}, tieWeights=${c.tieWeights}`;
  }
}

/**
 * Draw one token from a row of logits: greedy at temperature 0, else softmax(logits / T) restricted
 * to the top k.
 * @example sampleToken(new Float32Array([0, 5, 1]), 0)  // 1
 */
export function sampleToken(logits: ArrayLike<number>, temperature = 1, topK?: number, generator: Generator = defaultGenerator): number {
  const n = logits.length;
  let best = 0;
  for (let i = 1; i < n; i++) if (logits[i]! > logits[best]!) best = i;
  if (temperature === 0 || topK === 1) return best;
  let cut = -Infinity;
  if (topK !== undefined && topK < n) cut = [...Array.from(logits)].sort((a, b) => b - a)[topK - 1]!;
  const m = logits[best]!;
  const w = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    const v = logits[i]!;
    w[i] = v >= cut ? Math.exp((v - m) / temperature) : 0;
    s += w[i]!;
  }
  let u = generator.uniform() * s;
  for (let i = 0; i < n; i++) { u -= w[i]!; if (u < 0 && w[i]! > 0) return i; }
  return best;
}

/**
 * Mean next-token cross-entropy (nats) of logits (B, T, V) against int32 targets (B, T).
 * @example const loss = gptLoss(model.call(x), y); loss.backward();
 */
export function gptLoss(logits: Tensor, targets: Tensor): Tensor {
  const op = 'gptLoss';
  if (logits.ndim !== 3 || targets.ndim !== 2 || logits.shape[0] !== targets.shape[0] || logits.shape[1] !== targets.shape[1]) {
    throw new ShapeError(op, `expected logits (B, T, V) and targets (B, T), got ${fmtShape(logits.shape)} and ${fmtShape(targets.shape)}`);
  }
  const v = logits.shape[2]!;
  return ops.softmaxCrossEntropy(ops.reshape(logits, [-1, v]), ops.reshape(targets, [-1]));
}

/**
 * Loss function for the Trainer on [x, y] token batches: gptLoss(model(x), y) (for a GPT,
 * model.loss(x, y): the same value and gradients with the LM head fused into the loss). With
 * `accumulationSteps` k > 1 the batch is split into k micro-batches along the batch axis; the
 * first k - 1 are backpropagated here, and the last is returned (the Trainer backpropagates it), so
 * the gradient equals that of the whole batch while only one micro-batch's activations are alive.
 * The returned value is the mean loss over all micro-batches.
 *
 * @example
 * new Trainer({ model, optimizer, trainLoader, lossFn: lmLossFn({ accumulationSteps: 4 }) });
 */
export function lmLossFn(opts: { accumulationSteps?: number } = {}): (model: AnyModule, batch: unknown) => Tensor {
  const k = opts.accumulationSteps ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new TensorslimError('lmLossFn', `accumulationSteps must be a positive integer, got ${k}`);
  return (model, batch) => {
    const [x, y] = splitTokenBatch(batch);
    const m = model as Module<[Tensor], Tensor>;
    const b = x.shape[0]!;
    const lossOf = (xs: Tensor, ys: Tensor): Tensor => (model instanceof GPT ? model.loss(xs, ys) : gptLoss(m.call(xs), ys));
    if (k === 1) return lossOf(x, y);
    if (b % k !== 0) throw new TensorslimError('lmLossFn', `batch size ${b} is not divisible by accumulationSteps ${k}`);
    const mb = b / k;
    let earlier = 0;
    for (let i = 0; i < k - 1; i++) {
      const loss = ops.mul(lossOf(ops.narrow(x, 0, i * mb, mb), ops.narrow(y, 0, i * mb, mb)), 1 / k);
      earlier += loss.item();
      loss.backward();
    }
    const last = ops.mul(lossOf(ops.narrow(x, 0, (k - 1) * mb, mb), ops.narrow(y, 0, (k - 1) * mb, mb)), 1 / k);
    return ops.add(last, earlier);   // the constant carries the earlier micro-batches' loss, not their gradient
  };
}

function splitTokenBatch(batch: unknown): [Tensor, Tensor] {
  if (Array.isArray(batch) && batch.length >= 2 && batch[0] instanceof Tensor && batch[1] instanceof Tensor) return [batch[0], batch[1]];
  throw new TensorslimError('lmLossFn', 'a language-model batch must be [x, y]: int32 token ids (B, T) and next-token targets (B, T)');
}

/**
 * nanoGPT's AdamW parameter groups: weight decay on matrices (every parameter with 2+ dims:
 * Linear weights and embeddings), none on biases and LayerNorm parameters.
 * @example new AdamW(gptParamGroups(model, 0.1), { lr: 6e-4, betas: [0.9, 0.95] })
 */
export function gptParamGroups(model: AnyModule, weightDecay: number): [{ params: Tensor[]; weightDecay: number }, { params: Tensor[]; weightDecay: number }] {
  const decay: Tensor[] = [], noDecay: Tensor[] = [];
  for (const p of model.parameters()) (p.ndim >= 2 ? decay : noDecay).push(p);
  return [{ params: decay, weightDecay }, { params: noDecay, weightDecay: 0 }];
}

/**
 * Build a GPT from a preset name or a config.
 * @example const model = createGpt('gpt-tiny', { dropout: 0.1 });
 */
export function createGpt(nameOrConfig: string | GptConfig, overrides: GptOverrides = {}, opts: { dtype?: FloatDType } = {}): GPT {
  const config = typeof nameOrConfig === 'string' ? gptConfig(nameOrConfig, overrides) : { ...nameOrConfig, ...overrides };
  return new GPT(config, opts);
}
