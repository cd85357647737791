// The training loop: epochs or a step budget, evaluation each epoch, metrics, LR schedule, gradient
// clipping, a stop on a non-finite loss (keeping the last good checkpoint), callbacks, checkpoints
// each epoch (and every `checkpointEvery` steps) and exact resume. Everything a resumed run needs is in a TrainingSnapshot (model,
// optimizer, scheduler, default RNG, DataLoader sampler, counters, epoch accumulators, callbacks),
// so `1 epoch + resume 1 epoch` gives bitwise the parameters of `2 epochs`.
// It does not parse flags, print, or know the file format (trainer_state.ts and io/checkpoint_file.ts do).

import { Tensor } from '../core/tensor.js';
import { keep, StepScope } from '../autograd/tidy.js';
import { TensorslimError } from '../core/errors.js';
import { defaultGenerator, type GeneratorState } from '../core/random.js';
import { cloneStateDict, type AnyModule, type StateDict } from '../nn/index.js';
import { clipGradNorm, type LRScheduler, type Optimizer, type OptimizerStateDict, type SchedulerStateDict } from '../optim/index.js';
import type { DataLoaderState } from '../data/dataloader.js';
import type { Callback, EpochMetrics, EvalMetrics, FitResult, StopReason, TrainerView } from './callbacks.js';
import { batchSizeOf, classificationLoss, countCorrect, evaluate, type LossOutput } from './evaluate.js';

/** A source of training batches: a DataLoader, or anything iterable with a length (and ideally state). */
export interface TrainLoader<B> extends Iterable<B> {
  /** Batches per epoch. */
  readonly length: number;
  stateDict?(): DataLoaderState;
  loadStateDict?(state: DataLoaderState): void;
}

/** Computes the training loss of one batch (distillation supplies its own). */
export type LossFn<B> = (model: AnyModule, batch: B, trainer: TrainerView) => LossOutput | Tensor;

/** Running sums of the epoch in progress (saved so a resumed epoch reports the same metrics). */
export interface EpochAccumulators {
  lossSum: number;
  samples: number;
  correct: number;
  counted: number;
  seconds: number;
  batches: number;
}

/** Everything needed to continue training exactly where it stood. Tensors are snapshots (copies). */
export interface TrainingSnapshot {
  model: StateDict;
  optimizer: OptimizerStateDict;
  scheduler: SchedulerStateDict | null;
  /** State of the default generator (dropout masks, random init). */
  rng: GeneratorState;
  /** Sampler state of the training DataLoader. */
  loader: DataLoaderState | null;
  /** 0-based epoch in progress; the epoch's `stepInEpoch` steps are done. */
  epoch: number;
  step: number;
  stepInEpoch: number;
  accum: EpochAccumulators;
  history: EpochMetrics[];
  /** State of named callbacks. */
  callbacks: Record<string, unknown>;
}

/** Writes a snapshot to `path` (atomically); trainer_state.ts supplies the safetensors version. */
export type SaveSnapshot = (path: string, snapshot: TrainingSnapshot) => void | Promise<void>;

export interface TrainerOptions<B> {
  model: AnyModule;
  optimizer: Optimizer;
  trainLoader: TrainLoader<B>;
  /** Evaluated after every epoch (and after a partial last epoch). */
  evalLoader?: Iterable<B> | null;
  /** Total epochs to reach (counting epochs done before a resume). Default 1 unless `steps` is given. */
  epochs?: number;
  /** Total optimizer steps to reach instead (may end mid-epoch). */
  steps?: number;
  scheduler?: LRScheduler | null;
  /** Step the scheduler after every optimizer step (default) or after every epoch. */
  schedulerInterval?: 'step' | 'epoch';
  /** Training loss of a batch; default cross-entropy of model(x) vs y. */
  lossFn?: LossFn<B>;
  /** Loss used for evaluation; default cross-entropy. */
  evalLossFn?: (model: AnyModule, batch: B) => LossOutput;
  /** Clip the global gradient 2-norm to this value before each step. */
  gradClipNorm?: number | null;
  callbacks?: readonly Callback<B>[];
  /** Write a snapshot here after every epoch (and at the end); needs `save`. */
  checkpointPath?: string | null;
  save?: SaveSnapshot;
  /**
   * Also checkpoint every N optimizer steps inside an epoch (with the sampler's position, so a
   * resume continues mid-epoch); callbacks' onBeforeStepCheckpoint runs first, on every rank.
   */
  checkpointEvery?: number | null;
  /**
   * Combines the epoch's running sums before they are reported (data-parallel training: sums over
   * ranks, so history and callbacks see the global loss, accuracy and throughput). The sums kept
   * for checkpoints stay this process's own.
   */
  reduceEpoch?: (a: EpochAccumulators) => Promise<EpochAccumulators>;
  /**
   * Run each step in a step scope (autograd/tidy.ts, default true): when the step ends, the storage
   * of its activations, and of the gradients zeroGrad drops (without a distributed stepper), goes
   * back to the storage pool for the next step. Kept: what the loss function returns, every tensor
   * a module of the model holds as a property, what module hooks see, and keep(t); any other tensor
   * of the step throws when used after it. Set false for a loss function or callback that keeps
   * tensors of a step elsewhere (or call keep() on them).
   */
  stepScope?: boolean;
  /**
   * With the step scope, also give each activation back as soon as backward has used it
   * (StepScopeOptions.releaseSaved; default false): lower peak memory for large models (docs/GPT.md
   * "Step scopes at GPT-2's size"). The loss and the loss function's `output` and `target` are
   * kept; a callback that reads any other tensor of the step after backward must not set it.
   */
  releaseSaved?: boolean;
}

const now = (): number => performance.now();
const zeroAccum = (): EpochAccumulators => ({ lossSum: 0, samples: 0, correct: 0, counted: 0, seconds: 0, batches: 0 });

/**
 * Trains a model. Create it, optionally `resume(snapshot)`, then `await fit()`.
 *
 * @example
 * manualSeed(0);
 * const model = createModel('mlp');
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 * const trainer = new Trainer({
 *   model, optimizer: opt, epochs: 3,
 *   trainLoader: new DataLoader(train, { batchSize: 64, shuffle: true, seed: 0 }),
 *   evalLoader: new DataLoader(test, { batchSize: 500 }),
 * });
 * const result = await trainer.fit();
 * result.finalEval?.accuracy;
 */
export class Trainer<B = Tensor[]> implements TrainerView {
  readonly model: AnyModule;
  readonly optimizer: Optimizer;
  readonly scheduler: LRScheduler | null;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly totalEpochs: number;
  epoch = 0;
  step = 0;
  stepInEpoch = 0;
  history: EpochMetrics[] = [];
  private accum: EpochAccumulators = zeroAccum();
  private stopReason: StopReason | null = null;
  private stopMessage: string | null = null;
  private lastCheckpoint: string | null = null;
  private lastCheckpointStep = 0;
  private readonly opts: TrainerOptions<B>;
  private readonly callbacks: readonly Callback<B>[];
  private readonly lossFn: LossFn<B>;
  private readonly stepper: Callback<B> | undefined;

  constructor(opts: TrainerOptions<B>) {
    const op = 'Trainer';
    this.opts = opts;
    this.model = opts.model;
    this.optimizer = opts.optimizer;
    this.scheduler = opts.scheduler ?? null;
    this.callbacks = opts.callbacks ?? [];
    this.lossFn = opts.lossFn ?? ((m, b) => classificationLoss(m, b));
    const steppers = this.callbacks.filter((cb) => cb.onOptimizerStep);
    if (steppers.length > 1) throw new TensorslimError(op, `${steppers.length} callbacks define onOptimizerStep; at most one may take over the optimizer step`);
    this.stepper = steppers[0];
    const spe = opts.trainLoader.length;
    if (!Number.isInteger(spe) || spe < 1) throw new TensorslimError(op, `the training loader yields ${spe} batches per epoch; it needs at least one (is the dataset empty, or dropLast with batchSize > dataset size?)`);
    this.stepsPerEpoch = spe;
    if (opts.steps !== undefined && opts.epochs !== undefined) throw new TensorslimError(op, 'give epochs or steps, not both');
    if (opts.steps !== undefined) {
      if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new TensorslimError(op, `steps must be a positive integer, got ${opts.steps}`);
      this.totalSteps = opts.steps;
      this.totalEpochs = Math.ceil(opts.steps / spe);
    } else {
      const epochs = opts.epochs ?? 1;
      if (!Number.isInteger(epochs) || epochs < 1) throw new TensorslimError(op, `epochs must be a positive integer, got ${epochs}`);
      this.totalEpochs = epochs;
      this.totalSteps = epochs * spe;
    }
    if (opts.gradClipNorm != null && !(opts.gradClipNorm > 0)) throw new TensorslimError(op, `gradClipNorm must be > 0, got ${opts.gradClipNorm}`);
    if (opts.checkpointEvery != null && !(Number.isInteger(opts.checkpointEvery) && opts.checkpointEvery >= 1)) throw new TensorslimError(op, `checkpointEvery must be a positive integer (optimizer steps), got ${opts.checkpointEvery}`);
    if (opts.checkpointPath && !opts.save) throw new TensorslimError(op, 'checkpointPath needs a save function (use saveTrainingCheckpoint from src/train/trainer_state.ts)');
    const names = new Set<string>();
    for (const cb of this.callbacks) {
      if (cb.stateDict && !cb.name) throw new TensorslimError(op, 'a callback with stateDict() needs a name (its key in checkpoints)');
      if (cb.name) { if (names.has(cb.name)) throw new TensorslimError(op, `two callbacks are named '${cb.name}'`); names.add(cb.name); }
    }
  }

  /** Running mean training loss of the epoch in progress. */
  get epochLoss(): number { return this.accum.samples > 0 ? this.accum.lossSum / this.accum.samples : NaN; }
  /** Training throughput of the epoch in progress, samples per second. */
  get epochSamplesPerSecond(): number { return this.accum.seconds > 0 ? this.accum.samples / this.accum.seconds : 0; }
  /** Current learning rate of the first parameter group. */
  get lr(): number { return this.optimizer.paramGroups[0]!.lr; }

  /** See TrainerView.stop. @example trainer.stop('target accuracy reached') */
  stop(reason: string): void {
    if (this.stopReason === null) { this.stopReason = 'stopped'; this.stopMessage = reason; }
  }

  /**
   * A snapshot of the full training state (tensors copied).
   *
   * @example
   * const snap = trainer.snapshot();
   * other.resume(snap);
   */
  snapshot(loaderState: DataLoaderState | null = this.opts.trainLoader.stateDict?.() ?? null): TrainingSnapshot {
    const callbacks: Record<string, unknown> = {};
    for (const cb of this.callbacks) if (cb.name && cb.stateDict) callbacks[cb.name] = cb.stateDict();
    return {
      model: cloneStateDict(this.model.stateDict()),
      optimizer: this.optimizer.stateDict(),
      scheduler: this.scheduler ? this.scheduler.stateDict() : null,
      rng: defaultGenerator.getState(),
      loader: loaderState,
      epoch: this.epoch,
      step: this.step,
      stepInEpoch: this.stepInEpoch,
      accum: { ...this.accum },
      history: structuredClone(this.history),
      callbacks,
    };
  }

  /**
   * Restore a snapshot (from snapshot() or loadTrainingCheckpoint) before fit(). Callback states are
   * restored first, then the model, optimizer, scheduler, sampler, RNG and counters. Checks what it
   * can before changing anything. `fromPath`: the file the snapshot came from; when it is also this
   * trainer's checkpointPath, a NaN stop before the next checkpoint reports it as the one kept.
   *
   * @example
   * const trainer = new Trainer({ ...sameOptions, epochs: 2 });
   * trainer.resume(await loadTrainingCheckpoint('run.safetensors').snapshot);
   * await trainer.fit();  // continues with epoch 2
   */
  resume(s: TrainingSnapshot, fromPath: string | null = null): void {
    const op = 'Trainer.resume';
    if (!Number.isInteger(s.step) || s.step < 0 || !Number.isInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.stepInEpoch) || s.stepInEpoch < 0) {
      throw new TensorslimError(op, `bad counters in the snapshot: epoch ${s.epoch}, step ${s.step}, stepInEpoch ${s.stepInEpoch}`);
    }
    if (s.stepInEpoch >= this.stepsPerEpoch) {
      throw new TensorslimError(op, `the snapshot is ${s.stepInEpoch} steps into an epoch, but an epoch here has ${this.stepsPerEpoch} steps; resume with the same dataset and batch size`);
    }
    if (s.scheduler !== null && this.scheduler === null) throw new TensorslimError(op, 'the snapshot has a scheduler state but this trainer has no scheduler; use the same LR schedule');
    if (s.loader && !this.opts.trainLoader.loadStateDict) throw new TensorslimError(op, 'the snapshot has a sampler state but the training loader cannot load one (use a DataLoader)');
    for (const cb of this.callbacks) {
      if (cb.name && cb.loadStateDict && s.callbacks[cb.name] !== undefined) cb.loadStateDict(s.callbacks[cb.name]);
    }
    this.model.loadStateDict(s.model);
    this.optimizer.loadStateDict(s.optimizer);
    if (this.scheduler && s.scheduler) this.scheduler.loadStateDict(s.scheduler);
    if (s.loader) this.opts.trainLoader.loadStateDict!(s.loader);
    defaultGenerator.setState(s.rng);
    this.epoch = s.epoch;
    this.step = s.step;
    this.stepInEpoch = s.stepInEpoch;
    this.accum = { ...s.accum };
    this.history = structuredClone(s.history);
    if (fromPath !== null && fromPath === this.opts.checkpointPath) {
      // resuming a run in place: its file is the last good checkpoint until the next one is written
      this.lastCheckpoint = fromPath;
      this.lastCheckpointStep = s.step;
    }
  }

  /**
   * Train until the epoch or step budget is reached, a non-finite loss appears, or a callback
   * calls stop(). Never throws for a non-finite loss: the result says what happened.
   *
   * @example
   * const r = await trainer.fit();
   * if (r.stopReason !== 'completed') console.error(r.message);
   */
  async fit(): Promise<FitResult> {
    const tStart = now();
    let trainSeconds = 0;
    let trainSamples = 0;
    let finalEval: EvalMetrics | null = null;
    this.stopReason = null;
    this.stopMessage = null;
    const loader = this.opts.trainLoader;
    const interval = this.opts.schedulerInterval ?? 'step';
    await this.hook((cb) => cb.onTrainBegin?.(this));
    this.model.train();

    while (this.step < this.totalSteps && this.epoch < this.totalEpochs && this.stopReason === null) {
      if (this.stepInEpoch === 0) await this.hook((cb) => cb.onEpochBegin?.(this));
      let midEpochState: DataLoaderState | null = null;
      for (const batch of loader) {
        const t0 = now();
        await this.hook((cb) => cb.onStepBegin?.(this, batch));
        // the step's activations (and the gradients zeroGrad drops) go back to the storage pool when
        // it ends, for the next step (autograd/tidy.ts); what the loss function returns is kept
        const scope = this.opts.stepScope === false ? null : new StepScope({ roots: [this.model], releaseGrads: this.stepper === undefined, releaseSaved: this.opts.releaseSaved === true });
        let out: LossOutput | undefined, lossValue = NaN, n = 0, done = false;
        try {
          const raw = this.lossFn(this.model, batch, this);
          out = raw instanceof Tensor ? { loss: raw } : raw;
          lossValue = out.loss.item();
          n = batchSizeOf(batch);
          if (!Number.isFinite(lossValue)) {
            this.stopNonFinite(`loss is ${lossValue}`, n);
            break;
          }
          const loss = out.loss;
          if (out.output) keep(out.output);   // read after backward (countCorrect): never released during it
          if (out.target) keep(out.target);
          loss.backward();
          await this.hook((cb) => cb.onAfterBackward?.(this, loss));
          if (this.stepper) {
            const norm = await this.stepper.onOptimizerStep!(this, this.opts.gradClipNorm ?? null);
            if (norm !== null && !Number.isFinite(norm)) {
              this.optimizer.zeroGrad();
              this.stopNonFinite(`the gradient norm is ${norm} (loss ${lossValue})`, n);
              break;
            }
          } else if (this.opts.gradClipNorm != null) {
            const norm = clipGradNorm(this.optimizer.paramGroups.flatMap((g) => g.params), this.opts.gradClipNorm);
            if (!Number.isFinite(norm)) {
              this.optimizer.zeroGrad();
              this.stopNonFinite(`the gradient norm is ${norm} (loss ${lossValue})`, n);
              break;
            }
          }
          if (!this.stepper) this.optimizer.step();
          this.optimizer.zeroGrad();
          if (this.scheduler && interval === 'step') this.scheduler.step();
          this.step++;
          this.stepInEpoch++;
          const dt = (now() - t0) / 1000;
          const a = this.accum;
          a.lossSum += lossValue * n;
          a.samples += n;
          a.seconds += dt;
          a.batches++;
          trainSeconds += dt;
          trainSamples += n;
          if (out.output && out.target) {
            const c = countCorrect(out.output, out.target);
            if (Number.isFinite(c)) { a.correct += c; a.counted += n; }
          }
          done = true;
        } finally {
          if (scope !== null) { if (done) scope.close(out); else scope.abandon(); }
        }
        await this.hook((cb) => cb.onStepEnd?.(this, batch, lossValue));
        if (this.step >= this.totalSteps || this.stopReason !== null) {
          if (this.stepInEpoch < this.stepsPerEpoch) midEpochState = loader.stateDict?.() ?? null;
          break;
        }
        const every = this.opts.checkpointEvery;
        if (every != null && this.step % every === 0 && this.stepInEpoch < this.stepsPerEpoch) {
          // a checkpoint inside the epoch (the epoch's end writes its own below)
          await this.hook((cb) => cb.onBeforeStepCheckpoint?.(this));
          await this.writeCheckpoint(loader.stateDict?.() ?? null);
        }
      }
      if (this.stopReason === 'nonfinite-loss') break;
      const full = this.stepInEpoch >= this.stepsPerEpoch;
      if (this.stepInEpoch === 0) break; // a stop before any step of this epoch: nothing to report
      if (full && this.scheduler && interval === 'epoch') this.scheduler.step();
      const metrics = this.epochMetrics(this.opts.reduceEpoch ? await this.opts.reduceEpoch({ ...this.accum }) : this.accum);
      if (this.opts.evalLoader) {
        metrics.eval = evaluate(this.model, this.opts.evalLoader, this.opts.evalLossFn ? { lossFn: this.opts.evalLossFn } : {});
        finalEval = metrics.eval;
        await this.hook((cb) => cb.onEvaluate?.(this, metrics.eval!));
      }
      const last = this.history[this.history.length - 1];
      if (last !== undefined && last.epoch === metrics.epoch) this.history[this.history.length - 1] = metrics; // a resumed partial epoch
      else this.history.push(metrics);
      await this.hook((cb) => cb.onEpochEnd?.(this, metrics));
      if (full) { this.epoch++; this.stepInEpoch = 0; this.accum = zeroAccum(); }
      await this.writeCheckpoint(full ? (loader.stateDict?.() ?? null) : midEpochState);
    }

    const result: FitResult = {
      stopReason: this.stopReason ?? 'completed',
      message: this.stopMessage,
      history: structuredClone(this.history),
      step: this.step,
      epochs: this.history.length,
      finalEval,
      seconds: (now() - tStart) / 1000,
      trainSeconds,
      samplesPerSecond: trainSeconds > 0 ? trainSamples / trainSeconds : 0,
      checkpoint: this.lastCheckpoint,
    };
    await this.hook((cb) => cb.onTrainEnd?.(this, result));
    return result;
  }

  private stopNonFinite(what: string, batchSize: number): void {
    this.optimizer.zeroGrad();
    this.stopReason = 'nonfinite-loss';
    const where = `epoch ${this.epoch + 1}, step ${this.step + 1} (batch ${this.stepInEpoch + 1} of ${this.stepsPerEpoch}, ${batchSize} samples)`;
    const kept = this.lastCheckpoint
      ? `the last good checkpoint is kept: ${this.lastCheckpoint} (written after step ${this.lastCheckpointStep})`
      : 'no checkpoint was written yet';
    this.stopMessage = `training stopped: ${what} at ${where}, lr ${this.lr}; that step was not taken and ${kept}. `
      + `Try a lower learning rate${this.opts.gradClipNorm == null ? ' or gradient clipping (gradClipNorm / --clip-grad 1)' : ''}.`;
  }

  private async writeCheckpoint(loaderState: DataLoaderState | null): Promise<void> {
    const path = this.opts.checkpointPath;
    if (!path || !this.opts.save) return;
    await this.opts.save(path, this.snapshot(loaderState));
    this.lastCheckpoint = path;
    this.lastCheckpointStep = this.step;
    await this.hook((cb) => cb.onCheckpoint?.(this, path));
  }

  private epochMetrics(a: EpochAccumulators): EpochMetrics {
    return {
      epoch: this.epoch,
      step: this.step,
      batches: a.batches,
      trainLoss: a.samples > 0 ? a.lossSum / a.samples : NaN,
      trainAccuracy: a.counted > 0 ? a.correct / a.counted : NaN,
      lr: this.lr,
      seconds: a.seconds,
      samplesPerSecond: a.seconds > 0 ? a.samples / a.seconds : 0,
    };
  }

  /** Run one hook on every callback in order, awaiting the async ones. */
  private async hook(fn: (cb: Callback<B>) => void | Promise<void> | undefined): Promise<void> {
    for (const cb of this.callbacks) {
      const r = fn(cb);
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') await r;
    }
  }
}
