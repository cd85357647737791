// The reparametrization that makes a pruned parameter, with torch.nn.utils.prune's names:
// parameter `<name>_orig`, buffer `<name>_mask`, and a forward pre-hook that recomputes
// `<name> = <name>_orig * <name>_mask` before every call. Built only on Module's public seams
// (deleteParameter, registerParameter, registerBuffer, registerForwardPreHook). Every entry point
// computes the new mask first and changes the module last, restoring it if a step fails.

import { allocate } from '../../backend/dtype.js';
import { shapeEquals } from '../../backend/shape.js';
import { noGrad } from '../../core/engine.js';
import { ShapeError, TensorslimError } from '../../core/errors.js';
import { Tensor } from '../../core/tensor.js';
import { mul, detach, clone } from '../../ops/index.js';
import { Parameter, type AnyModule, type Module, type RemovableHandle } from '../../nn/index.js';
import { scoresOf, type PruningMethod } from './methods.js';

interface PruneState {
  hook: RemovableHandle;
  /** Methods applied so far, in order (PyTorch's PruningContainer history). */
  history: string[];
}

/** Per module: parameter name -> pruning state. A WeakMap, so the module itself is not patched. */
const pruned = new WeakMap<AnyModule, Map<string, PruneState>>();

// A module's attributes are its own properties (nn/module.ts registers them without a Proxy), so
// Reflect reads, writes and deletes them by name; the module is never cast to a record.
const attr = (m: AnyModule, name: string): unknown => Reflect.get(m, name);
const setAttr = (m: AnyModule, name: string, v: unknown): void => { Reflect.set(m, name, v); };
const deleteAttr = (m: AnyModule, name: string): void => { Reflect.deleteProperty(m, name); };

/**
 * The tensor held by attribute `name` of a module (a parameter, buffer or computed tensor such as
 * a pruned `weight`), or null when it holds none.
 * @example tensorAttr(lin, 'weight_orig')?.shape  // [out, in] once lin.weight is pruned
 */
export function tensorAttr(m: AnyModule, name: string): Tensor | null {
  const v = attr(m, name);
  return v instanceof Tensor ? v : null;
}

function computeWeight(m: AnyModule, name: string): Tensor {
  return mul(attr(m, `${name}_orig`) as Tensor, attr(m, `${name}_mask`) as Tensor);
}

/** True when `module` (or, with recurse, any submodule) has a pruned parameter. */
export function isPruned(module: AnyModule, recurse = true): boolean {
  const mods = recurse ? (module as Module<never, unknown>).modules() : [module];
  return mods.some((m) => (pruned.get(m)?.size ?? 0) > 0);
}

/** Names of the pruned parameters of one module (not recursive). */
export function prunedParameterNames(module: AnyModule): string[] {
  return [...(pruned.get(module)?.keys() ?? [])];
}

/** The original (unmasked) parameter: `<name>_orig` when pruned, else the parameter itself. */
export function originalParameter(op: string, module: AnyModule, name: string): Tensor {
  const state = pruned.get(module)?.get(name);
  if (state) return attr(module, `${name}_orig`) as Tensor;
  const p = (module as Module<never, unknown>).namedParameters('', false).find(([n]) => n === name)?.[1];
  if (!p) {
    const params = (module as Module<never, unknown>).namedParameters('', false).map(([n]) => n);
    throw new TensorslimError(op, `${module.constructor.name} has no parameter '${name}' (parameters: ${params.join(', ') || 'none'})`);
  }
  return p;
}

/** The current mask of a parameter (all ones when it is not pruned yet), as float64. */
export function currentMask(module: AnyModule, name: string, size: number): Float64Array {
  const state = pruned.get(module)?.get(name);
  if (!state) return new Float64Array(size).fill(1);
  return Float64Array.from((attr(module, `${name}_mask`) as Tensor).dataSync());
}

/**
 * Install `mask` (same shape as the parameter) on module.name, creating the reparametrization on
 * first use or replacing the mask of an already pruned parameter. All checks happen before any change.
 */
export function installMask(op: string, module: AnyModule, name: string, mask: Float64Array, methodName: string): void {
  const orig = originalParameter(op, module, name);
  if (mask.length !== orig.size) throw new ShapeError(op, `mask has ${mask.length} entries but ${name} has shape (${orig.shape.join(', ')})`);
  const maskT = new Tensor(allocate(orig.dtype, mask.length), orig.dtype, orig.shape);
  maskT.data.set(mask);
  let states = pruned.get(module);
  const existing = states?.get(name);
  if (existing) {
    // already reparametrized: swap the mask buffer, recompute the weight
    const old = attr(module, `${name}_mask`) as Tensor;
    (module as Module<never, unknown>).registerBuffer(`${name}_mask`, maskT);
    try {
      setAttr(module, name, computeWeight(module, name));
    } catch (e) {
      (module as Module<never, unknown>).registerBuffer(`${name}_mask`, old);
      throw e;
    }
    existing.history.push(methodName);
    return;
  }
  const m = module as Module<never, unknown>;
  const param = m.deleteParameter(name);
  if (!(param instanceof Parameter)) throw new TensorslimError(op, `parameter '${name}' is empty`);
  const steps: (() => void)[] = [];
  try {
    m.registerParameter(`${name}_orig`, param);
    steps.push(() => m.deleteParameter(`${name}_orig`));
    m.registerBuffer(`${name}_mask`, maskT);
    steps.push(() => m.deleteBuffer(`${name}_mask`));
    setAttr(module, name, computeWeight(module, name));
    steps.push(() => deleteAttr(module, name));
    const hook = m.registerForwardPreHook((mod: AnyModule) => { setAttr(mod, name, computeWeight(mod, name)); });
    if (!states) { states = new Map(); pruned.set(module, states); }
    states.set(name, { hook, history: [methodName] });
  } catch (e) {
    for (const undo of steps.reverse()) undo();
    m.registerParameter(name, param);
    throw e;
  }
}

/**
 * Apply a pruning method to `module.name`, PyTorch-style: importance defaults to the original
 * weights, and an already pruned parameter is pruned further among its surviving entries.
 */
export function applyMethod(op: string, module: AnyModule, name: string, method: PruningMethod, importanceScores?: Tensor): void {
  const orig = originalParameter(op, module, name);
  const scoresT = importanceScores ?? orig;
  if (!shapeEquals(scoresT.shape, orig.shape)) {
    throw new ShapeError(op, `importance scores shape (${scoresT.shape.join(', ')}) must equal ${name}'s shape (${orig.shape.join(', ')})`);
  }
  const mask = method.computeMask(scoresOf(op, scoresT), orig.shape, currentMask(module, name, orig.size));
  installMask(op, module, name, mask, method.name);
}

/**
 * Make pruning permanent: `<name>` becomes a plain parameter holding orig * mask; `<name>_orig`,
 * `<name>_mask` and the hook are removed (torch.nn.utils.prune.remove).
 * @example prune.remove(model.fc1, 'weight')
 */
export function remove(module: AnyModule, name: string): void {
  const states = pruned.get(module);
  const state = states?.get(name);
  if (!state) throw new TensorslimError('prune.remove', `parameter '${name}' of ${module.constructor.name} is not pruned`);
  const m = module as Module<never, unknown>;
  const orig = attr(module, `${name}_orig`) as Parameter;
  const baked = noGrad(() => clone(detach(computeWeight(module, name))));
  state.hook.remove();
  m.deleteParameter(`${name}_orig`);
  m.deleteBuffer(`${name}_mask`);
  deleteAttr(module, name);
  // keep the Parameter object (optimizers hold it): write the masked values into its storage
  noGrad(() => orig.assign(baked));
  m.registerParameter(name, orig);
  states!.delete(name);
}

/** Fraction of zero entries in the effective tensors of the given (module, name) pairs. */
export function sparsity(pairs: readonly (readonly [AnyModule, string])[]): number {
  let zeros = 0, total = 0;
  for (const [m, name] of pairs) {
    const t = attr(m, name) as Tensor;
    for (const v of t.dataSync()) if (v === 0) zeros++;
    total += t.size;
  }
  return total === 0 ? 0 : zeros / total;
}
