// The pruning workflow: prune a trained image classifier with a method and schedule, fine-tune it
// through the Trainer, bake the masks in and store the result compactly (CSR layers, or a shrunk
// dense model). This is what `tensorslim prune` and the demo's pruning stage run; the CLI only
// parses flags, formats the events below as lines and prints the result. It never prints.

import { defaultGenerator, manualSeed } from '../../core/random.js';
import { TensorslimError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import type { AnyModule } from '../../nn/index.js';
import { DataLoader, type ImageClassificationData } from '../../data/index.js';
import { modelFromConfig, type PresetModel } from '../../models/index.js';
import type { JsonObject } from '../../io/index.js';
import { Trainer, checkpointSaver, evaluateOn, makeOptimizer, type Callback, type DataParallel, type EpochAccumulators, type EvalMetrics, type TrainingSnapshot } from '../../train/index.js';
import { lnStructured, nmStructured } from './api.js';
import { prunedParameterNames, remove } from './reparam.js';
import { gradualPruningCallback, maskSparsity, pruneToSparsity, weightTargets } from './schedule.js';
import { countNonzeros, sparseLayers, toSparse, type SparseLayerInfo } from './sparse.js';
import { shrink, type ShrinkLayerReport } from './structured.js';
import { PRUNE_SETTING_KEYS, pruneStateJson, readPruneCheckpoint, restoreMaskStructure, stateFingerprint, type PruneCheckpointState, type PruneResumePoint, type PruneRunSettings } from './resume.js';

/** Pruning methods of runPrune (and of `tensorslim prune --method`). */
export const PRUNE_METHODS = ['l1', 'random', 'ln-structured', 'global', '2:4'] as const;
export type PruneMethodName = (typeof PRUNE_METHODS)[number];
/** Schedules of runPrune (and of `tensorslim prune --schedule`). */
export const PRUNE_SCHEDULES = ['oneshot', 'gradual', 'iterative'] as const;
export type PruneScheduleName = (typeof PRUNE_SCHEDULES)[number];

/**
 * What runPrune reports while it works (the CLI prints one line per event):
 * - `dense`: the model before pruning;
 * - `gradual`: the gradual schedule about to run (numSteps + 1 pruning steps, `frequency` apart, of `steps`);
 * - `round`: an iterative round pruned to `sparsity`, about to fine-tune `steps` steps;
 * - `shrunk`: pruned units removed (`exact` false: a padded convolution folded inexactly);
 * - `pruned`: one-shot pruning done, before fine-tuning;
 * - `resumed`: fine-tuning phase `label` continues from checkpoint `path` at `step` of its `steps`.
 */
export type PruneEvent =
  | { kind: 'dense'; parameters: number; accuracy: number }
  | { kind: 'gradual'; amount: number; numSteps: number; frequency: number; steps: number }
  | { kind: 'round'; round: number; rounds: number; sparsity: number; accuracy: number; steps: number }
  | { kind: 'shrunk'; exact: boolean; layers: ShrinkLayerReport[]; parametersBefore: number; parametersAfter: number }
  | { kind: 'pruned'; method: PruneMethodName; structured: boolean; accuracy: number }
  | { kind: 'resumed'; path: string; label: string; step: number; steps: number };

/** Options of runPrune (`tensorslim prune`'s flags, resolved). */
export interface RunPruneOptions<M extends AnyModule = PresetModel> {
  /** The trained dense model: a preset, or any module taking the data's images (an imported ONNX graph); it is pruned in place unless `structured` builds a new one. */
  model: M;
  data: ImageClassificationData;
  method: PruneMethodName;
  /** Fraction of the weights to remove (of the hidden units for ln-structured; 2:4 ignores it). */
  amount: number;
  schedule: PruneScheduleName;
  /** Fine-tuning budget: optimizer steps in all. */
  finetuneSteps: number;
  /** Iterative schedule: prune + fine-tune rounds. */
  rounds: number;
  /** ln-structured: remove the pruned units (prune.shrink) for a smaller dense model. */
  structured: boolean;
  batchSize: number;
  /** Adam learning rate of the fine-tuning. */
  lr: number;
  /** Seeds the data order (and --method random); the caller's random stream is restored after. */
  seed: number;
  /** A progress callback for each fine-tuning phase ('gradual', 'round 2', 'fine-tune'). */
  progress?: (label: string) => Callback<Tensor[]>;
  /** Called as the workflow goes (see PruneEvent). */
  onEvent?: (event: PruneEvent) => void;
  /** Fine-tune data-parallel over the launched ranks (distributed.dataParallel()); batchSize is the global batch. */
  parallel?: DataParallel | null;
  /**
   * Fine-tuning checkpoint (safetensors, atomic; rank 0 alone writes it), written at every epoch
   * end, every `checkpointEvery` steps and at the end of each phase: the masks (weight_orig /
   * weight_mask), the schedule's position (phase, gradual step, iterative round and sparsity),
   * Adam's state, the sampler and RNG, and which run wrote it.
   */
  checkpoint?: string | null;
  /** Also checkpoint every N optimizer steps inside an epoch (needs `checkpoint`). */
  checkpointEvery?: number | null;
  /**
   * Continue exactly from such a checkpoint: the same options, dense model and data are required
   * (anything else is refused naming the difference); the result equals an uninterrupted run's.
   */
  resume?: string | null;
}

/** What runPrune returns: the pruned model (sparse layers swapped in where worth it) and its numbers. */
export interface RunPruneResult<M extends AnyModule = PresetModel> {
  model: M;
  /** Accuracy and loss of the dense model, and of the pruned one right after pruning and at the end. */
  dense: EvalMetrics;
  pruned: EvalMetrics;
  final: EvalMetrics;
  /** Parameters of the dense model and of the result (smaller after --structured), and non-zero ones. */
  denseParameters: number;
  parameters: number;
  nonzeros: number;
  /** Masked fraction of the pruned weights (0 after --structured: nothing is masked). */
  weightSparsity: number;
  /** 1 - nonzeros / denseParameters: the fraction of the dense model's parameters gone. */
  sparsity: number;
  /** Layers stored in CSR form, and what shrink did (--structured). */
  sparseLayers: SparseLayerInfo[];
  shrunk: ShrinkLayerReport[] | null;
  finetuneSteps: number;
  /** The checkpoint resumed from (option `resume`), or null. */
  resumedFrom: string | null;
}

/** Options of fineTune. */
export interface FineTuneOptions {
  /** Optimizer steps (0 or less: nothing to do). */
  steps: number;
  lr: number;
  batchSize: number;
  /** Seed of the data order. */
  seed: number;
  /** Name of this phase, passed to `progress` (default 'fine-tune'). */
  label?: string;
  /** Extra trainer callbacks (gradual pruning) that run before the progress callback. */
  callbacks?: readonly Callback<Tensor[]>[];
  /** A progress callback for this phase, made from its label. */
  progress?: (label: string) => Callback<Tensor[]>;
  /** Data-parallel over launched ranks: each trains on its slice of every global batch of batchSize. */
  parallel?: DataParallel | null;
  /** Write the fine-tuning state here (rank 0 alone) at every epoch end, every `checkpointEvery` steps and at the end; `checkpointExtra` goes into its metadata. */
  checkpoint?: string | null;
  checkpointEvery?: number | null;
  checkpointExtra?: JsonObject;
  /** Continue from a snapshot of this fine-tuning (loadTrainingCheckpoint(path).snapshot) instead of starting it. */
  resume?: { snapshot: TrainingSnapshot; path: string } | null;
}

/**
 * A copy of a preset model (config + weights, training mode kept), so a stage can prune it and
 * leave the original for others (the demo's distillation teacher). The global random stream is
 * left as it was.
 *
 * @example
 * const copy = prune.clonePreset(model);
 */
export function clonePreset(model: PresetModel): PresetModel {
  const rng = defaultGenerator.getState();
  let copy: PresetModel;
  try { copy = modelFromConfig(model.config); } finally { defaultGenerator.setState(rng); }
  copy.loadStateDict(model.stateDict());
  copy.train(model.training);
  return copy;
}

/** Linear/Conv2d layers except the last one (the output layer: removing its units removes classes). */
function hiddenLayers(model: AnyModule): [AnyModule, string][] {
  const all = weightTargets(model);
  return all.slice(0, -1);
}

/**
 * Fine-tune `model` for `steps` optimizer steps with Adam (masks stay fixed: pruned weights get zero
 * gradients); extra callbacks (gradual pruning) ride along. Throws if training stops early.
 *
 * @example
 * await prune.fineTune(model, loadImageData('mnist'), { steps: 500, lr: 1e-3, batchSize: 64, seed: 0 });
 */
export async function fineTune(model: AnyModule, data: ImageClassificationData, o: FineTuneOptions): Promise<void> {
  if (o.steps <= 0) return;
  const optimizer = makeOptimizer('adam', model.parameters(), { lr: o.lr });
  const dp = o.parallel ?? null;
  if (dp && o.batchSize % dp.worldSize !== 0) throw new Error(`fine-tuning: batch size ${o.batchSize} is the global batch of ${dp.worldSize} ranks; pass a multiple of ${dp.worldSize}`);
  const globalLoader = new DataLoader(data.train, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const writes = o.checkpoint != null && (dp?.rank ?? 0) === 0;
  const trainer = new Trainer<Tensor[]>({
    model, optimizer, trainLoader: dp ? dp.shard(globalLoader) : globalLoader, evalLoader: null, steps: o.steps,
    callbacks: [...(dp ? [dp.callback<Tensor[]>()] : []), ...(o.callbacks ?? []), ...(o.progress ? [o.progress(o.label ?? 'fine-tune')] : [])],
    ...(dp ? { reduceEpoch: (a: EpochAccumulators) => dp.reduceEpoch(a) } : {}),
    ...(writes ? { checkpointPath: o.checkpoint!, save: checkpointSaver({ optimizer, scheduler: null, config: null, extra: o.checkpointExtra ?? {} }) } : {}),
    checkpointEvery: o.checkpointEvery ?? null,   // on every rank: the step checkpoints' collectives (ZeRO) need them all
  });
  if (o.resume) trainer.resume(o.resume.snapshot, o.resume.path);
  const fit = await trainer.fit();
  if (fit.stopReason !== 'completed') throw new Error(`fine-tuning stopped: ${fit.message ?? fit.stopReason}`);
}

/**
 * Prune a trained model with a method and schedule, fine-tune, and swap sparse layers in: what
 * `tensorslim prune` does, without the files and the printing. Masks are baked in at the end
 * (prune.remove), then every Linear with >= 50% zero weights becomes a SparseLinear (CSR); with
 * `structured`, the pruned units are removed (prune.shrink) instead.
 *
 * @example
 * const data = loadImageData('mnist');
 * const r = await prune.runPrune({
 *   model: loadModel('mlp.safetensors'), data, method: 'global', amount: 0.9, schedule: 'gradual',
 *   finetuneSteps: 500, rounds: 1, structured: false, batchSize: 64, lr: 1e-3, seed: 0,
 * });
 * r.final.accuracy; r.nonzeros;   // save r.model with exportWeights(r.model, 'mlp-90.safetensors')
 * // interruptible: checkpoint: 'prune.ckpt.safetensors', checkpointEvery: 50; after a crash, the same
 * // options plus resume: 'prune.ckpt.safetensors' end where the uninterrupted run ends
 */
export async function runPrune<M extends AnyModule = PresetModel>(o: RunPruneOptions<M>): Promise<RunPruneResult<M>> {
  const rng = defaultGenerator.getState(); // seeded below; the caller's random stream is put back after
  try { return await pruneAndFineTune(o); } finally { defaultGenerator.setState(rng); }
}

async function pruneAndFineTune<M extends AnyModule>(o: RunPruneOptions<M>): Promise<RunPruneResult<M>> {
  const { data } = o;
  const emit = (e: PruneEvent): void => o.onEvent?.(e);
  let model = o.model;
  const denseParameters = model.numParameters();
  // which run this is, for its checkpoints and for checking the one it resumes from
  const run: Pick<PruneCheckpointState, 'version' | 'settings' | 'dense' | 'data'> = {
    version: 1,
    settings: Object.fromEntries(PRUNE_SETTING_KEYS.map((k) => [k, o[k]])) as PruneRunSettings,
    dense: o.checkpoint != null || o.resume != null ? stateFingerprint(model) : '',
    data: { name: data.info.name, trainSize: data.train.length },
  };
  if (o.checkpointEvery != null && o.checkpoint == null) throw new TensorslimError('prune.runPrune', 'checkpointEvery needs a checkpoint path (option checkpoint)');
  const from: PruneResumePoint | null = o.resume != null ? readPruneCheckpoint(o.resume, run) : null;
  const dense = evaluateOn(model, data);
  emit({ kind: 'dense', parameters: denseParameters, accuracy: dense.accuracy });
  manualSeed(o.seed);
  const ft = { lr: o.lr, batchSize: o.batchSize, seed: o.seed, ...(o.progress ? { progress: o.progress } : {}), parallel: o.parallel ?? null };
  // the checkpoint options of fine-tuning phase `phase`, and the snapshot it resumes from (its phase's only)
  const phaseOpts = (phase: number, label: string, steps: number, sparsity: number | null, prunedAt: EvalMetrics | null): Partial<FineTuneOptions> => {
    const resume = from !== null && from.state.phase === phase ? { snapshot: from.snapshot, path: from.path } : null;
    if (resume !== null) emit({ kind: 'resumed', path: resume.path, label, step: resume.snapshot.step, steps });
    return {
      ...(o.checkpoint != null ? { checkpoint: o.checkpoint, checkpointEvery: o.checkpointEvery ?? null, checkpointExtra: { prune: pruneStateJson({ ...run, phase, label, sparsity, pruned: prunedAt }) } } : {}),
      resume,
    };
  };
  const unstructured = o.method === 'l1' || o.method === 'random' || o.method === 'global';
  const targets: [AnyModule, string][] = o.method === 'ln-structured' ? hiddenLayers(model) : weightTargets(model);
  const spec = { global: o.method === 'global', method: o.method === 'random' ? 'random' as const : 'l1' as const };
  let pruned: EvalMetrics;
  let shrunk: ShrinkLayerReport[] | null = null;
  let steps = o.finetuneSteps;

  if (unstructured && o.schedule === 'gradual') {
    // prune from 0 to `amount` over the first 2/3 of the budget (10 pruning steps), then fine-tune at the final sparsity
    const numSteps = Math.max(1, Math.min(10, Math.floor((2 * steps) / 3)));
    const frequency = Math.max(1, Math.floor((2 * steps) / 3 / numSteps));
    emit({ kind: 'gradual', amount: o.amount, numSteps, frequency, steps });
    const cb = gradualPruningCallback(model, { targets, ...spec, initial: 0, final: o.amount, startStep: 0, numSteps, frequency });   // re-creates its masks on resume
    await fineTune(model, data, { ...ft, steps, label: 'gradual', callbacks: [cb as Callback<Tensor[]>], ...phaseOpts(1, 'gradual', steps, null, null) });
    pruned = evaluateOn(model, data);
  } else if (unstructured && o.schedule === 'iterative') {
    // resumed: rounds before the checkpoint's are in its weights and masks; its round continues without pruning again
    const first = from?.state.phase ?? 1;
    let done = Math.round((steps * (first - 1)) / o.rounds);
    pruned = from?.state.pruned ?? dense;
    if (from !== null) restoreMaskStructure(model, targets, from.snapshot.model);   // before the optimizer is built: same parameter order
    for (let r = first; r <= o.rounds; r++) {
      const n = Math.round((steps * r) / o.rounds) - done;
      let got = from?.state.sparsity ?? 0;
      if (from === null || r > first) {
        const s = r === o.rounds ? o.amount : 1 - Math.pow(1 - o.amount, r / o.rounds);
        got = pruneToSparsity(targets, s, spec);
        const m = evaluateOn(model, data);
        if (r === 1) pruned = m;
        emit({ kind: 'round', round: r, rounds: o.rounds, sparsity: got, accuracy: m.accuracy, steps: n });
      }
      await fineTune(model, data, { ...ft, steps: n, label: `round ${r}`, ...phaseOpts(r, `round ${r}`, n, got, pruned) });
      done += n;
    }
  } else {
    // one shot (a resumed run prunes again, deterministically, then loads the checkpoint's state)
    if (unstructured) pruneToSparsity(targets, o.amount, spec);
    else if (o.method === '2:4') for (const [m, name] of targets) nmStructured(m, name, 2, 4);
    else for (const [m, name] of targets) lnStructured(m, name, o.amount, 2, 0);
    if (o.structured) {
      const r = shrink(model, { fromMask: true });
      model = r.model as unknown as M;   // a Sequential like the input (shrink refuses other layouts)
      shrunk = r.layers;
      emit({ kind: 'shrunk', exact: r.exact, layers: r.layers, parametersBefore: r.parametersBefore, parametersAfter: r.parametersAfter });
    }
    pruned = evaluateOn(model, data);
    emit({ kind: 'pruned', method: o.method, structured: o.structured, accuracy: pruned.accuracy });
    await fineTune(model, data, { ...ft, steps, label: 'fine-tune', ...phaseOpts(1, 'fine-tune', steps, null, null) });
  }
  const weightSparsity = shrunk === null ? maskSparsity(targets) : 0;
  // bake the masks in, then store sparse layers in CSR form
  for (const m of model.modules()) for (const name of prunedParameterNames(m)) remove(m, name);
  if (!o.structured) toSparse(model, { minSparsity: 0.5 });
  model.eval();
  const final = evaluateOn(model, data);
  const nonzeros = countNonzeros(model);
  steps = Math.max(0, steps);
  return {
    model, dense, pruned, final, denseParameters,
    parameters: shrunk === null ? denseParameters : model.numParameters(),
    nonzeros, weightSparsity, sparsity: 1 - nonzeros / denseParameters,
    sparseLayers: sparseLayers(model), shrunk, finetuneSteps: steps, resumedFrom: from?.path ?? null,
  };
}
