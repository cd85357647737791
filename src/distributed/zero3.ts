// ZeRO stage 3 inside the Trainer (`dataParallel({ zero: 3 })`, `train --zero 3`): the parameters,
// their gradients and the optimizer state are all sharded over the N ranks, and the Trainer's own
// synchronous forward and backward run unchanged, steered by hooks.
//
// Layout: the model is cut into units (a Sequential's layers; a GPT's embeddings, blocks, final norm
// and head; otherwise the model's direct children); a parameter used by no unit or by several (a
// GPT's tied embedding and LM head) belongs to the root unit. Each unit's parameters are split by
// the optimizer's parameter group, and each (unit, group) is one flat vector padded to a multiple of
// N (flat_shard.ts): rank r keeps the r-th run of it as one flat parameter of an inner optimizer of
// the Trainer's class with that group's hyper-parameters (weight decay and the rest still apply per
// group). During steps a unit's full parameters live in a pool slot: two buffers shared by the
// units alternately (the units in forward order: a unit and the next one never share one), sized
// to the largest unit of each, allocated once and kept, plus one slot for the root unit. Every
// Parameter of the unit is a fixed view into its slot, so the Parameter objects (held by the
// optimizer, pruning hooks and the tape) and their views never change; freeing a unit only gives
// its slot up (no pages returned, no zero-fill: the next gather overwrites it), and a unit keeps its
// own storage version while another unit uses the slot. A unit whose slot is still held when it is
// first gathered in a step (a forward order the alternation does not fit) gets a slot of its own
// from then on. Between fits, at epoch ends and around checkpoints (materialize) each unit has
// ordinary storage of its own. Each flat gradient is assembled in a pooled buffer (the two largest
// kept for the next units and steps) and reduce-scattered in place.
//
// A step: a forward pre-hook gathers the unit (a blocking all-reduce (sum) of the unit's buffer in
//   which each rank wrote its shards, zeros elsewhere: the Trainer's forward cannot await, and
//   Gloo's blocking call is an all-reduce, so this moves 2x the bytes of an all-gather), the unit
//   runs, and a forward hook frees it again after wrapping the unit's output in an identity op whose
//   backward gathers the unit back before backward reaches the unit's own operations. So the tape
//   keeps the parameter tensors but not their values, and backward recomputes nothing. The gathered
//   values are the forward's (no step in between): the storage version is left as it was, so the
//   tape's in-place check still holds. When the last of a unit's gradients is final (the
//   post-accumulate-grad hooks, as DDP's buckets) each of its flat vectors is reduce-scattered
//   (average, asynchronously) into this rank's shard gradient, and the unit's full gradients and
//   parameters are freed. The root unit is gathered at the start of the step (beginStep: a module
//   without parameters of its own, such as a tied embedding, may read it before any unit runs) and
//   freed after backward. The optimizer step updates the shards only.
// Between fits and around evaluation and checkpoints the model is whole (every unit gathered): the
//   checkpoint holds the full model and, consolidated on rank 0, the full optimizer state: the file
//   a single process or DDP writes, so `--resume` works with any world size, with or without ZeRO.

import type { FloatDType } from '../backend/dtype.js';
import { fromBuffer, Tensor } from '../core/tensor.js';
import { isGradEnabled, record } from '../core/engine.js';
import { defineGrad, getGradRule, registerBackwardStartHook, registerPostAccumulateGradHook } from '../autograd/index.js';
import { type AnyModule, type Parameter, type RemovableHandle } from '../nn/index.js';
import type { Optimizer, OptimizerOptions, OptimizerStateDict, ParamGroupInput } from '../optim/index.js';
import { GPT } from '../models/gpt.js';
import type { ProcessGroup } from './process_group.js';
import type { OptimizerClass } from './zero.js';
import { bytesOf, consolidateShardedState, copyHyperParameters, contiguousData, copyShard, flatLayout, loadShardedState, newFloatArray, type FloatArray, type ShardedFlat } from './flat_shard.js';

const OP = 'dataParallel({ zero: 3 })';
const REGATHER = 'zero3Regather';

// A flat vector of one (unit, parameter group): `base` is where its N * shard elements start in the
// unit's buffer; `grad` accumulates this rank's shard gradient over the backward passes of a step.
interface Flat3 extends ShardedFlat {
  unit: Unit3;
  base: number;
  grad: FloatArray | null;
}

// A pool buffer and the unit whose parameters it holds now (null: free).
interface Slot {
  buffer: ArrayBuffer;
  owner: Unit3 | null;
}

interface Unit3 {
  /** The module whose call() the hooks watch; null for the root unit. */
  module: AnyModule | null;
  name: string;
  dtype: FloatDType;
  params: Parameter[];
  flats: Flat3[];
  /** Elements of the unit's storage (its flat vectors, each padded to N * shard). */
  size: number;
  /** The unit's storage: its own array (whole model) or a view of its slot (during steps). */
  full: FloatArray;
  /** Each parameter's view of `full` (in flat order), handed back to the parameters at each gather. */
  views: FloatArray[];
  /** Its pool slot (assigned at the first step) and whether `full` is that slot's view. */
  slot: Slot | null;
  inSlot: boolean;
  /** The unit's storage version while it is not in its slot (slots are shared). */
  version: number;
  /** Gathered in the step in progress: the tape may hold views of its slot. */
  touched: boolean;
  gathered: boolean;
  /** The all-gathers in flight into the buffer (a prefetch), one per flat vector; null when none. */
  pending: { wait(): unknown }[] | null;
  /** Gradients that became final in the backward in progress, and whether the unit was reduced. */
  ready: number;
  reduced: boolean;
}

type Writable = { data: FloatArray; offset: number };

// Points every parameter of u at its run of `storage`, which becomes u.full.
function place(u: Unit3, storage: FloatArray): void {
  u.full = storage;
  u.views = [];
  for (const f of u.flats) {
    f.params.forEach((p, i) => {
      const at = f.base + f.offsets[i]!;
      u.views.push(storage.subarray(at, at + p.size));
    });
  }
  attach(u);
}

// The parameters of u read their views of u.full again (u is gathered, or whole).
function attach(u: Unit3): void {
  let k = 0;
  for (const f of u.flats) for (const p of f.params) { const w = p as unknown as Writable; w.data = u.views[k++]!; w.offset = 0; }
}

// While u is not gathered its parameters hold no elements: a read by mistake (a model reading a
// unit's parameters without calling the unit) is the kernels' out-of-range error naming the op,
// never another unit's values from the shared slot.
const EMPTY32 = new Float32Array(0);
const EMPTY64 = new Float64Array(0);
function detach(u: Unit3): void {
  for (const p of u.params) { const w = p as unknown as Writable; w.data = u.dtype === 'float64' ? EMPTY64 : EMPTY32; w.offset = 0; }
}

const view = (dtype: FloatDType, buffer: ArrayBuffer, n: number): FloatArray => (dtype === 'float64' ? new Float64Array(buffer, 0, n) : new Float32Array(buffer, 0, n));

/**
 * The units ZeRO-3 shards a model into by default: a Sequential's layers; a GPT's token and position
 * embeddings, each block, the final LayerNorm and the LM head; otherwise the model's direct children.
 * A unit must be run through its call() by the model's forward (its hooks gather its parameters).
 * @example zero3Units(createAnyModel('gpt-tiny')).length // 2 + layers + 2
 */
export function zero3Units(model: AnyModule): AnyModule[] {
  if (model instanceof GPT) {
    const tr = model.transformer;
    return [tr.wte, tr.wpe, ...[...tr.h].map((b) => b as unknown as AnyModule), tr.ln_f, model.lm_head] as AnyModule[];
  }
  return model.children(); // a Sequential's layers, or any model's direct children
}

function ensureRule(): void {
  if (getGradRule(REGATHER) !== undefined) return;
  defineGrad(REGATHER, {
    grad: (dy, c) => {
      (c.attrs['regather'] as () => void)();
      return [dy];
    },
  });
}

/**
 * ZeRO stage 3 of one Trainer fit (built by DataParallelTraining's callback; see the file comment).
 * Every rank builds it over the same model and optimizer; `optimizer` is the Trainer's, whose state
 * (loaded by a resume) seeds the shards and which receives the consolidated state on rank 0.
 * @example
 * const z = new Zero3(model, trainerOptimizer, group);   // the model stays whole until begin()
 * z.beginStep(); lossFn(model.call(x), y).backward(); await z.finishBackward(); await z.step(null);
 */
export class Zero3 {
  readonly inner: Optimizer<OptimizerOptions>;
  /** Multiplies this rank's gradients before the average (DDP's gradientScale). */
  gradientScale = 1;
  private readonly units: Unit3[] = [];
  private readonly root: Unit3 | null;
  private readonly flats: Flat3[] = [];
  private readonly groupSizes: number[];
  private readonly indexInGroup = new Map<Parameter, number>();
  private readonly handles: (RemovableHandle | { remove(): void })[] = [];
  private readonly scatters: Promise<void>[] = [];
  private whole = true;
  /** Between beginStep() and the end of finishBackward(): gathered bytes count toward the peak. */
  private stepping = false;
  private gatheredBytes = 0;
  /** Most bytes of gathered full parameters alive at once (for the memory benchmark). */
  peakGatheredBytes = 0;
  /**
   * Prefetch: while a unit computes, gather the next one (forward order; in backward, the one before
   * it), so at most two units (and the root unit) are gathered at once. Every rank must agree.
   */
  prefetch = true;
  /** Units in the order their forwards ran in this step (prefetch order), and the last complete step's. */
  private order: Unit3[] = [];
  private lastOrder: Unit3[] | null = null;
  private fwdCursor = 0;
  private bwdCursor = -1;
  private inBackward = false;
  /** The pool slots (null until the first step and after finish()). */
  private slots: Slot[] | null = null;
  /** Free flat-gradient buffers (the two largest are kept). */
  private gradPool: ArrayBuffer[] = [];

  constructor(readonly model: AnyModule, readonly optimizer: Optimizer, readonly group: ProcessGroup, opts: { units?: AnyModule[]; inner?: Optimizer<OptimizerOptions> } = {}) {
    const n = group.worldSize;
    const names = new Map<Parameter, string>(model.namedParameters().map(([k, p]) => [p, k]));
    const groupOf = new Map<Parameter, number>();
    optimizer.paramGroups.forEach((g, gi) => g.params.forEach((p, i) => {
      if (!names.has(p as Parameter)) throw new Error(`${OP}: parameter ${i} of the optimizer's group ${gi} (shape ${p.shape.join('x')}) is not a parameter of the model; ZeRO-3 shards the model's parameters: use zero 2 for parameters outside the model`);
      groupOf.set(p as Parameter, gi);
      this.indexInGroup.set(p as Parameter, i);
    }));
    for (const [p, name] of names) {
      if (!groupOf.has(p)) throw new Error(`${OP}: the model's parameter '${name}' is not in the optimizer; ZeRO-3 shards every parameter into the optimizer's groups: optimize it, or train with zero 2`);
      if (!p.isContiguous() || (p.dtype !== 'float32' && p.dtype !== 'float64')) throw new Error(`${OP}: parameter '${name}' (${p.dtype}, shape ${p.shape.join('x')}) must be a contiguous float32 or float64 tensor`);
    }
    this.groupSizes = optimizer.paramGroups.map((g) => g.params.length);
    const modules = (opts.units ?? zero3Units(model)).filter((m) => m.parameters().length > 0);
    const users = new Map<Parameter, Set<number>>();
    modules.forEach((m, ui) => { for (const p of m.parameters()) { const u = users.get(p) ?? new Set<number>(); u.add(ui); users.set(p, u); } });
    const moduleNames = new Map<AnyModule, string>(model.namedModules().map(([k, m]) => [m as AnyModule, k]));
    const built: Unit3[] = [];
    for (const [ui, m] of [...modules, null].entries()) {
      const ps = m === null
        ? [...names.keys()].filter((p) => (users.get(p)?.size ?? 0) !== 1)
        : m.parameters().filter((p) => users.get(p)!.size === 1);
      if (ps.length === 0) continue;
      const name = m === null ? 'the root unit (parameters in no unit or in several)' : `unit ${ui} ('${moduleNames.get(m) ?? m.constructor.name}')`;
      const dtypes = new Set(ps.map((p) => p.dtype));
      if (dtypes.size > 1) throw new Error(`${OP}: ${name} mixes parameter dtypes (${[...dtypes].join(', ')}); give each unit one float dtype`);
      built.push(this.buildUnit(m, name, ps, groupOf, n));
    }
    this.units = built.filter((u) => u.module !== null);
    this.root = built.find((u) => u.module === null) ?? null;
    for (const u of built) this.gatheredBytes += u.size * bytesOf(u.dtype); // built whole
    // The inner optimizer's parameter k is flats[k]: group by group, units in order.
    for (let gi = 0; gi < this.groupSizes.length; gi++) for (const u of built) for (const f of u.flats) if (f.group === gi) this.flats.push(f);
    if (opts.inner !== undefined && opts.inner.paramGroups.flatMap((g) => g.params).length === this.flats.length) {
      this.inner = opts.inner;
      const ps = this.inner.paramGroups.flatMap((g) => g.params);
      this.flats.forEach((f, k) => { f.shardParam = ps[k]!; });
    } else {
      const groups = optimizer.paramGroups.map(({ params: _p, ...hyper }, gi) => ({ ...hyper, params: this.flats.filter((f) => f.group === gi).map((f) => f.shardParam) }));
      this.inner = new (optimizer.constructor as OptimizerClass<OptimizerOptions>)(groups as unknown as ParamGroupInput<OptimizerOptions>[], optimizer.defaults);
    }
    for (const f of this.flats) this.readShard(f);
    this.install();
  }

  // One unit: its flat vectors (one per parameter group) back to back in one array, which becomes
  // the parameters' storage (each Parameter keeps its identity; its data is a view).
  private buildUnit(module: AnyModule | null, name: string, ps: Parameter[], groupOf: Map<Parameter, number>, n: number): Unit3 {
    const dtype = ps[0]!.dtype as FloatDType;
    const byGroup = new Map<number, Parameter[]>();
    for (const p of ps) { const g = groupOf.get(p)!; const l = byGroup.get(g) ?? []; l.push(p); byGroup.set(g, l); }
    const unit = { module, name, dtype, params: ps, flats: [] as Flat3[], size: 0, slot: null, inSlot: false, version: 0, touched: false, gathered: true, pending: null, ready: 0, reduced: false } as unknown as Unit3;
    for (const g of [...byGroup.keys()].sort((a, b) => a - b)) {
      const params = byGroup.get(g)!;
      const layout = flatLayout(params.map((p) => p.size), n);
      const shardParam = fromBuffer(newFloatArray(dtype, layout.shard), dtype, [layout.shard]);
      shardParam.requiresGrad = true;
      unit.flats.push({ ...layout, group: g, dtype, params, ids: [], shardParam, unit, base: unit.size, grad: null });
      unit.size += layout.shard * n;
    }
    const full = newFloatArray(dtype, unit.size);
    for (const f of unit.flats) f.params.forEach((p, i) => { full.set(contiguousData(p), f.base + f.offsets[i]!); });
    place(unit, full);
    return unit;
  }

  // Hooks: a pre-hook (first, before e.g. pruning's) and a forward hook per unit, the gradient hooks.
  private install(): void {
    ensureRule();
    for (const u of this.units) {
      const m = u.module as AnyModule & { registerForwardPreHook(h: () => void, o: { prepend: boolean }): RemovableHandle };
      this.handles.push(m.registerForwardPreHook(() => { this.gatherRoot(); this.gather(u); this.prefetchAfter(u); }, { prepend: true }));
      this.handles.push(u.module!.registerForwardHook((_m: unknown, _a: unknown, out: unknown) => this.afterForward(u, out)));
    }
    for (const u of [...this.units, ...(this.root ? [this.root] : [])]) {
      for (const p of u.params) this.handles.push(registerPostAccumulateGradHook(p, () => this.onGradReady(u)));
    }
    const mine = new Set<Tensor>(this.units.flatMap((u) => u.params));
    this.handles.push(registerBackwardStartHook((leaves, info) => {
      if (info.nested || ![...mine].some((p) => leaves.has(p))) return;
      for (const u of this.allUnits()) { u.ready = 0; u.reduced = false; }
      this.inBackward = true; // backward visits the units of this forward (this.order) from the last
      this.bwdCursor = this.order.length - 1;
    }));
  }

  private allUnits(): Unit3[] { return this.root ? [...this.units, this.root] : this.units; }

  private afterForward(u: Unit3, out: unknown): unknown {
    if (this.whole) return undefined;
    if (out instanceof Tensor && out.requiresGrad && isGradEnabled()) {
      const y = record(REGATHER, [out], new Tensor(out.data, out.dtype, out.shape, out.strides, out.offset), { regather: () => { this.gather(u); this.prefetchBefore(u); } });
      this.free(u);
      return y;
    }
    if (!(out instanceof Tensor) && isGradEnabled()) return undefined; // kept until its gradients are reduced
    this.free(u);
    return undefined;
  }

  private onGradReady(u: Unit3): void {
    u.ready++;
    if (u.ready < u.params.length || u.reduced) return;
    this.reduce(u);
    if (u.module !== null && !this.whole) this.free(u);
  }

  // Reduce-scatters (average, asynchronously) each of u's flat gradients into this rank's shard
  // gradient (accumulating over the backward passes of a step) and drops the full gradients.
  private reduce(u: Unit3): void {
    u.reduced = true;
    const n = this.group.worldSize;
    for (const f of u.flats) {
      // A pooled buffer: every element is written (gradients, zeros for missing ones and the padding).
      const buffer = this.takeGradBuffer(f.shard * n * bytesOf(f.dtype));
      const flat = view(f.dtype, buffer, f.shard * n);
      f.params.forEach((p, i) => {
        const at = f.offsets[i]!;
        if (p.grad !== null) flat.set(contiguousData(p.grad), at);
        else flat.fill(0, at, at + p.size);
      });
      flat.fill(0, f.total);
      if (this.gradientScale !== 1) { const k = this.gradientScale; for (let i = 0; i < flat.length; i++) flat[i] = flat[i]! * k; }
      const done = this.group.reduceScatter(fromBuffer(flat, f.dtype, [flat.length]), 'avg', undefined, { inPlace: true }).then((part) => {
        this.giveGradBuffer(buffer);
        const d = contiguousData(part); // a fresh array of this rank's run
        if (f.grad === null) f.grad = d;
        else for (let i = 0; i < d.length; i++) f.grad[i] = f.grad[i]! + d[i]!;
      });
      done.catch(() => undefined); // awaited in finishBackward
      this.scatters.push(done);
      for (const p of f.params) p.grad = null;
    }
  }

  /**
   * After backward (the Trainer's onAfterBackward): reduces the units whose gradients did not all
   * become final (parameters a backward did not reach), waits for every reduce-scatter, frees the
   * root unit and hands the shard gradients to the inner optimizer's parameters.
   * @example loss.backward(); await z.finishBackward();
   */
  async finishBackward(): Promise<void> {
    for (const u of [...this.allUnits()].reverse()) if (!u.reduced && u.params.some((p) => p.grad !== null)) this.reduce(u);
    for (const u of this.allUnits()) { u.ready = 0; u.reduced = false; }
    if (!this.whole) for (const u of this.allUnits()) this.free(u); // waits for a prefetch left in flight
    const pending = this.scatters.splice(0);
    await Promise.all(pending);
    this.stepping = false;
    if (this.order.length > 0) this.lastOrder = this.order;
    this.order = [];
    this.inBackward = false;
    for (const f of this.flats) f.shardParam.grad = f.grad === null ? null : fromBuffer(f.grad, f.dtype, [f.shard]);
  }

  /**
   * Clips (the global norm of the shard gradients, summed over ranks) and steps the inner optimizer
   * with the Trainer optimizer's current hyper-parameters (its LR schedule); resolves with the norm
   * before clipping (null without clipping). A non-finite norm skips the step.
   * @example const norm = await z.step(1.0);
   */
  async step(clipNorm: number | null): Promise<number | null> {
    this.syncHyper();
    let norm: number | null = null;
    if (clipNorm !== null) {
      let sq = 0;
      for (const f of this.flats) if (f.grad !== null) for (let i = 0; i < f.grad.length; i++) sq += f.grad[i]! * f.grad[i]!;
      sq = (await this.group.allReduce(fromBuffer(new Float64Array([sq]), 'float64', [1]), 'sum')).data[0]!;
      norm = Math.sqrt(sq);
      const scale = clipNorm / (norm + 1e-6);
      if (scale < 1) for (const f of this.flats) if (f.grad !== null) { for (let i = 0; i < f.grad.length; i++) f.grad[i] = f.grad[i]! * scale; f.shardParam.grad!.version++; }
    }
    if (norm === null || Number.isFinite(norm)) this.inner.step();
    this.inner.zeroGrad();
    for (const f of this.flats) f.grad = null;
    return norm;
  }

  /**
   * Starts a training step: frees every unit (from here on a unit is gathered only while used) and
   * gathers the root unit, kept until finishBackward(). Every rank must call it.
   * @example z.beginStep();
   */
  beginStep(): void {
    if (this.whole) {
      // From the units' own storage to the pool slots (values come back with each gather).
      this.whole = false;
      this.makeSlots();
      for (const u of this.allUnits()) {
        this.free(u);
        place(u, view(u.dtype, u.slot!.buffer, u.size));
        u.inSlot = true;
        u.version = 0;
        detach(u);
      }
    }
    for (const u of this.allUnits()) u.touched = false;
    this.stepping = true;
    this.order = [];
    this.fwdCursor = 0;
    this.inBackward = false;
    this.gatherRoot(); // before any module runs: a unit without parameters of its own (a tied embedding) may read it first
  }

  /**
   * Gathers every unit and keeps them (evaluation, checkpoints, the end of a fit). Every rank must call it.
   * @example z.materialize(); evaluate(model, loader);
   */
  materialize(): void {
    if (this.whole) return;
    for (const u of this.allUnits()) this.free(u);
    this.whole = true;
    for (const u of this.allUnits()) {
      place(u, newFloatArray(u.dtype, u.size)); // storage of its own while the model is whole
      u.inSlot = false;
      this.startGather(u); // all in flight at once, then waited
    }
    for (const u of this.allUnits()) this.gather(u);
  }

  /**
   * The full optimizer state on rank `to` (null elsewhere), in the Trainer optimizer's format.
   * Every rank must call it.
   * @example const sd = await z.consolidateStateDict(0);
   */
  consolidateStateDict(to = 0): Promise<OptimizerStateDict | null> {
    this.syncHyper(); // the groups' current hyper-parameters (the schedule has moved since the step)
    this.numberParams();
    return consolidateShardedState(this.flats, this.inner, this.group, to, this.groupSizes);
  }

  /** Loads a full optimizer state (a resumed checkpoint's) into the shards. @example z.loadStateDict(opt.stateDict()); */
  loadStateDict(sd: OptimizerStateDict): void {
    this.numberParams();
    loadShardedState(this.flats, this.inner, this.group, sd, this.groupSizes, (f, i) => this.indexInGroup.get(f.params[i] as Parameter)!, `${OP}: loading the optimizer state`);
  }

  // The Trainer optimizer's hyper-parameters (lr from its schedule, weight decay, ...) into the inner one's groups.
  private syncHyper(): void { copyHyperParameters(this.optimizer, this.inner); }

  // ids: each flat parameter's index in the full optimizer's numbering (groups in order).
  private numberParams(): void {
    const starts: number[] = [];
    let at = 0;
    for (const s of this.groupSizes) { starts.push(at); at += s; }
    for (const f of this.flats) f.ids = f.params.map((p) => starts[f.group]! + this.indexInGroup.get(p as Parameter)!);
  }

  /**
   * Ends ZeRO-3: gathers the model whole into ordinary arrays and removes the hooks. Every rank must call it.
   * @example z.finish(); saveModel(model);
   */
  finish(): void {
    this.materialize();
    for (const h of this.handles.splice(0)) h.remove();
    for (const u of this.allUnits()) {
      for (const p of u.params) { const w = p as unknown as Writable; w.data = w.data.slice(); }
      u.slot = null;
    }
    this.slots = null;
    this.gradPool = [];
  }

  /**
   * Bytes this rank holds between steps (shards, shard gradients, inner optimizer state, gathered
   * units: none during a step's gaps), the gathered peak, and the buffers kept for reuse, not counted
   * in the others: the pool slots (allocated at the first step; as large as the gathered peak when
   * the units run in order) and the kept flat-gradient buffers.
   * @example z.memory()
   */
  memory(): { parameterBytes: number; gradientBytes: number; optimizerStateBytes: number; peakGatheredBytes: number; gatheredBytes: number; poolBytes: number; gradientPoolBytes: number } {
    let parameterBytes = 0;
    let gradientBytes = 0;
    for (const f of this.flats) {
      parameterBytes += f.shard * bytesOf(f.dtype);
      if (f.grad !== null) gradientBytes += f.grad.length * bytesOf(f.dtype);
    }
    for (const u of this.allUnits()) if (u.gathered) parameterBytes += u.size * bytesOf(u.dtype);
    let optimizerStateBytes = 0;
    for (const s of this.inner.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) optimizerStateBytes += v.size * bytesOf(v.dtype as FloatDType);
    let poolBytes = 0;
    for (const s of this.slots ?? []) poolBytes += s.buffer.byteLength;
    let gradientPoolBytes = 0;
    for (const b of this.gradPool) gradientPoolBytes += b.byteLength;
    return { parameterBytes, gradientBytes, optimizerStateBytes, peakGatheredBytes: this.peakGatheredBytes, gatheredBytes: this.gatheredBytes, poolBytes, gradientPoolBytes };
  }

  // The slots: the units in their order alternate between two (a unit and the next one never share
  // one), each as large as its largest unit; the root unit has its own.
  private makeSlots(): void {
    if (this.slots !== null) return;
    const caps = [0, 0];
    this.units.forEach((u, i) => { caps[i % 2] = Math.max(caps[i % 2]!, u.size * bytesOf(u.dtype)); });
    const pair: Slot[] = caps.map((c) => ({ buffer: new ArrayBuffer(c), owner: null }));
    this.slots = caps[1]! > 0 ? pair : pair.slice(0, 1);
    this.units.forEach((u, i) => { u.slot = pair[i % 2]!; });
    if (this.root) { this.root.slot = { buffer: new ArrayBuffer(this.root.size * bytesOf(this.root.dtype)), owner: null }; this.slots.push(this.root.slot); }
  }

  // Takes u's slot for a gather. Its holder, if any, is freed when it is only a prefetch not yet
  // waited for; otherwise u moves to a slot of its own when the tape cannot hold views of its
  // current one yet (its first gather in this step), and else (a prefetch) nothing is started.
  private claim(u: Unit3, prefetch: boolean): boolean {
    const s = u.slot!;
    const o = s.owner;
    if (o !== null && o !== u) {
      if (o.pending !== null) this.free(o);
      else if (!u.touched) {
        u.slot = { buffer: new ArrayBuffer(u.size * bytesOf(u.dtype)), owner: null };
        this.slots!.push(u.slot);
        place(u, view(u.dtype, u.slot.buffer, u.size));
      } else if (prefetch) return false;
      else throw new Error(`${OP}: ${u.name} must be gathered again for its backward, but its buffer slot is still held by ${o.name}; run the units' forwards in the order of zero3Units (or pass { units } in the order they run) so that a unit and the next one never share a slot`);
    }
    u.slot!.owner = u;
    this.params0(u).version = u.version; // the unit's own storage version, not the slot's last user's
    u.touched = true;
    return true;
  }

  // A buffer of at least `bytes` bytes for a flat gradient (the smallest free one that fits, or new).
  private takeGradBuffer(bytes: number): ArrayBuffer {
    let best = -1;
    this.gradPool.forEach((b, i) => { if (b.byteLength >= bytes && (best < 0 || b.byteLength < this.gradPool[best]!.byteLength)) best = i; });
    return best < 0 ? new ArrayBuffer(bytes) : this.gradPool.splice(best, 1)[0]!;
  }

  private giveGradBuffer(b: ArrayBuffer): void {
    if (this.slots === null) return; // finished
    this.gradPool.push(b);
    this.gradPool.sort((x, y) => y.byteLength - x.byteLength);
    this.gradPool.length = Math.min(this.gradPool.length, 2);
  }

  private gatherRoot(): void { if (this.root) this.gather(this.root); }

  // Starts gathering u (a no-op when it is gathered or on its way): u takes its slot (see claim), this
  // rank's shard of each flat vector goes to its run, and one in-place all-gather per flat vector
  // (N runs of `shard` elements: half the bytes of the all-reduce of a zero-padded buffer) is queued
  // on the communication thread. gather() waits for them.
  private startGather(u: Unit3, prefetch = false): void {
    if (u.gathered) return;
    if (u.inSlot) {
      if (!this.claim(u, prefetch)) return;
      attach(u);
    }
    const bytes = u.size * bytesOf(u.dtype);
    const rank = this.group.rank;
    const n = this.group.worldSize;
    u.pending = u.flats.map((f) => {
      u.full.set(f.shardParam.data as FloatArray, f.base + rank * f.shard);
      return this.group.startAllGather(fromBuffer(u.full.subarray(f.base, f.base + n * f.shard), u.dtype, [n * f.shard]));
    });
    u.gathered = true;
    this.gatheredBytes += bytes;
    if (this.stepping) this.peakGatheredBytes = Math.max(this.peakGatheredBytes, this.gatheredBytes);
  }

  // Blocking: u whole on this rank (started here unless a prefetch started it). The storage version
  // is restored (the values are the ones the tape saw, or new ones for a forward that the tape has
  // not seen yet).
  private gather(u: Unit3): void {
    this.startGather(u);
    if (u.pending === null) return;
    const version = this.params0(u).version;
    for (const g of u.pending.splice(0)) g.wait();
    u.pending = null;
    this.params0(u).version = version;
  }

  // A tensor over u's storage (for its version counter, which is per storage).
  private params0(u: Unit3): Tensor { return fromBuffer(u.full, u.dtype, [u.full.length]); }

  private free(u: Unit3): void {
    if (!u.gathered) return;
    if (u.pending !== null) this.gather(u); // never hand over a slot the communication thread writes
    if (u.inSlot) {
      u.version = this.params0(u).version;
      if (u.slot!.owner === u) u.slot!.owner = null;
      detach(u);
    }
    u.gathered = false;
    this.gatheredBytes -= u.size * bytesOf(u.dtype);
  }

  // Forward: u is about to run; start the gather of the unit that ran after it in the last step
  // (at most one prefetch in flight: a wrong guess is waited for and freed, so two units at most).
  private prefetchAfter(u: Unit3): void {
    if (this.whole || !this.stepping) return;
    if (this.inBackward) { this.inBackward = false; this.order = []; this.fwdCursor = 0; } // the next micro-batch's forward
    this.order.push(u);
    const order = this.lastOrder ?? this.units;
    const i = order.indexOf(u, this.fwdCursor);
    if (i < 0) return;
    this.fwdCursor = i + 1;
    if (this.prefetch) this.prefetchUnit(u, order[i + 1]);
  }

  // Backward: u is gathered again for its backward; start the gather of the unit whose forward ran
  // before it (backward reaches it next).
  private prefetchBefore(u: Unit3): void {
    if (this.whole || !this.stepping || !this.inBackward) return;
    const i = this.order.lastIndexOf(u, this.bwdCursor);
    if (i < 0) return;
    this.bwdCursor = i - 1;
    if (this.prefetch) this.prefetchUnit(u, i > 0 ? this.order[i - 1] : undefined);
  }

  private prefetchUnit(current: Unit3, next: Unit3 | undefined): void {
    for (const o of this.units) if (o !== current && o !== next && o.pending !== null) this.free(o); // a wrong guess
    if (next !== undefined && next !== current) this.startGather(next, true);
  }

  // This rank's run of f's flat vector, read from the (whole) model.
  private readShard(f: Flat3): void {
    const dst = f.shardParam.data as FloatArray;
    dst.fill(0);
    copyShard(dst, f.params.map(contiguousData), f, this.group.rank);
    f.shardParam.version++;
  }
}
