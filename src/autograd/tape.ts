// The define-by-run tape: ops report (kernel, inputs, output) through the engine hook; we keep a
// Node per recorded op with only what its rule saves. backward() walks nodes in reverse creation
// order (a valid topological order), calls each rule, reduces broadcast gradients to the input
// shapes (the one central place for that), and accumulates into leaves' .grad, each leaf as soon as
// its last contribution is in (post-accumulate-grad hooks then fire during backward).

import { beginScope, endScope, releaseDead, withoutTracking } from '../backend/pool.js';
import { shapeEquals, type Shape } from '../backend/shape.js';
import type { DType } from '../backend/dtype.js';
import { enableGrad, noGrad, setRecorder } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { Tensor, type GradNode } from '../core/tensor.js';
import { add, add_, clone, reshape, sum, to, detach } from '../ops/index.js';
import { getGradRule, type GradChunks, type GradContext, type GradRule } from './registry.js';
import { noteHandedOut, noteRecorded, savedReleaser } from './tidy.js';

interface Edge {
  readonly node: Node | null;      // producer of this input, or null for a leaf / constant
  readonly leaf: Tensor | null;    // the leaf tensor to accumulate into, when it requires grad
  readonly requiresGrad: boolean;
  readonly shape: Shape;
  readonly dtype: DType;
}

let seqCounter = 0;

export class Node implements GradNode {
  readonly seq = seqCounter++;
  saved: { inputs: (Tensor | undefined)[]; versions: number[]; output: Tensor | undefined; outVersion: number } | null;
  constructor(
    readonly kernel: string,
    readonly rule: GradRule,
    readonly edges: readonly Edge[],
    readonly attrs: Readonly<Record<string, unknown>>,
    inputs: readonly Tensor[],
    output: Tensor,
  ) {
    const keep = rule.save?.inputs ?? [];
    const savedInputs = inputs.map((t, i) => (keep.includes(i) ? t : undefined));
    this.saved = {
      inputs: savedInputs,
      versions: savedInputs.map((t) => t?.version ?? 0),
      output: (typeof rule.save?.output === 'function' ? rule.save.output(attrs) : rule.save?.output === true) ? output : undefined,
      outVersion: output.version,
    };
  }
}

// Gradients whose storage a rule hands over whole: nothing else holds it (see markExclusiveGrad).
const exclusiveGrads = new WeakSet<Tensor>();

/**
 * Declare that `g`, a gradient a rule is about to return, owns its storage alone (made for this
 * result and referenced nowhere else), so the tape may add a leaf's later contributions into it in
 * place instead of allocating their sum (a tied LM head and token embedding: one (V, C) buffer
 * less at the end of backward). Returns g.
 * @example return [markExclusiveGrad(dw)];
 */
export function markExclusiveGrad(g: Tensor): Tensor {
  exclusiveGrads.add(g);
  return g;
}

type GradHook = (grad: Tensor) => void;
const accumulateHooks = new WeakMap<Tensor, GradHook[]>();

/**
 * Call `hook(grad)` each time backward() finishes accumulating into leaf `t`'s .grad (the seam that
 * distributed data parallel uses to start reducing a gradient as soon as it is ready).
 * @example const h = registerPostAccumulateGradHook(p, (g) => queue.push(p)); h.remove();
 */
export function registerPostAccumulateGradHook(t: Tensor, hook: GradHook): { remove(): void } {
  const list = accumulateHooks.get(t) ?? [];
  list.push(hook);
  accumulateHooks.set(t, list);
  return { remove() { const i = list.indexOf(hook); if (i >= 0) list.splice(i, 1); } };
}

type GradChunkHook = (rowStart: number, block: Tensor) => void;
const chunkHooks = new WeakMap<Tensor, { rows: number; hook: GradChunkHook }[]>();

/**
 * Ask backward() to hand leaf `t`'s gradient to `hook(rowStart, block)` in blocks of `rows` rows (of
 * its first dimension) as the gradient rule computes them, before the whole gradient reaches `.grad`
 * (DDP starts reducing the first layer's weight gradient while the rest of it is still computed).
 * Only when the rule can split its work (linear's weight gradient, when the layer's input needs no
 * gradient) and the gradient is that rule's result alone: the leaf has no `.grad` yet, no other node
 * contributes, the backward is not recorded. Otherwise nothing is delivered in blocks, and the
 * post-accumulate-grad hooks still see the whole gradient; with several hooks the smallest `rows`
 * applies. The blocks hold the final values: the whole gradient equals them bit for bit.
 * @example const h = registerGradChunkHook(fc1.weight, 256, (r0, g) => send(r0, g)); h.remove();
 */
export function registerGradChunkHook(t: Tensor, rows: number, hook: GradChunkHook): { remove(): void } {
  if (!Number.isInteger(rows) || rows < 1) throw new TensorslimError('registerGradChunkHook', `rows must be a positive integer, got ${rows}`);
  if (t.ndim < 1) throw new TensorslimError('registerGradChunkHook', 'a 0-d tensor has no rows; register a post-accumulate-grad hook instead');
  const list = chunkHooks.get(t) ?? [];
  const entry = { rows, hook };
  list.push(entry);
  chunkHooks.set(t, list);
  return { remove() { const i = list.indexOf(entry); if (i >= 0) list.splice(i, 1); } };
}

/** What a backward-start hook learns besides the reachable leaves. */
export interface BackwardStartInfo {
  /** This backward runs inside another one (activation checkpointing's recomputation). */
  nested: boolean;
  /** The graph holds checkpoint() nodes, whose backward reaches leaves that `leaves` does not list. */
  recomputes: boolean;
}
type BackwardStartHook = (leaves: ReadonlySet<Tensor>, info: BackwardStartInfo) => void;
const backwardStartHooks: BackwardStartHook[] = [];
let backwardDepth = 0;

/**
 * Call `hook(leaves, info)` at the start of every backward() (not grad()), after the graph is checked
 * and before any gradient is written, with the leaves that backward can reach: unless
 * `info.recomputes`, a leaf outside the set gets no gradient from it (DDP's findUnusedParameters
 * marks those ready at once). A hook may throw to refuse the backward before it writes anything.
 * @example const h = registerBackwardStartHook((leaves) => { if (!leaves.has(p)) unused.push(p); }); h.remove();
 */
export function registerBackwardStartHook(hook: BackwardStartHook): { remove(): void } {
  backwardStartHooks.push(hook);
  return { remove() { const i = backwardStartHooks.indexOf(hook); if (i >= 0) backwardStartHooks.splice(i, 1); } };
}

function recorder(kernel: string, inputs: readonly Tensor[], output: Tensor, attrs: Readonly<Record<string, unknown>>): void {
  const rule = getGradRule(kernel);
  if (!rule) throw new TensorslimError(kernel, `no gradient rule is registered for kernel '${kernel}' (a bug: add it in autograd/grads/)`);
  const edges: Edge[] = inputs.map((t) => ({
    node: t.gradFn instanceof Node ? t.gradFn : null,
    leaf: t.requiresGrad && t.gradFn === null ? t : null,
    requiresGrad: t.requiresGrad,
    shape: t.shape,
    dtype: t.dtype,
  }));
  const node = new Node(kernel, rule, edges, attrs, inputs, output);
  output.gradFn = node;
  output.requiresGrad = true;
  noteRecorded(inputs, output, node, passDepth > 0);   // step scopes (tidy.ts) release what they can prove dead
}

// backward passes running now (a node recorded inside one belongs to a createGraph graph or a
// checkpoint's recomputation, never to the step's forward)
let passDepth = 0;

setRecorder(recorder);

/** Sum a broadcast gradient back down to `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (shapeEquals(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = axes.length ? sum(g, axes, true) : g;
  return reshape(s, shape);
}

export interface BackwardOptions {
  /** Keep saved tensors so backward can run through this graph again (default: createGraph). */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients. */
  createGraph?: boolean;
}

function collect(roots: readonly Node[]): Node[] {
  const seen = new Set<Node>();
  const stack = [...roots];
  while (stack.length) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const e of n.edges) if (e.node && e.requiresGrad) stack.push(e.node);
  }
  return [...seen].sort((a, b) => b.seq - a.seq);
}

// A node's saved tensors, when they are still there and unchanged; throws otherwise.
function checkSaved(node: Node): NonNullable<Node['saved']> {
  const saved = node.saved;
  if (!saved) {
    throw new TensorslimError('backward', `trying to backward through the graph a second time (kernel '${node.kernel}'); pass { retainGraph: true } to the first backward()`);
  }
  for (let i = 0; i < saved.inputs.length; i++) {
    const t = saved.inputs[i];
    if (t && t.version !== saved.versions[i]) {
      throw new TensorslimError('backward', `an input of '${node.kernel}' saved for backward was modified in place (version ${saved.versions[i]} -> ${t.version}); clone it before writing`);
    }
  }
  if (saved.output && saved.output.version !== saved.outVersion) {
    throw new TensorslimError('backward', `the output of '${node.kernel}' saved for backward was modified in place; clone it before writing`);
  }
  return saved;
}

function contextFor(node: Node, gradChunks: (i: number) => GradChunks | null = () => null, exclusiveLeafGrad?: (i: number) => Tensor | null): GradContext {
  const saved = checkSaved(node);
  return {
    attrs: node.attrs,
    inputShapes: node.edges.map((e) => e.shape),
    inputDtypes: node.edges.map((e) => e.dtype),
    needs: node.edges.map((e) => e.requiresGrad),
    input(i) {
      const t = saved.inputs[i];
      if (!t) throw new Error(`gradient rule of '${node.kernel}' reads input ${i} but did not declare it in save.inputs`);
      return t;
    },
    output() {
      if (!saved.output) throw new Error(`gradient rule of '${node.kernel}' reads its output but did not declare save.output`);
      return saved.output;
    },
    gradChunks,
    exclusiveLeafGrad: (i) => exclusiveLeafGrad?.(i) ?? null,
  };
}

/**
 * Core of backward() and grad(): propagate `seeds` (root tensor -> its gradient) through the tape.
 * `sink(leaf, g)` receives each leaf gradient; `capture` collects gradients of non-leaf targets;
 * `chunkable(leaf)` says whether the sink takes a leaf's gradient as it is (so its row blocks may go
 * to grad-chunk hooks first).
 */
function propagate(seeds: ReadonlyArray<readonly [Tensor, Tensor]>, opts: BackwardOptions, sink: (leaf: Tensor, g: Tensor) => void,
  capture?: Map<Node, Tensor>, onStart?: (leaves: ReadonlySet<Tensor>, order: readonly Node[]) => void, chunkable?: (leaf: Tensor) => boolean,
  escaped?: Set<ArrayBufferLike>): void {
  // like PyTorch, createGraph implies retainGraph unless said otherwise: the new graph reads the old one
  const retain = opts.retainGraph ?? opts.createGraph ?? false;
  const run = (): void => {
    const grads = new Map<Node, Tensor>();
    const roots: Node[] = [];
    const toLeafLater: [Tensor, Tensor][] = [];
    for (const [t, g] of seeds) {
      if (t.gradFn instanceof Node) {
        const prev = grads.get(t.gradFn);
        grads.set(t.gradFn, prev ? add(prev, g) : g);
        roots.push(t.gradFn);
      } else if (t.requiresGrad) {
        toLeafLater.push([t, g]);
      }
    }
    const order = collect(roots);
    // Check every node first, so a stale or freed graph fails before any gradient is written.
    for (const node of order) checkSaved(node);
    // Leaf gradients are summed here (in node order, as before) and handed out as soon as they are
    // final: `pending` counts each leaf's edges from the nodes still to run (plus a seed that is the
    // leaf itself); when it reaches 0 the leaf's sum is complete and goes to `sink` at once, so its
    // hooks fire during backward, once, with the complete gradient (DDP launches buckets from them).
    const pending = new Map<Tensor, number>();
    for (const node of order) for (const e of node.edges) if (e.leaf) pending.set(e.leaf, (pending.get(e.leaf) ?? 0) + 1);
    for (const [t] of toLeafLater) pending.set(t, (pending.get(t) ?? 0) + 1);
    onStart?.(new Set(pending.keys()), order);
    const leafGrads = new Map<Tensor, Tensor>();
    // a leaf's sum: into the first contribution in place when a rule handed it over whole (not
    // recorded: a recorded sum is part of the new graph)
    const accumulate = (prev: Tensor, g: Tensor): Tensor => {
      if (!opts.createGraph && exclusiveGrads.has(prev) && prev.dtype === g.dtype && shapeEquals(prev.shape, g.shape)
        && prev.isContiguous() && prev.data.buffer !== g.data.buffer) {
        add_(prev, g);
        return prev;
      }
      return add(prev, g);
    };
    // the partial sum of input i's leaf, when a rule may add into it in place (GradContext.exclusiveLeafGrad)
    const exclusiveLeafGrad = (edges: readonly Edge[]) => (i: number): Tensor | null => {
      const leaf = edges[i]?.leaf;
      const prev = leaf ? leafGrads.get(leaf) : undefined;
      if (opts.createGraph || prev === undefined || !exclusiveGrads.has(prev) || prev.dtype !== edges[i]!.dtype
        || !shapeEquals(prev.shape, edges[i]!.shape) || !prev.isContiguous()) return null;
      return prev;
    };
    // Temporaries die during the pass: after each rule, every buffer of this pass's storage scope
    // that no gradient map holds and that was not handed out (escaped: leaf gradients, captured
    // results) goes back to the pool at once (releaseDead), so the next rules reuse it. Only
    // without createGraph (then a scope is open and `escaped` is given).
    // A step scope granting releaseSaved (autograd/tidy.ts) also gets the activations back whose
    // saved uses have all run (outermost pass only: a nested one is checkpoint's recomputation).
    const saved = escaped === undefined || opts.createGraph || retain || passDepth !== 1 ? undefined : savedReleaser(seeds.map(([t]) => t));
    const sweep = escaped === undefined || opts.createGraph ? undefined : (): void => {
      const live = new Set<ArrayBufferLike>();
      for (const g of grads.values()) live.add(g.data.buffer);
      for (const g of leafGrads.values()) live.add(g.data.buffer);
      const isLive = (buf: ArrayBufferLike): boolean => live.has(buf) || escaped!.has(buf);
      releaseDead(isLive);
      saved?.(isLive);
    };
    const toLeaf = (leaf: Tensor, g: Tensor | null): void => {
      if (g) { const prev = leafGrads.get(leaf); leafGrads.set(leaf, prev ? accumulate(prev, g) : g); }
      const left = pending.get(leaf)! - 1;
      if (left > 0) { pending.set(leaf, left); return; }
      pending.delete(leaf);
      const sum = leafGrads.get(leaf);
      if (sum) { leafGrads.delete(leaf); sink(leaf, sum); }
    };
    // Row blocks of a leaf's gradient go to its grad-chunk hooks when this node's contribution is
    // the leaf's whole gradient: its last pending edge, nothing summed before, taken as it is.
    const chunksFor = (node: Node) => (i: number): GradChunks | null => {
      const e = node.edges[i];
      const hooks = e?.leaf && chunkable && !opts.createGraph ? chunkHooks.get(e.leaf) : undefined;
      if (!e?.leaf || hooks === undefined || hooks.length === 0 || pending.get(e.leaf) !== 1 || leafGrads.has(e.leaf) || !chunkable!(e.leaf)) return null;
      const list = [...hooks];
      return {
        rows: Math.min(...list.map((h) => h.rows)),
        emit: (rowStart, block) => withoutTracking(() => { for (const h of list) h.hook(rowStart, block); }),
      };
    };
    for (const node of order) {
      const dy = grads.get(node);
      if (!dy) { for (const e of node.edges) if (e.leaf) toLeaf(e.leaf, null); continue; }
      if (capture?.has(node)) { capture.set(node, dy); escaped?.add(dy.data.buffer); }
      const ctx = contextFor(node, chunksFor(node), exclusiveLeafGrad(node.edges));
      const gs = node.rule.grad(dy, ctx);
      // saved tensors go as soon as their rule has run (not at the end of the pass), so activations
      // are garbage while the rest of backward allocates gradients, as PyTorch frees saved tensors
      if (!retain) node.saved = null;
      node.edges.forEach((e, i) => {
        const g0 = gs[i];
        let g: Tensor | null = null;
        if (e.requiresGrad && g0) {
          g = sumTo(g0, e.shape);
          if (g.dtype !== e.dtype) g = to(g, e.dtype);
          if (e.node) {
            const prev = grads.get(e.node);
            grads.set(e.node, prev ? add(prev, g) : g);
          }
        }
        if (e.leaf) toLeaf(e.leaf, g);
      });
      grads.delete(node);
      sweep?.();
    }
    if (!retain) for (const node of order) node.saved = null;   // nodes that got no gradient
    for (const [t, g] of toLeafLater) toLeaf(t, g);
  };
  passDepth++;
  try {
    if (opts.createGraph) enableGrad(run); else noGrad(run);
  } finally {
    passDepth--;
  }
}

function seedFor(op: string, t: Tensor, gradient: Tensor | undefined): Tensor {
  if (!t.requiresGrad) {
    throw new TensorslimError(op, 'the tensor does not require grad and has no gradFn; set requiresGrad on the leaves you differentiate with respect to');
  }
  if (gradient === undefined) {
    if (t.size !== 1) {
      throw new TensorslimError(op, `a gradient can be created implicitly only for one-element outputs, got shape (${t.shape.join(', ')}); pass a gradient of that shape`);
    }
    const one = clone(detach(t));
    one.data.fill(1);
    return one;
  }
  if (!shapeEquals(gradient.shape, t.shape)) {
    throw new TensorslimError(op, `gradient shape (${gradient.shape.join(', ')}) does not match the tensor's shape (${t.shape.join(', ')})`);
  }
  return gradient.dtype === t.dtype ? gradient : to(gradient, t.dtype);
}

/**
 * Compute d(t)/d(leaves) and accumulate into each leaf's .grad, like tensor.backward().
 * @example loss.backward(); // or backward(y, onesLike(y))
 */
export function backward(t: Tensor, gradient?: Tensor, opts: BackwardOptions = {}): void {
  backwardKept(t, gradient, opts);
}

/**
 * backward(), returning the storage buffers the pass handed out (the leaves' gradients as their
 * hooks saw them and as .grad holds them now): checkpoint() uses it to release a recomputed
 * forward's buffers except those. Undefined with createGraph (nothing tracked).
 * @example const kept = backwardKept(y, dy);
 */
export function backwardKept(t: Tensor, gradient?: Tensor, opts: BackwardOptions = {}): Set<ArrayBufferLike> | undefined {
  // The pass's temporaries go back to the storage pool as soon as they are dead (propagate's sweep)
  // and at the end (the implicit seed of a scalar too); with createGraph they are part of the new
  // graph, so they stay the garbage collector's.
  const track = !opts.createGraph;
  if (track) beginScope();
  const sunk: Tensor[] = [];  // each leaf's gradient as handed to its hooks (they may keep it)
  const leaves: Tensor[] = [];
  let kept: Set<ArrayBufferLike> | undefined;
  try {
    const seed = seedFor('backward', t, gradient);
    backwardInner(t, seed, opts, sunk, leaves, track ? new Set() : undefined);
    // kept: what the hooks saw and what .grad holds now (a hook may have replaced it)
    if (track) kept = keepSet([...sunk, ...leaves.map((l) => l.grad)]);
  } finally {
    if (track) endScope(kept);
  }
  noteHandedOut(kept ?? keepSet(leaves.map((l) => l.grad)));   // open step scopes must not release the gradients
  return kept;
}

/**
 * The storage buffers of `escaped` (the results a pass hands out: leaf gradients, grad()'s
 * results): the end of the pass releases every other buffer it allocated into the storage pool
 * (backend/pool.ts). That is safe because, while a pass runs without createGraph, no tensor made
 * inside it reaches anything but the pass itself, except (1) these results, and every view of one
 * shares its buffer, so keeping the buffer keeps them all; (2) what gradient hooks and the
 * recomputed forward of checkpoint() make, which is never tracked by the pass (withoutTracking, or
 * a scope of checkpoint's own for a stateless fn); (3) on an error, nothing is released.
 */
function keepSet(escaped: readonly (Tensor | null | undefined)[]): Set<ArrayBufferLike> {
  const keep = new Set<ArrayBufferLike>();
  for (const g of escaped) if (g) keep.add(g.data.buffer);
  return keep;
}

function backwardInner(t: Tensor, seed: Tensor, opts: BackwardOptions, sunk: Tensor[], leaves: Tensor[], escaped: Set<ArrayBufferLike> | undefined): void {
  // A leaf may keep a gradient buffer without a copy only when no one else can see it: a whole,
  // contiguous buffer made during this backward (not the caller's seed) that no other leaf took.
  // Rules often hand one tensor to several inputs (add, expand), and those must not share storage.
  const claimed = new Set<ArrayBufferLike>([seed.data.buffer]);
  const own = (g: Tensor): Tensor => {
    const whole = g.offset === 0 && g.isContiguous() && g.data.length === g.size;
    if (whole && !claimed.has(g.data.buffer)) { claimed.add(g.data.buffer); return detach(g); }
    return clone(detach(g));
  };
  const nested = backwardDepth > 0;
  const onStart = backwardStartHooks.length === 0 ? undefined : (starting: ReadonlySet<Tensor>, order: readonly Node[]): void => {
    const info: BackwardStartInfo = { nested, recomputes: order.some((n) => n.kernel === 'checkpoint') };
    // hooks may allocate (DDP's buckets) and keep what they make: never tracked by the storage pool
    withoutTracking(() => { for (const h of [...backwardStartHooks]) h(starting, info); });
  };
  backwardDepth++;
  try {
    propagate([[t, seed]], opts, (leaf, g) => {
      leaf.grad = leaf.grad ? (opts.createGraph ? add(leaf.grad, g) : noGrad(() => add(leaf.grad!, g))) : opts.createGraph ? g : own(g);
      sunk.push(leaf.grad); leaves.push(leaf); escaped?.add(leaf.grad.data.buffer);
      const hooks = accumulateHooks.get(leaf);
      if (hooks !== undefined && hooks.length > 0) withoutTracking(() => { for (const h of hooks) h(leaf.grad!); });
    }, undefined, onStart, (leaf) => leaf.grad === null, escaped);
  } finally {
    backwardDepth--;
  }
}

/**
 * Gradients of `outputs` with respect to `inputs`, returned instead of accumulated (torch.autograd.grad).
 * Inputs that do not influence the outputs get null (or zeros with allowUnused: false -> error).
 * @example const [dx] = grad([y.sum()], [x]);
 */
export function grad(outputs: readonly Tensor[], inputs: readonly Tensor[], opts: BackwardOptions & { gradOutputs?: readonly Tensor[] } = {}): (Tensor | null)[] {
  const track = !opts.createGraph;  // as in backward(): the temporaries go back to the storage pool
  if (track) beginScope();
  let result: (Tensor | null)[] | undefined;
  try {
    const seeds = outputs.map((o, i) => [o, seedFor('grad', o, opts.gradOutputs?.[i])] as const);
    const leafGrads = new Map<Tensor, Tensor>();
    const capture = new Map<Node, Tensor | undefined>();
    for (const x of inputs) if (x.gradFn instanceof Node) capture.set(x.gradFn, undefined);
    const escaped = track ? new Set<ArrayBufferLike>() : undefined;
    propagate(seeds, opts, (leaf, g) => {
      const prev = leafGrads.get(leaf);
      const sum = prev ? add(prev, g) : g;
      leafGrads.set(leaf, sum);
      escaped?.add(sum.data.buffer);
    }, capture as Map<Node, Tensor>, undefined, undefined, escaped);
    result = inputs.map((x) => (x.gradFn instanceof Node ? capture.get(x.gradFn) ?? null : leafGrads.get(x) ?? null));
    noteHandedOut(keepSet(result));
    return result;
  } finally {
    if (track) endScope(result ? keepSet(result) : undefined);
  }
}
