// The quantization workflow of `tensorslim quantize` and the demo: take a trained image classifier
// (dense, or pruned with CSR layers), quantize it dynamically, statically (calibrated on training
// batches) or with quantization-aware training, optionally share its weights (k-means), and measure
// float and int8 accuracy. Decisions (QAT's best epoch) use a validation split held out of the
// training set, never the test set. It never prints and writes no file: the caller saves the result
// with saveQuantizedCheckpoint. The quantized model is the input model, changed in place.

import { defaultGenerator, manualSeed } from '../../core/random.js';
import { noGrad } from '../../core/engine.js';
import { TensorslimError } from '../../core/errors.js';
import { Tensor } from '../../core/tensor.js';
import type { AnyModule, Module } from '../../nn/index.js';
import { DataLoader, Subset, validationSplitIndices, type ImageClassificationData, type TensorDataset } from '../../data/index.js';
import type { PresetModel } from '../../models/index.js';
import { Trainer, evaluate, makeOptimizer, type Callback, type EvalMetrics } from '../../train/index.js';
import { SparseLinear } from '../prune/sparse.js';
import { quantizeDynamic, prepareStatic, convertStatic, prepareQat, convertQat } from './workflow.js';
import type { ActivationObserverKind } from './qconfig.js';
import { isQuantizedLayer, shareWeights, type ShareReport } from './sharing.js';
import { FakeQuantize } from './fake_quantize.js';

/** Modes of runQuantize (`tensorslim quantize --mode`). */
export const QUANT_MODES = ['dynamic', 'static', 'qat'] as const;
export type QuantModeName = (typeof QUANT_MODES)[number];
/** Activation observers of static quantization (`--observer`). */
export const QUANT_OBSERVERS = ['minmax', 'histogram', 'entropy'] as const;

/** Options of runQuantize. */
export interface RunQuantizeOptions<M extends AnyModule = PresetModel> {
  /** The trained float model (a preset, or any classifier such as an imported OnnxGraph); quantized in place (its CSR layers become dense Linear first). */
  model: M;
  data: ImageClassificationData;
  mode: QuantModeName;
  /** Dynamic mode: the layer types to quantize (default ['Linear'], as torch; the CLI adds 'Conv2d' for presets). */
  dynamicTypes?: readonly ('Linear' | 'Conv2d')[];
  /** Activation observer of static quantization (default 'histogram'). */
  observer?: ActivationObserverKind;
  /** Static: training batches to calibrate on (default 32); QAT: observer warm-up needs none. */
  calibrationBatches?: number;
  /** Calibration / QAT batch size (default 64). */
  batchSize?: number;
  /** QAT epochs over the training split (default 1). */
  epochs?: number;
  /** QAT learning rate (Adam, default 1e-4). */
  lr?: number;
  /** Seeds the calibration sample and the QAT data order (default 0). */
  seed?: number;
  /** Restrict quantization to these layers (module paths); others stay float32. */
  layers?: readonly string[];
  /** Weight sharing: k-means clusters per layer (2..256), after quantization. */
  shareWeights?: number;
  /** Fraction of the training set held out for validation (default 0.1). */
  validationFraction?: number;
  /** Progress callback of a QAT epoch. */
  progress?: (label: string) => Callback<Tensor[]>;
  /** Called after each QAT epoch with the fake-quantized model's validation accuracy. */
  onEpoch?: (epoch: number, validationAccuracy: number) => void;
}

/** What runQuantize returns. */
export interface RunQuantizeResult<M extends AnyModule = PresetModel> {
  /** The quantized model (the input object, layers swapped). */
  model: M;
  floatTest: EvalMetrics;
  floatValidation: EvalMetrics;
  test: EvalMetrics;
  validation: EvalMetrics;
  /** Quantized layers: path and class (DynamicQuantizedLinear, QuantizedLinear, QuantizedConv2d). */
  quantizedLayers: { name: string; type: string }[];
  /** Layers with weights left in float32 (e.g. Conv2d under dynamic quantization). */
  floatLayers: string[];
  /** CSR layers turned back into dense Linear before quantizing. */
  densified: number;
  /** QAT: the epoch whose weights were kept (best validation accuracy), 0 = before QAT. */
  bestEpoch: number | null;
  calibrationSamples: number;
  sharing: ShareReport[] | null;
}

/** Swap every SparseLinear for the dense Linear with the same outputs; returns how many. */
export function densifySparseLayers(model: AnyModule): number {
  let n = 0;
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof SparseLinear)) continue;
    const dot = path.lastIndexOf('.');
    const parent = dot < 0 ? model : model.getSubmodule(path.slice(0, dot));
    parent.registerModule(path.slice(dot + 1), m.toLinear());
    n++;
  }
  return n;
}

/** Train / validation split of the training set: the last `fraction` (seeded permutation) held out (data/holdout.ts). */
function split(train: TensorDataset, fraction: number, seed: number): { fit: Subset<Tensor[]>; validation: Subset<Tensor[]> } {
  const { fit, validation } = validationSplitIndices(train.length, fraction, seed);
  return { fit: new Subset(train, fit), validation: new Subset(train, validation) };
}

/** Accuracy on `ds` with the fake-quantizers' observers frozen (evaluation must not move the ranges). */
function evalOn(model: AnyModule, ds: Subset<Tensor[]> | TensorDataset): EvalMetrics {
  const fqs = model.modules().filter((m): m is FakeQuantize => m instanceof FakeQuantize && m.observerEnabled);
  for (const f of fqs) f.enableObserver(false);
  try { return evaluate(model, new DataLoader(ds, { batchSize: 1000 })); } finally { for (const f of fqs) f.enableObserver(true); }
}

/**
 * Quantize a trained classifier (`tensorslim quantize` without the files and printing): dynamic
 * (Linear layers, int8 weights, activations per batch), static (calibrate on training batches, then
 * Linear/Conv2d int8 in and out) or QAT (fake-quantized fine-tuning for `epochs`, keeping the epoch
 * with the best validation accuracy, then conversion). Returns float and int8 accuracy on the
 * validation split and the test split.
 * @example
 * const r = await quant.runQuantize({ model: loadModel('mlp.safetensors'), data: loadImageData('mnist'), mode: 'static' });
 * r.floatTest.accuracy - r.test.accuracy;   // points lost
 */
export async function runQuantize<M extends AnyModule = PresetModel>(o: RunQuantizeOptions<M>): Promise<RunQuantizeResult<M>> {
  const rng = defaultGenerator.getState();
  try { return await quantizeModel(o); } finally { defaultGenerator.setState(rng); }
}

async function quantizeModel<M extends AnyModule>(o: RunQuantizeOptions<M>): Promise<RunQuantizeResult<M>> {
  const op = 'runQuantize';
  const seed = o.seed ?? 0, batchSize = o.batchSize ?? 64;
  const model = o.model;
  const densified = densifySparseLayers(model);
  const { fit, validation } = split(o.data.train, o.validationFraction ?? 0.1, seed);
  model.eval();
  const floatTest = evaluate(model, new DataLoader(o.data.test, { batchSize: 1000 }));
  const floatValidation = evalOn(model, validation);
  const layers = o.layers === undefined ? {} : { layers: o.layers };
  let bestEpoch: number | null = null;
  let calibrationSamples = 0;
  manualSeed(seed);
  if (o.mode === 'dynamic') {
    quantizeDynamic(model, { ...layers, types: o.dynamicTypes ?? ['Linear'] });
  } else if (o.mode === 'static') {
    const batches = o.calibrationBatches ?? 32;
    prepareStatic(model, { ...layers, observer: o.observer ?? 'histogram' });
    const loader = new DataLoader(fit, { batchSize, shuffle: true, seed });
    noGrad(() => {
      for (const batch of loader) {
        if (calibrationSamples >= batches * batchSize) break;
        const x = (batch as Tensor[])[0]!;
        (model as Module<[Tensor], Tensor>).call(x);
        calibrationSamples += x.shape[0]!;
      }
    });
    convertStatic(model);   // refuses an uncalibrated layer by name (e.g. --calibration-batches 0)
  } else {
    const epochs = o.epochs ?? 1;
    prepareQat(model, layers);
    // the epoch-0 (observers only) state is a candidate too: a calibration pass in train mode
    model.train();
    noGrad(() => {
      let seen = 0;
      for (const batch of new DataLoader(fit, { batchSize, shuffle: true, seed })) {
        if (seen >= (o.calibrationBatches ?? 32) * batchSize) break;
        const x = (batch as Tensor[])[0]!;
        (model as Module<[Tensor], Tensor>).call(x);
        seen += x.shape[0]!;
      }
      calibrationSamples = seen;
    });
    let best = { epoch: 0, accuracy: evalOn(model, validation).accuracy, state: snapshot(model) };
    o.onEpoch?.(0, best.accuracy);
    const optimizer = makeOptimizer('adam', model.parameters(), { lr: o.lr ?? 1e-4 });
    for (let e = 1; e <= epochs; e++) {
      model.train();
      const trainer = new Trainer<Tensor[]>({
        model, optimizer, trainLoader: new DataLoader(fit, { batchSize, shuffle: true, seed: seed + e }), evalLoader: null, epochs: 1,
        callbacks: o.progress ? [o.progress(`qat epoch ${e}/${epochs}`)] : [],
      });
      const r = await trainer.fit();
      if (r.stopReason !== 'completed') throw new TensorslimError(op, `QAT epoch ${e} stopped: ${r.message ?? r.stopReason}`);
      const acc = evalOn(model, validation).accuracy;
      o.onEpoch?.(e, acc);
      if (acc > best.accuracy) best = { epoch: e, accuracy: acc, state: snapshot(model) };
    }
    model.loadStateDict(best.state);
    bestEpoch = best.epoch;
    model.eval();
    convertQat(model);
  }
  model.eval();
  const sharing = o.shareWeights !== undefined ? shareWeights(model, { clusters: o.shareWeights }) : null;
  const quantizedLayers = model.namedModules()
    .filter(([, m]) => isQuantizedLayer(m))
    .map(([name, m]) => ({ name, type: m.constructor.name }));
  const floatLayers = model.namedModules()
    .filter(([name, m]) => name !== '' && m.namedParameters().some(([k]) => k === 'weight'))
    .map(([name]) => name);
  return {
    model, floatTest, floatValidation,
    test: evaluate(model, new DataLoader(o.data.test, { batchSize: 1000 })),
    validation: evalOn(model, validation),
    quantizedLayers, floatLayers, densified, bestEpoch, calibrationSamples, sharing,
  };
}

/** A deep copy of a model's state dict (parameters, buffers, observer statistics). */
function snapshot(model: AnyModule): Map<string, Tensor> {
  return new Map([...model.stateDict()].map(([k, t]) => [k, new Tensor(t.dataSync().slice(), t.dtype, t.shape)]));
}
