// DistributedSampler: which samples this rank sees in an epoch, like torch.utils.data.distributed.
// DistributedSampler: every rank draws the same permutation (seed + epoch), pads it by repeating its
// head until it divides evenly (or drops the tail with dropLast), and takes every worldSize-th index
// starting at its rank, so the ranks' shares are disjoint (up to the padding) and equally long.

import { Generator } from '../core/random.js';
import { Subset, randperm, type Dataset } from '../data/dataset.js';
import { getRank, getWorldSize } from './process_group.js';

export interface DistributedSamplerOptions {
  /** Default: the default group's world size. */
  numReplicas?: number;
  /** Default: the default group's rank. */
  rank?: number;
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean;
  /** Shuffle seed, the same on every rank (default 0). */
  seed?: number;
  /** Drop the tail that does not divide evenly instead of padding (default false). */
  dropLast?: boolean;
}

/**
 * Splits a dataset of `length` samples across ranks, reshuffled per epoch with `setEpoch`.
 * @example
 * const sampler = new DistributedSampler(train.length, { seed: 1 });
 * for (let epoch = 0; epoch < 3; epoch++) {
 *   sampler.setEpoch(epoch);
 *   const loader = new DataLoader(sampler.subset(train), { batchSize: 32 });
 * }
 */
export class DistributedSampler {
  readonly numReplicas: number;
  readonly rank: number;
  private epoch = 0;
  private readonly opts: Required<Pick<DistributedSamplerOptions, 'shuffle' | 'seed' | 'dropLast'>>;

  constructor(readonly length: number, opts: DistributedSamplerOptions = {}) {
    this.numReplicas = opts.numReplicas ?? getWorldSize();
    this.rank = opts.rank ?? getRank();
    this.opts = { shuffle: opts.shuffle ?? true, seed: opts.seed ?? 0, dropLast: opts.dropLast ?? false };
    if (!Number.isInteger(length) || length < 0) throw new Error(`DistributedSampler: length must be a non-negative integer, got ${length}`);
    if (!Number.isInteger(this.numReplicas) || this.numReplicas < 1) throw new Error(`DistributedSampler: numReplicas must be a positive integer, got ${this.numReplicas}`);
    if (!Number.isInteger(this.rank) || this.rank < 0 || this.rank >= this.numReplicas) {
      throw new Error(`DistributedSampler: rank ${this.rank} is out of range for ${this.numReplicas} replicas`);
    }
  }

  /** Samples per rank per epoch. */
  get numSamples(): number {
    return this.opts.dropLast ? Math.floor(this.length / this.numReplicas) : Math.ceil(this.length / this.numReplicas);
  }

  /** Selects the epoch's shuffle; call at the start of every epoch, on every rank. */
  setEpoch(epoch: number): void { this.epoch = epoch; }

  /**
   * This rank's indices for the current epoch.
   * @example new DistributedSampler(10, { numReplicas: 4, rank: 1, shuffle: false }).indices() // [1, 5, 9]
   */
  indices(): number[] {
    const n = this.length;
    const order = this.opts.shuffle ? Array.from(randperm(n, new Generator(this.opts.seed + this.epoch))) : Array.from({ length: n }, (_, i) => i);
    const total = this.numSamples * this.numReplicas;
    if (total <= n) order.length = total; // dropLast: cut the tail
    else for (let i = n, k = 0; i < total; i++, k++) order.push(order[k % n]!); // pad by repeating the head
    const mine: number[] = [];
    for (let i = this.rank; i < total; i += this.numReplicas) mine.push(order[i]!);
    return mine;
  }

  /** This rank's share of `dataset` for the current epoch. */
  subset<T>(dataset: Dataset<T>): Subset<T> { return new Subset(dataset, this.indices()); }
}
