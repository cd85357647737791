// High-level entry points shared by the CLI, the demo and scripts: train a preset on a dataset by
// name (with checkpoints and exact resume), evaluate a checkpoint, export weights, time inference.
// The Trainer does the loop; this file only wires names to objects.

import type { Tensor } from '../core/tensor.js';
import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { defaultGenerator, manualSeed } from '../core/random.js';
import * as ops from '../ops/index.js';
import type { AnyModule, Module, Parameter } from '../nn/index.js';
import { createModel, modelFromConfig, type ModelConfig, type ModelOverrides, type PresetModel } from '../models/index.js';
import { augmentTransform, DataLoader, loadDataset, parseAugment, type ImageClassificationData, type TensorDataset } from '../data/index.js';
import { fileBytes, loadCheckpoint, modelFromCheckpoint, saveCheckpoint, type JsonObject } from '../io/index.js';
import type { Callback, EvalMetrics, FitResult } from './callbacks.js';
import { checkpointSaver, loadTrainingCheckpoint } from './trainer_state.js';
import { evaluate } from './evaluate.js';
import { makeOptimizer, makeScheduler } from './factory.js';
import { Trainer, type EpochAccumulators, type LossFn } from './trainer.js';
import { median } from './stats.js';
import type { DataParallel } from './parallel.js';

/** Options of runTraining. */
export interface RunTrainingOptions {
  /** Preset name ('mlp', 'lenet5', ...). With `resume`, optional: the checkpoint's config is used. */
  model?: string;
  modelOverrides?: ModelOverrides;
  /** A model to start from instead of a fresh preset (its weights are trained; e.g. an imported .onnx). */
  initialModel?: PresetModel;
  /** Dataset name or path, or data already loaded (the demo loads once). */
  dataset: string | ImageClassificationData;
  /** Folder overriding the dataset's default location. */
  data?: string;
  /** Total epochs to reach (default 1 unless steps is given). */
  epochs?: number;
  /** Total optimizer steps to reach instead of epochs. */
  steps?: number;
  /** Default 64. */
  batchSize?: number;
  /** Default 1000. */
  evalBatchSize?: number;
  /** Default 1e-3. */
  lr?: number;
  /** 'sgd' | 'adam' | 'adamw' (default 'adam'). */
  optimizer?: string;
  weightDecay?: number;
  /** 'constant' | 'cosine' | 'warmup-cosine' (default 'constant'). */
  schedule?: string;
  gradClipNorm?: number;
  /**
   * Training-data augmentation: 'none' (default), 'shift' (random shifts of up to 2 pixels, zero
   * fill) or 'shift:N' (up to N pixels). Applied by the training DataLoader with a generator derived
   * from its state, so --resume stays exact. The test split is never augmented.
   */
  augment?: string;
  /**
   * Parameters trained by the same optimizer besides the model's (e.g. feature-distillation
   * projectors), after the model's in the optimizer's one parameter group (same lr, schedule, weight
   * decay, clipping). The checkpoint holds their optimizer state but not their values (it saves the
   * model's weights), so a --resume of such a run restores the moments but not the extra parameters
   * themselves: save and restore them yourself. Must not repeat model parameters.
   */
  extraParameters?: readonly Parameter[];
  /** Seeds the weights (default generator) and the data order (default 0). */
  seed?: number;
  /** Checkpoint written after every epoch and at the end (safetensors, atomic). */
  out?: string;
  /** Continue from this checkpoint (written by a previous run with `out`). */
  resume?: string;
  callbacks?: readonly Callback<Tensor[]>[];
  lossFn?: LossFn<Tensor[]>;
  /** Hook to see the built objects before training (e.g. to print the plan). */
  onStart?: (plan: TrainingPlan) => void;
  /**
   * Train data-parallel over the launched ranks (distributed.dataParallel()): `batchSize` is the
   * global batch, each rank trains on its slice of it; only rank 0 writes `out`.
   */
  parallel?: DataParallel | null;
}

/** What runTraining is about to do. */
export interface TrainingPlan {
  model: PresetModel;
  config: ModelConfig;
  data: ImageClassificationData;
  trainer: Trainer<Tensor[]>;
  params: number;
  resumedFrom: string | null;
  optimizer: string;
  schedule: string;
  batchSize: number;
  /** Ranks training data-parallel (1 without `parallel`); each takes batchSize / worldSize samples per step. */
  worldSize: number;
  lr: number;
  seed: number;
  /** The augmentation in use ('none', 'shift:2', ...). */
  augment: string;
}

/** What runTraining returns. */
export interface RunTrainingResult {
  model: PresetModel;
  config: ModelConfig;
  fit: FitResult;
  /** Evaluation on the test split after training. */
  test: EvalMetrics;
  params: number;
  dataset: string;
  /** Path of the checkpoint written, or null. */
  out: string | null;
  resumedFrom: string | null;
  /** The training-data augmentation used ('none', 'shift:1', ...). */
  augment: string;
}

/**
 * Load an image-classification dataset by name or path; a clear error for text corpora.
 *
 * @example
 * const data = loadImageData('mnist');
 */
export function loadImageData(name: string, dir?: string): ImageClassificationData {
  if (/\.safetensors$/i.test(name)) {
    throw new TensorslimError('dataset', `'${name}' is a checkpoint, not a dataset; --dataset takes mnist, fashion-mnist or a directory of IDX files (a checkpoint goes to --model, --teacher or --resume)`);
  }
  const d = loadDataset(name, dir === undefined ? {} : { data: dir });
  if (d.kind !== 'image') {
    throw new TensorslimError('dataset', `'${name}' is a text corpus (language modelling); train and eval take image-classification datasets (mnist, fashion-mnist or an IDX directory)`);
  }
  return d;
}

function checkFits(config: ModelConfig, data: ImageClassificationData): void {
  const inShape = data.info.inputShape;
  const features = inShape.reduce((a, b) => a * b, 1);
  const want = config.arch === 'mlp' ? config.inFeatures : config.inputShape.reduce((a, b) => a * b, 1);
  if (features !== want) {
    throw new TensorslimError('train', `model ${config.preset ?? config.arch} takes ${want} input features but dataset ${data.info.name} has samples of shape (${inShape.join(', ')}) = ${features}`);
  }
  if (config.numClasses !== data.info.numClasses) {
    throw new TensorslimError('train', `model ${config.preset ?? config.arch} has ${config.numClasses} outputs but dataset ${data.info.name} has ${data.info.numClasses} classes`);
  }
}

/**
 * Train a preset model on a dataset, evaluating each epoch, checkpointing to `out` each epoch, and
 * resuming exactly from `resume`. Returns the model, the fit result and the final test metrics.
 *
 * @example
 * const r = await runTraining({ model: 'mlp', dataset: 'mnist', epochs: 3, seed: 0, out: 'mlp.safetensors' });
 * r.test.accuracy;  // about 0.95
 */
export async function runTraining(o: RunTrainingOptions): Promise<RunTrainingResult> {
  const seed = o.seed ?? 0;
  const batchSize = o.batchSize ?? 64;
  const augment = parseAugment(o.augment ?? 'none'); // refuse a bad spec before loading anything
  const world = o.parallel?.worldSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize % world !== 0) {
    throw new TensorslimError('train', `batch size ${batchSize} is the global batch of ${world} ranks: it must be a multiple of ${world} (each rank trains on batch / ${world} samples per step), e.g. ${world * Math.max(1, Math.round(batchSize / world))}`);
  }
  const data = typeof o.dataset === 'string' ? loadImageData(o.dataset, o.data) : o.dataset;

  const loaded = o.resume ? loadTrainingCheckpoint(o.resume) : null;
  if (loaded && loaded.snapshot === null) {
    throw new TensorslimError('resume', `'${o.resume}' holds no training state (no optimizer state or trainer position): it was saved for inference; start a new run from its weights instead`);
  }
  manualSeed(seed);
  let model: PresetModel;
  if (loaded) {
    const cfg = loaded.checkpoint.config;
    if (cfg === null) throw new TensorslimError('resume', `'${o.resume}' has no model config`);
    if (o.model !== undefined && cfg.preset !== undefined && o.model !== cfg.preset) {
      throw new TensorslimError('resume', `'${o.resume}' holds a '${cfg.preset}' model, not '${o.model}'; drop --model or pass --model ${cfg.preset}`);
    }
    model = modelFromConfig(cfg);
  } else if (o.initialModel !== undefined) {
    model = o.initialModel;
  } else {
    if (o.model === undefined) throw new TensorslimError('train', 'a model preset is required (e.g. mlp)');
    model = createModel(o.model, o.modelOverrides ?? {});
  }
  checkFits(model.config, data);
  const r = await fitModule(o, model, model.config, data, loaded, augment, (plan) => o.onStart?.({ ...plan, model, config: model.config }));
  return { ...r, model, config: model.config };
}

/** Options of trainModule: runTraining's, with the model given as a module instead of a preset. */
export interface TrainModuleOptions extends Omit<RunTrainingOptions, 'model' | 'modelOverrides' | 'initialModel' | 'onStart' | 'dataset'> {
  /** The model to train (e.g. an imported ONNX graph); with `resume`, the checkpoint's weights are loaded into it. */
  model: AnyModule;
  /** Data already shaped for the model's input (e.g. cli fitImageData). */
  dataset: ImageClassificationData;
  /** Metadata written into every checkpoint (extra), e.g. the graph the weights belong to. */
  checkpointExtra?: JsonObject;
  onStart?: (plan: Omit<TrainingPlan, 'model' | 'config'> & { model: AnyModule }) => void;
}

/** What trainModule returns: runTraining's result without a preset config. */
export type TrainModuleResult = Omit<RunTrainingResult, 'model' | 'config'> & { model: AnyModule };

/**
 * Train any classifier module (not a preset: e.g. an imported ONNX graph) on image data already
 * shaped for it, with runTraining's loop, checkpoints (config null, `checkpointExtra` in the
 * metadata) and exact resume (`resume` loads the checkpoint's weights and training state into
 * `model`, which must have the same parameters).
 * @example
 * const r = await trainModule({ model: importOnnx('m.onnx').model, dataset: data, steps: 100, out: 'm.safetensors' });
 */
export async function trainModule(o: TrainModuleOptions): Promise<TrainModuleResult> {
  const batchSize = o.batchSize ?? 64, world = o.parallel?.worldSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize % world !== 0) {
    throw new TensorslimError('train', `batch size ${batchSize} is the global batch of ${world} ranks: it must be a multiple of ${world}`);
  }
  const augment = parseAugment(o.augment ?? 'none');
  const loaded = o.resume ? loadTrainingCheckpoint(o.resume) : null;
  if (loaded && loaded.snapshot === null) {
    throw new TensorslimError('resume', `'${o.resume}' holds no training state (no optimizer state or trainer position): it was saved for inference; start a new run from its weights instead`);
  }
  if (loaded) {
    const want = new Map([...o.model.stateDict()].map(([k, t]) => [k, t.shape.join('x')]));
    const have = loaded.checkpoint.model;
    const bad = [...want].filter(([k, sh]) => have.get(k)?.shape.join('x') !== sh).map(([k]) => k);
    const extraKeys = [...have.keys()].filter((k) => !want.has(k));
    if (bad.length > 0 || extraKeys.length > 0) {
      throw new TensorslimError('resume', `'${o.resume}' holds the weights of another model: ${bad.length > 0 ? `missing or of another shape: ${bad.slice(0, 4).join(', ')}` : ''}${bad.length > 0 && extraKeys.length > 0 ? '; ' : ''}${extraKeys.length > 0 ? `not in this model: ${extraKeys.slice(0, 4).join(', ')}` : ''}; resume with the model it was trained from`);
    }
  }
  manualSeed(o.seed ?? 0);
  const r = await fitModule(o, o.model, null, o.dataset, loaded, augment, (plan) => o.onStart?.({ ...plan, model: o.model }));
  return { ...r, model: o.model };
}

type FitCore = Omit<RunTrainingResult, 'model' | 'config'>;

async function fitModule(o: Omit<RunTrainingOptions, 'onStart' | 'model' | 'dataset' | 'initialModel'> & { checkpointExtra?: JsonObject }, model: AnyModule, config: ModelConfig | null, data: ImageClassificationData,
  loaded: ReturnType<typeof loadTrainingCheckpoint> | null, augment: ReturnType<typeof parseAugment>, onStart: (plan: Omit<TrainingPlan, 'model' | 'config'>) => void): Promise<FitCore> {
  const seed = o.seed ?? 0;
  const batchSize = o.batchSize ?? 64;
  const optimizerName = o.optimizer ?? 'adam';
  const schedule = o.schedule ?? 'constant';
  const lr = o.lr ?? 1e-3;
  const augmentName = augment.kind === 'none' ? 'none' : `shift:${augment.maxShift}`;
  const extra = checkExtraParameters(model, o.extraParameters ?? []);
  const optimizer = makeOptimizer(optimizerName, [...model.parameters(), ...extra], { lr, ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}) });
  if (loaded && loaded.checkpoint.optimizer!.type !== optimizer.typeName) {
    throw new TensorslimError('resume', `'${o.resume}' was trained with ${loaded.checkpoint.optimizer!.type}, not ${optimizer.typeName}; pass the same --optimizer`);
  }
  const transform = augmentTransform(augment, data.info.inputShape);
  const dp = o.parallel ?? null;
  const globalLoader = new DataLoader(data.train, { batchSize, shuffle: true, seed, ...(transform ? { transform } : {}) });
  const trainLoader = dp ? dp.shard(globalLoader) : globalLoader;
  const evalLoader = new DataLoader(data.test, { batchSize: o.evalBatchSize ?? 1000 });
  const spe = trainLoader.length;
  const totalSteps = o.steps ?? (o.epochs ?? 1) * spe;
  const scheduler = makeScheduler(schedule, optimizer, { totalSteps });
  if (loaded) {
    const had = loaded.checkpoint.scheduler?.type ?? null;
    const has = scheduler?.typeName ?? null;
    if (had !== has) throw new TensorslimError('resume', `'${o.resume}' was trained with ${had ?? 'a constant learning rate'}, this run has ${has ?? 'a constant learning rate'}; pass the same --schedule`);
  }
  const trainer = new Trainer<Tensor[]>({
    model, optimizer, scheduler, trainLoader, evalLoader,
    ...(o.steps !== undefined ? { steps: o.steps } : { epochs: o.epochs ?? 1 }),
    ...(o.gradClipNorm !== undefined ? { gradClipNorm: o.gradClipNorm } : {}),
    ...(o.lossFn ? { lossFn: o.lossFn } : {}),
    callbacks: [...(dp ? [dp.callback<Tensor[]>()] : []), ...(o.callbacks ?? []), augmentRecord(augmentName, o.resume)],
    ...(o.out && (dp?.rank ?? 0) === 0 ? { checkpointPath: o.out, save: checkpointSaver({ optimizer, scheduler, config, ...(o.checkpointExtra !== undefined ? { extra: o.checkpointExtra } : {}) }) } : {}),
    ...(dp ? { reduceEpoch: (a: EpochAccumulators) => dp.reduceEpoch(a) } : {}),
  });
  if (loaded) trainer.resume(loaded.snapshot!, o.resume ?? null);
  onStart({
    data, trainer, params: model.numParameters(), resumedFrom: o.resume ?? null,
    optimizer: optimizerName, schedule, batchSize, worldSize: dp?.worldSize ?? 1, lr: optimizer.paramGroups[0]!.lr, seed, augment: augmentName,
  });
  const fit = await trainer.fit();
  const test = fit.finalEval !== null && fit.history.length > 0 && fit.history[fit.history.length - 1]!.step === trainer.step
    ? fit.finalEval
    : evaluate(model, evalLoader);
  return {
    fit, test, params: model.numParameters(), dataset: data.info.name,
    out: fit.checkpoint, resumedFrom: o.resume ?? null, augment: augmentName,
  };
}

/**
 * A stateful callback that stores the augmentation in the checkpoint, so that --resume with another
 * --augment is refused instead of silently continuing with other data. Checkpoints from before it
 * existed carry no record and are accepted.
 */
function augmentRecord(augment: string, resumePath: string | undefined): Callback<Tensor[]> {
  return {
    name: 'tensorslim.augment',
    stateDict: () => ({ augment }),
    loadStateDict(state: unknown) {
      const had = typeof state === 'object' && state !== null ? (state as { augment?: unknown }).augment : undefined;
      if (typeof had === 'string' && had !== augment) {
        throw new TensorslimError('resume', `'${resumePath ?? 'the checkpoint'}' was trained with augmentation ${had}, this run has ${augment}; pass --augment ${had}`);
      }
    },
  };
}

/** Refuse extra parameters that are not Parameters, repeat one another or belong to the model. */
function checkExtraParameters(model: AnyModule, extra: readonly Parameter[]): Parameter[] {
  const own = new Set<unknown>(model.parameters());
  const seen = new Set<unknown>();
  extra.forEach((p, i) => {
    if (!p || typeof p !== 'object' || !('requiresGrad' in p) || !p.requiresGrad) {
      throw new TensorslimError('runTraining', `extraParameters[${i}] is not a trainable parameter (a Parameter / tensor with requiresGrad)`);
    }
    if (own.has(p)) throw new TensorslimError('runTraining', `extraParameters[${i}] is already a parameter of the model; pass only parameters outside it (e.g. a distillation projector's)`);
    if (seen.has(p)) throw new TensorslimError('runTraining', `extraParameters[${i}] appears twice`);
    seen.add(p);
  });
  return [...extra];
}

/**
 * Load a model from a checkpoint (any tensorslim checkpoint with a model config).
 *
 * @example
 * const model = loadModel('mlp.safetensors');
 */
export function loadModel(path: string): PresetModel {
  return modelFromCheckpoint(loadCheckpoint(path));
}

/**
 * Evaluate a model on a dataset's test split.
 *
 * @example
 * const m = evaluateOn(loadModel('mlp.safetensors'), loadImageData('mnist'));
 */
export function evaluateOn(model: AnyModule, data: ImageClassificationData, batchSize = 1000): EvalMetrics {
  return evaluate(model, new DataLoader(data.test, { batchSize }));
}

/**
 * Save a model's weights and config only (no optimizer state): the deployable file. Returns its size
 * in bytes.
 *
 * @example
 * exportWeights(model, 'mlp.weights.safetensors');  // about 1.07 MB for mlp
 */
export function exportWeights(model: PresetModel, path: string, step = 0, epoch = 0): number {
  saveCheckpoint(path, { model, step, epoch, config: model.config, rngState: defaultGenerator.getState() });
  return fileBytes(path);
}

/** Inference timing: median seconds per batch and per sample. */
export interface LatencyResult {
  batch: number;
  /** Median seconds of one forward pass of `batch` samples. */
  secondsPerBatch: number;
  /** secondsPerBatch / batch. */
  secondsPerSample: number;
  iterations: number;
}

/**
 * Time inference (eval mode, noGrad) on `batch` samples from `dataset` (or zeros of `inputShape`):
 * a few warm-up passes, then the median of `iterations` timed passes (at most `maxSeconds` in all).
 *
 * @example
 * measureLatency(model, { inputShape: [1, 28, 28], batch: 1 }).secondsPerSample;
 */
export function measureLatency(model: AnyModule, o: { inputShape: readonly number[]; batch?: number; iterations?: number; maxSeconds?: number; dataset?: TensorDataset }): LatencyResult {
  const batch = o.batch ?? 1;
  const iterations = o.iterations ?? 50;
  const maxMs = (o.maxSeconds ?? 2) * 1000;
  const x: Tensor = o.dataset
    ? (o.dataset.getBatch(Array.from({ length: batch }, (_, i) => i % o.dataset!.length))[0]!)
    : ops.zeros([batch, ...o.inputShape]);
  const m = model as Module<[Tensor], Tensor>;
  const wasTraining = model.training;
  model.eval();
  const times: number[] = [];
  try {
    noGrad(() => {
      for (let i = 0; i < 3; i++) m.call(x);
      const start = performance.now();
      for (let i = 0; i < iterations; i++) {
        const t0 = performance.now();
        m.call(x).dataSync();
        times.push((performance.now() - t0) / 1000);
        if (performance.now() - start > maxMs && times.length >= 5) break;
      }
    });
  } finally {
    model.train(wasTraining);
  }
  const med = median(times);
  return { batch, secondsPerBatch: med, secondsPerSample: med / batch, iterations: times.length };
}
