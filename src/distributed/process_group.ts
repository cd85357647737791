// The process group: rendezvous (rank 0's store, every rank joins) + a Gloo context on a dedicated
// communication thread (native/src/distributed), and collectives on Tensors that return Promises. Gloo does
// the communication; this file validates tensors, runs the join, and turns a failed collective into
// a message that names the rank that left. It must not implement any collective itself.

import { fromBuffer, type Tensor } from '../core/tensor.js';
import { readLaunchEnv, type Env, type LaunchInfo } from './env.js';
import { ALGORITHM_CODES, distAddon, distLoadError, REDUCE_CODES, type CommArray, type NativeProcessGroup, type ReduceOp } from './native.js';
import { StoreClient, StoreServer, rankList } from './store.js';

export type { ReduceOp } from './native.js';

export interface InitProcessGroupOptions {
  /** Only 'gloo' (CPU collectives over TCP). */
  backend?: 'gloo';
  /** Overrides of the launch contract (otherwise read from the environment, see env.ts). */
  rank?: number;
  worldSize?: number;
  masterAddr?: string;
  masterPort?: number;
  /** Shared secret of the rendezvous store (default TENSORSLIM_DIST_TOKEN, else derived). */
  token?: string;
  /** Timeout of the rendezvous and of every collective, ms (default TENSORSLIM_DIST_TIMEOUT_MS or 30 s). */
  timeoutMs?: number;
  /** Address rank 0's store binds (default: MASTER_ADDR; TENSORSLIM_STORE_BIND overrides). */
  storeBind?: string;
  /** This rank's address for Gloo's connections (default: the local address that routes to rank 0; TENSORSLIM_DIST_HOST overrides). */
  host?: string;
  /** Environment to read the contract from (default process.env). */
  env?: Env;
  /**
   * Before every collective, all-gather (the group's collective number, op, element count, dtype,
   * root, reduce op) and fail on every rank naming the ranks and calls that differ ("rank 0:
   * allReduce #7 (sum, 1000 float32); rank 1: broadcast #7 (1000 float32 from rank 0)"); before every
   * send/recv, match it with the peer's call through the rendezvous store (size, dtype, tag; both
   * sides fail on a mismatch). Default: TENSORSLIM_DIST_DEBUG=1, which every rank must share. Costs
   * one small collective per collective and two store requests per send/recv; without it,
   * mismatched sizes abort the process inside Gloo (its own thread cannot be caught).
   */
  checkCollectives?: boolean;
}

/**
 * How an all-reduce runs (every rank of a group must use the same). `algorithm`: 'pipelined' (our
 * ring on Gloo's transport, native/src/distributed/ring_allreduce.cc: reduce-scatter then
 * all-gather, each chunk cut into segments that move on as soon as they are reduced), 'ring' or
 * 'bcube' (Gloo's own). `segmentBytes`: the largest piece of a rank's chunk sent as one message
 * (0 or unset: the algorithm's default, DEFAULT_PIPELINED_SEGMENT_BYTES for 'pipelined', Gloo's 1 MiB
 * for its ring); `depth`: 'pipelined' only, the segments received ahead into its temp ring
 * (default 4).
 * @example await pg.allReduce(grad, 'sum', { algorithm: 'pipelined', segmentBytes: 256 << 10 });
 */
export interface AllReduceTuning {
  segmentBytes?: number;
  algorithm?: AllReduceAlgorithm;
  depth?: number;
}
export type AllReduceAlgorithm = keyof typeof ALGORITHM_CODES;

/**
 * The segment of Gloo's ring when a group gives none: Gloo's own 1 MiB. bench/allreduce_tuning.ts found no difference
 * between 1, 2 and 4 MiB beyond the noise of a loaded machine (CPU per operation within 5%) and 256
 * KiB dearer (docs/DISTRIBUTED.md, "All-reduce bandwidth"); a quiet rerun may change it.
 * TENSORSLIM_ALLREDUCE_SEGMENT_BYTES overrides it and the pipelined one (every rank must agree).
 */
export const DEFAULT_ALLREDUCE_SEGMENT_BYTES = 1 << 20;
/** The segment of the 'pipelined' all-reduce when a group gives none (bench/allreduce_tuning.ts). */
export const DEFAULT_PIPELINED_SEGMENT_BYTES = 512 << 10;
/** The all-reduce algorithm of a group that sets none; TENSORSLIM_ALLREDUCE_ALGORITHM overrides it (every rank must agree). */
export const DEFAULT_ALLREDUCE_ALGORITHM: AllReduceAlgorithm = 'ring';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);
const STORE_PREFIX = 'tensorslim/pg';

/** Why distributed training is unavailable here, or null when the Gloo addon loaded. */
export function glooUnavailableReason(): string | null { return distLoadError(); }

/**
 * A group of processes that run collectives together. Every rank must call the same collectives in
 * the same order; results are written into the given tensors (or returned, for allGather and
 * reduceScatter) when the Promise resolves. Do not touch a tensor while its collective is pending.
 */
export class ProcessGroup {
  private destroyed = false;
  /** Whether each collective is first checked across ranks (see InitProcessGroupOptions.checkCollectives). */
  checkCollectives = false;
  /** The ranks of the default group that form this group, in group-rank order (0..N-1 for the default group). */
  readonly ranks: readonly number[];
  private readonly children: ProcessGroup[] = [];
  private groupsMade = 0;
  /** @internal this group's name in the store keys of the send/recv check (newGroup sets 'group<id>') */
  checkKey = 'world';
  /** Collectives called on this group so far (every kind; checkCollectives reports the number). */
  private seq = 0;
  /** Sends/recvs per (source, destination, tag) so far, for the send/recv check. */
  private readonly p2pCounts = new Map<string, number>();
  /**
   * The all-reduce settings of calls that give none (see AllReduceTuning); every rank must set the
   * same. Default: DEFAULT_ALLREDUCE_ALGORITHM (or TENSORSLIM_ALLREDUCE_ALGORITHM), each algorithm's
   * default segment (or TENSORSLIM_ALLREDUCE_SEGMENT_BYTES).
   */
  allReduceTuning: AllReduceTuning = { segmentBytes: defaultSegmentBytes(), algorithm: defaultAlgorithm() };
  /** @internal how a sub-group reaches the store (set by initProcessGroup on the default group) */
  connection: { storeHost: string; storePort: number; token: string; host: string } | null = null;

  /** @internal use initProcessGroup or newGroup */
  constructor(
    readonly rank: number,
    readonly worldSize: number,
    readonly timeoutMs: number,
    private readonly native: NativeProcessGroup,
    private readonly client: StoreClient,
    private readonly server: StoreServer | null,
    private readonly parent: ProcessGroup | null = null,
    ranks?: readonly number[],
  ) {
    this.ranks = ranks ?? Array.from({ length: worldSize }, (_, r) => r);
  }

  /** Where messages place this group: '' for the default group, else ' in group [world ranks]'. */
  private get where(): string { return this.parent === null ? '' : ` in the sub-group of ranks [${this.ranks.join(', ')}]`; }

  /**
   * Makes a sub-group of this (default) group's ranks, with its own Gloo context and communication
   * thread over the same rendezvous store (keys prefixed per group), as PyTorch's new_group does.
   * Every rank of this group must call it, in the same order and with the same `ranks`; members get
   * the sub-group (their rank in it is their position in `ranks`), the others null. Collectives on
   * different groups run on different threads, so e.g. a tensor-parallel all-reduce and a
   * data-parallel bucket reduction can be in flight at once.
   * @example
   * // 4 ranks: every rank makes both groups, in this order, and keeps the one it belongs to
   * const tp = [await pg.newGroup([0, 1]), await pg.newGroup([2, 3])].find((g) => g !== null)!;
   */
  async newGroup(ranks: readonly number[], opts: { timeoutMs?: number } = {}): Promise<ProcessGroup | null> {
    this.alive('newGroup');
    const what = `newGroup([${ranks.join(', ')}]) (rank ${this.rank} of ${this.worldSize})`;
    if (this.parent !== null || this.connection === null) throw new Error(`${what}: sub-groups are made from the default group (initProcessGroup's), not from a sub-group`);
    const sorted = [...ranks].sort((a, b) => a - b);
    if (ranks.length === 0 || ranks.some((r) => !Number.isInteger(r) || r < 0 || r >= this.worldSize) || sorted.some((r, i) => i > 0 && r === sorted[i - 1])) {
      throw new Error(`${what}: ranks must be distinct integers in 0..${this.worldSize - 1}, at least one`);
    }
    const id = this.groupsMade++;
    // Every rank must be making the same group: compare a hash of (id, ranks) with one small all-gather.
    let h = 2166136261 ^ id;
    for (const r of [ranks.length, ...ranks]) h = Math.imul(h ^ r, 16777619);
    const mine = new Int32Array([h | 0, id]);
    const all = new Int32Array(2 * this.worldSize);
    await this.wrap('newGroup', this.native.allGather(mine, all));
    const differ = Array.from({ length: this.worldSize }, (_, r) => r).filter((r) => all[2 * r] !== all[0] || all[2 * r + 1] !== all[1]);
    if (differ.length > 0) throw new Error(`${what}: ${rankList(differ)} made a different group (or a different number of groups before it) than rank 0; every rank must call newGroup with the same ranks in the same order`);
    const at = ranks.indexOf(this.rank);
    let sub: ProcessGroup | null = null;
    if (at >= 0) {
      const addon = distAddon()!;
      const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
      const native = new addon.ProcessGroup(at, ranks.length, timeoutMs);
      const c = this.connection;
      try {
        await native.connect(c.storeHost, c.storePort, c.token, `${STORE_PREFIX}/group${id}`, c.host);
      } catch (e) {
        await native.close().catch(() => undefined);
        throw new Error(`${what}: ${(e as Error).message}`, { cause: e });
      }
      sub = new ProcessGroup(at, ranks.length, timeoutMs, native, this.client, null, this, [...ranks]);
      sub.checkCollectives = this.checkCollectives;
      sub.checkKey = `group${id}`;
      this.children.push(sub);
    }
    // Every member's Gloo handshake (which reads rank 0's store) is done once this returns, so rank 0
    // may then block its event loop in allReduceSync on any group.
    await this.wrap('newGroup', this.native.barrier());
    return sub;
  }

  /**
   * Reduces `t` across ranks in place (sum, avg, max or min) and resolves with it.
   * @example await pg.allReduce(grad, 'avg');
   */
  allReduce(t: Tensor, op: ReduceOp = 'sum', tuning: AllReduceTuning = {}): Promise<Tensor> {
    const buf = this.buffer('allReduce', t);
    if (op === 'avg' && t.dtype === 'int32') throw new Error('allReduce: avg of an int32 tensor is not supported; use sum and divide');
    const [seg, algo, depth] = this.tuningCodes('allReduce', tuning);
    return this.checked('allReduce', { code: 1, size: t.size, dtype: t.dtype, reduce: op }, () => this.native.allReduce(buf, REDUCE_CODES[op], 0, seg, algo, depth)).then(() => this.wrote(t));
  }

  // The binding's (segmentBytes, algorithm code, depth) of a call's tuning over the group's (0: the
  // algorithm's default).
  private tuningCodes(op: string, tuning: AllReduceTuning): [number, number, number] {
    const algo = tuning.algorithm ?? this.allReduceTuning.algorithm ?? DEFAULT_ALLREDUCE_ALGORITHM;
    if (!Object.hasOwn(ALGORITHM_CODES, algo)) throw new Error(`${op}: algorithm must be one of ${Object.keys(ALGORITHM_CODES).map((k) => `'${k}'`).join(', ')}, got '${String(algo)}'`);
    const seg = tuning.segmentBytes ?? this.allReduceTuning.segmentBytes ?? 0;
    if (!Number.isInteger(seg) || seg < 0) throw new Error(`${op}: segmentBytes must be a non-negative integer (0: the algorithm's default), got ${seg}`);
    const depth = tuning.depth ?? this.allReduceTuning.depth ?? 0;
    if (!Number.isInteger(depth) || depth < 0 || depth > 1024) throw new Error(`${op}: depth must be an integer from 1 to 1024 segments (0: the default of 4), got ${depth}`);
    return [seg === 0 && algo === 'pipelined' ? DEFAULT_PIPELINED_SEGMENT_BYTES : seg, ALGORITHM_CODES[algo], depth];
  }

  /**
   * Sums 16-bit floats (bfloat16 or IEEE half bits) across ranks in place, each addition rounded
   * to the format: the transport of the DDP compression hooks (comm_hooks.ts). Resolves with `bits`.
   * @example await pg.allReduce16(bits, 'bfloat16');
   */
  async allReduce16(bits: Uint16Array, format: 'bfloat16' | 'float16'): Promise<Uint16Array> {
    this.alive('allReduce16');
    await this.checked('allReduce16', { code: 6, size: bits.length, dtype: format, reduce: 'sum' }, () => this.native.allReduce16(bits, format === 'float16' ? 1 : 0));
    return bits;
  }

  /**
   * allReduce that blocks this thread until every rank has contributed, for code that cannot await:
   * the gradient rules of tensor parallelism run inside the synchronous backward(). It queues behind
   * every collective issued before it, like the others. Prefer allReduce elsewhere.
   * @example pg.allReduceSync(partialSum, 'sum');
   */
  allReduceSync(t: Tensor, op: ReduceOp = 'sum'): Tensor {
    const buf = this.buffer('allReduceSync', t);
    if (op === 'avg' && t.dtype === 'int32') throw new Error('allReduceSync: avg of an int32 tensor is not supported; use sum and divide');
    const check = this.checkCall('allReduceSync', { code: 1, size: t.size, dtype: t.dtype, reduce: op });   // an allReduce to the other ranks
    try {
      if (check !== null) {
        this.native.allReduceSync(check.buf, REDUCE_CODES.sum);
        check.compare();
      }
      const [seg, algo, depth] = this.tuningCodes('allReduceSync', {});
      this.native.allReduceSync(buf, REDUCE_CODES[op], 0, seg, algo, depth);
    } catch (e) {
      const msg = (e as Error).message;
      throw new Error(`${msg.startsWith('allReduce') ? msg : `allReduceSync (rank ${this.rank} of ${this.worldSize}): ${msg}`}${this.where}; see the other ranks' messages for which rank failed`, { cause: e });
    }
    return this.wrote(t);
  }

  /**
   * Copies rank `src`'s `t` into `t` on every rank.
   * @example await pg.broadcast(param, 0);
   */
  broadcast(t: Tensor, src = 0): Promise<Tensor> {
    this.checkRank('broadcast', src);
    const buf = this.buffer('broadcast', t);
    return this.checked('broadcast', { code: 2, size: t.size, dtype: t.dtype, root: src }, () => this.native.broadcast(buf, src)).then(() => this.wrote(t));
  }

  /**
   * Gathers every rank's `t` (same shape on all ranks) into a new tensor of shape [worldSize, ...t.shape].
   * @example const all = await pg.allGather(x); // all.shape[0] === worldSize
   */
  async allGather(t: Tensor): Promise<Tensor> {
    const input = this.buffer('allGather', t);
    const out = new (input.constructor as new (n: number) => CommArray)(input.length * this.worldSize);
    await this.checked('allGather', { code: 3, size: t.size, dtype: t.dtype }, () => this.native.allGather(input, out));
    return fromBuffer(out, t.dtype, [this.worldSize, ...t.shape]);
  }

  /**
   * Starts an in-place all-gather of `t` for code that cannot await (ZeRO-3's hooks inside the
   * synchronous forward and backward): `t` (contiguous, worldSize equal runs) holds this rank's run
   * at position `rank`; `wait()` blocks this thread until every run holds its rank's values and
   * returns `t`. Queued in order with every other collective, so work done before `wait()` overlaps
   * the transfer; do not touch `t` until `wait()` returns. Each rank sends and receives (N-1)/N of
   * `t`'s bytes (Gloo's ring all-gather), half of an all-reduce's. `wait()` throws if it failed.
   * @example
   * const g = pg.startAllGather(unitBuffer); // this rank's shard already at [rank * S, (rank + 1) * S)
   * computeSomethingElse();
   * g.wait();                                 // unitBuffer now whole on every rank
   */
  startAllGather(t: Tensor): { wait(): Tensor } {
    const buf = this.buffer('startAllGather', t);
    if (t.size % this.worldSize !== 0) throw new Error(`startAllGather: the tensor of shape (${t.shape.join(', ')}) has ${t.size} elements, not ${this.worldSize} equal runs (one per rank); pad it to a multiple of the world size`);
    const fail = (e: unknown): never => {
      const msg = (e as Error).message;
      throw new Error(`${msg.startsWith('allGather') ? msg : `startAllGather (rank ${this.rank} of ${this.worldSize}): ${msg}`}${this.where}; see the other ranks' messages for which rank failed`, { cause: e });
    };
    const check = this.checkCall('startAllGather', { code: 3, size: t.size / this.worldSize, dtype: t.dtype });
    let id = 0;
    try {
      if (check !== null) {
        this.native.allReduceSync(check.buf, REDUCE_CODES.sum);
        check.compare();
      }
      id = this.native.allGatherStart(buf);
    } catch (e) { fail(e); }
    let waited = false;
    return {
      wait: (): Tensor => {
        if (waited) return t;
        waited = true;
        try { this.native.waitSync(id); } catch (e) { fail(e); }
        return this.wrote(t);
      },
    };
  }

  /**
   * Reduces `t` across ranks and returns this rank's share of the result (a true reduce-scatter:
   * a ring over Gloo's point-to-point transfers, each rank sending and receiving (N-1)/N of the
   * tensor's bytes). Without `counts`, the first dimension must be divisible by worldSize and rank r
   * gets rows [r * n, (r + 1) * n), n = t.shape[0] / worldSize. With `counts` (elements per rank,
   * adding up to t.size; uneven sizes and zeros allowed), rank r gets the 1-D run of counts[r]
   * elements that starts at counts[0] + ... + counts[r-1] in `t`'s flat order. `t` is unchanged,
   * unless `inPlace` (no copy of `t`: it is the ring's work buffer, and afterwards holds this rank's
   * result at its run, scratch elsewhere; do not touch it until the Promise settles).
   * @example
   * const mine = await pg.reduceScatter(x, 'sum');            // x: (4, 3), 2 ranks -> mine: (2, 3)
   * const part = await pg.reduceScatter(flat, 'avg', [5, 3]); // flat: 8 elements -> 5 on rank 0, 3 on rank 1
   */
  async reduceScatter(t: Tensor, op: ReduceOp = 'sum', counts?: readonly number[], opts: { inPlace?: boolean } = {}): Promise<Tensor> {
    const src = this.buffer('reduceScatter', t);
    let shape: number[];
    let split: number[];
    if (counts === undefined) {
      if (t.ndim === 0 || t.shape[0]! % this.worldSize !== 0) {
        throw new Error(`reduceScatter: the first dimension of shape (${t.shape.join(', ')}) must be divisible by the world size ${this.worldSize}; pass counts per rank for uneven shares`);
      }
      const chunk = t.size / this.worldSize;
      split = Array.from({ length: this.worldSize }, () => chunk);
      shape = [t.shape[0]! / this.worldSize, ...t.shape.slice(1)];
    } else {
      if (counts.length !== this.worldSize || counts.some((c) => !Number.isInteger(c) || c < 0)) {
        throw new Error(`reduceScatter: counts [${counts.join(', ')}] must hold one non-negative integer per rank (world size ${this.worldSize})`);
      }
      const total = counts.reduce((x, y) => x + y, 0);
      if (total !== t.size) throw new Error(`reduceScatter: counts [${counts.join(', ')}] add up to ${total} elements, but the tensor of shape (${t.shape.join(', ')}) has ${t.size}`);
      split = [...counts];
      shape = [split[this.rank]!];
    }
    if (op === 'avg' && t.dtype === 'int32') throw new Error('reduceScatter: avg of an int32 tensor is not supported; use sum');
    const work = opts.inPlace === true ? src : src.slice();
    await this.checked('reduceScatter', { code: 4, size: t.size, dtype: t.dtype, reduce: op }, () => this.native.reduceScatter(work, REDUCE_CODES[op], split));
    const start = split.slice(0, this.rank).reduce((x, y) => x + y, 0);
    return fromBuffer(work.slice(start, start + split[this.rank]!), t.dtype, shape);
  }

  /**
   * Resolves when every rank has reached the barrier.
   * @example await pg.barrier();
   */
  barrier(): Promise<void> {
    this.alive('barrier');
    return this.checked('barrier', { code: 5, size: 0, dtype: null }, () => this.native.barrier());
  }

  /**
   * Sends `t` to rank `dst`; the matching recv on `dst` uses the same tag.
   * @example if (pg.rank === 0) await pg.send(x, 1); else await pg.recv(x, 0);
   */
  send(t: Tensor, dst: number, tag = 0): Promise<void> {
    this.checkPeer('send', dst);
    const buf = this.buffer('send', t);
    return this.p2pChecked('send', dst, tag >>> 0, t, () => this.native.send(buf, dst, tag >>> 0));
  }

  /**
   * Receives into `t` (same size as the sender's tensor) from rank `src`.
   * @example const x = zeros([3]); await pg.recv(x, 0);
   */
  recv(t: Tensor, src: number, tag = 0): Promise<Tensor> {
    this.checkPeer('recv', src);
    const buf = this.buffer('recv', t);
    return this.p2pChecked('recv', src, tag >>> 0, t, () => this.native.recv(buf, src, tag >>> 0)).then(() => this.wrote(t));
  }

  /**
   * Closes the Gloo context, leaves the store cleanly and (rank 0) stops it.
   * @example await pg.destroy(); // or destroyProcessGroup() for the default group
   */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const g of this.children.splice(0)) await g.destroy();
    await this.native.close().catch(() => undefined);
    if (this.parent !== null) return; // the store connection is the default group's
    await this.client.leave().catch(() => undefined);
    this.client.close();
    if (this.server !== null) await this.server.close();
  }

  // Every collective counts (this.seq). With checkCollectives it first all-gathers its header
  // [number, op, elements, dtype, root, reduce op] (a fixed size, so always safe; as a sum of
  // zero-padded rows, so that allReduceSync can do the same synchronously) and fails on every rank,
  // naming the ranks whose call differs from rank 0's.
  private checkCall(op: string, c: CollectiveCall): { buf: Int32Array; compare: () => void } | null {
    const n = ++this.seq;
    if (!this.checkCollectives) return null;
    const buf = new Int32Array(CHECK_FIELDS * this.worldSize);
    buf.set([n, c.code, c.size, c.dtype === null ? -1 : CHECK_DTYPES.indexOf(c.dtype), c.root ?? -1, c.reduce === undefined ? -1 : REDUCE_NAMES.indexOf(c.reduce)], CHECK_FIELDS * this.rank);
    const compare = (): void => {
      const row = (r: number): Int32Array => buf.subarray(CHECK_FIELDS * r, CHECK_FIELDS * (r + 1));
      const bad = Array.from({ length: this.worldSize }, (_, r) => r).filter((r) => row(r).some((v, k) => v !== buf[k]));
      if (bad.length > 0) {
        throw new Error(`${op} (rank ${this.rank} of ${this.worldSize}${this.where}): the ranks called different collectives or sizes (${[0, ...bad].map((r) => `rank ${r}: ${describeCall(row(r))}`).join('; ')}); `
          + 'every rank must call the same collectives in the same order, with the same shape, dtype and op');
      }
    };
    return { buf, compare };
  }

  private async checked(op: string, c: CollectiveCall, run: () => Promise<void>): Promise<void> {
    const check = this.checkCall(op, c);
    if (check !== null) {
      await this.wrap(op, this.native.allReduce(check.buf, REDUCE_CODES.sum));
      check.compare();
    }
    await this.wrap(op, run());
  }

  // With checkCollectives, a send and its recv are matched before any byte moves: each side writes
  // its call (elements, dtype) under a store key of (source, destination, tag, n-th such call: Gloo
  // pairs them in that order) and polls for the other side's (never a blocking get, which would hold
  // up this rank's other store requests), then both compare.
  private async p2pChecked(op: 'send' | 'recv', peer: number, tag: number, t: Tensor, run: () => Promise<void>): Promise<void> {
    if (this.checkCollectives) {
      const [src, dst] = op === 'send' ? [this.rank, peer] : [peer, this.rank];
      const pair = `${src}>${dst}/${tag}`;
      const n = (this.p2pCounts.get(pair) ?? 0) + 1;
      this.p2pCounts.set(pair, n);
      const other = op === 'send' ? 'recv' : 'send';
      const call = (what: string, code: number): string => `${what} #${n} (${Math.floor((code - 1) / 8)} ${CHECK_DTYPES[(code - 1) % 8] ?? '?'}, tag ${tag}) ${what === 'send' ? `to rank ${dst}` : `from rank ${src}`}`;
      const mineCode = 1 + CHECK_DTYPES.indexOf(t.dtype) + 8 * t.size;
      const key = (side: string): string => `${STORE_PREFIX}/check/${this.checkKey}/${pair}/${n}/${side}`;
      const head = `${op} (rank ${this.rank} of ${this.worldSize}${this.where})`;
      await this.client.add(key(op), mineCode);
      const deadline = Date.now() + this.timeoutMs;
      let theirs = 0;
      for (let wait = 1; (theirs = await this.client.add(key(other), 0)) === 0; wait = Math.min(wait * 2, 20)) {
        if (Date.now() >= deadline) {
          throw new Error(`${head}: rank ${peer} made no matching ${other} within ${this.timeoutMs} ms for this rank's ${call(op, mineCode)}: `
            + `it ${other}s with another tag or peer, calls a collective, or is hung or still computing (TENSORSLIM_DIST_DEBUG check)`);
        }
        await new Promise((r) => setTimeout(r, wait));
      }
      if (theirs !== mineCode) {
        throw new Error(`${head}: the ${op} and its ${other} differ (rank ${this.rank}: ${call(op, mineCode)}; rank ${peer}: ${call(other, theirs)}); the receiving tensor must have the sender's size and dtype`);
      }
    }
    await this.wrap(op, run());
  }

  private alive(op: string): void {
    if (this.destroyed) throw new Error(`${op}: the process group was destroyed`);
  }

  private checkRank(op: string, r: number): void {
    if (!Number.isInteger(r) || r < 0 || r >= this.worldSize) throw new Error(`${op}: rank ${r} is out of range for world size ${this.worldSize}`);
  }

  private checkPeer(op: string, r: number): void {
    this.checkRank(op, r);
    if (r === this.rank) throw new Error(`${op}: rank ${r} cannot ${op === 'send' ? 'send to' : 'receive from'} itself`);
  }

  private buffer(op: string, t: Tensor): CommArray {
    this.alive(op);
    if (t.dtype !== 'float32' && t.dtype !== 'float64' && t.dtype !== 'int32') {
      throw new Error(`${op}: dtype ${t.dtype} is not supported; use float32, float64 or int32`);
    }
    if (!t.isContiguous()) throw new Error(`${op}: the tensor of shape (${t.shape.join(', ')}) is not contiguous; call .contiguous() first`);
    return (t.data as CommArray).subarray(t.offset, t.offset + t.size);
  }

  private wrote(t: Tensor): Tensor {
    t.version = t.version + 1; // an in-place write: saved copies of t on the tape are now stale
    return t;
  }

  // A failed collective: add which ranks left (their store connection closed), so every rank's
  // message names the culprit. Rank 0's server may see the close a moment after Gloo's error.
  private async wrap(op: string, p: Promise<void>): Promise<void> {
    try {
      await p;
    } catch (e) {
      const msg = (e as Error).message;
      throw new Error(`${msg.startsWith(op) ? msg : `${op} (rank ${this.rank} of ${this.worldSize}): ${msg}`}${this.where}${await this.culprit()}`, { cause: e });
    }
  }

  // Which rank is to blame: one that exited (its store connection closed without a failure report),
  // else the ranks that did not report this failure within 2 s (hung, or still computing).
  private async culprit(): Promise<string> {
    await this.client.reportFailure().catch(() => undefined);
    const deadline = Date.now() + 2000;
    for (;;) {
      const h = this.client.closed ? this.client.lastHealth : await this.client.health(1000).catch(() => this.client.lastHealth);
      if (h.departed.length > 0) return `; ${rankList(h.departed)} left the group (process exited or was killed)`;
      if (this.client.closed && this.rank !== 0 && !h.failed.includes(0)) return '; rank 0 is gone (its rendezvous store is unreachable)';
      if (this.client.closed || Date.now() >= deadline) {
        const me = this.ranks[this.rank];
        const silent = this.ranks.filter((r) => r !== me && !h.failed.includes(r)); // ranks of the default group
        return silent.length > 0
          ? `; no rank has exited, and ${rankList(silent)} did not report this failure: hung, slow, or calling a different collective (timeout ${this.timeoutMs} ms)`
          : '; every other rank reported this failure first (this rank was the late one)';
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function defaultSegmentBytes(): number {
  const v = process.env['TENSORSLIM_ALLREDUCE_SEGMENT_BYTES'];
  if (v === undefined || v === '') return 0;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`TENSORSLIM_ALLREDUCE_SEGMENT_BYTES must be a non-negative integer of bytes (0: the algorithm's default), got '${v}'`);
  return n;
}

function defaultAlgorithm(): AllReduceAlgorithm {
  const v = process.env['TENSORSLIM_ALLREDUCE_ALGORITHM'];
  if (v === undefined || v === '') return DEFAULT_ALLREDUCE_ALGORITHM;
  if (!Object.hasOwn(ALGORITHM_CODES, v)) throw new Error(`TENSORSLIM_ALLREDUCE_ALGORITHM must be one of ${Object.keys(ALGORITHM_CODES).join(', ')}, got '${v}'`);
  return v as AllReduceAlgorithm;
}

let current: ProcessGroup | null = null;

/** A collective as the debug check compares it across ranks. */
interface CollectiveCall { code: number; size: number; dtype: string | null; root?: number; reduce?: ReduceOp }
const CHECK_FIELDS = 6;
const CHECK_DTYPES = ['float32', 'float64', 'int32', 'bfloat16', 'float16'];
const REDUCE_NAMES: readonly ReduceOp[] = ['sum', 'avg', 'max', 'min'];
const CALL_NAMES = ['?', 'allReduce', 'broadcast', 'allGather', 'reduceScatter', 'barrier', 'allReduce16'];

/** One rank's header row as text: 'allReduce #7 (sum, 1000 float32)', 'broadcast #7 (10 float32 from rank 0)', 'barrier #3'. */
function describeCall(h: Int32Array): string {
  const [n, code, size, dtype, root, reduce] = Array.from(h);
  const name = CALL_NAMES[code!] ?? '?';
  if (code === 5) return `${name} #${n}`;
  const what = `${size} ${CHECK_DTYPES[dtype!] ?? '?'}`;
  if (code === 2) return `${name} #${n} (${what} from rank ${root})`;
  return `${name} #${n} (${reduce! >= 0 ? `${REDUCE_NAMES[reduce!]}, ` : ''}${what})`;
}

/**
 * Joins the process group described by the launch contract (torchrun, Slurm, Open MPI, Kubernetes or
 * `tensorslim launch`; see docs/DISTRIBUTED.md) and makes it the default group.
 * @example
 * const pg = await initProcessGroup({ backend: 'gloo' });
 * await allReduce(t, 'avg');
 * await destroyProcessGroup();
 */
export async function initProcessGroup(opts: InitProcessGroupOptions = {}): Promise<ProcessGroup> {
  if ((opts.backend ?? 'gloo') !== 'gloo') throw new Error(`initProcessGroup: backend '${String(opts.backend)}' is not available; only 'gloo' is`);
  if (current !== null) throw new Error('initProcessGroup: a process group is already initialized; call destroyProcessGroup() first');
  const addon = distAddon();
  if (addon === null) throw new Error(`initProcessGroup: distributed training needs the Gloo addon: ${distLoadError() ?? ''}`);
  const env = opts.env ?? process.env;
  const info: LaunchInfo = readLaunchEnv(env);
  const rank = opts.rank ?? info.rank;
  const worldSize = opts.worldSize ?? info.worldSize;
  const masterAddr = opts.masterAddr ?? info.masterAddr;
  let masterPort = opts.masterPort ?? info.masterPort;
  const token = opts.token ?? info.token;
  const timeoutMs = opts.timeoutMs ?? info.timeoutMs;
  const where = `initProcessGroup (rank ${rank} of ${worldSize})`;
  if (!Number.isInteger(worldSize) || worldSize < 1 || !Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new Error(`${where}: rank ${rank} does not fit world size ${worldSize}; ranks run 0..${worldSize - 1}`);
  }
  let server: StoreServer | null = null;
  let client: StoreClient | null = null;
  const storeHost = rank === 0 && worldSize === 1 ? '127.0.0.1' : masterAddr;
  let native: NativeProcessGroup | null = null;
  let host = '';
  try {
    if (rank === 0) {
      const bind = opts.storeBind ?? env['TENSORSLIM_STORE_BIND'] ?? (LOOPBACK.has(masterAddr) ? '127.0.0.1' : masterAddr);
      // A single process needs no agreed port: take a free one.
      server = await StoreServer.listen({ host: bind, port: worldSize === 1 ? 0 : masterPort, token, worldSize });
      if (worldSize === 1) masterPort = server.port;
    }
    client = await StoreClient.connect({ host: storeHost, port: masterPort, token, connectTimeoutMs: timeoutMs });
    await client.join(rank, worldSize, timeoutMs);
    host = opts.host ?? env['TENSORSLIM_DIST_HOST'] ?? client.localAddress.replace(/^::ffff:/, '');
    native = new addon.ProcessGroup(rank, worldSize, timeoutMs);
    await native.connect(storeHost, masterPort, token, STORE_PREFIX, host);
    // Every rank has finished its Gloo handshake (which reads rank 0's store) once this returns: after
    // it rank 0 may block its event loop, which serves the store, in allReduceSync.
    await native.barrier();
  } catch (e) {
    await native?.close().catch(() => undefined);
    client?.close();
    await server?.close();
    throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
  }
  current = new ProcessGroup(rank, worldSize, timeoutMs, native, client, server);
  current.connection = { storeHost, storePort: masterPort, token, host };
  current.checkCollectives = opts.checkCollectives ?? env['TENSORSLIM_DIST_DEBUG'] === '1';
  return current;
}

/** The default group, or an error saying to call initProcessGroup. */
export function defaultGroup(op = 'distributed'): ProcessGroup {
  if (current === null) throw new Error(`${op}: no process group; call await initProcessGroup({ backend: 'gloo' }) first`);
  return current;
}

/** True after initProcessGroup and before destroyProcessGroup. */
export function isInitialized(): boolean { return current !== null; }

/**
 * This process's rank in the default group (0 when none is initialized).
 * @example if (getRank() === 0) console.log('saving');
 */
export function getRank(): number { return current?.rank ?? 0; }

/**
 * The number of processes in the default group (1 when none is initialized).
 * @example const perRank = Math.ceil(n / getWorldSize());
 */
export function getWorldSize(): number { return current?.worldSize ?? 1; }

/**
 * Tears the default group down (every rank should call it at the end).
 * @example await destroyProcessGroup();
 */
export async function destroyProcessGroup(): Promise<void> {
  const g = current;
  current = null;
  await g?.destroy();
}

/**
 * A sub-group of the default group's `ranks` (see ProcessGroup.newGroup): every rank calls it, in
 * the same order with the same ranks; members get the group, the others null.
 * @example
 * const dp = [await newGroup([0, 2]), await newGroup([1, 3])].find((g) => g !== null)!; // 4 ranks: 2 x 2
 */
export function newGroup(ranks: readonly number[], opts: { timeoutMs?: number } = {}): Promise<ProcessGroup | null> { return defaultGroup('newGroup').newGroup(ranks, opts); }

/** allReduce on the default group. @example await allReduce(t, 'sum'); */
export function allReduce(t: Tensor, op: ReduceOp = 'sum', tuning: AllReduceTuning = {}): Promise<Tensor> { return defaultGroup('allReduce').allReduce(t, op, tuning); }
/** broadcast on the default group. @example await broadcast(t, 0); */
export function broadcast(t: Tensor, src = 0): Promise<Tensor> { return defaultGroup('broadcast').broadcast(t, src); }
/** allGather on the default group. @example const all = await allGather(t); */
export function allGather(t: Tensor): Promise<Tensor> { return defaultGroup('allGather').allGather(t); }
/** reduceScatter on the default group. @example const mine = await reduceScatter(t); */
export function reduceScatter(t: Tensor, op: ReduceOp = 'sum', counts?: readonly number[]): Promise<Tensor> { return defaultGroup('reduceScatter').reduceScatter(t, op, counts); }
/** barrier on the default group. @example await barrier(); */
export function barrier(): Promise<void> { return defaultGroup('barrier').barrier(); }
/** send on the default group. @example await send(t, 1); */
export function send(t: Tensor, dst: number, tag = 0): Promise<void> { return defaultGroup('send').send(t, dst, tag); }
/** recv on the default group. @example await recv(t, 0); */
export function recv(t: Tensor, src: number, tag = 0): Promise<Tensor> { return defaultGroup('recv').recv(t, src, tag); }
