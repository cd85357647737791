// Language-model training of a GPT through the shared Trainer: a text corpus by name or path
// ('sotu', 'moby-dick', a file), byte or GPT-2 tokens, random training windows (nanoGPT's
// get_batch), AdamW with nanoGPT's weight-decay groups, cosine schedule with warmup, gradient
// clipping, gradient accumulation, optional activation recomputation, held-out loss and bits per
// byte after every `evalInterval` steps, checkpoints that resume exactly (the window sampler's state
// rides along as a named callback), and the peak resident memory of the run.
// GPT checkpoints keep the model config in metadata extra.gpt (io's `config` names the preset
// models of models/presets.ts); loadGptCheckpoint rebuilds the model from either.

import { TensorslimError } from '../core/errors.js';
import { manualSeed } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import { AdamW, CosineWithWarmupLR } from '../optim/index.js';
import { GPT, GPT_PRESETS, gptConfig, gptLoss, gptParamGroups, lmLossFn, validateGptConfig, type GptConfig, type GptOverrides } from '../models/gpt.js';
import { modelFromConfig } from '../models/presets.js';
import { loadDataset, RandomWindowSampler, TokenDataset, getTokenizer, type LanguageModelingData, type RandomWindowState, type Tokenizer } from '../data/index.js';
import { checkDeclaredGptSize, loadCheckpoint, type Checkpoint } from '../io/index.js';
import type { Callback, EpochMetrics, EvalMetrics, FitResult } from './callbacks.js';
import { checkpointSaver, loadTrainingCheckpoint } from './trainer_state.js';
import { evaluate, type LossOutput } from './evaluate.js';
import { Trainer, type EpochAccumulators, type TrainLoader } from './trainer.js';
import type { DataParallel } from './parallel.js';

/** Options of runGptTraining. */
export interface GptTrainingOptions {
  /** GPT preset ('gpt-tiny', 'gpt-small'); optional with `resume`. */
  model?: string;
  modelOverrides?: GptOverrides;
  /** Corpus name ('sotu', 'moby-dick'), a text file path, or data already loaded. */
  dataset: string | LanguageModelingData;
  /** 'byte' (default) or 'gpt2'. A GPT-2 tokenizer sets the preset's vocabSize to 50257. */
  tokenizer?: string;
  /** Total optimizer steps (default 1000). */
  steps?: number;
  /** Windows per optimizer step (default 16). */
  batchSize?: number;
  /** Split each batch into this many micro-batches, accumulating gradients (default 1). */
  accumulationSteps?: number;
  /** Window length (default: the model's blockSize). */
  contextLength?: number;
  /** Peak learning rate (default 1e-3), reached after `warmupSteps` (default 5% of the steps), then cosine to `minLr` (default lr / 10). */
  lr?: number;
  minLr?: number;
  warmupSteps?: number;
  /** AdamW decoupled weight decay on matrices (default 0.1). */
  weightDecay?: number;
  /** Clip the global gradient norm (default 1; null for none). */
  gradClipNorm?: number | null;
  /** Evaluate the held-out loss every this many steps (default 200; also at the end). */
  evalInterval?: number;
  /** Held-out windows per evaluation (default 256, evenly spaced over the test split; 0 = all). */
  evalWindows?: number;
  /** Seeds the weights, dropout and the window sampler (default 0). */
  seed?: number;
  /** Checkpoint written after every evaluation (safetensors, atomic). */
  out?: string;
  /** Continue exactly from a checkpoint written with `out`. */
  resume?: string;
  callbacks?: readonly Callback<Tensor[]>[];
  /** Sees the built objects before training. */
  onStart?: (plan: GptTrainingPlan) => void;
  /**
   * Train data-parallel over the launched ranks (distributed.dataParallel()): every rank draws the
   * same global batch of `batchSize` windows and trains on its slice; only rank 0 writes `out`.
   */
  parallel?: DataParallel | null;
}

/** What runGptTraining is about to do. */
export interface GptTrainingPlan {
  model: GPT;
  config: GptConfig;
  data: LanguageModelingData;
  trainer: Trainer<Tensor[]>;
  params: number;
  contextLength: number;
  batchSize: number;
  /** Ranks training data-parallel (1 without `parallel`). */
  worldSize: number;
  resumedFrom: string | null;
}

/** One evaluation on the held-out text. */
export interface LmEval {
  step: number;
  /** Seconds since training started (wall clock, evaluations included). */
  seconds: number;
  /** Mean next-token cross-entropy, nats per token. */
  loss: number;
  /** The same loss in bits per byte of text (loss / ln 2 * tokens / bytes of the test split). */
  bitsPerByte: number;
}

/** What runGptTraining returns. */
export interface GptTrainingResult {
  model: GPT;
  config: GptConfig;
  fit: FitResult;
  /** Held-out loss after training (nats per token) and in bits per byte. */
  valLoss: number;
  valBitsPerByte: number;
  /** Held-out evaluations during training (the curve). */
  curve: LmEval[];
  /** Training throughput: tokens per second of training time (evaluation excluded). */
  tokensPerSecond: number;
  /** Peak resident set size of this process so far, bytes. */
  peakRssBytes: number;
  params: number;
  dataset: string;
  tokenizer: string;
  out: string | null;
  resumedFrom: string | null;
}

/**
 * Zeroth-order (unigram) entropy of a token stream, in bits per token: what a model that ignores
 * context can at best reach. A language model's loss / ln 2 must fall clearly below it.
 * @example unigramEntropyBits(new ByteTokenizer().encode('abab'))  // 1
 */
export function unigramEntropyBits(tokens: Int32Array, vocabSize = 256): number {
  const counts = new Float64Array(vocabSize);
  for (let i = 0; i < tokens.length; i++) counts[tokens[i]!]!++;
  let h = 0;
  for (const c of counts) if (c > 0) { const p = c / tokens.length; h -= p * Math.log2(p); }
  return h;
}

/**
 * Training batches for the Trainer: `length` random-window batches per "epoch" (one eval interval).
 * @example new Trainer({ ..., trainLoader: new WindowLoader(new RandomWindowSampler(tokens, { batchSize: 16, contextLength: 128 }), 100) })
 */
export class WindowLoader implements TrainLoader<Tensor[]> {
  constructor(readonly sampler: RandomWindowSampler, readonly length: number) {}
  *[Symbol.iterator](): Iterator<Tensor[]> {
    for (let i = 0; i < this.length; i++) yield this.sampler.sample();
  }
}

/**
 * `windows` evenly spaced held-out windows of `test` (all when 0), in batches of [x, y]: the fixed
 * evaluation set of runGptTraining.
 * @example evaluate(model, lmEvalBatches(data.test, 256, 16), { lossFn: lmEvalLoss }).loss
 */
export function lmEvalBatches(test: TokenDataset, windows: number, batchSize: number): Tensor[][] {
  const n = windows <= 0 ? test.length : Math.min(windows, test.length);
  const idx = Array.from({ length: n }, (_, i) => Math.floor((i * test.length) / n));
  const out: Tensor[][] = [];
  for (let i = 0; i < n; i += batchSize) out.push(test.getBatch(idx.slice(i, i + batchSize)));
  return out;
}

/**
 * The evaluation loss of a GPT on an [x, y] batch (for evaluate()): gptLoss(model(x), y).
 * @example evaluate(model, batches, { lossFn: lmEvalLoss }).loss   // nats per token
 */
export const lmEvalLoss = (model: unknown, batch: Tensor[]): LossOutput => ({ loss: gptLoss((model as GPT).call(batch[0]!), batch[1]!) });
const evalLoss = lmEvalLoss;

/**
 * The GPT config a checkpoint holds (metadata extra.gpt, where `train --model gpt-*` writes it, or a
 * GPT config in `config`), validated; null when the checkpoint holds another kind of model.
 * @example const c = gptConfigOf(loadCheckpoint('gpt.safetensors'));   // { arch: 'gpt', nLayer: 4, ... }
 */
export function gptConfigOf(ck: Checkpoint): GptConfig | null {
  const raw: unknown = ck.extra['gpt'] ?? ck.config;
  if (raw === null || raw === undefined || typeof raw !== 'object' || (raw as { arch?: unknown }).arch !== 'gpt') return null;
  validateGptConfig(raw);
  return raw;
}

/**
 * Rebuild a GPT from a checkpoint (metadata extra.gpt, or a GPT config in `config`) and load its
 * weights. Also returns the tokenizer name it was trained with ('byte' when not recorded).
 * @example const { model, tokenizer } = loadGptCheckpoint('gpt.safetensors');
 */
export function loadGptCheckpoint(pathOrCheckpoint: string | Checkpoint): { model: GPT; config: GptConfig; tokenizer: string; checkpoint: Checkpoint } {
  const ck = typeof pathOrCheckpoint === 'string' ? loadCheckpoint(pathOrCheckpoint) : pathOrCheckpoint;
  const where = typeof pathOrCheckpoint === 'string' ? `'${pathOrCheckpoint}'` : 'the checkpoint';
  const config = gptConfigOf(ck);
  if (config === null) {
    throw new TensorslimError('loadGptCheckpoint', `${where} holds no GPT model (its config is ${JSON.stringify(ck.config?.arch ?? null)}); train one with tensorslim train --model gpt-tiny`);
  }
  checkDeclaredGptSize(config, ck.model);   // before allocating the model
  const model = modelFromConfig(config);
  model.loadStateDict(ck.model);
  const tok = ck.extra['tokenizer'];
  return { model, config: model.config, tokenizer: typeof tok === 'string' ? tok : 'byte', checkpoint: ck };
}

/** What evaluateLm returns. */
export interface LmEvalResult {
  /** Mean cross-entropy, nats per token. */
  loss: number;
  /** loss / ln 2 / (bytes per token of the test text): comparable across tokenizers. */
  bitsPerByte: number;
  /** exp(loss): per token. */
  perplexity: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
}

/**
 * A language model's held-out loss, bits/byte and perplexity on `windows` evenly spaced windows of
 * the test split (the evaluation set of runGptTraining), and the forward throughput.
 * @example evaluateLm(model, loadLmData('sotu'), 64).perplexity
 */
export function evaluateLm(model: GPT, data: LanguageModelingData, windows = 256, batchSize = 16): LmEvalResult {
  const batches = lmEvalBatches(data.test, windows, batchSize);
  const m = evaluate(model, batches, { lossFn: evalLoss });
  const tokens = batches.reduce((a, b) => a + b[0]!.size, 0);
  return {
    loss: m.loss, bitsPerByte: m.loss / Math.LN2 / (data.info.testBytes / data.info.testTokens), perplexity: Math.exp(m.loss),
    tokens, seconds: m.seconds, tokensPerSecond: tokens / m.seconds,
  };
}

/** Peak resident set size of this process, bytes. @example peakRssBytes() / 2 ** 20 // MiB */
export function peakRssBytes(): number { return process.resourceUsage().maxRSS * 1024; }

/**
 * Train a GPT preset on a text corpus with the shared Trainer (see the file header).
 *
 * @example
 * const r = await runGptTraining({ model: 'gpt-tiny', dataset: 'sotu', steps: 2000, out: 'gpt.safetensors' });
 * console.log(r.valLoss, r.valBitsPerByte);
 */
export async function runGptTraining(o: GptTrainingOptions): Promise<GptTrainingResult> {
  const op = 'train';
  const seed = o.seed ?? 0;
  const batchSize = o.batchSize ?? 16;
  const steps = o.steps ?? 1000;
  const accumulationSteps = o.accumulationSteps ?? 1;
  const evalInterval = Math.min(o.evalInterval ?? 200, steps);
  if (!Number.isInteger(steps) || steps < 1) throw new TensorslimError(op, `steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(evalInterval) || evalInterval < 1) throw new TensorslimError(op, `evalInterval must be a positive integer, got ${o.evalInterval}`);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize % accumulationSteps !== 0) {
    throw new TensorslimError(op, `batchSize ${batchSize} must be a positive multiple of accumulationSteps ${accumulationSteps}`);
  }
  const world = o.parallel?.worldSize ?? 1;
  if (batchSize % (world * accumulationSteps) !== 0) {
    throw new TensorslimError(op, `batchSize ${batchSize} is the global batch of ${world} ranks${accumulationSteps > 1 ? ` x ${accumulationSteps} micro-batches` : ''}: it must be a multiple of ${world * accumulationSteps} (e.g. ${world * accumulationSteps * Math.max(1, Math.round(batchSize / (world * accumulationSteps)))})`);
  }

  // 1. the model config (from the checkpoint when resuming), checked against the data before any work
  const loaded = o.resume ? loadTrainingCheckpoint(o.resume) : null;
  if (loaded && loaded.snapshot === null) throw new TensorslimError('resume', `'${o.resume}' holds no training state; it cannot be resumed`);
  let config: GptConfig;
  let tokenizerName = o.tokenizer ?? 'byte';
  if (loaded) {
    const g = loadGptCheckpoint(loaded.checkpoint);
    if (o.model !== undefined && g.config.preset !== undefined && g.config.preset !== o.model) {
      throw new TensorslimError('resume', `'${o.resume}' holds a '${g.config.preset}' model, not '${o.model}'`);
    }
    if (o.tokenizer !== undefined && o.tokenizer !== g.tokenizer) throw new TensorslimError('resume', `'${o.resume}' was trained with the ${g.tokenizer} tokenizer, not ${o.tokenizer}`);
    config = g.config;
    tokenizerName = g.tokenizer;
  } else {
    if (o.model === undefined) throw new TensorslimError(op, `a GPT preset is required: ${GPT_PRESETS.map((p) => p.name).join(', ')}`);
    const tok = getTokenizer(tokenizerName);
    const over: GptOverrides = { ...(tok.vocabSize !== 256 && o.modelOverrides?.vocabSize === undefined ? { vocabSize: tok.vocabSize } : {}), ...o.modelOverrides };
    config = gptConfig(o.model, over);
  }
  const t = o.contextLength ?? config.blockSize;
  if (!Number.isInteger(t) || t < 1 || t > config.blockSize) {
    throw new TensorslimError(op, `contextLength ${t} must be in [1, ${config.blockSize}] (the model's blockSize)`);
  }
  const data: LanguageModelingData = typeof o.dataset === 'string'
    ? loadLmData(o.dataset, tokenizerName, t)
    : o.dataset;
  if (data.tokenizer.vocabSize > config.vocabSize) {
    throw new TensorslimError(op, `the ${data.tokenizer.name} tokenizer has ${data.tokenizer.vocabSize} token ids but the model's vocabulary is ${config.vocabSize}; set vocabSize to ${data.tokenizer.vocabSize}`);
  }

  // 2. model, optimizer, schedule, data order
  manualSeed(seed);
  const model = new GPT(config);
  const optimizer = new AdamW(gptParamGroups(model, o.weightDecay ?? 0.1), { lr: o.lr ?? 1e-3, betas: [0.9, 0.95] });
  const lr = o.lr ?? 1e-3;
  const warmupSteps = o.warmupSteps ?? Math.max(1, Math.floor(steps * 0.05));
  const scheduler = new CosineWithWarmupLR(optimizer, { warmupSteps, totalSteps: Math.max(steps, warmupSteps), minLr: o.minLr ?? lr / 10 });
  const sampler = new RandomWindowSampler(data.train.tokens, { batchSize, contextLength: t, seed });
  const samplerState: Callback<Tensor[]> = {
    name: 'sampler',
    stateDict: () => sampler.stateDict(),
    loadStateDict: (s) => sampler.loadStateDict(s as RandomWindowState),
  };
  const evalSet = lmEvalBatches(data.test, o.evalWindows ?? 256, batchSize);
  // wall-clock time of each evaluation, for the curve
  let started = 0;
  const evalTimes = new Map<number, number>();
  const clock: Callback<Tensor[]> = {
    onTrainBegin: () => { started = performance.now(); },
    onEvaluate: (tv) => { evalTimes.set(tv.step, (performance.now() - started) / 1000); },
  };
  const dp = o.parallel ?? null;
  const windows = new WindowLoader(sampler, evalInterval);
  const trainer = new Trainer<Tensor[]>({
    model, optimizer, scheduler,
    trainLoader: dp ? dp.shard(windows) : windows,
    evalLoader: evalSet,
    steps,
    lossFn: lmLossFn({ accumulationSteps }),
    evalLossFn: evalLoss,
    gradClipNorm: o.gradClipNorm === undefined ? 1 : o.gradClipNorm,
    callbacks: [...(dp ? [dp.callback<Tensor[]>({ accumulating: accumulationSteps > 1 })] : []), samplerState, clock, ...(o.callbacks ?? [])],
    ...(dp ? { reduceEpoch: (a: EpochAccumulators) => dp.reduceEpoch(a) } : {}),
    ...(o.out && (dp?.rank ?? 0) === 0 ? {
      checkpointPath: o.out,
      save: checkpointSaver({ optimizer, scheduler, config: null, extra: { gpt: { ...config }, tokenizer: data.tokenizer.name } }),
    } : {}),
  });
  if (loaded) trainer.resume(loaded.snapshot!, o.resume ?? null);
  o.onStart?.({ model, config, data, trainer, params: model.countParameters(false), contextLength: t, batchSize, worldSize: dp?.worldSize ?? 1, resumedFrom: o.resume ?? null });

  const fit = await trainer.fit();
  const bytesPerToken = data.info.testBytes / data.info.testTokens;
  const bpb = (loss: number): number => loss / Math.LN2 / bytesPerToken;
  const last: EvalMetrics = fit.finalEval !== null && fit.history.at(-1)?.step === trainer.step
    ? fit.finalEval
    : evaluate(model, evalSet, { lossFn: evalLoss });
  const curve = fit.history.filter((m): m is EpochMetrics & { eval: EvalMetrics } => m.eval !== undefined)
    .map((m) => ({ step: m.step, seconds: evalTimes.get(m.step) ?? NaN, loss: m.eval.loss, bitsPerByte: bpb(m.eval.loss) }));
  return {
    model, config, fit, valLoss: last.loss, valBitsPerByte: bpb(last.loss), curve,
    tokensPerSecond: fit.samplesPerSecond * t, peakRssBytes: peakRssBytes(), params: model.countParameters(false),
    dataset: data.info.name, tokenizer: data.tokenizer.name, out: fit.checkpoint, resumedFrom: o.resume ?? null,
  };
}

/** A text corpus tokenized and split for language modelling; image datasets are refused. @example loadLmData('sotu').train.tokens.length */
export function loadLmData(name: string, tokenizer: string | Tokenizer = 'byte', contextLength = 128): LanguageModelingData {
  const d = loadDataset(name, { tokenizer, contextLength });
  if (d.kind !== 'text') {
    throw new TensorslimError('dataset', `'${name}' is an image dataset; a GPT trains on text: sotu, moby-dick or a text file`);
  }
  return d;
}

/**
 * Whether the file at `path` is a GPT checkpoint (reads its metadata only through loadCheckpoint).
 * @example if (isGptCheckpoint('run.safetensors')) ...
 */
export function isGptCheckpoint(path: string): boolean {
  try {
    return gptConfigOf(loadCheckpoint(path)) !== null;
  } catch {
    return false;
  }
}
