// A synthetic training step for any preset model (image classifier or GPT), split into the four
// profiler phases, and `profileTraining`, which profiles a few such steps and estimates memory
// beforehand. Random data from a fixed seed, Adam; used by `tensorslim profile` and the tests.

import { Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { F } from '../nn/index.js';
import { Adam } from '../optim/index.js';
import { gptLoss } from '../models/gpt.js';
import { isGptModel, type AnyPresetModel } from '../models/presets.js';
import { estimateTrainingMemory, type MemoryEstimate } from './memory.js';
import { Profiler, type ProfileResult } from './profiler.js';

/** One model's synthetic training loop. */
export interface TrainingStep {
  /** One step: data, forward, backward, optimizer (each a region of `p` when given). Returns the loss. */
  step(p?: Profiler): number;
  /** The loss of a fresh batch of `batch` samples from a generator of its own (a graph, not yet backpropagated): the memory probe. */
  lossFor(batch: number): Tensor;
  readonly optimizer: Adam;
}

/**
 * Build a training step for `model` on random inputs of `batch` samples (seeded by `seed`).
 * @example const t = trainingStep(createAnyModel('mlp'), 32); t.step();
 */
export function trainingStep(model: AnyPresetModel, batch: number, seed = 7): TrainingStep {
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`trainingStep: batch must be a positive integer, got ${batch}`);
  const gen = new Generator(seed);
  const probeGen = new Generator(seed + 1); // the memory probe must not shift the training batches
  const optimizer = new Adam(model.parameters(), { lr: 1e-3 });
  const batchOf = (b: number, g: Generator = gen): { x: Tensor; y: Tensor } => {
    if (isGptModel(model)) {
      const c = model.config;
      return {
        x: ops.randint(0, c.vocabSize, [b, c.blockSize], { dtype: 'int32', generator: g }),
        y: ops.randint(0, c.vocabSize, [b, c.blockSize], { dtype: 'int32', generator: g }),
      };
    }
    const c = model.config;
    const shape = c.arch === 'mlp' ? [b, c.inFeatures] : [b, ...c.inputShape];
    return { x: ops.randn(shape, { generator: g }), y: ops.randint(0, c.numClasses, [b], { dtype: 'int32', generator: g }) };
  };
  const lossOf = (x: Tensor, y: Tensor): Tensor => (isGptModel(model) ? gptLoss(model.call(x), y) : F.crossEntropy(model.call(x) as Tensor, y));
  const run = <T>(p: Profiler | undefined, name: string, fn: () => T): T => (p ? p.region(name, fn) : fn());
  return {
    optimizer,
    lossFor: (b) => { const { x, y } = batchOf(b, probeGen); return lossOf(x, y); },
    step(p) {
      const { x, y } = run(p, 'data', () => batchOf(batch));
      const loss = run(p, 'forward', () => lossOf(x, y));
      run(p, 'backward', () => loss.backward());
      run(p, 'optimizer', () => { optimizer.step(); optimizer.zeroGrad(); });
      return loss.item();
    },
  };
}

/** Settings of profileTraining. */
export interface ProfileTrainingOptions {
  batch: number;
  /** Profiled steps (default 3), after `warmup` unprofiled ones (default 1). */
  steps?: number;
  warmup?: number;
  seed?: number;
}

/** What profileTraining returns. */
export interface ProfileTrainingResult {
  profile: ProfileResult;
  /** Estimated before the first step (parameters, gradients, Adam state, activations). */
  estimate: MemoryEstimate;
  losses: number[];
  batch: number;
}

/**
 * Estimate memory, then train `model` for warmup + steps synthetic steps, profiling the last `steps`.
 * @example const r = await profileTraining(createAnyModel('mlp'), { batch: 32, steps: 2 }); r.profile.kernels[0]
 */
export async function profileTraining(model: AnyPresetModel, opts: ProfileTrainingOptions): Promise<ProfileTrainingResult> {
  const steps = opts.steps ?? 3, warmup = opts.warmup ?? 1;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`profileTraining: steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`profileTraining: warmup must be a non-negative integer, got ${warmup}`);
  const t = trainingStep(model, opts.batch, opts.seed);
  const estimate = estimateTrainingMemory(model, (b) => t.lossFor(b), { batch: opts.batch, optimizer: 'adam' });
  const losses: number[] = [];
  for (let i = 0; i < warmup; i++) losses.push(t.step());
  const prof = new Profiler({ model, optimizer: t.optimizer });
  prof.start();
  try {
    for (let i = 0; i < steps; i++) losses.push(prof.step(() => t.step(prof)));
  } catch (e) {
    await prof.stop();
    throw e;
  }
  return { profile: await prof.stop(), estimate, losses, batch: opts.batch };
}
