// Distributed data parallel: every rank holds the whole model, trains on its own share of the batch,
// and gradients are averaged across ranks before the optimizer step, so all ranks stay identical.
// Built only on public seams (Module.namedParameters, registerPostAccumulateGradHook,
// registerBackwardStartHook, collectives).
//
// Gradients are packed into size-capped buckets in reverse parameter order (the order backward
// produces them). A bucket is reduced as soon as all its gradients are ready and every earlier
// bucket has been launched: launches happen in bucket order on every rank, so the collectives line
// up across ranks even when readiness differs. The tape hands each parameter's gradient out as soon
// as its last contribution is accumulated, so a full bucket starts reducing on the communication
// thread while the JS thread is still running backward; `finishGradientSync()` awaits them.
// Bucket views (PyTorch's gradient_as_bucket_view): each parameter's gradient has a fixed place in
// its bucket's flat buffer; the grad-ready hook copies the gradient backward made into that place
// (the one copy per step), the all-reduce averages the bucket in place, and finishGradientSync sets
// each `.grad` to a view of its place, so the average needs no copy back and the optimizer reads it
// where it is.
// The last bucket holds the first layers' gradients, final only at the very end of backward; with
// gradChunkMB > 0 (off by default) its last large parameter is reduced in row pieces instead, each
// a bucket of its own, filled through the tape's grad-chunk hook as the gradient rule computes
// those rows (linear's dW by row blocks), so all but the last piece reduce while the rest of that
// gradient is still being computed.

import { fromBuffer, type Tensor } from '../core/tensor.js';
import { registerBackwardStartHook, registerGradChunkHook, registerPostAccumulateGradHook, type BackwardStartInfo } from '../autograd/index.js';
import type { AnyModule } from '../nn/module.js';
import type { Parameter } from '../nn/parameter.js';
import { defaultGroup, type ProcessGroup } from './process_group.js';
import { resolveCommHook, type CommHook, type CommHookSpec, type CommHookTensor } from './comm_hooks.js';

export interface DistributedDataParallelOptions {
  /** Bucket size cap in MiB (default 25, PyTorch's). A parameter larger than the cap gets a bucket of its own. */
  bucketCapMB?: number;
  /**
   * Cap of the first bucket (the last layers' gradients, final first) in MiB: default 1, PyTorch's,
   * so that a reduction starts early in backward; the smaller of this and bucketCapMB applies. A
   * model whose trainable gradients total at most 2 MiB gets no separate first bucket by default
   * (all in one bucket, up to bucketCapMB): its backward is too short for an early reduction to
   * hide more than the extra collective costs (measured in docs/DISTRIBUTED.md, "Bucket views").
   */
  firstBucketCapMB?: number;
  /**
   * The last large parameter of the last bucket (the first layer's weight, whose gradient is final
   * only at the end of backward), if it has at least twice this many MiB and 2 rows, is reduced in row
   * pieces of about this size (at most 8), each its own bucket, started as soon as backward has computed those
   * rows (when the gradient rule can split its work: linear's weight gradient when the layer's input
   * needs none; else when the whole gradient is final). Default 0: off. Each piece is one more
   * collective, and on loopback ranks sharing cores the pieces cost more CPU than their overlap
   * saves (measured in docs/DISTRIBUTED.md, "Bucket views"); try 1 where links are slow and cores spare.
   */
  gradChunkMB?: number;
  /** The group (default: the one initProcessGroup made). */
  group?: ProcessGroup;
  /** Also broadcast rank 0's buffers (e.g. running statistics) at start. Default true. */
  broadcastBuffers?: boolean;
  /**
   * Parameters that a backward does not reach (unused in this forward) are marked ready when that
   * backward starts, contributing their current gradient (zeros when none), so the buckets after them
   * still start during backward. Default false: a synced backward that leaves a trainable parameter
   * without a gradient makes finishGradientSync throw, naming it (PyTorch's find_unused_parameters).
   */
  findUnusedParameters?: boolean;
}

/**
 * Communication of the last synced step (for profilers and tuning; see ddp.commStats()). Times in
 * milliseconds of wall clock on this rank.
 */
export interface DdpCommStats {
  /** Synced steps so far (finishGradientSync calls). */
  steps: number;
  /** Buckets reduced in the last step, and how many of them started during backward (the rest started in finishGradientSync). */
  buckets: number;
  launchedInBackward: number;
  /** Of those, the row pieces started from rows backward handed out before their parameter's whole gradient was final (see gradChunkMB). */
  launchedFromRows: number;
  /** Gradient bytes handed to the reductions in the last step (before a comm hook's compression). */
  bytes: number;
  /** Time from the first bucket's launch to the finishGradientSync call: communication that ran behind backward (and whatever the caller did before finishing). 0 when nothing started early. */
  overlapMs: number;
  /** Time finishGradientSync spent waiting for the reductions and writing the averages back: the exposed communication (also `lastStepCommMs`). */
  waitMs: number;
  /** Sum of waitMs over all steps. */
  totalWaitMs: number;
}

type FloatArray = Float32Array | Float64Array;

// A bucket's part of one parameter: elements [start, start + size) of its gradient at `offset` of
// the flat buffer (the whole parameter unless it is split in row pieces). `filled` counts elements
// already copied in (from grad-chunk blocks, or from the whole gradient when it became ready).
interface Piece { name: string; p: Parameter; offset: number; start: number; size: number; filled: number; ready: boolean }

interface Bucket {
  params: Piece[];
  /** What a comm hook is told about the bucket's gradients. */
  tensors: CommHookTensor[];
  flat: FloatArray;
  ready: number;
  pending: Promise<Tensor> | null;
}

/** Models with at most this many bytes of gradients get one bucket by default (see firstBucketCapMB). */
const SMALL_MODEL_BYTES = 2 * 1024 * 1024;

/** At most this many row pieces per split parameter (each is one collective). */
const MAX_PIECES = 8;

// 32-bit FNV-1a of a string, as a signed int (int32 collectives).
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h | 0;
}

/**
 * Wraps a model for data-parallel training. Create it with `await DistributedDataParallel.create()`:
 * that broadcasts rank 0's parameters and buffers and checks that every rank built the same model.
 * @example
 * const ddp = await DistributedDataParallel.create(model, { bucketCapMB: 25 });
 * const loss = lossFn(ddp.module.call(x), y);
 * loss.backward();
 * await ddp.finishGradientSync();  // gradients are now averaged over ranks
 * opt.step();
 */
export class DistributedDataParallel<M extends AnyModule = AnyModule> {
  private readonly buckets: Bucket[] = [];
  private readonly piecesOf = new Map<Parameter, { bucket: Bucket; piece: Piece }[]>();
  /** Each parameter's gradient storage: a subarray of its bucket's flat buffer (a split parameter's pieces' buckets are subarrays of it). */
  private readonly gradViews = new Map<Parameter, FloatArray>();
  private readonly readyParams = new Set<Parameter>();
  private nextLaunch = 0;
  private syncEnabled = true;
  /**
   * Launch each bucket's reduction from the gradient hooks during backward (default true). Set false
   * when one optimizer step runs several backward passes that noSync cannot wrap (e.g. micro-batches
   * inside a loss function): finishGradientSync then reduces the accumulated gradients.
   */
  overlap = true;
  /**
   * This rank's gradients are multiplied by it before the average (default 1). With unequal shares
   * of a global batch of n samples, rank r sets worldSize * n_r / n so the average is the gradient
   * of the global mean loss.
   */
  gradientScale = 1;
  private readonly hooks: { remove(): void }[] = [];
  private commHook: CommHook | null = null;
  private readonly names = new Map<Parameter, string>();
  private backwardSeen = false; // a synced, overlapped backward reached this model since the last finish
  private recomputes = false;   // ... and its graph had checkpoint() nodes
  private launchedEarly = 0;
  private firstLaunchAt = 0;
  private launchedFromRows = 0;
  private readonly stats: DdpCommStats = { steps: 0, buckets: 0, launchedInBackward: 0, launchedFromRows: 0, bytes: 0, overlapMs: 0, waitMs: 0, totalWaitMs: 0 };

  /** Milliseconds the last finishGradientSync waited for communication (the part not hidden behind backward). */
  get lastStepCommMs(): number { return this.stats.waitMs; }

  /**
   * Communication figures of the last synced step (a copy): buckets, bytes, buckets started during
   * backward, overlap window and exposed wait.
   * @example const { waitMs, overlapMs } = ddp.commStats();
   */
  commStats(): DdpCommStats { return { ...this.stats }; }

  private constructor(readonly module: M, readonly group: ProcessGroup, bucketCapMB: number, firstBucketCapMB: number, gradChunkMB: number, readonly findUnusedParameters = false) {
    const params = module.namedParameters().filter(([, p]) => p.requiresGrad);
    for (const [n, p] of params) this.names.set(p, n);
    for (const [, p] of params) {
      if (p.dtype !== 'float32' && p.dtype !== 'float64') throw new Error(`DistributedDataParallel: parameter dtype ${p.dtype} is not supported (float32 or float64)`);
    }
    // Reverse registration order ~ the order backward finishes gradients.
    const capBytes = Math.max(1, bucketCapMB * 1024 * 1024);
    const firstCapBytes = Math.min(capBytes, Math.max(1, firstBucketCapMB * 1024 * 1024));
    const bytesOf = (p: Parameter): number => p.size * (p.dtype === 'float64' ? 8 : 4);
    const pack = (list: [string, Parameter][]): [string, Parameter][][] => {
      const groups: [string, Parameter][][] = [];
      let cur: [string, Parameter][] = [];
      let bytes = 0;
      for (const e of list) {
        const p = e[1];
        const cap = groups.length === 0 ? firstCapBytes : capBytes;
        if (cur.length > 0 && (bytes + bytesOf(p) > cap || cur[0]![1].dtype !== p.dtype)) { groups.push(cur); cur = []; bytes = 0; }
        cur.push(e); // the entry itself: split and biases below are found by identity
        bytes += bytesOf(p);
      }
      if (cur.length > 0) groups.push(cur);
      return groups;
    };
    const reversed = [...params].reverse();
    let groups = pack(reversed);
    // The last bucket's last large parameter (the first layer's weight, final at the very end of
    // backward) goes in row pieces, one bucket each; its bias (a 1-D parameter of as many elements as
    // rows, registered right after the weight), final only when the whole weight gradient is, goes
    // after the pieces; the rest is packed as before. Only one parameter: every collective has a
    // fixed cost (measured: ten all-reduces of 0.96 MB cost 2.6x the CPU of one of 9.6 MB), and only
    // the gradient computed last gains from starting early in pieces.
    const chunkBytes = gradChunkMB * 1024 * 1024;
    const split = chunkBytes > 0 && groups.length > 0 ? groups.at(-1)!.filter(([, p]) => p.ndim >= 2 && p.shape[0]! >= 2 && bytesOf(p) >= 2 * chunkBytes).slice(-1) : [];
    const biases = split.flatMap((w) => {
      const b = params[params.indexOf(w) + 1];
      return b !== undefined && b[1].ndim === 1 && b[1].size === w[1].shape[0] && !split.includes(b) ? [b] : [];
    });
    if (split.length > 0) groups = pack(reversed.filter((e) => !split.includes(e) && !biases.includes(e)));
    for (const g of groups) this.addBucket(g.map(([name, p]) => ({ name, p, start: 0, size: p.size })));
    for (const [name, p] of split) {
      const rows = p.shape[0]!, cols = p.size / rows;
      const per = Math.ceil(rows / Math.min(MAX_PIECES, rows, Math.floor(bytesOf(p) / chunkBytes)));
      // the pieces' buckets are consecutive parts of one array, so the whole gradient is one view
      const whole = p.dtype === 'float64' ? new Float64Array(p.size) : new Float32Array(p.size);
      this.gradViews.set(p, whole);
      for (let r = 0; r < rows; r += per) {
        const start = r * cols, size = (Math.min(rows, r + per) - r) * cols;
        this.addBucket([{ name, p, start, size }], whole.subarray(start, start + size));
      }
      this.hooks.push(registerGradChunkHook(p, per, (r0, block) => this.onGradRows(p, r0 * cols, block)));
    }
    for (const dt of ['float32', 'float64']) {
      const bs = biases.filter(([, p]) => p.dtype === dt);
      if (bs.length > 0) this.addBucket(bs.map(([name, p]) => ({ name, p, start: 0, size: p.size })));
    }
    for (const [, p] of params) this.hooks.push(registerPostAccumulateGradHook(p, () => this.onGradReady(p)));
    this.hooks.push(registerBackwardStartHook((leaves, info) => this.onBackwardStart(leaves, info)));
  }

  // A bucket over `parts`, in a new flat buffer or in `flat` (a row piece's part of its parameter's array).
  private addBucket(parts: { name: string; p: Parameter; start: number; size: number }[], flat?: FloatArray): void {
    const n = parts.reduce((s, e) => s + e.size, 0);
    const bucket: Bucket = { params: [], tensors: [], flat: flat ?? (parts[0]!.p.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)), ready: 0, pending: null };
    let offset = 0;
    for (const e of parts) {
      const piece: Piece = { ...e, offset, filled: 0, ready: false };
      bucket.params.push(piece);
      const shape = e.size === e.p.size ? [...e.p.shape] : [e.size / (e.p.size / e.p.shape[0]!), ...e.p.shape.slice(1)];
      bucket.tensors.push({ name: e.name, shape, offset, size: e.size });
      if (e.size === e.p.size) this.gradViews.set(e.p, bucket.flat.subarray(offset, offset + e.size));
      offset += e.size;
      const list = this.piecesOf.get(e.p) ?? [];
      list.push({ bucket, piece });
      this.piecesOf.set(e.p, list);
    }
    this.buckets.push(bucket);
  }

  /**
   * Broadcasts rank 0's parameters (and buffers), checks the model matches across ranks, and installs
   * the gradient hooks. Every rank must call it with the same model structure.
   * @example const ddp = await DistributedDataParallel.create(model);
   */
  static async create<M extends AnyModule>(module: M, opts: DistributedDataParallelOptions = {}): Promise<DistributedDataParallel<M>> {
    const group = opts.group ?? defaultGroup('DistributedDataParallel');
    await checkSameModel(module, group);
    for (const [, p] of module.namedParameters()) await group.broadcast(p, 0);
    if (opts.broadcastBuffers ?? true) {
      for (const [, b] of module.namedBuffers()) if (b.dtype === 'float32' || b.dtype === 'float64' || b.dtype === 'int32') await group.broadcast(b, 0);
    }
    for (const [k, v] of [['bucketCapMB', opts.bucketCapMB], ['firstBucketCapMB', opts.firstBucketCapMB]] as const) {
      if (v !== undefined && !(v > 0)) throw new Error(`DistributedDataParallel: ${k} must be a positive number of MiB, got ${v}`);
    }
    if (opts.gradChunkMB !== undefined && !(opts.gradChunkMB >= 0)) throw new Error(`DistributedDataParallel: gradChunkMB must be a number of MiB >= 0 (0: no row pieces), got ${opts.gradChunkMB}`);
    const cap = opts.bucketCapMB ?? 25;
    const gradBytes = module.namedParameters().reduce((s, [, p]) => s + (p.requiresGrad ? p.size * (p.dtype === 'float64' ? 8 : 4) : 0), 0);
    const firstCap = opts.firstBucketCapMB ?? (gradBytes <= SMALL_MODEL_BYTES ? cap : 1);
    return new DistributedDataParallel(module, group, cap, firstCap, opts.gradChunkMB ?? 0, opts.findUnusedParameters ?? false);
  }

  /** Number of gradient buckets and their sizes in elements (for tests and tuning). */
  get bucketSizes(): number[] { return this.buckets.map((b) => b.flat.length); }

  /**
   * Runs `fn` without reducing gradients (they accumulate locally); the next synced backward
   * reduces the accumulated sum. For gradient accumulation over micro-batches.
   * @example ddp.noSync(() => lossA.backward()); lossB.backward(); await ddp.finishGradientSync();
   */
  noSync<T>(fn: () => T): T {
    const prev = this.syncEnabled;
    this.syncEnabled = false;
    try { return fn(); } finally { this.syncEnabled = prev; }
  }

  // A backward starts: refuse a second synced one before finishGradientSync (its gradients would
  // miss the buckets already launched) and, with findUnusedParameters, mark the parameters it cannot
  // reach as ready. Backward passes that reach none of this model's parameters are not ours.
  // A nested backward (activation checkpointing recomputing a block) is part of the one in progress.
  // Through checkpoint() nodes the reachable set is incomplete, so unused parameters wait for
  // finishGradientSync then (no early marking, no error).
  private onBackwardStart(leaves: ReadonlySet<unknown>, info: BackwardStartInfo): void {
    if (!this.syncEnabled || !this.overlap || info.nested) return;
    let reaches = false;
    for (const p of this.names.keys()) if (leaves.has(p)) { reaches = true; break; }
    if (!reaches) return;
    if (this.backwardSeen) {
      throw new Error('DistributedDataParallel: a second backward() before finishGradientSync(): its gradients would miss the buckets the first one launched. Await ddp.finishGradientSync() after each backward, wrap the earlier backward passes of an accumulation in ddp.noSync(() => ...), or set ddp.overlap = false to reduce only at finishGradientSync');
    }
    this.backwardSeen = true;
    this.recomputes = info.recomputes;
    if (this.findUnusedParameters && !info.recomputes) for (const p of this.names.keys()) if (!leaves.has(p)) this.onGradReady(p);
  }

  private onGradReady(p: Parameter): void {
    if (!this.syncEnabled || !this.overlap || this.readyParams.has(p)) return;
    this.readyParams.add(p);
    for (const { bucket, piece } of this.piecesOf.get(p)!) {
      if (piece.ready) continue;
      this.copyIn(bucket, piece);
      piece.ready = true; bucket.ready++;
    }
    this.launchAndCount();
  }

  // Rows of p's gradient, elements [start, start + block.size), final before p.grad is: copy them
  // into the pieces they cover; a piece whose elements are all in is ready.
  private onGradRows(p: Parameter, start: number, block: Tensor): void {
    if (!this.syncEnabled || !this.overlap || this.readyParams.has(p)) return;
    const c = block.contiguous();
    const src = (c.data as FloatArray).subarray(c.offset, c.offset + c.size);
    for (const { bucket, piece } of this.piecesOf.get(p)!) {
      const lo = Math.max(start, piece.start), hi = Math.min(start + src.length, piece.start + piece.size);
      if (lo >= hi || piece.ready) continue;
      bucket.flat.set(src.subarray(lo - start, hi - start), piece.offset + lo - piece.start);
      piece.filled += hi - lo;
      if (piece.filled === piece.size) { piece.ready = true; bucket.ready++; }
    }
    this.launchedFromRows += this.launchAndCount();
  }

  // Launches what is ready during backward; returns how many buckets started.
  private launchAndCount(): number {
    const before = this.nextLaunch;
    this.launchReady();
    if (this.nextLaunch > before) {
      if (this.launchedEarly === 0) this.firstLaunchAt = performance.now();
      this.launchedEarly += this.nextLaunch - before;
    }
    return this.nextLaunch - before;
  }

  // Copy the piece's part of p.grad into its place in the bucket, unless it is there already (rows
  // backward handed out, or p.grad is the view from the last step, e.g. of an unused parameter).
  private copyIn(b: Bucket, piece: Piece): void {
    const { p, offset, start, size } = piece;
    if (piece.filled === size) return;
    piece.filled = size;
    const g = p.grad;
    if (g === null) { b.flat.fill(0, offset, offset + size); return; } // unused on this rank: contributes zeros
    if (g.data === this.gradViews.get(p) && g.offset === 0) return;
    const src = g.isContiguous() ? g.data.subarray(g.offset + start, g.offset + start + size) : g.contiguous().data.subarray(start, start + size);
    b.flat.set(src as FloatArray, offset);
  }

  // Launch, in bucket order, every bucket whose gradients are all ready.
  private launchReady(force = false): void {
    while (this.nextLaunch < this.buckets.length) {
      const b = this.buckets[this.nextLaunch]!;
      if (!force && b.ready < b.params.length) return;
      for (const piece of b.params) this.copyIn(b, piece);
      if (this.gradientScale !== 1) { const k = this.gradientScale; const f = b.flat; for (let i = 0; i < f.length; i++) f[i] = f[i]! * k; }
      const t = fromBuffer(b.flat, b.params[0]!.p.dtype, [b.flat.length]);
      b.pending = this.commHook ? this.commHook(t, this.group, { index: this.nextLaunch, count: this.buckets.length, tensors: b.tensors }) : this.group.allReduce(t, 'avg');
      this.nextLaunch++;
    }
  }

  /**
   * Awaits every bucket's reduction and sets each parameter's `.grad` to the average over ranks: a
   * view into its bucket (the next synced step overwrites it; clone it to keep it).
   * Call after backward and before the optimizer step, on every rank.
   * @example loss.backward(); await ddp.finishGradientSync(); opt.step();
   */
  async finishGradientSync(): Promise<void> {
    const t0 = performance.now();
    // Parameters a synced backward left without a gradient (checked before launching, reported after
    // the reductions so every rank still takes part in them).
    const unused = this.backwardSeen && !this.findUnusedParameters && !this.recomputes ? [...this.names].filter(([p]) => !this.readyParams.has(p)).map(([, n]) => n) : [];
    this.launchReady(true); // buckets not launched during backward go now, still in order
    try {
      for (const b of this.buckets) {
        const r = await b.pending;
        if (r === null || r.dtype !== b.params[0]!.p.dtype || r.size !== b.flat.length || r.shape.length !== 1) {
          throw new Error(`DistributedDataParallel: the comm hook must resolve with a 1-D ${b.params[0]!.p.dtype} tensor of ${b.flat.length} elements (the averaged bucket), got ${r === null ? 'nothing' : `${r.dtype} (${r.shape.join(', ')})`}`);
        }
        if (r.data !== b.flat || r.offset !== 0) { // a hook that resolved with a tensor of its own
          const c = r.contiguous();
          b.flat.set((c.data as FloatArray).subarray(c.offset, c.offset + c.size));
        }
      }
      for (const [p, view] of this.gradViews) p.grad = fromBuffer(view, p.dtype, p.shape);
    } finally {
      for (const b of this.buckets) {
        b.ready = 0; b.pending = null;
        for (const piece of b.params) { piece.filled = 0; piece.ready = false; }
      }
      this.readyParams.clear();
      this.nextLaunch = 0;
      const waitMs = performance.now() - t0;
      const st = this.stats;
      st.steps++;
      st.buckets = this.buckets.length;
      st.launchedInBackward = this.launchedEarly;
      st.launchedFromRows = this.launchedFromRows;
      st.bytes = this.buckets.reduce((s, b) => s + b.flat.byteLength, 0);
      st.overlapMs = this.launchedEarly > 0 ? t0 - this.firstLaunchAt : 0;
      st.waitMs = waitMs;
      st.totalWaitMs += waitMs;
      this.launchedEarly = 0;
      this.launchedFromRows = 0;
      this.backwardSeen = false;
      this.recomputes = false;
    }
    if (unused.length > 0) {
      const show = unused.slice(0, 4).join(', ') + (unused.length > 4 ? `, ... (${unused.length} in all)` : '');
      throw new Error(`DistributedDataParallel: rank ${this.group.rank}: backward gave no gradient to ${show}; these parameters were not used in the forward (the gradients were still averaged, with this rank's current values or zeros). Pass findUnusedParameters: true to DistributedDataParallel.create if parameters may go unused, or set requiresGrad false on frozen ones`);
    }
  }

  /**
   * Replaces the plain all-reduce average of each gradient bucket: 'bf16' or 'fp16' compress it to
   * 16-bit floats (half the bytes; see comm_hooks.ts for the exact rounding), powerSgdHook({...})
   * compresses its matrices to low rank (powersgd.ts), or pass your own async function (bucket,
   * group, info) => averaged bucket. Every rank must register the same hook.
   * @example ddp.registerCommHook('bf16');
   */
  registerCommHook(hook: CommHookSpec): void {
    this.commHook = resolveCommHook(hook);
  }

  /** Removes the gradient hooks (the module keeps its parameters). */
  remove(): void { for (const h of this.hooks.splice(0)) h.remove(); }
}

// Every rank describes its model (parameter names, shapes, dtypes) as [count, elements, hash];
// all-gather and compare with rank 0's, failing on every rank with the ranks that differ.
async function checkSameModel(module: AnyModule, group: ProcessGroup): Promise<void> {
  const params = module.namedParameters();
  const desc = params.map(([n, p]) => `${n}:${p.dtype}(${p.shape.join(',')})`).join(';');
  const mine = new Int32Array([params.length, params.reduce((s, [, p]) => s + p.size, 0) | 0, hash32(desc)]);
  const all = (await group.allGather(fromBuffer(mine, 'int32', [3]))).data as Int32Array;
  const bad: number[] = [];
  for (let r = 1; r < group.worldSize; r++) {
    if (all[3 * r] !== all[0] || all[3 * r + 1] !== all[1] || all[3 * r + 2] !== all[2]) bad.push(r);
  }
  if (bad.length > 0) {
    const show = (r: number): string => `rank ${r}: ${all[3 * r]} parameters, ${all[3 * r + 1]} elements`;
    const preview = params.slice(0, 4).map(([n, p]) => `${n} (${p.shape.join(', ')})`).join(', ');
    throw new Error(`DistributedDataParallel: the model differs across ranks (${[0, ...bad].map(show).join('; ')}; names or shapes differ from rank 0's); this is rank ${group.rank}, whose first parameters are ${preview}. Every rank must build the same model.`);
  }
}
