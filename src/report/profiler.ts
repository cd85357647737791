// The profiler: times every backend kernel call, named regions (data, forward, backward, optimizer,
// comm, or any name) and garbage collections, counts FLOPs and bytes per kernel, attributes every
// millisecond of a step (the accounting), and samples memory at region boundaries. It installs a
// profiling stand-in of the active backend through the registry's public API (registerBackend +
// setBackend) and puts the original back on stop; it never changes
// what a kernel computes. A JS timer around a native call sees the call's whole wall time (threads
// included) but not how it splits inside (docs/PROFILING.md).

import { performance, PerformanceObserver } from 'node:perf_hooks';
import os from 'node:os';
import v8 from 'node:v8';
import type { Backend } from '../backend/backend.js';
import { getBackend, listBackends, registerBackend, setBackend } from '../backend/registry.js';
import { Tensor } from '../core/tensor.js';
import type { Optimizer } from '../optim/optimizer.js';
import { kernelCost, kernelName } from './kernel_cost.js';
import { type HasParameters, optimizerStateBytes, parameterBytes, savedActivationScan } from './memory.js';
import type { Node } from '../autograd/tape.js';

/** The step phases a region may name; kernels are attributed to the innermost enclosing one. */
export type Phase = 'data' | 'forward' | 'backward' | 'optimizer' | 'comm' | 'other';
const PHASES: ReadonlySet<string> = new Set(['data', 'forward', 'backward', 'optimizer', 'comm']);
const PHASE_LIST: readonly Phase[] = ['data', 'forward', 'backward', 'optimizer', 'comm', 'other'];

/** The native backend's per-thread kernel timing (BackendInfo.poolTrace / poolTraceDrain). */
interface PoolTracer { poolTrace(on: boolean): void; poolTraceDrain(): { spans: Float64Array; nowUs: number } }
function poolTracer(b: Backend): PoolTracer | null {
  return typeof b.poolTrace === 'function' && typeof b.poolTraceDrain === 'function' ? (b as PoolTracer) : null;
}

/** One timed interval, in milliseconds since the profiler started. */
export interface ProfileEvent {
  name: string;
  /** 'thread': work of a native pool thread (named after the kernel it ran for). */
  cat: 'kernel' | 'region' | 'gc' | 'thread';
  start: number;
  dur: number;
  phase: Phase;
  /** Nesting depth (regions and kernels; 0 = outermost). */
  depth: number;
  /** Kernels: modelled FLOPs and bytes of the call. */
  flops?: number;
  /**
   * Kernels: JavaScript time on the main thread between the previous boundary (the end of the
   * previous kernel, or a region's enter or exit) and this call: the op's dispatch (argument
   * checks, broadcasting, views) and the bookkeeping of the op before it (tape record, Tensor).
   */
  dispatchMs?: number;
  bytes?: number;
  /** Regions: time outside nested regions and kernels (profiler overhead excluded). */
  selfMs?: number;
  /**
   * Regions: time the profiler spent sampling memory inside this region. `dur` is the real span
   * (so the trace nests); the statistics use dur - overheadMs.
   */
  overheadMs?: number;
  /** Kernels on the native backend: from the first pool thread's start to the last one's end (native timing). */
  nativeMs?: number;
  /**
   * 'comm' regions with a `comm` source (ProfilerOptions.comm, e.g. the DDP): the time the source
   * itself says it waited for communication during the region (DdpCommStats.waitMs), and how long
   * its communication ran hidden behind earlier work (overlapMs).
   */
  commWaitMs?: number;
  commOverlapMs?: number;
  /** Kernels: summed busy time of the pool threads that worked on the call. */
  threadBusyMs?: number;
  /** Thread events: the pool thread's index (0 = the calling JavaScript thread). */
  thread?: number;
}

/** Totals of one kernel name (`matmul`, `binary.add`, ...). */
export interface KernelStats {
  name: string;
  calls: number;
  totalMs: number;
  /** Time not spent in nested profiled calls (kernels do not nest, so equal to totalMs). */
  selfMs: number;
  /** Time by step phase. */
  phaseMs: Record<Phase, number>;
  flops: number;
  bytes: number;
  /** flops / time, in GFLOP/s (0 when no FLOPs). */
  gflops: number;
  /** bytes / time, in GB/s. */
  gbps: number;
  /** Fraction of the profiled step time (or wall time when no steps were marked). */
  share: number;
  /**
   * Time measured inside the native addon (first pool thread start to last end, per call, summed);
   * 0 on the reference backend and for kernels the native backend delegates to it.
   */
  nativeMs: number;
  /** Calls that the native pool timed. */
  nativeCalls: number;
  /** JavaScript time before each call (see ProfileEvent.dispatchMs), summed. */
  dispatchMs: number;
  /** The op's self time: dispatchMs + totalMs (JavaScript dispatch and the kernel). */
  opSelfMs: number;
}

/** Totals of one region name. */
export interface RegionStats {
  name: string;
  calls: number;
  totalMs: number;
  /** Time in the region outside nested regions and kernels (JavaScript overhead of ops, modules, tape). */
  selfMs: number;
}

/** Where one step's time went. */
export interface StepBreakdown {
  index: number;
  totalMs: number;
  dataMs: number;
  forwardMs: number;
  backwardMs: number;
  optimizerMs: number;
  /**
   * Communication: with a `comm` source (ProfilerOptions.comm), what it reports it waited for
   * (DDP: DdpCommStats.waitMs, the exposed all-reduce wait); otherwise the time of the regions named
   * 'comm' (a JavaScript timer around the wait). `commSource` says which.
   */
  commMs: number;
  commSource: 'ddp' | 'timer';
  /** With a `comm` source: communication that ran hidden behind backward (DdpCommStats.overlapMs); else 0. */
  commOverlapMs: number;
  /** Step time outside the five phases. */
  otherMs: number;
  /** Garbage collection during the step (also inside the phases' times: it pauses them). */
  gcMs: number;
  /** Time inside backend kernels. */
  kernelMs: number;
  /**
   * The step's time as a partition (docs/PROFILING.md "Accounting"): every millisecond lands in
   * exactly one part, so the parts sum to totalMs. gc: collections; comm, data, optimizer: those
   * regions less GC; ops: kernels and their dispatch (see ProfileEvent.dispatchMs) in forward,
   * backward and outside the phases, less GC; unattributed: the rest (JavaScript after the last
   * kernel of a region, region boundaries).
   */
  accounting: StepAccounting;
}

/** A step's time split into parts that do not overlap (milliseconds; they sum to the step). */
export interface StepAccounting {
  ops: number;
  /** Of ops: time inside kernels (the rest is dispatch). */
  opsKernel: number;
  optimizer: number;
  data: number;
  gc: number;
  comm: number;
  unattributed: number;
}

/** Memory at one instant, in bytes. */
export interface MemorySample {
  /** Milliseconds since start. */
  t: number;
  /** Where: 'forward:enter', 'backward:exit', ... */
  label: string;
  params: number;
  grads: number;
  optimizerState: number;
  /** Tensors the live graph saved for backward (see savedActivationBytes). */
  activations: number;
  /**
   * All ArrayBuffer bytes of the process (tensors, data, temporaries, garbage not yet collected):
   * process.memoryUsage().arrayBuffers at process samples; between them V8's external memory less
   * its offset from arrayBuffers at the last process sample (the two move together: ArrayBuffers
   * are V8's external memory).
   */
  arrayBuffers: number;
  /** Resident set size at the last process sample (`processSample` says whether this sample read it). */
  rss: number;
  heapUsed: number;
  /** This sample read process.memoryUsage() (RSS); see ProfilerOptions.processMemoryIntervalMs. */
  processSample: boolean;
}

/** What a profiled run measured. */
export interface ProfileResult {
  backend: string;
  wallMs: number;
  /** Sum of the marked steps' times (0 when none). */
  stepMs: number;
  kernels: KernelStats[];
  regions: RegionStats[];
  steps: StepBreakdown[];
  gc: { count: number; ms: number };
  memory: {
    timeline: MemorySample[];
    /**
     * Peaks: of params + grads + optimizerState + activations (including the end of backward, when
     * the graph and all gradients coexist), of arrayBuffers and of rss over the timeline.
     */
    peakAccounted: number;
    peakArrayBuffers: number;
    /**
     * The process's RSS peak during the profile: the kernel's high-water mark
     * (process.resourceUsage().maxRSS) when it rose during the profile, which catches peaks
     * between samples; otherwise (the process peaked earlier) the highest sampled RSS.
     */
    peakRss: number;
  };
  events: ProfileEvent[];
  machine: { cpu: string; cores: number; node: string; platform: string; pid: number; date: string };
}

/** Settings of a Profiler. */
export interface ProfilerOptions {
  /** The model whose parameters and gradients the memory timeline counts. */
  model?: HasParameters;
  /** The optimizer whose state the memory timeline counts. */
  optimizer?: Optimizer;
  /** Sample memory at region boundaries (default true). */
  memory?: boolean;
  /** Record garbage collections (default true). */
  gc?: boolean;
  /** Native backend: time each kernel's work per pool thread inside the addon (default true). */
  threads?: boolean;
  /**
   * Memory samples read the process's RSS (process.memoryUsage(), a read of /proc that costs
   * 10-60 us right after a phase) at most this often, in ms; the other samples take the cheap
   * parts (V8 heap statistics, the model's tensors) and carry the last RSS. Default 10; 0 reads it
   * at every sample. The RSS peak comes from the kernel's high-water mark either way.
   */
  processMemoryIntervalMs?: number;
  /**
   * Data-parallel training: the DDP (anything with `commStats()`) whose own timing of the gradient
   * all-reduce wait the regions named 'comm' report (StepBreakdown.commMs), instead of a
   * JavaScript timer around the await.
   */
  comm?: CommStatsSource;
}

/** What the profiler reads from a DDP (DistributedDataParallel.commStats()). */
export interface CommStatsSource {
  commStats(): { steps: number; waitMs: number; overlapMs: number };
}

interface Frame { name: string; phase: Phase; start: number; child: number; depth: number; overhead: number; commSteps: number }

const ZERO_PHASES = (): Record<Phase, number> => ({ data: 0, forward: 0, backward: 0, optimizer: 0, comm: 0, other: 0 });
const PHASE_INDEX: Readonly<Record<Phase, number>> = { data: 0, forward: 1, backward: 2, optimizer: 3, comm: 4, other: 5 };

/**
 * The kernel calls of a run as columns of typed arrays, grown by doubling: recording a call
 * writes numbers into preallocated slots (no object, string or closure per call). Names are
 * interned; the events are built once, at stop().
 */
class KernelRecords {
  n = 0;
  start = new Float64Array(1024);
  dur = new Float64Array(1024);
  dispatch = new Float64Array(1024);
  /** The profiler's bookkeeping after the call (its overhead), in ms. */
  post = new Float64Array(1024);
  flops = new Float64Array(1024);
  bytes = new Float64Array(1024);
  name = new Int32Array(1024);
  phase = new Uint8Array(1024);
  depth = new Uint16Array(1024);
  readonly names: string[] = [];
  readonly #ids = new Map<string, number>();

  id(name: string): number {
    let i = this.#ids.get(name);
    if (i === undefined) { i = this.names.length; this.names.push(name); this.#ids.set(name, i); }
    return i;
  }

  /** Index of the next record (grows the columns when full). */
  next(): number {
    if (this.n === this.start.length) {
      const cap = this.n * 2;
      const grow = <A extends Float64Array | Int32Array | Uint8Array | Uint16Array>(a: A, make: (n: number) => A): A => { const b = make(cap); b.set(a); return b; };
      this.start = grow(this.start, (k) => new Float64Array(k));
      this.dur = grow(this.dur, (k) => new Float64Array(k));
      this.dispatch = grow(this.dispatch, (k) => new Float64Array(k));
      this.post = grow(this.post, (k) => new Float64Array(k));
      this.flops = grow(this.flops, (k) => new Float64Array(k));
      this.bytes = grow(this.bytes, (k) => new Float64Array(k));
      this.name = grow(this.name, (k) => new Int32Array(k));
      this.phase = grow(this.phase, (k) => new Uint8Array(k));
      this.depth = grow(this.depth, (k) => new Uint16Array(k));
    }
    return this.n++;
  }

  /** The profiler's own intervals after each call, [start, end, start, end, ...] relative to t0. */
  overheads(t0: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.n; i++) { const e = this.start[i]! + this.dur[i]! - t0; out.push(e, e + this.post[i]!); }
    return out;
  }

  /** The records as events (times relative to t0). */
  events(t0: number): ProfileEvent[] {
    const out: ProfileEvent[] = new Array<ProfileEvent>(this.n);
    for (let i = 0; i < this.n; i++) {
      out[i] = {
        name: this.names[this.name[i]!]!, cat: 'kernel', start: this.start[i]! - t0, dur: this.dur[i]!, phase: PHASE_LIST[this.phase[i]!]!,
        depth: this.depth[i]!, flops: this.flops[i]!, bytes: this.bytes[i]!, dispatchMs: this.dispatch[i]!,
      };
    }
    return out;
  }
}

/**
 * Profile a block of work: kernels, regions, GC and memory. Mark steps and phases with
 * `p.step(...)` and `p.region('forward', ...)` to get the step breakdown.
 *
 * @example
 * const prof = new Profiler({ model: net, optimizer: opt });
 * prof.start();
 * prof.step(() => {
 *   opt.zeroGrad();
 *   const loss = prof.region('forward', () => F.crossEntropy(net.call(x), y));
 *   prof.region('backward', () => loss.backward());
 *   prof.region('optimizer', () => opt.step());
 * });
 * const result = await prof.stop();
 *
 * Every kernel call is kept (as a few numbers) until stop(), for the trace: profile a few steps,
 * not a whole training run.
 */
export class Profiler {
  readonly #opts: ProfilerOptions;
  #t0 = 0;
  #running = false;
  #restore = '';
  #events: ProfileEvent[] = [];
  #kernels = new KernelRecords();
  #stack: Frame[] = [];
  /** The last boundary on the main thread (kernel end, region enter or exit): a kernel's dispatch time starts here. */
  #mark = 0;
  #gc: { start: number; dur: number }[] = [];
  /** Memory sampling intervals, [start, end, ...] in ms since start (profiler overhead). */
  #sampling: number[] = [];
  #observer: PerformanceObserver | null = null;
  #timeline: MemorySample[] = [];
  #watched: Tensor[] = [];
  #exclude = new Set<ArrayBufferLike>();
  #params: readonly Tensor[] = [];
  #paramBytes = 0;
  #backend = '';
  #tracer: PoolTracer | null = null;
  // Memory sampling runs at every region boundary, so each part is kept cheap (docs/PROFILING.md
  // "Overhead"): the saved-for-backward bytes of the watched graphs are walked again only when the
  // watched set changed or a backward freed a node they counted; the optimizer's state bytes only
  // when its state map changed or an 'optimizer' region ended; RSS at most every
  // processMemoryIntervalMs.
  #actBytes = 0;
  #actNodes: Node[] = [];
  #actStale = true;
  #optBytes = 0;
  #optState: unknown = null;
  #optSize = -1;
  #optStale = true;
  #lastProcess = -Infinity;
  #rss = 0;
  #externalOffset = 0;
  #maxRssAtStart = 0;
  #labels = new Map<string, [string, string]>();

  constructor(opts: ProfilerOptions = {}) { this.#opts = opts; }

  /** Whether start() has run and stop() has not. */
  get running(): boolean { return this.#running; }

  /** Start timing: installs the profiling stand-in of the backend. Throws when a profiler already runs. */
  start(): void {
    if (this.#running) throw new Error('Profiler.start: already started; call stop() first');
    const inner = getBackend();
    if (PROFILED.has(inner)) throw new Error(`Profiler.start: another profiler is running on backend '${inner.name}'; stop it first (profilers do not nest)`);
    if (!listBackends().includes(inner.name)) {
      throw new Error(`Profiler.start: the active backend '${inner.name}' is not registered under its name, so it could not be restored; register it with registerBackend('${inner.name}', ...)`);
    }
    this.#restore = inner.name;
    this.#backend = inner.name;
    const proxyName = `profiler(${inner.name})`;
    const proxy = profiledBackend(inner, this, this.#kernels = new KernelRecords());
    registerBackend(proxyName, () => proxy);
    setBackend(proxyName);
    this.#events = [];
    this.#stack = [];
    this.#gc = [];
    this.#sampling = [];
    this.#timeline = [];
    this.#watched = [];
    this.#actStale = true; this.#actNodes = []; this.#optStale = true; this.#lastProcess = -Infinity;
    this.#maxRssAtStart = process.resourceUsage().maxRSS * 1024;
    // the parameter list is read once: sampling must stay cheap (it runs at every region boundary)
    this.#params = this.#opts.model?.parameters() ?? [];
    this.#paramBytes = this.#opts.model ? parameterBytes(this.#opts.model) : 0;
    this.#exclude = new Set(this.#params.map((p) => p.data.buffer));
    if (this.#opts.gc ?? true) {
      this.#observer = new PerformanceObserver((list) => {
        for (const e of list.getEntries()) this.#gc.push({ start: e.startTime - this.#t0, dur: e.duration });
      });
      this.#observer.observe({ entryTypes: ['gc'] });
    }
    this.#tracer = (this.#opts.threads ?? true) ? poolTracer(inner) : null;
    if (this.#tracer) { this.#tracer.poolTraceDrain(); this.#tracer.poolTrace(true); }
    this.#running = true;
    this.#t0 = performance.now();
    this.#mark = this.#t0;
    this.#sample('start');
  }

  /** Stop, restore the original backend and summarize. Async: GC entries arrive on a later timer tick. */
  async stop(): Promise<ProfileResult> {
    if (!this.#running) throw new Error('Profiler.stop: not started');
    const wallMs = performance.now() - this.#t0;
    this.#lastProcess = -Infinity; // the last sample reads the process too
    this.#sample('stop');
    const maxRss = process.resourceUsage().maxRSS * 1024;
    this.#running = false;
    setBackend(this.#restore);
    const events = this.#events;
    for (const e of this.#kernels.events(this.#t0)) events.push(e);
    const overheads = [...this.#sampling, ...this.#kernels.overheads(this.#t0)];
    this.#kernels = new KernelRecords();
    if (this.#tracer) {
      const jsNow = performance.now();
      const { spans, nowUs } = this.#tracer.poolTraceDrain();
      this.#tracer.poolTrace(false);
      this.#tracer = null;
      attachPoolSpans(events, spans, jsNow - this.#t0 - nowUs / 1000);
    }
    await new Promise<void>((r) => setTimeout(r, 0)); // GC entries are delivered on a timer tick
    this.#observer?.disconnect();
    this.#observer = null;
    this.#watched = [];
    this.#actNodes = [];
    const r = summarize(this.#backend, wallMs, events, this.#gc, this.#timeline, overheads);
    if (maxRss > this.#maxRssAtStart) r.memory.peakRss = Math.max(r.memory.peakRss, maxRss);
    return r;
  }

  /**
   * Time `fn` as a region named `name`; 'data', 'forward', 'backward', 'optimizer' and 'comm' are
   * step phases. A Tensor that `fn` returns with a graph is watched: the memory timeline counts
   * what its graph saved for backward until backward frees it. Returns what `fn` returns.
   * @example const loss = prof.region('forward', () => F.crossEntropy(net.call(x), y));
   */
  region<T>(name: string, fn: () => T): T {
    if (!this.#running) return fn();
    const labels = this.#labelsOf(name);
    this.#enter(name, labels[0]);
    let out: T;
    try { out = fn(); } finally { this.#exit(); }
    if (out instanceof Tensor && out.gradFn !== null) { this.#watched.push(out); this.#actStale = true; }
    this.#sample(labels[1]);
    return out;
  }

  /**
   * Time an async `fn` as a region (until its promise settles), such as waiting for the gradient
   * all-reduce of data-parallel training in the 'comm' phase. Kernels that other code runs while
   * it waits are attributed to this region.
   * @example await prof.regionAsync('comm', () => ddp.finishGradientSync());
   */
  async regionAsync<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (!this.#running) return fn();
    const labels = this.#labelsOf(name);
    this.#enter(name, labels[0]);
    let out: T;
    try { out = await fn(); } finally { this.#exit(); }
    this.#sample(labels[1]);
    return out;
  }

  /** Time one training step (a region named 'step'); the step breakdown is built from these. @example prof.step(() => trainStep()) */
  step<T>(fn: () => T): T {
    this.#watched = [];
    this.#actStale = true;
    return this.region('step', fn);
  }

  /** step() for an async step (data-parallel training awaits its gradient sync). @example await prof.stepAsync(async () => { ...; await prof.regionAsync('comm', () => ddp.finishGradientSync()); }) */
  async stepAsync<T>(fn: () => Promise<T>): Promise<T> {
    this.#watched = [];
    this.#actStale = true;
    return this.regionAsync('step', fn);
  }

  /** The region's two sample labels, built once per name (no string per sample). */
  #labelsOf(name: string): [string, string] {
    let l = this.#labels.get(name);
    if (l === undefined) { l = [`${name}:enter`, `${name}:exit`]; this.#labels.set(name, l); }
    return l;
  }

  #enter(name: string, label: string): void {
    const top = this.#stack[this.#stack.length - 1];
    const phase: Phase = PHASES.has(name) ? name as Phase : top?.phase ?? 'other';
    this.#sample(label);
    const commSteps = name === 'comm' && this.#opts.comm ? this.#opts.comm.commStats().steps : -1;
    const start = performance.now();
    this.#mark = start;
    this.#stack.push({ name, phase, start, child: 0, depth: this.#stack.length, overhead: 0, commSteps });
  }

  #exit(): void {
    const f = this.#stack.pop()!;
    const now = performance.now();
    this.#mark = now;
    const dur = now - f.start;
    const parent = this.#stack[this.#stack.length - 1];
    if (parent) { parent.child += dur - f.overhead; parent.overhead += f.overhead; }
    const ev: ProfileEvent = { name: f.name, cat: 'region', start: f.start - this.#t0, dur, phase: f.phase, depth: f.depth, selfMs: dur - f.overhead - f.child, overheadMs: f.overhead };
    if (f.commSteps >= 0) {
      // the source's figures are of its last synced step: they belong to this region only when a sync finished inside it
      const c = this.#opts.comm!.commStats();
      if (c.steps > f.commSteps) { ev.commWaitMs = c.waitMs; ev.commOverlapMs = c.overlapMs; }
    }
    this.#events.push(ev);
    if (f.name === 'optimizer') this.#optStale = true;
  }

  /**
   * Called by the stand-in after each kernel call that began at `start` and ended at `end`: one
   * record in the preallocated columns; the time this bookkeeping takes counts as the enclosing
   * region's profiler overhead (not as the next op's dispatch). Internal: the stand-in built by
   * start() is its only caller.
   * @internal
   */
  kernelDone(nameId: number, method: string, args: readonly unknown[], start: number, end: number): void {
    const k = this.#kernels;
    const i = k.next();
    const dur = end - start;
    const parent = this.#stack[this.#stack.length - 1];
    const cost = kernelCost(method, args);
    k.start[i] = start; k.dur[i] = dur; k.dispatch[i] = start > this.#mark ? start - this.#mark : 0;
    k.flops[i] = cost.flops; k.bytes[i] = cost.bytes; k.name[i] = nameId;
    k.phase[i] = PHASE_INDEX[parent?.phase ?? 'other']; k.depth[i] = this.#stack.length;
    const after = performance.now();
    k.post[i] = after - end;
    this.#mark = after;
    if (parent) { parent.child += dur; parent.overhead += after - end; }
  }

  #sample(label: string): void {
    if (!(this.#opts.memory ?? true) || !this.#running) return;
    const t = performance.now();
    let arrayBuffers: number, heapUsed: number;
    const processSample = t - this.#lastProcess >= (this.#opts.processMemoryIntervalMs ?? 10);
    if (processSample) {
      const m = process.memoryUsage();
      this.#lastProcess = t;
      this.#rss = m.rss;
      arrayBuffers = m.arrayBuffers;
      heapUsed = m.heapUsed;
      this.#externalOffset = v8.getHeapStatistics().external_memory - arrayBuffers;
    } else {
      const h = v8.getHeapStatistics();
      heapUsed = h.used_heap_size;
      arrayBuffers = Math.max(0, h.external_memory - this.#externalOffset);
    }
    let grads = 0;
    for (const p of this.#params) if (p.grad) grads += p.grad.size * p.grad.data.BYTES_PER_ELEMENT;
    this.#timeline.push({
      t: performance.now() - this.#t0,
      label,
      params: this.#paramBytes,
      grads,
      optimizerState: this.#optimizerBytes(),
      activations: this.#activationBytes(),
      arrayBuffers,
      rss: this.#rss,
      heapUsed,
      processSample,
    });
    const after = performance.now();
    this.#mark = after;
    this.#sampling.push(t - this.#t0, after - this.#t0);
    const top = this.#stack[this.#stack.length - 1];
    if (top) top.overhead += after - t;
  }

  /** The optimizer's state bytes, summed again only when its state map changed (lazy creation, a loaded state) or an 'optimizer' region ended. */
  #optimizerBytes(): number {
    const opt = this.#opts.optimizer;
    if (!opt) return 0;
    if (this.#optStale || opt.state !== this.#optState || opt.state.size !== this.#optSize) {
      this.#optBytes = optimizerStateBytes(opt);
      this.#optState = opt.state; this.#optSize = opt.state.size; this.#optStale = false;
    }
    return this.#optBytes;
  }

  /**
   * The watched graphs' saved-for-backward bytes. Walked again only when the watched set changed
   * or a node the last walk counted has been freed by a backward (its `saved` is null): nodes that
   * ops add later are not reachable from the watched roots, so nothing else changes the count.
   */
  #activationBytes(): number {
    if (this.#watched.length === 0) return 0;
    if (!this.#actStale) for (const n of this.#actNodes) if (n.saved === null) { this.#actStale = true; break; }
    if (this.#actStale) {
      const scan = savedActivationScan(this.#watched, this.#exclude);
      this.#actBytes = scan.bytes; this.#actNodes = scan.nodes; this.#actStale = false;
    }
    return this.#actBytes;
  }
}

const PROFILED = new WeakSet<Backend>();
// backend members that are not kernels: passed through untimed
const UNTIMED: ReadonlySet<string> = new Set(['constructor', 'setThreads', 'poolTrace', 'poolTraceDrain', 'rooflineProbe']);
// methods whose first argument names the op: reported per op ('binary.add')
const PER_OP: ReadonlySet<string> = new Set(['unary', 'binary', 'reduce']);

/**
 * A stand-in for `inner` whose kernel methods report each call's time, FLOPs and bytes to `p`.
 * A plain object built once (not a Proxy: no trap on every property read), with one wrapper per
 * kernel method and accessors that read the other members live from `inner`.
 */
function profiledBackend(inner: Backend, p: Profiler, records: KernelRecords): Backend {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (let o: object | null = inner; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(o))) {
      if (seen.has(key)) continue;
      seen.add(key);
      const val: unknown = 'value' in d ? d.value : undefined;
      if (typeof val !== 'function') {
        Object.defineProperty(out, key, { get: () => Reflect.get(inner, key, inner), enumerable: true });
        continue;
      }
      const f = val as (...a: unknown[]) => unknown;
      if (UNTIMED.has(key)) { out[key] = f.bind(inner); continue; }
      const fixedId = records.id(key);
      const perOp = PER_OP.has(key) ? new Map<unknown, number>() : null;
      out[key] = (...args: unknown[]): unknown => {
        const start = performance.now();
        try { return f.apply(inner, args); } finally {
          const end = performance.now();
          let id = fixedId;
          if (perOp !== null) {
            const op = args[0];
            const known = perOp.get(op);
            if (known !== undefined) id = known;
            else { id = records.id(kernelName(key, args)); perOp.set(op, id); }
          }
          p.kernelDone(id, key, args, start, end);
        }
      };
    }
  }
  const proxy = out as unknown as Backend;
  PROFILED.add(proxy);
  return proxy;
}
/**
 * Turn the pool's spans (thread, job, startUs, endUs; native clock) into 'thread' events on the
 * profiler's clock (ms since start = nativeUs / 1000 + offsetMs), each named after the kernel call
 * whose JavaScript interval holds it, and give each such kernel call its native time.
 */
function attachPoolSpans(events: ProfileEvent[], spans: Float64Array, offsetMs: number): void {
  const kernels = events.filter((e) => e.cat === 'kernel').sort((a, b) => a.start - b.start);
  const extent = new Map<ProfileEvent, { s: number; e: number; busy: number }>();
  for (let i = 0; i + 3 < spans.length; i += 4) {
    const start = spans[i + 2]! / 1000 + offsetMs, end = spans[i + 3]! / 1000 + offsetMs;
    const mid = (start + end) / 2;
    let lo = 0, hi = kernels.length - 1, k: ProfileEvent | undefined;
    while (lo <= hi) { // the last kernel starting at or before mid
      const m = (lo + hi) >> 1;
      if (kernels[m]!.start <= mid) { k = kernels[m]; lo = m + 1; } else hi = m - 1;
    }
    const owner = k && mid <= k.start + k.dur ? k : undefined;
    events.push({ name: owner?.name ?? 'pool work', cat: 'thread', start, dur: Math.max(0, end - start), phase: owner?.phase ?? 'other', depth: 0, thread: spans[i]! });
    if (owner) {
      const x = extent.get(owner);
      if (x) { x.s = Math.min(x.s, start); x.e = Math.max(x.e, end); x.busy += end - start; } else extent.set(owner, { s: start, e: end, busy: end - start });
    }
  }
  for (const [k, x] of extent) { k.nativeMs = x.e - x.s; k.threadBusyMs = x.busy; }
}

function overlap(a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0));
}

/** Sorted, disjoint intervals covering the same time as `gc` (GC entries may nest or overlap). */
function unionOf(gc: readonly { start: number; dur: number }[]): { start: number; dur: number }[] {
  const out: { start: number; dur: number }[] = [];
  for (const g of [...gc].sort((a, b) => a.start - b.start)) {
    const last = out[out.length - 1];
    if (last && g.start <= last.start + last.dur) last.dur = Math.max(last.dur, g.start + g.dur - last.start);
    else out.push({ start: g.start, dur: g.dur });
  }
  return out;
}

function summarize(backend: string, wallMs: number, events: ProfileEvent[], gc: { start: number; dur: number }[], timeline: MemorySample[], overheads: readonly number[]): ProfileResult {
  const gcEvents: ProfileEvent[] = gc.map((g) => ({ name: 'gc', cat: 'gc', start: g.start, dur: g.dur, phase: 'other', depth: 0 }));
  const all = [...events, ...gcEvents].sort((a, b) => a.start - b.start || a.depth - b.depth);
  const net = (e: ProfileEvent): number => e.dur - (e.overheadMs ?? 0);
  const kernels = new Map<string, KernelStats>();
  const regions = new Map<string, RegionStats>();
  for (const e of events) {
    if (e.cat === 'kernel') {
      let k = kernels.get(e.name);
      if (!k) { k = { name: e.name, calls: 0, totalMs: 0, selfMs: 0, phaseMs: ZERO_PHASES(), flops: 0, bytes: 0, gflops: 0, gbps: 0, share: 0, nativeMs: 0, nativeCalls: 0, dispatchMs: 0, opSelfMs: 0 }; kernels.set(e.name, k); }
      k.calls++; k.totalMs += e.dur; k.selfMs += e.dur; k.dispatchMs += e.dispatchMs ?? 0; k.opSelfMs += e.dur + (e.dispatchMs ?? 0); k.phaseMs[e.phase] += e.dur; k.flops += e.flops ?? 0; k.bytes += e.bytes ?? 0;
      if (e.nativeMs !== undefined) { k.nativeMs += e.nativeMs; k.nativeCalls++; }
    } else if (e.cat === 'region') {
      let r = regions.get(e.name);
      if (!r) { r = { name: e.name, calls: 0, totalMs: 0, selfMs: 0 }; regions.set(e.name, r); }
      r.calls++; r.totalMs += net(e); r.selfMs += e.selfMs ?? 0;
    }
  }
  const stepEvents = events.filter((e) => e.cat === 'region' && e.name === 'step');
  const steps: StepBreakdown[] = stepEvents.map((s, index) => {
    const s1 = s.start + s.dur;
    const inside = events.filter((e) => e.start >= s.start && e.start + e.dur <= s1 + 1e-9 && e !== s);
    const phaseMs = (name: string): number => inside.filter((e) => e.cat === 'region' && e.name === name && e.depth === s.depth + 1).reduce((a, e) => a + net(e), 0);
    // GC inside [a0, a1] outside the profiler's own intervals (their time is already left out of the totals)
    const gcIn = unionOf(gc).filter((g) => overlap(s.start, s1, g.start, g.start + g.dur) > 0);
    const ohIn: [number, number][] = [];
    if (gcIn.length > 0) for (let i = 0; i + 1 < overheads.length; i += 2) if (overlap(s.start, s1, overheads[i]!, overheads[i + 1]!) > 0) ohIn.push([overheads[i]!, overheads[i + 1]!]);
    const gcOverlap = (a0: number, a1: number): number => gcIn.reduce((a, g) => {
      const g0 = Math.max(a0, g.start), g1 = Math.min(a1, g.start + g.dur);
      if (g1 <= g0) return a;
      return a + (g1 - g0) - ohIn.reduce((b, [o0, o1]) => b + overlap(g0, g1, o0, o1), 0);
    }, 0);
    const netOfGc = (name: 'data' | 'optimizer' | 'comm'): number => inside
      .filter((e) => e.cat === 'region' && e.name === name && e.depth === s.depth + 1)
      // a comm region whose source timed its own wait counts that wait (at most the region's time
      // less GC); the region's remaining JavaScript (promise glue) stays unattributed
      .reduce((a, e) => { const t = net(e) - gcOverlap(e.start, e.start + e.dur); return a + (e.commWaitMs !== undefined ? Math.min(e.commWaitMs, t) : t); }, 0);
    const commRegions = inside.filter((e) => e.cat === 'region' && e.name === 'comm' && e.depth === s.depth + 1);
    const fromSource = commRegions.some((e) => e.commWaitMs !== undefined);
    let ops = 0, opsKernel = 0;
    for (const e of inside) {
      if (e.cat !== 'kernel' || e.phase === 'data' || e.phase === 'optimizer' || e.phase === 'comm') continue;
      const d = e.dispatchMs ?? 0;
      ops += d + e.dur - gcOverlap(e.start - d, e.start + e.dur);
      opsKernel += e.dur - gcOverlap(e.start, e.start + e.dur);
    }
    const totalMs = net(s);
    const acc: StepAccounting = { ops, opsKernel, optimizer: netOfGc('optimizer'), data: netOfGc('data'), gc: gcOverlap(s.start, s1), comm: netOfGc('comm'), unattributed: 0 };
    acc.unattributed = totalMs - acc.ops - acc.optimizer - acc.data - acc.gc - acc.comm;
    const b: StepBreakdown = {
      index, totalMs, dataMs: phaseMs('data'), forwardMs: phaseMs('forward'), backwardMs: phaseMs('backward'), optimizerMs: phaseMs('optimizer'),
      commMs: commRegions.reduce((a, e) => a + (e.commWaitMs ?? net(e)), 0), commSource: fromSource ? 'ddp' : 'timer',
      commOverlapMs: commRegions.reduce((a, e) => a + (e.commOverlapMs ?? 0), 0),
      otherMs: 0, gcMs: acc.gc,
      kernelMs: inside.filter((e) => e.cat === 'kernel').reduce((a, e) => a + e.dur, 0),
      accounting: acc,
    };
    b.otherMs = Math.max(0, b.totalMs - b.dataMs - b.forwardMs - b.backwardMs - b.optimizerMs - b.commMs);
    return b;
  });
  const stepMs = steps.reduce((a, s) => a + s.totalMs, 0);
  const denom = stepMs > 0 ? stepMs : wallMs;
  const kernelList = [...kernels.values()].map((k) => ({
    ...k,
    gflops: k.totalMs > 0 ? k.flops / (k.totalMs * 1e6) : 0,
    gbps: k.totalMs > 0 ? k.bytes / (k.totalMs * 1e6) : 0,
    share: denom > 0 ? k.totalMs / denom : 0,
  })).sort((a, b) => b.totalMs - a.totalMs);
  const accounted = (m: MemorySample): number => m.params + m.grads + m.optimizerState + m.activations;
  // The tape computes every leaf gradient before it frees the graph (autograd/tape.ts), so just
  // before backward returns, the activations of its enter sample and the gradients of its exit
  // sample are both alive: count that moment too.
  let peakAccounted = Math.max(0, ...timeline.map(accounted));
  let actAtBackward = 0;
  for (const m of timeline) {
    if (m.label === 'backward:enter') actAtBackward = m.activations;
    else if (m.label === 'backward:exit') peakAccounted = Math.max(peakAccounted, m.params + m.grads + m.optimizerState + actAtBackward);
  }
  return {
    backend, wallMs, stepMs, kernels: kernelList, regions: [...regions.values()].sort((a, b) => b.totalMs - a.totalMs), steps,
    gc: { count: gc.length, ms: gc.reduce((a, g) => a + g.dur, 0) },
    memory: {
      timeline,
      peakAccounted,
      peakArrayBuffers: Math.max(0, ...timeline.map((m) => m.arrayBuffers)),
      peakRss: Math.max(0, ...timeline.map((m) => m.rss)),
    },
    events: all,
    machine: { cpu: os.cpus()[0]?.model?.trim() ?? 'unknown', cores: os.availableParallelism(), node: process.version, platform: `${process.platform}-${process.arch}`, pid: process.pid, date: new Date().toISOString() },
  };
}

/**
 * Run `fn` under a fresh Profiler and return what it measured; `fn` gets the profiler to mark
 * steps and regions. The backend is restored even when `fn` throws.
 *
 * @example
 * const r = await profile((p) => { for (let i = 0; i < 3; i++) p.step(() => trainStep(p)); }, { model: net, optimizer: opt });
 * console.table(r.kernels.slice(0, 5));
 */
export async function profile(fn: (p: Profiler) => void | Promise<void>, opts: ProfilerOptions = {}): Promise<ProfileResult> {
  const p = new Profiler(opts);
  p.start();
  try {
    await fn(p);
  } catch (e) {
    await p.stop();
    throw e;
  }
  return p.stop();
}
