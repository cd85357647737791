// Data-parallel training as the training layer sees it: an interface that runTraining,
// runGptTraining and the compress workflows accept, implemented by src/distributed (which sits above
// this layer) as `distributed.dataParallel()`. The training code only asks it to shard the loader,
// for a callback (gradient averaging), to sum the epoch's running sums over ranks, and whether this
// rank is the one that writes files.

import type { Callback } from './callbacks.js';
import type { EpochAccumulators, TrainLoader } from './trainer.js';

/**
 * Data parallelism for the Trainer (see docs/DISTRIBUTED.md, "The CLI, distributed"). Every rank
 * iterates the same global batches and trains on its slice; gradients are averaged over ranks.
 *
 * @example
 * const dp = await distributed.dataParallel();         // null when not launched (world size 1)
 * await runTraining({ model: 'mlp', dataset: 'mnist', ...(dp ? { parallel: dp } : {}) });
 */
export interface DataParallel {
  /** This process's rank (0 writes checkpoints and logs). */
  readonly rank: number;
  readonly worldSize: number;
  /** This rank's part of every global batch `loader` yields (same length and state as `loader`). */
  shard<B>(loader: TrainLoader<B>): TrainLoader<B>;
  /** A callback that keeps the replicas identical (gradient averaging); one per Trainer. */
  callback<B>(opts?: { accumulating?: boolean }): Callback<B>;
  /** The epoch's running sums added up over ranks (mean loss and accuracy of the global batches). */
  reduceEpoch(a: EpochAccumulators): Promise<EpochAccumulators>;
}
