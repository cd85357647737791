// Resuming the pruning workflow (runPrune's `checkpoint` / `resume`): what its fine-tuning
// checkpoints carry beside the Trainer's state, and the checks that refuse a checkpoint of another
// run. A checkpoint is a Trainer checkpoint (src/train/trainer_state.ts: weights with the masks as
// `<layer>.weight_orig` / `<layer>.weight_mask`, Adam's state, sampler, RNG, position in the epoch,
// callback states such as the gradual schedule's) whose metadata `tensorslim.extra`.prune says which
// run wrote it (settings, a hash of the dense model, the data) and where the schedule stood (the
// fine-tuning phase: iterative round and its sparsity).

import { createHash } from 'node:crypto';
import { TensorslimError } from '../../core/errors.js';
import type { AnyModule, StateDict } from '../../nn/index.js';
import type { JsonObject } from '../../io/index.js';
import { loadTrainingCheckpoint, type EvalMetrics, type TrainingSnapshot } from '../../train/index.js';
import { identity } from './api.js';
import { prunedParameterNames } from './reparam.js';
import type { PruneTargets } from './schedule.js';

/** The runPrune options a resumed run must share with the run that wrote the checkpoint. */
export const PRUNE_SETTING_KEYS = ['method', 'amount', 'schedule', 'finetuneSteps', 'rounds', 'structured', 'batchSize', 'lr', 'seed'] as const;
/** Those options' values, as the checkpoint records them. */
export type PruneRunSettings = { [K in (typeof PRUNE_SETTING_KEYS)[number]]: string | number | boolean };

/** What a prune fine-tuning checkpoint holds in `tensorslim.extra`.prune. */
export interface PruneCheckpointState {
  version: 1;
  settings: PruneRunSettings;
  /** sha256 of the dense model's state dict (names, dtypes, shapes, values) the run started from. */
  dense: string;
  /** The fine-tuning data: dataset name and training samples. */
  data: { name: string; trainSize: number };
  /** 1-based fine-tuning phase: the iterative round, 1 for oneshot and gradual. */
  phase: number;
  /** The phase's label ('fine-tune', 'gradual', 'round 2'). */
  label: string;
  /** Iterative: the masked fraction the round pruned to (null otherwise). */
  sparsity: number | null;
  /** Iterative: test metrics right after round 1's pruning (runPrune's `pruned`); null otherwise. */
  pruned: EvalMetrics | null;
}

/** A checkpoint accepted for resuming: the Trainer snapshot of its phase and the prune state. */
export interface PruneResumePoint {
  path: string;
  snapshot: TrainingSnapshot;
  state: PruneCheckpointState;
}

const fail = (msg: string): never => { throw new TensorslimError('prune resume', msg); };

/**
 * sha256 of a model's state dict (names, dtypes, shapes and values): which dense model a prune
 * checkpoint started from.
 * @example stateFingerprint(model)   // '3f5c...' (64 hex digits)
 */
export function stateFingerprint(model: AnyModule): string {
  const h = createHash('sha256');
  for (const [name, t] of model.stateDict()) {
    const c = t.contiguous();
    h.update(`${name}:${c.dtype}:${c.shape.join('x')};`);
    const d = c.data as unknown as { buffer: ArrayBufferLike; byteOffset: number; BYTES_PER_ELEMENT: number };
    h.update(new Uint8Array(d.buffer, d.byteOffset + c.offset * d.BYTES_PER_ELEMENT, c.size * d.BYTES_PER_ELEMENT));
  }
  return h.digest('hex');
}

/** The state as JSON for the checkpoint's metadata (non-finite metrics as null). */
export function pruneStateJson(s: PruneCheckpointState): JsonObject {
  return JSON.parse(JSON.stringify(s, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x))) as JsonObject;
}

const num = (x: unknown): number => (typeof x === 'number' ? x : NaN);

/**
 * Read a prune fine-tuning checkpoint and check it belongs to this run (same settings, dense
 * model and data); throws saying what differs. `want` is this run's state without the phase.
 * @example const point = readPruneCheckpoint('run.ckpt.safetensors', { version: 1, settings, dense, data });
 */
export function readPruneCheckpoint(path: string, want: Pick<PruneCheckpointState, 'version' | 'settings' | 'dense' | 'data'>): PruneResumePoint {
  let loaded: ReturnType<typeof loadTrainingCheckpoint>;
  try { loaded = loadTrainingCheckpoint(path); } catch (e) { return fail(`'${path}' cannot be read as a checkpoint: ${(e as Error).message}`); }
  const raw = loaded.checkpoint.extra['prune'];
  if (raw === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return fail(`'${path}' is not a prune fine-tuning checkpoint (its metadata has no prune state): give a file written by prune --checkpoint (train and distill checkpoints resume with train/distill --resume)`);
  }
  if (loaded.snapshot === null) return fail(`'${path}' holds no training state (no optimizer state or trainer position); the file is damaged`);
  // a JSON object read from the file, typed as what the writer stored; checked field by field below
  const s = raw as unknown as PruneCheckpointState;
  if (s.version !== 1) fail(`'${path}' holds prune state version ${String(s.version)}; this tensorslim reads version 1`);
  if (s.settings === null || typeof s.settings !== 'object' || s.data === null || typeof s.data !== 'object' || typeof s.dense !== 'string'
    || !Number.isInteger(s.phase) || typeof s.label !== 'string') {
    fail(`'${path}': its prune state is malformed (expected settings, dense, data, phase, label); the file is damaged or from another tool`);
  }
  const diffs = PRUNE_SETTING_KEYS
    .filter((k) => s.settings[k] !== want.settings[k])
    .map((k) => `${k} ${String(s.settings[k])} (this run: ${String(want.settings[k])})`);
  if (diffs.length > 0) fail(`'${path}' was written by a prune run with other settings: ${diffs.join(', ')}; resume with the same flags, or start over without resuming`);
  if (s.data.name !== want.data.name || s.data.trainSize !== want.data.trainSize) {
    fail(`'${path}' fine-tuned on ${s.data.name} (${s.data.trainSize} training samples), this run on ${want.data.name} (${want.data.trainSize}); resume with the same dataset and --validation-fraction`);
  }
  if (s.dense !== want.dense) fail(`'${path}' was written while pruning another dense model (its weights differ from this one's); resume with the model the run started from`);
  const phases = want.settings.schedule === 'iterative' ? Number(want.settings.rounds) : 1;
  if (s.phase < 1 || s.phase > phases) fail(`'${path}' is in fine-tuning phase ${s.phase}, but this schedule has ${phases}; the file is damaged`);
  const m = s.pruned as unknown as Record<string, unknown> | null;
  const pruned = m === null || typeof m !== 'object' ? null
    : { loss: num(m['loss']), accuracy: num(m['accuracy']), samples: num(m['samples']), seconds: num(m['seconds']), samplesPerSecond: num(m['samplesPerSecond']) };
  return { path, snapshot: loaded.snapshot, state: { ...s, sparsity: typeof s.sparsity === 'number' ? s.sparsity : null, pruned } };
}

/**
 * Re-create the pruning reparametrization (all-ones masks, as prune.identity) of every target the
 * saved weights hold a mask for, so that `<layer>.weight_orig` / `<layer>.weight_mask` load.
 * @example restoreMaskStructure(model, prune.weightTargets(model), snapshot.model)
 */
export function restoreMaskStructure(model: AnyModule, targets: PruneTargets, saved: StateDict): void {
  const paths = new Map<AnyModule, string>(model.namedModules().map(([p, m]) => [m, p]));
  for (const [m, name] of targets) {
    const p = paths.get(m);
    const key = `${p ? `${p}.` : ''}${name}_mask`;
    if (saved.has(key) && !prunedParameterNames(m).includes(name)) identity(m, name);
  }
}
