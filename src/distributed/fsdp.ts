// ZeRO stage 3 (Rajbhandari et al. 2020; PyTorch's FullyShardedDataParallel idea) on our collectives:
// the parameters themselves are sharded. The model is a chain of units (a Sequential's layers by
// default); each unit's parameters are laid out in one flat vector padded to a multiple of the world
// size N, and rank r stores only the r-th run of S = ceil(P / N) elements, as one flat Parameter that
// this rank's optimizer updates. Between uses the model's own parameter slots are empty (null).
//
// forward(x): unit by unit, the unit's shards are all-gathered into a full flat buffer, its parameter
//   slots point into it, the unit runs without recording the tape, and the buffer is dropped. The
//   gather of the next unit with parameters is issued before this unit computes (one unit of
//   prefetch), so the transfer overlaps the computation. Only each unit's input is kept.
// backward(loss): the loss is backpropagated to the chain's output; then, last unit first, the unit's
//   shards are all-gathered again, its forward is recomputed on the kept input with the tape on and
//   backpropagated; the unit's full flat gradient is reduce-scattered (average) into this rank's
//   shard gradient and the full parameters and gradients are dropped. Recomputing is the price of
//   freeing the gathered parameters: our tape keeps the parameter tensors it used, so a forward tape
//   would keep them alive until backward.
// Parameters that no unit holds, or that several units share (a GPT's tied embedding and LM head),
//   form the root unit: gathered once at the start of forward, kept for the whole step (every unit's
//   recomputed backward adds to their gradient) and reduce-scattered after the last unit's backward.
// A GPT is a chain of units too: its embeddings, each block, and the final norm with the LM head.
// The optimizer (any elementwise optimizer: SGD, Adam, AdamW) runs over `parameters()`, the shards.
// N ranks each on 1/N of the batch equal one process on the full batch (test/distributed/fsdp.test.ts).

import type { FloatDType } from '../backend/dtype.js';
import { fromBuffer, Tensor } from '../core/tensor.js';
import { noGrad } from '../core/engine.js';
import type { AnyModule, Module } from '../nn/module.js';
import { Parameter } from '../nn/parameter.js';
import { Dropout } from '../nn/dropout.js';
import { Sequential } from '../nn/container.js';
import { Module as ModuleBase } from '../nn/module.js';
import type { Embedding } from '../nn/embedding.js';
import type { LayerNorm } from '../nn/normalization.js';
import type { Linear } from '../nn/linear.js';
import * as ops from '../ops/index.js';
import { GPT } from '../models/gpt.js';
import { defaultGroup, type ProcessGroup } from './process_group.js';
import { bytesOf, contiguousData, copyShard, flatLayout, newFloatArray as newArray, type FloatArray } from './flat_shard.js';

type AnyUnit = Module<[Tensor], Tensor>;

export interface FullyShardedOptions {
  /**
   * The chain of modules forward() runs in order, each unit's output feeding the next. Parameters
   * of the model in no unit, or shared by several units, form the root unit (gathered for the whole
   * step). Default: the layers of a Sequential; for a GPT, `gptUnits(gpt)`.
   */
  units?: AnyUnit[];
  /** The group (default: the one initProcessGroup made). */
  group?: ProcessGroup;
}

// Where a parameter lives: the module that holds it and its attribute name there.
interface Slot { owner: AnyModule; name: string }

// One unit's flat parameter vector and this rank's shard of it.
interface Unit {
  module: AnyUnit;
  dtype: FloatDType;
  /** Distinct parameters (shared ones once), their shapes, the slots that hold each, and offsets. */
  shapes: (readonly number[])[];
  slots: Slot[][];
  offsets: number[];
  total: number;
  /** Shard length: ceil(total / N); the flat vector is padded to N * shard. */
  shard: number;
  /** This rank's shard: the Parameter the optimizer updates. */
  shardParam: Parameter;
}

function setSlot(s: Slot, p: Parameter | null): void {
  (s.owner as unknown as Record<string, Parameter | null>)[s.name] = p;
}

/**
 * ZeRO stage 3: a chain-of-units model whose parameters are sharded over the ranks (each rank stores
 * 1/N of every unit's flat parameter vector), all-gathered per unit just before its forward and again
 * for its backward, and freed after use; gradients are reduce-scattered into the owner's shard and
 * the optimizer updates the local shard only. Every rank wraps the same model (built from one seed,
 * or through `create`, which broadcasts rank 0's weights), feeds its share of the batch and calls
 * forward/backward; the model's own parameter slots stay empty (null) between uses.
 * @example
 * const fsdp = await FullyShardedDataParallel.create(createAnyModel('mlp'));
 * const opt = new Adam(fsdp.parameters(), { lr: 1e-3 });   // over this rank's shards
 * opt.zeroGrad();
 * const out = await fsdp.forward(x);
 * await fsdp.backward(F.crossEntropy(out, y));             // shard gradients, averaged over ranks
 * opt.step();
 */
export class FullyShardedDataParallel {
  readonly group: ProcessGroup;
  private readonly units: Unit[] = [];
  /** The parameters no single unit owns: gathered from the start of forward to the end of backward. */
  private root!: Unit;
  private rootFull: FloatArray | null = null;
  /** The model's parameter names, in its order (its slots are empty after construction). */
  private readonly names: string[];
  private inputs: (Tensor | null)[] = [];
  private output: Tensor | null = null;
  private gathered = 0;
  private peakGathered = 0;

  /**
   * Shards `model` after copying rank 0's parameters to every rank (so ranks may have initialised
   * their models differently). Every rank must call it.
   * @example const fsdp = await FullyShardedDataParallel.create(model);
   */
  static async create(model: AnyModule, opts: FullyShardedOptions = {}): Promise<FullyShardedDataParallel> {
    const group = opts.group ?? defaultGroup('FullyShardedDataParallel');
    for (const p of model.parameters()) await group.broadcast(p, 0);
    return new FullyShardedDataParallel(model, { ...opts, group });
  }

  /**
   * Shards `model` as it is on each rank (the models must already be equal on every rank: use
   * `create` to broadcast rank 0's). Frees the full parameters: the model's parameter slots are null
   * afterwards; `await fullParameters()` gathers them back.
   * @example const fsdp = new FullyShardedDataParallel(model, { units: [enc, head] });
   */
  constructor(readonly model: AnyModule, opts: FullyShardedOptions = {}) {
    const op = 'FullyShardedDataParallel';
    this.group = opts.group ?? defaultGroup(op);
    this.names = model.namedParameters().map(([n]) => n);
    let modules: AnyUnit[];
    if (opts.units !== undefined) modules = opts.units;
    else if (model instanceof Sequential) modules = model.children() as AnyUnit[];
    else if (model instanceof GPT) modules = gptUnits(model);
    else throw new Error(`${op}: ${model.constructor.name} is not a Sequential or a GPT; pass { units: [...] }, the chain of modules its forward runs`);
    // Which units use each parameter: one unit owns it, none or several leave it to the root unit.
    const users = new Map<Parameter, Set<number>>();
    modules.forEach((m, ui) => {
      for (const sub of m.modules()) if (sub instanceof Dropout && sub.p > 0) throw new Error(`${op}: unit ${ui} has Dropout(p=${sub.p}); backward recomputes each unit's forward, which would draw a new mask: use p = 0`);
      for (const p of m.parameters()) { const u = users.get(p) ?? new Set<number>(); u.add(ui); users.set(p, u); }
    });
    const inRoot = (p: Parameter): boolean => (users.get(p)?.size ?? 0) !== 1;
    const n = this.group.worldSize;
    const rank = this.group.rank;
    // Units 0..U-1, then the root unit (the model's parameters that no single unit owns).
    for (const [ui, m] of [...modules, model as AnyUnit].entries()) {
      const root = ui === modules.length;
      const params: Parameter[] = [];
      const slots: Slot[][] = [];
      for (const [, owner] of m.namedModules()) {
        for (const [name, p] of owner.namedParameters('', false, false)) {
          if (inRoot(p) !== root) continue;
          let k = params.indexOf(p);
          if (k < 0) { k = params.length; params.push(p); slots.push([]); }
          slots[k]!.push({ owner: owner as AnyModule, name });
        }
      }
      const what = root ? 'the root unit (parameters in no unit or shared by several)' : `unit ${ui}`;
      const dtypes = new Set(params.map((p) => p.dtype));
      if (dtypes.size > 1) throw new Error(`${op}: ${what} mixes parameter dtypes (${[...dtypes].join(', ')}); give each unit one float dtype`);
      const dtype = (params[0]?.dtype ?? 'float32') as FloatDType;
      if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`${op}: ${what} has ${dtype} parameters; only float32 and float64 parameters can be sharded`);
      const layout = flatLayout(params.map((p) => p.size), n);
      const { offsets, total, shard } = layout;
      const data = newArray(dtype, shard);
      copyShard(data, params.map(contiguousData), layout, rank);
      const shardParam = new Parameter(fromBuffer(data, dtype, [shard]));
      const unit: Unit = { module: m, dtype, shapes: params.map((p) => p.shape), slots, offsets, total, shard, shardParam };
      if (root) this.root = unit; else this.units.push(unit);
      for (const ss of slots) for (const s of ss) setSlot(s, null);
    }
  }

  /**
   * This rank's parameter shards (one flat Parameter per unit that has parameters): pass them to
   * this rank's optimizer.
   * @example new AdamW(fsdp.parameters(), { lr: 1e-3 });
   */
  parameters(): Parameter[] {
    return [...this.units, this.root].filter((u) => u.total > 0).map((u) => u.shardParam);
  }

  /**
   * Runs the chain on `x` (this rank's share of the batch), gathering each unit's parameters just
   * before it runs and freeing them after. Returns the output as a leaf that requires grad: compute
   * the loss from it and pass the loss to backward(). Every rank must call it.
   * @example const out = await fsdp.forward(x);
   */
  async forward(x: Tensor): Promise<Tensor> {
    this.inputs = [];
    this.output = null;
    if (this.rootFull === null && this.root.total > 0) {
      this.rootFull = await this.gatherUnit(this.root);
      this.installUnit(this.root, this.rootFull);
    }
    const order = this.units.map((_, i) => i);
    const fetch = this.prefetcher(order);
    let running: [number, FloatArray | null] | null = null;
    try {
      for (const i of order) {
        running = [i, await fetch(i)];
        this.inputs.push(x);
        x = noGrad(() => this.units[i]!.module.call(x));
        this.release(i, running[1]);
        running = null;
      }
    } catch (e) {
      if (running !== null) this.release(...running);
      fetch.abandon();
      this.releaseRoot();
      throw e;
    }
    const out = x.isLeaf ? x : x.detach();
    out.requiresGrad = true;
    this.output = out;
    return out;
  }

  /**
   * Backpropagates `loss` (computed from forward()'s output) through the chain, last unit first:
   * gathers the unit's parameters again, recomputes its forward, backpropagates, reduce-scatters the
   * unit's gradient (averaged over ranks) into this rank's shard gradient (accumulating) and frees
   * the full parameters and gradients. Every rank must call it.
   * @example await fsdp.backward(lossFn.call(await fsdp.forward(x), y));
   */
  async backward(loss: Tensor): Promise<void> {
    const op = 'FullyShardedDataParallel.backward';
    const out = this.output;
    if (out === null) throw new Error(`${op}: call forward() first (each forward() allows one backward())`);
    this.output = null;
    loss.backward();
    if (out.grad === null) throw new Error(`${op}: the loss does not depend on forward()'s output`);
    let g: Tensor = out.grad;
    const scatters: Promise<void>[] = [];
    const order = this.units.map((_, i) => i).reverse();
    const fetch = this.prefetcher(order);
    // A failure part-way leaves scatters and a prefetch in flight: collect their outcome (no unhandled rejection).
    const settle = (): Promise<unknown> => Promise.allSettled(scatters);
    let running: [number, FloatArray | null] | null = null;
    try {
      for (const i of order) {
        const u = this.units[i]!;
        const full = await fetch(i);
        running = [i, full];
        const input = this.inputs[i]!;
        const x = i > 0 ? input.detach() : input;
        if (i > 0) x.requiresGrad = true;
        const y = u.module.call(x);
        if (y.requiresGrad) y.backward(g); // else: the first unit, without parameters (e.g. Flatten)
        if (u.total > 0) scatters.push(this.scatterGradient(u));
        this.release(i, full);
        running = null;
        if (i > 0) {
          if (x.grad === null) throw new Error(`${op}: unit ${i}'s input got no gradient (does unit ${i} use its input?)`);
          g = x.grad;
        }
        this.inputs[i] = null;
      }
      if (this.rootFull !== null) {
        scatters.push(this.scatterGradient(this.root));
        this.releaseRoot();
      }
    } catch (e) {
      if (running !== null) this.release(...running);
      fetch.abandon();
      this.releaseRoot();
      await settle();
      throw e;
    }
    await Promise.all(scatters);
  }

  // Reduce-scatters (average) unit u's full gradient, read from its installed parameters, into this
  // rank's shard gradient, accumulating over calls.
  private scatterGradient(u: Unit): Promise<void> {
    const flat = newArray(u.dtype, u.shard * this.group.worldSize);
    u.slots.forEach((ss, k) => {
      const pg = (ss[0]!.owner as unknown as Record<string, Parameter>)[ss[0]!.name]!.grad;
      if (pg !== null) flat.set(contiguousData(pg), u.offsets[k]!);
    });
    return this.group.reduceScatter(fromBuffer(flat, u.dtype, [flat.length]), 'avg').then((part) => {
      const sp = u.shardParam;
      if (sp.grad === null) sp.grad = part;
      else { const a = sp.grad.data as FloatArray, b = part.data as FloatArray; for (let j = 0; j < a.length; j++) a[j] = a[j]! + b[j]!; sp.grad.version++; }
    });
  }

  private releaseRoot(): void {
    if (this.rootFull === null) return;
    for (const ss of this.root.slots) for (const s of ss) setSlot(s, null);
    this.gathered -= this.rootFull.length * bytesOf(this.root.dtype);
    this.rootFull = null;
  }

  /**
   * The full parameters, gathered from the shards, by the model's parameter names (every rank gets
   * them; the model's slots stay empty). Every rank must call it.
   * @example const w = (await fsdp.fullParameters()).get('1.weight');
   */
  async fullParameters(): Promise<Map<string, Tensor>> {
    const out = new Map<string, Tensor>();
    const names = new Map<AnyModule, string>(this.model.namedModules().map(([n, m]) => [m as AnyModule, n]));
    const byName = new Map<string, Tensor>();
    for (const u of [...this.units, this.root]) {
      if (u.total === 0) continue;
      const all = (await this.group.allGather(u.shardParam)).data as FloatArray;
      u.slots.forEach((ss, k) => {
        const t = fromBuffer(all.slice(u.offsets[k]!, u.offsets[k]! + numel(u.shapes[k]!)), u.dtype, u.shapes[k]!);
        for (const s of ss) { const prefix = names.get(s.owner) ?? ''; byName.set(prefix === '' ? s.name : `${prefix}.${s.name}`, t); }
      });
    }
    // In the model's own order, a shared (tied) parameter under its first name only, as namedParameters() gives it.
    const emitted = new Set<Tensor>();
    for (const name of [...this.names, ...byName.keys()]) {
      const t = byName.get(name);
      if (t === undefined || emitted.has(t) || out.has(name)) continue;
      emitted.add(t);
      out.set(name, t);
    }
    return out;
  }

  /**
   * Bytes this rank holds: its parameter shards, their gradients, and the most bytes of gathered
   * full parameters that were alive at once (at most two units: the one running and the prefetched one).
   * @example const { parameterBytes, gradientBytes } = fsdp.memory();
   */
  memory(): { parameterBytes: number; gradientBytes: number; peakGatheredBytes: number; layout: { elements: number; shard: number }[]; root: { elements: number; shard: number } } {
    let parameterBytes = 0;
    let gradientBytes = 0;
    for (const u of [...this.units, this.root]) {
      parameterBytes += u.shard * bytesOf(u.dtype);
      if (u.shardParam.grad !== null) gradientBytes += u.shard * bytesOf(u.dtype);
    }
    return { parameterBytes, gradientBytes, peakGatheredBytes: this.peakGathered, layout: this.units.map((u) => ({ elements: u.total, shard: u.shard })), root: { elements: this.root.total, shard: this.root.shard } };
  }

  // For units visited in `order`: fetch(i) resolves with unit i's gathered parameters installed in
  // its slots (null for a unit without parameters) after issuing the all-gather of the next unit in
  // `order` that has parameters, so that transfer overlaps unit i's computation.
  // A prefetched gather that nobody awaits (the step failed before its unit) is abandon()ed: its
  // outcome is swallowed, so a failure of it is no unhandled rejection, and its bytes are uncounted.
  private prefetcher(order: number[]): ((i: number) => Promise<FloatArray | null>) & { abandon(): void } {
    const withParams = order.filter((i) => this.units[i]!.total > 0);
    let k = 0;
    const issue = (j: number): Promise<FloatArray | null> => {
      const p = this.gather(withParams[j]!);
      p.catch(() => undefined); // awaited by fetch() when its unit comes, else abandoned
      return p;
    };
    let next = withParams.length > 0 ? issue(0) : null;
    const fetch = async (i: number): Promise<FloatArray | null> => {
      if (this.units[i]!.total === 0) return null;
      if (withParams[k] !== i || next === null) throw new Error(`FullyShardedDataParallel: internal error: unit ${i} visited out of order`);
      const pending = next;
      next = null;
      const full = await pending;
      k++;
      next = k < withParams.length ? issue(k) : null;
      this.install(i, full);
      return full;
    };
    return Object.assign(fetch, {
      abandon: (): void => {
        if (next === null) return;
        const u = this.units[withParams[k]!]!;
        next = null;
        this.gathered -= u.shard * this.group.worldSize * bytesOf(u.dtype);
      },
    });
  }

  // Issues the all-gather of unit i's shards (counted as live from now on); resolves with the full
  // flat buffer, which install() turns into the unit's parameters (fresh Parameters over it).
  private gather(i: number): Promise<FloatArray | null> { return this.gatherUnit(this.units[i]!); }

  private async gatherUnit(u: Unit): Promise<FloatArray | null> {
    if (u.total === 0) return null;
    const pending = this.group.allGather(u.shardParam);
    this.gathered += u.shard * this.group.worldSize * bytesOf(u.dtype);
    this.peakGathered = Math.max(this.peakGathered, this.gathered);
    return (await pending).data as FloatArray;
  }

  private install(i: number, full: FloatArray | null): void { this.installUnit(this.units[i]!, full); }

  private installUnit(u: Unit, full: FloatArray | null): void {
    if (full === null) return;
    u.slots.forEach((ss, k) => {
      const p = new Parameter(fromBuffer(full.subarray(u.offsets[k]!, u.offsets[k]! + numel(u.shapes[k]!)), u.dtype, u.shapes[k]!));
      for (const s of ss) setSlot(s, p);
    });
  }

  // Points unit i's slots into the gathered buffer, or (after use) empties them and drops the buffer.
  private release(i: number, full: FloatArray | null): void {
    const u = this.units[i]!;
    if (full === null) return;
    for (const ss of u.slots) for (const s of ss) setSlot(s, null);
    this.gathered -= full.length * bytesOf(u.dtype);
  }
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A GPT's token and position embeddings (and embedding dropout) as one FSDP unit: idx -> x. */
class GptEmbeddingUnit extends ModuleBase<[Tensor], Tensor> {
  constructor(readonly wte: Embedding, readonly wpe: Embedding, readonly drop: Dropout) { super(); }
  forward(idx: Tensor): Tensor {
    const pos = ops.arange(0, idx.shape[1]!, 1, { dtype: 'int32' });
    return this.drop.call(ops.add(this.wte.call(idx), this.wpe.call(pos)));
  }
}

/** A GPT's final LayerNorm and LM head as one FSDP unit: x -> logits. */
class GptHeadUnit extends ModuleBase<[Tensor], Tensor> {
  constructor(readonly ln_f: LayerNorm, readonly lm_head: Linear) { super(); }
  forward(x: Tensor): Tensor { return this.lm_head.call(this.ln_f.call(x)); }
}

/**
 * A GPT as a chain of FSDP units, one per block: the embeddings, every block, then the final norm
 * with the LM head (the default units of FullyShardedDataParallel for a GPT). A tied embedding
 * matrix, used by the first and the last unit, lands in the root unit.
 * @example const fsdp = new FullyShardedDataParallel(gpt, { units: gptUnits(gpt) });
 */
export function gptUnits(gpt: GPT): AnyUnit[] {
  const tr = gpt.transformer;
  const blocks = [...tr.h].map((b) => b as unknown as AnyUnit); // called with one argument: no cache
  return [new GptEmbeddingUnit(tr.wte, tr.wpe, tr.drop), ...blocks, new GptHeadUnit(tr.ln_f, gpt.lm_head)];
}
