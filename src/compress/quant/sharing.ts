// Weight sharing (Deep Compression, Han et al. 2016, section 3): the stored (non-zero-point) weights
// of each quantized layer are clustered by 1-D k-means with linear initialization over [min, max]
// (the initialization the paper found best), and every weight is replaced by its cluster's
// centroid, quantized back to int8 with the layer's own per-channel scale and zero point. The layer
// then needs only the codebook (K float32 centroids) and one log2(K)-bit index per stored weight,
// which is how saveQuantized stores it (weight_coding.ts). The codebook of each shared layer is kept
// beside the layer object (a WeakMap), so the file writer finds it and a loaded file keeps it.

import { linkInt8Layers } from './int8_flow.js';
import { TensorslimError } from '../../core/errors.js';
import type { AnyModule } from '../../nn/module.js';
import { quantizeValue } from '../../backend/quantized.js';
import { QuantizedTensor } from './qtensor.js';
import { DynamicQuantizedLinear, QuantizedLinear, QuantizedLinearBase } from './modules.js';
import { DynamicQuantizedConv2d, QuantizedConv2d } from './conv.js';
import { weightFromCodes } from './weight_coding.js';

/** A layer with an int8 weight. */
export type QuantizedLayer = QuantizedLinearBase | QuantizedConv2d | DynamicQuantizedConv2d;

/**
 * Whether a module is a layer with an int8 weight (dynamic, static or QAT-converted Linear / Conv2d).
 * @example model.modules().filter(isQuantizedLayer).length
 */
export function isQuantizedLayer(m: unknown): m is QuantizedLayer {
  return m instanceof QuantizedLinearBase || m instanceof QuantizedConv2d || m instanceof DynamicQuantizedConv2d;
}

/** A shared weight: the codebook and, for each stored entry (flat position), its cluster. */
export interface SharedWeight {
  codebook: Float32Array;
  positions: Int32Array;
  codes: Int32Array;
}

const SHARED = new WeakMap<QuantizedLayer, SharedWeight>();

/**
 * The codebook and cluster indices of a weight-shared layer, or undefined.
 * @example sharedWeightOf(model.getSubmodule('0') as QuantizedLinearBase)?.codebook.length  // 16
 */
export function sharedWeightOf(layer: QuantizedLayer): SharedWeight | undefined {
  return SHARED.get(layer);
}

/**
 * Record that `layer`'s int8 weight is `shared` (the loader calls this); checked against the weight.
 * @example attachSharedWeight(layer, { codebook, positions, codes });
 */
export function attachSharedWeight(layer: QuantizedLayer, shared: SharedWeight): void {
  const w = layer.weight;
  const rows = w.shape[0]!, cols = w.data.length / Math.max(1, rows);
  const rebuilt = weightFromCodes(shared, { rows, cols, scales: w.scales, zeroPoints: w.zeroPoints }, shared.codebook);
  for (let i = 0; i < rebuilt.length; i++) {
    if (rebuilt[i] !== w.data[i]) throw new TensorslimError('attachSharedWeight', `the codebook does not reproduce the weight at flat index ${i} (${rebuilt[i]} vs ${w.data[i]})`);
  }
  SHARED.set(layer, shared);
}

/**
 * 1-D k-means with linear initialization: centroids start evenly spaced over [min, max] of
 * `values`; each round assigns every value to its nearest centroid and moves each centroid to the
 * mean of its values (an empty cluster keeps its place). Returns the centroids (ascending) and the
 * cluster of each value.
 * @example kmeans1d(Float32Array.of(0, 0.1, 1, 1.1), 2).centroids  // ~[0.05, 1.05]
 */
export function kmeans1d(values: Float32Array, k: number, iterations = 50): { centroids: Float32Array; assignment: Int32Array } {
  if (!Number.isInteger(k) || k < 1) throw new TensorslimError('kmeans1d', `the number of clusters must be a positive integer, got ${k}`);
  const n = values.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const sorted = Float64Array.from(order, (i) => values[i]!);
  const lo = n > 0 ? sorted[0]! : 0, hi = n > 0 ? sorted[n - 1]! : 0;
  const c = Float64Array.from({ length: k }, (_, j) => (k === 1 ? (lo + hi) / 2 : lo + ((hi - lo) * j) / (k - 1)));
  const sortedAssign = new Int32Array(n);
  for (let it = 0; it < iterations; it++) {
    // sorted values and ascending centroids: the nearest centroid index never decreases
    let j = 0, changed = it === 0;
    const sum = new Float64Array(k), cnt = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      const v = sorted[i]!;
      while (j + 1 < k && Math.abs(c[j + 1]! - v) <= Math.abs(c[j]! - v)) j++;
      if (sortedAssign[i] !== j) { sortedAssign[i] = j; changed = true; }
      sum[j]! += v; cnt[j]!++;
    }
    for (let q = 0; q < k; q++) if (cnt[q]! > 0) c[q] = sum[q]! / cnt[q]!;
    c.sort();
    if (!changed) break;
  }
  const assignment = new Int32Array(n);
  for (let i = 0; i < n; i++) assignment[order[i]!] = sortedAssign[i]!;
  return { centroids: Float32Array.from(c), assignment };
}

/** What shareWeights did to one layer. */
export interface ShareReport {
  layer: string;
  clusters: number;
  /** Stored (non-zero-point) weights, each now one of `clusters` values. */
  stored: number;
  /** Largest |new - old| of a stored weight's real value. */
  maxError: number;
}

/**
 * Weight sharing on every quantized layer of `model` (or the named `layers`): k-means with
 * `clusters` centroids over its stored weights, each weight replaced by its centroid (quantized
 * back to int8 with the layer's scales). The layers are rebuilt and swapped in (all of them or none);
 * saveQuantized then stores each as codebook + indices. Returns one report per layer.
 * @example shareWeights(model, { clusters: 16 });  // after quantizeDynamic / convertStatic
 */
export function shareWeights(model: AnyModule, opts: { clusters: number; layers?: readonly string[] }): ShareReport[] {
  const op = 'shareWeights';
  const k = opts.clusters;
  if (!Number.isInteger(k) || k < 2 || k > 256) throw new TensorslimError(op, `clusters must be an integer in [2, 256] (a code of 1-8 bits), got ${k}`);
  const all = model.namedModules().filter((e): e is [string, QuantizedLayer] => isQuantizedLayer(e[1]));
  if (all.length === 0) throw new TensorslimError(op, 'the model has no quantized layers; quantize it first (quantizeDynamic, convertStatic or convertQat)');
  for (const name of opts.layers ?? []) if (!all.some(([p]) => p === name)) throw new TensorslimError(op, `layer '${name}' is not a quantized layer of this model`);
  const chosen = opts.layers === undefined ? all : all.filter(([p]) => opts.layers!.includes(p));
  const swaps: [string, QuantizedLayer, SharedWeight][] = [];
  const reports: ShareReport[] = [];
  for (const [path, m] of chosen) {
    if (path === '') throw new TensorslimError(op, 'the model itself is a quantized layer; wrap it in a Sequential to share its weights');
    const w = m.weight;
    const rows = w.shape[0]!, cols = w.data.length / Math.max(1, rows);
    const positions: number[] = [], real: number[] = [];
    for (let p = 0; p < w.data.length; p++) {
      const r = Math.floor(p / cols), zp = w.zeroPoints[r]!;
      if (w.data[p] !== zp) { positions.push(p); real.push((w.data[p]! - zp) * w.scales[r]!); }
    }
    const { centroids, assignment } = kmeans1d(Float32Array.from(real), Math.min(k, Math.max(1, real.length)));
    const data = Int8Array.from(w.data as Int8Array);
    let maxError = 0;
    for (let i = 0; i < positions.length; i++) {
      const p = positions[i]!, r = Math.floor(p / cols);
      data[p] = quantizeValue(centroids[assignment[i]!]!, Math.fround(1 / w.scales[r]!), w.zeroPoints[r]!, -128, 127);
      maxError = Math.max(maxError, Math.abs((data[p]! - w.zeroPoints[r]!) * w.scales[r]! - real[i]!));
    }
    const qw = new QuantizedTensor({ dtype: 'qint8', shape: w.shape, data, scales: w.scales, zeroPoints: w.zeroPoints, axis: 0 });
    const layer = rebuild(m, qw);
    swaps.push([path, layer, { codebook: centroids, positions: Int32Array.from(positions), codes: assignment }]);
    reports.push({ layer: path, clusters: centroids.length, stored: positions.length, maxError });
  }
  for (const [path, layer, shared] of swaps) {
    SHARED.set(layer, shared);
    const dot = path.lastIndexOf('.');
    model.getSubmodule(dot < 0 ? '' : path.slice(0, dot)).registerModule(dot < 0 ? path : path.slice(dot + 1), layer);
  }
  if (swaps.length > 0) linkInt8Layers(model);   // the rebuilt layers join the int8 runs their predecessors were in
  return reports;
}

/** The same layer with another int8 weight. */
function rebuild(m: QuantizedLayer, qw: QuantizedTensor): QuantizedLayer {
  if (m instanceof DynamicQuantizedLinear) return new DynamicQuantizedLinear(qw, m.bias, { reduceRange: m.reduceRange });
  if (m instanceof QuantizedLinear) return new QuantizedLinear(qw, m.bias, m.input, m.output, m.relu);
  if (m instanceof QuantizedConv2d) return new QuantizedConv2d(m.conv, qw, m.bias, m.input, m.output, m.relu);
  throw new TensorslimError('shareWeights', `${(m as AnyModule).constructor.name} has no weight-sharing support`);
}
