// A model's per-layer summary: output shape, parameters, bytes, FLOPs per sample and sparsity.
// Shapes come from one real forward pass of a zero batch of one sample with forward hooks on the
// leaf modules (so any Module works, including pruned ones whose pre-hooks compute `weight`).
// FLOPs count a multiply-add as 2 (the usual convention: Linear = 2 * in * out per row, plus the
// bias), elementwise layers 1 per output element, max-pool (k*k - 1) comparisons per output.
// Causal self-attention (whose score and weighted-sum products run inside one kernel, not in leaf
// modules) gets a row of its own, `<path>.attention`: for T positions, query i reads i + 1 keys, so
// q k^T and P v cost 2 * C * T (T + 1) FLOPs together per layer (the fused kernel skips the masked
// blocks). A language model is summarized for int32 token ids (options.dtype): its FLOPs are per
// sequence of inputShape[0] tokens; divide by it for FLOPs per token.
// Parameters vs non-zeros, one definition everywhere (summary, eval, prune, demo): `params` counts
// the architecture's dense parameters (a CSR layer from `prune` counts rows x cols + bias, as before
// pruning); `nonzeroParams` counts the entries that are not zero (masked or unstored ones are zero).
// FLOPs count the multiply-adds of non-zero weights (2 x nnz + bias per row for Linear, per position
// for Conv2d), so a pruned layer costs its sparse FLOPs; an unpruned layer has no zero weights and
// costs its dense FLOPs. A CSR layer (a module whose `weight` child stores `values` /
// `crow_indices` with `rows` x `cols`, i.e. compress/prune's SparseLinear, recognised by shape since
// models sits below compress) is one row: SparseLinear(in -> out).

import type { Tensor } from '../core/tensor.js';
import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { itemSize, type DType } from '../backend/dtype.js';
import * as ops from '../ops/index.js';
import { CausalSelfAttention, Conv2d, Flatten, Linear, MaxPool2d, ReLU, GELU, Tanh, Sigmoid, type AnyModule, type Module } from '../nn/index.js';

/** Options of summarizeModel. */
export interface SummarizeOptions {
  /** dtype of the zero input batch: 'float32' (default) for images and features, 'int32' for token ids. */
  dtype?: DType;
}

/** One leaf layer of the summary. */
export interface LayerSummary {
  /** Dotted module path ('1', 'encoder.fc1'). */
  name: string;
  /** Class name and settings, e.g. 'Linear(784 -> 300)'. */
  type: string;
  /** Output shape for one sample (batch axis dropped). */
  outputShape: number[];
  /** Parameters (elements) owned directly by this layer, dense (a CSR layer: rows x cols + bias; a weight tied to another layer counts in both rows). */
  params: number;
  /** Zero entries among this layer's weights (masked entries count as zero). */
  zeros: number;
  /** zeros / weight elements (0 when the layer has no weight). */
  sparsity: number;
  /** Bytes of this layer's parameters and persistent buffers (dense storage). */
  bytes: number;
  /** FLOPs per sample (a multiply-add with a non-zero weight counts 2; pruned weights cost nothing). */
  flops: number;
}

/** The whole model's summary. */
export interface ModelSummary {
  layers: LayerSummary[];
  /** Total parameters, dense (each tensor once: a tied weight counts once; see denseParameterCount). */
  params: number;
  /** Parameters that are not zero (masked ones count as zero). */
  nonzeroParams: number;
  /** zero weights / all weights, over layers with a weight. */
  sparsity: number;
  /** Dense bytes of all parameters and persistent buffers (a tensor listed under two keys, tied, counts once). */
  bytes: number;
  /** FLOPs per sample (non-zero weights only). */
  flops: number;
  inputShape: number[];
  outputShape: number[];
}

/**
 * Summarize `model` for inputs of shape `inputShape` (one sample, without the batch axis; for a
 * language model, [T] token ids with `{ dtype: 'int32' }`). Runs one forward pass of a zero batch in
 * eval mode under noGrad; restores the model's training mode.
 *
 * @example
 * const s = summarizeModel(createModel('mlp'), [784]);
 * s.params;  // 266610
 * s.flops;   // 2 * (784*300 + 300*100 + 100*10) + biases + ReLUs
 * const g = summarizeModel(createModel('gpt-tiny'), [128], { dtype: 'int32' });
 * g.flops / 128;  // forward FLOPs per token at a full context
 */
export function summarizeModel(model: AnyModule, inputShape: readonly number[], opts: SummarizeOptions = {}): ModelSummary {
  const all = model.namedModules();
  const sparse = all.filter(([, m]) => csrOf(m) !== null).map(([n]) => n);
  const inside = (n: string): boolean => sparse.some((s) => n.startsWith(`${s}.`));
  const leaves = all.filter(([n, m]) => (m.children().length === 0 || sparse.includes(n)) && !inside(n));
  const attention = all.filter(([, m]) => m instanceof CausalSelfAttention) as [string, CausalSelfAttention][];
  const hooked = [...leaves.map(([, m]) => m), ...attention.map(([, m]) => m as AnyModule)];
  const shapes = new Map<AnyModule, { input: number[]; output: number[] }>();
  const handles = hooked.map((m) => (m as Module<[Tensor], unknown>).registerForwardHook((mod, args, out) => {
    const x = args[0];
    if (out && typeof out === 'object' && 'shape' in out && x && typeof x === 'object' && 'shape' in x) {
      shapes.set(mod as AnyModule, { input: [...(x as Tensor).shape], output: [...(out as Tensor).shape] });
    }
  }));
  const wasTraining = model.training;
  let out: Tensor;
  try {
    model.eval();
    out = noGrad(() => (model as Module<[Tensor], Tensor>).call(ops.zeros([1, ...inputShape], { dtype: opts.dtype ?? 'float32' })));
  } catch (e) {
    throw new TensorslimError('summarizeModel', `a forward pass with input (1, ${inputShape.join(', ')}) failed: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    for (const h of handles) h.remove();
    model.train(wasTraining);
  }

  const layers: LayerSummary[] = [];
  let weightTotal = 0;
  for (const [name, m] of leaves) {
    const own = new Map(m.stateDict({}));
    const params = m.namedParameters('', false).reduce((s, [, p]) => s + p.size, 0);
    let bytes = 0;
    for (const t of own.values()) bytes += t.size * itemSize(t.dtype);
    const csr = csrOf(m);
    const { zeros, weights } = csr !== null ? csrZeros(csr) : weightZeros(own);
    weightTotal += weights;
    const io = shapes.get(m);
    const outputShape = io ? io.output.slice(1) : [];
    const bias = Reflect.get(m, 'bias') as Tensor | null | undefined;   // a layer attribute by name; undefined when the layer has none
    layers.push({
      name, type: csr !== null ? `SparseLinear(${csr.cols} -> ${csr.rows})` : describeLayer(m), outputShape,
      params: csr !== null ? csr.rows * csr.cols + (bias ? bias.size : 0) : params, zeros,
      sparsity: weights > 0 ? zeros / weights : 0,
      bytes,
      flops: !io ? 0 : csr !== null ? (prod(outputShape) / csr.rows) * (2 * (weights - zeros) + (bias ? csr.rows : 0)) : layerFlops(m, outputShape, weights - zeros),
    });
  }
  for (const [name, m] of attention) {
    const io = shapes.get(m as AnyModule);
    if (!io) continue;
    const t = io.output[1] ?? 0;   // (1, T, C)
    const row: LayerSummary = {
      name: `${name}.attention`, type: `attention(causal, ${m.nHead} heads)`, outputShape: io.output.slice(1),
      params: 0, zeros: 0, sparsity: 0, bytes: 0, flops: 2 * m.nEmbd * t * (t + 1),
    };
    // after the module's own leaves (c_attn, c_proj, dropouts)
    let at = layers.length;
    for (let i = layers.length - 1; i >= 0; i--) if (layers[i]!.name.startsWith(`${name}.`)) { at = i + 1; break; }
    layers.splice(at, 0, row);
  }
  // a weight tied to two layers (GPT's lm_head and wte) is counted once in the totals
  const seen = new Set<Tensor>();
  let zeroTotal = 0;
  for (const [name, m] of leaves) {
    const own = m.namedParameters('', false).map(([, p]) => p as Tensor);
    if (own.length > 0 && own.every((p) => seen.has(p))) continue;
    for (const p of own) seen.add(p);
    zeroTotal += layers.find((l) => l.name === name)?.zeros ?? 0;
  }
  const params = denseParameterCount(model);
  let bytes = 0;
  const counted = new Set<Tensor>();
  for (const t of model.stateDict({ keepVars: true }).values()) {   // the live tensors, so a tied one is seen twice
    if (counted.has(t)) continue;
    counted.add(t);
    bytes += t.size * itemSize(t.dtype);
  }
  return {
    layers,
    params,
    nonzeroParams: params - zeroTotal,
    sparsity: weightTotal > 0 ? zeroTotal / weightTotal : 0,
    bytes,
    flops: layers.reduce((s, l) => s + l.flops, 0),
    inputShape: [...inputShape],
    outputShape: [...out.shape].slice(1),
  };
}

/** A CSR weight as compress/prune stores it (duck-typed: models sits below compress). */
interface CsrView { rows: number; cols: number; values: Tensor }

function csrOf(m: AnyModule): CsrView | null {
  const w = Reflect.get(m, 'weight') as unknown;   // checked below: a CSR weight or anything else
  if (w === null || typeof w !== 'object') return null;
  const c = w as { rows?: unknown; cols?: unknown; values?: unknown; crow_indices?: unknown };
  return typeof c.rows === 'number' && typeof c.cols === 'number' && c.values !== undefined && c.crow_indices !== undefined ? (c as CsrView) : null;
}

/** Zeros of a CSR weight among its rows x cols entries: the unstored ones and stored zeros. */
function csrZeros(w: CsrView): { zeros: number; weights: number } {
  const d = w.values.dataSync();
  let nz = 0;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) nz++;
  return { zeros: w.rows * w.cols - nz, weights: w.rows * w.cols };
}

/**
 * Parameters of the architecture, dense: model.numParameters(), with each CSR layer counted as its
 * rows x cols weight (as before pruning) instead of its stored values. The `params` of summaries,
 * `eval` and `prune` all use this; non-zeros are counted separately.
 *
 * @example
 * denseParameterCount(prune.loadSparse(createModel('mlp'), state));   // 266,610, as the dense mlp
 */
export function denseParameterCount(model: AnyModule): number {
  let n = model.numParameters();
  for (const m of model.modules()) {
    const csr = csrOf(m);
    if (csr !== null) n += csr.rows * csr.cols - csr.values.size;
  }
  return n;
}

/** Zeros in the layer's weight: from `weight_mask` when pruned, else counted in `weight`. */
function weightZeros(own: Map<string, Tensor>): { zeros: number; weights: number } {
  const mask = own.get('weight_mask');
  const w = mask ?? own.get('weight') ?? own.get('weight_orig');
  if (w === undefined) return { zeros: 0, weights: 0 };
  const d = w.dataSync();
  let z = 0;
  for (let i = 0; i < d.length; i++) if (d[i] === 0) z++;
  return { zeros: z, weights: d.length };
}

function describeLayer(m: AnyModule): string {
  if (m instanceof Linear) return `Linear(${m.inFeatures} -> ${m.outFeatures})`;
  if (m instanceof Conv2d) return `Conv2d(${m.inChannels} -> ${m.outChannels}, ${m.kernelSize[0]}x${m.kernelSize[1]}${m.padding[0] ? `, pad ${m.padding[0]}` : ''})`;
  if (m instanceof MaxPool2d) return `MaxPool2d(${m.kernelSize[0]}x${m.kernelSize[1]})`;
  if (m instanceof Flatten) return 'Flatten';
  const extra = m.extraRepr();
  return extra && extra.length <= 30 ? `${m.constructor.name}(${extra})` : m.constructor.name;
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

// nonzeroWeights: multiply-adds with a zero weight (pruned) are not counted
function layerFlops(m: AnyModule, output: readonly number[], nonzeroWeights: number): number {
  if (m instanceof Linear) {
    const rows = prod(output) / m.outFeatures;
    return rows * (2 * nonzeroWeights + (m.bias ? m.outFeatures : 0));
  }
  if (m instanceof Conv2d) {
    const positions = prod(output) / m.outChannels;
    return positions * (2 * nonzeroWeights + (m.bias ? m.outChannels : 0));
  }
  if (m instanceof MaxPool2d) return prod(output) * (m.kernelSize[0] * m.kernelSize[1] - 1);
  if (m instanceof ReLU || m instanceof GELU || m instanceof Tanh || m instanceof Sigmoid) return prod(output);
  return 0;
}
