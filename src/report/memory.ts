// Memory accounting for the profiler: bytes of parameters, gradients, optimizer state and the
// activations a graph holds for backward, plus an estimate of a training step's peak made before
// training (from one probe forward pass at batch 1). Reads tensors and the tape; never changes them.

import { Node } from '../autograd/tape.js';
import { Tensor } from '../core/tensor.js';
import type { Optimizer } from '../optim/optimizer.js';

/** Anything with parameters (a Module of any signature, a GPT). */
export interface HasParameters { parameters(): readonly Tensor[] }

function tensorBytes(t: Tensor): number { return t.size * t.data.BYTES_PER_ELEMENT; }

/** Bytes of all parameters of `model` (each storage once). @example parameterBytes(new Linear(2, 3)) // 36 */
export function parameterBytes(model: HasParameters): number {
  const seen = new Set<ArrayBufferLike>();
  let n = 0;
  for (const p of model.parameters()) {
    if (seen.has(p.data.buffer)) continue;
    seen.add(p.data.buffer);
    n += tensorBytes(p);
  }
  return n;
}

/** Bytes of the `.grad` tensors of `model`'s parameters. @example gradientBytes(net) // 0 before backward */
export function gradientBytes(model: HasParameters): number {
  let n = 0;
  for (const p of model.parameters()) if (p.grad) n += tensorBytes(p.grad);
  return n;
}

/** Bytes of an optimizer's per-parameter state tensors (Adam: exp_avg, exp_avg_sq). @example optimizerStateBytes(adam) */
export function optimizerStateBytes(opt: Optimizer): number {
  let n = 0;
  for (const s of opt.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) n += tensorBytes(v);
  return n;
}

/**
 * Bytes of the tensors that the graph behind `roots` saved for backward (each storage once),
 * leaving out leaves that require grad (parameters) and anything in `exclude`. Zero after backward
 * has freed the graph.
 *
 * @example
 * const loss = F.crossEntropy(net.call(x), y);
 * savedActivationBytes([loss], new Set(net.parameters().map((p) => p.data.buffer)));
 */
export function savedActivationBytes(roots: readonly Tensor[], exclude: ReadonlySet<ArrayBufferLike> = new Set()): number {
  return savedActivationScan(roots, exclude).bytes;
}

/**
 * savedActivationBytes, and the nodes reached that still hold saved tensors: until a backward
 * frees one of them (its `saved` becomes null) the byte count of the same roots cannot change, so
 * the profiler checks those nodes instead of walking again.
 * @example const { bytes, nodes } = savedActivationScan([loss]); // nodes.some((n) => n.saved === null) after loss.backward()
 */
export function savedActivationScan(roots: readonly Tensor[], exclude: ReadonlySet<ArrayBufferLike> = new Set()): { bytes: number; nodes: Node[] } {
  const live: Node[] = [];
  const seenNodes = new Set<Node>();
  const seenBuf = new Set<ArrayBufferLike>(exclude);
  const stack: Node[] = [];
  for (const r of roots) if (r.gradFn instanceof Node) stack.push(r.gradFn);
  let n = 0;
  const count = (t: Tensor | undefined): void => {
    if (!t || (t.requiresGrad && t.gradFn === null) || seenBuf.has(t.data.buffer)) return;
    seenBuf.add(t.data.buffer);
    n += t.data.byteLength;
  };
  while (stack.length) {
    const node = stack.pop()!;
    if (seenNodes.has(node)) continue;
    seenNodes.add(node);
    if (node.saved) {
      live.push(node);
      for (const t of node.saved.inputs) count(t);
      count(node.saved.output);
    }
    for (const e of node.edges) if (e.node) stack.push(e.node);
  }
  return { bytes: n, nodes: live };
}

/** Which optimizer the estimate assumes: its state is 0, 1 or 2 (3 with amsgrad) copies of the parameters. */
export type OptimizerKind = 'sgd' | 'sgd-momentum' | 'adam' | 'adam-amsgrad';

const STATE_COPIES: Readonly<Record<OptimizerKind, number>> = { 'sgd': 0, 'sgd-momentum': 1, 'adam': 2, 'adam-amsgrad': 3 };

/** The parts of a training step's memory, in bytes. */
export interface MemoryEstimate {
  params: number;
  grads: number;
  optimizerState: number;
  activations: number;
  /** params + grads + optimizerState + activations: the bytes live just before backward frees the graph. */
  total: number;
  batch: number;
}

/** Settings of estimateTrainingMemory. */
export interface MemoryEstimateOptions {
  batch: number;
  /** Default 'adam'. */
  optimizer?: OptimizerKind;
  /**
   * Activation checkpointing: only the layer inputs are kept and the rest recomputed in backward;
   * pass the fraction of activations still held (e.g. 1 / layers). Default 1 (none).
   */
  activationFraction?: number;
  /**
   * Optimizer state sharded over this many ranks (ZeRO stage 1): each rank holds 1 / shards of it. Default 1.
   */
  optimizerShards?: number;
}

/**
 * Estimate a training step's memory before training: parameters and gradients from the model,
 * optimizer state from its kind, and activations from one probe forward pass at batch 1
 * (`probe(1)` must return the loss, built from a batch of one), scaled linearly to `batch`.
 * The probe runs no backward, so parameter gradients are left untouched.
 *
 * @example
 * const est = estimateTrainingMemory(net, (b) => F.crossEntropy(net.call(ops.randn([b, 784])), ops.zeros([b], { dtype: 'int32' })), { batch: 128 });
 * console.log(est.total);
 */
export function estimateTrainingMemory(model: HasParameters, probe: (batch: number) => Tensor, opts: MemoryEstimateOptions): MemoryEstimate {
  const batch = opts.batch;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`estimateTrainingMemory: batch must be a positive integer, got ${batch}`);
  const params = parameterBytes(model);
  const exclude = new Set<ArrayBufferLike>(model.parameters().map((p) => p.data.buffer));
  const loss = probe(1);
  const perSample = savedActivationBytes([loss], exclude);
  const activations = Math.round(perSample * batch * (opts.activationFraction ?? 1));
  const grads = params;
  const optimizerState = Math.round((params * STATE_COPIES[opts.optimizer ?? 'adam']) / (opts.optimizerShards ?? 1));
  return { params, grads, optimizerState, activations, total: params + grads + optimizerState + activations, batch };
}
