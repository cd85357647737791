// Weight-only quantization (issue #20): Linear weights stored as int8 per output channel or as
// grouped int4 (the GPTQ / llama.cpp Q4 idea: one scale, and for the affine scheme one integer zero
// point, per G consecutive input columns), activations stay float32. The matmul reads the packed
// weight directly (backend/weight_only.ts: the layout, the kernel contract and the TypeScript twin;
// batches of 8+ rows dequantize up to 512 weight rows at a time into a transient panel for the
// float32 GEMM),
// so a model is 4x (int8) to ~7x (int4) smaller in memory and on disk. Applied to a GPT by
// quantizeWeightOnly (a module swap, like the other workflows); inference only: the layers hold no
// Parameters and their outputs do not track gradients.
//
// Quantization of one group w[0..G) (bits b):
//   symmetric: scale = max|w| / (2^(b-1) - 1); zero point 0 (int8) or 8 (int4, nibbles are unsigned)
//   affine:    lo = min(w, 0), hi = max(w, 0); scale = (hi - lo) / (2^b - 1);
//              zero point = clamp(roundHalfEven(qmin - lo / scale), qmin, qmax)
//   q = clamp(roundHalfEven(fround(w / scale)) + zeroPoint, qmin, qmax)
//   with [qmin, qmax] = [-128, 127] (int8) or [0, 15] (int4); an all-zero group gets scale 1.

import { Tensor } from '../../core/tensor.js';
import { noGrad } from '../../core/engine.js';
import { TensorslimError, ShapeError } from '../../core/errors.js';
import { getBackend } from '../../backend/registry.js';
import { roundHalfEven } from '../../backend/quantized.js';
import { dequantizeRow, weightOnlyGather, weightOnlyLinearReference, type WeightOnlyWeight } from '../../backend/weight_only.js';
import * as ops from '../../ops/index.js';
import { Module, type AnyModule } from '../../nn/module.js';
import { Linear } from '../../nn/linear.js';
import { Embedding } from '../../nn/embedding.js';

/** Weight-only formats: 'symmetric' (zero point fixed) or 'affine' (an integer zero point per group). */
export type WeightOnlyScheme = 'symmetric' | 'affine';

/** Options of quantizeWeightOnlyTensor / WeightOnlyLinear.fromFloat / quantizeWeightOnly. */
export interface WeightOnlyOptions {
  /** 8 (int8) or 4 (int4, two per byte). */
  bits: 4 | 8;
  /** Input columns per scale: a divisor of inFeatures (even for int4). Default: inFeatures for int8 (per channel), 128 for int4 (or inFeatures when smaller). */
  groupSize?: number;
  /** Default 'symmetric'. */
  scheme?: WeightOnlyScheme;
}

const range = (bits: 4 | 8): [number, number] => (bits === 8 ? [-128, 127] : [0, 15]);

/** The group size actually used for a weight with `cols` input columns. */
export function resolveGroupSize(op: string, cols: number, o: WeightOnlyOptions): number {
  if (o.bits !== 4 && o.bits !== 8) throw new TensorslimError(op, `bits must be 4 or 8, got ${String(o.bits)}`);
  const g = o.groupSize ?? (o.bits === 8 ? cols : Math.min(128, cols));
  if (!Number.isInteger(g) || g < 1 || cols % g !== 0) throw new TensorslimError(op, `group size ${g} must divide the ${cols} input features; pick a divisor such as ${[32, 64, 128].filter((d) => cols % d === 0).join(', ') || cols}`);
  if (o.bits === 4 && g % 2 !== 0) throw new TensorslimError(op, `int4 packs two columns per byte, so the group size must be even, got ${g}`);
  return g;
}

/**
 * Quantize a float (N, K) weight to the weight-only layout (row-major values, per-group scales and
 * zero points). Refuses non-finite weights, naming the position.
 * @example const w = quantizeWeightOnlyTensor(Float32Array.of(1, -2, 3, 0.5), 2, 2, { bits: 4, groupSize: 2 });
 */
export function quantizeWeightOnlyTensor(src: ArrayLike<number>, rows: number, cols: number, o: WeightOnlyOptions, what = 'weight'): WeightOnlyWeight {
  const op = 'quantizeWeightOnly';
  const G = resolveGroupSize(`${op}(${what})`, cols, o);
  const scheme = o.scheme ?? 'symmetric';
  if (scheme !== 'symmetric' && scheme !== 'affine') throw new TensorslimError(op, `scheme must be 'symmetric' or 'affine', got '${String(scheme)}'`);
  const bits = o.bits;
  const [qmin, qmax] = range(bits);
  const nG = cols / G;
  const scales = new Float32Array(rows * nG), zeroPoints = new Int32Array(rows * nG);
  const q = new Int32Array(rows * cols);
  for (let n = 0; n < rows; n++) {
    for (let g = 0; g < nG; g++) {
      const k0 = n * cols + g * G;
      let lo = 0, hi = 0;
      for (let k = k0; k < k0 + G; k++) {
        const v = src[k]!;
        if (!Number.isFinite(v)) throw new TensorslimError(op, `${what} holds ${v} at [${n}, ${k - n * cols}]; weight-only quantization needs finite weights`);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      let scale: number, zp: number;
      if (scheme === 'symmetric') {
        scale = Math.fround(Math.max(-lo, hi) / (2 ** (bits - 1) - 1));
        zp = bits === 8 ? 0 : 8;
      } else {
        scale = Math.fround((hi - lo) / (2 ** bits - 1));
        zp = scale === 0 ? 0 : Math.min(qmax, Math.max(qmin, roundHalfEven(qmin - lo / scale)));
      }
      if (!(scale > 0) || !Number.isFinite(1 / scale)) { scale = 1; zp = scheme === 'symmetric' || bits === 8 ? zp : 0; }
      scales[n * nG + g] = scale;
      zeroPoints[n * nG + g] = zp;
      for (let k = k0; k < k0 + G; k++) {
        const r = roundHalfEven(Math.fround(src[k]! / scale)) + zp;
        q[k] = r < qmin ? qmin : r > qmax ? qmax : r;
      }
    }
  }
  let data: Int8Array | Uint8Array;
  if (bits === 8) data = Int8Array.from(q);
  else {
    data = new Uint8Array((rows * cols) >> 1);
    for (let i = 0; i < data.length; i++) data[i] = q[2 * i]! | (q[2 * i + 1]! << 4);
  }
  return { bits, rows, cols, groupSize: G, data, scales, zeroPoints };
}

/**
 * The float32 weight a weight-only matrix stands for (for tests and for comparing with float).
 * @example dequantizeWeightOnly(layer.weight)  // Float32Array(N * K)
 */
export function dequantizeWeightOnly(w: WeightOnlyWeight): Float32Array {
  const out = new Float32Array(w.rows * w.cols);
  for (let n = 0; n < w.rows; n++) dequantizeRow(w, n, out.subarray(n * w.cols, (n + 1) * w.cols));
  return out;
}

/** Check a weight-only matrix's sizes and values against each other (a loaded file must pass this). */
export function checkWeightOnly(op: string, w: WeightOnlyWeight): void {
  const bad = (why: string): never => { throw new TensorslimError(op, `corrupt weight-only weight: ${why}`); };
  if (w.bits !== 4 && w.bits !== 8) bad(`bits ${String(w.bits)} (4 or 8)`);
  if (!(w.groupSize >= 1) || w.cols % w.groupSize !== 0 || (w.bits === 4 && w.groupSize % 2 !== 0)) bad(`group size ${w.groupSize} for ${w.cols} columns`);
  const nG = w.rows * (w.cols / w.groupSize);
  if (w.data.length !== (w.bits === 8 ? w.rows * w.cols : (w.rows * w.cols) / 2)) bad(`${w.data.length} bytes of values for (${w.rows}, ${w.cols}) at ${w.bits} bits`);
  if (w.scales.length !== nG || w.zeroPoints.length !== nG) bad(`${w.scales.length} scales and ${w.zeroPoints.length} zero points, expected ${nG}`);
  const [qmin, qmax] = range(w.bits);
  for (let i = 0; i < nG; i++) {
    if (!(w.scales[i]! > 0) || !Number.isFinite(w.scales[i]!)) bad(`scale ${w.scales[i]} at group ${i} (scales must be finite and > 0)`);
    if (w.zeroPoints[i]! < qmin || w.zeroPoints[i]! > qmax) bad(`zero point ${w.zeroPoints[i]} at group ${i} outside [${qmin}, ${qmax}]`);
  }
}

/** Batches of at least this many rows go through weightOnlyLinearPanels (the backend's float GEMM). */
export const PANEL_MIN_ROWS = 8;
/** Weight rows dequantized per panel (at most 512 x K floats at a time, freed after the GEMM). */
const PANEL_ROWS = 512;

/**
 * y = x @ dequant(w)^T + bias for a batch: up to 512 weight rows at a time are dequantized into a
 * transient float panel and multiplied by the active backend's float32 GEMM (fusedLinear), so large
 * batches run at GEMM speed; no float copy of the weight is kept. Same math as the TypeScript twin
 * up to the order of the sums.
 * @example weightOnlyLinearPanels(x, 64, layer.weight, layer.bias)  // Float32Array(64 * N)
 */
export function weightOnlyLinearPanels(x: Float32Array, rows: number, w: WeightOnlyWeight, bias: Float32Array | null): Float32Array {
  const N = w.rows, K = w.cols;
  const xt = new Tensor(x, 'float32', [rows, K]);
  const panelOut = (n0: number, p: number): Float32Array => {
    const panel = new Float32Array(p * K);
    for (let i = 0; i < p; i++) dequantizeRow(w, n0 + i, panel.subarray(i * K, (i + 1) * K));
    const b = bias === null ? null : new Tensor(bias.slice(n0, n0 + p), 'float32', [p]);
    return noGrad(() => ops.fusedLinear(xt, new Tensor(panel, 'float32', [p, K]), b)).dataSync() as Float32Array;   // (rows, p)
  };
  if (N <= PANEL_ROWS) return panelOut(0, N);
  const y = new Float32Array(rows * N);
  for (let n0 = 0; n0 < N; n0 += PANEL_ROWS) {
    const p = Math.min(PANEL_ROWS, N - n0);
    const yp = panelOut(n0, p);
    for (let m = 0; m < rows; m++) y.set(yp.subarray(m * p, (m + 1) * p), m * N + n0);
  }
  return y;
}

/**
 * A Linear whose weight is stored int8 or grouped int4 and multiplied without materialising the
 * float weight (batches of 8+ rows: weightOnlyLinearPanels; fewer: the active backend's
 * weightOnlyLinear, else the TypeScript twin); bias and activations float32. Inference only. Build it with fromFloat or quantizeWeightOnly(model).
 * @example
 * const q = WeightOnlyLinear.fromFloat(new Linear(128, 384), { bits: 4, groupSize: 32 });
 * q.call(randn([2, 128])).shape;  // [2, 384]
 */
export class WeightOnlyLinear extends Module<[Tensor], Tensor> {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: WeightOnlyWeight;
  readonly scheme: WeightOnlyScheme;
  readonly bias: Float32Array | null;

  constructor(weight: WeightOnlyWeight, bias: Float32Array | null, scheme: WeightOnlyScheme) {
    super();
    checkWeightOnly('WeightOnlyLinear', weight);
    if (bias !== null && bias.length !== weight.rows) throw new ShapeError('WeightOnlyLinear', `bias has ${bias.length} values, expected ${weight.rows}`);
    this.weight = weight;
    this.bias = bias;
    this.scheme = scheme;
    this.inFeatures = weight.cols;
    this.outFeatures = weight.rows;
  }

  /**
   * Quantize a float Linear (its weight and bias are copied; the Linear is not changed).
   * @example WeightOnlyLinear.fromFloat(fc, { bits: 8 })  // int8 per output channel
   */
  static fromFloat(lin: Linear, o: WeightOnlyOptions, name = 'Linear'): WeightOnlyLinear {
    const w = quantizeWeightOnlyTensor(lin.weight.dataSync(), lin.outFeatures, lin.inFeatures, o, `${name}.weight`);
    return new WeightOnlyLinear(w, lin.bias === null ? null : Float32Array.from(lin.bias.dataSync()), o.scheme ?? 'symmetric');
  }

  forward(x: Tensor): Tensor {
    const K = this.inFeatures;
    if (!(x instanceof Tensor) || x.ndim === 0 || x.shape[x.ndim - 1] !== K) {
      throw new ShapeError(`WeightOnlyLinear(${K}, ${this.outFeatures})`, `input last dimension must be ${K}; got shape [${x instanceof Tensor ? x.shape.join(', ') : typeof x}]`);
    }
    const v = x.dataSync();
    const xf = v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
    const rows = x.size / K;
    const be = getBackend();
    // few rows (generation): the backend's weight-only kernel or the twin; batches: panels through the float GEMM
    const y = rows >= PANEL_MIN_ROWS ? weightOnlyLinearPanels(xf, rows, this.weight, this.bias)
      : be.weightOnlyLinear ? be.weightOnlyLinear(xf, rows, this.weight, this.bias)
        : weightOnlyLinearReference(xf, rows, this.weight, this.bias);
    const out = new Tensor(y, 'float32', [...x.shape.slice(0, -1), this.outFeatures]);
    return x.dtype === 'float32' ? out : ops.to(out, x.dtype);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bits=${this.weight.bits}, groupSize=${this.weight.groupSize}, scheme=${this.scheme}, bias=${this.bias !== null}`;
  }
}

/**
 * An Embedding whose table is stored weight-only (int8 per row, or grouped int4: the layout of
 * backend/weight_only.ts with one row per token, K = embeddingDim) and dequantized on gather: a
 * lookup dequantizes only the rows it returns. A GPT's LM head tied to the token embedding becomes a
 * WeightOnlyLinear holding the same WeightOnlyWeight object (quantizeWeightOnly with embeddings),
 * stored once in the file. Inference only.
 * @example
 * const e = WeightOnlyEmbedding.fromFloat(new Embedding(256, 64), { bits: 8 });
 * e.call(tensor([[1, 2]], { dtype: 'int32' })).shape;  // [1, 2, 64]
 */
export class WeightOnlyEmbedding extends Module<[Tensor], Tensor> {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly weight: WeightOnlyWeight;
  readonly scheme: WeightOnlyScheme;

  constructor(weight: WeightOnlyWeight, scheme: WeightOnlyScheme) {
    super();
    checkWeightOnly('WeightOnlyEmbedding', weight);
    this.weight = weight;
    this.scheme = scheme;
    this.numEmbeddings = weight.rows;
    this.embeddingDim = weight.cols;
  }

  /**
   * Quantize a float Embedding's table (copied; the Embedding is not changed). A padding index is
   * not kept (inference only: its row is whatever the table holds, zero after training).
   * @example WeightOnlyEmbedding.fromFloat(gpt.transformer.wte, { bits: 4, groupSize: 32 })
   */
  static fromFloat(emb: Embedding, o: WeightOnlyOptions, name = 'Embedding'): WeightOnlyEmbedding {
    const w = quantizeWeightOnlyTensor(emb.weight.dataSync(), emb.numEmbeddings, emb.embeddingDim, o, `${name}.weight`);
    return new WeightOnlyEmbedding(w, o.scheme ?? 'symmetric');
  }

  forward(indices: Tensor): Tensor {
    const op = `WeightOnlyEmbedding(${this.numEmbeddings}, ${this.embeddingDim})`;
    if (!(indices instanceof Tensor) || (indices.dtype !== 'int32' && indices.dtype !== 'uint8')) {
      throw new TensorslimError(op, `indices must be an integer tensor (int32), got ${indices instanceof Tensor ? indices.dtype : typeof indices}`);
    }
    const idx = indices.dataSync();
    for (let i = 0; i < idx.length; i++) {
      const v = Number(idx[i]);
      if (!(v >= 0 && v < this.numEmbeddings)) throw new TensorslimError(op, `index ${v} at flat position ${i} is out of range [0, ${this.numEmbeddings})`);
    }
    const flat = Int32Array.from(idx as ArrayLike<number>, Number);
    return new Tensor(weightOnlyGather(this.weight, flat), 'float32', [...indices.shape, this.embeddingDim]);
  }

  override extraRepr(): string {
    return `numEmbeddings=${this.numEmbeddings}, embeddingDim=${this.embeddingDim}, bits=${this.weight.bits}, groupSize=${this.weight.groupSize}, scheme=${this.scheme}`;
  }
}

/** Options of quantizeWeightOnly. */
export interface QuantizeWeightOnlyOptions extends WeightOnlyOptions {
  /** Module paths to quantize (default: every Linear except an LM head tied to the embedding). */
  layers?: readonly string[];
  /**
   * Also quantize every Embedding (WeightOnlyEmbedding, same bits / group size / scheme along the
   * embedding dimension) and turn a Linear tied to one (a GPT's LM head) into a WeightOnlyLinear
   * sharing its quantized table, so the tie survives and the file stores the table once. Default false.
   */
  embeddings?: boolean;
}

/**
 * Swap a model's Linear layers for WeightOnlyLinear (in place; returns the swapped paths). By
 * default every Linear is swapped except one whose weight is shared with another module (a GPT's
 * LM head tied to the token embedding stays float32, as the embedding does). Every layer is
 * quantized before any is swapped, so an error leaves the model unchanged.
 * @example quantizeWeightOnly(gpt, { bits: 4, groupSize: 64 });  // ['transformer.h.0.attn.c_attn', ...]
 */
export function quantizeWeightOnly(model: AnyModule, o: QuantizeWeightOnlyOptions): string[] {
  const op = 'quantizeWeightOnly';
  const all = model.namedModules();
  const owners = new Map<unknown, number>();
  for (const [, m] of all) for (const p of m.parameters(false)) owners.set(p, (owners.get(p) ?? 0) + 1);
  let targets: [string, Linear][];
  if (o.layers !== undefined) {
    targets = o.layers.map((p) => {
      let m: AnyModule;
      try { m = model.getSubmodule(p); } catch { throw new TensorslimError(op, `no layer '${p}' in the model`); }
      if (!(m instanceof Linear)) throw new TensorslimError(op, `layer '${p}' is ${m.constructor.name}; weight-only quantization takes Linear layers`);
      return [p, m];
    });
  } else {
    targets = all.filter((e): e is [string, Linear] => e[1] instanceof Linear && (owners.get(e[1].weight) ?? 0) <= 1);
  }
  if (targets.length === 0 && o.embeddings !== true) throw new TensorslimError(op, 'the model has no Linear layer to quantize');
  if (targets.some(([p]) => p === '')) throw new TensorslimError(op, 'the model is itself a Linear; use WeightOnlyLinear.fromFloat');
  const swaps: (readonly [string, AnyModule])[] = targets.map(([p, m]) => [p, WeightOnlyLinear.fromFloat(m, o, p)] as const);
  if (o.embeddings === true) {
    const tables = new Map<unknown, WeightOnlyEmbedding>();
    for (const [p, m] of all) {
      if (!(m instanceof Embedding)) continue;
      if (p === '') throw new TensorslimError(op, 'the model is itself an Embedding; use WeightOnlyEmbedding.fromFloat');
      const q = WeightOnlyEmbedding.fromFloat(m, o, p);
      tables.set(m.weight, q);
      swaps.push([p, q]);
    }
    if (tables.size === 0 && targets.length === 0) throw new TensorslimError(op, 'the model has no Linear or Embedding layer to quantize');
    // a Linear tied to a table (the LM head) reads the same quantized table
    for (const [p, m] of all) {
      if (!(m instanceof Linear)) continue;
      const t = tables.get(m.weight);
      if (t === undefined || swaps.some(([s]) => s === p)) continue;
      swaps.push([p, new WeightOnlyLinear(t.weight, m.bias === null ? null : Float32Array.from(m.bias.dataSync()), t.scheme)]);
    }
  }
  for (const [p, q] of swaps) {
    const i = p.lastIndexOf('.');
    model.getSubmodule(i < 0 ? '' : p.slice(0, i)).registerModule(i < 0 ? p : p.slice(i + 1), q);
  }
  return swaps.map(([p]) => p);
}
