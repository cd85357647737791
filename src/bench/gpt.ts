// Benchmark: one AdamW training step of a GPT (issue 7's configuration: 4 layers, d_model 256,
// 4 heads, context 128, batch 16, byte vocabulary 256, tied head, dropout 0; 3.3 M parameters),
// float32 on random tokens: zeroGrad, forward, loss, backward, step. Reports the median step time
// after warm-up, tokens per second and the process's peak resident memory. The PyTorch peer is
// bench/peer_gpt.py (same model, written as nanoGPT does).

import { TensorslimError } from '../core/errors.js';
import { Generator, manualSeed } from '../core/random.js';
import * as ops from '../ops/index.js';
import { AdamW } from '../optim/index.js';
import { GPT, gptLoss, type GptConfig } from '../models/gpt.js';
import { applyThreads, machineInfo, median, timeSteps, type MachineInfo } from './machine.js';

/** Settings of benchGpt. */
export interface GptBenchOptions {
  /** Timed steps (default 10) after `warmup` untimed ones (default 2). */
  steps?: number;
  warmup?: number;
  /** Kernel threads (default: the backend's current setting). */
  threads?: number;
  /** Batch size (default 16). */
  batch?: number;
  /** Recompute block activations in backward (default false). */
  checkpointing?: boolean;
  /** Model overrides (default: nLayer 4, nEmbd 256, nHead 4, blockSize 128, vocabSize 256). */
  model?: Partial<Omit<GptConfig, 'arch'>>;
}

/** The result of benchGpt. */
export interface GptBenchResult {
  bench: 'gpt';
  /** Median milliseconds per training step. */
  stepMs: number;
  minMs: number;
  /** batch * context / median step time. */
  tokensPerSecond: number;
  steps: number;
  batch: number;
  context: number;
  params: number;
  threads: number;
  checkpointing: boolean;
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
  const steps = opts.steps ?? 10, warmup = opts.warmup ?? 2, batch = opts.batch ?? 16;
  if (!Number.isInteger(steps) || steps < 1) throw new TensorslimError('benchGpt', `steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(batch) || batch < 1) throw new TensorslimError('benchGpt', `batch must be a positive integer, got ${batch}`);
  applyThreads(opts.threads);
  const config: GptConfig = {
    arch: 'gpt', nLayer: 4, nEmbd: 256, nHead: 4, blockSize: 128, vocabSize: 256, dropout: 0, bias: true, tieWeights: true,
    ...opts.model, checkpointing: opts.checkpointing ?? false,
  };
  manualSeed(7);
  const model = new GPT(config);
  const opt = new AdamW(model.parameters(), { lr: 3e-4 });
  const gen = new Generator(7);
  const t = config.blockSize;
  const x = ops.randint(0, config.vocabSize, [batch, t], { dtype: 'int32', generator: gen });
  const y = ops.randint(0, config.vocabSize, [batch, t], { dtype: 'int32', generator: gen });
  let last = NaN;
  const step = (): void => {
    opt.zeroGrad();
    const loss = gptLoss(model.call(x), y);
    loss.backward();
    opt.step();
    last = loss.item();
  };
  const times = timeSteps(step, warmup, steps);
  const machine = machineInfo();
  const stepMs = median(times);
  return {
    bench: 'gpt', stepMs, minMs: Math.min(...times), tokensPerSecond: (batch * t) / (stepMs / 1000), steps, batch, context: t,
    params: model.countParameters(false), threads: machine.threads, checkpointing: config.checkpointing ?? false,
    peakRssBytes: process.resourceUsage().maxRSS * 1024, finalLoss: last, config, machine,
  };
}
