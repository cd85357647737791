// Learning-rate schedulers, as torch.optim.lr_scheduler: each sets every group's lr from the
// group's base lr and the step count (`lastEpoch`), using PyTorch's closed forms. Creating a
// scheduler records `initialLr` in each group (PyTorch's `initial_lr`) and applies the lr for
// step 0; each step() advances one step. Call scheduler.step() after optimizer.step().
// Schedulers change only `lr` in the optimizer's groups; they hold no tensors.

import { TensorslimError } from '../core/errors.js';
import type { Optimizer } from './optimizer.js';

/** A scheduler's saved state: step count, base lrs, last lrs and its own settings. */
export interface SchedulerStateDict {
  lastEpoch: number;
  baseLrs: number[];
  lastLr: number[];
  config: Record<string, number>;
}

/**
 * Base class of the LR schedulers. Subclasses give `lrAt(baseLr, epoch)`, the closed form, and
 * keep their settings in `config` (saved by stateDict).
 *
 * @example
 * const sched = new StepLR(opt, 30, 0.1);
 * for (let epoch = 0; epoch < 100; epoch++) { train(); opt.step(); sched.step(); }
 */
export abstract class LRScheduler<C extends Record<string, number> = Record<string, number>> {
  readonly optimizer: Optimizer;
  /** Number of step() calls so far (0 right after construction, as in PyTorch). */
  lastEpoch: number;
  /** Each group's lr at step 0 (its `initialLr`). */
  baseLrs: number[];
  /** Scheduler settings (stepSize, gamma, ...), saved by stateDict. */
  readonly config: C;
  private lastLr: number[] = [];

  /**
   * `lastEpoch` = -1 starts a new schedule; another value resumes one, and then every group
   * must already have `initialLr` (set by a previous scheduler or a loaded optimizer state).
   * Subclass constructors end with `this.initialStep()`.
   */
  protected constructor(optimizer: Optimizer, config: C, lastEpoch = -1) {
    const op = new.target.name;
    if (!Number.isInteger(lastEpoch) || lastEpoch < -1) throw new TensorslimError(op, `lastEpoch must be an integer >= -1, got ${lastEpoch}`);
    for (const [k, v] of Object.entries(config)) {
      if (!Number.isFinite(v)) throw new TensorslimError(op, `${k} must be a finite number, got ${v}`);
    }
    this.optimizer = optimizer;
    this.config = config;
    optimizer.paramGroups.forEach((g, i) => {
      if (lastEpoch === -1) g.initialLr ??= g.lr;
      else if (g.initialLr === undefined) {
        throw new TensorslimError(op, `paramGroups[${i}] has no initialLr, needed to resume at lastEpoch ${lastEpoch}; start with lastEpoch = -1`);
      }
    });
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
    this.lastEpoch = lastEpoch;
  }

  /**
   * The scheduler's type as checkpoints store it ('StepLR', 'CosineAnnealingLR', ...): fixed per
   * class, so it survives minifiers and subclasses.
   *
   * @example
   * new StepLR(opt, { stepSize: 10 }).typeName; // 'StepLR'
   */
  abstract get typeName(): string;

  /** The lr of a group whose base lr is `baseLr`, after `epoch` steps. */
  protected abstract lrAt(baseLr: number, epoch: number, group: number): number;

  /** Apply the lr of the current step; called once at the end of each subclass constructor. */
  protected initialStep(): void { this.step(); }

  /**
   * Advance one step and set every group's lr.
   *
   * @example
   * opt.step();
   * sched.step();
   */
  step(): void {
    this.lastEpoch += 1;
    this.lastLr = this.baseLrs.map((base, i) => this.lrAt(base, this.lastEpoch, i));
    this.optimizer.paramGroups.forEach((g, i) => { g.lr = this.lastLr[i]!; });
  }

  /**
   * The lrs set by the last step(), one per group.
   *
   * @example
   * console.log(sched.getLastLr()[0]);
   */
  getLastLr(): number[] { return [...this.lastLr]; }

  /**
   * The scheduler's state (PyTorch saves it next to the optimizer's).
   *
   * @example
   * const saved = sched.stateDict();
   * sched2.loadStateDict(saved);
   */
  stateDict(): SchedulerStateDict {
    return { lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs], lastLr: [...this.lastLr], config: { ...this.config } };
  }

  /**
   * Restore a state from stateDict(); checks it first and changes nothing on error. Like
   * PyTorch it does not touch the optimizer's lrs (the optimizer's own state dict has them).
   *
   * @example
   * sched.loadStateDict(checkpoint.scheduler);
   */
  loadStateDict(sd: SchedulerStateDict): void {
    const op = `${this.typeName}.loadStateDict`;
    const n = this.optimizer.paramGroups.length;
    if (typeof sd !== 'object' || sd === null || !Number.isInteger(sd.lastEpoch) || !Array.isArray(sd.baseLrs) || !Array.isArray(sd.lastLr)) {
      throw new TensorslimError(op, 'expected {lastEpoch, baseLrs, lastLr, config} as returned by stateDict()');
    }
    if (sd.baseLrs.length !== n) throw new TensorslimError(op, `loaded state has ${sd.baseLrs.length} base lrs, the optimizer has ${n} parameter groups`);
    const keys = Object.keys(this.config).sort().join(', ');
    const theirs = Object.keys(sd.config ?? {}).sort().join(', ');
    if (keys !== theirs) throw new TensorslimError(op, `loaded config has settings [${theirs}], this scheduler has [${keys}] (saved by a different scheduler?)`);
    for (const [k, v] of Object.entries(sd.config)) if (!Number.isFinite(v)) throw new TensorslimError(op, `loaded ${k} must be a finite number, got ${v}`);
    this.lastEpoch = sd.lastEpoch;
    this.baseLrs = [...sd.baseLrs];
    this.lastLr = [...sd.lastLr];
    Object.assign(this.config, sd.config);
  }
}

/**
 * Multiply the lr by `gamma` every `stepSize` steps, like torch.optim.lr_scheduler.StepLR:
 * lr = baseLr * gamma^floor(epoch / stepSize).
 *
 * @example
 * const sched = new StepLR(opt, 30, 0.1); // lr 0.05 for epochs 0-29, 0.005 for 30-59, ...
 */
export class StepLR extends LRScheduler<{ stepSize: number; gamma: number }> {
  get typeName(): string { return 'StepLR'; }
  constructor(optimizer: Optimizer, stepSize: number, gamma = 0.1, lastEpoch = -1) {
    if (!Number.isInteger(stepSize) || stepSize <= 0) throw new TensorslimError('StepLR', `stepSize must be a positive integer, got ${stepSize}`);
    super(optimizer, { stepSize, gamma }, lastEpoch);
    this.initialStep();
  }

  protected lrAt(baseLr: number, epoch: number): number {
    return baseLr * this.config.gamma ** Math.floor(epoch / this.config.stepSize);
  }
}

/**
 * Scale the lr linearly from `startFactor` to `endFactor` over `totalIters` steps, then keep
 * it, like torch.optim.lr_scheduler.LinearLR; with a small startFactor it is a linear warmup:
 * lr = baseLr * (start + (end - start) * min(totalIters, epoch) / totalIters).
 *
 * @example
 * const warmup = new LinearLR(opt, { startFactor: 0.01, endFactor: 1, totalIters: 100 });
 */
export class LinearLR extends LRScheduler<{ startFactor: number; endFactor: number; totalIters: number }> {
  get typeName(): string { return 'LinearLR'; }
  constructor(optimizer: Optimizer, options: { startFactor?: number; endFactor?: number; totalIters?: number } = {}, lastEpoch = -1) {
    const startFactor = options.startFactor ?? 1 / 3;
    const endFactor = options.endFactor ?? 1;
    const totalIters = options.totalIters ?? 5;
    if (!(startFactor > 0 && startFactor <= 1)) throw new TensorslimError('LinearLR', `startFactor must be in (0, 1], got ${startFactor}`);
    if (!(endFactor >= 0 && endFactor <= 1)) throw new TensorslimError('LinearLR', `endFactor must be in [0, 1], got ${endFactor}`);
    if (!Number.isInteger(totalIters) || totalIters <= 0) throw new TensorslimError('LinearLR', `totalIters must be a positive integer, got ${totalIters}`);
    super(optimizer, { startFactor, endFactor, totalIters }, lastEpoch);
    this.initialStep();
  }

  protected lrAt(baseLr: number, epoch: number): number {
    const { startFactor, endFactor, totalIters } = this.config;
    return baseLr * (startFactor + (endFactor - startFactor) * Math.min(totalIters, epoch) / totalIters);
  }
}

/**
 * Cosine annealing from the base lr down to `etaMin` over `tMax` steps, like
 * torch.optim.lr_scheduler.CosineAnnealingLR (closed form, no restarts):
 * lr = etaMin + (baseLr - etaMin) * (1 + cos(pi * epoch / tMax)) / 2.
 *
 * @example
 * const sched = new CosineAnnealingLR(opt, 1000, 1e-5);
 */
export class CosineAnnealingLR extends LRScheduler<{ tMax: number; etaMin: number }> {
  get typeName(): string { return 'CosineAnnealingLR'; }
  constructor(optimizer: Optimizer, tMax: number, etaMin = 0, lastEpoch = -1) {
    if (!(tMax > 0)) throw new TensorslimError('CosineAnnealingLR', `tMax must be > 0, got ${tMax}`);
    super(optimizer, { tMax, etaMin }, lastEpoch);
    this.initialStep();
  }

  protected lrAt(baseLr: number, epoch: number): number {
    const { tMax, etaMin } = this.config;
    return etaMin + (baseLr - etaMin) * (1 + Math.cos(Math.PI * epoch / tMax)) / 2;
  }
}

/**
 * Linear warmup then cosine decay, the usual GPT schedule (as in nanoGPT's get_lr):
 * for epoch < warmupSteps: lr = baseLr * (epoch + 1) / warmupSteps;
 * up to totalSteps: lr = minLr + (baseLr - minLr) * (1 + cos(pi * progress)) / 2 with
 * progress = (epoch - warmupSteps) / (totalSteps - warmupSteps); after totalSteps: minLr.
 * PyTorch has no such class; it equals LambdaLR with that factor.
 *
 * @example
 * const sched = new CosineWithWarmupLR(opt, { warmupSteps: 100, totalSteps: 5000, minLr: 6e-5 });
 */
export class CosineWithWarmupLR extends LRScheduler<{ warmupSteps: number; totalSteps: number; minLr: number }> {
  get typeName(): string { return 'CosineWithWarmupLR'; }
  constructor(optimizer: Optimizer, options: { warmupSteps: number; totalSteps: number; minLr?: number }, lastEpoch = -1) {
    const { warmupSteps, totalSteps } = options;
    const minLr = options.minLr ?? 0;
    if (!Number.isInteger(warmupSteps) || warmupSteps < 0) throw new TensorslimError('CosineWithWarmupLR', `warmupSteps must be an integer >= 0, got ${warmupSteps}`);
    if (!Number.isInteger(totalSteps) || totalSteps < warmupSteps) throw new TensorslimError('CosineWithWarmupLR', `totalSteps must be an integer >= warmupSteps (${warmupSteps}), got ${totalSteps}`);
    if (!(minLr >= 0)) throw new TensorslimError('CosineWithWarmupLR', `minLr must be >= 0, got ${minLr}`);
    super(optimizer, { warmupSteps, totalSteps, minLr }, lastEpoch);
    this.initialStep();
  }

  protected lrAt(baseLr: number, epoch: number): number {
    const { warmupSteps, totalSteps, minLr } = this.config;
    if (epoch < warmupSteps) return baseLr * (epoch + 1) / warmupSteps;
    if (epoch >= totalSteps) return minLr;
    const progress = (epoch - warmupSteps) / (totalSteps - warmupSteps);
    return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  }
}

/**
 * Linear warmup then cosine decay to `minLr`; shorthand for `new CosineWithWarmupLR(...)`.
 *
 * @example
 * const sched = cosineWithWarmup(opt, { warmupSteps: 100, totalSteps: 5000, minLr: 6e-5 });
 * for (let it = 0; it < 5000; it++) { trainStep(); opt.step(); sched.step(); }
 */
export function cosineWithWarmup(optimizer: Optimizer, options: { warmupSteps: number; totalSteps: number; minLr?: number }): CosineWithWarmupLR {
  return new CosineWithWarmupLR(optimizer, options);
}

/**
 * lr = baseLr * lrLambda(epoch), like torch.optim.lr_scheduler.LambdaLR; one function for all
 * groups or one per group. The functions are not saved by stateDict (as in PyTorch).
 *
 * @example
 * const sched = new LambdaLR(opt, (epoch) => 0.95 ** epoch);
 */
export class LambdaLR extends LRScheduler<Record<string, never>> {
  get typeName(): string { return 'LambdaLR'; }
  private readonly lambdas: ReadonlyArray<(epoch: number) => number>;

  constructor(optimizer: Optimizer, lrLambda: ((epoch: number) => number) | ReadonlyArray<(epoch: number) => number>, lastEpoch = -1) {
    const n = optimizer.paramGroups.length;
    const lambdas = typeof lrLambda === 'function' ? Array.from({ length: n }, () => lrLambda) : [...lrLambda];
    if (lambdas.length !== n) throw new TensorslimError('LambdaLR', `expected ${n} lrLambda functions (one per parameter group), got ${lambdas.length}`);
    super(optimizer, {}, lastEpoch);
    this.lambdas = lambdas;
    this.initialStep();
  }

  protected lrAt(baseLr: number, epoch: number, group: number): number {
    return baseLr * this.lambdas[group]!(epoch);
  }
}
