// Mask computations of the pruning methods, as pure functions: importance scores + the current
// mask -> a new mask. They follow torch.nn.utils.prune: unstructured methods zero the k least
// important entries, structured methods zero whole slices along `dim`, and a method applied to an
// already pruned tensor only considers the surviving entries (so pruning twice composes).

import { isFloat } from '../../backend/dtype.js';
import { TensorslimError, ShapeError, normAxis } from '../../core/errors.js';
import { defaultGenerator, type Generator } from '../../core/random.js';
import { Tensor } from '../../core/tensor.js';
import { unitsToPrune, type Amount } from './amount.js';

export type PruningType = 'unstructured' | 'structured';

/** A pruning method: computes the mask for one tensor given importance scores and the current mask. */
export interface PruningMethod {
  readonly name: string;
  readonly type: PruningType;
  /** For structured methods: the axis whose slices are removed. */
  readonly dim?: number;
  /** New mask over `scores` (same shape), given `current` (1 = kept, 0 = pruned). Pure. */
  computeMask(scores: Float64Array, shape: readonly number[], current: Float64Array): Float64Array;
}

/** Indices of the k smallest values (ties: lower index first, a deterministic choice). */
function kSmallest(values: Float64Array, k: number): number[] {
  const idx = Array.from(values.keys());
  idx.sort((a, b) => values[a]! - values[b]! || a - b);
  return idx.slice(0, k);
}

/**
 * Unstructured methods: prune `amount` of the entries that are still unpruned, lowest score first.
 * `score` maps the importance value to its ranking key (|x| for L1, random for random).
 */
function unstructured(name: string, amount: Amount, key: (scores: Float64Array) => Float64Array): PruningMethod {
  return {
    name, type: 'unstructured',
    computeMask(scores, _shape, current) {
      const alive: number[] = [];
      for (let i = 0; i < current.length; i++) if (current[i] !== 0) alive.push(i);
      const k = unitsToPrune(name, amount, alive.length);
      const sub = key(Float64Array.from(alive, (i) => scores[i]!));
      const mask = Float64Array.from(current);
      for (const j of kSmallest(sub, k)) mask[alive[j]!] = 0;
      return mask;
    },
  };
}

/** L1 (magnitude) unstructured pruning. */
export function l1UnstructuredMethod(amount: Amount): PruningMethod {
  return unstructured('l1Unstructured', amount, (s) => s.map(Math.abs));
}

/** Random unstructured pruning from the seeded generator. */
export function randomUnstructuredMethod(amount: Amount, generator: Generator = defaultGenerator): PruningMethod {
  return unstructured('randomUnstructured', amount, (s) => s.map(() => generator.uniform()));
}

/** Offsets of every element of slice `c` along `dim` for a row-major tensor of `shape`. */
function sliceOffsets(shape: readonly number[], dim: number): (c: number) => number[] {
  const inner = shape.slice(dim + 1).reduce((p, d) => p * d, 1);
  const outer = shape.slice(0, dim).reduce((p, d) => p * d, 1);
  const n = shape[dim]!;
  return (c) => {
    const out: number[] = [];
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) out.push((o * n + c) * inner + i);
    return out;
  };
}

export type NormOrder = number | 'fro';

function lnNorm(values: number[], n: NormOrder): number {
  if (n === Infinity) return values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  if (n === -Infinity) return values.reduce((m, v) => Math.min(m, Math.abs(v)), Infinity);
  const p = n === 'fro' ? 2 : n;
  if (p === 0) return values.filter((v) => v !== 0).length;
  return Math.pow(values.reduce((s, v) => s + Math.pow(Math.abs(v), p), 0), 1 / p);
}

function structured(name: string, amount: Amount, dim: number, rank: (slices: number[][], channels: number[]) => Float64Array): PruningMethod {
  return {
    name, type: 'structured', dim,
    computeMask(scores, shape, current) {
      if (shape.length === 0) throw new ShapeError(name, 'structured pruning needs a tensor with at least one dimension');
      const d = normAxis(name, dim, shape.length);
      const at = sliceOffsets(shape, d);
      // channels that still have a surviving entry are the candidates (PyTorch's keep_channel)
      const channels: number[] = [];
      for (let c = 0; c < shape[d]!; c++) if (at(c).some((o) => current[o] !== 0)) channels.push(c);
      const k = unitsToPrune(name, amount, channels.length);
      const keys = rank(channels.map((c) => at(c).map((o) => scores[o]!)), channels);
      const mask = Float64Array.from(current);
      for (const j of kSmallest(keys, k)) for (const o of at(channels[j]!)) mask[o] = 0;
      return mask;
    },
  };
}

/** Prune whole slices along `dim` with the lowest L_n norm (n = 1, 2, Infinity, -Infinity, 'fro'). */
export function lnStructuredMethod(amount: Amount, n: NormOrder, dim: number): PruningMethod {
  return structured('lnStructured', amount, dim, (slices) => Float64Array.from(slices, (v) => lnNorm(v, n)));
}

/** Prune random whole slices along `dim`. */
export function randomStructuredMethod(amount: Amount, dim: number, generator: Generator = defaultGenerator): PruningMethod {
  return structured('randomStructured', amount, dim, (slices) => Float64Array.from(slices, () => generator.uniform()));
}

/**
 * N:M semi-structured sparsity (e.g. 2:4): in every group of M consecutive weights along the
 * input axis (the last axis), keep the N with the largest magnitude. Already-pruned weights count
 * as pruned.
 */
export function nmStructuredMethod(n: number, m: number): PruningMethod {
  if (!Number.isInteger(n) || !Number.isInteger(m) || n < 0 || m < 1 || n > m) {
    throw new TensorslimError('nmStructured', `need integers 0 <= N <= M, M >= 1; got ${n}:${m}`);
  }
  return {
    name: `nm${n}:${m}`, type: 'unstructured',
    computeMask(scores, shape, current) {
      const last = shape[shape.length - 1] ?? 1;
      if (last % m !== 0) throw new ShapeError('nmStructured', `the last dimension (${last}) of shape (${shape.join(', ')}) must be divisible by M = ${m}`);
      const mask = Float64Array.from(current);
      for (let g = 0; g < scores.length; g += m) {
        const keys = new Float64Array(m);
        for (let j = 0; j < m; j++) keys[j] = current[g + j] !== 0 ? Math.abs(scores[g + j]!) : -1;
        for (const j of kSmallest(keys, m - n)) mask[g + j] = 0;
      }
      return mask;
    },
  };
}

/** Importance values of a tensor as float64 (checks it is floating point). */
export function scoresOf(op: string, t: Tensor): Float64Array {
  if (!isFloat(t.dtype)) throw new TensorslimError(op, `importance scores must be floating point, got ${t.dtype}`);
  return Float64Array.from(t.dataSync());
}
