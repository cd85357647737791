// DataLoader: batches of a dataset, in order or reshuffled each epoch from a seeded generator.
// It copies one batch at a time (datasets with getBatch gather the rows straight from their storage)
// and its sampler state (epoch, position in the epoch, generator state) can be saved and restored,
// so a resumed run sees exactly the batches an uninterrupted run would have seen.
// An optional batch transform (data augmentation) gets a Generator derived from the pass's start
// state, the epoch and the batch index, so augmented batches also repeat exactly after a resume.
// It must not: hold more than one batch, or draw random numbers from anything but its generator.

import { TensorslimError } from '../core/errors.js';
import { Generator, type GeneratorState } from '../core/random.js';
import type { BatchTransform } from './augment.js';
import { defaultCollate, type Collated } from './collate.js';
import { hasGetBatch, randperm, type Dataset } from './dataset.js';

export interface DataLoaderOptions<T, B> {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** Reshuffle the samples at the start of every epoch (default false). */
  shuffle?: boolean;
  /** Source of the shuffles. Default: a private Generator seeded with `seed`. */
  generator?: Generator;
  /** Seed of the private generator when no generator is given (default 0). */
  seed?: number;
  /** Drop the last batch when it is smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Turn a list of samples into a batch. Default: the dataset's getBatch if it has one, else defaultCollate. */
  collate?: (samples: T[]) => B;
  /**
   * Applied to every batch after collation (data augmentation, e.g. randomShift). Its randomness must
   * come from `ctx.generator`, a fresh Generator derived from (the pass's start state, epoch, batch
   * index): the same batch of the same epoch gets the same transform in a resumed run.
   */
  transform?: BatchTransform<B>;
}

/**
 * Where a DataLoader stands: `epoch` passes have been started before the one in progress,
 * `position` batches of the pass in progress were handed out, and `generator` is the generator
 * state at the start of that pass (or the current state when no pass is in progress).
 * Plain JSON: store it in a checkpoint's metadata.
 */
export interface DataLoaderState {
  readonly epoch: number;
  readonly position: number;
  readonly generator: GeneratorState;
  /** Dataset length and batch size the state was taken with; checked on restore. */
  readonly datasetLength: number;
  readonly batchSize: number;
}

interface Pass {
  readonly epoch: number;
  readonly order: Int32Array;
  readonly startState: GeneratorState;
  position: number;
}

/**
 * Iterate over a dataset in batches, like torch.utils.data.DataLoader (single process).
 * @example
 * const loader = new DataLoader(new TensorDataset(x, y), { batchSize: 64, shuffle: true, seed: 1 });
 * for (const [xb, yb] of loader) { ... }   // xb: (64, ...), yb: (64,)
 * const saved = loader.stateDict();        // later: loader.loadStateDict(saved) resumes exactly
 */
export class DataLoader<T, B = Collated<T>> implements Iterable<B> {
  readonly dataset: Dataset<T>;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly generator: Generator;
  private readonly collate: ((samples: T[]) => B) | undefined;
  private readonly transform: BatchTransform<B> | undefined;
  private passesStarted = 0;
  private current: Pass | null = null;
  /** A pass left early (for..of exited with a break, return or throw); stateDict() reports it. */
  private abandoned: Pass | null = null;
  private resumeAt = 0;

  constructor(dataset: Dataset<T>, opts: DataLoaderOptions<T, B> = {}) {
    const batchSize = opts.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new TensorslimError('DataLoader', `batchSize must be a positive integer, got ${batchSize}`);
    if (!dataset || !Number.isInteger(dataset.length) || dataset.length < 0 || typeof dataset.get !== 'function') {
      throw new TensorslimError('DataLoader', 'expected a dataset with an integer length and a get(index) method');
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = opts.shuffle ?? false;
    this.dropLast = opts.dropLast ?? false;
    this.generator = opts.generator ?? new Generator(opts.seed ?? 0);
    this.collate = opts.collate;
    if (opts.transform !== undefined && typeof opts.transform !== 'function') throw new TensorslimError('DataLoader', 'transform must be a function (batch, ctx) => batch');
    this.transform = opts.transform;
  }

  /** Number of batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Number of passes started so far (the pass in progress included). */
  get epoch(): number { return this.passesStarted; }

  /**
   * One pass over the dataset. Starting a new for..of begins a new epoch (a fresh shuffle), also
   * after a pass left early, as in PyTorch; stateDict() taken after such an early exit still
   * describes the batches actually handed out, so restoring it elsewhere continues that pass.
   */
  *[Symbol.iterator](): Iterator<B> {
    const nb = this.length;
    const startState = this.generator.getState();
    const order = this.shuffle ? randperm(this.dataset.length, this.generator) : identity(this.dataset.length);
    const pass: Pass = { epoch: this.passesStarted, order, startState, position: this.resumeAt };
    this.resumeAt = 0;
    this.passesStarted++;
    this.current = pass;
    this.abandoned = null;
    try {
      while (pass.position < nb) {
        const b = pass.position;
        const idx = order.slice(b * this.batchSize, Math.min((b + 1) * this.batchSize, order.length));
        let batch = this.fetch(idx);
        if (this.transform) batch = this.transform(batch, { generator: transformGenerator(startState, pass.epoch, b), epoch: pass.epoch, index: b });
        pass.position = b + 1;
        yield batch;
      }
    } finally {
      if (this.current === pass) {
        this.current = null;
        if (pass.position < nb) this.abandoned = pass;
      }
    }
  }

  private fetch(idx: Int32Array): B {
    const ds = this.dataset;
    if (this.collate) return this.collate(Array.from(idx, (i) => ds.get(i)));
    if (hasGetBatch(ds)) return ds.getBatch(idx) as B;
    return defaultCollate(Array.from(idx, (i) => ds.get(i))) as B;
  }

  /**
   * The sampler state. Taken after k batches of an epoch were consumed, restoring it makes the next
   * for..of continue that epoch at batch k with the same order; taken after an epoch's last batch,
   * the next for..of starts the following epoch, as it would have without the interruption.
   * After a for..of left early (break) it still reports the k batches that pass handed out.
   * @example const s = loader.stateDict(); other.loadStateDict(s);
   */
  stateDict(): DataLoaderState {
    const p = this.current ?? this.abandoned;
    const base = { datasetLength: this.dataset.length, batchSize: this.batchSize };
    if (p && p.position < this.length) {
      return { epoch: p.epoch, position: p.position, generator: p.startState, ...base };
    }
    return { epoch: this.passesStarted, position: 0, generator: this.generator.getState(), ...base };
  }

  /**
   * Restore a state from stateDict(). The next for..of continues from there.
   * @example loader.loadStateDict(JSON.parse(json))
   */
  loadStateDict(state: DataLoaderState): void {
    const op = 'DataLoader.loadStateDict';
    if (!state || typeof state !== 'object') throw new TensorslimError(op, 'expected the object returned by stateDict()');
    const { epoch, position, generator, datasetLength, batchSize } = state;
    if (!Number.isInteger(epoch) || epoch < 0) throw new TensorslimError(op, `epoch must be a non-negative integer, got ${String(epoch)}`);
    if (datasetLength !== this.dataset.length || batchSize !== this.batchSize) {
      throw new TensorslimError(op, `the state was saved for a dataset of ${datasetLength} samples in batches of ${batchSize}, but this loader has ${this.dataset.length} samples in batches of ${this.batchSize}; resume with the same data and batch size`);
    }
    if (!Number.isInteger(position) || position < 0 || position >= Math.max(this.length, 1)) {
      throw new TensorslimError(op, `position must be an integer in [0, ${Math.max(this.length - 1, 0)}] (batches per epoch: ${this.length}), got ${String(position)}`);
    }
    this.generator.setState(generator); // validates the generator state before anything else changes
    this.passesStarted = epoch;
    this.resumeAt = position;
    this.current = null;
    this.abandoned = null;
  }
}

/**
 * The generator a batch transform gets: seeded by mixing the pass's start state with the epoch and
 * the batch index (splitmix32-style finalizer), so it depends only on state a checkpoint holds.
 */
function transformGenerator(start: GeneratorState, epoch: number, index: number): Generator {
  const words = [...start.s, epoch >>> 0, Math.floor(epoch / 4294967296) >>> 0, index >>> 0, 0x7a3f1c5b];
  const s: [number, number, number, number] = [0, 0, 0, 0];
  for (let k = 0; k < 4; k++) {
    let h = (0x9e3779b9 * (k + 1)) >>> 0;
    for (const w of words) h = mix32((h ^ w) >>> 0);
    s[k] = h;
  }
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  const g = new Generator(0);
  g.setState({ s, spare: null });
  return g;
}

function mix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function identity(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}
