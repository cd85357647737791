// Benchmark: inference latency of one model at a given batch (batch 1 by default, the deployment
// case): the forward pass only, in eval mode, without recording a graph, on random inputs of the
// model's shape (images: float32 (batch, ...inputShape); a GPT: int32 token ids (batch, context)).
// Reports the median, 10th and 90th percentile milliseconds per call and the samples per second.
// Sequential models (the image presets) are timed two ways, interleaved in blocks: through their
// inference plan (nn compileInference: Linear + ReLU fused, no per-layer module calls, pooled
// intermediates; the reported latency) and through model.call() (callMedianMs).
// Peers (PyTorch, ONNX Runtime on the exported model) run in bench/run_infer.ts.

import { TensorslimError } from '../core/errors.js';
import { noGrad } from '../core/engine.js';
import { Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { isGptModel, type AnyPresetModel } from '../models/presets.js';
import { compileInference, Sequential } from '../nn/index.js';
import { applyThreads, machineInfo, median, timeSteps, type MachineInfo } from './machine.js';

/** Settings of benchInfer. */
export interface InferBenchOptions {
  /** Samples per call (default 1). */
  batch?: number;
  /** Timed calls (default: as many as fit in about `budgetMs`, at least 20, at most 2000). */
  iters?: number;
  /** Wall-clock budget for choosing `iters` (default 2000 ms). */
  budgetMs?: number;
  /** Untimed calls first (default 10). */
  warmup?: number;
  /** GPT only: tokens per sequence (default: the model's context length). */
  context?: number;
  /** Kernel threads (default: the backend's current setting). */
  threads?: number;
  /** Seed of the random inputs (default 0). */
  seed?: number;
}

/** The result of benchInfer. */
export interface InferBenchResult {
  bench: 'infer';
  /** The preset's name (or 'gpt'/'custom' when the model has none). */
  model: string;
  batch: number;
  /** The input's shape, e.g. [1, 784] or [1, 128] (token ids). */
  inputShape: number[];
  params: number;
  /** Median milliseconds per forward call (through `path`), and the 10th/90th percentiles. */
  medianMs: number;
  /** 'plan': compileInference's plan (Sequential models); 'call': model.call() under noGrad. */
  path: 'plan' | 'call';
  /** Median milliseconds per model.call() under noGrad, timed interleaved with the plan (= medianMs when path is 'call'). */
  callMedianMs: number;
  /** Process CPU milliseconds (all threads, pool workers' spinning included) per call through `path`. */
  cpuMsPerCall: number;
  p10Ms: number;
  p90Ms: number;
  /** batch / median seconds. */
  samplesPerSecond: number;
  iters: number;
  threads: number;
  machine: MachineInfo;
}

function percentile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
}

/** A random input of the model's shape at `batch` (and `context` tokens for a GPT). */
export function inferInput(model: AnyPresetModel, batch: number, opts: { context?: number; seed?: number } = {}): Tensor {
  const gen = new Generator(opts.seed ?? 0);
  if (isGptModel(model)) {
    const T = opts.context ?? model.config.blockSize;
    if (!Number.isInteger(T) || T < 1 || T > model.config.blockSize) {
      throw new TensorslimError('benchInfer', `context must be an integer in [1, ${model.config.blockSize}] (the model's context length), got ${T}`);
    }
    return ops.randint(0, model.config.vocabSize, [batch, T], { generator: gen, dtype: 'int32' });
  }
  const c = model.config;
  const shape = c.arch === 'mlp' ? [batch, c.inFeatures] : [batch, ...c.inputShape];
  return ops.rand(shape, { generator: gen });
}

/**
 * Time the forward pass of `model` (eval mode, no graph) at `batch` on the active backend.
 *
 * @example
 * const r = benchInfer(createModel('mlp'), { batch: 1 });
 * console.log(`${(r.medianMs * 1000).toFixed(0)} us per call`);
 */
export function benchInfer(model: AnyPresetModel, opts: InferBenchOptions = {}): InferBenchResult {
  const batch = opts.batch ?? 1, warmup = opts.warmup ?? 10;
  if (!Number.isInteger(batch) || batch < 1) throw new TensorslimError('benchInfer', `batch must be a positive integer, got ${batch}`);
  if (opts.iters !== undefined && (!Number.isInteger(opts.iters) || opts.iters < 1)) throw new TensorslimError('benchInfer', `iters must be a positive integer, got ${opts.iters}`);
  applyThreads(opts.threads);
  const x = inferInput(model, batch, opts);
  const wasTraining = model.training;
  model.eval();
  try {
    const call = (): void => { noGrad(() => model.call(x)); };
    const plan = model instanceof Sequential ? compileInference(model) : null;
    const planned = plan ? (): void => { plan.run(x); } : null;
    const main = planned ?? call;
    let iters = opts.iters;
    if (iters === undefined) {
      const probe = timeSteps(main, warmup, 5);
      iters = Math.max(20, Math.min(2000, Math.round((opts.budgetMs ?? 2000) / Math.max(1e-3, median(probe)) / (planned ? 2 : 1))));
    } else {
      timeSteps(main, warmup, 0);
    }
    if (planned) timeSteps(call, warmup, 0);
    // blocks of 10 calls, alternating the two paths, so load drifts hit both alike
    const times: number[] = [], callTimes: number[] = [];
    for (let done = 0; done < iters; done += 10) {
      const n = Math.min(10, iters - done);
      times.push(...timeSteps(main, 0, n));
      if (planned) callTimes.push(...timeSteps(call, 0, n));
    }
    // CPU time of `main` alone, in a pass of its own (the interleaved model.call() blocks leave
    // garbage whose collection on V8's helper threads would be counted against the plan)
    const c0 = process.cpuUsage();
    timeSteps(main, 0, iters);
    const c1 = process.cpuUsage(c0);
    const cpuUs = c1.user + c1.system;
    const med = median(times);
    const machine = machineInfo();
    return {
      bench: 'infer',
      model: isGptModel(model) ? (model.config.preset ?? 'gpt') : (model.config.preset ?? 'custom'),
      batch,
      inputShape: [...x.shape],
      params: model.numParameters(),
      medianMs: med,
      path: planned ? 'plan' : 'call',
      callMedianMs: planned ? median(callTimes) : med,
      cpuMsPerCall: cpuUs / 1000 / iters,
      p10Ms: percentile(times, 0.1),
      p90Ms: percentile(times, 0.9),
      samplesPerSecond: batch / (med / 1000),
      iters,
      threads: machine.threads,
      machine,
    };
  } finally {
    if (wasTraining) model.train();
  }
}
