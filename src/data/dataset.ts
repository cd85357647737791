// Datasets: indexable collections of samples, like torch.utils.data.Dataset.
// A dataset that can also gather a whole batch at once (getBatch) lets the DataLoader copy only the
// rows of one batch straight from the dataset's storage, never the whole dataset.
// Nothing here shuffles by itself: randomness comes from an explicit, seedable Generator.

import { allocate } from '../backend/dtype.js';
import { fmtShape, isContiguous, numel } from '../backend/shape.js';
import { ShapeError, TensorslimError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import { indexSelect, reshape, slice, tensor } from '../ops/index.js';
import { defaultCollate, type Collated } from './collate.js';

/**
 * An indexable collection of samples.
 * @example const ds: Dataset<number> = { length: 3, get: (i) => i * i };
 */
export interface Dataset<T> {
  /** Number of samples. */
  readonly length: number;
  /** Sample `index`, 0 <= index < length. */
  get(index: number): T;
}

/**
 * A dataset that can produce a collated batch from a list of indices without materializing the
 * samples one by one (TensorDataset gathers rows straight from its tensors' storage). The batch
 * must equal what defaultCollate makes of the samples, so a DataLoader may use either.
 */
export interface BatchDataset<T, B> extends Dataset<T> {
  /** The batch made of samples `indices` (in that order). Must not keep a reference to `indices`. */
  getBatch(indices: ArrayLike<number>): B;
}

/** Whether `ds` can gather batches itself. @example if (hasGetBatch(ds)) ds.getBatch([0, 1]) */
export function hasGetBatch<T>(ds: Dataset<T>): ds is BatchDataset<T, unknown> {
  return typeof (ds as Partial<BatchDataset<T, unknown>>).getBatch === 'function';
}

/** Throw unless `index` is an integer in [0, length). @example checkIndex('MyDataset.get', i, this.length) */
export function checkIndex(op: string, index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new TensorslimError(op, `index ${index} is out of range for a dataset of length ${length} (valid: 0..${length - 1})`);
  }
}

/**
 * Samples are the rows (first axis) of one or more tensors of the same length, like
 * torch.utils.data.TensorDataset. get(i) returns views; getBatch(indices) returns one fresh
 * contiguous (B, ...) tensor per input tensor, copying only those B rows.
 * @example
 * const ds = new TensorDataset(x, y);   // x: (N, 784), y: (N,)
 * const [xi, yi] = ds.get(0);           // (784,), ()
 * const [xb, yb] = ds.getBatch([3, 1]); // (2, 784), (2,)
 */
export class TensorDataset implements BatchDataset<Tensor[], Tensor[]> {
  readonly tensors: readonly Tensor[];
  readonly length: number;

  constructor(...tensors: Tensor[]) {
    if (tensors.length === 0) throw new TensorslimError('TensorDataset', 'expected at least one tensor');
    for (const t of tensors) {
      if (!(t instanceof Tensor)) throw new TensorslimError('TensorDataset', `expected tensors, got ${typeof t}`);
      if (t.ndim === 0) throw new ShapeError('TensorDataset', 'tensors must have at least one axis (samples are indexed along axis 0), got a scalar');
    }
    const n = tensors[0]!.shape[0]!;
    if (tensors.some((t) => t.shape[0] !== n)) {
      throw new ShapeError('TensorDataset', `all tensors must have the same size along axis 0, got ${tensors.map((t) => fmtShape(t.shape)).join(', ')}`);
    }
    this.tensors = Object.freeze([...tensors]);
    this.length = n;
  }

  /** Row `index` of every tensor, as views sharing storage. */
  get(index: number): Tensor[] {
    checkIndex('TensorDataset.get', index, this.length);
    return this.tensors.map((t) => reshape(slice(t, 0, index, index + 1), t.shape.slice(1)));
  }

  /** Rows `indices` of every tensor, each gathered into a fresh contiguous (B, ...) tensor. */
  getBatch(indices: ArrayLike<number>): Tensor[] {
    for (let i = 0; i < indices.length; i++) checkIndex('TensorDataset.getBatch', indices[i]!, this.length);
    return this.tensors.map((t) => gatherRows(t, indices));
  }
}

/** Rows `indices` (already validated) of `t` along axis 0 into a fresh contiguous tensor. */
function gatherRows(t: Tensor, indices: ArrayLike<number>): Tensor {
  const rest = t.shape.slice(1);
  const restStrides = t.strides.slice(1);
  if (t.requiresGrad || !isContiguous(rest, restStrides)) {
    // general case (strided rows, or gradients must flow to the source): one indexSelect of B rows
    return indexSelect(t, 0, tensor(Int32Array.from(indices), { dtype: 'int32' }));
  }
  // fast path: each row is one contiguous block of `row` elements starting at offset + i * stride0
  const row = numel(rest);
  const b = indices.length;
  const out = allocate(t.dtype, b * row);
  const stride0 = t.strides[0]!;
  const src = t.data;
  for (let k = 0; k < b; k++) {
    const start = t.offset + indices[k]! * stride0;
    if (row === 1) out[k] = src[start]!;
    else out.set(src.subarray(start, start + row), k * row);
  }
  return new Tensor(out, t.dtype, [b, ...rest]);
}

/**
 * The samples of `dataset` at `indices`, in that order (torch.utils.data.Subset). Batches are still
 * gathered directly from the base dataset when it supports getBatch.
 * @example const firstTen = new Subset(ds, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
 */
export class Subset<T> implements BatchDataset<T, Collated<T>> {
  readonly dataset: Dataset<T>;
  readonly indices: Int32Array;

  constructor(dataset: Dataset<T>, indices: ArrayLike<number>) {
    for (let i = 0; i < indices.length; i++) checkIndex('Subset', indices[i]!, dataset.length);
    this.dataset = dataset;
    this.indices = Int32Array.from(indices);
  }

  get length(): number { return this.indices.length; }

  get(index: number): T {
    checkIndex('Subset.get', index, this.indices.length);
    return this.dataset.get(this.indices[index]!);
  }

  /** The batch of samples `indices`: gathered by the base dataset when it can, else collated. */
  getBatch(indices: ArrayLike<number>): Collated<T> {
    const mapped = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) {
      checkIndex('Subset.getBatch', indices[i]!, this.indices.length);
      mapped[i] = this.indices[indices[i]!]!;
    }
    const base = this.dataset;
    if (hasGetBatch(base)) return base.getBatch(mapped) as Collated<T>;
    return defaultCollate(Array.from(mapped, (i) => base.get(i)));
  }
}

/**
 * A uniformly random permutation of 0..n-1 (Fisher-Yates) drawn from `generator`.
 * @example randperm(5, new Generator(0)) // e.g. Int32Array [3, 0, 4, 1, 2]
 */
export function randperm(n: number, generator: Generator = defaultGenerator): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new TensorslimError('randperm', `n must be a non-negative integer, got ${n}`);
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = generator.randint(0, i + 1);
    const tmp = p[i]!; p[i] = p[j]!; p[j] = tmp;
  }
  return p;
}

/**
 * Split a dataset into non-overlapping random subsets (torch.utils.data.random_split). `lengths`
 * are sample counts that sum to the dataset length, or fractions that sum to 1 (each part gets
 * floor(n * f) and the remainder is dealt one by one to the first parts, as PyTorch does).
 * @example const [train, val] = randomSplit(ds, [0.9, 0.1], new Generator(42));
 */
export function randomSplit<T>(dataset: Dataset<T>, lengths: readonly number[], generator: Generator = defaultGenerator): Subset<T>[] {
  const n = dataset.length;
  if (lengths.length === 0) throw new TensorslimError('randomSplit', 'expected at least one length');
  if (lengths.some((l) => !Number.isFinite(l) || l < 0)) throw new TensorslimError('randomSplit', `lengths must be non-negative numbers, got [${lengths.join(', ')}]`);
  let counts: number[];
  const total = lengths.reduce((s, l) => s + l, 0);
  if (lengths.every((l) => Number.isInteger(l)) && total === n) {
    counts = [...lengths];
  } else if (Math.abs(total - 1) < 1e-9 && lengths.every((l) => l <= 1)) {
    counts = lengths.map((f) => Math.floor(n * f));
    let rem = n - counts.reduce((s, c) => s + c, 0);
    for (let i = 0; rem > 0; i = (i + 1) % counts.length, rem--) counts[i]!++;
  } else {
    throw new TensorslimError('randomSplit', `lengths [${lengths.join(', ')}] must be integers summing to the dataset length ${n} or fractions summing to 1`);
  }
  const perm = randperm(n, generator);
  const out: Subset<T>[] = [];
  let pos = 0;
  for (const c of counts) { out.push(new Subset(dataset, perm.subarray(pos, pos + c))); pos += c; }
  return out;
}
