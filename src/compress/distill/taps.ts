// Feature taps: forward hooks (Module.registerForwardHook on getSubmodule(name)) that record the
// outputs of named submodules during a forward call, for hidden-state and attention distillation.
// A tap only reads outputs; it never replaces them, so the model computes exactly what it would
// without the tap. Every name is checked before any hook is registered (nothing half-installed).

import { TensorslimError } from '../../core/errors.js';
import { Tensor } from '../../core/tensor.js';
import type { AnyModule, Module, RemovableHandle } from '../../nn/index.js';

/** What tapFeatures returns: the captured outputs of the tapped submodules. */
export interface FeatureTap {
  /** The tapped names, in the order given. */
  readonly names: readonly string[];
  /** The last output of `name` since the last clear(); throws if it did not run or is not a Tensor. */
  get(name: string): Tensor;
  /** The last raw output of `name` (any type), or undefined if it did not run since clear(). */
  raw(name: string): unknown;
  /** How often `name` ran since the last clear() (a shared module may run more than once). */
  calls(name: string): number;
  /** Forget the captured outputs (call before each forward). */
  clear(): void;
  /** Unregister the hooks (idempotent); the model is as before tapping. */
  remove(): void;
}

/** The dotted names that can be tapped (every submodule; '' is the model itself). */
export function tappableNames(model: AnyModule): string[] {
  return (model as Module<never, unknown>).namedModules().map(([n]) => n);
}

/**
 * Record the outputs of the named submodules (dotted paths as in namedModules(), e.g. '0' or
 * 'layer1.fc') on every forward call. An unknown name throws, listing the names there are.
 * @example
 * const tap = tapFeatures(model, ['1', '3']);
 * tap.clear(); model.call(x);
 * const h = tap.get('1');     // output of submodule '1' in that call
 * tap.remove();
 */
export function tapFeatures(model: AnyModule, names: readonly string[], op = 'tapFeatures'): FeatureTap {
  if (!Array.isArray(names)) throw new TensorslimError(op, 'names must be an array of submodule names');
  const available = tappableNames(model);
  const modules: AnyModule[] = [];
  for (const name of names) {
    if (typeof name !== 'string' || !available.includes(name)) {
      const list = available.map((n) => (n === '' ? "'' (the model)" : `'${n}'`)).join(', ');
      throw new TensorslimError(op, `${model.constructor.name} has no submodule '${String(name)}' to tap; available: ${list}`);
    }
    modules.push((model as Module<never, unknown>).getSubmodule(name));
  }
  const outputs = new Map<string, unknown>();
  const counts = new Map<string, number>();
  const handles: RemovableHandle[] = [];
  names.forEach((name, i) => {
    const m = modules[i] as Module<unknown[], unknown>;
    handles.push(m.registerForwardHook((_mod: unknown, _args: unknown[], out: unknown) => {
      outputs.set(name, out);
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }));
  });
  const known = (name: string): void => {
    if (!names.includes(name)) throw new TensorslimError(op, `'${name}' is not tapped; tapped: ${names.map((n) => `'${n}'`).join(', ')}`);
  };
  return {
    names: [...names],
    get(name: string): Tensor {
      known(name);
      if (!outputs.has(name)) {
        throw new TensorslimError(op, `submodule '${name}' did not run during the forward call (is it used in ${model.constructor.name}.forward?)`);
      }
      const v = outputs.get(name);
      if (!(v instanceof Tensor)) {
        throw new TensorslimError(op, `submodule '${name}' returned ${v === null ? 'null' : typeof v === 'object' ? (v as object).constructor.name : typeof v}, not a Tensor; tap a submodule that outputs the tensor you want`);
      }
      return v;
    },
    raw(name: string): unknown { known(name); return outputs.get(name); },
    calls(name: string): number { known(name); return counts.get(name) ?? 0; },
    clear(): void { outputs.clear(); counts.clear(); },
    remove(): void { for (const h of handles) h.remove(); outputs.clear(); counts.clear(); },
  };
}
