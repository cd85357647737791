// Benchmark: one AdamW training step of a GPT (issue 7's configuration: 4 layers, d_model 256,
// 4 heads, context 128, batch 16, byte vocabulary 256, tied head, dropout 0; 3.3 M parameters),
// float32 on random tokens: zeroGrad, forward, loss, backward, step. Reports the median step time
// after warm-up, tokens per second and the process's peak resident memory. The PyTorch peer is
// bench/peer_gpt.py (same model, written as nanoGPT does). Preset 'gpt2' is a GPT-2-small-sized
// model (12 layers, d_model 768, 12 heads, context 256, batch 4, vocabulary 50,257: 124 M
// parameters); benchGptGenerate times greedy generation with the key/value cache.

import { TensorslimError } from '../core/errors.js';
import { tidy } from '../autograd/tidy.js';
import { Generator, manualSeed } from '../core/random.js';
import * as ops from '../ops/index.js';
import { AdamW } from '../optim/index.js';
import { GPT, gptLoss, type GptConfig } from '../models/gpt.js';
import { applyThreads, machineInfo, median, timeSteps, type MachineInfo } from './machine.js';

/** Benchmark model presets: 'small' is issue 7's 3.3 M-parameter model, 'gpt2' GPT-2 small's shape. */
export type GptBenchPreset = 'small' | 'gpt2';

/** The model and default batch of a benchmark preset. @example gptBenchPreset('gpt2').model.nLayer // 12 */
export function gptBenchPreset(preset: GptBenchPreset): { model: Omit<GptConfig, 'arch' | 'checkpointing'>; batch: number } {
  if (preset === 'small') return { model: { nLayer: 4, nEmbd: 256, nHead: 4, blockSize: 128, vocabSize: 256, dropout: 0, bias: true, tieWeights: true }, batch: 16 };
  if (preset === 'gpt2') return { model: { nLayer: 12, nEmbd: 768, nHead: 12, blockSize: 256, vocabSize: 50257, dropout: 0, bias: true, tieWeights: true }, batch: 4 };
  throw new TensorslimError('benchGpt', `unknown preset '${String(preset)}'; expected small or gpt2`);
}

/** Settings of benchGpt. */
export interface GptBenchOptions {
  /** Model and default batch (default 'small'); `model` and `batch` override it. */
  preset?: GptBenchPreset;
  /** Timed steps (default 10) after `warmup` untimed ones (default 2). */
  steps?: number;
  warmup?: number;
  /** Kernel threads (default: the backend's current setting). */
  threads?: number;
  /** Batch size (default: the preset's, 16 for 'small', 4 for 'gpt2'). */
  batch?: number;
  /** Recompute block activations in backward (default false). */
  checkpointing?: boolean;
  /** The loss as GPT.loss (LM head fused into the cross-entropy; default true) or gptLoss(model(x), y) (materialized logits). */
  fusedLoss?: boolean;
  /**
   * Run each step in a step scope (tidy(), releaseGrads, releaseSaved) so it reuses the last
   * step's storage and gives each activation back as soon as backward has used it. Default: on for
   * 'small', off for 'gpt2', where the scoped step's peak RSS is still ~2% higher (the forward's
   * unsaved intermediates live to backward; docs/GPT.md "Step scopes at GPT-2's size").
   */
  stepScope?: boolean;
  /** Called right before and right after the timed steps (a benchmark's counters: GC, the pool's). */
  onTimed?: (phase: 'begin' | 'end') => void;
  /** Model overrides (default: nLayer 4, nEmbd 256, nHead 4, blockSize 128, vocabSize 256). */
  model?: Partial<Omit<GptConfig, 'arch'>>;
}

/** The result of benchGpt. */
export interface GptBenchResult {
  bench: 'gpt';
  /** Median milliseconds per training step. */
  stepMs: number;
  minMs: number;
  /** Process CPU milliseconds (all threads, user + system) per timed step: less distorted by other load than wall time. */
  cpuMsPerStep: number;
  /** batch * context / median step time. */
  tokensPerSecond: number;
  steps: number;
  batch: number;
  context: number;
  params: number;
  threads: number;
  checkpointing: boolean;
  /** Whether the loss ran fused (GPT.loss) or on materialized logits (gptLoss). */
  fusedLoss: boolean;
  /** Whether each step ran in a step scope (tidy()). */
  stepScope: boolean;
  /** Peak resident set size of this process, bytes. */
  peakRssBytes: number;
  /** Loss after the last step (a sanity check that training ran). */
  finalLoss: number;
  config: GptConfig;
  machine: MachineInfo;
}

/**
 * Time GPT training steps on the active backend.
 *
 * @example
 * const r = benchGpt({ steps: 10 });
 * console.log(`${r.stepMs.toFixed(0)} ms/step, ${Math.round(r.tokensPerSecond)} tokens/s`);
 */
export function benchGpt(opts: GptBenchOptions = {}): GptBenchResult {
  const steps = opts.steps ?? 10, warmup = opts.warmup ?? 2;
  if (!Number.isInteger(steps) || steps < 1) throw new TensorslimError('benchGpt', `steps must be a positive integer, got ${steps}`);
  const w = gptWorkload(opts);
  let last = NaN;
  const step = (): void => { last = w.step(); };
  for (let i = 0; i < warmup; i++) step();
  opts.onTimed?.('begin');
  const c0 = process.cpuUsage();
  const times = timeSteps(step, 0, steps);
  const cpu = process.cpuUsage(c0);
  opts.onTimed?.('end');
  const machine = machineInfo();
  const stepMs = median(times);
  return {
    bench: 'gpt', stepMs, minMs: Math.min(...times), tokensPerSecond: (w.batch * w.context) / (stepMs / 1000), steps, batch: w.batch, context: w.context,
    cpuMsPerStep: (cpu.user + cpu.system) / 1000 / steps,
    params: w.params, threads: machine.threads, checkpointing: w.config.checkpointing ?? false, fusedLoss: w.fusedLoss, stepScope: w.stepScope,
    peakRssBytes: process.resourceUsage().maxRSS * 1024, finalLoss: last, config: w.config, machine,
  };
}

/** The GPT training step that benchGpt times; `step()` returns the step's loss. */
export interface GptWorkload {
  step: () => number;
  config: GptConfig;
  batch: number;
  context: number;
  params: number;
  fusedLoss: boolean;
  stepScope: boolean;
}

/**
 * Build the GPT, AdamW and the batch that benchGpt times, without timing anything;
 * bench/paired.ts's workers time `step()` in windows against PyTorch.
 * @example
 * const w = gptWorkload({ threads: 2 });
 * w.step(); // one AdamW step of the 4-layer d256 GPT at batch 16
 */
export function gptWorkload(opts: Omit<GptBenchOptions, 'steps' | 'warmup' | 'onTimed'> = {}): GptWorkload {
  const p = gptBenchPreset(opts.preset ?? 'small');
  const batch = opts.batch ?? p.batch;
  if (!Number.isInteger(batch) || batch < 1) throw new TensorslimError('benchGpt', `batch must be a positive integer, got ${batch}`);
  applyThreads(opts.threads);
  const config: GptConfig = {
    arch: 'gpt', ...p.model, ...opts.model, checkpointing: opts.checkpointing ?? false,
  };
  manualSeed(7);
  const model = new GPT(config);
  const opt = new AdamW(model.parameters(), { lr: 3e-4 });
  const gen = new Generator(7);
  const t = config.blockSize;
  const x = ops.randint(0, config.vocabSize, [batch, t], { dtype: 'int32', generator: gen });
  const y = ops.randint(0, config.vocabSize, [batch, t], { dtype: 'int32', generator: gen });
  const fused = opts.fusedLoss ?? true;
  let last = NaN;
  const scoped = opts.stepScope ?? (opts.preset ?? 'small') === 'small';
  const body = (): void => {
    opt.zeroGrad();
    const loss = fused ? model.loss(x, y) : gptLoss(model.call(x), y);
    loss.backward();
    opt.step();
    last = loss.item();
  };
  // the step's activations and last gradients go back to the storage pool (autograd/tidy.ts)
  // (releaseSaved: each activation goes back as soon as backward has used it; the body reads only the loss after backward)
  const run = scoped ? (): void => tidy(body, { roots: [model], releaseGrads: true, releaseSaved: true }) : body;
  const step = (): number => { run(); return last; };
  return { step, config, batch, context: t, params: model.countParameters(false), fusedLoss: fused, stepScope: scoped };
}

/** Settings of benchGptGenerate. */
export interface GptGenerateBenchOptions {
  /** Model (default 'gpt2'); `model` overrides fields. */
  preset?: GptBenchPreset;
  model?: Partial<Omit<GptConfig, 'arch'>>;
  /** Prompt tokens (default 32) and new tokens per generation (default 64). */
  promptTokens?: number;
  newTokens?: number;
  /** Sequences generated together (default 1). */
  batch?: number;
  /** Timed generations (default 3) after one untimed warm-up generation of 4 tokens. */
  repeats?: number;
  /** Kernel threads (default: the backend's current setting). */
  threads?: number;
}

/** The result of benchGptGenerate. */
export interface GptGenerateBenchResult {
  bench: 'gpt-generate';
  /** New tokens per second of one generation, prompt processing included (median over repeats). */
  tokensPerSecond: number;
  /** New tokens per second after the first (one cached forward each; median over repeats). */
  decodeTokensPerSecond: number;
  /** Milliseconds from the call to the first new token: the prompt's forward (median). */
  firstTokenMs: number;
  /** Milliseconds of one whole generation (median). */
  generateMs: number;
  promptTokens: number;
  newTokens: number;
  batch: number;
  repeats: number;
  params: number;
  threads: number;
  peakRssBytes: number;
  config: GptConfig;
  machine: MachineInfo;
}

/**
 * Time greedy generation with the key/value cache (GPT.generate at temperature 0: eval mode, no
 * gradients, one cached forward per new token after the prompt's) on the active backend.
 *
 * @example
 * const r = benchGptGenerate({ preset: 'gpt2', promptTokens: 32, newTokens: 64 });
 * console.log(`${r.decodeTokensPerSecond.toFixed(1)} tokens/s`);
 */
export function benchGptGenerate(opts: GptGenerateBenchOptions = {}): GptGenerateBenchResult {
  const op = 'benchGptGenerate';
  const p = gptBenchPreset(opts.preset ?? 'gpt2');
  const promptTokens = opts.promptTokens ?? 32, newTokens = opts.newTokens ?? 64, batch = opts.batch ?? 1, repeats = opts.repeats ?? 3;
  for (const [name, v] of [['promptTokens', promptTokens], ['newTokens', newTokens], ['batch', batch], ['repeats', repeats]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new TensorslimError(op, `${name} must be a positive integer, got ${v}`);
  }
  if (newTokens < 2) throw new TensorslimError(op, `newTokens must be at least 2 (the decode rate needs two tokens), got ${newTokens}`);
  applyThreads(opts.threads);
  const config: GptConfig = { arch: 'gpt', ...p.model, ...opts.model, checkpointing: false };
  if (promptTokens + newTokens > config.blockSize) {
    throw new TensorslimError(op, `promptTokens ${promptTokens} + newTokens ${newTokens} exceed the context length ${config.blockSize}; generate fewer tokens`);
  }
  manualSeed(7);
  const model = new GPT(config);
  model.eval();
  const gen = new Generator(7);
  const prompt = ops.randint(0, config.vocabSize, [batch, promptTokens], { dtype: 'int32', generator: gen });
  model.generate(prompt, 4, { temperature: 0 });
  const total: number[] = [], first: number[] = [], decode: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let tFirst = 0, tLast = 0;
    const t0 = process.hrtime.bigint();
    const ms = (): number => Number(process.hrtime.bigint() - t0) / 1e6;
    model.generate(prompt, newTokens, {
      temperature: 0,
      onToken: (_tokens, step) => { if (step === 0) tFirst = ms(); tLast = ms(); },
    });
    total.push(ms()); first.push(tFirst);
    decode.push((newTokens - 1) / ((tLast - tFirst) / 1000));
  }
  const machine = machineInfo();
  const generateMs = median(total);
  return {
    bench: 'gpt-generate', tokensPerSecond: (batch * newTokens) / (generateMs / 1000), decodeTokensPerSecond: batch * median(decode),
    firstTokenMs: median(first), generateMs, promptTokens, newTokens, batch, repeats, params: model.countParameters(false),
    threads: machine.threads, peakRssBytes: process.resourceUsage().maxRSS * 1024, config, machine,
  };
}
