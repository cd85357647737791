// Quantized checkpoints: a quantized model saved as safetensors with int8 weights (I8), float32
// per-channel scales, int32 zero points and float32 biases, named after PyTorch's quantized state
// dicts (`fc._packed_params.weight`, `fc.scale`, `fc.zero_point`), plus the float parameters and
// buffers of the layers that stayed float. A `tensorslim.quantized` metadata entry (JSON) says which
// layers are quantized and how, so loadQuantized can rebuild them on a fresh float model of the same
// architecture. The container is io/safetensors.ts's (int8 weights travel as RawTensors, since the
// core Tensor has no int8 dtype); reading goes through parseSafetensors, which validates the file.
//
// A pruned layer's weight is smaller coded (weight_coding.ts): `_packed_params.weight_codes` (U8
// bit stream of relative positions and 8-bit values) instead of `_packed_params.weight`; a
// weight-shared layer (sharing.ts) codes cluster indices and adds `_packed_params.weight_codebook`
// (F32). saveQuantized picks, per layer, the smaller of dense and coded (format 2 in the metadata
// when any layer is coded; format 1 files, all dense, load as before). A coded weight's gaps and
// codes may be Huffman-coded (huffman.ts; `"entropy": "huffman"` in its metadata entry, tables
// `_packed_params.weight_gap_lengths` and `weight_code_lengths`, U8) when that file is smaller.
//
// Format 4 (what this build writes) is compact: a symmetric weight (every zero point 0) stores no
// `weight_zero_points` tensor (an affine one does, and its entry says `weightZeroPoints: true`), a
// static layer's input qparams sit in its entry (`input: [scale, zeroPoint]`), and entries leave
// their defaults out (compactInfo / expandInfo). Formats 1-3 load as before. A dynamic Conv2d
// (DynamicQuantizedConv2d) is the entry kind 'dynamicConv', stored like a static conv's weight.
//
// A weight-only layer (weight_only.ts, the GPT's int8 / grouped int4 Linears; format 3) stores
// `qweight` (I8 (N, K) for int8; U8 (N, K/2) for int4, two columns per byte, low nibble first),
// `scales` (F32 (N, K/G)), for the affine scheme `qzeros` (I8 or U8 (N, K/G)), and `bias` (F32):
// GPTQ's tensor names, our layout (backend/weight_only.ts). The float tensors of the rest of the
// model may be stored as BF16 (floatDType), which loading upcasts to float32.

import { linkInt8Layers } from './int8_flow.js';
import { Tensor } from '../../core/tensor.js';
import { TensorslimError } from '../../core/errors.js';
import type { AnyModule } from '../../nn/module.js';
import { Identity, Linear } from '../../nn/linear.js';
import { ReLU } from '../../nn/activation.js';
import { Sequential } from '../../nn/container.js';
import { Conv2d } from '../../nn/conv.js';
import { DynamicQuantizedConv2d, QuantizedConv2d, type Conv2dParams } from './conv.js';
import { bf16Tensor, parseSafetensors, serializeSafetensors, type RawTensor, type SafetensorsMetadata } from '../../io/safetensors.js';
import { WeightOnlyEmbedding, WeightOnlyLinear, checkWeightOnly } from './weight_only.js';
import type { WeightOnlyWeight } from '../../backend/weight_only.js';
import { Embedding } from '../../nn/embedding.js';
import { writeFileAtomic, readFileBytes } from '../../io/files.js';
import { QuantizedTensor } from './qtensor.js';
import { DynamicQuantizedLinear, QuantizedLinear, QuantizedLinearBase, type ActivationQParams } from './modules.js';
import { decodeWeight, encodeWeight, weightFromCodes, type CodedWeight } from './weight_coding.js';
import { decodeWeightHuffman, encodeWeightHuffman, type HuffmanCodedWeight } from './huffman.js';
import { attachSharedWeight, isQuantizedLayer, sharedWeightOf, type QuantizedLayer } from './sharing.js';

/** The metadata key holding the quantized layers' description. */
export const QUANTIZED_METADATA_KEY = 'tensorslim.quantized';
/**
 * The newest format this build writes and reads (1: every weight dense; 2: coded weights; 3: weight-only
 * layers; 4: compact: no zero-point tensor for symmetric weights, defaults left out of the layer entries).
 */
const FORMAT = 4;

/** How a layer's int8 weight is stored (absent: dense `_packed_params.weight`). */
interface WeightStorage {
  storage: 'coded' | 'shared';
  /** 'huffman': gaps and codes Huffman-coded (huffman.ts), with `weight_gap_lengths` / `weight_code_lengths` tables. */
  entropy?: 'huffman';
  gapBits: number;
  codeBits: number;
  count: number;
}

interface LayerInfo {
  /** weightOnlyEmbedding: an Embedding (inFeatures = embedding dim, outFeatures = table rows). */
  kind: 'dynamic' | 'dynamicConv' | 'static' | 'staticConv' | 'weightOnly' | 'weightOnlyEmbedding';
  /** weightOnly: the layer reads the quantized table of this (earlier) layer, stored once (a tied LM head). */
  tiedTo?: string;
  /** weightOnly: 4 or 8, the group size along K and the scheme. */
  bits?: 4 | 8;
  groupSize?: number;
  scheme?: 'symmetric' | 'affine';
  conv?: Conv2dParams;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  reduceRange?: boolean;
  relu?: boolean;
  inputDType?: 'quint8' | 'qint8';
  outputDType?: 'quint8' | 'qint8';
  /** Static layers, format 4: the input scale (float32, shortest decimal) and zero point (formats 1-3: `input_scale` / `input_zero_point` tensors). */
  input?: [number, number];
  /** Format 4: the weight has nonzero zero points, stored as `_packed_params.weight_zero_points` (absent: all 0, symmetric). */
  weightZeroPoints?: true;
  weight?: WeightStorage;
}

/** The shortest decimal that reads back as float32 `x` (9 significant digits always do). */
function shortestFloat32(x: number): number {
  for (let p = 1; p < 9; p++) { const v = Number(x.toPrecision(p)); if (Math.fround(v) === x) return v; }
  return Number(x.toPrecision(9));
}

const same = (a: readonly number[] | undefined, b: readonly number[]): boolean => a !== undefined && a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * A layer entry as format 4 writes it: the defaults left out (bias true, relu and reduceRange false,
 * quint8 activations, stride 1, padding 0, dilation 1) and the conv's channels (= in/outFeatures).
 */
function compactInfo(info: LayerInfo): Record<string, unknown> {
  const { bias, relu, reduceRange, inputDType, outputDType, conv, ...rest } = info;
  const o: Record<string, unknown> = { ...rest };
  if (!bias) o['bias'] = false;
  if (relu === true) o['relu'] = true;
  if (reduceRange === true) o['reduceRange'] = true;
  if (inputDType !== undefined && inputDType !== 'quint8') o['inputDType'] = inputDType;
  if (outputDType !== undefined && outputDType !== 'quint8') o['outputDType'] = outputDType;
  if (conv !== undefined) {
    o['conv'] = {
      kernelSize: conv.kernelSize, ...(same(conv.stride, [1, 1]) ? {} : { stride: conv.stride }),
      ...(same(conv.padding, [0, 0]) ? {} : { padding: conv.padding }), ...(same(conv.dilation, [1, 1]) ? {} : { dilation: conv.dilation }),
    };
  }
  return o;
}

/** A format-4 layer entry with its defaults filled in (the inverse of compactInfo). */
function expandInfo(entry: unknown): LayerInfo {
  if (typeof entry !== 'object' || entry === null) throw new Error('a layer entry is not an object');
  const e = entry as Partial<LayerInfo> & { conv?: Partial<Conv2dParams> };
  const info: LayerInfo = { ...e, bias: e.bias !== false } as LayerInfo;
  if (e.kind === 'static' || e.kind === 'staticConv') {
    info.relu = e.relu === true;
    info.inputDType = e.inputDType ?? 'quint8';
    info.outputDType = e.outputDType ?? 'quint8';
  }
  if (e.kind === 'dynamic' || e.kind === 'dynamicConv') info.reduceRange = e.reduceRange === true;
  if ((e.kind === 'staticConv' || e.kind === 'dynamicConv') && typeof e.conv === 'object' && e.conv !== null) {
    const c = e.conv;
    info.conv = {
      inChannels: e.inFeatures!, outChannels: e.outFeatures!, kernelSize: c.kernelSize!,
      stride: c.stride ?? [1, 1], padding: c.padding ?? [0, 0], dilation: c.dilation ?? [1, 1],
    };
  }
  return info;
}

/** `p.suffix`, or just `suffix` for the root module. */
const key = (p: string, suffix: string): string => (p === '' ? suffix : `${p}.${suffix}`);

const f32 = (a: Float32Array, shape: number[] = [a.length]): Tensor => new Tensor(a, 'float32', shape);
const i32 = (a: Int32Array, shape: number[] = [a.length]): Tensor => new Tensor(a, 'int32', shape);

/** Bytes a safetensors header entry costs, about (name, dtype, shape, offsets as JSON). */
const ENTRY_BYTES = 96;

/**
 * The weight's coded form when it is smaller than the dense I8 (or the layer is weight-shared):
 * fixed-width entries or Huffman-coded ones (Deep Compression's third stage), whichever file is smaller.
 */
function codedWeight(m: QuantizedLayer): { coded: CodedWeight | HuffmanCodedWeight; codebook: Float32Array | null } | null {
  const w = m.weight;
  const shared = sharedWeightOf(m);
  let positions: ArrayLike<number>, codes: ArrayLike<number>, codeBits: number;
  if (shared !== undefined) {
    codeBits = Math.max(1, Math.ceil(Math.log2(shared.codebook.length)));
    positions = shared.positions; codes = shared.codes;
  } else {
    const cols = w.data.length / Math.max(1, w.shape[0]!);
    const p: number[] = [], c: number[] = [];
    for (let i = 0; i < w.data.length; i++) if (w.data[i] !== w.zeroPoints[Math.floor(i / cols)]) { p.push(i); c.push(w.data[i]! + 128); }
    positions = p; codes = c; codeBits = 8;
  }
  const fixed = encodeWeight(positions, codes, codeBits);
  const huff = codeBits <= 8 ? encodeWeightHuffman(positions, codes, codeBits) : null;
  const huffBytes = huff === null ? Infinity : huff.stream.length + huff.gapLengths.length + huff.codeLengths.length + 2 * ENTRY_BYTES;
  const coded = huffBytes < fixed.stream.length ? huff! : fixed;
  const codedBytes = Math.min(huffBytes, fixed.stream.length);
  if (shared === undefined && codedBytes >= w.data.length) return null;
  return { coded, codebook: shared?.codebook ?? null };
}

function quantEntries(p: string, m: QuantizedLayer, out: Map<string, Tensor | RawTensor>): WeightStorage | undefined {
  const w = m.weight;
  const c = codedWeight(m);
  let storage: WeightStorage | undefined;
  if (c === null) out.set(key(p, '_packed_params.weight'), { dtype: 'I8', shape: [...w.shape], data: w.data as Int8Array });
  else {
    out.set(key(p, '_packed_params.weight_codes'), { dtype: 'U8', shape: [c.coded.stream.length], data: c.coded.stream });
    if (c.codebook !== null) out.set(key(p, '_packed_params.weight_codebook'), f32(c.codebook));
    storage = { storage: c.codebook === null ? 'coded' : 'shared', gapBits: c.coded.gapBits, codeBits: c.coded.codeBits, count: c.coded.count };
    if ('gapLengths' in c.coded) {
      out.set(key(p, '_packed_params.weight_gap_lengths'), { dtype: 'U8', shape: [c.coded.gapLengths.length], data: c.coded.gapLengths });
      out.set(key(p, '_packed_params.weight_code_lengths'), { dtype: 'U8', shape: [c.coded.codeLengths.length], data: c.coded.codeLengths });
      storage.entropy = 'huffman';
    }
  }
  out.set(key(p, '_packed_params.weight_scales'), f32(w.scales));
  // symmetric weights (every zero point 0, the default) store no zero-point tensor (format 4)
  if (w.zeroPoints.some((z) => z !== 0)) out.set(key(p, '_packed_params.weight_zero_points'), i32(w.zeroPoints));
  if (m.bias !== null) out.set(key(p, '_packed_params.bias'), f32(m.bias));
  if (m instanceof QuantizedLinear || m instanceof QuantizedConv2d) {
    out.set(key(p, 'scale'), f32(Float32Array.of(m.output.scale), []));
    out.set(key(p, 'zero_point'), i32(Int32Array.of(m.output.zeroPoint), []));
  }
  return storage;
}

const inputOf = (m: QuantizedLinear | QuantizedConv2d): [number, number] => [shortestFloat32(m.input.scale), m.input.zeroPoint];

function quantizedLayers(model: AnyModule): [string, QuantizedLayer][] {
  return model.namedModules().filter((e): e is [string, QuantizedLayer] => isQuantizedLayer(e[1]));
}

/** Options of serializeQuantized / saveQuantized. */
export interface SaveQuantizedOptions {
  /** More `__metadata__` entries (e.g. a checkpoint's, so `loadCheckpoint` reads the file's config). */
  metadata?: SafetensorsMetadata;
  /** 'BF16': the float parameters and buffers of the layers that stay float are stored as bfloat16 (scales and biases of quantized layers stay F32). Default 'F32'. */
  floatDType?: 'F32' | 'BF16';
}

function weightOnlyEntries(p: string, m: WeightOnlyLinear | WeightOnlyEmbedding, out: Map<string, Tensor | RawTensor>): void {
  const w = m.weight, nG = w.cols / w.groupSize;
  out.set(key(p, 'qweight'), w.bits === 8 ? { dtype: 'I8', shape: [w.rows, w.cols], data: w.data as Int8Array } : { dtype: 'U8', shape: [w.rows, w.cols / 2], data: w.data as Uint8Array });
  out.set(key(p, 'scales'), f32(w.scales, [w.rows, nG]));
  if (m.scheme === 'affine') out.set(key(p, 'qzeros'), w.bits === 8 ? { dtype: 'I8', shape: [w.rows, nG], data: Int8Array.from(w.zeroPoints) } : { dtype: 'U8', shape: [w.rows, nG], data: Uint8Array.from(w.zeroPoints) });
  if (m instanceof WeightOnlyLinear && m.bias !== null) out.set(key(p, 'bias'), f32(m.bias));
}

function buildWeightOnly(op: string, p: string, info: LayerInfo, tensors: Map<string, Tensor>, raw: Map<string, RawTensor>, built: ReadonlyMap<string, WeightOnlyLinear | WeightOnlyEmbedding>): { layer: WeightOnlyLinear | WeightOnlyEmbedding; used: string[] } {
  const { inFeatures: K, outFeatures: N } = info;
  const bits = info.bits, G = info.groupSize, scheme = info.scheme;
  if ((bits !== 4 && bits !== 8) || typeof G !== 'number' || !(G >= 1) || K % G !== 0 || (scheme !== 'symmetric' && scheme !== 'affine')) {
    throw new TensorslimError(op, `weight-only entry has bits ${String(bits)}, group size ${String(G)}, scheme ${String(scheme)} for ${K} inputs (corrupt metadata)`);
  }
  const nG = K / G;
  const used: string[] = [];
  const biasOf = (): Float32Array | null => (info.bias ? Float32Array.from((used.push(key(p, 'bias')), need(op, tensors, key(p, 'bias'), [N])).dataSync()) : null);
  if (info.tiedTo !== undefined) {
    const src = built.get(info.tiedTo);
    if (info.kind !== 'weightOnly' || src === undefined) throw new TensorslimError(op, `tied to '${String(info.tiedTo)}', which is not a weight-only layer stored before it (corrupt metadata)`);
    const w = src.weight;
    if (w.rows !== N || w.cols !== K || w.bits !== bits || w.groupSize !== G || src.scheme !== scheme) {
      throw new TensorslimError(op, `tied to '${info.tiedTo}' (${w.rows} x ${w.cols}, int${w.bits} g${w.groupSize} ${src.scheme}) but described as ${N} x ${K}, int${bits} g${G} ${scheme} (corrupt metadata)`);
    }
    return { layer: new WeightOnlyLinear(w, biasOf(), scheme), used };
  }
  const ints = (name: string, shape: number[], dtype: 'I8' | 'U8'): Int8Array | Uint8Array => {
    const r = raw.get(name), t = tensors.get(name);
    const found = r !== undefined ? r : t;
    if (found === undefined) throw new TensorslimError(op, `the file lacks '${name}'`);
    if (found.shape.length !== 2 || found.shape[0] !== shape[0] || found.shape[1] !== shape[1]) throw new TensorslimError(op, `'${name}' has shape [${found.shape.join(', ')}], expected [${shape.join(', ')}]`);
    used.push(name);
    if (dtype === 'I8' && r !== undefined && r.dtype === 'I8') return Int8Array.from(r.data as Int8Array);
    if (dtype === 'U8' && t !== undefined && t.dtype === 'uint8') return Uint8Array.from(t.dataSync() as Uint8Array);
    throw new TensorslimError(op, `'${name}' must be stored as ${dtype}`);
  };
  const dtype = bits === 8 ? 'I8' : 'U8';
  const data = ints(key(p, 'qweight'), [N, bits === 8 ? K : K / 2], dtype);
  const sName = key(p, 'scales');
  used.push(sName);
  const scales = Float32Array.from(need(op, tensors, sName, [N, nG]).dataSync());
  const zeroPoints = scheme === 'affine' ? Int32Array.from(ints(key(p, 'qzeros'), [N, nG], dtype)) : new Int32Array(N * nG).fill(bits === 8 ? 0 : 8);
  const w = { bits, rows: N, cols: K, groupSize: G, data, scales, zeroPoints };
  checkWeightOnly(op, w);
  if (info.kind === 'weightOnlyEmbedding') return { layer: new WeightOnlyEmbedding(w, scheme), used };
  return { layer: new WeightOnlyLinear(w, biasOf(), scheme), used };
}

/**
 * The safetensors bytes of a quantized model (see the file header for the layout).
 * @example const bytes = serializeQuantized(quantizeDynamic(model));
 */
export function serializeQuantized(model: AnyModule, opts: SaveQuantizedOptions = {}): Uint8Array {
  const op = 'serializeQuantized';
  const layers = quantizedLayers(model);
  // tables first, so a tied Linear comes after the layer whose quantized weight it reads
  const weightOnly = [
    ...model.namedModules().filter((e): e is [string, WeightOnlyEmbedding] => e[1] instanceof WeightOnlyEmbedding),
    ...model.namedModules().filter((e): e is [string, WeightOnlyLinear] => e[1] instanceof WeightOnlyLinear),
  ];
  if (layers.length === 0 && weightOnly.length === 0) throw new TensorslimError(op, 'the model has no quantized layers; run quantizeDynamic, convertStatic, convertQat or quantizeWeightOnly first (or save it with saveSafetensors)');
  const info: Record<string, LayerInfo> = {};
  const tensors = new Map<string, Tensor | RawTensor>();
  const storedAt = new Map<WeightOnlyWeight, string>();   // a weight-only weight shared by two layers is stored once
  for (const [p, m] of weightOnly) {
    const w = m.weight;
    const emb = m instanceof WeightOnlyEmbedding;
    const first = storedAt.get(w);
    info[p] = {
      kind: emb ? 'weightOnlyEmbedding' : 'weightOnly', inFeatures: w.cols, outFeatures: w.rows, bias: !emb && m.bias !== null,
      bits: w.bits, groupSize: w.groupSize, scheme: m.scheme, ...(first !== undefined ? { tiedTo: first } : {}),
    };
    if (first === undefined) { weightOnlyEntries(p, m, tensors); storedAt.set(w, p); }
    else if (!emb && m.bias !== null) tensors.set(key(p, 'bias'), f32(m.bias));
  }
  for (const [p, m] of layers) {
    if (m instanceof QuantizedConv2d) {
      const c = m.conv;
      info[p] = { kind: 'staticConv', inFeatures: c.inChannels, outFeatures: c.outChannels, bias: m.bias !== null, conv: c, relu: m.relu, inputDType: m.input.dtype, outputDType: m.output.dtype, input: inputOf(m) };
    } else if (m instanceof DynamicQuantizedConv2d) {
      const c = m.conv;
      info[p] = { kind: 'dynamicConv', inFeatures: c.inChannels, outFeatures: c.outChannels, bias: m.bias !== null, conv: c, reduceRange: m.reduceRange };
    } else {
      const base = { inFeatures: m.inFeatures, outFeatures: m.outFeatures, bias: m.bias !== null };
      if (m instanceof DynamicQuantizedLinear) info[p] = { kind: 'dynamic', ...base, reduceRange: m.reduceRange };
      else if (m instanceof QuantizedLinear) info[p] = { kind: 'static', ...base, relu: m.relu, inputDType: m.input.dtype, outputDType: m.output.dtype, input: inputOf(m) };
      else throw new TensorslimError(op, `layer '${p}' (${(m as AnyModule).constructor.name}) has no checkpoint format`);
    }
    if (m.weight.zeroPoints.some((z) => z !== 0)) info[p]!.weightZeroPoints = true;
    const storage = quantEntries(p, m, tensors);
    if (storage !== undefined) info[p]!.weight = storage;
  }
  const bf16 = opts.floatDType === 'BF16';
  if (opts.floatDType !== undefined && opts.floatDType !== 'F32' && !bf16) throw new TensorslimError(op, `floatDType must be 'F32' or 'BF16', got '${String(opts.floatDType)}'`);
  const firstName = new Map<Tensor, string>();
  const tied: Record<string, string> = {};   // a parameter shared by two modules (a float tied LM head) is stored once
  const live = model.stateDict({ keepVars: true });   // the parameter objects themselves, to see ties
  for (const [k, t] of model.stateDict()) {
    if (tensors.has(k)) throw new TensorslimError(op, `two tensors named '${k}'`);
    const first = firstName.get(live.get(k)!);
    if (first !== undefined) { tied[k] = first; continue; }
    firstName.set(live.get(k)!, k);
    tensors.set(k, bf16 && (t.dtype === 'float32' || t.dtype === 'float64') ? bf16Tensor(t) : t);
  }
  const entries = Object.fromEntries(Object.entries(info).map(([p, l]) => [p, compactInfo(l)]));
  const described = Object.keys(tied).length > 0 ? { format: FORMAT, layers: entries, tied } : { format: FORMAT, layers: entries };
  const metadata: SafetensorsMetadata = { format: 'pt', ...opts.metadata, [QUANTIZED_METADATA_KEY]: JSON.stringify(described) };
  return serializeSafetensors(tensors, metadata);
}

/**
 * Save a quantized model atomically; returns the bytes written (about 0.25x the float32 file for
 * Linear-heavy models: 1 byte per weight plus a float32 scale per output channel, and its int32
 * zero point only for affine weights).
 * @example saveQuantized('mlp-int8.safetensors', quantizeDynamic(model));
 */
export function saveQuantized(path: string, model: AnyModule, opts: SaveQuantizedOptions = {}): number {
  const bytes = serializeQuantized(model, opts);
  writeFileAtomic(path, bytes, 'saveQuantized');
  return bytes.length;
}

function need(op: string, tensors: Map<string, Tensor>, name: string, shape: readonly number[]): Tensor {
  const t = tensors.get(name);
  if (t === undefined) throw new TensorslimError(op, `the file lacks '${name}'`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new TensorslimError(op, `'${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
  }
  return t;
}

function build(op: string, p: string, info: LayerInfo, tensors: Map<string, Tensor>, raw: Map<string, RawTensor>, format: number): { layer: QuantizedLayer; used: string[] } {
  const { inFeatures: K, outFeatures: N } = info;
  const c = info.conv;
  const isConv = info.kind === 'staticConv' || info.kind === 'dynamicConv';
  if (isConv && c === undefined) throw new TensorslimError(op, 'a quantized Conv2d entry lacks its geometry');
  const wShape = isConv ? [N, K, c!.kernelSize[0], c!.kernelSize[1]] : [N, K];
  const used: string[] = [];
  const take = (name: string, shape: readonly number[]): Tensor => { used.push(name); return need(op, tensors, name, shape); };
  const scales = Float32Array.from(take(key(p, '_packed_params.weight_scales'), [N]).dataSync());
  // format 4 leaves the zero points of a symmetric weight out (all 0); older files always hold them
  const zpName = key(p, '_packed_params.weight_zero_points');
  const zps = format >= 4 && info.weightZeroPoints !== true ? new Int32Array(N) : Int32Array.from(take(zpName, [N]).dataSync());
  const size = wShape.reduce((a, b) => a * b, 1);
  let data: Int8Array;
  let shared: { codebook: Float32Array; positions: Int32Array; codes: Int32Array } | null = null;
  const st = info.weight;
  if (st === undefined) {
    const wName = key(p, '_packed_params.weight');
    const w = raw.get(wName);
    if (w === undefined) throw new TensorslimError(op, tensors.has(wName) ? `'${wName}' must be stored as I8, found another dtype` : `the file lacks '${wName}'`);
    if (w.shape.length !== wShape.length || w.shape.some((d, i) => d !== wShape[i])) throw new TensorslimError(op, `'${wName}' has shape [${w.shape.join(', ')}], expected [${wShape.join(', ')}]`);
    used.push(wName);
    data = w.data as Int8Array;
  } else {
    if (st.storage !== 'coded' && st.storage !== 'shared') throw new TensorslimError(op, `unknown weight storage '${String(st.storage)}'`);
    const cName = key(p, '_packed_params.weight_codes');
    const stream = tensors.get(cName);
    if (stream === undefined || stream.dtype !== 'uint8' || stream.ndim !== 1) throw new TensorslimError(op, `the file lacks '${cName}' (a 1-D U8 bit stream)`);
    used.push(cName);
    const coded = { stream: stream.dataSync() as Uint8Array, gapBits: st.gapBits, codeBits: st.codeBits, count: st.count };
    let decoded: { positions: Int32Array; codes: Int32Array };
    if (st.entropy === 'huffman') {
      const table = (suffix: string): Uint8Array => {
        const n = key(p, `_packed_params.${suffix}`), t = tensors.get(n);
        if (t === undefined || t.dtype !== 'uint8' || t.ndim !== 1) throw new TensorslimError(op, `the file lacks '${n}' (a 1-D U8 table of Huffman code lengths)`);
        used.push(n);
        return t.dataSync() as Uint8Array;
      };
      decoded = decodeWeightHuffman({ ...coded, gapLengths: table('weight_gap_lengths'), codeLengths: table('weight_code_lengths') }, size, cName);
    } else if (st.entropy !== undefined) throw new TensorslimError(op, `unknown weight entropy coding '${String(st.entropy)}'`);
    else decoded = decodeWeight(coded, size, cName);
    const qp = { rows: N, cols: size / Math.max(1, N), scales, zeroPoints: zps };
    if (st.storage === 'shared') {
      const bName = key(p, '_packed_params.weight_codebook');
      const book = tensors.get(bName);
      if (book === undefined || book.ndim !== 1 || book.dtype !== 'float32') throw new TensorslimError(op, `the file lacks '${bName}' (a 1-D F32 codebook)`);
      used.push(bName);
      const codebook = Float32Array.from(book.dataSync());
      if (!codebook.every(Number.isFinite)) throw new TensorslimError(op, `'${bName}' holds non-finite values (corrupt file)`);
      data = weightFromCodes(decoded, qp, codebook, cName);
      shared = { codebook, ...decoded };
    } else {
      data = weightFromCodes(decoded, qp, null, cName);
    }
  }
  const bias = info.bias ? Float32Array.from(take(key(p, '_packed_params.bias'), [N]).dataSync()) : null;
  const qw = new QuantizedTensor({ dtype: 'qint8', shape: wShape, data: Int8Array.from(data), scales, zeroPoints: zps, axis: 0 });
  let layer: QuantizedLayer;
  if (info.kind === 'dynamic') layer = new DynamicQuantizedLinear(qw, bias, { reduceRange: info.reduceRange === true });
  else if (info.kind === 'dynamicConv') layer = new DynamicQuantizedConv2d(c!, qw, bias, { reduceRange: info.reduceRange === true });
  else {
    const act = (s: string, z: string, dtype: 'quint8' | 'qint8' | undefined): ActivationQParams => ({
      dtype: dtype === 'qint8' ? 'qint8' : 'quint8', scale: take(s, []).item(), zeroPoint: take(z, []).item(),
    });
    const input = format >= 4 ? storedInput(info) : act(key(p, 'input_scale'), key(p, 'input_zero_point'), info.inputDType);
    const output = act(key(p, 'scale'), key(p, 'zero_point'), info.outputDType);
    layer = info.kind === 'staticConv'
      ? new QuantizedConv2d(c!, qw, bias, input, output, info.relu === true)
      : new QuantizedLinear(qw, bias, input, output, info.relu === true);
  }
  if (shared !== null) attachSharedWeight(layer, shared);
  return { layer, used };
}

/** A format-4 static layer's input qparams from its metadata entry, checked. */
function storedInput(info: LayerInfo): ActivationQParams {
  const dtype = info.inputDType === 'qint8' ? 'qint8' : 'quint8';
  const [lo, hi] = dtype === 'qint8' ? [-128, 127] : [0, 255];
  const q = info.input;
  if (!Array.isArray(q) || q.length !== 2 || typeof q[0] !== 'number' || !Number.isInteger(q[1]) || q[1] < lo || q[1] > hi) {
    throw new Error(`the metadata entry's input qparams are ${JSON.stringify(q)}, expected [float32 scale, ${dtype} zero point in ${lo}..${hi}] (corrupt metadata)`);
  }
  return { dtype, scale: Math.fround(q[0]), zeroPoint: q[1] };   // checkScale (in the layer's constructor) refuses 0, NaN, negatives
}

/**
 * Load a quantized checkpoint into `model`, a float model of the same architecture (as built
 * before quantization): its quantized layers are rebuilt bit for bit and swapped in, the other
 * parameters and buffers loaded. Everything is checked before anything changes, so a corrupt or
 * mismatched file leaves the model as it was. Returns the model (or the replacement when the model
 * itself is the quantized Linear).
 * @example const q = loadQuantized(buildModel(), readFileSync('mlp-int8.safetensors'));
 */
export function loadQuantized<M extends AnyModule>(model: M, source: Uint8Array | string): M | QuantizedLinearBase | QuantizedConv2d | WeightOnlyLinear | WeightOnlyEmbedding {
  const op = typeof source === 'string' ? `loadQuantized('${source}')` : 'loadQuantized';
  const bytes = typeof source === 'string' ? readFileBytes(source, op) : source;
  const { tensors, metadata, raw } = parseSafetensors(bytes, { op, raw: ['I8'] });
  const described = metadata[QUANTIZED_METADATA_KEY];
  if (described === undefined) throw new TensorslimError(op, `not a quantized checkpoint: no '${QUANTIZED_METADATA_KEY}' metadata (a float checkpoint loads with loadSafetensors)`);
  let layers: Record<string, LayerInfo>;
  let tied: Record<string, string>;
  let format: number;
  try {
    const parsed = JSON.parse(described) as { format?: unknown; layers?: unknown; tied?: unknown };
    format = parsed.format as number;
    if (![1, 2, 3, FORMAT].includes(format) || typeof parsed.layers !== 'object' || parsed.layers === null) throw new Error(`format ${String(parsed.format)}`);
    layers = format >= 4
      ? Object.fromEntries(Object.entries(parsed.layers).map(([p, e]) => [p, expandInfo(e)]))
      : parsed.layers as Record<string, LayerInfo>;
    tied = (parsed.tied ?? {}) as Record<string, string>;
    if (typeof tied !== 'object' || tied === null || Object.values(tied).some((v) => typeof v !== 'string')) throw new Error('bad tied entry');
  } catch (e) {
    throw new TensorslimError(op, `corrupt or unknown '${QUANTIZED_METADATA_KEY}' metadata (${(e as Error).message}); this build reads formats 1-${FORMAT} written by saveQuantized`);
  }
  const swaps: [string, QuantizedLayer | WeightOnlyLinear | WeightOnlyEmbedding][] = [];
  const built = new Map<string, WeightOnlyLinear | WeightOnlyEmbedding>();
  const used = new Set<string>();
  for (const [p, info] of Object.entries(layers)) {
    let target: AnyModule;
    try { target = model.getSubmodule(p); } catch { throw new TensorslimError(op, `the file quantizes layer '${p}', which this model does not have`); }
    if (info.kind === 'weightOnlyEmbedding') {
      if (!(target instanceof Embedding) || target.numEmbeddings !== info.outFeatures || target.embeddingDim !== info.inFeatures) {
        throw new TensorslimError(op, `layer '${p}' is ${target.constructor.name}${target instanceof Embedding ? `(${target.numEmbeddings}, ${target.embeddingDim})` : ''} in the model but Embedding(${info.outFeatures}, ${info.inFeatures}) in the file`);
      }
    } else if (info.kind === 'staticConv' || info.kind === 'dynamicConv') {
      const c = info.conv;
      const same = target instanceof Conv2d && c !== undefined && target.inChannels === c.inChannels && target.outChannels === c.outChannels
        && [target.kernelSize, target.stride, target.padding, target.dilation].join() === [c.kernelSize, c.stride, c.padding, c.dilation].join();
      if (!same) throw new TensorslimError(op, `layer '${p}' is ${target.constructor.name} in the model but a quantized Conv2d(${c?.inChannels}, ${c?.outChannels}, kernelSize=${c?.kernelSize.join('x')}) with other geometry in the file`);
    } else if (!(target instanceof Linear) || target.inFeatures !== info.inFeatures || target.outFeatures !== info.outFeatures) {
      throw new TensorslimError(op, `layer '${p}' is ${target.constructor.name}${target instanceof Linear ? `(${target.inFeatures}, ${target.outFeatures})` : ''} in the model but Linear(${info.inFeatures}, ${info.outFeatures}) in the file`);
    }
    let q: QuantizedLayer | WeightOnlyLinear | WeightOnlyEmbedding;
    try {
      const b = info.kind === 'weightOnly' || info.kind === 'weightOnlyEmbedding' ? buildWeightOnly(op, p, info, tensors, raw, built) : build(op, p, info, tensors, raw, format);
      q = b.layer;
      if (q instanceof WeightOnlyLinear || q instanceof WeightOnlyEmbedding) built.set(p, q);
      for (const k of b.used) used.add(k);
    } catch (e) {
      const msg = (e as Error).message;
      throw new TensorslimError(op, `layer '${p}': ${msg.startsWith(`${op}: `) ? msg.slice(op.length + 2) : msg}`);
    }
    swaps.push([p, q]);
  }
  // the float parameters and buffers of every other layer
  const quantPaths = Object.keys(layers);
  const own = [...model.stateDict()].filter(([k]) => !quantPaths.some((p) => p === '' || k.startsWith(`${p}.`)));
  const floats = new Map<string, Tensor>();
  for (const [k, t] of own) {
    const src = Object.hasOwn(tied, k) ? tied[k]! : k;   // a tied parameter is stored once, under its first name
    const f = tensors.get(src);
    if (f === undefined) throw new TensorslimError(op, `the file lacks '${src}' (the model's float state); was it saved from this architecture?`);
    if (f.shape.length !== t.shape.length || f.shape.some((d, i) => d !== t.shape[i])) {
      throw new TensorslimError(op, `'${k}' has shape [${f.shape.join(', ')}] in the file, [${t.shape.join(', ')}] in the model`);
    }
    floats.set(k, f.dtype !== t.dtype && t.dtype === 'float64' ? new Tensor(Float64Array.from(f.dataSync()), 'float64', f.shape) : f);
    used.add(src);
  }
  const extra = [...tensors.keys(), ...raw.keys()].filter((k) => !used.has(k));
  if (extra.length > 0) throw new TensorslimError(op, `the file has tensors this model does not: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
  if (floats.size > 0) model.loadStateDict(floats, { strict: false });
  let root: AnyModule = model;
  for (const [p, q] of swaps) {
    if (p === '') { root = q; continue; }
    const i = p.lastIndexOf('.');
    const parent = model.getSubmodule(i < 0 ? '' : p.slice(0, i));
    const name = i < 0 ? p : p.slice(i + 1);
    parent.registerModule(name, q);
    // a fused layer carries its ReLU: the ReLU after it in the Sequential became an Identity when the
    // model was quantized (prepareStatic / prepareQat fuse), so the rebuilt float architecture's does too
    if ((q instanceof QuantizedLinear || q instanceof QuantizedConv2d) && q.relu && parent instanceof Sequential) {
      const kids = parent.namedChildren();
      const at = kids.findIndex(([n]) => n === name);
      const next = kids[at + 1];
      if (next !== undefined && next[1] instanceof ReLU) parent.registerModule(next[0], new Identity());
    }
  }
  linkInt8Layers(root);   // as convertStatic / convertQat left it: int8 codes flow between int8 layers
  return root as M | QuantizedLinearBase | QuantizedConv2d | WeightOnlyLinear | WeightOnlyEmbedding;
}
