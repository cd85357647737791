// Benchmark: one Adam training step of the lenet5 preset (conv 1->6 k5 pad 2, ReLU, max-pool 2,
// conv 6->16 k5, ReLU, max-pool 2, FC 400-120-84-10; src/models/presets.ts), batch 128, float32 on
// random 28x28 images: zeroGrad, forward, cross-entropy, backward, step; and the same model's
// forward alone without gradient recording. Reports medians after warm-up. The PyTorch peer is
// bench/peer_cnn.py (the same nn.Sequential), compared by bench/run_cnn.ts.

import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { Generator, manualSeed } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { F } from '../nn/index.js';
import { Adam } from '../optim/index.js';
import { createModel } from '../models/presets.js';
import { applyThreads, machineInfo, median, timeSteps, type MachineInfo } from './machine.js';

/** Settings of benchCnn. */
export interface CnnBenchOptions {
  /** Batch size (default 128). */
  batch?: number;
  /** Kernel threads (default: the backend's current setting). */
  threads?: number;
  /** Timed steps (default 30) after `warmup` untimed ones (default 5); the forward is timed as often. */
  steps?: number;
  warmup?: number;
  /** Also time the forward without gradients (default true; false leaves forwardMs NaN). */
  forward?: boolean;
}

/** The result of benchCnn. */
export interface CnnBenchResult {
  bench: 'cnn';
  model: 'lenet5';
  /** Median training step (zeroGrad, forward, loss, backward, Adam step), ms. */
  stepMs: number;
  minMs: number;
  /** Process CPU time (user + system, all threads) per training step, ms: robust to other processes' load. */
  cpuMsPerStep: number;
  /** Median forward without gradient recording, ms (NaN with `forward: false`). */
  forwardMs: number;
  steps: number;
  batch: number;
  threads: number;
  params: number;
  /** Loss after the last step (a sanity check that training ran). */
  finalLoss: number;
  machine: MachineInfo;
}

/**
 * Time lenet5 training steps and forwards on the active backend.
 *
 * @example
 * const r = benchCnn({ threads: 2 });
 * console.log(`${r.stepMs.toFixed(2)} ms/step, forward ${r.forwardMs.toFixed(2)} ms`);
 */
export function benchCnn(opts: CnnBenchOptions = {}): CnnBenchResult {
  const steps = opts.steps ?? 30, warmup = opts.warmup ?? 5;
  if (!Number.isInteger(steps) || steps < 1) throw new TensorslimError('benchCnn', `steps must be a positive integer, got ${steps}`);
  const w = cnnWorkload(opts);
  let last = NaN;
  const step = (): void => { last = w.step(); };
  for (let i = 0; i < warmup; i++) step();
  const cpu0 = process.cpuUsage();
  const times = timeSteps(step, 0, steps);
  const cpu = process.cpuUsage(cpu0);
  const fwd = opts.forward === false ? [NaN] : timeSteps(w.forward, warmup, steps);
  const machine = machineInfo();
  return {
    bench: 'cnn', model: 'lenet5', stepMs: median(times), minMs: Math.min(...times), cpuMsPerStep: (cpu.user + cpu.system) / 1e3 / steps, forwardMs: median(fwd), steps, batch: w.batch,
    threads: machine.threads, params: w.params, finalLoss: last, machine,
  };
}

/** The lenet5 training step and forward that benchCnn times; `step()` returns the step's loss. */
export interface CnnWorkload {
  step: () => number;
  forward: () => void;
  batch: number;
  params: number;
}

/**
 * Build the lenet5 model, Adam and the batch that benchCnn times, without timing anything;
 * bench/paired.ts's workers time `step()` in windows against PyTorch.
 * @example
 * const w = cnnWorkload({ threads: 2 });
 * w.step(); // one Adam training step at batch 128
 */
export function cnnWorkload(opts: Pick<CnnBenchOptions, 'batch' | 'threads'> = {}): CnnWorkload {
  const batch = opts.batch ?? 128;
  if (!Number.isInteger(batch) || batch < 1) throw new TensorslimError('benchCnn', `batch must be a positive integer, got ${batch}`);
  applyThreads(opts.threads);
  manualSeed(7);
  const model = createModel('lenet5');
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const gen = new Generator(7);
  const x = ops.randn([batch, 1, 28, 28], { generator: gen });
  const y = ops.randint(0, 10, [batch], { generator: gen, dtype: 'int32' });
  const step = (): number => {
    opt.zeroGrad();
    const loss = F.crossEntropy(model.call(x) as Tensor, y);
    loss.backward();
    opt.step();
    return loss.item();
  };
  const forward = (): void => { noGrad(() => model.call(x)); };
  return { step, forward, batch, params: model.parameters().reduce((s, p) => s + p.size, 0) };
}
