// The Trainer (src/train) run data-parallel, through its public seams only: a loader that gives each
// rank its DistributedSampler share of every epoch, and a callback that averages the gradients
// (DDP) between backward and the optimizer step and tells the loader which epoch starts.

import { existsSync } from 'node:fs';
import { Tensor, fromBuffer } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { DataLoader, type DataLoaderOptions, type DataLoaderState } from '../data/dataloader.js';
import type { Collated } from '../data/collate.js';
import type { Dataset } from '../data/dataset.js';
import type { Callback, DataParallel, EpochAccumulators, TrainLoader } from '../train/index.js';
import { DistributedDataParallel, type DistributedDataParallelOptions } from './ddp.js';
import type { CommHookSpec } from './comm_hooks.js';
import { defaultGroup, initProcessGroup, isInitialized, type ProcessGroup } from './process_group.js';
import { readLaunchEnv, type Env } from './env.js';
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

/**
 * A Trainer loader that gives this rank its slice of every global batch of `inner`: every rank
 * iterates the same loader (same seed, so the same batches), and rank r keeps rows
 * [floor(r n / W), floor((r+1) n / W)) of each tensor of a batch of n samples. N ranks then train
 * exactly as one process on the global batch, and the loader state (rank 0's, in its checkpoint)
 * resumes every rank. A rank whose share of a short last batch is empty gets the first sample with
 * weight 0. `onShare` receives each batch's gradient weight W n_r / n (DDP's gradientScale).
 * @example const loader = new ShardedLoader(new DataLoader(train, { batchSize: 64, shuffle: true }), rank, world);
 */
export class ShardedLoader<B> implements TrainLoader<B> {
  readonly stateDict?: () => DataLoaderState;
  readonly loadStateDict?: (state: DataLoaderState) => void;

  constructor(readonly inner: TrainLoader<B>, readonly rank: number, readonly worldSize: number, private readonly onShare?: (weight: number) => void) {
    if (!Number.isInteger(rank) || !Number.isInteger(worldSize) || rank < 0 || rank >= worldSize) {
      throw new Error(`ShardedLoader: rank ${rank} is out of range for world size ${worldSize}`);
    }
    const st = inner.stateDict;
    const ld = inner.loadStateDict;
    if (st) this.stateDict = () => st.call(inner);
    if (ld) this.loadStateDict = (s) => ld.call(inner, s);
  }

  /** Batches per epoch (the inner loader's). */
  get length(): number { return this.inner.length; }

  *[Symbol.iterator](): Iterator<B> {
    for (const batch of this.inner) yield this.slice(batch);
  }

  private slice(batch: B): B {
    const parts: readonly unknown[] = Array.isArray(batch) ? batch : [batch];
    const first = parts[0];
    if (!(first instanceof Tensor) || parts.some((t) => !(t instanceof Tensor) || t.shape[0] !== first.shape[0])) {
      throw new Error('ShardedLoader: a batch must be a tensor or an array of tensors with the same first dimension (the samples)');
    }
    const n = first.shape[0]!;
    let start = Math.floor((this.rank * n) / this.worldSize);
    let len = Math.floor(((this.rank + 1) * n) / this.worldSize) - start;
    this.onShare?.((this.worldSize * len) / n);
    if (len === 0) { start = 0; len = 1; } // weight 0: present for the collectives, no gradient
    const out = (parts as Tensor[]).map((t) => (start === 0 && len === n ? t : ops.narrow(t, 0, start, len).contiguous()));
    return (Array.isArray(batch) ? out : out[0]) as B;
  }
}

/**
 * Data-parallel training for runTraining, runGptTraining, the prune and distill workflows and your
 * own Trainer: shards each global batch over the ranks (ShardedLoader), averages gradients with DDP
 * (created at each fit's start, after any resume, from the trained model), and sums the epoch
 * metrics over ranks. Get one with dataParallel().
 * @example
 * const dp = await distributed.dataParallel();
 * await new Trainer({ model, optimizer, trainLoader: dp ? dp.shard(loader) : loader, callbacks: dp ? [dp.callback()] : [] }).fit();
 */
export class DataParallelTraining implements DataParallel {
  readonly rank: number;
  readonly worldSize: number;
  private weight = 1;

  constructor(readonly group: ProcessGroup, private readonly ddpOptions: Omit<DistributedDataParallelOptions, 'group'> & { commHook?: CommHookSpec } = {}) {
    this.rank = group.rank;
    this.worldSize = group.worldSize;
  }

  /** See DataParallel.shard. @example trainer = new Trainer({ ..., trainLoader: dp.shard(loader) }) */
  shard<B>(loader: TrainLoader<B>): TrainLoader<B> {
    return new ShardedLoader(loader, this.rank, this.worldSize, (w) => { this.weight = w; });
  }

  /** See DataParallel.callback. @example callbacks: [dp.callback({ accumulating: true })] */
  callback<B>(opts: { accumulating?: boolean } = {}): Callback<B> {
    let ddp: DistributedDataParallel | null = null;
    return {
      onTrainBegin: async (t) => {
        ddp = await DistributedDataParallel.create(t.model, { ...this.ddpOptions, group: this.group });
        if (this.ddpOptions.commHook !== undefined) ddp.registerCommHook(this.ddpOptions.commHook);
        if (opts.accumulating) ddp.overlap = false;
      },
      onStepBegin: () => { if (ddp) ddp.gradientScale = this.weight; },
      onAfterBackward: () => ddp?.finishGradientSync(),
      onTrainEnd: () => { ddp?.remove(); ddp = null; },
    };
  }

  /** See DataParallel.reduceEpoch: sums over ranks; the time is the slowest rank's. @example await dp.reduceEpoch(accum) */
  async reduceEpoch(a: EpochAccumulators): Promise<EpochAccumulators> {
    const sums = await this.group.allReduce(fromBuffer(new Float64Array([a.lossSum, a.samples, a.correct, a.counted]), 'float64', [4]), 'sum');
    const time = await this.group.allReduce(fromBuffer(new Float64Array([a.seconds]), 'float64', [1]), 'max');
    const s = sums.data as Float64Array;
    return { lossSum: s[0]!, samples: s[1]!, correct: s[2]!, counted: s[3]!, seconds: (time.data as Float64Array)[0]!, batches: a.batches };
  }
}

/**
 * Data parallelism from the launch contract: null when this process was not launched as one of
 * several ranks (world size 1); otherwise initializes the default process group (Gloo) if needed.
 * @example const dp = await distributed.dataParallel();   // under tensorslim launch / torchrun
 */
export async function dataParallel(opts: Omit<DistributedDataParallelOptions, 'group'> & { commHook?: CommHookSpec; env?: Env } = {}): Promise<DataParallelTraining | null> {
  const { env, ...ddp } = opts;
  if (!isInitialized()) {
    if (readLaunchEnv(env ?? process.env).worldSize <= 1) return null;
    await initProcessGroup({ backend: 'gloo' });
  }
  const group = defaultGroup('dataParallel');
  return group.worldSize > 1 ? new DataParallelTraining(group, ddp) : null;
}

/**
 * The checkpoint a restarted worker resumes from: `out` when the launcher restarted this run
 * (TENSORSLIM_RESTART_COUNT or TORCHELASTIC_RESTART_COUNT > 0) and the file exists, else null.
 * @example const resume = flags.resume ?? restartCheckpoint(flags.out);
 */
export function restartCheckpoint(out: string | undefined, env: Env = process.env): string | null {
  const count = Number(env['TENSORSLIM_RESTART_COUNT'] ?? env['TORCHELASTIC_RESTART_COUNT'] ?? 0);
  return out !== undefined && count > 0 && existsSync(out) ? out : null;
}

/**
 * A checksum of `model`'s parameters on every rank (all-gathered, rank order): equal numbers mean
 * the replicas agree. Weighted sum of every value (weights 1..7 by position), in float64.
 * @example const sums = await parameterChecksums(model, group);   // [s0, s1]: identical under DDP
 */
export async function parameterChecksums(model: { parameters(): Tensor[] }, group: ProcessGroup): Promise<number[]> {
  let s = 0;
  for (const p of model.parameters()) {
    const c = p.contiguous();
    const d = c.data;
    for (let i = 0; i < c.size; i++) s += Number(d[c.offset + i]) * ((i % 7) + 1);
  }
  const all = await group.allGather(fromBuffer(new Float64Array([s]), 'float64', [1]));
  return Array.from(all.data as Float64Array);
}
