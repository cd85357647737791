// Benchmark: one training step of the MLP 784-1200-1200-10 (ReLU, cross-entropy, Adam), batch 128,
// float32, on random data: zeroGrad, forward, loss, backward, optimizer step. Reports the median
// step time after warm-up. Two model variants: 'modules' (nn.Linear + nn.ReLU + F.crossEntropy, as
// a user writes it) and 'fused' (ops.fusedLinear with ReLU + ops.softmaxCrossEntropy).

import { TensorslimError } from '../core/errors.js';
import { tidy } from '../autograd/tidy.js';
import { Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { F, Linear, Module, ReLU, Sequential } from '../nn/index.js';
import { Adam } from '../optim/index.js';
import { applyThreads, machineInfo, median, timeSteps, type MachineInfo } from './machine.js';

/** Settings of benchMlp. */
export interface MlpBenchOptions {
  /** Batch size (default 128). */
  batch?: number;
  /** Kernel threads (default: the backend's current setting). */
  threads?: number;
  /** Timed steps (default 30) after `warmup` untimed ones (default 5). */
  steps?: number;
  warmup?: number;
  /** 'modules' (default) or 'fused'. */
  variant?: 'modules' | 'fused';
  /** Layer widths (default [784, 1200, 1200, 10]). */
  sizes?: readonly number[];
  /** Run each step in a step scope (tidy() with releaseGrads: storage reused across steps; default false). */
  stepScope?: boolean;
}

/** The result of benchMlp. */
export interface MlpBenchResult {
  bench: 'mlp';
  stepMs: number;
  minMs: number;
  steps: number;
  batch: number;
  threads: number;
  variant: 'modules' | 'fused';
  sizes: number[];
  /** Loss after the last step (a sanity check that training ran). */
  finalLoss: number;
  machine: MachineInfo;
}

/** The 'fused' variant: Linear layers whose forward is one fusedLinear kernel (+ReLU but the last). */
class FusedMlp extends Module {
  readonly layers: Linear[];
  constructor(sizes: readonly number[]) {
    super();
    this.layers = [];
    for (let i = 0; i + 1 < sizes.length; i++) {
      const l = new Linear(sizes[i]!, sizes[i + 1]!);
      this.registerModule(String(i), l);
      this.layers.push(l);
    }
  }
  forward(x: Tensor): Tensor {
    let h = x;
    this.layers.forEach((l, i) => { h = ops.fusedLinear(h, l.weight, l.bias, { relu: i + 1 < this.layers.length }); });
    return h;
  }
}

function modulesMlp(sizes: readonly number[]): Sequential {
  const layers: Module[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i]!, sizes[i + 1]!));
    if (i + 2 < sizes.length) layers.push(new ReLU());
  }
  return new Sequential(...layers);
}

/** One MLP training setup of benchMlp (model, Adam, fixed random batch), stepped by `step()`. */
export interface MlpTrainer {
  /** One training step: zeroGrad, forward, loss, backward, Adam step. Returns the loss. */
  step(): number;
  batch: number;
  sizes: number[];
  variant: 'modules' | 'fused';
}

/**
 * Build the MLP training step that benchMlp times (also used by the memory soak, bench/soak.ts).
 *
 * @example
 * const t = mlpTrainer({ threads: 2 });
 * for (let i = 0; i < 10; i++) t.step();
 */
export function mlpTrainer(opts: Omit<MlpBenchOptions, 'steps' | 'warmup'> = {}): MlpTrainer {
  const batch = opts.batch ?? 128;
  const sizes = [...(opts.sizes ?? [784, 1200, 1200, 10])];
  const variant = opts.variant ?? 'modules';
  if (!Number.isInteger(batch) || batch < 1) throw new TensorslimError('benchMlp', `batch must be a positive integer, got ${batch}`);
  applyThreads(opts.threads);
  const gen = new Generator(7);
  const x = ops.randn([batch, sizes[0]!], { generator: gen });
  const y = ops.randint(0, sizes[sizes.length - 1]!, [batch], { generator: gen, dtype: 'int32' });
  const model = variant === 'fused' ? new FusedMlp(sizes) : modulesMlp(sizes);
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const lossOf = (logits: Tensor): Tensor => (variant === 'fused' ? ops.softmaxCrossEntropy(logits, y) : F.crossEntropy(logits, y));
  const body = (): number => {
    opt.zeroGrad();
    const loss = lossOf(model.call(x) as Tensor);
    loss.backward();
    opt.step();
    return loss.item();
  };
  const step = opts.stepScope === true ? (): number => tidy(body, { roots: [model], releaseGrads: true }) : body;
  return { step, batch, sizes, variant };
}

/**
 * Time MLP training steps on the active backend.
 *
 * @example
 * const r = benchMlp({ threads: 2 });
 * console.log(`${r.stepMs.toFixed(1)} ms/step`);
 */
export function benchMlp(opts: MlpBenchOptions = {}): MlpBenchResult {
  const steps = opts.steps ?? 30, warmup = opts.warmup ?? 5;
  if (!Number.isInteger(steps) || steps < 1) throw new TensorslimError('benchMlp', `steps must be a positive integer, got ${steps}`);
  const t = mlpTrainer(opts);
  let last = NaN;
  const times = timeSteps(() => { last = t.step(); }, warmup, steps);
  const machine = machineInfo();
  return {
    bench: 'mlp', stepMs: median(times), minMs: Math.min(...times), steps, batch: t.batch, threads: machine.threads, variant: t.variant, sizes: t.sizes,
    finalLoss: last, machine,
  };
}
