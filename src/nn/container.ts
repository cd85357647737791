// Containers: Sequential (chains its children), ModuleList and ModuleDict (hold children for a
// parent's forward). Children are registered under '0', '1', ... (or the dict keys), which gives
// PyTorch's state-dict keys ('0.weight', 'blocks.3.attn.bias'). The Module registry is the only
// store, so swapping a child through the Module seams (seq.registerModule('0', q)) is seen here.

import type { Tensor } from '../core/tensor.js';
import { TensorslimError } from '../core/errors.js';
import { Module, type AnyModule } from './module.js';

/** A module that maps one tensor to one tensor: what Sequential can chain. */
export type TensorModule = Module<[Tensor], Tensor>;

function index(op: string, i: number, n: number): number {
  if (!Number.isInteger(i) || i < -n || i >= n) throw new TensorslimError(op, `index ${i} is out of range for ${n} modules`);
  return i < 0 ? i + n : i;
}

function checkModule(op: string, m: unknown): void {
  if (!(m instanceof Module)) throw new TensorslimError(op, `expected a Module, got ${m === null ? 'null' : typeof m}`);
}

/**
 * Runs its children in order, each on the previous one's output, like torch.nn.Sequential.
 * @example
 * const net = new Sequential(new Linear(784, 300), new ReLU(), new Linear(300, 10));
 * net.call(x);  [...net.stateDict().keys()]  // ['0.weight', '0.bias', '2.weight', '2.bias']
 */
export class Sequential extends Module {
  constructor(...modules: TensorModule[]) {
    super();
    for (const m of modules) this.append(m);
  }

  #items(): TensorModule[] {
    const out: TensorModule[] = [];
    for (const [, m] of this.childSlots()) if (m !== null) out.push(m);
    return out;
  }

  /** Add a module at the end; returns this. @example seq.append(new ReLU()) */
  append(module: TensorModule): this {
    checkModule('Sequential.append', module);
    this.registerModule(String(this.childSlots().length), module);
    return this;
  }

  /** The i-th module (negative counts from the end). @example seq.at(-1) */
  at(i: number): TensorModule {
    const items = this.#items();
    return items[index('Sequential.at', i, items.length)]!;
  }

  /** Replace the i-th module in place (module swapping), keeping its name. @example seq.set(0, new Identity()) */
  set(i: number, module: TensorModule): void {
    checkModule('Sequential.set', module);
    const slots = this.childSlots();
    const k = index('Sequential.set', i, slots.length);
    this.registerModule(slots[k]![0], module);
  }

  /** Number of children. @example seq.length */
  get length(): number { return this.#items().length; }

  /** A new Sequential over modules [start, end) (sharing them). @example seq.slice(0, 2) */
  slice(start = 0, end?: number): Sequential { return new Sequential(...this.#items().slice(start, end)); }

  [Symbol.iterator](): Iterator<TensorModule> { return this.#items()[Symbol.iterator](); }

  // forward()'s view of the children, valid while the registry's version and the number of own
  // keys are unchanged: registry changes (append, set, registerModule, deleteModule, assigning a
  // registered name) bump the version; a module stored in a new field or a deleted accessor changes
  // the key count (the next #items() then registers it, as every traversal does). Saves the
  // registry scan (2.6-6.4 us) on every call.
  #cache: TensorModule[] | null = null;
  #cacheVersion = -1;
  #cacheKeys = -1;

  forward(x: Tensor): Tensor {
    let items = this.#cache;
    const keys = Object.keys(this).length;
    if (items === null || this.#cacheVersion !== this.childrenVersion || this.#cacheKeys !== keys) {
      items = this.#items();
      this.#cache = items;
      this.#cacheVersion = this.childrenVersion;
      this.#cacheKeys = Object.keys(this).length;
    }
    let y = x;
    for (const m of items) y = m.call(y);
    return y;
  }
}

/**
 * Holds modules in a list (registered '0', '1', ...) for a parent's forward to use; it has no
 * forward of its own.
 * @example
 * const blocks = new ModuleList([new Linear(4, 4), new Linear(4, 4)]);
 * for (const b of blocks) x = b.call(x);
 */
export class ModuleList<M extends AnyModule | TensorModule = TensorModule> extends Module<never[], never> {
  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  #items(): M[] {
    const out: M[] = [];
    for (const [, m] of this.childSlots()) if (m !== null) out.push(m as M);
    return out;
  }

  /** Add a module at the end; returns this. @example list.append(new Linear(4, 4)) */
  append(module: M): this {
    checkModule('ModuleList.append', module);
    this.registerModule(String(this.childSlots().length), module);
    return this;
  }

  /** Append several modules; returns this. @example list.extend([a, b]) */
  extend(modules: Iterable<M>): this { for (const m of modules) this.append(m); return this; }

  /** The i-th module (negative counts from the end). @example list.at(0) */
  at(i: number): M {
    const items = this.#items();
    return items[index('ModuleList.at', i, items.length)]!;
  }

  /** Number of modules. @example list.length */
  get length(): number { return this.#items().length; }

  [Symbol.iterator](): Iterator<M> { return this.#items()[Symbol.iterator](); }

  forward(): never {
    throw new TensorslimError('ModuleList', 'has no forward(); iterate it in the parent module (for (const m of list) x = m.call(x))');
  }
}

/**
 * Holds modules by name (registered under the keys) for a parent's forward to use.
 * @example
 * const heads = new ModuleDict({ cls: new Linear(8, 10), reg: new Linear(8, 1) });
 * heads.get('cls').call(h);  [...heads.stateDict().keys()]  // ['cls.weight', 'cls.bias', 'reg.weight', 'reg.bias']
 */
export class ModuleDict<M extends AnyModule | TensorModule = TensorModule> extends Module<never[], never> {
  constructor(modules: Iterable<readonly [string, M]> | Readonly<Record<string, M>> = {}) {
    super();
    const entries: (readonly [string, M])[] = Symbol.iterator in modules
      ? [...(modules as Iterable<readonly [string, M]>)]
      : Object.entries(modules as Readonly<Record<string, M>>);
    for (const [k, m] of entries) this.set(k, m);
  }

  /** Add or replace the module under `key`. @example heads.set('aux', new Linear(8, 2)) */
  set(key: string, module: M): this {
    checkModule('ModuleDict.set', module);
    this.registerModule(key, module);
    return this;
  }

  /** The module under `key`. @example heads.get('cls') */
  get(key: string): M {
    const slot = this.childSlots().find(([k]) => k === key);
    if (slot === undefined || slot[1] === null) {
      throw new TensorslimError('ModuleDict.get', `no module under '${key}'; keys: [${this.keys().join(', ')}]`);
    }
    return slot[1] as M;
  }

  /** Whether `key` holds a module. @example heads.has('cls') */
  has(key: string): boolean { return this.childSlots().some(([k, m]) => k === key && m !== null); }
  /** Keys in insertion order. @example heads.keys() */
  keys(): string[] { return this.childSlots().filter(([, m]) => m !== null).map(([k]) => k); }
  /** Number of modules. @example heads.size */
  get size(): number { return this.keys().length; }
  [Symbol.iterator](): Iterator<[string, M]> {
    return this.childSlots().filter(([, m]) => m !== null).map(([k, m]) => [k, m as M] as [string, M])[Symbol.iterator]();
  }

  forward(): never {
    throw new TensorslimError('ModuleDict', 'has no forward(); look modules up with get(key) in the parent module');
  }
}
