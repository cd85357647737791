// The trainer's hook points. Features plug in here instead of copying the loop: a pruning schedule
// masks weights in onStepEnd, distillation replaces the loss (TrainerOptions.lossFn), a logger reads
// onEpochEnd. Hooks run in the order the callbacks were given; a hook may be async.
//
// Order within one fit():
//   onTrainBegin
//   per epoch: onEpochBegin
//     per step: onStepBegin(batch) -> loss -> backward -> onAfterBackward -> clip -> optimizer.step
//               (or onOptimizerStep, which does both)
//               -> scheduler.step (per-step schedules) -> onStepEnd(batch, loss)
//               -> every checkpointEvery steps inside an epoch: onBeforeStepCheckpoint -> checkpoint -> onCheckpoint(path)
//     onEvaluate(metrics) (when there is an eval loader) -> onEpochEnd(metrics) -> checkpoint -> onCheckpoint(path)
//   onTrainEnd(result)

import type { Tensor } from '../core/tensor.js';
import type { AnyModule } from '../nn/index.js';
import type { LRScheduler, Optimizer } from '../optim/index.js';

/** Metrics of one evaluation pass. */
export interface EvalMetrics {
  /** Mean loss per sample. */
  loss: number;
  /** Fraction of samples whose argmax prediction equals the label (NaN when not a classification). */
  accuracy: number;
  samples: number;
  seconds: number;
  samplesPerSecond: number;
}

/** Metrics of one epoch (or of the last, partial epoch of a --steps run). */
export interface EpochMetrics {
  /** 0-based epoch index. */
  epoch: number;
  /** Optimizer steps done at the end of this epoch (global). */
  step: number;
  /** Batches of this epoch that were trained. */
  batches: number;
  /** Mean training loss per sample over the epoch. */
  trainLoss: number;
  /** Training accuracy over the epoch (NaN when the loss function gives no logits). */
  trainAccuracy: number;
  /** Learning rate of the first parameter group at the end of the epoch. */
  lr: number;
  /** Training time of the epoch (evaluation excluded), seconds. */
  seconds: number;
  /** Training throughput, samples per second. */
  samplesPerSecond: number;
  /** Evaluation after the epoch, when an eval loader was given. */
  eval?: EvalMetrics;
}

/** What the trainer shows callbacks: the objects it trains and where it stands. */
export interface TrainerView {
  readonly model: AnyModule;
  readonly optimizer: Optimizer;
  readonly scheduler: LRScheduler | null;
  /** 0-based index of the epoch in progress (or just finished). */
  readonly epoch: number;
  /** Optimizer steps done so far (global, across epochs and resumes). */
  readonly step: number;
  /** Steps done in the epoch in progress. */
  readonly stepInEpoch: number;
  /** Steps per full epoch. */
  readonly stepsPerEpoch: number;
  /** Total steps this fit() will reach. */
  readonly totalSteps: number;
  /** Epochs this fit() will reach (the last may be partial with --steps). */
  readonly totalEpochs: number;
  /** Metrics of the finished epochs. */
  readonly history: readonly EpochMetrics[];
  /** Running mean training loss of the epoch in progress (NaN before its first step). */
  readonly epochLoss: number;
  /** Training throughput of the epoch in progress, samples per second. */
  readonly epochSamplesPerSecond: number;
  /** Current learning rate of the first parameter group. */
  readonly lr: number;
  /** Ask the trainer to stop after the current step (finishes the epoch's bookkeeping, no more steps). */
  stop(reason: string): void;
}

/**
 * A set of hooks into the training loop. All are optional. A callback with `name` and
 * stateDict/loadStateDict has its state saved in checkpoints and restored on resume (before the
 * model's weights are loaded, so a callback can re-create module structure such as pruning masks).
 *
 * @example
 * const logger: Callback = {
 *   onEpochEnd(t, m) { console.log(`epoch ${m.epoch}: loss ${m.trainLoss}`); },
 * };
 * await new Trainer({ ..., callbacks: [logger] }).fit();
 */
export interface Callback<B = unknown> {
  /** Identifies the callback's state in checkpoints (required to use stateDict). */
  readonly name?: string;
  onTrainBegin?(t: TrainerView): void | Promise<void>;
  onEpochBegin?(t: TrainerView): void | Promise<void>;
  onStepBegin?(t: TrainerView, batch: B): void | Promise<void>;
  /** After loss.backward(), before clipping and the optimizer step: gradients are in p.grad. */
  onAfterBackward?(t: TrainerView, loss: Tensor): void | Promise<void>;
  /**
   * Takes over clipping and the optimizer step (a sharded optimizer such as ZeRO, whose step is a
   * collective): clip the gradients to `clipNorm` when it is not null, then step unless the norm is
   * not finite; resolve with the norm before clipping (null without clipping). At most one callback
   * of a Trainer may define it; the Trainer then never calls `optimizer.step()` itself.
   */
  onOptimizerStep?(t: TrainerView, clipNorm: number | null): Promise<number | null>;
  /** After the optimizer (and per-step scheduler) step; `loss` is this batch's mean loss. */
  onStepEnd?(t: TrainerView, batch: B, loss: number): void | Promise<void>;
  onEvaluate?(t: TrainerView, metrics: EvalMetrics): void | Promise<void>;
  onEpochEnd?(t: TrainerView, metrics: EpochMetrics): void | Promise<void>;
  onCheckpoint?(t: TrainerView, path: string): void | Promise<void>;
  /**
   * Before a checkpoint inside an epoch (TrainerOptions.checkpointEvery), on every rank whether or
   * not it writes the file: gather sharded state here (epoch-end checkpoints follow onEpochEnd).
   */
  onBeforeStepCheckpoint?(t: TrainerView): void | Promise<void>;
  onTrainEnd?(t: TrainerView, result: FitResult): void | Promise<void>;
  /** JSON-serializable state saved in checkpoints. */
  stateDict?(): unknown;
  loadStateDict?(state: unknown): void;
}

/** Why fit() returned. */
export type StopReason = 'completed' | 'nonfinite-loss' | 'stopped';

/** What fit() returns. */
export interface FitResult {
  stopReason: StopReason;
  /** Human-readable explanation when stopReason is not 'completed'. */
  message: string | null;
  history: EpochMetrics[];
  /** Optimizer steps done (global). */
  step: number;
  /** Epochs finished (a partial last epoch of a --steps run counts). */
  epochs: number;
  /** The last evaluation, if any. */
  finalEval: EvalMetrics | null;
  /** Wall time of this fit() call, seconds. */
  seconds: number;
  /** Training time of this fit() call (evaluation and checkpoints excluded), seconds. */
  trainSeconds: number;
  /** Mean training throughput of this fit() call, samples per second. */
  samplesPerSecond: number;
  /** The last checkpoint written (or kept, after a stop), or null. */
  checkpoint: string | null;
}
