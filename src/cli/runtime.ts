// The one place the CLI touches the backend registry: choose a backend, set threads, and describe
// the runtime for `info`. Optional backend capabilities (threads, CPU path) are the Backend's optional
// BackendInfo members, absent on the reference backend.

import os from 'node:os';
import { getBackend, listBackends, setBackend } from '../backend/registry.js';
import { peekNativeStatus } from '../backends/native/index.js';
import { UsageError } from './command.js';
import { TensorslimError } from '../core/errors.js';
import { checkDeclaredSize, importHfGpt2, isHfGpt2, loadCheckpoint, loadSafetensors, modelFromCheckpoint, type Checkpoint } from '../io/index.js';
import type { GPT } from '../models/gpt.js';
import { readFileSync } from 'node:fs';
import { importOnnx, importOnnxBytes, OnnxGraph, Reshape, serializeOnnx, type ImportedOnnx } from '../io/onnx/index.js';
import type { JsonObject } from '../io/index.js';
import { importTfjs, type TfjsGraph } from '../io/tfjs/index.js';
import { TensorDataset, type ImageClassificationData } from '../data/index.js';
import { Conv2d, Dropout, Flatten, Identity, Linear, MaxPool2d, Module, ReLU, Sequential, type AnyModule } from '../nn/index.js';
import type { Tensor } from '../core/tensor.js';
import { noGrad } from '../core/engine.js';
import * as ops from '../ops/index.js';
import { listModels, modelFromConfig, type AnyPresetModel, type ModelConfig, type PresetModel } from '../models/index.js';
import { prune, quant } from '../compress/index.js';
import { gptConfigOf, loadGptCheckpoint } from '../train/lm.js';

/** The most kernel threads --threads accepts (far above any core count; more only adds overhead). */
const MAX_THREADS = 1024;

/** Facts about the running process and backend, as `info` prints them. */
export interface RuntimeInfo {
  version: string;
  backend: string;
  backends: string[];
  /** SIMD path of the native kernels ('avx2+fma', ...) or 'n/a (pure TypeScript)' on reference. */
  cpuPath: string;
  /** Threads the backend uses for kernels (1 for reference). */
  threads: number;
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  /**
   * The native addon, when it was looked for: where it loaded from ('local': built here from source,
   * 'prebuilt': the package's binary for this platform, 'env': TENSORSLIM_NATIVE_PATH) or why not,
   * with a line per candidate skipped. Null when the native backend was never tried (reference forced).
   */
  addon: AddonInfo | null;
}

/** The native addon as `info` describes it. */
export interface AddonInfo {
  loaded: boolean;
  source: 'local' | 'prebuilt' | 'env' | null;
  path: string | null;
  /** The prebuilt's manifest facts (build time, compiler, glibc baseline, N-API, ABI, source hash). */
  prebuilt: { builtAt: string; compiler: string; glibc: string | null; napiVersion: number; abiVersion: number; sourceHash: string } | null;
  error: string | null;
  notes: string[];
}

/**
 * Apply `--backend` and `--threads` before any tensor work. Throws UsageError for an unknown backend.
 *
 * @example
 * applyRuntimeFlags('train', { threads: 2 });
 */
export function applyRuntimeFlags(command: string, opts: { threads?: number | undefined; backend?: string | undefined }): void {
  if (opts.threads !== undefined && opts.threads > MAX_THREADS) {
    throw new UsageError(command, `--threads must be <= ${MAX_THREADS} (this machine has ${os.availableParallelism()} cores), got ${opts.threads}`);
  }
  if (opts.threads !== undefined) process.env['TENSORSLIM_NUM_THREADS'] = String(opts.threads);
  if (opts.backend !== undefined) {
    if (!listBackends().includes(opts.backend)) {
      throw new UsageError(command, `--backend '${opts.backend}' is not available; available: ${listBackends().join(', ')}`);
    }
    setBackend(opts.backend);
  }
  const b = getBackend();
  if (opts.threads !== undefined && typeof b.setThreads === 'function') b.setThreads(opts.threads);
}

/**
 * Describe the runtime (version passed in by the caller, which knows where package.json is).
 *
 * @example
 * runtimeInfo('0.1.0').backend;  // 'reference'
 */
export function runtimeInfo(version: string): RuntimeInfo {
  const b = getBackend();
  return {
    version,
    backend: b.name,
    backends: listBackends(),
    cpuPath: typeof b.cpuPath === 'string' ? b.cpuPath : b.name === 'reference' ? 'n/a (pure TypeScript)' : 'unknown',
    threads: typeof b.threads === 'number' ? b.threads : 1,
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    addon: addonInfo(),
  };
}

function addonInfo(): AddonInfo | null {
  const st = peekNativeStatus();
  if (st === null) return null;
  const m = st.manifest;
  return {
    loaded: st.loaded,
    source: st.source,
    path: st.path,
    prebuilt: m === null ? null : { builtAt: m.builtAt, compiler: m.compiler, glibc: m.glibc, napiVersion: m.napiVersion, abiVersion: m.abiVersion, sourceHash: m.sourceHash },
    error: st.error,
    notes: [...st.notes],
  };
}

/**
 * Rebuild an image classifier from a loaded checkpoint, dense or with the CSR sparse layers that
 * `tensorslim prune` writes (keys `<layer>.weight.values/crow_indices/col_indices`). A GPT
 * checkpoint is refused with a message naming the commands that take one (this is what the
 * image-only commands call); anyModelFromCheckpoint accepts both.
 * @example const model = modelFromAnyCheckpoint(loadCheckpoint('mlp.pruned.safetensors'), { command: 'eval' });
 */
export function modelFromAnyCheckpoint(ckpt: Checkpoint, opts: { command?: string; path?: string } = {}): PresetModel {
  const gpt = gptConfigOf(ckpt);
  if (gpt !== null) {
    const what = opts.path !== undefined ? `'${opts.path}'` : 'the checkpoint';
    const cmd = opts.command !== undefined ? `tensorslim ${opts.command}` : 'this command';
    const classifiers = listModels({ task: 'image-classification' }).map((m) => m.name).join(', ');
    throw new TensorslimError(opts.command ?? 'load', `${what} holds a GPT language model (${gpt.preset ?? 'gpt'}: ${gpt.nLayer} layers, width ${gpt.nEmbd}), `
      + `but ${cmd} works on image classifiers (${classifiers}); for a GPT use tensorslim summary, tensorslim generate, or tensorslim train --resume`);
  }
  const sparse = [...ckpt.model.keys()].some((k) => k.endsWith('weight.crow_indices'));
  if (!sparse) return modelFromCheckpoint(ckpt);
  if (!ckpt.config) throw new Error('this sparse checkpoint has no model config, so its layers cannot be rebuilt');
  checkDeclaredSize(ckpt.config, ckpt.model, 'load');   // before allocating the dense model
  return prune.loadSparse(modelFromConfig(ckpt.config), ckpt.model);
}

/**
 * Rebuild any preset model from a loaded checkpoint: a GPT (config in metadata extra.gpt, as
 * `train --model gpt-*` writes it) or an image classifier (dense or sparse, as modelFromAnyCheckpoint).
 * @example const model = anyModelFromCheckpoint(loadCheckpoint('gpt.safetensors'));   // a GPT
 */
export function anyModelFromCheckpoint(ckpt: Checkpoint): AnyPresetModel {
  return gptConfigOf(ckpt) !== null ? loadGptCheckpoint(ckpt).model : modelFromAnyCheckpoint(ckpt);
}

/**
 * Names of the tensors of `tensors` holding NaN or Inf (float tensors only), for the warning that
 * every command loading a checkpoint prints: a model with non-finite weights computes NaN, and its
 * accuracy, loss or pruning result would mean nothing.
 * @example nonFiniteTensors(model.stateDict());   // ['0.weight'] after a diverged run
 */
export function nonFiniteTensors(tensors: ReadonlyMap<string, { dtype: string; contiguous(): { data: ArrayLike<number> } }>): string[] {
  const bad: string[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
    const d = t.contiguous().data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) { bad.push(name); break; }
  }
  return bad;
}

/**
 * Warn on stderr when a loaded model has non-finite weights (NaN/Inf), naming the file and tensors.
 * @example warnNonFinite(ctx, 'eval', model, 'mlp.safetensors');
 */
export function warnNonFinite(ctx: { err(line: string): void }, command: string, model: { stateDict(): ReadonlyMap<string, { dtype: string; contiguous(): { data: ArrayLike<number> } }> }, path: string): void {
  const bad = nonFiniteTensors(model.stateDict());
  if (bad.length === 0) return;
  const names = bad.length > 4 ? `${bad.slice(0, 4).join(', ')} and ${bad.length - 4} more` : bad.join(', ');
  ctx.err(`tensorslim ${command}: warning: ${path} holds non-finite weights (NaN or Inf) in ${names}; `
    + 'the model computes NaN and its results mean nothing: retrain, or resume from an earlier checkpoint');
}

/** Whether a --model/--teacher path names an ONNX file (by its extension). @example isOnnxPath('m.onnx') // true */
export function isOnnxPath(path: string): boolean { return /\.onnx$/i.test(path); }

/**
 * The one loader behind every command's --model (and distill's --teacher): a checkpoint (dense,
 * sparse; as modelFromAnyCheckpoint) or an .onnx file. An ONNX file is imported (importOnnx) and
 * must be an image classifier of a preset's layout (an MLP: Flatten, Linear/ReLU..., Linear; or a
 * LeNet-5: Conv/ReLU/MaxPool twice, Flatten, Linear/ReLU..., Linear, as exportOnnx and PyTorch
 * write them); it becomes that preset with the file's weights, so train, prune, distill, eval and
 * summary treat it like a checkpoint. Other graphs are refused with what they hold.
 * @example const model = loadModelFile('mlp.onnx', { command: 'eval' });
 */
export function loadModelFile(path: string, opts: { command?: string } = {}): PresetModel {
  if (!isOnnxPath(path)) return modelFromAnyCheckpoint(loadCheckpoint(path), { ...opts, path });
  return presetFromOnnx(importOnnx(path), path, opts.command ?? 'load');
}

function presetFromOnnx(imp: ImportedOnnx, path: string, command: string): PresetModel {
  const refuse = (why: string): never => {
    throw new TensorslimError(command, `'${path}' ${why}; tensorslim ${command} takes image classifiers of the mlp or lenet5 layout (Flatten, Linear/ReLU..., Linear; or Conv/ReLU/MaxPool twice, Flatten, Linear/ReLU..., Linear). `
      + 'tensorslim eval, summary, prune and export take any other ONNX graph importOnnx reads; in code, importOnnx (docs/INTEROP.md)');
  };
  if (!(imp.model instanceof Sequential)) refuse(`is a general ONNX graph (${imp.model.steps.length} nodes, ops ${[...new Set(imp.model.steps.map((s) => s.node.opType))].slice(0, 8).join(', ')})`);
  const all = [...(imp.model as Sequential).children()].filter((m) => !(m instanceof Identity) && !(m instanceof Dropout));
  let view: number[] | null = null;
  while (all[0] instanceof Reshape || all[0] instanceof Flatten) {
    const first = all.shift()!;
    if (first instanceof Reshape && first.shape.length === 4) view = first.shape.slice(1);
  }
  const describe = all.map((m) => m.constructor.name).join(', ');
  const weights = all.filter((m): m is Linear | Conv2d => m instanceof Linear || m instanceof Conv2d);
  const fcFrom = (i: number): Linear[] => {
    const fcs: Linear[] = [];
    for (let k = i; k < all.length; k++) {
      const m = all[k]!;
      const last = k === all.length - 1;
      if (!(m instanceof Linear) || (!last && !(all[k + 1] instanceof ReLU))) refuse(`holds ${describe}, not a preset layout (at layer ${k}: ${m.constructor.name})`);
      fcs.push(m as Linear);
      if (!last) k++;
    }
    return fcs;
  };
  let config: ModelConfig;
  if (all[0] instanceof Linear) {
    const fcs = fcFrom(0);
    config = { arch: 'mlp', inFeatures: fcs[0]!.inFeatures, hidden: fcs.slice(0, -1).map((l) => l.outFeatures), numClasses: fcs[fcs.length - 1]!.outFeatures, dropout: 0, inputDropout: 0 };
  } else if (all[0] instanceof Conv2d && all[3] instanceof Conv2d && all[6] instanceof Flatten) {
    const [c1, c2] = [all[0], all[3]];
    const k = c1.kernelSize[0];
    const poolOk = (m: unknown): boolean => m instanceof MaxPool2d && m.kernelSize[0] === 2 && m.kernelSize[1] === 2 && m.stride[0] === 2 && m.stride[1] === 2 && m.padding[0] === 0;
    const ok = all[1] instanceof ReLU && all[4] instanceof ReLU && poolOk(all[2]) && poolOk(all[5]) && c1.kernelSize[1] === k && c2.kernelSize[0] === k && c2.kernelSize[1] === k
      && c1.padding[0] === Math.floor(k / 2) && c1.padding[1] === Math.floor(k / 2) && c2.padding[0] === 0 && c2.padding[1] === 0
      && [c1, c2].every((c) => c.stride[0] === 1 && c.stride[1] === 1 && c.dilation[0] === 1 && c.dilation[1] === 1);
    if (!ok) refuse(`holds ${describe}, convolutions that are not the lenet5 layout (kernel k with padding k/2, then k without, 2x2 pooling)`);
    const dims = view ?? imp.inputShape.slice(-3).map((d) => (typeof d === 'number' ? d : NaN));
    if (dims.length !== 3 || dims.some((d) => !Number.isInteger(d) || d <= 0)) refuse(`does not declare its image size (input ${imp.inputShape.join('x')})`);
    const fcs = fcFrom(7);
    config = { arch: 'lenet5', inputShape: [dims[0]!, dims[1]!, dims[2]!], channels: [c1.outChannels, c2.outChannels], kernelSize: k, fc: fcs.slice(0, -1).map((l) => l.outFeatures), numClasses: fcs[fcs.length - 1]!.outFeatures };
  } else return refuse(`holds ${describe}, not a preset layout`);
  let model: PresetModel;
  try { model = modelFromConfig(config); } catch (e) { return refuse(`describes an invalid ${config.arch}: ${(e as Error).message}`); }
  const mine = model.modules().filter((m): m is Linear | Conv2d => m instanceof Linear || m instanceof Conv2d);
  if (mine.length !== weights.length) refuse(`holds ${weights.length} weight layers where the ${config.arch} has ${mine.length}`);
  noGrad(() => mine.forEach((m, i) => {
    const src = weights[i]!;
    if (m.weight.shape.join() !== src.weight.shape.join()) refuse(`layer ${i} has weight ${src.weight.shape.join('x')} where the ${config.arch} has ${m.weight.shape.join('x')}`);
    ops.assign(m.weight, src.weight);
    if (m.bias !== null) ops.assign(m.bias, src.bias ?? ops.zerosLike(m.bias));
  }));
  return model;
}

/**
 * The model of a quantized checkpoint (`tensorslim quantize --out`): the float architecture from
 * its config with the int8 layers swapped in; null when `ckpt` is not quantized (then load it as
 * usual). `path` is read again for the int8 tensors (loadCheckpoint widens them to int32).
 * @example const model = quantizedModelFromFile(ckpt, path) ?? modelFromAnyCheckpoint(ckpt);
 */
export function quantizedModelFromFile(ckpt: Checkpoint, path: string): PresetModel | null {
  if (!quant.isQuantizedCheckpoint(ckpt)) return null;
  return quant.loadQuantizedCheckpoint(path).model;
}

/**
 * Refuse a quantized checkpoint in a command that cannot take one (`prune`), naming what can.
 * @example refuseQuantized(ckpt, 'prune', path, 'prune before quantizing');
 */
export function refuseQuantized(ckpt: Checkpoint, command: string, path: string, why: string): void {
  if (!quant.isQuantizedCheckpoint(ckpt)) return;
  throw new TensorslimError(command, `${path} is a quantized (int8) checkpoint; ${why}. tensorslim eval and summary take it; `
    + `tensorslim ${command} takes the float checkpoint it was quantized from`);
}

/** What an imported file declares about its input and output (input dims with the batch first; symbolic ones by name). */
export interface ImportedIO {
  readonly opset: number | null;
  readonly inputName: string;
  readonly outputName: string;
  readonly inputShape: readonly (number | string)[];
}

/**
 * A model imported from another format that is not a preset layout: an .onnx graph (any graph
 * importOnnx accepts; a Sequential chain or an OnnxGraph) or a TF.js layers model (model.json,
 * importTfjs), with what the file declared and a one-line description.
 */
export interface ImportedFileModel {
  readonly kind: 'imported';
  readonly format: 'onnx' | 'tfjs';
  readonly path: string;
  readonly model: Sequential | OnnxGraph | TfjsGraph;
  readonly imported: ImportedIO;
  /** 'onnx graph (opset 13, 12 nodes: Gemm, Relu, ...)', 'onnx chain (opset 17, 5 layers)' or 'tfjs layers model (Conv2D, ...)'. */
  readonly description: string;
  /** Loaded from a checkpoint that carries its graph: that checkpoint's extra (written on again when training on). */
  readonly carried?: JsonObject;
}

/**
 * Load --model for commands that take any ONNX graph where it makes sense (eval, summary, prune,
 * export): a checkpoint or a preset-layout .onnx becomes the preset (as loadModelFile), any other
 * .onnx file importOnnx accepts is returned as an ImportedFileModel (feed it with fitImageData).
 * @example const m = loadModelOrGraph('hello_deepa.onnx', { command: 'summary' }); // m.kind === 'onnx'
 */
export function loadModelOrGraph(path: string, opts: { command?: string } = {}): PresetModel | ImportedFileModel {
  if (isTfjsPath(path)) {
    const t = importTfjs(path);
    return {
      kind: 'imported', format: 'tfjs', path, model: t.model, imported: { opset: null, inputName: 'input', outputName: 'output', inputShape: ['batch', ...t.inputShape] },
      description: `tfjs layers model (${t.layers.length} layers: ${[...new Set(t.layers)].slice(0, 8).join(', ')})`,
    };
  }
  if (!isOnnxPath(path)) {
    const ckpt = loadCheckpoint(path);
    return importedFromCheckpoint(ckpt, path) ?? modelFromAnyCheckpoint(ckpt, { ...opts, path });
  }
  const imported = importOnnx(path);
  try { return presetFromOnnx(imported, path, opts.command ?? 'load'); } catch (e) {
    if (!(e instanceof TensorslimError)) throw e;   // not a preset layout: the graph itself
  }
  const m = imported.model;
  const description = m instanceof OnnxGraph
    ? `onnx graph (opset ${imported.opset}, ${m.steps.length} nodes: ${[...new Set(m.steps.map((st) => st.node.opType))].slice(0, 8).join(', ')})`
    : `onnx chain (opset ${imported.opset}, ${m.length} layers)`;
  return { kind: 'imported', format: 'onnx', path, model: m, imported, description };
}

/** Whether a loaded --model is an ONNX graph rather than a preset. @example if (isImportedFileModel(m)) data = fitImageData(data, m, 'eval'); */
export function isImportedFileModel(m: AnyPresetModel | ImportedFileModel): m is ImportedFileModel {
  return (m as { kind?: unknown }).kind === 'imported';
}

/** Whether a --model path names a TF.js layers model (model.json, by its extension). @example isTfjsPath('web_model/model.json') // true */
export function isTfjsPath(path: string): boolean { return /\.json$/i.test(path); }

/**
 * The per-sample input shape an ONNX graph declares (the dims after the batch), or the reason it
 * cannot be fed from a dataset (not float, not static). `what` is how errors name the command.
 * @example onnxSampleShape(m, 'summary');   // [25, 96] for hello_deepa.onnx
 */
export function onnxSampleShape(m: ImportedFileModel, command: string): number[] {
  const name = m.imported.inputName;
  const dims = m.imported.inputShape;
  const shown = `(${dims.join(', ')})`;
  if (m.model instanceof OnnxGraph && m.model.inputs.length !== 1) {
    throw new TensorslimError(command, `'${m.path}' has ${m.model.inputs.length} inputs (${m.model.inputs.map((i) => i.name).join(', ')}); tensorslim ${command} feeds one input tensor. Run it with OnnxGraph.run from the API`);
  }
  if (m.model instanceof OnnxGraph && m.model.inputs[0]!.elem !== 1) {
    throw new TensorslimError(command, `'${m.path}' input '${name}' ${shown} holds integers (token ids, not images); tensorslim ${command} feeds float32 image batches. Use the API (importOnnx, OnnxGraph.run)`);
  }
  const rest = dims.slice(1);
  const symbolic = rest.filter((d) => typeof d !== 'number' || d <= 0);
  if (dims.length < 2 || symbolic.length > 0) {
    throw new TensorslimError(command, `'${m.path}' input '${name}' ${shown} does not declare a fixed per-sample shape (${dims.length < 2 ? 'no batch dimension' : `symbolic dims ${symbolic.join(', ')}`}); tensorslim ${command} needs (batch, d1, d2, ...) with numeric d1...`);
  }
  return rest as number[];
}

/**
 * An image dataset reshaped to the per-sample input shape an ONNX graph declares (views, no copy),
 * checked so that the graph runs on a batch and returns one score per class. Refuses, naming what
 * is missing, a graph whose input holds a different number of values than a sample, or whose
 * output is not (batch, classes).
 * @example data = fitImageData(loadImageData('mnist'), loadModelOrGraph('cnn.onnx') as ImportedFileModel, 'eval');
 */
export function fitImageData(data: ImageClassificationData, m: ImportedFileModel, command: string): ImageClassificationData {
  const shape = onnxSampleShape(m, command);
  const want = shape.reduce((a, b) => a * b, 1);
  const have = data.info.inputShape.reduce((a, b) => a * b, 1);
  const name = m.imported.inputName;
  if (want !== have) {
    throw new TensorslimError(command, `'${m.path}' input '${name}' takes (${shape.join(', ')}) = ${want} values per sample, but dataset ${data.info.name} has samples of shape (${data.info.inputShape.join(', ')}) = ${have}; `
      + 'give a dataset whose images have that many pixels, or a model made for this dataset');
  }
  const view = (d: TensorDataset): TensorDataset => {
    const [x, ...rest] = d.tensors;
    return new TensorDataset(ops.reshape(x!, [x!.shape[0]!, ...shape]), ...rest);
  };
  const fitted: ImageClassificationData = { ...data, train: view(data.train), test: view(data.test), info: { ...data.info, inputShape: shape } };
  const wasTraining = m.model.training;
  let out: number[];
  try {
    m.model.eval();
    out = [...noGrad(() => m.model.call(fitted.test.getBatch([0, 1])[0]!)).shape];
  } catch (e) {
    throw new TensorslimError(command, `'${m.path}' does not run on a batch of 2 samples of (${shape.join(', ')}) (input '${name}' declares (${m.imported.inputShape.join(', ')})): ${(e as Error).message}`);
  } finally { m.model.train(wasTraining); }
  if (out.length !== 2 || out[0] !== 2 || out[1] !== data.info.numClasses) {
    throw new TensorslimError(command, `'${m.path}' output '${m.imported.outputName}' is (${out.join(', ')}) for a batch of 2, but tensorslim ${command} needs one score per class of dataset ${data.info.name}: (2, ${data.info.numClasses})`);
  }
  return fitted;
}

/**
 * Load a checkpoint, or (when the file is not a tensorslim checkpoint but a Hugging Face GPT-2
 * safetensors file: Conv1D layout, see importHfGpt2) that GPT-2 as our GPT. Other files fail as
 * loadCheckpoint fails.
 * @example const r = loadCheckpointOrHfGpt2('gpt2/model.safetensors');   // { hf: GPT } with config.json beside it
 */
export function loadCheckpointOrHfGpt2(path: string): { ckpt: Checkpoint; hf: null } | { ckpt: null; hf: GPT } {
  try { return { ckpt: loadCheckpoint(path), hf: null }; } catch (e) {
    if (!(e instanceof TensorslimError) || !/\.safetensors$/i.test(path)) throw e;
    let tensors;
    try { tensors = loadSafetensors(path).tensors; } catch { throw e; }
    if (!isHfGpt2(tensors)) throw e;
    return { ckpt: null, hf: importHfGpt2(path).model };
  }
}

/** Metadata (extra) key of a checkpoint whose weights belong to an imported graph: the graph's ONNX file, base64. */
export const GRAPH_EXTRA_KEY = 'onnxGraph';

/** What a checkpoint of an imported graph records about it (extra.onnxGraph). */
interface GraphExtra { format: 'onnx'; source: string; sourceFormat: 'onnx' | 'tfjs'; bytes: string }

function graphExtraOf(ckpt: Checkpoint): GraphExtra | null {
  const g = ckpt.extra[GRAPH_EXTRA_KEY];
  if (g === undefined || g === null || typeof g !== 'object' || Array.isArray(g)) return null;
  const x = g as Partial<Record<keyof GraphExtra, unknown>>;
  if (x.format !== 'onnx' || typeof x.bytes !== 'string' || typeof x.source !== 'string') {
    throw new TensorslimError('load', `metadata extra.${GRAPH_EXTRA_KEY} is malformed (expected format 'onnx', source and bytes); the file is damaged or from another tool`);
  }
  return { format: 'onnx', source: x.source, sourceFormat: x.sourceFormat === 'tfjs' ? 'tfjs' : 'onnx', bytes: x.bytes };
}

function importedDescription(imported: ImportedOnnx): string {
  const m = imported.model;
  return m instanceof OnnxGraph
    ? `onnx graph (opset ${imported.opset}, ${m.steps.length} nodes: ${[...new Set(m.steps.map((st) => st.node.opType))].slice(0, 8).join(', ')})`
    : `onnx chain (opset ${imported.opset}, ${m.length} layers)`;
}

/**
 * The model of a checkpoint written by `train` or `distill` for an imported graph (extra.onnxGraph:
 * the graph's ONNX file; the tensors: its trained weights), or null for any other checkpoint.
 * @example const m = importedFromCheckpoint(loadCheckpoint('ft.safetensors'), 'ft.safetensors');   // m.kind === 'imported'
 */
export function importedFromCheckpoint(ckpt: Checkpoint, path: string): ImportedFileModel | null {
  const g = graphExtraOf(ckpt);
  if (g === null) return null;
  const imported = importOnnxBytes(Buffer.from(g.bytes, 'base64'));
  try { imported.model.loadStateDict(ckpt.model); } catch (e) {
    throw new TensorslimError('load', `'${path}' carries a graph (from ${g.source}) whose parameters do not match its weights: ${(e as Error).message}`);
  }
  return { kind: 'imported', format: 'onnx', path, model: imported.model, imported, description: `${importedDescription(imported)} from ${g.source}`, carried: { [GRAPH_EXTRA_KEY]: { ...g } } };
}

/** Whether the checkpoint at `path` carries an imported graph (see importedFromCheckpoint). @example checkpointHasGraph('ft.safetensors') */
export function checkpointHasGraph(path: string): boolean {
  return graphExtraOf(loadCheckpoint(path)) !== null;
}

/**
 * An imported model made trainable with checkpoints that carry it: the ONNX bytes to store in each
 * checkpoint (the .onnx file itself; a TF.js model is converted to ONNX first) and the model to
 * train, imported from those bytes so that its parameter names are the ones a later load finds.
 * A graph with external data cannot be carried (refused, naming the way out).
 * @example const { model, extra } = carriedGraph(loadModelOrGraph('m.onnx') as ImportedFileModel, [784], 'train');
 */
export function carriedGraph(m: ImportedFileModel, sampleShape: readonly number[], command: string): { model: Sequential | OnnxGraph | TfjsGraph; extra: JsonObject; imported: ImportedIO } {
  if (m.carried !== undefined) return { model: m.model, imported: m.imported, extra: m.carried };   // the graph of a checkpoint, its weights loaded
  const bytes = m.format === 'onnx' && isOnnxPath(m.path) ? new Uint8Array(readFileSync(m.path)) : serializeOnnx(m.model, ops.zeros([1, ...sampleShape])).bytes;
  let imported: ImportedOnnx;
  try { imported = importOnnxBytes(bytes); } catch (e) {
    throw new TensorslimError(command, `'${m.path}' cannot be carried inside a checkpoint (${(e as Error).message}); write --out <file>.onnx instead`);
  }
  const source = m.path;
  return { model: imported.model, imported, extra: { [GRAPH_EXTRA_KEY]: { format: 'onnx', source, sourceFormat: m.format, bytes: Buffer.from(bytes).toString('base64') } } };
}

/**
 * A model fed samples of another shape with the same number of values: reshapes each batch to
 * (N, ...sampleShape) before calling `inner` (an imported graph used as a distillation teacher
 * sees the student's dataset samples).
 * @example const teacher = new InputView(graph.model, [28, 28]);   // called with (N, 1, 28, 28) or (N, 784)
 */
export class InputView extends Module<[Tensor], Tensor> {
  readonly inner: AnyModule;
  readonly sampleShape: readonly number[];
  constructor(inner: AnyModule, sampleShape: readonly number[]) {
    super();
    this.inner = inner;
    this.sampleShape = [...sampleShape];
    this.registerModule('inner', inner);
  }
  forward(x: Tensor): Tensor {
    return (this.inner as Module<[Tensor], Tensor>).call(ops.reshape(x, [x.shape[0]!, ...this.sampleShape]));
  }
}
