// The three quantization workflows, as PyTorch users know them, built on module swaps through the
// public Module seams (namedModules, getSubmodule, registerModule):
//   quantizeDynamic(model)                        Linear -> DynamicQuantizedLinear
//   prepareStatic(model) ; calibrate ; convertStatic(model)
//                                                 Linear / Conv2d (+ following ReLU) -> Observed* -> Quantized*
//   prepareQat(model) ; train ; convertQat(model) Linear / Conv2d (+ ReLU) -> Qat* -> Quantized*
// Models are changed in place (torch's inplace=True) and returned; when the model itself is a
// Linear, the replacement is returned instead. Every swap is planned and built first and applied
// only when all succeeded, so an error (uncalibrated layer, unsupported layer, bad scale) leaves
// the model exactly as it was. A Linear directly followed by a ReLU inside a Sequential is fused:
// the ReLU moves into the quantized layer (requantized with it in the kernel) and its slot becomes
// an Identity, as torch's fuse_modules does.

import { TensorslimError } from '../../core/errors.js';
import type { AnyModule } from '../../nn/module.js';
import { Linear, Identity } from '../../nn/linear.js';
import { ReLU } from '../../nn/activation.js';
import { Sequential } from '../../nn/container.js';
import { Conv2d } from '../../nn/conv.js';
import { DynamicQuantizedConv2d, ObservedConv2d, QatConv2d, convertObservedConv, convertQatConv } from './conv.js';
import { Parameter } from '../../nn/parameter.js';
import { ObserverBase } from './observer.js';
import { linkInt8Layers } from './int8_flow.js';
import {
  DynamicQuantizedLinear, ObservedLinear, QatLinear, convertObserved, convertQatLinear, defaultWeightObserver,
} from './modules.js';
import { defaultQatQConfig, defaultStaticQConfig, type ActivationObserverKind, type QConfig, type QatQConfig } from './qconfig.js';

interface Swap { path: string; replacement: AnyModule }

function parentOf(model: AnyModule, path: string): [AnyModule, string] {
  const i = path.lastIndexOf('.');
  return [model.getSubmodule(i < 0 ? '' : path.slice(0, i)), i < 0 ? path : path.slice(i + 1)];
}

/** Apply planned swaps (all built already); returns the new root. */
function apply(model: AnyModule, swaps: readonly Swap[]): AnyModule {
  let root = model;
  for (const s of swaps) {
    if (s.path === '') { root = s.replacement; continue; }
    const [parent, name] = parentOf(model, s.path);
    parent.registerModule(name, s.replacement);
  }
  return root;
}

function describeModule(m: AnyModule): string {
  return m.constructor.name;
}

/**
 * The layers a workflow will touch: every module accepted by `accept`, or exactly the named ones
 * (each must exist and be accepted, else "unsupported layer").
 */
function select(op: string, model: AnyModule, layers: readonly string[] | undefined, accept: (m: AnyModule) => boolean,
  supported: string): [string, AnyModule][] {
  if (!(model instanceof Object) || typeof (model as { namedModules?: unknown }).namedModules !== 'function') {
    throw new TensorslimError(op, 'expected a Module');
  }
  if (layers === undefined) {
    const found = model.namedModules().filter(([, m]) => accept(m));
    if (found.length === 0) throw new TensorslimError(op, `${describeModule(model)} has no layer this workflow handles (${supported})`);
    return found;
  }
  return layers.map((path) => {
    let m: AnyModule;
    try { m = model.getSubmodule(path); } catch (e) { throw new TensorslimError(op, `no layer '${path}': ${(e as Error).message}`); }
    if (!accept(m)) throw new TensorslimError(op, `unsupported layer '${path}' (${describeModule(m)}): ${op} handles ${supported}; leave it out of \`layers\` to keep it in float32`);
    return [path, m] as [string, AnyModule];
  });
}

/** Linear / Conv2d layers directly followed by a ReLU in a Sequential: path of the layer -> path of the ReLU. */
function fusablePairs(model: AnyModule): Map<string, string> {
  const out = new Map<string, string>();
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof Sequential)) continue;
    const kids = m.namedChildren();
    for (let i = 0; i + 1 < kids.length; i++) {
      if ((kids[i]![1] instanceof Linear || kids[i]![1] instanceof Conv2d) && kids[i + 1]![1] instanceof ReLU) {
        const pre = path === '' ? '' : `${path}.`;
        out.set(pre + kids[i]![0], pre + kids[i + 1]![0]);
      }
    }
  }
  return out;
}

function plainLinear(op: string, path: string, m: Linear | Conv2d): void {
  if (!(m.weight instanceof Parameter)) {
    throw new TensorslimError(op, `layer '${path}' has a computed weight (pruned: weight_orig + mask); call prune.remove('${path}') first so the pruned weight becomes a plain parameter`);
  }
}

/** Options of quantizeDynamic. */
export interface QuantizeDynamicOptions {
  /** Dotted paths of the layers to quantize (default: every Linear). */
  layers?: readonly string[];
  /** Weight observer factory (default per-channel symmetric qint8 min-max). */
  weightObserver?: () => ObserverBase;
  /** Quantize activations to 7 bits (0..127). */
  reduceRange?: boolean;
  /**
   * Which layer types to quantize (torch's qconfig_spec): default ['Linear'], as torch's
   * quantize_dynamic; with 'Conv2d', each Conv2d (groups 1) becomes a DynamicQuantizedConv2d.
   */
  types?: readonly ('Linear' | 'Conv2d')[];
}

/**
 * Dynamic quantization (torch.ao.quantization.quantize_dynamic): every Linear (or the named ones)
 * becomes a DynamicQuantizedLinear with int8 per-channel weights; activations are quantized per
 * batch at run time. No calibration. In place; returns the model.
 * @example
 * const q = quantizeDynamic(model);
 * q.call(x);   // int8 GEMMs, float32 in and out
 */
export function quantizeDynamic<M extends AnyModule>(model: M, opts: QuantizeDynamicOptions = {}): M | DynamicQuantizedLinear | DynamicQuantizedConv2d {
  const op = 'quantizeDynamic';
  const types = opts.types ?? ['Linear'];
  for (const t of types) if (t !== 'Linear' && t !== 'Conv2d') throw new TensorslimError(op, `types: unknown layer type '${String(t)}'; quantizeDynamic handles 'Linear' and 'Conv2d'`);
  const conv = types.includes('Conv2d'), linear = types.includes('Linear');
  const targets = select(op, model, opts.layers, (m) => (linear && m instanceof Linear) || (conv && m instanceof Conv2d),
    conv ? (linear ? 'Linear and Conv2d layers' : 'Conv2d layers') : 'Linear layers (Conv2d too with types: [\'Linear\', \'Conv2d\'])');
  const swaps = targets.map(([path, m]) => {
    try {
      const o = { weightObserver: (opts.weightObserver ?? defaultWeightObserver)(), reduceRange: opts.reduceRange };
      return { path, replacement: m instanceof Conv2d ? DynamicQuantizedConv2d.fromFloat(m, o) : DynamicQuantizedLinear.fromFloat(m as Linear, o) };
    } catch (e) {
      throw new TensorslimError(op, `layer '${path}': ${(e as Error).message}`);
    }
  });
  return apply(model, swaps) as M | DynamicQuantizedLinear | DynamicQuantizedConv2d;
}

/** Options of prepareStatic. */
export interface PrepareStaticOptions {
  layers?: readonly string[];
  /** Activation observer by name (default 'histogram', torch's default) or a full QConfig. */
  observer?: ActivationObserverKind;
  qconfig?: QConfig;
  /** Fuse Linear + following ReLU inside Sequentials (default true). */
  fuse?: boolean;
}

/**
 * prepareStatic / prepareQat: each selected Linear or Conv2d (fused with a following ReLU in a
 * Sequential, whose slot becomes an Identity) is replaced by `new Lin(layer, ...)` / `new Conv(layer, ...)`
 * built with the qconfig's factories; everything is checked and built before anything is swapped.
 */
function prepare<Q extends { activation: () => AnyModule; weight: () => AnyModule }>(op: string, model: AnyModule,
  opts: { layers?: readonly string[]; fuse?: boolean }, q: Q,
  Conv: new (c: Conv2d, o: Q & { relu: boolean }) => AnyModule, Lin: new (l: Linear, o: Q & { relu: boolean }) => AnyModule): AnyModule {
  const accept = (m: AnyModule): boolean => m instanceof Linear || m instanceof Conv2d;
  const targets = select(op, model, opts.layers, accept, 'Linear and Conv2d layers (followed by a ReLU in a Sequential, fused)');
  const pairs = (opts.fuse ?? true) ? fusablePairs(model) : new Map<string, string>();
  const swaps: Swap[] = [];
  for (const [path, m] of targets) {
    plainLinear(op, path, m as Linear | Conv2d);
    if (m instanceof Conv2d && m.groups !== 1) {
      throw new TensorslimError(op, `layer '${path}' is a grouped Conv2d (groups=${m.groups}, weight [${m.weight.shape.join(', ')}]); int8 convolution supports groups=1 only: list the other layers in 'layers' to keep this one float`);
    }
    const reluPath = pairs.get(path);
    const o = { ...q, relu: reluPath !== undefined, name: path };
    swaps.push({ path, replacement: m instanceof Conv2d ? new Conv(m, o) : new Lin(m as Linear, o) });
    if (reluPath !== undefined) swaps.push({ path: reluPath, replacement: new Identity() });
  }
  return apply(model, swaps);
}

/**
 * Prepare static post-training quantization (torch's prepare): each Linear or Conv2d (fused with a
 * following ReLU inside a Sequential) becomes an ObservedLinear / ObservedConv2d that records its
 * input and output ranges. Then run the model on a few representative batches (calibration) and
 * call convertStatic. In place; returns the model.
 * @example
 * prepareStatic(model, { observer: 'histogram' });
 * noGrad(() => { for (const [x] of calibration) model.call(x); });
 * convertStatic(model);
 */
export function prepareStatic<M extends AnyModule>(model: M, opts: PrepareStaticOptions = {}): M | ObservedLinear | ObservedConv2d {
  const q = opts.qconfig ?? defaultStaticQConfig(opts.observer ?? 'histogram');
  return prepare('prepareStatic', model, opts, q, ObservedConv2d, ObservedLinear) as M | ObservedLinear | ObservedConv2d;
}

/**
 * Finish static quantization (torch's convert): each calibrated ObservedLinear / ObservedConv2d
 * becomes a QuantizedLinear / QuantizedConv2d (int8 in, int8 out), and neighbouring int8 layers are linked
 * so int8 codes flow between them (linkInt8Layers). Refuses, naming the layer and changing nothing, when a
 * layer was never calibrated. In place; returns the model.
 * @example const qmodel = convertStatic(model);
 */
export function convertStatic<M extends AnyModule>(model: M): M | AnyModule {
  return convertPrepared('convertStatic', model, (m): m is ObservedLinear | ObservedConv2d => m instanceof ObservedLinear || m instanceof ObservedConv2d,
    (path, m) => (m instanceof ObservedConv2d ? convertObservedConv(path, m) : convertObserved(path, m)),
    'has no prepared layers; call prepareStatic(model), calibrate first (run a few batches), then convertStatic') as M | AnyModule;
}

/**
 * convertStatic / convertQat: every prepared layer's int8 replacement is built (an error names the
 * layer and changes nothing), then all are swapped in and neighbouring int8 layers linked.
 */
function convertPrepared<P extends AnyModule>(op: string, model: AnyModule, isPrepared: (m: AnyModule) => m is P,
  convert: (path: string, m: P) => AnyModule, none: string): AnyModule {
  const found = model.namedModules().filter((e): e is [string, P] => isPrepared(e[1]));
  if (found.length === 0) throw new TensorslimError(op, `${describeModule(model)} ${none}`);
  const root = apply(model, found.map(([path, m]) => ({ path, replacement: convert(path, m) })));
  linkInt8Layers(root);   // int8 codes flow between neighbouring int8 layers (int8_flow.ts)
  return root;
}

/** Options of prepareQat. */
export interface PrepareQatOptions {
  layers?: readonly string[];
  qconfig?: QatQConfig;
  /** LSQ: learn the activation scales (ignored when qconfig is given). */
  learnableScale?: boolean;
  fuse?: boolean;
}

/**
 * Prepare quantization-aware training (torch's prepare_qat): each Linear or Conv2d (fused with a
 * following ReLU inside a Sequential) becomes a QatLinear / QatConv2d that fake-quantizes its input, weight and output, keeping the same
 * Parameter objects, so an optimizer built before or after keeps working. Train, then convertQat.
 * @example
 * prepareQat(model, { learnableScale: true });
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });   // includes learnable scales
 * // ... train ...
 * convertQat(model.eval());
 */
export function prepareQat<M extends AnyModule>(model: M, opts: PrepareQatOptions = {}): M | QatLinear | QatConv2d {
  const q = opts.qconfig ?? defaultQatQConfig({ learnableScale: opts.learnableScale });
  return prepare('prepareQat', model, opts, q, QatConv2d, QatLinear) as M | QatLinear | QatConv2d;
}

/**
 * Convert a QAT-trained model to int8 (torch's convert after prepare_qat): each QatLinear /
 * QatConv2d becomes a QuantizedLinear / QuantizedConv2d with the qparams its fake quantizers learned or observed. In place.
 * @example const qmodel = convertQat(model);
 */
export function convertQat<M extends AnyModule>(model: M): M | AnyModule {
  return convertPrepared('convertQat', model, (m): m is QatLinear | QatConv2d => m instanceof QatLinear || m instanceof QatConv2d,
    (path, m) => (m instanceof QatConv2d ? convertQatConv(path, m) : convertQatLinear(path, m)),
    'has no QAT layers; call prepareQat(model) and train first') as M | AnyModule;
}
