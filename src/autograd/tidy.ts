// Step scopes: the storage of a training step's activations goes back to the storage pool when the
// step ends, so the next step reuses it instead of allocating fresh ArrayBuffers that only V8's
// garbage collector frees (docs/DESIGN.md "Storage pool", "Step scopes").
//
// Ownership is granted by whoever runs the step (the Trainer, `bench gpt`, or user code calling
// tidy()): JavaScript cannot see who holds a tensor, so the scope decides by what it can see and
// makes the rest loud. When a scope closes it releases the storage of every tensor that
//   - an op recorded on the tape while the scope was open (an activation: it requires grad), outside
//     any backward pass, and
//   - the storage pool handed out after the scope opened and has not handed out again since,
// unless that storage is kept: the scope's result (tensors in it, arrays and plain objects walked),
// keep(t), tensors passed to or returned by module forward hooks during the scope, tensors held by
// the properties of the scope's `roots` (every module of a model) and their gradients, every
// buffer a backward pass or grad() handed out (leaf gradients), the saved tensors of every graph
// node still able to run backward (a retained graph, a graph not yet differentiated), and every
// tensor recorded during a backward pass (createGraph, checkpoint's recomputation).
// Every tensor over released storage (views and detach() share its typed array) is revoked: a
// kernel, dataSync(), item() or toArray() on it throws, naming keep(), instead of reading storage a
// newer tensor owns. A program that kept such a tensor elsewhere (a closure, a private field)
// gets that error, never silently changed values; reading `t.data` directly is not guarded.

import { bufferLife, lastLife, ownScope, release, tracking, trimIdle } from '../backend/pool.js';
import type { TypedArray } from '../backend/dtype.js';
import { revokeStorage, Tensor } from '../core/tensor.js';

/** What a step scope may keep alive beyond its result. */
export interface StepScopeOptions {
  /**
   * Objects whose tensors stay: for an object with `modules()` (a Module), every tensor held by a
   * property of each of its modules, directly or in an array or Map (parameters, buffers, a hook's
   * stashed tensor), and the gradients of those tensors; for another object, its own properties.
   */
  roots?: readonly object[];
  /**
   * Let `Optimizer.zeroGrad()` (set to none) inside the scope give the old gradients' storage back
   * to the pool (revoking every tensor over it). Only for a step whose gradients nobody keeps
   * across steps (the Trainer without a distributed stepper, `bench gpt`).
   */
  releaseGrads?: boolean;
  /**
   * Give an activation's storage back during backward, once the pass has run every node that saved
   * it (as PyTorch frees saved tensors), instead of when the scope closes. Only for a step that
   * reads, after its backward, nothing of the step but the tensor backward ran from (the loss),
   * what it keep()s before backward, what module hooks saw and what the `roots` hold: any other
   * tensor of the step is revoked then (using it throws). `bench gpt` grants it.
   */
  releaseSaved?: boolean;
}

interface SavedLike { readonly inputs: readonly (Tensor | undefined)[]; readonly output: Tensor | undefined }
interface NodeLike { readonly saved: SavedLike | null; readonly attrs: Readonly<Record<string, unknown>> }
// a recorded output's storage (or a tensor its op made for backward and keeps in the node's attrs)
interface Entry { readonly data: TypedArray; readonly life: number; readonly node: NodeLike; readonly inPass: boolean; readonly attr: boolean }

// the buffers a node still able to run backward needs: its saved tensors and its attrs' tensors
function neededBy(node: NodeLike, out: ArrayBufferLike[]): void {
  const s = node.saved;
  if (s === null) return;
  for (const x of s.inputs) if (x !== undefined) out.push(x.data.buffer);
  if (s.output !== undefined) out.push(s.output.data.buffer);
  for (const key in node.attrs) {
    const v = node.attrs[key];
    if (v === null || typeof v !== 'object') continue;
    if (v instanceof Tensor) out.push(v.data.buffer);
    else if (ArrayBuffer.isView(v)) out.push(v.buffer);
    else if (Object.getPrototypeOf(v) === Object.prototype) for (const w of Object.values(v)) if (w instanceof Tensor) out.push(w.data.buffer);
  }
}

/** An open step scope (see tidy()); close it with close(result), exactly once. */
export class StepScope {
  readonly #since = lastLife();
  readonly #entries: Entry[] = [];
  readonly #kept = new Set<ArrayBufferLike>();
  readonly #inert = tracking();   // opened inside a backward pass's tracking scope: releases nothing
  #open = true;
  constructor(readonly options: StepScopeOptions = {}) {
    scopes.push(this);
    ownScope(1);
  }

  /** @internal the tape's recorder: a node recorded while this scope is the innermost one */
  note(inputs: readonly Tensor[], t: Tensor, node: NodeLike, inPass: boolean): void {
    this.#entries.push({ data: t.data, life: bufferLife(t.data.buffer) ?? -1, node, inPass, attr: false });
    // what the op made for its backward (LayerNorm's mean and rstd, attention's log-sum-exp, the
    // fused head's precomputed gradients), not its inputs (an embedding's index)
    for (const key in node.attrs) {
      const v = node.attrs[key];
      if (v === null || typeof v !== 'object') continue;
      if (v instanceof Tensor) this.#noteAttr(inputs, v.data, node, inPass);
      else if (ArrayBuffer.isView(v)) this.#noteAttr(inputs, v as TypedArray, node, inPass);
      else if (Object.getPrototypeOf(v) === Object.prototype) {
        for (const w of Object.values(v)) if (w instanceof Tensor) this.#noteAttr(inputs, w.data, node, inPass);
      }
    }
  }

  #noteAttr(inputs: readonly Tensor[], data: TypedArray, node: NodeLike, inPass: boolean): void {
    for (const x of inputs) if (x.data.buffer === data.buffer) return;
    const life = bufferLife(data.buffer);
    if (life !== undefined && life > this.#since) this.#entries.push({ data, life, node, inPass, attr: true });
  }

  /** @internal keep a buffer alive beyond this scope */
  keepBuffer(buf: ArrayBufferLike): void { this.#kept.add(buf); }

  /**
   * @internal releaseSaved: the tape's backward pass calls it (when this scope grants it) after each
   * rule with `live` (the pass's gradients in flight and what it handed out) and `roots` (the
   * tensors backward runs from): every activation of this scope that no node able to run backward
   * still needs goes back to the pool, except what is kept. Returns a function for the next rule.
   */
  savedReleaser(roots: readonly Tensor[]): ((live: (buf: ArrayBufferLike) => boolean) => void) | undefined {
    if (!this.#open || this.#inert || this.options.releaseSaved !== true) return undefined;
    const keep = new Set(this.#kept);
    for (const t of roots) keepTensor(t, keep);
    for (const root of this.options.roots ?? []) walkRoot(root, keep);
    // per buffer: how many nodes able to run backward need it; per node, the buffers it needs
    const refs = new Map<ArrayBufferLike, number>();
    const nodes: { node: NodeLike; bufs: ArrayBufferLike[] }[] = [];
    const seen = new Set<NodeLike>();
    for (const e of this.#entries) {
      if (seen.has(e.node)) continue;
      seen.add(e.node);
      const bufs: ArrayBufferLike[] = [];
      neededBy(e.node, bufs);
      if (bufs.length === 0) continue;
      nodes.push({ node: e.node, bufs });
      for (const b of bufs) refs.set(b, (refs.get(b) ?? 0) + 1);
    }
    // candidates: the activations (not attrs: a rule may hand those out as gradients) this scope may release
    const cand = new Map<ArrayBufferLike, Entry[]>();
    for (const e of this.#entries) {
      const buf = e.data.buffer;
      if (e.inPass || e.attr || e.life <= this.#since || keep.has(buf) || bufferLife(buf) !== e.life) continue;
      const list = cand.get(buf);
      if (list === undefined) cand.set(buf, [e]); else list.push(e);
    }
    return (live) => {
      let k = 0;
      for (const n of nodes) {
        if (n.node.saved !== null) { nodes[k++] = n; continue; }
        for (const b of n.bufs) refs.set(b, refs.get(b)! - 1);
      }
      nodes.length = k;
      for (const [buf, list] of cand) {
        if ((refs.get(buf) ?? 0) > 0 || live(buf) || this.#kept.has(buf)) continue;
        cand.delete(buf);
        if (list.some((e) => bufferLife(buf) !== e.life)) continue;   // handed out again since: not ours
        for (const e of list) revokeStorage(e.data);
        release(buf);
      }
    };
  }

  /** @internal whether zeroGrad may give gradients back now */
  get releasesGrads(): boolean { return this.#open && !this.#inert && this.options.releaseGrads === true && !tracking(); }

  /**
   * End the scope: release the storage of its activations except what `result` holds and what
   * is kept (see tidy()). Returns the number of buffers given back.
   * @example const s = new StepScope({ roots: [model] }); try { out = step(); } finally { s.close(out); }
   */
  close(result?: unknown): number {
    if (!this.#open) throw new Error('StepScope.close: the scope is already closed');
    this.#open = false;
    const i = scopes.lastIndexOf(this);
    if (i >= 0) scopes.splice(i, 1);
    ownScope(-1);
    const entries = this.#entries;
    if (this.#inert || tracking()) { passKeptUp(this.#kept, entries, true); return 0; }
    const keep = this.#kept;
    walk(result, keep, 0);
    for (const root of this.options.roots ?? []) walkRoot(root, keep);
    for (const e of entries) {
      const s = e.node.saved;
      // a node that can still run backward needs its saved tensors and what it keeps in its attrs
      if (e.inPass || (s !== null && e.attr)) keep.add(e.data.buffer);
      if (s !== null) {
        for (const x of s.inputs) if (x !== undefined) keep.add(x.data.buffer);
        if (s.output !== undefined) keep.add(s.output.data.buffer);
      }
    }
    const dead = new Map<ArrayBufferLike, TypedArray[]>();
    for (const e of entries) {
      const buf = e.data.buffer;
      if (e.inPass || e.life <= this.#since || keep.has(buf) || bufferLife(buf) !== e.life) continue;
      const arrays = dead.get(buf);
      if (arrays === undefined) dead.set(buf, [e.data]); else arrays.push(e.data);
    }
    for (const [buf, arrays] of dead) {
      for (const a of arrays) revokeStorage(a);
      release(buf);
    }
    // an enclosing scope must not release what this one kept (its result, its leaf gradients)
    passKeptUp(keep, entries, false);
    // a step ended: size classes it did not ask for give their free buffers back (backend/pool.ts)
    if (scopes.length === 0) trimIdle();
    return dead.size;
  }

  /**
   * End the scope releasing nothing (a step that threw): everything it recorded stays alive, for
   * the garbage collector, and enclosing scopes keep it too.
   * @example try { step(); } catch (e) { s.abandon(); throw e; }
   */
  abandon(): void {
    if (!this.#open) throw new Error('StepScope.abandon: the scope is already closed');
    this.#open = false;
    const i = scopes.lastIndexOf(this);
    if (i >= 0) scopes.splice(i, 1);
    ownScope(-1);
    passKeptUp(this.#kept, this.#entries, true);
  }
}

const scopes: StepScope[] = [];

// what a closed scope kept (or, when it released nothing, all it recorded) stays alive in the
// enclosing scopes too
function passKeptUp(kept: ReadonlySet<ArrayBufferLike>, entries: readonly Entry[], all: boolean): void {
  if (scopes.length === 0) return;
  for (const outer of scopes) {
    for (const b of kept) outer.keepBuffer(b);
    for (const e of entries) if (all || e.inPass || (e.attr && e.node.saved !== null)) outer.keepBuffer(e.data.buffer);
  }
}

function keepTensor(t: Tensor, keep: Set<ArrayBufferLike>): void {
  keep.add(t.data.buffer);
  if (t.grad !== null) keep.add(t.grad.data.buffer);
}

// tensors in a result: arrays, plain objects and Maps, a few levels deep
function walk(v: unknown, keep: Set<ArrayBufferLike>, depth: number): void {
  if (v === null || typeof v !== 'object' || depth > 4) return;
  if (v instanceof Tensor) { keepTensor(v, keep); return; }
  if (Array.isArray(v)) { for (const x of v) walk(x, keep, depth + 1); return; }
  if (v instanceof Map) { for (const x of v.values()) walk(x, keep, depth + 1); return; }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Object.prototype || proto === null) for (const x of Object.values(v)) walk(x, keep, depth + 1);
}

function walkRoot(root: object, keep: Set<ArrayBufferLike>): void {
  const mods = (root as { modules?: unknown }).modules;
  const list: object[] = typeof mods === 'function' ? (mods.call(root) as object[]) : [root];
  for (const m of list) {
    for (const x of Object.values(m)) {
      if (x instanceof Tensor) keepTensor(x, keep);
      else if (Array.isArray(x)) { for (const y of x) if (y instanceof Tensor) keepTensor(y, keep); }
      else if (x instanceof Map) { for (const y of x.values()) if (y instanceof Tensor) keepTensor(y, keep); }
    }
  }
}

/** @internal the tape's recorder calls it for every recorded node */
export function noteRecorded(inputs: readonly Tensor[], output: Tensor, node: NodeLike, inPass: boolean): void {
  const s = scopes[scopes.length - 1];
  if (s !== undefined) s.note(inputs, output, node, inPass);
}

/**
 * @internal the tape, at the start of an outermost backward pass without retainGraph or
 * createGraph: the innermost step scope's releaser of saved activations (releaseSaved), if granted
 */
export function savedReleaser(roots: readonly Tensor[]): ((live: (buf: ArrayBufferLike) => boolean) => void) | undefined {
  return scopes.length === 1 ? scopes[0]!.savedReleaser(roots) : undefined;
}

/** @internal backward()/grad(): the buffers a pass handed out stay alive beyond every open scope */
export function noteHandedOut(bufs: Iterable<ArrayBufferLike>): void {
  if (scopes.length === 0) return;
  for (const b of bufs) for (const s of scopes) s.keepBuffer(b);
}

/** Whether a step scope is open (module hooks keep their tensors then). @example if (stepScopeOpen()) keep(t); */
export function stepScopeOpen(): boolean { return scopes.length > 0; }

/**
 * Keep `t` (and every view of its storage) alive beyond the open step scopes: they will not give
 * its storage back. Returns t. Tensors in tidy()'s result are kept without it.
 * @example tidy(() => { const h = model.call(x); lastHidden = keep(h.detach()); ... });
 */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.keepBuffer(t.data.buffer);
  return t;
}

/** keep() every tensor in `v` (arrays, plain objects, Maps): module hooks' arguments and results. @example keepAll([args, out]) */
export function keepAll(v: unknown): void {
  if (scopes.length === 0) return;
  const bufs = new Set<ArrayBufferLike>();
  walk(v, bufs, 0);
  for (const b of bufs) for (const s of scopes) s.keepBuffer(b);
}

/**
 * Optimizer.zeroGrad(): give the storage of gradients being dropped back to the pool, when the
 * innermost step scope allows it (`releaseGrads`). Only whole buffers the pool made, each used by
 * one gradient of the list; every tensor over them is revoked. Returns how many were given back.
 * (Freeing them at once instead, for the C heap to reuse in the next forward, cost the GPT L4 step
 * 0.9 mark-compacts per step: V8 counts the fresh gradients of the next backward.)
 * @example releaseGradStorage(params.map((p) => p.grad))
 */
export function releaseGradStorage(grads: readonly (Tensor | null)[]): number {
  const s = scopes[scopes.length - 1];
  if (s === undefined || !s.releasesGrads) return 0;
  const count = new Map<ArrayBufferLike, number>();
  for (const g of grads) if (g !== null) count.set(g.data.buffer, (count.get(g.data.buffer) ?? 0) + 1);
  let n = 0;
  for (const g of grads) {
    if (g === null) continue;
    const buf = g.data.buffer;
    if (count.get(buf) !== 1 || g.data.byteOffset !== 0 || bufferLife(buf) === undefined) continue;
    revokeStorage(g.data);
    release(buf);
    count.delete(buf);
    n++;
  }
  return n;
}

/**
 * Run one step `fn` in a step scope: when it returns, the storage of the activations it recorded
 * goes back to the storage pool (the next step reuses it: no fresh ArrayBuffers, no garbage
 * collection forced by them), except what its result holds, what keep() marked, what module
 * hooks saw, what the `roots`' modules hold, leaf gradients, and what a graph that can still run
 * backward needs. Any other tensor of the step is dead afterwards: using it throws (keep() it or
 * return it). If fn throws, nothing is released. Scopes nest.
 * @example const loss = tidy(() => { opt.zeroGrad(); const l = model.loss(x, y); l.backward(); opt.step(); return l; }, { roots: [model], releaseGrads: true });
 */
export function tidy<T>(fn: () => T, opts: StepScopeOptions = {}): T {
  const s = new StepScope(opts);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    s.abandon();   // nothing of a failed step is released
    throw e;
  }
  s.close(result);
  return result;
}
