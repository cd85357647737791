// The Optimizer base class, with torch.optim.Optimizer's semantics: parameter groups that carry
// their own hyper-parameters, per-parameter state, zeroGrad, stateDict/loadStateDict keyed by
// parameter index, addParamGroup. Subclasses supply only the per-group update (updateGroup),
// whose math lives in one pure function per optimizer (sgdUpdate, adamUpdate) so that a fused
// native kernel can replace it later.
// Updates happen in place in each parameter's storage: parameter objects keep their identity.
// This layer does not import nn: it takes plain Tensors (model.parameters() returns them).

import type { FloatDType } from '../backend/dtype.js';
import { enableGrad, noGrad } from '../core/engine.js';
import { fmtShape, TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { cloneAs, ownsStorage, readFloat, type FloatArray } from './storage.js';
import { releaseGradStorage, stepScopeOpen } from '../autograd/tidy.js';

/** A hyper-parameter value: lr, momentum, betas, amsgrad, ... */
export type HyperParam = number | boolean | readonly number[];

/** Options every optimizer has. */
export interface OptimizerOptions {
  lr: number;
}

/** A parameter group: its parameters plus its own copy of every hyper-parameter. */
export type ParamGroup<O extends OptimizerOptions = OptimizerOptions> = O & {
  params: Tensor[];
  /** Set by LR schedulers: the lr the schedule starts from (PyTorch's `initial_lr`). */
  initialLr?: number;
};

/** What a caller passes for one group: parameters and the hyper-parameters it overrides. */
export type ParamGroupInput<O extends OptimizerOptions = OptimizerOptions> = Partial<O> & {
  params: Iterable<Tensor> | Tensor;
};

/** Parameters to optimize: a list of tensors (one group) or a list of groups. */
export type ParamsInput<O extends OptimizerOptions = OptimizerOptions> = Iterable<Tensor> | readonly ParamGroupInput<O>[];

/** Per-parameter state, with PyTorch's keys (`step`, `exp_avg`, `momentum_buffer`, ...). */
export type ParamState = Record<string, Tensor | number>;

/** A group as saved: hyper-parameters plus the indices of its parameters. */
export interface PackedParamGroup {
  params: number[];
  [hyper: string]: HyperParam | undefined;
}

/**
 * An optimizer's saved state, like PyTorch's `optimizer.state_dict()`: `state` maps a parameter's
 * index (counting through all groups in order) to its state; `paramGroups` holds each group's
 * hyper-parameters and parameter indices. Tensors in it are copies (a snapshot).
 */
export interface OptimizerStateDict {
  state: Record<number, ParamState>;
  paramGroups: PackedParamGroup[];
}

/**
 * Base class of all optimizers.
 *
 * @example
 * const opt = new SGD(model.parameters(), { lr: 0.1 });
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 */
export abstract class Optimizer<O extends OptimizerOptions = OptimizerOptions> {
  /** The hyper-parameters a group gets when it does not set its own. */
  readonly defaults: Readonly<O>;
  /** The parameter groups; schedulers and users may change `lr` (and other hyper-parameters) in them. */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** Per-parameter state, created on a parameter's first step. */
  state = new Map<Tensor, ParamState>();
  /** The name used in error messages (`SGD`, `Adam`, ...); a getter, so the base constructor can use it. */
  protected abstract get name(): string;
  /**
   * The optimizer's type as checkpoints store it ('SGD', 'Adam', 'AdamW'): fixed per class, so it
   * survives minifiers and subclasses (a `class MyAdam extends Adam` still holds Adam state).
   *
   * @example
   * new AdamW(model.parameters()).typeName; // 'AdamW'
   */
  get typeName(): string { return this.name; }

  constructor(params: ParamsInput<O>, defaults: O) {
    const op = new.target.name;
    this.defaults = Object.freeze(copyHyper(defaults));
    if (params instanceof Tensor) {
      throw new TensorslimError(op, 'params should be an iterable of Tensors or of parameter groups, but got a Tensor; wrap it in an array: [t]');
    }
    const list: ReadonlyArray<Tensor | ParamGroupInput<O>> = Array.from(params as Iterable<Tensor | ParamGroupInput<O>>);
    if (list.length === 0) throw new TensorslimError(op, 'got an empty parameter list');
    if (list.every((p) => p instanceof Tensor)) {
      // a group of only params is valid for every O (all hyper-parameters default); TS cannot see that for a generic O
      this.addParamGroup({ params: list as Tensor[] } as unknown as ParamGroupInput<O>);
    } else if (list.every((p) => !(p instanceof Tensor) && typeof p === 'object' && p !== null && 'params' in p)) {
      for (const g of list as ParamGroupInput<O>[]) this.addParamGroup(g);
    } else {
      throw new TensorslimError(op, 'params should be all Tensors or all parameter groups ({params, ...options}), not a mix');
    }
  }

  /** Check one group's hyper-parameters; throws a TensorslimError naming the bad one. */
  protected abstract checkOptions(options: O): void;

  /** Update every parameter of `group` that has a gradient. Runs under noGrad. */
  protected abstract updateGroup(group: ParamGroup<O>): void;

  /**
   * Perform one optimization step on every parameter that has a gradient. `closure`, if given,
   * re-evaluates the model and returns the loss (it runs with gradients enabled); its result is
   * returned.
   *
   * @example
   * loss.backward();
   * opt.step();
   */
  step<L>(closure?: () => L): L | undefined {
    const loss = closure ? enableGrad(closure) : undefined;
    // Check every gradient first, so that a bad one leaves no parameter half-updated.
    for (const group of this.paramGroups) for (const p of group.params) this.checkGrad(p);
    noGrad(() => {
      for (const group of this.paramGroups) this.updateGroup(group);
    });
    return loss;
  }

  /**
   * Reset the gradients of all optimized parameters. With `setToNone` (the default, like
   * PyTorch 2) `p.grad` becomes null; otherwise the gradient tensors are filled with zeros.
   *
   * @example
   * opt.zeroGrad();
   * opt.zeroGrad(false); // keep the grad tensors, zero-filled
   */
  zeroGrad(setToNone = true): void {
    // inside a step scope that grants it (tidy(fn, { releaseGrads: true })), the dropped gradients'
    // storage goes back to the storage pool for the next backward
    if (setToNone && stepScopeOpen()) releaseGradStorage(this.paramGroups.flatMap((g) => g.params.map((p) => p.grad)));
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        const g = p.grad;
        if (g === null) continue;
        if (setToNone) { p.grad = null; continue; }
        if (g.gradFn === null && ownsStorage(g)) {
          g.data.fill(0);
          g.version++;
        } else {
          // A grad that is a view or part of a graph: replace it by detached zeros (PyTorch detaches it).
          p.grad = cloneAs(g, g.dtype === 'float64' ? 'float64' : 'float32');
          p.grad.data.fill(0);
        }
      }
    }
  }

  /**
   * Add a group of parameters, e.g. layers unfrozen during fine-tuning. Hyper-parameters not
   * given come from `defaults`.
   *
   * @example
   * opt.addParamGroup({ params: head.parameters(), lr: 1e-2 });
   */
  addParamGroup(input: ParamGroupInput<O>): void {
    const op = `${this.name}.addParamGroup`;
    if (typeof input !== 'object' || input === null || !('params' in input)) {
      throw new TensorslimError(op, 'a parameter group must be an object with a params field');
    }
    const params = input.params instanceof Tensor ? [input.params] : Array.from(input.params);
    if (input.params instanceof Set) {
      throw new TensorslimError(op, 'parameters must come in an ordered collection (the order of a Set is not stable between runs); use an array');
    }
    if (params.length === 0) throw new TensorslimError(op, 'got an empty parameter list');
    params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TensorslimError(op, `can only optimize Tensors, but params[${i}] is ${typeof p}`);
      if (!p.isLeaf) throw new TensorslimError(op, `can't optimize a non-leaf Tensor (params[${i}] has gradFn ${p.gradFn?.kernel}); optimize the leaf, or detach() it and set requiresGrad`);
      if (p.dtype !== 'float32' && p.dtype !== 'float64') throw new TensorslimError(op, `can only optimize floating-point tensors, but params[${i}] is ${p.dtype}`);
    });
    if (new Set(params).size !== params.length) throw new TensorslimError(op, 'a parameter group contains the same parameter twice');
    const seen = new Set(this.paramGroups.flatMap((g) => g.params));
    if (params.some((p) => seen.has(p))) throw new TensorslimError(op, 'some parameters appear in more than one parameter group');

    const options = copyHyper({ ...this.defaults, ...withoutParams(input) } as O);
    this.checkOptions(options);
    this.paramGroups.push({ ...options, params } as ParamGroup<O>);
  }

  /**
   * A snapshot of the optimizer: per-parameter state keyed by parameter index, and each group's
   * hyper-parameters. Tensors are copied, so later steps do not change a saved dict.
   *
   * @example
   * const saved = opt.stateDict();
   * // ... later, on an optimizer built over the same parameters:
   * opt2.loadStateDict(saved);
   */
  stateDict(): OptimizerStateDict {
    const index = new Map<Tensor, number>();
    const paramGroups: PackedParamGroup[] = this.paramGroups.map((g) => {
      const ids = g.params.map((p) => { const i = index.size; index.set(p, i); return i; });
      return { ...copyHyper(withoutParams(g)), params: ids };
    });
    const state: Record<number, ParamState> = {};
    for (const [p, s] of this.state) {
      const i = index.get(p);
      if (i === undefined) continue; // state of a parameter no longer optimized
      state[i] = copyState(s, (t) => cloneAs(t, floatDType(t)));
    }
    return { state, paramGroups };
  }

  /**
   * Restore a state from `stateDict()`. Everything is checked before anything changes: group
   * count and sizes, that each group has this optimizer's hyper-parameters with valid values, and
   * that each state tensor has its parameter's shape. State tensors are copied and cast to their
   * parameter's dtype; parameter objects are kept.
   *
   * @example
   * opt.loadStateDict(checkpoint.optimizer);
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (typeof sd !== 'object' || sd === null || !Array.isArray(sd.paramGroups) || typeof sd.state !== 'object' || sd.state === null) {
      throw new TensorslimError(op, 'expected an object {state, paramGroups} as returned by stateDict()');
    }
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new TensorslimError(op, `loaded state dict has ${sd.paramGroups.length} parameter groups, this optimizer has ${this.paramGroups.length}`);
    }
    const idToParam = new Map<number, Tensor>();
    const newOptions: O[] = [];
    sd.paramGroups.forEach((saved, gi) => {
      const group = this.paramGroups[gi]!;
      if (!Array.isArray(saved.params) || saved.params.length !== group.params.length) {
        throw new TensorslimError(op, `loaded parameter group ${gi} has ${Array.isArray(saved.params) ? saved.params.length : 'no'} parameters, this optimizer's group ${gi} has ${group.params.length}`);
      }
      saved.params.forEach((id, j) => idToParam.set(id, group.params[j]!));
      for (const key of Object.keys(this.defaults)) {
        // `key` comes from this.defaults (keys of O): read the group by name, which O's type has no index for
        const mine = (group as unknown as Record<string, unknown>)[key];
        const theirs = saved[key];
        if (theirs === undefined) throw new TensorslimError(op, `loaded parameter group ${gi} lacks hyper-parameter '${key}' (saved by a different optimizer?)`);
        if (!sameKind(mine, theirs)) throw new TensorslimError(op, `loaded parameter group ${gi} has ${key} = ${JSON.stringify(theirs)}, expected a value like ${JSON.stringify(mine)}`);
      }
      // every key of O was checked present and of the right kind just above
      const options = copyHyper(withoutParams(saved) as unknown as O);
      this.checkOptions(options);
      newOptions.push(options);
    });
    const newState = new Map<Tensor, ParamState>();
    for (const [key, s] of Object.entries(sd.state)) {
      const p = idToParam.get(Number(key));
      if (p === undefined) throw new TensorslimError(op, `loaded state has an entry for parameter ${key}, which is in no parameter group`);
      for (const [name, v] of Object.entries(s)) {
        if (name === 'step' && v instanceof Tensor && v.size === 1) continue; // PyTorch keeps step as a 0-d tensor
        if (v instanceof Tensor) {
          if (v.shape.length !== p.shape.length || v.shape.some((d, i) => d !== p.shape[i])) {
            throw new TensorslimError(op, `state '${name}' of parameter ${key} has shape ${fmtShape(v.shape)}, but the parameter has shape ${fmtShape(p.shape)}`);
          }
        } else if (typeof v !== 'number') {
          throw new TensorslimError(op, `state '${name}' of parameter ${key} must be a Tensor or a number, got ${typeof v}`);
        }
      }
      const copied = copyState(s, (t) => cloneAs(t, p.dtype as FloatDType));
      const step = copied['step'];
      if (step instanceof Tensor) copied['step'] = step.item();
      newState.set(p, copied);
    }
    // All checked: apply.
    newOptions.forEach((options, gi) => {
      const group = this.paramGroups[gi]!;
      Object.assign(group, options);
      if (!('initialLr' in options)) delete group.initialLr;
    });
    this.state = newState;
  }

  /**
   * The gradient of `p` as a contiguous array of `p`'s dtype, or null when `p` has no gradient
   * (such parameters are skipped, as in PyTorch).
   */
  protected gradOf(p: Tensor): FloatArray | null {
    const g = p.grad;
    if (g === null) return null;
    this.checkGrad(p);
    return readFloat(g, p.dtype as FloatDType);
  }

  private checkGrad(p: Tensor): void {
    const g = p.grad;
    if (g === null) return;
    if (g.shape.length !== p.shape.length || g.shape.some((d, i) => d !== p.shape[i])) {
      throw new TensorslimError(`${this.name}.step`, `gradient of shape ${fmtShape(g.shape)} does not match its parameter's shape ${fmtShape(p.shape)}`);
    }
    if (g.dtype !== 'float32' && g.dtype !== 'float64') {
      throw new TensorslimError(`${this.name}.step`, `gradient must be floating-point, got ${g.dtype}`);
    }
  }
}

function floatDType(t: Tensor): FloatDType {
  return t.dtype === 'float64' ? 'float64' : 'float32';
}

function withoutParams<T extends { params?: unknown }>(g: T): Omit<T, 'params'> {
  const { params: _params, ...rest } = g;
  return rest;
}

/** Copy hyper-parameters so that groups never share arrays (betas) with defaults or saved dicts. */
function copyHyper<T extends object>(o: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
  return out as T;
}

function copyState(s: ParamState, copyTensor: (t: Tensor) => Tensor): ParamState {
  const out: ParamState = {};
  for (const [k, v] of Object.entries(s)) out[k] = v instanceof Tensor ? copyTensor(v) : v;
  return out;
}

function sameKind(a: unknown, b: unknown): boolean {
  if (Array.isArray(a)) return Array.isArray(b) && b.length === a.length && b.every((x) => typeof x === 'number');
  return typeof a === typeof b;
}
