// Quantized checkpoints the CLI reads like any other: saveQuantized's file (quantized_file.ts) plus a
// training checkpoint's metadata (format version, model config, step, epoch, RNG state, extra), so
// `loadCheckpoint` accepts it and every command can rebuild the float architecture from the config
// before swapping the int8 layers in. Also the per-layer figures that `summary` and `eval` print.

import { TensorslimError } from '../../core/errors.js';
import { defaultGenerator } from '../../core/random.js';
import type { AnyModule } from '../../nn/module.js';
import { modelFromConfig, type PresetModel } from '../../models/index.js';
import {
  CHECKPOINT_FORMAT_VERSION, CHECKPOINT_METADATA_KEYS as K, configParameterCount, parseCheckpoint,
  tensorslimVersion, type Checkpoint, type JsonObject, type SafetensorsMetadata,
} from '../../io/index.js';
import { loadQuantized, serializeQuantized, QUANTIZED_METADATA_KEY } from './quantized_file.js';
import { readFileBytes, writeFileAtomic } from '../../io/files.js';
import { QuantizedLinear, QuantizedLinearBase } from './modules.js';
import { DynamicQuantizedConv2d, QuantizedConv2d } from './conv.js';
import { dequantizeRow } from '../../backend/weight_only.js';
import { isQuantizedLayer, sharedWeightOf } from './sharing.js';
import { encodeInt8Weight } from './weight_coding.js';
import { WeightOnlyEmbedding, WeightOnlyLinear } from './weight_only.js';
import type { GPT, GptConfig } from '../../models/index.js';
import { gptConfigOf } from '../../train/lm.js';

/**
 * Whether a checkpoint (or its metadata) is a quantized one (written by saveQuantized /
 * saveQuantizedCheckpoint).
 * @example if (isQuantizedCheckpoint(loadCheckpoint(path))) model = loadQuantizedCheckpoint(path).model;
 */
export function isQuantizedCheckpoint(ckpt: Checkpoint | { metadata: SafetensorsMetadata }): boolean {
  return Object.hasOwn(ckpt.metadata, QUANTIZED_METADATA_KEY);
}

/**
 * The bytes of a quantized preset model as a checkpoint: int8 layers as saveQuantized writes them,
 * plus the checkpoint metadata (config of the float architecture, `extra`).
 * @example const bytes = serializeQuantizedCheckpoint(model, { mode: 'static' });
 */
export function serializeQuantizedCheckpoint(model: PresetModel, extra: JsonObject = {}): Uint8Array {
  return serializeQuantized(model, { metadata: checkpointMetadata(JSON.stringify(model.config), extra) });
}

/** The training-checkpoint metadata block of a quantized file (step and epoch 0, the RNG state now). */
function checkpointMetadata(config: string, extra: JsonObject): SafetensorsMetadata {
  const rng = defaultGenerator.getState();
  return {
    [K.formatVersion]: String(CHECKPOINT_FORMAT_VERSION),
    [K.version]: tensorslimVersion(),
    [K.step]: '0',
    [K.epoch]: '0',
    [K.config]: config,
    [K.rngState]: JSON.stringify({ s: [...rng.s], spare: rng.spare }),
    [K.extra]: JSON.stringify(extra),
  };
}

/**
 * Save a quantized preset model as a checkpoint (atomically); returns the bytes written.
 * @example saveQuantizedCheckpoint('mlp-int8.safetensors', model, { mode: 'dynamic' });
 */
export function saveQuantizedCheckpoint(path: string, model: PresetModel, extra: JsonObject = {}): number {
  const bytes = serializeQuantizedCheckpoint(model, extra);
  writeFileAtomic(path, bytes, 'saveQuantizedCheckpoint');
  return bytes.length;
}

/**
 * Load a quantized checkpoint: the float architecture rebuilt from its config, the int8 layers
 * swapped in bit for bit. Refuses a float checkpoint, a file without config, and (before
 * allocating) a config declaring far more parameters than the file could hold.
 * @example const { model } = loadQuantizedCheckpoint('mlp-int8.safetensors');  // eval with evaluateOn(model, data)
 */
export function loadQuantizedCheckpoint(source: string | Uint8Array): { model: PresetModel; checkpoint: Checkpoint } {
  const op = typeof source === 'string' ? `loadQuantizedCheckpoint('${source}')` : 'loadQuantizedCheckpoint';
  const bytes = typeof source === 'string' ? readFileBytes(source, op) : source;
  const checkpoint = parseCheckpoint(bytes, { op });
  if (!isQuantizedCheckpoint(checkpoint)) throw new TensorslimError(op, `not a quantized checkpoint (no '${QUANTIZED_METADATA_KEY}' metadata); load it with loadCheckpoint`);
  const config = checkpoint.config;
  if (config === null) throw new TensorslimError(op, 'the file has no model config; build the float model yourself and call quant.loadQuantized(model, bytes)');
  // every stored weight costs at least one bit of the file, every skipped zero at least 1/4096 of one
  const declared = configParameterCount(config);
  if (declared > bytes.length * 8 * 4096) throw new TensorslimError(op, `the config declares ${declared} parameters, more than a ${bytes.length}-byte file can hold; the file is damaged`);
  const rng = defaultGenerator.getState();
  let model: PresetModel;
  try { model = modelFromConfig(config); } finally { defaultGenerator.setState(rng); }
  const back = loadQuantized(model, bytes);
  if (back !== model) throw new TensorslimError(op, 'the file quantizes the whole model as one layer; a preset is a Sequential');
  model.eval();
  return { model, checkpoint };
}

/**
 * The bytes of a GPT with weight-only layers (quantizeWeightOnly) as a checkpoint that
 * `generate`, `eval --model` and loadQuantizedGpt read: the quantized file plus the GPT checkpoint
 * metadata (extra.gpt = its config, extra.tokenizer), the rest of the float weights F32 or BF16.
 * @example const bytes = serializeQuantizedGpt(model, { tokenizer: 'byte' }, { floatDType: 'BF16' });
 */
export function serializeQuantizedGpt(model: GPT, extra: JsonObject = {}, opts: { floatDType?: 'F32' | 'BF16' } = {}): Uint8Array {
  const metadata = checkpointMetadata('null', { ...extra, gpt: { ...model.config } });
  return serializeQuantized(model, { metadata, floatDType: opts.floatDType ?? 'F32' });
}

/**
 * Load a quantized GPT checkpoint (serializeQuantizedGpt): the GPT rebuilt from extra.gpt, its
 * weight-only (or dynamic int8) layers swapped in bit for bit, in eval mode.
 * @example const { model, tokenizer } = loadQuantizedGpt('gpt-int4.safetensors');
 */
export function loadQuantizedGpt(source: string | Uint8Array): { model: GPT; config: GptConfig; tokenizer: string; checkpoint: Checkpoint } {
  const op = typeof source === 'string' ? `loadQuantizedGpt('${source}')` : 'loadQuantizedGpt';
  const bytes = typeof source === 'string' ? readFileBytes(source, op) : source;
  const checkpoint = parseCheckpoint(bytes, { op });
  if (!isQuantizedCheckpoint(checkpoint)) throw new TensorslimError(op, `not a quantized checkpoint (no '${QUANTIZED_METADATA_KEY}' metadata); load it with loadGptCheckpoint`);
  const config = gptConfigOf(checkpoint);
  if (config === null) throw new TensorslimError(op, 'the file holds no GPT config (metadata extra.gpt); an image classifier loads with loadQuantizedCheckpoint');
  // a weight costs at least 4 bits of the file: refuse (before allocating) a config far larger than the file
  const declared = config.nLayer * 12 * config.nEmbd * config.nEmbd;
  if (declared > bytes.length * 2 * 4) throw new TensorslimError(op, `the config (${config.nLayer} layers, width ${config.nEmbd}) declares ${declared} weights, more than a ${bytes.length}-byte file can hold; the file is damaged`);
  const rng = defaultGenerator.getState();
  let model: GPT;
  try { model = modelFromConfig(config); } finally { defaultGenerator.setState(rng); }
  const back = loadQuantized(model, bytes);
  if (back !== model) throw new TensorslimError(op, 'the file quantizes the whole model as one layer');
  model.eval();
  const tok = checkpoint.extra['tokenizer'];
  return { model, config: model.config, tokenizer: typeof tok === 'string' ? tok : 'byte', checkpoint };
}

/** One int8 layer, as `summary` shows it. */
export interface QuantizedLayerStats {
  name: string;
  /** 'DynamicQuantizedLinear(int8, 784 -> 300)', 'QuantizedConv2d(int8, 1 -> 6, 5x5) + ReLU', ... */
  type: string;
  /** Weight elements + bias elements (the float layer's parameter count). */
  params: number;
  /** Weights that are not their channel's zero point (a pruned weight is exactly 0 after quantization). */
  nonzeroWeights: number;
  weights: number;
  /** Bytes as stored: 1 per int8 weight, 4 per scale and bias element, 4 per zero point of an affine weight (symmetric ones store none). */
  bytes: number;
  /** How the file stores the weight: 'int8' (dense I8), 'int8 coded' (pruned: positions + values), 'shared K' (codebook + indices). */
  storage: string;
  /** Per-channel weight scales: smallest and largest. */
  weightScale: [number, number];
  /** Static layers: input and output activation scale and zero point. */
  input: { scale: number; zeroPoint: number } | null;
  output: { scale: number; zeroPoint: number } | null;
}

/**
 * Figures of every int8 layer of a model (in module order).
 * @example quantizedLayerStats(model).map((l) => l.storage);  // ['int8', 'int8', 'int8']
 */
export function quantizedLayerStats(model: AnyModule): QuantizedLayerStats[] {
  const out: QuantizedLayerStats[] = [];
  const tables = new Map<unknown, string>();   // a weight-only table read by two layers (a tied LM head) counts once
  for (const [name, m] of model.namedModules()) {
    if (m instanceof WeightOnlyLinear || m instanceof WeightOnlyEmbedding) {
      const w = m.weight, groups = w.scales.length, bias = m instanceof WeightOnlyLinear && m.bias !== null ? m.bias.length : 0;
      const tiedTo = tables.get(w);
      if (tiedTo === undefined) tables.set(w, name);
      let nz = 0;
      const row = new Float32Array(w.cols);
      for (let n = 0; n < w.rows; n++) { dequantizeRow(w, n, row); for (const v of row) if (v !== 0) nz++; }
      const fmt = `int${w.bits} ${w.groupSize === w.cols ? (m instanceof WeightOnlyEmbedding ? 'per row' : 'per channel') : `g${w.groupSize}`} ${m.scheme}`;
      out.push({
        name, type: m instanceof WeightOnlyEmbedding ? `WeightOnlyEmbedding(${fmt}, ${w.rows} x ${w.cols})` : `WeightOnlyLinear(${fmt}, ${m.inFeatures} -> ${m.outFeatures})`,
        params: (tiedTo === undefined ? w.rows * w.cols : 0) + bias, nonzeroWeights: nz, weights: w.rows * w.cols,
        bytes: (tiedTo === undefined ? w.data.length + 4 * groups + (m.scheme === 'affine' ? groups : 0) : 0) + 4 * bias,
        storage: tiedTo === undefined ? `int${w.bits} weight-only` : `int${w.bits} weight-only, tied to ${tiedTo}`,
        weightScale: [Math.min(...w.scales), Math.max(...w.scales)], input: null, output: null,
      });
      continue;
    }
    if (!isQuantizedLayer(m)) continue;
    const w = m.weight;
    const rows = w.shape[0]!, cols = w.data.length / Math.max(1, rows);
    let nz = 0;
    for (let p = 0; p < w.data.length; p++) if (w.data[p] !== w.zeroPoints[Math.floor(p / cols)]) nz++;
    const bias = m.bias === null ? 0 : m.bias.length;
    const shared = sharedWeightOf(m);
    const coded = shared === undefined && encodeInt8Weight(w.data as Int8Array, rows, w.zeroPoints).stream.length < w.data.length;
    const relu = m instanceof QuantizedLinear || m instanceof QuantizedConv2d ? m.relu : false;
    const shape = m instanceof QuantizedConv2d || m instanceof DynamicQuantizedConv2d
      ? `${m.conv.inChannels} -> ${m.conv.outChannels}, ${m.conv.kernelSize.join('x')}`
      : `${(m as QuantizedLinearBase).inFeatures} -> ${(m as QuantizedLinearBase).outFeatures}`;
    const act = m instanceof QuantizedLinear || m instanceof QuantizedConv2d;
    out.push({
      name,
      type: `${m.constructor.name}(int8, ${shape})${relu ? ' + ReLU' : ''}`,
      params: w.data.length + bias,
      nonzeroWeights: nz,
      weights: w.data.length,
      // a float32 scale per row, and an int32 zero point only for affine weights (checkpoint format 4)
      bytes: w.data.length + (w.zeroPoints.some((z) => z !== 0) ? 8 : 4) * rows + 4 * bias,
      storage: shared !== undefined ? `shared ${shared.codebook.length}` : coded ? 'int8 coded' : 'int8',
      weightScale: [Math.min(...w.scales), Math.max(...w.scales)],
      input: act ? { scale: m.input.scale, zeroPoint: m.input.zeroPoint } : null,
      output: act ? { scale: m.output.scale, zeroPoint: m.output.zeroPoint } : null,
    });
  }
  return out;
}
