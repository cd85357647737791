// Structured shrinking: physically remove whole output units (Linear neurons = weight rows + bias
// entries, Conv2d filters) together with the matching inputs of the layer that consumes them
// (columns of the next Linear, input channels of the next Conv2d, or, for Conv2d -> Flatten ->
// Linear, the column group of each filter). The result is a smaller dense model without masks.
//
// Scope: Sequential chains (nested Sequentials included) of Linear, Conv2d, ReLU, GELU, Tanh,
// Sigmoid, Dropout, Identity, MaxPool2d and Flatten. A dependency check walks from every layer to
// be shrunk to its consumer and refuses, before anything is built, what it cannot follow exactly:
// a custom forward() (residual connections, branches), unknown modules between producer and
// consumer, LayerNorm/Softmax over the shrunk axis, and the output layer.
//
// The original model is never modified: shrink returns a new model (a PresetModel with an updated
// config when given one, so checkpoints can rebuild it), built without touching the default random
// generator. Pruning masks are baked in; pruned layers come out as plain dense layers.
//
// Exactness: a unit whose weight slice is all zero (what lnStructured/randomStructured masks leave)
// outputs the constant a_j = act(b_j) for every input. Its contribution to the consumer is then the
// constant W_c[:, j] * a_j, which shrink folds into the consumer's bias, so removing dead units
// leaves the outputs unchanged (up to float rounding). The one inexact case is a consumer Conv2d
// with padding (its border taps read zeros, not a_j); the report says so (exact: false).

import type { FloatDType } from '../../backend/dtype.js';
import { noGrad } from '../../core/engine.js';
import { TensorslimError } from '../../core/errors.js';
import { defaultGenerator } from '../../core/random.js';
import type { Tensor } from '../../core/tensor.js';
import { tensor } from '../../ops/index.js';
import {
  Conv2d, Dropout, Flatten, GELU, Identity, LayerNorm, Linear, LogSoftmax, MaxPool2d, ReLU,
  Sequential, Sigmoid, Softmax, Tanh, type AnyModule,
} from '../../nn/index.js';
import { PresetModel, modelFromConfig, type ModelConfig } from '../../models/index.js';
import { unitsToPrune, validateAmount, type Amount } from './amount.js';
import { prunedParameterNames, tensorAttr } from './reparam.js';

const OP = 'prune.shrink';

/** How shrink picks the units to remove: exactly one of amount, fromMask, units. */
export interface ShrinkOptions {
  /**
   * Paths of the Linear/Conv2d layers to shrink ('1', 'features.0'). Default: every Linear and
   * Conv2d whose outputs another layer consumes (all but the output layer), or the keys of `units`.
   */
  layers?: readonly string[];
  /** Remove this fraction (or count) of each layer's units, lowest L_norm of the weight slice first. */
  amount?: Amount;
  /** Norm used with `amount`: 1 or 2 (default 2). */
  norm?: 1 | 2;
  /** Remove the units whose (masked) weight slice is entirely zero, e.g. what lnStructured(..., dim 0) zeroed. */
  fromMask?: boolean;
  /** Explicit unit indices to remove, by layer path. */
  units?: Readonly<Record<string, readonly number[]>>;
}

/** What shrink did to one producer layer. */
export interface ShrinkLayerReport {
  /** Path of the shrunk layer. */
  path: string;
  type: 'Linear' | 'Conv2d';
  /** Path of the layer whose inputs were removed with it. */
  consumer: string;
  /** Removed unit indices (ascending), in the original numbering. */
  removed: number[];
  /** Units before and after. */
  before: number;
  after: number;
  /** True when every removed unit was dead (all-zero weights) and its constant output was folded exactly. */
  exact: boolean;
}

/** The shrunk model and what changed. */
export interface ShrinkResult {
  /**
   * A new model; the input model is unchanged. A PresetModel with the shrunk config when the input
   * was one (and the config can express the result), else a plain Sequential with the same keys.
   */
  model: Sequential;
  layers: ShrinkLayerReport[];
  parametersBefore: number;
  parametersAfter: number;
  /** True when the new model computes the same function as the input (all layers exact). */
  exact: boolean;
}

type Layer = Linear | Conv2d;
interface Leaf { path: string; module: AnyModule }
interface Link { consumer: number; between: number[]; group: number }
type LinkResult = { ok: true; link: Link } | { ok: false; output: boolean; reason: string };

const ELEMENTWISE = [ReLU, GELU, Tanh, Sigmoid, Dropout, Identity] as const;
const ACTIVATIONS = [ReLU, GELU, Tanh, Sigmoid] as const;
const isActivation = (m: AnyModule): m is ReLU | GELU | Tanh | Sigmoid => ACTIVATIONS.some((c) => m instanceof c);
const SAFE = 'ReLU, GELU, Tanh, Sigmoid, Dropout, Identity (and MaxPool2d, Flatten after a Conv2d)';

const isLayer = (m: AnyModule): m is Layer => m instanceof Linear || m instanceof Conv2d;
const isPlainSequential = (m: AnyModule): m is Sequential => m instanceof Sequential && m.forward === Sequential.prototype.forward;
const typeName = (m: AnyModule): string => m.constructor.name || 'Module';
const fail = (msg: string): never => { throw new TensorslimError(OP, msg); };
const hasState = (m: AnyModule): boolean =>
  m.namedParameters().length > 0 || m.namedBuffers().length > 0;

/** The leaves of a Sequential chain in execution order, with their dotted paths. */
function chainOf(model: AnyModule): Leaf[] {
  if (!isPlainSequential(model)) {
    fail(`shrink follows Sequential chains only; ${typeName(model)} ${model instanceof Sequential ? 'overrides forward()' : 'has its own forward()'}, which may add residual connections or branches that shrink cannot check. Build the model as a Sequential, or shrink its Sequential parts`);
  }
  const out: Leaf[] = [];
  const seen = new Map<AnyModule, string>();
  const walk = (seq: Sequential, prefix: string): void => {
    const named = seq.namedChildren();
    if (named.length !== [...seq].length) {
      fail(`the Sequential at '${prefix || '<root>'}' runs the same module object more than once; shrink needs one instance per position`);
    }
    for (const [name, child] of named) {
      const path = prefix === '' ? name : `${prefix}.${name}`;
      if (seen.has(child)) fail(`the same ${typeName(child)} object is used at '${seen.get(child)}' and '${path}'; shrink needs one instance per position`);
      seen.set(child, path);
      if (isPlainSequential(child)) walk(child, path);
      else out.push({ path, module: child });
    }
  };
  walk(model as Sequential, '');
  return out;
}

/** Follow a producer's outputs to the layer that consumes them, checking every module in between. */
function findLink(chain: readonly Leaf[], p: number): LinkResult {
  const prod = chain[p]!.module as Layer;
  const conv = prod instanceof Conv2d;
  const units = conv ? prod.outChannels : prod.outFeatures;
  const what = conv ? 'filters' : 'neurons';
  const where = `${typeName(prod)} '${chain[p]!.path}'`;
  const no = (reason: string): LinkResult => ({ ok: false, output: false, reason });
  // a grouped conv ties its filters to its input-channel groups (depthwise: filter c reads only channel c)
  const grouped = (m: Conv2d, side: string): LinkResult => no(`Conv2d '${side}' has groups=${m.groups}; shrink removes whole filters and input channels of groups=1 convolutions only (a group's filters and input channels would have to go together); prune it unstructured (l1) or with lnStructured masks instead`);
  if (conv && prod.groups !== 1) return grouped(prod, chain[p]!.path);
  let flat = false;
  const between: number[] = [];
  for (let q = p + 1; q < chain.length; q++) {
    const { path, module: m } = chain[q]!;
    const at = `${typeName(m)} '${path}'`;
    if (m instanceof Linear) {
      if (conv && !flat) return no(`${at} reads the (N, C, H, W) output of ${where} without a Flatten in between; shrink cannot match its inputs to filters`);
      if (m.inFeatures % units !== 0 || (!conv && m.inFeatures !== units)) {
        return no(`${at} has ${m.inFeatures} inputs, which does not match the ${units} ${what} of ${where}`);
      }
      return { ok: true, link: { consumer: q, between, group: m.inFeatures / units } };
    }
    if (m instanceof Conv2d) {
      if (!conv || flat) return no(`${at} follows ${conv ? 'a Flatten' : where}; shrink cannot match its input channels to ${what}`);
      if (m.groups !== 1) return grouped(m, path);
      if (m.inChannels !== units) return no(`${at} has ${m.inChannels} input channels but ${where} has ${units} filters`);
      return { ok: true, link: { consumer: q, between, group: 1 } };
    }
    if (ELEMENTWISE.some((c) => m instanceof c)) { between.push(q); continue; }
    if (m instanceof MaxPool2d || m instanceof Flatten) {
      const flattenOk = m instanceof Flatten && m.startDim === 1 && (m.endDim === -1 || m.endDim === 3);
      if (conv && !flat && (m instanceof MaxPool2d || flattenOk)) { flat ||= m instanceof Flatten; between.push(q); continue; }
      return no(`${at} after ${where} ${m instanceof Flatten ? `(startDim=${m.startDim}, endDim=${m.endDim})` : ''} changes how units are laid out in a way shrink does not follow; only MaxPool2d and Flatten(1, -1) may follow a Conv2d`);
    }
    if (m instanceof LayerNorm) return no(`${at} normalizes over the ${what} of ${where}: removing units changes the mean and variance it computes for the others`);
    if (m instanceof Softmax || m instanceof LogSoftmax) return no(`${at} normalizes across the ${what} of ${where}: removing units changes every other output`);
    return no(`${at} lies between ${where} and the layer consuming its outputs; shrink cannot tell how a ${typeName(m)} uses the ${units} ${what} (a residual block, a branch or a custom layer). Only ${SAFE} may lie between producer and consumer`);
  }
  return { ok: false, output: true, reason: `${where} is the model's output layer (no layer consumes its ${units} ${what}): removing units would change the output shape` };
}

/** The effective (masked) value of a parameter as float64, or null when absent. */
function effective(m: AnyModule, name: string): Float64Array | null {
  if (prunedParameterNames(m).includes(name)) {
    const o = tensorAttr(m, `${name}_orig`)!.dataSync(), k = tensorAttr(m, `${name}_mask`)!.dataSync();
    return Float64Array.from(o, (v, i) => v * k[i]!);
  }
  const t = tensorAttr(m, name);
  return t ? Float64Array.from(t.dataSync()) : null;
}

/** requiresGrad of a parameter (of `<name>_orig` when pruned). */
function requiresGradOf(m: AnyModule, name: string): boolean {
  const t = tensorAttr(m, prunedParameterNames(m).includes(name) ? `${name}_orig` : name);
  return t?.requiresGrad ?? true;
}

const unitsOf = (m: Layer): number => (m instanceof Conv2d ? m.outChannels : m.outFeatures);
const inputsOf = (m: Layer): number => (m instanceof Conv2d ? m.inChannels : m.inFeatures);
const innerOf = (m: Layer): number => (m instanceof Conv2d ? m.kernelSize[0] * m.kernelSize[1] : 1);
const dtypeOf = (m: Layer): FloatDType => tensorAttr(m, prunedParameterNames(m).includes('weight') ? 'weight_orig' : 'weight')!.dtype as FloatDType;

interface Plan { producer: number; link: Link; remove: number[]; dead: boolean[] }

function selectUnits(path: string, m: Layer, w: Float64Array, opts: ShrinkOptions): number[] {
  const n = unitsOf(m), per = w.length / n;
  if (opts.units !== undefined) {
    const idx = opts.units[path]!;
    if (!Array.isArray(idx)) fail(`units['${path}'] must be an array of unit indices`);
    for (const i of idx) {
      if (!Number.isInteger(i) || i < 0 || i >= n) fail(`units['${path}'] holds ${i}, out of range for the ${n} units of ${typeName(m)} '${path}'`);
    }
    if (new Set(idx).size !== idx.length) fail(`units['${path}'] lists an index twice`);
    return [...idx].sort((a, b) => a - b);
  }
  const slice = (j: number): Float64Array => w.subarray(j * per, (j + 1) * per);
  if (opts.fromMask) {
    const out: number[] = [];
    for (let j = 0; j < n; j++) if (slice(j).every((v) => v === 0)) out.push(j);
    return out;
  }
  const p = opts.norm ?? 2;
  const norms = Array.from({ length: n }, (_, j) => {
    let s = 0;
    for (const v of slice(j)) s += p === 1 ? Math.abs(v) : v * v;
    return p === 1 ? s : Math.sqrt(s);
  });
  const k = unitsToPrune(OP, opts.amount!, n);
  const order = Array.from(norms.keys()).sort((a, b) => norms[a]! - norms[b]! || a - b);
  return order.slice(0, k).sort((a, b) => a - b);
}

function validateOptions(opts: ShrinkOptions): void {
  const modes = [opts.amount !== undefined, opts.fromMask === true, opts.units !== undefined].filter(Boolean).length;
  if (modes !== 1) fail('pass exactly one of { amount } (lowest-norm units), { fromMask: true } (all-zero units) or { units } (explicit indices)');
  if (opts.amount !== undefined) validateAmount(OP, opts.amount);
  if (opts.norm !== undefined && opts.norm !== 1 && opts.norm !== 2) fail(`norm must be 1 or 2, got ${String(opts.norm)}`);
  if (opts.units !== undefined && opts.layers !== undefined) fail('pass either layers or units (units names its layers)');
}

/** Resolve the requested layer paths to chain positions, with clear errors. */
function targetsOf(model: AnyModule, chain: readonly Leaf[], opts: ShrinkOptions): { targets: number[]; explicit: boolean } {
  const layerIdx = chain.map((l, i) => (isLayer(l.module) ? i : -1)).filter((i) => i >= 0);
  const names = opts.units !== undefined ? Object.keys(opts.units) : opts.layers;
  if (names === undefined) return { targets: layerIdx, explicit: false };
  if (new Set(names).size !== names.length) fail(`layers lists a path twice: [${names.join(', ')}]`);
  const targets = names.map((path) => {
    const i = chain.findIndex((l) => l.path === path);
    if (i >= 0) {
      if (!isLayer(chain[i]!.module)) fail(`'${path}' is a ${typeName(chain[i]!.module)}; only Linear and Conv2d layers can be shrunk`);
      return i;
    }
    let sub: AnyModule | null = null;
    try { sub = model.getSubmodule(path); } catch { /* not found */ }
    if (sub !== null) {
      const owner = chain.find((l) => path.startsWith(`${l.path}.`));
      if (owner) fail(`'${path}' is inside ${typeName(owner.module)} '${owner.path}', whose forward() shrink cannot follow`);
      fail(`'${path}' is a ${typeName(sub)}; only Linear and Conv2d layers can be shrunk`);
    }
    return fail(`no layer '${path}' in the model; layers that can be shrunk: ${layerIdx.map((j) => chain[j]!.path).join(', ') || 'none'}`);
  });
  return { targets, explicit: true };
}

/** Outputs a_j of removed dead units after the activations between producer and consumer (bias or 0 through them). */
function deadOutputs(chain: readonly Leaf[], plan: Plan, bias: Float64Array | null, dtype: FloatDType): Float64Array {
  if (plan.remove.length === 0) return new Float64Array(0);
  let t = tensor(Float64Array.from(plan.remove, (j) => (bias ? bias[j]! : 0)), { dtype, shape: [1, plan.remove.length] });
  noGrad(() => {
    for (const q of plan.link.between) {
      const m = chain[q]!.module;
      if (isActivation(m)) t = m.call(t);
    }
  });
  const a = Float64Array.from(t.dataSync());
  return a.map((v, i) => (plan.dead[i] ? v : 0));
}

/** Run fn without moving the default generator (layer constructors draw their initial weights). */
function keepRng<T>(fn: () => T): T {
  const state = defaultGenerator.getState();
  try { return fn(); } finally { defaultGenerator.setState(state); }
}

function cloneLeaf(path: string, m: AnyModule): AnyModule {
  if (m instanceof ReLU) return new ReLU();
  if (m instanceof GELU) return new GELU({ approximate: m.approximate });
  if (m instanceof Tanh) return new Tanh();
  if (m instanceof Sigmoid) return new Sigmoid();
  if (m instanceof Identity) return new Identity();
  if (m instanceof Softmax) return new Softmax(m.dim);
  if (m instanceof LogSoftmax) return new LogSoftmax(m.dim);
  if (m instanceof Dropout) return new Dropout(m.p);
  if (m instanceof Flatten) return new Flatten(m.startDim, m.endDim);
  if (m instanceof MaxPool2d) return new MaxPool2d(m.kernelSize, { stride: m.stride, padding: m.padding, dilation: m.dilation });
  if (m instanceof LayerNorm) {
    const w = effective(m, 'weight'), b = effective(m, 'bias');
    const ln = new LayerNorm(m.normalizedShape, { eps: m.eps, elementwiseAffine: m.elementwiseAffine, bias: b !== null, dtype: layerNormDtype(m) });
    if (w) { ln.weight!.data.set(w); ln.weight!.requiresGrad = requiresGradOf(m, 'weight'); }
    if (b) { ln.bias!.data.set(b); ln.bias!.requiresGrad = requiresGradOf(m, 'bias'); }
    return ln;
  }
  // any other module without state (a view, a custom activation) is shared with the original
  if (!hasState(m)) return m;
  return fail(`cannot copy ${typeName(m)} '${path}': it holds parameters or buffers and shrink knows no way to rebuild it`);
}

function layerNormDtype(m: LayerNorm): FloatDType {
  const t = tensorAttr(m, 'weight_orig') ?? tensorAttr(m, 'weight') ?? tensorAttr(m, 'bias_orig') ?? tensorAttr(m, 'bias');
  return (t?.dtype ?? 'float32') as FloatDType;
}

/** A new Linear/Conv2d holding W[rows][cols] (per kernel tap) and bias[rows]. */
function buildLayer(m: Layer, w: Float64Array, b: Float64Array | null, rows: readonly number[], cols: readonly number[]): Layer {
  const dtype = dtypeOf(m), inner = innerOf(m), nIn = inputsOf(m);
  const out = m instanceof Conv2d
    ? new Conv2d(cols.length, rows.length, m.kernelSize, { stride: m.stride, padding: m.padding, dilation: m.dilation, bias: b !== null, dtype })
    : new Linear(cols.length, rows.length, { bias: b !== null, dtype });
  const nw = out.weight.data;
  let o = 0;
  for (const r of rows) for (const c of cols) for (let i = 0; i < inner; i++) nw[o++] = w[(r * nIn + c) * inner + i]!;
  out.weight.requiresGrad = requiresGradOf(m, 'weight');
  if (b !== null) {
    out.bias!.data.set(rows.map((r) => b[r]!));
    out.bias!.requiresGrad = requiresGradOf(m, 'bias'); // true for a bias added to hold folded constants
  }
  return out;
}

function rebuild(seq: Sequential, replace: ReadonlyMap<AnyModule, AnyModule>): Sequential {
  const out = new Sequential();
  for (const [name, child] of seq.namedChildren()) {
    out.registerModule(name, isPlainSequential(child) ? rebuild(child, replace) : replace.get(child)!);
  }
  out.training = seq.training;
  return out;
}

/** The preset config that builds the shrunk architecture. */
function shrunkConfig(config: ModelConfig, leaves: readonly AnyModule[]): ModelConfig {
  const fc = leaves.filter((m): m is Linear => m instanceof Linear).slice(0, -1).map((l) => l.outFeatures);
  if (config.arch === 'mlp') return { ...config, hidden: fc };
  const conv = leaves.filter((m): m is Conv2d => m instanceof Conv2d).map((c) => c.outChannels);
  return { ...config, channels: [conv[0]!, conv[1]!], fc };
}

/** Rebuild a PresetModel from its updated config and copy the generic result's state into it; null if it does not fit. */
function asPreset(model: PresetModel, generic: Sequential, leaves: readonly AnyModule[]): PresetModel | null {
  let pm: PresetModel;
  try {
    pm = modelFromConfig(shrunkConfig(model.config, leaves));
    pm.loadStateDict(generic.stateDict());
  } catch {
    return null;
  }
  const modes = new Map(generic.namedModules().map(([n, m]) => [n, m.training]));
  for (const [n, m] of pm.namedModules()) m.training = modes.get(n) ?? model.training;
  const grads = new Map(generic.namedParameters().map(([n, p]) => [n, p.requiresGrad]));
  for (const [n, p] of pm.namedParameters()) p.requiresGrad = grads.get(n) ?? true;
  return pm;
}

/**
 * Remove whole neurons of Linear layers and filters of Conv2d layers, and the matching inputs of
 * the layers that consume them, returning a smaller dense model (the input model is unchanged).
 * Pick units by norm ({ amount, norm }), by an existing structured mask ({ fromMask: true }), or
 * explicitly ({ units }). Refuses, with the model unchanged, what it cannot shrink safely.
 *
 * @example
 * prune.lnStructured(net.getSubmodule('1'), 'weight', 0.5, 2, 0);   // zero half the neurons
 * const { model, parametersAfter } = prune.shrink(net, { fromMask: true });
 * @example
 * const small = prune.shrink(net, { amount: 0.5, norm: 1 }).model;   // half of every hidden layer
 */
export function shrink(model: AnyModule, opts: ShrinkOptions = {}): ShrinkResult {
  validateOptions(opts);
  const chain = chainOf(model);
  const { targets, explicit } = targetsOf(model, chain, opts);

  // 1. dependency check and unit selection (nothing is built yet)
  const plans: Plan[] = [];
  const refused: string[] = [];
  for (const p of targets) {
    const res = findLink(chain, p);
    if (!res.ok) {
      if (!res.output || explicit) refused.push(res.reason);
      continue;
    }
    const m = chain[p]!.module as Layer;
    const w = effective(m, 'weight')!;
    const remove = selectUnits(chain[p]!.path, m, w, opts);
    if (remove.length === unitsOf(m)) fail(`removing ${remove.length} of ${unitsOf(m)} units would leave ${typeName(m)} '${chain[p]!.path}' with no outputs`);
    const per = w.length / unitsOf(m);
    const dead = remove.map((j) => w.subarray(j * per, (j + 1) * per).every((v) => v === 0));
    plans.push({ producer: p, link: res.link, remove, dead });
  }
  if (refused.length > 0) {
    fail(`cannot shrink safely (the model is unchanged):\n  ${refused.join('\n  ')}${explicit ? '' : '\n  pass { layers: [...] } to shrink only the layers that can be'}`);
  }

  // 2. new weights for every Linear/Conv2d: kept rows, kept columns, bias + folded dead outputs
  const rows = new Map<number, number[]>(), cols = new Map<number, number[]>();
  const delta = new Map<number, Float64Array>();
  const reports: ShrinkLayerReport[] = [];
  for (const plan of plans) {
    const prod = chain[plan.producer]!.module as Layer, cons = chain[plan.link.consumer]!.module as Layer;
    const gone = new Set(plan.remove);
    const keep = Array.from({ length: unitsOf(prod) }, (_, j) => j).filter((j) => !gone.has(j));
    rows.set(plan.producer, keep);
    const g = plan.link.group;
    cols.set(plan.link.consumer, keep.flatMap((j) => Array.from({ length: g }, (_, s) => j * g + s)));
    const a = deadOutputs(chain, plan, effective(prod, 'bias'), dtypeOf(prod));
    let folded = false;
    if (a.some((v) => v !== 0)) {
      const wc = effective(cons, 'weight')!, inner = innerOf(cons), nIn = inputsOf(cons), nOut = unitsOf(cons);
      const d = new Float64Array(nOut);
      plan.remove.forEach((j, t) => {
        if (a[t] === 0) return;
        for (let k = 0; k < nOut; k++) {
          let s = 0;
          for (let c = j * g; c < (j + 1) * g; c++) for (let i = 0; i < inner; i++) s += wc[(k * nIn + c) * inner + i]!;
          d[k] += s * a[t]!;
        }
      });
      delta.set(plan.link.consumer, d);
      folded = true;
    }
    const padded = cons instanceof Conv2d && (cons.padding[0] !== 0 || cons.padding[1] !== 0);
    reports.push({
      path: chain[plan.producer]!.path, type: prod instanceof Conv2d ? 'Conv2d' : 'Linear', consumer: chain[plan.link.consumer]!.path,
      removed: plan.remove, before: unitsOf(prod), after: keep.length, exact: plan.dead.every(Boolean) && !(folded && padded),
    });
  }

  // 3. build the new model (fresh modules; the default generator is left where it was)
  const replace = new Map<AnyModule, AnyModule>();
  const leaves = keepRng(() => chain.map((leaf, i) => {
    const m = leaf.module;
    let out: AnyModule;
    if (isLayer(m)) {
      const w = effective(m, 'weight')!;
      let b = effective(m, 'bias');
      const d = delta.get(i);
      if (d) b = b === null ? d : b.map((v, k) => v + d[k]!);
      const all = (n: number): number[] => Array.from({ length: n }, (_, j) => j);
      out = buildLayer(m, w, b, rows.get(i) ?? all(unitsOf(m)), cols.get(i) ?? all(inputsOf(m)));
    } else out = cloneLeaf(leaf.path, m);
    if (out !== m) out.train(m.training);
    replace.set(m, out);
    return out;
  }));
  let result: Sequential = rebuild(model as Sequential, replace);
  if (model instanceof PresetModel) result = keepRng(() => asPreset(model, result, leaves)) ?? result;
  return {
    model: result, layers: reports,
    parametersBefore: model.numParameters(), parametersAfter: result.numParameters(),
    exact: reports.every((r) => r.exact),
  };
}
