// TensorFlow.js layers-model import: reads a `model.json` (format 'layers-model', as TF.js's
// model.save() and tensorflowjs_converter --output_format tfjs_layers_model write it) and its
// weight shards into a Sequential of tensorslim layers with trainable parameters, so a model
// shipped for TF.js can be fine-tuned, pruned, distilled, quantized and exported to ONNX.
//
// What is read: Sequential models and functional ('Model'/'Functional') models: a chain becomes a
// Sequential, branches and merges (Add, Multiply, Average, Maximum, Minimum, Concatenate
// over the channels) a TfjsGraph (layers.ts) whose children are one Sequential per Keras layer;
// layers InputLayer, Dense, Conv2D, DepthwiseConv2D (a Conv2d with groups = channels),
// SeparableConv2D (that, then a 1x1 Conv2d), MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
// GlobalMaxPooling2D, Flatten, Reshape, ZeroPadding2D, BatchNormalization, Activation, ReLU, Softmax,
// Dropout (and SpatialDropout2D, GaussianNoise, GaussianDropout: the identity at inference); the
// activations linear, relu, sigmoid, tanh, softmax. Weights in float32 or quantized by the converter
// (uint8/uint16 affine: value = q * scale + min; float16). Anything else is refused naming the layer
// and its class.
//
// Layout: TF.js images are NHWC, ours NCHW. The imported model takes the same input as the TF.js one
// (N, H, W, C): a Transpose to NCHW comes first, convolution kernels (kh, kw, in, out) are permuted to
// (out, in, kh, kw), and a Flatten after image layers transposes back to NHWC first, so the Dense
// weights after it keep TF's order and the outputs match TF.js's element for element.
//
// Safety: weight shards are read only from the model.json's folder (no absolute paths, no '..'
// escapes, symlinks resolved); the manifest's declared sizes must equal the shards' bytes before
// anything is allocated; every shape is checked against the layer that uses it.

import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { noGrad } from '../../core/engine.js';
import { TensorslimError } from '../../core/errors.js';
import { Tensor } from '../../core/tensor.js';
import * as ops from '../../ops/index.js';
import {
  Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Tanh, type TensorModule,
} from '../../nn/index.js';
import { readFileBytes } from '../files.js';
import { AvgPool2d, FrozenBatchNorm, GlobalAvgPool2d, Reshape, Transpose } from '../onnx/layers.js';
import { ClippedReLU, TfjsGraph, ZeroPad2d, type TfjsMerge, type TfjsNode } from './layers.js';

const OP = 'importTfjs';

/** The layer classes importTfjs reads. */
export const TFJS_LAYERS = [
  'InputLayer', 'Dense', 'Conv2D', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'Flatten',
  'Reshape', 'ZeroPadding2D', 'BatchNormalization', 'Activation', 'ReLU', 'Softmax', 'Dropout', 'SpatialDropout2D', 'GaussianNoise',
  'GaussianDropout', 'DepthwiseConv2D', 'SeparableConv2D',
  // merges, in functional models
  'Add', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate',
] as const;

/** One weight of the manifest, as TF.js describes it. */
export interface TfjsWeightSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly quantization?: { readonly dtype: string; readonly scale?: number; readonly min?: number };
}

/** What importTfjs read. */
export interface ImportedTfjs {
  /** The model: takes TF.js's input layout ((N, H, W, C) images, or (N, F)); a functional model with branches or merges is a TfjsGraph. */
  readonly model: Sequential | TfjsGraph;
  /** The input shape without the batch dim, as TF.js declares it, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
  /** Keras class names of the layers, in order (InputLayer excluded). */
  readonly layers: readonly string[];
  /** Which manifest weight each parameter or buffer came from (our name -> TF.js weight name). */
  readonly sources: ReadonlyMap<string, string>;
  /** Manifest weights no layer used (e.g. optimizer slots); empty for a clean file. */
  readonly unusedWeights: readonly string[];
  /** The weights' storage in the file: 'float32', or the converter's quantization ('uint8', 'uint16', 'float16'), per weight count. */
  readonly storage: Readonly<Record<string, number>>;
}

const MAX_ELEMENTS = 2 ** 31 - 1;

function fail(msg: string): never { throw new TensorslimError(OP, msg); }

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Decoded weights by name: values (float32) and shape. */
interface Weight { readonly spec: TfjsWeightSpec; readonly values: Float32Array }

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Bytes one weight takes in the shards. */
function storedBytes(s: TfjsWeightSpec): number {
  const n = numel(s.shape);
  const q = s.quantization?.dtype;
  if (q === 'uint8') return n;
  if (q === 'uint16' || q === 'float16') return 2 * n;
  if (q !== undefined) fail(`weight '${s.name}': unknown quantization dtype '${q}' (TF.js writes uint8, uint16 or float16)`);
  if (s.dtype === 'float32' || s.dtype === 'int32') return 4 * n;
  if (s.dtype === 'bool') return n;
  return fail(`weight '${s.name}': unsupported dtype '${s.dtype}' (float32, int32, or quantized uint8/uint16/float16)`);
}

function checkSpec(raw: unknown, where: string): TfjsWeightSpec {
  if (!isObj(raw)) fail(`${where}: each weight must be an object {name, shape, dtype}`);
  const { name, shape, dtype, quantization } = raw;
  if (typeof name !== 'string' || name === '') fail(`${where}: a weight has no name`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) fail(`${where}: weight '${name}' has shape ${JSON.stringify(shape)}; expected non-negative integers`);
  if (typeof dtype !== 'string') fail(`${where}: weight '${name}' has no dtype`);
  if (numel(shape as number[]) > MAX_ELEMENTS) fail(`${where}: weight '${name}' declares ${JSON.stringify(shape)}, more than ${MAX_ELEMENTS} elements`);
  if (quantization !== undefined) {
    if (!isObj(quantization) || typeof quantization['dtype'] !== 'string') fail(`${where}: weight '${name}' has a malformed quantization entry`);
    const q = quantization['dtype'];
    if ((q === 'uint8' || q === 'uint16') && !(Number.isFinite(quantization['scale']) && Number.isFinite(quantization['min']))) {
      fail(`${where}: weight '${name}' is ${q}-quantized without a finite scale and min`);
    }
  }
  return raw as unknown as TfjsWeightSpec;
}

/** IEEE half to float. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f === 0 ? s * Infinity : NaN;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Decode the manifest's weights from the concatenated shard bytes (sizes already checked). */
function decodeWeights(specs: readonly TfjsWeightSpec[], data: Uint8Array): Map<string, Weight> {
  const out = new Map<string, Weight>();
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let off = 0;
  for (const s of specs) {
    const n = numel(s.shape);
    const v = new Float32Array(n);
    const q = s.quantization;
    if (q?.dtype === 'uint8') for (let i = 0; i < n; i++) v[i] = data[off + i]! * q.scale! + q.min!;
    else if (q?.dtype === 'uint16') for (let i = 0; i < n; i++) v[i] = dv.getUint16(off + 2 * i, true) * q.scale! + q.min!;
    else if (q?.dtype === 'float16') for (let i = 0; i < n; i++) v[i] = halfToFloat(dv.getUint16(off + 2 * i, true));
    else if (s.dtype === 'float32') for (let i = 0; i < n; i++) v[i] = dv.getFloat32(off + 4 * i, true);
    else if (s.dtype === 'int32') for (let i = 0; i < n; i++) v[i] = dv.getInt32(off + 4 * i, true);
    else for (let i = 0; i < n; i++) v[i] = data[off + i]!;
    off += storedBytes(s);
    if (out.has(s.name)) fail(`the weights manifest names '${s.name}' twice`);
    out.set(s.name, { spec: s, values: v });
  }
  return out;
}

/** Reads a shard path from inside `folder` (no absolute path, no escape through '..' or a symlink). */
function readShard(folder: string, p: unknown): Uint8Array {
  if (typeof p !== 'string' || p === '') fail(`a weights manifest path must be a non-empty string, got ${JSON.stringify(p)}`);
  const clean = p.split(/[?#]/)[0]!;
  if (isAbsolute(clean) || /^[a-z]+:\/\//i.test(p)) fail(`weight shard '${p}' is not a path relative to the model.json's folder; only shards beside the model are read`);
  const target = resolve(folder, clean);
  let real: string;
  try { real = realpathSync(target); } catch { return fail(`weight shard '${p}' is missing (looked for ${target})`); }
  const base = realpathSync(folder);
  const rel = relative(base, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) fail(`weight shard '${p}' resolves outside the model's folder (${real}); refusing to read it`);
  return readFileBytes(real, OP);
}

/** Size of a file without reading it (to check declared sizes first). */
function fileSize(path: string): number {
  const fd = openSync(path, 'r');
  try { return fstatSync(fd).size; } finally { closeSync(fd); }
}

/**
 * The layer list of a topology, and for a functional model that is not a plain chain its config
 * (importGraph reads its inbound_nodes, input_layers and output_layers).
 */
function layerList(topology: unknown): { layers: Json[]; graph: Json | null } {
  if (!isObj(topology)) fail('modelTopology must be an object');
  const mc = isObj(topology['model_config']) ? topology['model_config'] : topology;
  const cls = mc['class_name'];
  const config = mc['config'];
  if (cls === 'Sequential') {
    const layers = Array.isArray(config) ? config : isObj(config) ? config['layers'] : undefined;
    if (!Array.isArray(layers) || !layers.every(isObj)) fail('a Sequential topology must list its layers');
    return { layers: layers as Json[], graph: null };
  }
  if (cls === 'Model' || cls === 'Functional') {
    if (!isObj(config) || !Array.isArray(config['layers']) || !config['layers'].every(isObj)) fail(`a ${cls} topology must list its layers`);
    const layers = config['layers'] as Json[];
    // a chain (every layer after the first has one inbound connection, from the layer before it)
    // imports as a Sequential; anything else as a graph
    for (let i = 1; i < layers.length; i++) {
      const inbound = layers[i]!['inbound_nodes'];
      const from = Array.isArray(inbound) && inbound.length === 1 && Array.isArray(inbound[0]) && inbound[0].length === 1 && Array.isArray(inbound[0][0]) ? inbound[0][0][0] : undefined;
      const prev = isObj(layers[i - 1]!['config']) ? (layers[i - 1]!['config'] as Json)['name'] : undefined;
      if (from === undefined || from !== prev) return { layers, graph: config };
    }
    return { layers, graph: null };
  }
  return fail(`modelTopology class '${String(cls)}' is not supported (Sequential, Model or Functional)`);
}

/** Pair from an int or a 2-list. */
function pair2(v: unknown, what: string, layer: string): [number, number] {
  const a = typeof v === 'number' ? [v, v] : Array.isArray(v) ? v : null;
  if (a === null || a.length !== 2 || !a.every((d) => Number.isInteger(d) && (d as number) >= 0)) fail(`layer '${layer}': ${what} must be an integer or two, got ${JSON.stringify(v)}`);
  return [a[0] as number, a[1] as number];
}

type Shape = { kind: 'flat'; f: number } | { kind: 'image'; c: number; h: number; w: number };

/** 'same' padding as TensorFlow computes it: total = max((ceil(in/s) - 1) s + (k - 1) d + 1 - in, 0), the odd pixel after. */
function samePads(inSize: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(inSize / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/**
 * Read a TF.js layers model (`model.json` + its weight shards) into a Sequential of tensorslim
 * layers (see the file header for what is supported). The model takes the same input as TF.js
 * ((N, H, W, C) images) and gives the same outputs; it trains, prunes, quantizes and exports to ONNX.
 *
 * @example
 * const { model, inputShape } = importTfjs('web_model/model.json');
 * model.eval();
 * const probs = noGrad(() => model.call(images));   // images: (N, ...inputShape), NHWC as in TF.js
 */
export function importTfjs(modelJsonPath: string): ImportedTfjs {
  const text = Buffer.from(readFileBytes(modelJsonPath, OP)).toString('utf8');
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { return fail(`'${modelJsonPath}' is not JSON (${(e as Error).message}); expected a TF.js model.json`); }
  if (!isObj(json)) fail(`'${modelJsonPath}' is not a TF.js model.json object`);
  const folder = dirname(resolve(modelJsonPath));
  const manifest = json['weightsManifest'];
  if (!Array.isArray(manifest) || !manifest.every(isObj)) fail(`'${modelJsonPath}' has no weightsManifest list (is it a TF.js layers model?)`);
  const specs: TfjsWeightSpec[] = [];
  const shardPaths: string[] = [];
  for (const [g, group] of (manifest as Json[]).entries()) {
    if (!Array.isArray(group['paths']) || !Array.isArray(group['weights'])) fail(`weightsManifest group ${g} needs paths and weights lists`);
    for (const w of group['weights'] as unknown[]) specs.push(checkSpec(w, `weightsManifest group ${g}`));
    for (const p of group['paths'] as unknown[]) shardPaths.push(p as string);
  }
  // declared sizes against the shards' sizes, before reading or allocating anything big
  const declared = specs.reduce((n, s) => n + storedBytes(s), 0);
  let actual = 0;
  const resolved = shardPaths.map((p) => {
    if (typeof p !== 'string') fail(`a weights manifest path must be a string, got ${JSON.stringify(p)}`);
    return p;
  });
  for (const p of resolved) {
    const clean = p.split(/[?#]/)[0]!;
    if (!isAbsolute(clean)) { try { actual += fileSize(resolve(folder, clean)); } catch { /* reported by readShard */ } }
  }
  if (declared !== actual && actual > 0) fail(`the weights manifest declares ${declared.toLocaleString('en-US')} bytes of weights but the shards hold ${actual.toLocaleString('en-US')}; the files do not belong together or are damaged`);
  const shards = resolved.map((p) => readShard(folder, p));
  const data = new Uint8Array(shards.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of shards) { data.set(b, at); at += b.length; }
  return importTfjsArtifacts(json['modelTopology'], specs, data, json['format']);
}

/**
 * Import from in-memory artifacts (what TF.js's save handlers receive: the topology, the weight
 * specs and the concatenated weight bytes), e.g. a model saved with `tf.io.withSaveHandler`.
 * @example const { model } = importTfjsArtifacts(a.modelTopology, a.weightSpecs, new Uint8Array(a.weightData));
 */
export function importTfjsArtifacts(topology: unknown, weightSpecs: readonly TfjsWeightSpec[], weightData: Uint8Array, format?: unknown): ImportedTfjs {
  if (format !== undefined && format !== 'layers-model') {
    fail(`the model's format is '${String(format)}'; only TF.js layers models import (a 'graph-model' holds a TensorFlow graph, not layers: convert the original Keras model with --output_format tfjs_layers_model, or export ONNX)`);
  }
  const specs = weightSpecs.map((s, i) => checkSpec(s, `weight ${i}`));
  const declared = specs.reduce((n, s) => n + storedBytes(s), 0);
  if (declared !== weightData.length) fail(`the weight specs declare ${declared.toLocaleString('en-US')} bytes but ${weightData.length.toLocaleString('en-US')} were given`);
  const weights = decodeWeights(specs, weightData);
  const used = new Set<string>();
  const storage: Record<string, number> = {};
  for (const s of specs) { const k = s.quantization?.dtype ?? s.dtype; storage[k] = (storage[k] ?? 0) + 1; }

  const { layers, graph } = layerList(topology);
  let modules: TensorModule[] = [];
  let prefix = '';   // a graph node's child name + '.', so sources name the parameters as the model does
  const classes: string[] = [];
  const sources = new Map<string, string>();
  let shape: Shape | null = null;

  const lookup = (layer: string, v: string): Weight | undefined => {
    const w = weights.get(`${layer}/${v}`);
    if (w !== undefined) return w;
    const hits = [...weights.keys()].filter((k) => k.endsWith(`/${layer}/${v}`));
    return hits.length === 1 ? weights.get(hits[0]!) : undefined;
  };
  const weightOf = (layer: string, v: string, want: readonly number[]): Tensor => {
    const w = lookup(layer, v);
    if (w === undefined) fail(`layer '${layer}': its weight '${layer}/${v}' is not in the weights manifest`);
    if (w.spec.shape.length !== want.length || w.spec.shape.some((d, i) => d !== want[i])) {
      fail(`layer '${layer}': weight '${w.spec.name}' has shape [${w.spec.shape.join(', ')}], expected [${want.join(', ')}] from the layer's config and its input`);
    }
    used.add(w.spec.name);
    return new Tensor(w.values, 'float32', [...w.spec.shape]);
  };
  const push = (m: TensorModule, params: Record<string, string> = {}): void => {
    const idx = modules.length;
    modules.push(m);
    for (const [p, src] of Object.entries(params)) sources.set(`${prefix}${idx}.${p}`, src);
  };
  const activation = (act: unknown, layer: string): void => {
    if (act === undefined || act === null || act === 'linear') return;
    if (act === 'relu') push(new ReLU());
    else if (act === 'sigmoid') push(new Sigmoid());
    else if (act === 'tanh') push(new Tanh());
    else if (act === 'softmax') push(new Softmax(shape?.kind === 'image' ? 1 : -1));
    else if (act === 'relu6') push(new ClippedReLU(6));
    else fail(`layer '${layer}': activation '${String(act)}' is not supported (linear, relu, relu6, sigmoid, tanh, softmax)`);
  };
  const needImage = (layer: string, cls: string): { c: number; h: number; w: number } => {
    if (shape === null || shape.kind !== 'image') fail(`layer '${layer}' (${cls}) needs an image input (N, H, W, C); it gets ${shape === null ? 'an unknown shape' : `(N, ${shape.f})`}`);
    return shape;
  };

  const convert = (layer: Json, i: number): void => {
    const cls = String(layer['class_name']);
    const cfg = isObj(layer['config']) ? layer['config'] : fail(`layer ${i} (${cls}) has no config`);
    const name = typeof cfg['name'] === 'string' ? cfg['name'] : `layer_${i}`;
    if (shape === null) {
      const bis = cfg['batch_input_shape'] ?? cfg['batchInputShape'] ?? cfg['batch_shape'];
      if (!Array.isArray(bis) || bis.length < 2 || !bis.slice(1).every((d) => Number.isInteger(d) && (d as number) > 0)) {
        fail(`the first layer '${name}' declares no static input shape (batch_input_shape ${JSON.stringify(bis)}); a fixed input shape is needed`);
      }
      const dims = bis.slice(1) as number[];
      if (dims.length === 1) shape = { kind: 'flat', f: dims[0]! };
      else if (dims.length === 3) { shape = { kind: 'image', h: dims[0]!, w: dims[1]!, c: dims[2]! }; push(new Transpose([0, 3, 1, 2])); }
      else fail(`the input shape [${dims.join(', ')}] is not supported (a vector (F) or an image (H, W, C))`);
    }
    if (cfg['data_format'] === 'channels_first') fail(`layer '${name}' (${cls}) uses data_format channels_first; only channels_last (TF.js's default) is read`);
    if (cls !== 'InputLayer') classes.push(cls);
    switch (cls) {
      case 'InputLayer': break;
      case 'Dense': {
        const s = shape as Shape;
        if (s.kind !== 'flat') fail(`layer '${name}' (Dense) on an image (N, H, W, C) tensor is not supported; add a Flatten before it`);
        const units = cfg['units'];
        if (!Number.isInteger(units) || (units as number) < 1) fail(`layer '${name}': units must be a positive integer, got ${JSON.stringify(units)}`);
        const useBias = cfg['use_bias'] !== false;
        const lin = new Linear(s.f, units as number, { bias: useBias });
        const kernel = weightOf(name, 'kernel', [s.f, units as number]);
        noGrad(() => {
          ops.assign(lin.weight, ops.contiguous(ops.transpose(kernel, 0, 1)));
          if (useBias) ops.assign(lin.bias!, weightOf(name, 'bias', [units as number]));
        });
        push(lin, { weight: `${name}/kernel`, ...(useBias ? { bias: `${name}/bias` } : {}) });
        shape = { kind: 'flat', f: units as number };
        activation(cfg['activation'], name);
        break;
      }
      case 'Conv2D': case 'DepthwiseConv2D': case 'SeparableConv2D': {
        const s = needImage(name, cls);
        const depthwise = cls !== 'Conv2D';
        // TF.js's SeparableConv2D.getConfig leaves depth_multiplier out (tfjs-layers 4.x), so a saved
        // model.json lacks it: the depthwise kernel's last dim (kh, kw, C, M) says it then
        const stated = cfg['depth_multiplier'] ?? cfg['depthMultiplier'];
        const mult = !depthwise ? 1 : stated ?? (cls === 'SeparableConv2D' ? lookup(name, 'depthwise_kernel')?.spec.shape[3] : undefined) ?? 1;
        if (!Number.isInteger(mult) || (mult as number) < 1) fail(`layer '${name}': depth_multiplier must be a positive integer, got ${JSON.stringify(mult)}`);
        const filters = cls === 'DepthwiseConv2D' ? s.c * (mult as number) : cfg['filters'];
        if (!Number.isInteger(filters) || (filters as number) < 1) fail(`layer '${name}': filters must be a positive integer, got ${JSON.stringify(filters)}`);
        const [kh, kw] = pair2(cfg['kernel_size'], 'kernel_size', name);
        const [sh, sw] = pair2(cfg['strides'] ?? 1, 'strides', name);
        const [dh, dw] = pair2(cfg['dilation_rate'] ?? 1, 'dilation_rate', name);
        if (sh < 1 || sw < 1 || dh < 1 || dw < 1 || kh < 1 || kw < 1) fail(`layer '${name}': kernel, strides and dilation must be positive`);
        if ((cfg['groups'] ?? 1) !== 1) fail(`layer '${name}': grouped Conv2D (groups ${String(cfg['groups'])}) is not read; DepthwiseConv2D and SeparableConv2D are`);
        let ph: [number, number] = [0, 0], pw: [number, number] = [0, 0];
        if (cfg['padding'] === 'same') { ph = samePads(s.h, kh, sh, dh); pw = samePads(s.w, kw, sw, dw); }
        else if (cfg['padding'] !== 'valid' && cfg['padding'] !== undefined) fail(`layer '${name}': padding '${String(cfg['padding'])}' is not supported (valid, same)`);
        let h = s.h, w = s.w, pad: [number, number] = [ph[0], pw[0]];
        if (ph[0] !== ph[1] || pw[0] !== pw[1]) {   // TF puts the odd pixel after: pad explicitly, then convolve unpadded
          push(new ZeroPad2d([ph[0], ph[1], pw[0], pw[1]]));
          h += ph[0] + ph[1]; w += pw[0] + pw[1]; pad = [0, 0];
        }
        const useBias = cfg['use_bias'] !== false;
        const geo = { stride: [sh, sw] as [number, number], padding: pad, dilation: [dh, dw] as [number, number] };
        if (depthwise) {
          // depthwise kernel (kh, kw, C, M): output channel c*M + m reads input channel c, as our
          // groups = C convolution with weight (C*M, 1, kh, kw)
          const cm = s.c * (mult as number);
          const dconv = new Conv2d(s.c, cm, [kh, kw], { ...geo, groups: s.c, bias: cls === 'DepthwiseConv2D' && useBias });
          const dk = weightOf(name, 'depthwise_kernel', [kh, kw, s.c, mult as number]);
          noGrad(() => {
            ops.assign(dconv.weight, ops.reshape(ops.contiguous(ops.permute(ops.reshape(dk, [kh, kw, cm]), [2, 0, 1])), [cm, 1, kh, kw]));
            if (dconv.bias !== null) ops.assign(dconv.bias, weightOf(name, 'bias', [cm]));
          });
          push(dconv, { weight: `${name}/depthwise_kernel`, ...(dconv.bias !== null ? { bias: `${name}/bias` } : {}) });
          if (cls === 'SeparableConv2D') {
            // then the pointwise 1x1 convolution (1, 1, C*M, filters) with the layer's bias
            const pconv = new Conv2d(cm, filters as number, 1, { bias: useBias });
            const pk = weightOf(name, 'pointwise_kernel', [1, 1, cm, filters as number]);
            noGrad(() => {
              ops.assign(pconv.weight, ops.contiguous(ops.permute(pk, [3, 2, 0, 1])));
              if (useBias) ops.assign(pconv.bias!, weightOf(name, 'bias', [filters as number]));
            });
            push(pconv, { weight: `${name}/pointwise_kernel`, ...(useBias ? { bias: `${name}/bias` } : {}) });
          }
        } else {
          const conv = new Conv2d(s.c, filters as number, [kh, kw], { ...geo, bias: useBias });
          const kernel = weightOf(name, 'kernel', [kh, kw, s.c, filters as number]);
          noGrad(() => {
            ops.assign(conv.weight, ops.contiguous(ops.permute(kernel, [3, 2, 0, 1])));
            if (useBias) ops.assign(conv.bias!, weightOf(name, 'bias', [filters as number]));
          });
          push(conv, { weight: `${name}/kernel`, ...(useBias ? { bias: `${name}/bias` } : {}) });
        }
        const oh = Math.floor((h + 2 * pad[0] - dh * (kh - 1) - 1) / sh) + 1, ow = Math.floor((w + 2 * pad[1] - dw * (kw - 1) - 1) / sw) + 1;
        if (oh < 1 || ow < 1) fail(`layer '${name}': a ${kh}x${kw} kernel does not fit the ${s.h}x${s.w} input`);
        shape = { kind: 'image', c: filters as number, h: oh, w: ow };
        activation(cfg['activation'], name);
        break;
      }
      case 'MaxPooling2D': case 'AveragePooling2D': {
        const s = needImage(name, cls);
        const [kh, kw] = pair2(cfg['pool_size'] ?? 2, 'pool_size', name);
        const [sh, sw] = pair2(cfg['strides'] ?? [kh, kw], 'strides', name);
        if (kh < 1 || kw < 1 || sh < 1 || sw < 1) fail(`layer '${name}': pool_size and strides must be positive`);
        if (cfg['padding'] === 'same') {
          const ph = samePads(s.h, kh, sh, 1), pw = samePads(s.w, kw, sw, 1);
          if (ph[0] + ph[1] + pw[0] + pw[1] > 0) fail(`layer '${name}' (${cls}): padding 'same' that pads this ${s.h}x${s.w} input is not supported (TF pools over the valid pixels only); use 'valid' or an input size divisible by the strides`);
        }
        push(cls === 'MaxPooling2D' ? new MaxPool2d([kh, kw], { stride: [sh, sw] }) : new AvgPool2d([kh, kw], [sh, sw], [0, 0]));
        shape = { kind: 'image', c: s.c, h: Math.floor((s.h - kh) / sh) + 1, w: Math.floor((s.w - kw) / sw) + 1 };
        if (shape.h < 1 || shape.w < 1) fail(`layer '${name}': a ${kh}x${kw} window does not fit the ${s.h}x${s.w} input`);
        break;
      }
      case 'GlobalAveragePooling2D': case 'GlobalMaxPooling2D': {
        const s = needImage(name, cls);
        if (cfg['keepdims'] === true) fail(`layer '${name}': keepdims true is not supported`);
        push(cls === 'GlobalAveragePooling2D' ? new GlobalAvgPool2d() : new MaxPool2d([s.h, s.w]));
        push(new Flatten());
        shape = { kind: 'flat', f: s.c };
        break;
      }
      case 'Flatten': {
        const s = shape as Shape;
        if (s.kind === 'image') { push(new Transpose([0, 2, 3, 1])); push(new Flatten()); shape = { kind: 'flat', f: s.h * s.w * s.c }; }
        break;
      }
      case 'Reshape': {
        const t = cfg['target_shape'] ?? cfg['targetShape'];
        const s = shape as Shape;
        const size = s.kind === 'flat' ? s.f : s.h * s.w * s.c;
        if (!Array.isArray(t) || !t.every((d) => Number.isInteger(d) && (d as number) > 0) || numel(t as number[]) !== size) {
          fail(`layer '${name}' (Reshape): target_shape ${JSON.stringify(t)} must be positive integers holding the input's ${size} values`);
        }
        const dims = t as number[];
        if (s.kind === 'image') { push(new Transpose([0, 2, 3, 1])); }
        if (dims.length === 1) { push(new Reshape([0, dims[0]!])); shape = { kind: 'flat', f: dims[0]! }; }
        else if (dims.length === 3) { push(new Reshape([0, ...dims])); push(new Transpose([0, 3, 1, 2])); shape = { kind: 'image', h: dims[0]!, w: dims[1]!, c: dims[2]! }; }
        else fail(`layer '${name}' (Reshape): target_shape ${JSON.stringify(t)} must be (F) or (H, W, C)`);
        break;
      }
      case 'ZeroPadding2D': {
        const s = needImage(name, cls);
        const p = cfg['padding'];
        let pads: [number, number, number, number];
        if (Array.isArray(p) && p.length === 2 && Array.isArray(p[0])) {
          const [t, b] = pair2(p[0], 'padding', name), [l, r] = pair2(p[1], 'padding', name);
          pads = [t, b, l, r];
        } else { const [a, b] = pair2(p ?? 1, 'padding', name); pads = [a, a, b, b]; }
        push(new ZeroPad2d(pads));
        shape = { kind: 'image', c: s.c, h: s.h + pads[0] + pads[1], w: s.w + pads[2] + pads[3] };
        break;
      }
      case 'BatchNormalization': {
        const s = shape as Shape;
        const axis = Array.isArray(cfg['axis']) ? (cfg['axis'] as unknown[])[0] : cfg['axis'];
        const last = s.kind === 'image' ? 3 : 1;
        if (axis !== -1 && axis !== last) fail(`layer '${name}' (BatchNormalization): axis ${JSON.stringify(cfg['axis'])} is not supported; only the channel (last) axis`);
        const c = s.kind === 'image' ? s.c : s.f;
        const eps = typeof cfg['epsilon'] === 'number' ? cfg['epsilon'] : 1e-3;
        const gamma = cfg['scale'] === false ? ops.ones([c]) : weightOf(name, 'gamma', [c]);
        const beta = cfg['center'] === false ? ops.zeros([c]) : weightOf(name, 'beta', [c]);
        const bn = new FrozenBatchNorm(gamma, beta, weightOf(name, 'moving_mean', [c]), weightOf(name, 'moving_variance', [c]), eps);
        push(bn, {
          ...(cfg['scale'] === false ? {} : { weight: `${name}/gamma` }), ...(cfg['center'] === false ? {} : { bias: `${name}/beta` }),
          running_mean: `${name}/moving_mean`, running_var: `${name}/moving_variance`,
        });
        break;
      }
      case 'Activation': activation(cfg['activation'], name); break;
      case 'ReLU': {
        const max = cfg['max_value'] ?? cfg['maxValue'];
        if (max !== undefined && max !== null && !(typeof max === 'number' && max > 0)) fail(`layer '${name}' (ReLU): max_value ${JSON.stringify(max)} must be a positive number`);
        if (typeof cfg['negative_slope'] === 'number' && cfg['negative_slope'] !== 0) fail(`layer '${name}' (ReLU): negative_slope ${cfg['negative_slope']} (a leaky ReLU) is not supported`);
        if (typeof cfg['threshold'] === 'number' && cfg['threshold'] !== 0) fail(`layer '${name}' (ReLU): threshold ${cfg['threshold']} is not supported`);
        push(typeof max === 'number' ? new ClippedReLU(max) : new ReLU());
        break;
      }
      case 'Softmax': {
        const axis = cfg['axis'] ?? -1;
        if (axis !== -1 && axis !== (shape?.kind === 'image' ? 3 : 1)) fail(`layer '${name}' (Softmax): axis ${JSON.stringify(axis)} is not supported; only the last axis`);
        push(new Softmax(shape?.kind === 'image' ? 1 : -1));
        break;
      }
      case 'Dropout': case 'SpatialDropout2D': case 'GaussianDropout': case 'GaussianNoise': {
        const rate = typeof cfg['rate'] === 'number' ? cfg['rate'] : 0;
        push(cls === 'GaussianNoise' || cls === 'GaussianDropout' ? new Dropout(0) : new Dropout(rate));
        break;
      }
      default:
        fail(`layer '${name}' is a ${cls}, which is not supported; supported layers: ${TFJS_LAYERS.join(', ')}`);
    }
  };
  if (graph !== null) return importGraph(graph, layers, { convert, begin: (name, at) => { modules = []; prefix = `${name}.`; shape = at; }, end: () => ({ modules, shape: shape! }) }, weights, used, sources, classes, storage);
  for (const [i, layer] of layers.entries()) convert(layer, i);
  if (shape === null) fail('the model has no layers');
  return {
    model: new Sequential(...modules),
    inputShape: inputShapeOf(layers[0]!),
    layers: classes,
    sources,
    unusedWeights: [...weights.keys()].filter((k) => !used.has(k)),
    storage,
  };
}

/** The input shape (without the batch dim) an input layer declares. */
function inputShapeOf(layer: Json): number[] {
  const cfg = layer['config'] as Json;
  return ((cfg['batch_input_shape'] ?? cfg['batchInputShape'] ?? cfg['batch_shape']) as number[]).slice(1);
}

/** What importGraph needs from the layer converter of importTfjsArtifacts. */
interface NodeConverter {
  /** Converts one layer onto the current node's module list. */
  convert(layer: Json, i: number): void;
  /** Starts a node: its child name and its input's shape (null for an input layer). */
  begin(name: string, at: Shape | null): void;
  /** The node's modules and output shape. */
  end(): { modules: TensorModule[]; shape: Shape };
}

const MERGES: readonly string[] = ['Add', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate'];

/** The (layer name) inputs of a functional model's layer, from Keras' inbound_nodes [[[name, 0, 0, {}], ...]]. */
function inboundOf(layer: Json, name: string): string[] {
  const inbound = layer['inbound_nodes'];
  if (!Array.isArray(inbound) || inbound.length === 0) return [];
  if (inbound.length > 1) fail(`layer '${name}' is applied ${inbound.length} times (a shared layer); only layers used once import`);
  const node = inbound[0];
  if (!Array.isArray(node) || !node.every((e) => Array.isArray(e) && typeof e[0] === 'string')) fail(`layer '${name}': inbound_nodes is not in the Keras [[[layer, node, tensor, kwargs], ...]] form`);
  return (node as unknown[][]).map((e) => {
    if (e[1] !== 0 || e[2] !== 0) fail(`layer '${name}' reads output ${String(e[2])} of node ${String(e[1])} of '${String(e[0])}'; only single-use, single-output layers import`);
    return e[0] as string;
  });
}

/** A functional model with branches and merges as a TfjsGraph (one input, one output). */
function importGraph(config: Json, layers: readonly Json[], conv: NodeConverter, weights: ReadonlyMap<string, Weight>, used: ReadonlySet<string>,
  sources: Map<string, string>, classes: string[], storage: Record<string, number>): ImportedTfjs {
  const ends = (key: string): string[] => {
    const v = config[key];
    if (!Array.isArray(v) || !v.every((e) => Array.isArray(e) && typeof e[0] === 'string')) fail(`the functional model's ${key} is missing or malformed`);
    return (v as unknown[][]).map((e) => e[0] as string);
  };
  const inputs = ends('input_layers'), outputs = ends('output_layers');
  if (inputs.length !== 1 || outputs.length !== 1) fail(`the functional model has ${inputs.length} inputs (${inputs.join(', ')}) and ${outputs.length} outputs (${outputs.join(', ')}); only one input and one output import`);
  const shapes = new Map<string, Shape>();
  const nodes: TfjsNode[] = [];
  const children = new Map<string, Sequential>();
  const taken = new Set<string>();
  for (const [i, layer] of layers.entries()) {
    const cls = String(layer['class_name']);
    const cfg = isObj(layer['config']) ? layer['config'] : fail(`layer ${i} (${cls}) has no config`);
    const name = typeof cfg['name'] === 'string' ? cfg['name'] : fail(`layer ${i} (${cls}) has no name`);
    const from = inboundOf(layer, name);
    const missing = from.find((f) => !shapes.has(f));
    if (missing !== undefined) fail(`layer '${name}' reads '${missing}', which is not an earlier layer of the model (layers must be listed in order)`);
    const ins = from.map((f) => shapes.get(f)!);
    if (from.length === 0 && name !== inputs[0]) fail(`layer '${name}' (${cls}) has no inbound node but is not the model's input '${inputs[0]}'`);
    if (MERGES.includes(cls)) {
      classes.push(cls);
      if (from.length < 2) fail(`layer '${name}' (${cls}) merges ${from.length} input; a merge needs two or more`);
      const kinds = ins.map((t) => (t.kind === 'flat' ? `(N, ${t.f})` : `(N, ${t.h}, ${t.w}, ${t.c})`));
      let out = ins[0]!, axis = 1;
      if (cls === 'Concatenate') {
        const rank = ins[0]!.kind === 'flat' ? 2 : 4;
        const a = cfg['axis'] ?? -1;
        if (a !== -1 && a !== rank - 1) fail(`layer '${name}' (Concatenate): axis ${JSON.stringify(a)} is not supported; only the last (channel) axis`);
        const t0 = ins[0]!;
        if (!ins.every((t) => t.kind === t0.kind && (t.kind === 'flat' || (t0.kind === 'image' && t.h === t0.h && t.w === t0.w)))) fail(`layer '${name}' (Concatenate): inputs ${kinds.join(', ')} differ in more than the last axis`);
        out = t0.kind === 'flat' ? { kind: 'flat', f: ins.reduce((n, t) => n + (t as { f: number }).f, 0) } : { ...t0, c: ins.reduce((n, t) => n + (t as { c: number }).c, 0) };
      } else {
        if (!kinds.every((k) => k === kinds[0])) fail(`layer '${name}' (${cls}): inputs ${kinds.join(', ')} differ; only equal shapes merge (no broadcasting)`);
        axis = 0;
      }
      nodes.push({ name, inputs: from, merge: cls as TfjsMerge, axis, child: null });
      shapes.set(name, out);
      continue;
    }
    if (from.length > 1) fail(`layer '${name}' (${cls}) reads ${from.length} inputs; only the merges ${MERGES.join(', ')} take several`);
    let child = name.replace(/[^A-Za-z0-9_]/g, '_');
    while (taken.has(child)) child += '_';
    taken.add(child);
    conv.begin(child, from.length === 0 ? null : ins[0]!);
    conv.convert(layer, i);
    const done = conv.end();
    shapes.set(name, done.shape);
    if (done.modules.length > 0) children.set(child, new Sequential(...done.modules));
    nodes.push({ name, inputs: from, merge: null, axis: 0, child: done.modules.length > 0 ? child : null });
  }
  if (!shapes.has(outputs[0]!)) fail(`the output layer '${outputs[0]}' is not among the model's layers`);
  const inputLayer = layers.find((l) => isObj(l['config']) && (l['config'] as Json)['name'] === inputs[0]);
  if (inputLayer === undefined) fail(`the input layer '${inputs[0]}' is not among the model's layers`);
  return {
    model: new TfjsGraph(nodes, children, outputs[0]!),
    inputShape: inputShapeOf(inputLayer!),
    layers: classes,
    sources,
    unusedWeights: [...weights.keys()].filter((k) => !used.has(k)),
    storage,
  };
}
