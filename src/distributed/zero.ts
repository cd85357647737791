// ZeRO stages 1 and 2 (Rajbhandari et al. 2020), PyTorch's ZeroRedundancyOptimizer idea on our
// collectives: every rank keeps the whole model, but the optimizer state lives in shards. The
// trainable parameters of each parameter group are laid out, per dtype, in one flat vector padded to
// a multiple of the world size N; rank r owns the r-th run of S = ceil(P / N) elements. The wrapped
// optimizer (SGD, Adam, AdamW, ... any elementwise optimizer of src/optim) runs on rank r over its
// shard alone, as one flat parameter per (group, dtype), so its state is 1/N of the usual size.
//
// step():
//   stage 1: the flat gradient is all-reduced (average); every rank keeps the full averaged .grad
//            (as DDP leaves it) and hands its shard's slice to the inner optimizer;
//   stage 2: the flat gradient is reduce-scattered (average; half the bytes of an all-reduce) and
//            every parameter's .grad is dropped, so between steps a rank holds 1/N of the gradients;
//   both:    the inner optimizer updates the shard, and the updated shards are all-gathered back
//            into every rank's parameters (in place: parameter objects keep their identity).
// With `overlap` (bucketCapMB), the gradients are reduced during backward, as DDP's: each flat vector
// is cut into buckets of whole parameters in reverse order (about the order backward finishes them);
// a bucket starts (stage 1: all-reduce; stage 2: reduce-scatter with per-rank counts, each rank
// receiving the part of the bucket inside its shard) once its gradients are final and every earlier
// bucket has started. reduceGradients() then starts what is left and waits.
// Buffers: each flat vector has one communication buffer of N * S elements, allocated at the first
// reduction and kept (as DDP keeps its buckets): the gradients are copied into it, reduced in place
// (stage 1: every .grad a view of it; stage 2: this rank's shard gradient is its run of it), and
// stage 2 then all-gathers the updated shards in it; stage 1 keeps a second one for that all-gather.
// So a step allocates no large arrays (their zero-fill, page faults and collections cost more than
// the half Adam step saves); `keepBuffers: false` drops them after each step instead.
// Elementwise optimizers give the same update on a flat shard as on the separate tensors, so N
// ranks each on 1/N of the batch match one process on the full batch (test/distributed/zero.test.ts).

import type { FloatDType } from '../backend/dtype.js';
import { fromBuffer, Tensor } from '../core/tensor.js';
import type { Optimizer, OptimizerOptions, OptimizerStateDict, ParamGroupInput, ParamsInput } from '../optim/optimizer.js';
import { defaultGroup, type ProcessGroup } from './process_group.js';
import { consolidateShardedState, contiguousData, copyShard, flatLayout, loadShardedState, newFloatArray as newArray, type FloatArray, type ShardedFlat } from './flat_shard.js';
import { registerBackwardStartHook, registerPostAccumulateGradHook, type BackwardStartInfo } from '../autograd/index.js';


/** An optimizer class of src/optim (SGD, Adam, AdamW) or a subclass: `new C(params, opts)`. */
export type OptimizerClass<O extends OptimizerOptions, A = Partial<O>> = new (params: ParamsInput<O>, opts: A) => Optimizer<O>;

export interface ZeroOptions {
  /** 1: shard the optimizer state; 2: also shard the gradients (reduce-scatter). Default 1. */
  stage?: 1 | 2;
  /** The group (default: the one initProcessGroup made). */
  group?: ProcessGroup;
  /**
   * Reduce the gradients during backward in buckets (see `overlap`; default false): each
   * backward must be followed by reduceGradients() or step() before the next.
   */
  overlap?: boolean;
  /** Largest bucket with overlap, MiB (default 4; a parameter larger than it gets its own bucket). */
  bucketCapMB?: number;
  /**
   * Keep the communication buffers (N * S elements per flat vector, stage 1 twice) across steps
   * (default true: no large allocation per step). false: made at each reduction and dropped after
   * the step, so between steps a rank holds no gradient buffer (stage 2) at the cost of allocating
   * (zero-filled pages, collections) every step.
   */
  keepBuffers?: boolean;
}

// A run of whole parameters of one flat vector, reduced as one collective when overlapping.
interface Bucket {
  flat: Flat;
  /** Indices into flat.params, and the element range [start, end) of the flat vector. */
  first: number;
  end: number;
  start: number;
  stop: number;
  ready: number;
  pending: Promise<void> | null;
}

// One flat vector: the parameters of one group with one dtype, and this rank's shard of it, with its
// communication buffer (gradients reduced in place; stage 2 also the all-gather) and stage 1's
// all-gather buffer, both N * shard elements, made at first use.
interface Flat extends ShardedFlat {
  comm: FloatArray | null;
  gather: FloatArray | null;
}

/**
 * ZeRO stage 1/2: wraps an optimizer class so that each rank keeps 1/N of its state (stage 1) and
 * of the gradients (stage 2). Every rank constructs it over the same parameters, which must start
 * equal on every rank (same seed, or `await zero.broadcastParameters()`); each rank computes the
 * gradient of its share of the batch, then every rank calls `await zero.step()`.
 * @example
 * const zero = new ZeroRedundancyOptimizer(model.parameters(), Adam, { lr: 1e-3 }, { stage: 2 });
 * await zero.broadcastParameters();
 * zero.zeroGrad();
 * lossFn.call(model.call(x), y).backward();
 * await zero.step();            // parameters updated and equal on every rank
 */
export class ZeroRedundancyOptimizer<O extends OptimizerOptions, A = Partial<O>> {
  /** The inner optimizer over this rank's shards (LR schedulers may drive its paramGroups). */
  readonly optimizer: Optimizer<O>;
  readonly stage: 1 | 2;
  readonly group: ProcessGroup;
  private readonly flats: Flat[] = [];
  private readonly groupParams: Tensor[][] = [];
  private reduced = false;

  /**
   * Whether gradients are reduced during backward (bucket by bucket, as they become final); set
   * from ZeroOptions.overlap, may be toggled between steps. Off, reduceGradients() reduces each
   * flat vector at once after backward.
   */
  overlap = false;
  /**
   * This rank's gradients are multiplied by it before the average (default 1), as DDP's
   * gradientScale: worldSize * n_r / n for a share of n_r of a global batch of n samples.
   */
  gradientScale = 1;
  private readonly buckets: Bucket[] = [];
  private readonly bucketOf = new Map<Tensor, number>();
  private readonly readyParams = new Set<Tensor>();
  private nextLaunch = 0;
  private backwardSeen = false;
  private launchedEarly = 0;
  private readonly hooks: { remove(): void }[] = [];
  /** See ZeroOptions.keepBuffers. */
  keepBuffers = true;

  constructor(params: ParamsInput<O>, OptimizerClass: OptimizerClass<O, A>, opts: A, zero: ZeroOptions = {}) {
    this.stage = zero.stage ?? 1;
    if (this.stage !== 1 && this.stage !== 2) throw new Error(`ZeroRedundancyOptimizer: stage ${String(zero.stage)} is not supported; use 1 (sharded optimizer state) or 2 (also sharded gradients)`);
    this.group = zero.group ?? defaultGroup('ZeroRedundancyOptimizer');
    if (params instanceof Tensor) throw new Error('ZeroRedundancyOptimizer: params must be an iterable of Tensors or of parameter groups, not a Tensor; wrap it in an array: [t]');
    const list = Array.from(params as Iterable<Tensor | ParamGroupInput<O>>);
    const groups: ParamGroupInput<O>[] = list.every((p) => p instanceof Tensor) ? [{ params: list as Tensor[] } as unknown as ParamGroupInput<O>] : (list as ParamGroupInput<O>[]);
    const n = this.group.worldSize;
    const rank = this.group.rank;
    let id = 0;
    const innerGroups: ParamGroupInput<O>[] = [];
    groups.forEach((g, gi) => {
      if (g instanceof Tensor || typeof g !== 'object' || g === null || !('params' in g)) throw new Error('ZeroRedundancyOptimizer: params must be all Tensors or all parameter groups ({ params, ...options })');
      const ps = g.params instanceof Tensor ? [g.params] : Array.from(g.params);
      this.groupParams.push(ps);
      const byDtype = new Map<FloatDType, { params: Tensor[]; ids: number[] }>();
      ps.forEach((p, i) => {
        if (p.dtype !== 'float32' && p.dtype !== 'float64') throw new Error(`ZeroRedundancyOptimizer: parameter ${i} of group ${gi} has dtype ${p.dtype}; only float32 and float64 parameters can be optimized`);
        if (!p.isContiguous()) throw new Error(`ZeroRedundancyOptimizer: parameter ${i} of group ${gi} (shape ${p.shape.join('x')}) is not contiguous`);
        const e = byDtype.get(p.dtype) ?? { params: [], ids: [] };
        e.params.push(p);
        e.ids.push(id++);
        byDtype.set(p.dtype, e);
      });
      const shards: Tensor[] = [];
      for (const [dtype, e] of byDtype) {
        const { offsets, total, shard } = flatLayout(e.params.map((p) => p.size), n);
        const data = newArray(dtype, shard);
        const shardParam = fromBuffer(data, dtype, [shard]);
        shardParam.requiresGrad = true;
        const flat: Flat = { group: gi, dtype, params: e.params, ids: e.ids, offsets, total, shard, shardParam, comm: null, gather: null };
        this.readShard(flat, rank);
        this.flats.push(flat);
        shards.push(shardParam);
      }
      const { params: _drop, ...hyper } = g;
      innerGroups.push({ ...hyper, params: shards } as unknown as ParamGroupInput<O>);
    });
    this.optimizer = new OptimizerClass(innerGroups, opts);
    const cap = zero.bucketCapMB ?? 4;
    if (!(cap > 0)) throw new Error(`ZeroRedundancyOptimizer: bucketCapMB must be a positive number of MiB, got ${cap}`);
    this.overlap = zero.overlap ?? false;
    this.keepBuffers = zero.keepBuffers ?? true;
    // Buckets: the flat vectors last first, each one's parameters last first, runs of at most `cap`.
    const capBytes = cap * 1024 * 1024;
    for (const f of [...this.flats].reverse()) {
      const bytes = f.dtype === 'float64' ? 8 : 4;
      let end = f.params.length;
      let size = 0;
      for (let i = f.params.length - 1; i >= 0; i--) {
        const b = f.params[i]!.size * bytes;
        if (size > 0 && size + b > capBytes) { this.addBucket(f, i + 1, end); end = i + 1; size = 0; }
        size += b;
        this.bucketOf.set(f.params[i]!, this.buckets.length);
      }
      if (end > 0) this.addBucket(f, 0, end);
    }
    for (const f of this.flats) for (const p of f.params) this.hooks.push(registerPostAccumulateGradHook(p, () => this.onGradReady(p)));
    this.hooks.push(registerBackwardStartHook((leaves, info) => this.onBackwardStart(leaves, info)));
  }

  // Buckets are numbered as they are added; bucketOf was set to that number for [first, end).
  private addBucket(f: Flat, first: number, end: number): void {
    const stop = f.offsets[end - 1]! + f.params[end - 1]!.size;
    this.buckets.push({ flat: f, first, end, start: f.offsets[first]!, stop, ready: 0, pending: null });
  }

  // A backward that reaches these parameters starts: refuse a second one before the gradients of
  // the first were reduced (they would miss the buckets it launched). Nested (recomputing) ones are
  // part of the backward in progress.
  private onBackwardStart(leaves: ReadonlySet<unknown>, info: BackwardStartInfo): void {
    if (!this.overlap || info.nested) return;
    if (!this.params.some((p) => leaves.has(p))) return;
    if (this.backwardSeen) {
      throw new Error('ZeroRedundancyOptimizer: a second backward() before reduceGradients() / step(): with overlap its gradients would miss the buckets the first one started. Call await zero.step() (or reduceGradients()) after each backward, or set zero.overlap = false to accumulate over several backward passes');
    }
    this.backwardSeen = true;
  }

  private onGradReady(p: Tensor): void {
    if (!this.overlap || this.readyParams.has(p)) return;
    this.readyParams.add(p);
    const k = this.bucketOf.get(p);
    if (k === undefined) return;
    this.buckets[k]!.ready++;
    const before = this.nextLaunch;
    this.launchReady(false);
    this.launchedEarly += this.nextLaunch - before;
  }

  // Starts, in bucket order, every bucket whose gradients are final (all of them with `force`).
  private launchReady(force: boolean): void {
    const n = this.group.worldSize;
    while (this.nextLaunch < this.buckets.length) {
      const b = this.buckets[this.nextLaunch]!;
      if (!force && b.ready < b.end - b.first) return;
      const f = b.flat;
      const comm = this.fillGradients(f, b.first, b.end);
      const t = fromBuffer(comm.subarray(b.start, b.stop), f.dtype, [b.stop - b.start]);
      if (this.stage === 1) {
        b.pending = this.group.allReduce(t, 'avg').then(() => undefined);
      } else {
        // Rank r receives the part of [start, stop) inside its shard [r S, (r + 1) S), in place:
        // the run of the communication buffer that its shard gradient is.
        const counts = Array.from({ length: n }, (_, r) => Math.max(0, Math.min(b.stop, (r + 1) * f.shard) - Math.max(b.start, r * f.shard)));
        b.pending = this.group.reduceScatter(t, 'avg', counts, { inPlace: true, view: true }).then(() => undefined);
      }
      b.pending.catch(() => undefined); // awaited in reduceGradients
      this.nextLaunch++;
    }
  }

  // reduceGradients() with overlap: start the buckets backward left, wait for all, hand out the result.
  private async finishBuckets(): Promise<void> {
    this.launchReady(true);
    try {
      for (const b of this.buckets) await b.pending;
    } finally {
      for (const b of this.buckets) { b.ready = 0; b.pending = null; }
      this.readyParams.clear();
      this.nextLaunch = 0;
      this.backwardSeen = false;
      this.lastLaunchedEarly = this.launchedEarly;
      this.launchedEarly = 0;
    }
    for (const f of this.flats) this.handOut(f);
  }

  // The flat's communication buffer (made at first use), with the gradients of parameters
  // [first, end) written at their offsets (zeros for a parameter without one, and for the padding
  // when `end` is the last), scaled by gradientScale unless `scale` is false (already averaged ones).
  // Every element a collective reads is written.
  private fillGradients(f: Flat, first: number, end: number, scale = true): FloatArray {
    const comm = f.comm ??= newArray(f.dtype, f.shard * this.group.worldSize);
    for (let i = first; i < end; i++) {
      const p = f.params[i]!;
      const g = p.grad;
      const at = f.offsets[i]!;
      if (g === null) { comm.fill(0, at, at + p.size); continue; } // no gradient on this rank: contributes zeros
      if (g.size !== p.size) throw new Error(`ZeroRedundancyOptimizer: the gradient of shape ${g.shape.join('x')} does not match its parameter's shape ${p.shape.join('x')}`);
      const src = contiguousData(g);
      if (src.buffer !== comm.buffer || src.byteOffset !== comm.byteOffset + at * comm.BYTES_PER_ELEMENT) comm.set(g.dtype === f.dtype ? src : Array.from(src), at);
    }
    if (end === f.params.length) comm.fill(0, f.total);
    const k = this.gradientScale;
    if (scale && k !== 1) {
      const a = f.offsets[first]!;
      const b = f.offsets[end - 1]! + f.params[end - 1]!.size;
      for (let i = a; i < b; i++) comm[i] = comm[i]! * k;
    }
    return comm;
  }

  // After the reduction: stage 1 leaves every .grad an averaged view of the communication buffer
  // (as DDP's); stage 2 hands this rank's run of it to the inner optimizer and drops every .grad.
  private handOut(f: Flat): void {
    const comm = f.comm!;
    if (this.stage === 1) {
      f.params.forEach((p, i) => { p.grad = fromBuffer(comm.subarray(f.offsets[i]!, f.offsets[i]! + p.size), f.dtype, p.shape); });
    } else {
      const lo = this.group.rank * f.shard;
      f.shardParam.grad = fromBuffer(comm.subarray(lo, lo + f.shard), f.dtype, [f.shard]);
      for (const p of f.params) p.grad = null; // only the shard's gradient stays on this rank
    }
  }

  /** Buckets started during the last backward (with overlap), for tests and profilers. */
  lastLaunchedEarly = 0;

  /** Elements of each bucket (in launch order), for tests and tuning. */
  get bucketSizes(): number[] { return this.buckets.map((b) => b.stop - b.start); }

  /** Removes the backward hooks (overlap can no longer start buckets). @example zero.remove(); */
  remove(): void { for (const h of this.hooks.splice(0)) h.remove(); }

  /**
   * Copies rank 0's parameters to every rank (call once before training when ranks initialised
   * their models differently) and refreshes this rank's shard from them.
   * @example await zero.broadcastParameters();
   */
  async broadcastParameters(): Promise<void> {
    for (const ps of this.groupParams) for (const p of ps) await this.group.broadcast(p, 0);
    for (const f of this.flats) this.readShard(f, this.group.rank);
  }

  /**
   * Averages the gradients over ranks without stepping (step() does it when this was not called):
   * stage 1 all-reduces them and leaves every `.grad` averaged (views into one flat buffer), so they
   * can be clipped or inspected before `step()`; stage 2 reduce-scatters them into this rank's shard
   * and drops every `.grad` (clip with `zero.clipGradNorm`). Every rank must call it.
   * @example await zero.reduceGradients(); clipGradNorm(model.parameters(), 1); await zero.step();
   */
  async reduceGradients(): Promise<void> {
    const n = this.group.worldSize;
    if (this.overlap) {
      await this.finishBuckets();
      this.reduced = true;
      return;
    }
    for (const f of this.flats) {
      const comm = this.fillGradients(f, 0, f.params.length);
      const t = fromBuffer(comm, f.dtype, [f.shard * n]);
      if (this.stage === 1) await this.group.allReduce(t, 'avg');
      else await this.group.reduceScatter(t, 'avg', undefined, { inPlace: true, view: true });
      this.handOut(f);
    }
    this.reduced = true;
  }

  /**
   * Scales the (reduced) gradients so that their global L2 norm is at most `maxNorm`, like
   * clipGradNorm over all parameters, with the norm summed over the shards (stage 2) or taken from
   * the averaged gradients (stage 1). Reduces the gradients first if needed; resolves with the norm
   * before clipping. Every rank must call it.
   * @example await zero.clipGradNorm(1.0); await zero.step();
   */
  async clipGradNorm(maxNorm: number): Promise<number> {
    if (!(maxNorm > 0)) throw new Error(`ZeroRedundancyOptimizer.clipGradNorm: maxNorm must be positive, got ${maxNorm}`);
    if (!this.reduced) await this.reduceGradients();
    let sq = 0;
    const grads: FloatArray[] = [];
    for (const f of this.flats) {
      if (this.stage === 2) { if (f.shardParam.grad !== null) grads.push(contiguousData(f.shardParam.grad)); continue; }
      for (const p of f.params) if (p.grad !== null) grads.push(contiguousData(p.grad));
    }
    for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
    if (this.stage === 2) sq = (await this.group.allReduce(fromBuffer(new Float64Array([sq]), 'float64', [1]), 'sum')).data[0]!;
    const norm = Math.sqrt(sq);
    const scale = maxNorm / (norm + 1e-6);
    if (scale < 1) {
      for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
      for (const f of this.flats) {
        if (this.stage === 2 && f.shardParam.grad !== null) f.shardParam.grad.version++;
        if (this.stage === 1) for (const p of f.params) if (p.grad !== null) p.grad.version++;
      }
    }
    return norm;
  }

  /**
   * Reduces the gradients (unless reduceGradients() already did), updates this rank's shard with the
   * inner optimizer and all-gathers the updated shards into every rank's parameters, in place.
   * Every rank must call it. A parameter without a gradient on a rank contributes zeros (as with DDP).
   * @example loss.backward(); await zero.step();
   */
  async step(): Promise<void> {
    if (!this.reduced) await this.reduceGradients();
    this.reduced = false;
    const rank = this.group.rank;
    const n = this.group.worldSize;
    if (this.stage === 1) {
      // The shard's gradient: this rank's run of the (possibly clipped) averaged gradients, copied
      // into the communication buffer unless .grad is still the view of it reduceGradients() set.
      for (const f of this.flats) {
        const comm = this.fillGradients(f, 0, f.params.length, false);
        f.shardParam.grad = fromBuffer(comm.subarray(rank * f.shard, (rank + 1) * f.shard), f.dtype, [f.shard]);
      }
    }
    this.optimizer.step();
    // Every rank's updated shard into one buffer (stage 2: the communication buffer, whose shard
    // gradient is used up; stage 1 keeps the averaged .grad views there and uses its second buffer),
    // all-gathered in place, then copied into the parameters.
    const gathers = this.flats.map((f) => {
      const all = this.stage === 2 ? f.comm! : (f.gather ??= newArray(f.dtype, f.shard * n));
      all.set(f.shardParam.data as FloatArray, rank * f.shard);
      f.shardParam.grad = null;
      return { f, all, g: this.group.startAllGather(fromBuffer(all, f.dtype, [f.shard * n])) };
    });
    for (const { f, all, g } of gathers) {
      g.wait();
      f.params.forEach((p, i) => {
        (p.data as FloatArray).set(all.subarray(f.offsets[i]!, f.offsets[i]! + p.size), p.offset);
        p.version++;
      });
      if (!this.keepBuffers) { f.comm = null; f.gather = null; } // stage 1's .grad views keep theirs alive until zeroGrad
    }
  }

  /**
   * Bytes of the buffers kept across steps for the collectives (per flat vector N * S elements,
   * stage 1 twice), not counted in stateBytes(); made at the first reduction.
   * @example console.log(zero.bufferBytes());
   */
  bufferBytes(): number {
    let b = 0;
    for (const f of this.flats) b += ((f.comm?.length ?? 0) + (f.gather?.length ?? 0)) * (f.dtype === 'float64' ? 8 : 4);
    return b;
  }

  /**
   * Drops (default) or zero-fills the parameters' gradients and the shards' gradients.
   * @example zero.zeroGrad();
   */
  zeroGrad(setToNone = true): void {
    for (const f of this.flats) {
      for (const p of f.params) {
        if (p.grad === null) continue;
        if (setToNone) p.grad = null;
        else p.grad = fromBuffer(newArray(f.dtype, p.size), f.dtype, p.shape);
      }
    }
    this.optimizer.zeroGrad(setToNone);
    this.reduced = false;
  }

  /**
   * Bytes of optimizer state this rank holds (the shards' state tensors): about 1/N of what the
   * same optimizer over all parameters holds, plus at most N-1 padding elements per flat vector.
   * @example console.log(zero.stateBytes());
   */
  stateBytes(): number {
    let bytes = 0;
    for (const s of this.optimizer.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) bytes += v.size * (v.dtype === 'float64' ? 8 : 4);
    return bytes;
  }

  /** The optimized parameters, group after group, in order. */
  get params(): Tensor[] { return this.groupParams.flat(); }

  /** Elements of every flat vector and this rank's shard length, for tests and memory accounting. */
  get layout(): { group: number; dtype: FloatDType; elements: number; shard: number }[] {
    return this.flats.map((f) => ({ group: f.group, dtype: f.dtype, elements: f.total, shard: f.shard }));
  }

  /**
   * Gathers every rank's state shard and returns, on rank `to` only (null elsewhere), the state
   * dict the wrapped optimizer would have over all parameters: the same format as
   * `optimizer.stateDict()`, loadable into a single-process optimizer or into `loadStateDict` of a
   * ZeroRedundancyOptimizer with any world size. Every rank must call it.
   * @example const sd = await zero.consolidateStateDict(0); if (sd) saveJson(sd);
   */
  consolidateStateDict(to = 0): Promise<OptimizerStateDict | null> {
    return consolidateShardedState(this.flats, this.optimizer as unknown as Optimizer<OptimizerOptions>, this.group, to, this.groupParams.map((ps) => ps.length));
  }


  /**
   * Loads a full state dict (from `consolidateStateDict` or from the wrapped optimizer over the same
   * parameters in one process) on every rank: each rank keeps its shard of every state tensor and
   * the groups' hyper-parameters. Each shard takes its scalar state (`step`) from the first parameter
   * of its flat vector that has one.
   * @example zero.loadStateDict(checkpoint.optimizer); // on every rank, the dict consolidateStateDict gave
   */
  loadStateDict(sd: OptimizerStateDict): void {
    loadShardedState(this.flats, this.optimizer as unknown as Optimizer<OptimizerOptions>, this.group, sd, this.groupParams.map((ps) => ps.length), (f, i) => this.indexInGroup(f, i), 'ZeroRedundancyOptimizer.loadStateDict');
  }


  private indexInGroup(f: ShardedFlat, i: number): number {
    return this.groupParams[f.group]!.indexOf(f.params[i]!);
  }

  // This rank's shard of the flat parameter vector (padding stays zero).
  private readShard(f: Flat, rank: number): void {
    const dst = f.shardParam.data as FloatArray;
    dst.fill(0);
    copyShard(dst, f.params.map(contiguousData), f, rank);
    f.shardParam.version++;
  }

}
