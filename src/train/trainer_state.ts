// Trainer state in checkpoint files: a TrainingSnapshot written with io's saveCheckpoint (safetensors, atomic) and
// read back. io stores the weights, optimizer and scheduler state, step, epoch, model config and RNG
// state; what only the trainer needs (DataLoader sampler state, position in the epoch, epoch
// accumulators, history, callback states) goes into metadata `tensorslim.extra` under `trainer`.
// JSON cannot carry NaN (e.g. the accuracy of a loss without logits): it is stored as null and read
// back as NaN.

import { TensorslimError } from '../core/errors.js';
import type { ModelConfig } from '../models/index.js';
import { loadCheckpoint, saveCheckpoint, type Checkpoint, type JsonObject } from '../io/index.js';
import type { LRScheduler, Optimizer } from '../optim/index.js';
import type { DataLoaderState } from '../data/dataloader.js';
import type { EpochMetrics } from './callbacks.js';
import type { EpochAccumulators, SaveSnapshot, TrainingSnapshot } from './trainer.js';

/** The trainer's part of a checkpoint, kept in `extra.trainer`. */
interface TrainerExtra {
  stepInEpoch: number;
  loader: DataLoaderState | null;
  accum: EpochAccumulators;
  history: EpochMetrics[];
  callbacks: Record<string, unknown>;
}

/** Replace non-finite numbers by null (JSON), recursively. */
function finiteJson(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x))) as unknown;
}

/** null -> NaN for the numeric fields of epoch metrics. */
function revive(m: EpochMetrics): EpochMetrics {
  const num = (x: unknown): number => (typeof x === 'number' ? x : NaN);
  const out: EpochMetrics = {
    epoch: num(m.epoch), step: num(m.step), batches: num(m.batches), trainLoss: num(m.trainLoss), trainAccuracy: num(m.trainAccuracy),
    lr: num(m.lr), seconds: num(m.seconds), samplesPerSecond: num(m.samplesPerSecond),
  };
  if (m.eval) {
    out.eval = { loss: num(m.eval.loss), accuracy: num(m.eval.accuracy), samples: num(m.eval.samples), seconds: num(m.eval.seconds), samplesPerSecond: num(m.eval.samplesPerSecond) };
  }
  return out;
}

/**
 * A SaveSnapshot for the Trainer that writes a tensorslim checkpoint (safetensors, atomic) with the
 * live optimizer's and scheduler's class names, the model config and `extra` fields of the caller.
 *
 * @example
 * const trainer = new Trainer({ ..., checkpointPath: 'run.safetensors',
 *   save: checkpointSaver({ optimizer: opt, scheduler: null, config: model.config }) });
 */
export function checkpointSaver(live: { optimizer: Optimizer; scheduler: LRScheduler | null; config: ModelConfig | null; extra?: JsonObject }): SaveSnapshot {
  return (path, s) => { saveTrainingCheckpoint(path, s, live); };
}

/**
 * Write `snapshot` to `path` as a tensorslim checkpoint. `optimizer`/`scheduler` must be the live
 * objects the snapshot was taken from (their class names are recorded; their state comes from the snapshot).
 * Returns the bytes written.
 *
 * @example
 * saveTrainingCheckpoint('run.safetensors', trainer.snapshot(), { optimizer: opt, scheduler: null, config: model.config });
 */
export function saveTrainingCheckpoint(path: string, s: TrainingSnapshot, live: { optimizer: Optimizer; scheduler: LRScheduler | null; config: ModelConfig | null; extra?: JsonObject }): number {
  const trainer: TrainerExtra = { stepInEpoch: s.stepInEpoch, loader: s.loader, accum: s.accum, history: s.history, callbacks: s.callbacks };
  // The snapshot's optimizer/scheduler states, presented under the live objects' class names.
  const optimizer = Object.create(live.optimizer) as Optimizer;
  Object.defineProperty(optimizer, 'stateDict', { value: () => s.optimizer });
  const scheduler = live.scheduler === null ? undefined : (Object.create(live.scheduler) as LRScheduler);
  if (scheduler !== undefined) Object.defineProperty(scheduler, 'stateDict', { value: () => s.scheduler });
  return saveCheckpoint(path, {
    model: s.model,
    optimizer,
    ...(scheduler !== undefined ? { scheduler } : {}),
    step: s.step,
    epoch: s.epoch,
    config: live.config,
    rngState: s.rng,
    extra: { ...(live.extra ?? {}), trainer: finiteJson(trainer) as JsonObject },
  });
}

/** A loaded checkpoint and, when it was written by the Trainer, the snapshot to resume from. */
export interface LoadedTrainingCheckpoint {
  checkpoint: Checkpoint;
  /** Null for a weights-only checkpoint or one saved without an optimizer (cannot resume exactly). */
  snapshot: TrainingSnapshot | null;
}

/**
 * Read a checkpoint and rebuild the TrainingSnapshot the Trainer wrote into it.
 *
 * @example
 * const { checkpoint, snapshot } = loadTrainingCheckpoint('run.safetensors');
 * const model = modelFromConfig(checkpoint.config!);
 * // ... build the optimizer and loader as before, then:
 * trainer.resume(snapshot!);
 */
export function loadTrainingCheckpoint(path: string): LoadedTrainingCheckpoint {
  const checkpoint = loadCheckpoint(path);
  const t = checkpoint.extra['trainer'];
  if (checkpoint.optimizer === null || t === undefined || t === null || typeof t !== 'object' || Array.isArray(t)) {
    return { checkpoint, snapshot: null };
  }
  // a JSON object read from the file, typed as what save wrote; its fields are checked just below
  const x = t as unknown as TrainerExtra;
  const op = `loadTrainingCheckpoint('${path}')`;
  if (!Number.isInteger(x.stepInEpoch) || x.stepInEpoch < 0 || !x.accum || typeof x.accum !== 'object' || !Array.isArray(x.history)) {
    throw new TensorslimError(op, "metadata 'tensorslim.extra'.trainer is malformed (expected stepInEpoch, accum, history); the file is damaged or from another tool");
  }
  return {
    checkpoint,
    snapshot: {
      model: checkpoint.model,
      optimizer: checkpoint.optimizer.stateDict,
      scheduler: checkpoint.scheduler?.stateDict ?? null,
      rng: checkpoint.rngState,
      loader: x.loader ?? null,
      epoch: checkpoint.epoch,
      step: checkpoint.step,
      stepInEpoch: x.stepInEpoch,
      accum: { ...x.accum },
      history: x.history.map(revive),
      callbacks: x.callbacks ?? {},
    },
  };
}

/**
 * The model config stored in a checkpoint, or an error saying how to rebuild the model.
 *
 * @example
 * const model = modelFromConfig(checkpointConfig(ckpt, 'eval'));
 */
export function checkpointConfig(ckpt: Checkpoint, op: string): ModelConfig {
  if (ckpt.config === null) throw new TensorslimError(op, 'the checkpoint has no model config (the model was built by hand), so it cannot be rebuilt by name');
  return ckpt.config;
}
