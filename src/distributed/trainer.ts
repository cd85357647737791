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
import { ZeroRedundancyOptimizer, type OptimizerClass } from './zero.js';
import { Zero3 } from './zero3.js';
import type { Optimizer, OptimizerOptions, OptimizerStateDict } from '../optim/index.js';
import { copyHyperParameters } from './flat_shard.js';
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

/** Options of dataParallel() / DataParallelTraining: DDP's, a comm hook, or ZeRO instead of DDP. */
export interface DataParallelOptions extends Omit<DistributedDataParallelOptions, 'group'> {
  commHook?: CommHookSpec;
  /**
   * ZeRO stage 1 or 2 instead of DDP: the Trainer's optimizer is replaced, for the step, by a
   * ZeroRedundancyOptimizer of the same class and hyper-parameters (its state sharded over the
   * ranks; stage 2 also the gradients); checkpoints hold the consolidated state (the file DDP would
   * write). Not with commHook. 3: the parameters are sharded too (zero3.ts: gathered per unit for
   * its forward and its backward, gradients reduce-scattered per unit); the same checkpoints.
   */
  zero?: 1 | 2 | 3;
}

/**
 * Data-parallel training for runTraining, runGptTraining, the prune and distill workflows and your
 * own Trainer: shards each global batch over the ranks (ShardedLoader), averages gradients with DDP
 * (created at each fit's start, after any resume, from the trained model) or steps a ZeRO optimizer
 * (`zero: 1 | 2`), and sums the epoch metrics over ranks. Get one with dataParallel().
 * @example
 * const dp = await distributed.dataParallel({ zero: 2 });
 * await new Trainer({ model, optimizer, trainLoader: dp ? dp.shard(loader) : loader, callbacks: dp ? [dp.callback()] : [] }).fit();
 */
export class DataParallelTraining implements DataParallel {
  readonly rank: number;
  readonly worldSize: number;
  private weight = 1;
  /** The DDP of the fit in progress (null between fits and with ZeRO): its commStats() time the communication. */
  ddp: DistributedDataParallel | null = null;

  constructor(readonly group: ProcessGroup, private readonly ddpOptions: DataParallelOptions = {}) {
    this.rank = group.rank;
    this.worldSize = group.worldSize;
    if (ddpOptions.zero !== undefined && ddpOptions.zero !== 1 && ddpOptions.zero !== 2 && ddpOptions.zero !== 3) throw new Error(`dataParallel: zero must be 1, 2 or 3, got ${String(ddpOptions.zero)}`);
    if (ddpOptions.zero !== undefined && ddpOptions.commHook !== undefined) throw new Error('dataParallel: a comm hook compresses DDP\'s all-reduce; ZeRO reduces the gradients itself: give zero or commHook, not both');
  }

  /** See DataParallel.shard. @example trainer = new Trainer({ ..., trainLoader: dp.shard(loader) }) */
  shard<B>(loader: TrainLoader<B>): TrainLoader<B> {
    return new ShardedLoader(loader, this.rank, this.worldSize, (w) => { this.weight = w; });
  }

  /** See DataParallel.callback. @example callbacks: [dp.callback({ accumulating: true })] */
  callback<B>(opts: { accumulating?: boolean } = {}): Callback<B> {
    if (this.ddpOptions.zero === 3) return this.zero3Callback<B>();
    if (this.ddpOptions.zero !== undefined) return this.zeroCallback<B>(this.ddpOptions.zero, opts.accumulating ?? false);
    return {
      onTrainBegin: async (t) => {
        const { commHook, zero: _zero, ...ddpOpts } = this.ddpOptions;
        const ddp = await DistributedDataParallel.create(t.model, { ...ddpOpts, group: this.group });
        if (commHook !== undefined) ddp.registerCommHook(commHook);
        if (opts.accumulating) ddp.overlap = false;
        this.ddp = ddp;
      },
      onStepBegin: () => { if (this.ddp) this.ddp.gradientScale = this.weight; },
      onAfterBackward: () => this.ddp?.finishGradientSync(),
      onTrainEnd: () => { this.ddp?.remove(); this.ddp = null; },
    };
  }

  // ZeRO in the Trainer. The Trainer keeps its optimizer (the scheduler drives its learning rate,
  // checkpoints record its class) but never steps it: the ZeroRedundancyOptimizer built over the
  // same parameter groups steps instead, with the hyper-parameters copied over before each step.
  // Around checkpoints (onEpochEnd precedes every epoch-end checkpoint write, onBeforeStepCheckpoint a
  // step checkpoint's, on every rank) the sharded state
  // is consolidated on rank 0 into the Trainer's optimizer, so the file is the one DDP would write;
  // a resumed state (loaded into the Trainer's optimizer before fit) is handed to the shards.
  // A later fit with the same optimizer over the same parameters continues with the same shards.
  private readonly zeros = new WeakMap<Optimizer, ZeroRedundancyOptimizer<OptimizerOptions>>();
  private zeroHooked: ZeroRedundancyOptimizer<OptimizerOptions>[] = [];

  // The gradients are reduced during backward (zero.overlap), except when a step accumulates several
  // backward passes' worth inside one loss... (`accumulating`, as DDP's overlap = false).
  private zeroCallback<B>(stage: 1 | 2, accumulating: boolean): Callback<B> {
    let zero: ZeroRedundancyOptimizer<OptimizerOptions> | null = null;
    let full: Optimizer | null = null;
    const dropFullState = (): void => { full?.state.clear(); };
    const consolidate = (): Promise<void> => {
      copyHyperParameters(full!, zero!.optimizer); // the groups' current ones: the schedule has moved since the last step
      return consolidateInto(full!, zero!);
    };
    return {
      onTrainBegin: async (t) => {
        full = t.optimizer;
        const params = full.paramGroups.flatMap((g) => g.params);
        const prev = this.zeros.get(full);
        if (prev && prev.stage === stage && sameParams(prev, params)) {
          zero = prev;
          await zero.broadcastParameters();
        } else {
          const groups = full.paramGroups.map(({ params: ps, ...hyper }) => ({ ...hyper, params: [...ps] }));
          zero = new ZeroRedundancyOptimizer(groups, full.constructor as OptimizerClass<OptimizerOptions>, full.defaults, { stage, group: this.group, bucketCapMB: this.ddpOptions.bucketCapMB ?? 4 });
          // An earlier fit's ZeRO (another optimizer, e.g. prune's next phase) stops watching the
          // parameters' gradients (its hooks would keep it alive); reused later, it reduces at step().
          for (const z of this.zeroHooked) z.remove();
          this.zeroHooked = [zero];
          this.zeros.set(full, zero);
          await zero.broadcastParameters(); // rank 0's weights everywhere, as DDP does
          if (await this.allResumed(full)) zero.loadStateDict(full.stateDict());
        }
        zero.overlap = !accumulating;
        dropFullState();
      },
      onStepBegin: () => { dropFullState(); zero!.gradientScale = this.weight; },
      onOptimizerStep: async (_t, clipNorm) => {
        const z = zero!;
        copyHyperParameters(full!, z.optimizer);
        const norm = clipNorm === null ? null : await z.clipGradNorm(clipNorm);
        if (norm === null || Number.isFinite(norm)) await z.step();
        z.zeroGrad();
        return norm;
      },
      onEpochEnd: consolidate,
      onBeforeStepCheckpoint: consolidate,   // a mid-epoch checkpoint (checkpointEvery)
      onTrainEnd: () => { if (zero) zero.overlap = false; zero = null; },
    };
  }

  /** The ZeRO-3 state of the fit in progress (null otherwise): its memory() is what a rank holds. */
  zero3: Zero3 | null = null;
  private readonly zero3Inner = new WeakMap<Optimizer, { inner: Optimizer<OptimizerOptions>; params: Tensor[] }>();

  // ZeRO-3 in the Trainer (zero3.ts): the Trainer's optimizer keeps the hyper-parameters (LR
  // schedule) and, on rank 0 around checkpoints, the consolidated state; the inner optimizer over
  // the shards steps. The model is whole from the start of the fit to the first step, at every
  // epoch end (evaluation and the checkpoint; reduceEpoch precedes the evaluation) and after the fit.
  // A later fit with the same optimizer over the same parameters keeps its inner optimizer's state.
  private zero3Callback<B>(): Callback<B> {
    let z: Zero3 | null = null;
    let full: Optimizer | null = null;
    const consolidate = (): Promise<void> => { z!.materialize(); return consolidateInto(full!, z!); };
    return {
      onTrainBegin: async (t) => {
        full = t.optimizer;
        const params = full.paramGroups.flatMap((g) => g.params);
        for (const p of params) await this.group.broadcast(p, 0); // rank 0's weights everywhere, as DDP does
        const prev = this.zero3Inner.get(full);
        const reuse = prev !== undefined && prev.params.length === params.length && prev.params.every((p, i) => p === params[i]);
        z = new Zero3(t.model, full, this.group, reuse ? { inner: prev.inner } : {});
        this.zero3Inner.set(full, { inner: z.inner, params });
        if (!reuse && await this.allResumed(full)) z.loadStateDict(full.stateDict());
        full.state.clear();
        this.zero3 = z;
      },
      onStepBegin: () => { full!.state.clear(); z!.gradientScale = this.weight; z!.beginStep(); },
      onAfterBackward: () => z!.finishBackward(),
      onOptimizerStep: (_t, clipNorm) => z!.step(clipNorm),
      onEpochEnd: consolidate,
      onBeforeStepCheckpoint: consolidate,   // a mid-epoch checkpoint (checkpointEvery)
      onTrainEnd: () => { z?.finish(); z = null; this.zero3 = null; },
    };
  }

  // A resumed run: every rank loaded the checkpoint's full state into `full` (a consolidated state
  // left on rank 0 alone by an earlier fit is not one), so all ranks are asked before loading it.
  private async allResumed(full: Optimizer): Promise<boolean> {
    const flag = await this.group.allReduce(fromBuffer(new Int32Array([full.state.size > 0 ? 1 : 0]), 'int32', [1]), 'min');
    return (flag.data as Int32Array)[0] === 1;
  }

  /** See DataParallel.reduceEpoch: sums over ranks; the time is the slowest rank's. @example await dp.reduceEpoch(accum) */
  async reduceEpoch(a: EpochAccumulators): Promise<EpochAccumulators> {
    this.zero3?.materialize(); // the Trainer evaluates next: the whole model on every rank
    const sums = await this.group.allReduce(fromBuffer(new Float64Array([a.lossSum, a.samples, a.correct, a.counted]), 'float64', [4]), 'sum');
    const time = await this.group.allReduce(fromBuffer(new Float64Array([a.seconds]), 'float64', [1]), 'max');
    const s = sums.data as Float64Array;
    return { lossSum: s[0]!, samples: s[1]!, correct: s[2]!, counted: s[3]!, seconds: (time.data as Float64Array)[0]!, batches: a.batches };
  }
}

// The sharded optimizer state consolidated on rank 0 into the Trainer's optimizer `full` (every
// rank calls it; the others get nothing), so rank 0 writes the checkpoint DDP would.
async function consolidateInto(full: Optimizer, sharded: { consolidateStateDict(to: number): Promise<OptimizerStateDict | null> }): Promise<void> {
  const sd = await sharded.consolidateStateDict(0);
  if (sd !== null) full.loadStateDict(sd);
}

function sameParams(zero: ZeroRedundancyOptimizer<OptimizerOptions>, params: readonly Tensor[]): boolean {
  const had = zero.params;
  return had.length === params.length && had.every((p, i) => p === params[i]);
}

/**
 * Data parallelism from the launch contract: null when this process was not launched as one of
 * several ranks (world size 1); otherwise initializes the default process group (Gloo) if needed.
 * @example const dp = await distributed.dataParallel();   // under tensorslim launch / torchrun
 */
export async function dataParallel(opts: DataParallelOptions & { env?: Env } = {}): Promise<DataParallelTraining | null> {
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
