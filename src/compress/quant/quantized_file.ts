// Quantized checkpoints: a quantized model saved as safetensors with int8 weights (I8), float32
// per-channel scales, int32 zero points and float32 biases, named after PyTorch's quantized state
// dicts (`fc._packed_params.weight`, `fc.scale`, `fc.zero_point`), plus the float parameters and
// buffers of the layers that stayed float. A `tensorslim.quantized` metadata entry (JSON) says which
// layers are quantized and how, so loadQuantized can rebuild them on a fresh float model of the same
// architecture. The core Tensor has no int8 dtype, so this file writes the safetensors container
// itself (the layout of io/safetensors.ts: JSON header padded to 8 bytes, then the data, wider
// dtypes first); reading goes through io's parseSafetensors, which validates the whole file.

import { Tensor } from '../../core/tensor.js';
import { TensorslimError } from '../../core/errors.js';
import type { AnyModule } from '../../nn/module.js';
import { Linear } from '../../nn/linear.js';
import { Conv2d } from '../../nn/conv.js';
import { QuantizedConv2d, type Conv2dParams } from './conv.js';
import { parseSafetensors } from '../../io/safetensors.js';
import { writeFileAtomic, readFileBytes } from '../../io/files.js';
import { QuantizedTensor } from './qtensor.js';
import { DynamicQuantizedLinear, QuantizedLinear, QuantizedLinearBase, type ActivationQParams } from './modules.js';

/** The metadata key holding the quantized layers' description. */
export const QUANTIZED_METADATA_KEY = 'tensorslim.quantized';
const FORMAT = 1;

type FileDType = 'F32' | 'I32' | 'I8' | 'U8';
interface Entry { name: string; dtype: FileDType; shape: number[]; bytes: Uint8Array }

interface LayerInfo {
  kind: 'dynamic' | 'static' | 'staticConv';
  conv?: Conv2dParams;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
  reduceRange?: boolean;
  relu?: boolean;
  inputDType?: 'quint8' | 'qint8';
  outputDType?: 'quint8' | 'qint8';
}

/** `p.suffix`, or just `suffix` for the root module. */
const key = (p: string, suffix: string): string => (p === '' ? suffix : `${p}.${suffix}`);

const bytesOf = (a: Float32Array | Int32Array | Int8Array | Uint8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

function floatEntry(name: string, t: Tensor): Entry {
  const data = t.dtype === 'float32' ? (t.dataSync() as Float32Array) : Float32Array.from(t.dataSync());
  return { name, dtype: 'F32', shape: [...t.shape], bytes: bytesOf(data) };
}

function tensorEntry(name: string, t: Tensor): Entry {
  switch (t.dtype) {
    case 'float32': case 'float64': return floatEntry(name, t);
    case 'int32': return { name, dtype: 'I32', shape: [...t.shape], bytes: bytesOf(t.dataSync() as Int32Array) };
    default: return { name, dtype: 'U8', shape: [...t.shape], bytes: bytesOf(t.dataSync() as Uint8Array) };
  }
}

function quantEntries(p: string, m: QuantizedLinearBase | QuantizedConv2d): Entry[] {
  const w = m.weight;
  const out: Entry[] = [
    { name: key(p, '_packed_params.weight'), dtype: 'I8', shape: [...w.shape], bytes: bytesOf(w.data) },
    { name: key(p, '_packed_params.weight_scales'), dtype: 'F32', shape: [w.scales.length], bytes: bytesOf(w.scales) },
    { name: key(p, '_packed_params.weight_zero_points'), dtype: 'I32', shape: [w.zeroPoints.length], bytes: bytesOf(w.zeroPoints) },
  ];
  if (m.bias !== null) out.push({ name: key(p, '_packed_params.bias'), dtype: 'F32', shape: [m.bias.length], bytes: bytesOf(m.bias) });
  if (m instanceof QuantizedLinear || m instanceof QuantizedConv2d) {
    out.push(
      { name: key(p, 'scale'), dtype: 'F32', shape: [], bytes: bytesOf(Float32Array.of(m.output.scale)) },
      { name: key(p, 'zero_point'), dtype: 'I32', shape: [], bytes: bytesOf(Int32Array.of(m.output.zeroPoint)) },
      { name: key(p, 'input_scale'), dtype: 'F32', shape: [], bytes: bytesOf(Float32Array.of(m.input.scale)) },
      { name: key(p, 'input_zero_point'), dtype: 'I32', shape: [], bytes: bytesOf(Int32Array.of(m.input.zeroPoint)) },
    );
  }
  return out;
}

type QuantizedLayer = QuantizedLinearBase | QuantizedConv2d;

function quantizedLayers(model: AnyModule): [string, QuantizedLayer][] {
  return model.namedModules().filter(([, m]) => m instanceof QuantizedLinearBase || m instanceof QuantizedConv2d) as [string, QuantizedLayer][];
}

/**
 * The safetensors bytes of a quantized model (see the file header for the layout).
 * @example const bytes = serializeQuantized(quantizeDynamic(model));
 */
export function serializeQuantized(model: AnyModule): Uint8Array {
  const op = 'serializeQuantized';
  const layers = quantizedLayers(model);
  if (layers.length === 0) throw new TensorslimError(op, 'the model has no quantized layers; run quantizeDynamic, convertStatic or convertQat first (or save it with saveSafetensors)');
  const info: Record<string, LayerInfo> = {};
  const entries: Entry[] = [];
  for (const [p, m] of layers) {
    if (m instanceof QuantizedConv2d) {
      const c = m.conv;
      info[p] = { kind: 'staticConv', inFeatures: c.inChannels, outFeatures: c.outChannels, bias: m.bias !== null, conv: c, relu: m.relu, inputDType: m.input.dtype, outputDType: m.output.dtype };
      entries.push(...quantEntries(p, m));
      continue;
    }
    const base = { inFeatures: m.inFeatures, outFeatures: m.outFeatures, bias: m.bias !== null };
    if (m instanceof DynamicQuantizedLinear) info[p] = { kind: 'dynamic', ...base, reduceRange: m.reduceRange };
    else if (m instanceof QuantizedLinear) info[p] = { kind: 'static', ...base, relu: m.relu, inputDType: m.input.dtype, outputDType: m.output.dtype };
    else throw new TensorslimError(op, `layer '${p}' (${(m as AnyModule).constructor.name}) has no checkpoint format`);
    entries.push(...quantEntries(p, m));
  }
  for (const [k, t] of model.stateDict()) entries.push(tensorEntry(k, t));
  // wider elements first keeps every tensor aligned to its element size
  const width = (d: FileDType): number => (d === 'I8' || d === 'U8' ? 1 : 4);
  const ordered = [...entries].sort((a, b) => width(b.dtype) - width(a.dtype));
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', [QUANTIZED_METADATA_KEY]: JSON.stringify({ format: FORMAT, layers: info }) } };
  let offset = 0;
  for (const e of ordered) {
    if (e.name in header) throw new TensorslimError(op, `two tensors named '${e.name}'`);
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [offset, offset + e.bytes.length] };
    offset += e.bytes.length;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(padded - json.length));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const e of ordered) { out.set(e.bytes, at); at += e.bytes.length; }
  return out;
}

/**
 * Save a quantized model atomically; returns the bytes written (about 0.26x the float32 file for
 * Linear-heavy models: 1 byte per weight plus 8 per output channel).
 * @example saveQuantized('mlp-int8.safetensors', quantizeDynamic(model));
 */
export function saveQuantized(path: string, model: AnyModule): number {
  const bytes = serializeQuantized(model);
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

function build(op: string, p: string, info: LayerInfo, tensors: Map<string, Tensor>, fileDTypes: Map<string, string>): QuantizedLayer {
  const { inFeatures: K, outFeatures: N } = info;
  const c = info.conv;
  if (info.kind === 'staticConv' && c === undefined) throw new TensorslimError(op, 'a quantized Conv2d entry lacks its geometry');
  const wShape = info.kind === 'staticConv' ? [N, K, c!.kernelSize[0], c!.kernelSize[1]] : [N, K];
  const wName = key(p, '_packed_params.weight');
  if (fileDTypes.get(wName) !== 'I8') throw new TensorslimError(op, `'${wName}' must be stored as I8, found ${fileDTypes.get(wName) ?? 'nothing'}`);
  const w = need(op, tensors, wName, wShape);
  const scales = Float32Array.from(need(op, tensors, key(p, '_packed_params.weight_scales'), [N]).dataSync());
  const zps = Int32Array.from(need(op, tensors, key(p, '_packed_params.weight_zero_points'), [N]).dataSync());
  const bias = info.bias ? Float32Array.from(need(op, tensors, key(p, '_packed_params.bias'), [N]).dataSync()) : null;
  const qw = new QuantizedTensor({ dtype: 'qint8', shape: wShape, data: Int8Array.from(w.dataSync()), scales, zeroPoints: zps, axis: 0 });
  if (info.kind === 'dynamic') return new DynamicQuantizedLinear(qw, bias, { reduceRange: info.reduceRange === true });
  const act = (s: string, z: string, dtype: 'quint8' | 'qint8' | undefined): ActivationQParams => ({
    dtype: dtype === 'qint8' ? 'qint8' : 'quint8', scale: need(op, tensors, s, []).item(), zeroPoint: need(op, tensors, z, []).item(),
  });
  const input = act(key(p, 'input_scale'), key(p, 'input_zero_point'), info.inputDType);
  const output = act(key(p, 'scale'), key(p, 'zero_point'), info.outputDType);
  return info.kind === 'staticConv'
    ? new QuantizedConv2d(c!, qw, bias, input, output, info.relu === true)
    : new QuantizedLinear(qw, bias, input, output, info.relu === true);
}

/**
 * Load a quantized checkpoint into `model`, a float model of the same architecture (as built
 * before quantization): its quantized layers are rebuilt bit for bit and swapped in, the other
 * parameters and buffers loaded. Everything is checked before anything changes, so a corrupt or
 * mismatched file leaves the model as it was. Returns the model (or the replacement when the model
 * itself is the quantized Linear).
 * @example const q = loadQuantized(buildModel(), readFileSync('mlp-int8.safetensors'));
 */
export function loadQuantized<M extends AnyModule>(model: M, source: Uint8Array | string): M | QuantizedLinearBase | QuantizedConv2d {
  const op = typeof source === 'string' ? `loadQuantized('${source}')` : 'loadQuantized';
  const bytes = typeof source === 'string' ? readFileBytes(source, op) : source;
  const { tensors, metadata, fileDTypes } = parseSafetensors(bytes, { op });
  const raw = metadata[QUANTIZED_METADATA_KEY];
  if (raw === undefined) throw new TensorslimError(op, `not a quantized checkpoint: no '${QUANTIZED_METADATA_KEY}' metadata (a float checkpoint loads with loadSafetensors)`);
  let layers: Record<string, LayerInfo>;
  try {
    const parsed = JSON.parse(raw) as { format?: unknown; layers?: unknown };
    if (parsed.format !== FORMAT || typeof parsed.layers !== 'object' || parsed.layers === null) throw new Error(`format ${String(parsed.format)}`);
    layers = parsed.layers as Record<string, LayerInfo>;
  } catch (e) {
    throw new TensorslimError(op, `corrupt '${QUANTIZED_METADATA_KEY}' metadata (${(e as Error).message}); the file was not written by saveQuantized`);
  }
  const swaps: [string, QuantizedLayer][] = [];
  const used = new Set<string>();
  for (const [p, info] of Object.entries(layers)) {
    let target: AnyModule;
    try { target = model.getSubmodule(p); } catch { throw new TensorslimError(op, `the file quantizes layer '${p}', which this model does not have`); }
    if (info.kind === 'staticConv') {
      const c = info.conv;
      const same = target instanceof Conv2d && c !== undefined && target.inChannels === c.inChannels && target.outChannels === c.outChannels
        && [target.kernelSize, target.stride, target.padding, target.dilation].join() === [c.kernelSize, c.stride, c.padding, c.dilation].join();
      if (!same) throw new TensorslimError(op, `layer '${p}' is ${target.constructor.name} in the model but a quantized Conv2d(${c?.inChannels}, ${c?.outChannels}, kernelSize=${c?.kernelSize.join('x')}) with other geometry in the file`);
    } else if (!(target instanceof Linear) || target.inFeatures !== info.inFeatures || target.outFeatures !== info.outFeatures) {
      throw new TensorslimError(op, `layer '${p}' is ${target.constructor.name}${target instanceof Linear ? `(${target.inFeatures}, ${target.outFeatures})` : ''} in the model but Linear(${info.inFeatures}, ${info.outFeatures}) in the file`);
    }
    let q: QuantizedLayer;
    try { q = build(op, p, info, tensors, fileDTypes); } catch (e) { throw new TensorslimError(op, `layer '${p}': ${(e as Error).message}`); }
    for (const k of tensors.keys()) if (p === '' || k.startsWith(`${p}.`)) used.add(k);
    swaps.push([p, q]);
  }
  // the float parameters and buffers of every other layer
  const quantPaths = Object.keys(layers);
  const own = [...model.stateDict()].filter(([k]) => !quantPaths.some((p) => p === '' || k.startsWith(`${p}.`)));
  const floats = new Map<string, Tensor>();
  for (const [k, t] of own) {
    const f = tensors.get(k);
    if (f === undefined) throw new TensorslimError(op, `the file lacks '${k}' (the model's float state); was it saved from this architecture?`);
    if (f.shape.length !== t.shape.length || f.shape.some((d, i) => d !== t.shape[i])) {
      throw new TensorslimError(op, `'${k}' has shape [${f.shape.join(', ')}] in the file, [${t.shape.join(', ')}] in the model`);
    }
    floats.set(k, f.dtype !== t.dtype && t.dtype === 'float64' ? new Tensor(Float64Array.from(f.dataSync()), 'float64', f.shape) : f);
    used.add(k);
  }
  const extra = [...tensors.keys()].filter((k) => !used.has(k));
  if (extra.length > 0) throw new TensorslimError(op, `the file has tensors this model does not: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
  if (floats.size > 0) model.loadStateDict(floats, { strict: false });
  let root: AnyModule = model;
  for (const [p, q] of swaps) {
    if (p === '') { root = q; continue; }
    const i = p.lastIndexOf('.');
    model.getSubmodule(i < 0 ? '' : p.slice(0, i)).registerModule(i < 0 ? p : p.slice(i + 1), q);
  }
  return root as M | QuantizedLinearBase | QuantizedConv2d;
}
