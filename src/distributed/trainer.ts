// The Trainer (src/train) run data-parallel, through its public seams only: a loader that gives each
// rank its DistributedSampler share of every epoch, and a callback that averages the gradients
// (DDP) between backward and the optimizer step and tells the loader which epoch starts.

import { DataLoader, type DataLoaderOptions } from '../data/dataloader.js';
import type { Collated } from '../data/collate.js';
import type { Dataset } from '../data/dataset.js';
import type { Callback, TrainLoader } from '../train/index.js';
import type { DistributedDataParallel } from './ddp.js';
import { DistributedSampler, type DistributedSamplerOptions } from './sampler.js';

/**
 * A Trainer loader over this rank's share of `dataset`, reshuffled per epoch like PyTorch's
 * DistributedSampler (the same seed on every rank). `batchSize` is per rank.
 * @example const loader = new DistributedLoader(train, { batchSize: 32 }, { seed: 1 });
 */
export class DistributedLoader<T, B = Collated<T>> implements TrainLoader<B> {
  readonly sampler: DistributedSampler;

  constructor(readonly dataset: Dataset<T>, private readonly opts: Omit<DataLoaderOptions<T, B>, 'shuffle' | 'generator' | 'seed'> = {}, samplerOpts: DistributedSamplerOptions = {}) {
    this.sampler = new DistributedSampler(dataset.length, samplerOpts);
  }

  /** Batches per epoch on this rank (the same on every rank). */
  get length(): number {
    const n = this.sampler.numSamples;
    const b = this.opts.batchSize ?? 1;
    return this.opts.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  /** Selects the shuffle of epoch `e` (distributedCallback calls it at each epoch start). */
  setEpoch(e: number): void { this.sampler.setEpoch(e); }

  [Symbol.iterator](): Iterator<B> {
    return new DataLoader<T, B>(this.sampler.subset(this.dataset), this.opts)[Symbol.iterator]();
  }
}

/**
 * A Trainer callback for data-parallel training: after each backward it awaits DDP's gradient
 * averaging (so clipping and the step see the global gradient); at each epoch start it selects the
 * loader's shuffle.
 * @example new Trainer({ model, optimizer, trainLoader: loader, callbacks: [distributedCallback(ddp, loader)] })
 */
export function distributedCallback<B>(ddp: DistributedDataParallel, loader?: { setEpoch(e: number): void }): Callback<B> {
  return {
    onEpochBegin: (t) => { loader?.setEpoch(t.epoch); },
    onAfterBackward: () => ddp.finishGradientSync(),
  };
}
