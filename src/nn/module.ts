// Module: the base class of every layer and model, modeled on torch.nn.Module.
// It owns three ordered registries (parameters, buffers, child modules) that give PyTorch's
// dotted names ('0.weight', 'layer1.bias'), stateDict()/loadStateDict(), train()/eval() and
// forward hooks. It never does math itself: subclasses compose ops in forward().
//
// How registration works (no Proxy):
//  - Explicit: registerParameter / registerBuffer / registerModule(name, value | null).
//  - Automatic: assigning a Parameter or a Module to an own field (`this.fc = new Linear(2, 3)`)
//    registers it the next time the module is inspected (any traversal, stateDict, register*,
//    toString, ...): a lazy scan of own enumerable data fields, in field order.
//  - Either way, once registered, the field is turned into an accessor backed by the registry, so
//    later assignments follow PyTorch's __setattr__ rules: a Parameter replaces the parameter, null
//    keeps the name with no value, a plain Tensor assigned to a parameter name throws (delete the
//    parameter first). A buffer name accepts any Tensor or null; a module name a Module or null.
//  - Deletion: deleteParameter / deleteBuffer / deleteModule remove the registry entry AND the
//    field, after which the name is an ordinary attribute. `delete m.weight` also works (the next
//    scan notices the field is gone), but the methods are clearer and return the removed value.
//  - Subclasses that redeclare an inherited registered field must use `declare weight: Tensor;`
//    (a plain field declaration would redefine it as undefined after the base constructor ran).
//
// Pruning (torch.nn.utils.prune semantics) composes through these seams:
//   const orig = m.deleteParameter('weight');          // 'weight' is now a free attribute name
//   m.registerParameter('weight_orig', orig);
//   m.registerBuffer('weight_mask', mask);
//   m.registerForwardPreHook((mod) => { mod.weight = mul(mod.weight_orig, mod.weight_mask); });
// Layers read `this.weight` in forward(), so they see the tensor the hook computed.

import { Tensor } from '../core/tensor.js';
import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { isFloat, type DType } from '../backend/dtype.js';
import { fmtShape, shapeEquals } from '../backend/shape.js';
import * as ops from '../ops/index.js';
import '../autograd/index.js';
import { keepAll, stepScopeOpen } from '../autograd/tidy.js';
import { Parameter } from './parameter.js';

/** Returned by register*Hook; `remove()` unregisters the hook (idempotent). */
export interface RemovableHandle {
  readonly id: number;
  remove(): void;
}

/** Runs before forward(); may return replacement arguments (an array), or nothing to keep them. */
export type ForwardPreHook<M, Args extends unknown[]> = {
  bivarianceHack(module: M, args: Args): Args | void;
}['bivarianceHack'];

/** Runs after forward(); may return a replacement output, or nothing to keep it. */
export type ForwardHook<M, Args extends unknown[], Out> = {
  bivarianceHack(module: M, args: Args, output: Out): Out | void;
}['bivarianceHack'];

/** Ordered name -> tensor mapping with PyTorch keys ('0.weight', 'layer1.bias'). */
export type StateDict = Map<string, Tensor>;

/** What loadStateDict reports in non-strict mode (empty lists in strict mode). */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Any module, whatever its forward signature. The one deliberate `any` of the public API: a
 * module's argument types appear both in forward() and in its hook signatures, so no other
 * instantiation admits every module (Module<never, unknown> rejects Linear through its hooks).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModule = Module<any, any>;

type ErasedHook = (module: never, ...rest: never[]) => unknown;

type Slot = 'param' | 'buffer' | 'module';

let nextHookId = 1;

function checkName(op: string, name: string): void {
  if (typeof name !== 'string' || name === '') throw new TensorslimError(op, 'name must be a non-empty string');
  if (name.includes('.')) throw new TensorslimError(op, `name '${name}' must not contain '.' (dots separate submodule paths)`);
}

/** A fresh contiguous copy that shares nothing with `t`. */
function cloneTensor(t: Tensor): Tensor {
  return new Tensor(t.dataSync(), t.dtype, t.shape);
}

function indent(s: string, n: number): string {
  const lines = s.split('\n');
  if (lines.length === 1) return s;
  const pad = ' '.repeat(n);
  return [lines[0]!, ...lines.slice(1).map((l) => pad + l)].join('\n');
}

/**
 * Base class for all layers and models, like `torch.nn.Module`. Subclasses implement forward();
 * callers use call(), which also runs the forward hooks.
 *
 * @example
 * class Mlp extends Module<[Tensor], Tensor> {
 *   fc1 = new Linear(4, 8);
 *   act = new ReLU();
 *   fc2 = new Linear(8, 2);
 *   forward(x: Tensor): Tensor { return this.fc2.call(this.act.call(this.fc1.call(x))); }
 * }
 * const net = new Mlp();
 * [...net.stateDict().keys()];  // ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
 */
/** A Map that counts its changes (Module.childrenVersion). */
class VersionedMap<K, V> extends Map<K, V> {
  version = 0;
  override set(key: K, value: V): this { this.version++; return super.set(key, value); }
  override delete(key: K): boolean { const had = super.delete(key); if (had) this.version++; return had; }
}

export abstract class Module<Args extends unknown[] = [Tensor], Out = Tensor> {
  /** True in training mode (the default); set by train()/eval() on the whole tree. */
  training = true;

  readonly #params = new Map<string, Parameter | null>();
  readonly #buffers = new Map<string, Tensor | null>();
  readonly #nonPersistent = new Set<string>();
  readonly #modules = new VersionedMap<string, AnyModule | null>();
  /** Getter installed per registered name; lets the scan tell our accessors from user fields. */
  readonly #getters = new Map<string, () => unknown>();
  // Stored with erased parameter types so that Module<A, O> subclasses stay assignable to AnyModule
  // (private field types take part in structural compatibility); call() restores them.
  readonly #preHooks = new Map<number, ErasedHook>();
  readonly #postHooks = new Map<number, ErasedHook>();

  /** The computation. Call the module with call() so that hooks run. */
  abstract forward(...args: Args): Out;

  /**
   * Run forward pre-hooks (which may replace the arguments), forward(), then forward hooks
   * (which may replace the output).
   *
   * @example
   * const y = new Linear(3, 2).call(ops.ones([4, 3]));   // (4, 2)
   */
  call(...args: Args): Out {
    let a = args;
    if (this.#preHooks.size > 0) {
      for (const h of [...this.#preHooks.values()] as ForwardPreHook<this, Args>[]) {
        const r = h(this, a);
        if (r !== undefined) a = r;
      }
    }
    let out = this.forward(...a);
    if (this.#postHooks.size > 0) {
      for (const h of [...this.#postHooks.values()] as ForwardHook<this, Args, Out>[]) {
        const r = h(this, a, out);
        if (r !== undefined) out = r;
      }
    }
    // a hook may keep what it saw: an open step scope (autograd/tidy.ts) must not release it
    if ((this.#preHooks.size > 0 || this.#postHooks.size > 0) && stepScopeOpen()) keepAll([args, a, out]);
    return out;
  }

  /**
   * Register a hook run before every forward(). Return new args (an array) to replace them.
   * `prepend`: run it before the hooks already registered (ZeRO-3 gathers the parameters that a
   * pruning hook then reads).
   *
   * @example
   * const h = lin.registerForwardPreHook((m, [x]) => [ops.mul(x, 2)]);
   * h.remove();
   */
  registerForwardPreHook(hook: ForwardPreHook<this, Args>, opts: { prepend?: boolean } = {}): RemovableHandle {
    const id = nextHookId++;
    const earlier = opts.prepend ? [...this.#preHooks] : [];
    if (opts.prepend) this.#preHooks.clear();
    this.#preHooks.set(id, hook as ErasedHook);
    for (const [k, h] of earlier) this.#preHooks.set(k, h);
    const map = this.#preHooks;
    return { id, remove: () => { map.delete(id); } };
  }

  /**
   * Register a hook run after every forward(). Return a value to replace the output.
   *
   * @example
   * const seen: number[][] = [];
   * const h = lin.registerForwardHook((m, args, out) => { seen.push([...out.shape]); });
   */
  registerForwardHook(hook: ForwardHook<this, Args, Out>): RemovableHandle {
    const id = nextHookId++;
    this.#postHooks.set(id, hook as ErasedHook);
    const map = this.#postHooks;
    return { id, remove: () => { map.delete(id); } };
  }

  /**
   * Whether a forward pre-hook or forward hook is registered on this module (not its children):
   * a fast path that runs forward() without call() (compileInference, GPT.loss) must not skip them.
   * @example new Linear(2, 2).hasForwardHooks // false
   */
  get hasForwardHooks(): boolean { return this.#preHooks.size > 0 || this.#postHooks.size > 0; }

  /**
   * A number that changes whenever a child module is registered, replaced or removed through the
   * registry (registerModule, deleteModule, a registered name assigned, containers' append/set),
   * so a cached view of the children (compileInference's plan) can tell it is stale without
   * walking them. A module stored under a new field name is seen at the next traversal.
   * @example const v = seq.childrenVersion; seq.append(new ReLU()); seq.childrenVersion !== v // true
   */
  get childrenVersion(): number { return this.#modules.version; }

  // ---------------------------------------------------------------------------------------------
  // Registration

  /**
   * Register (or replace) a parameter under `name`; `null` keeps the name with no value (like a
   * Linear without bias). Afterwards `this[name]` reads and writes the registry.
   * Throws if `name` is already an attribute that is not a parameter (delete it first).
   *
   * @example
   * m.registerParameter('scale', new Parameter(ops.ones([1])));
   */
  registerParameter(name: string, param: Parameter | null): void {
    const op = `${this.#name()}.registerParameter`;
    checkName(op, name);
    if (param !== null && !(param instanceof Parameter)) {
      throw new TensorslimError(op, `'${name}' must be a Parameter or null, got ${describe(param)}; wrap a tensor with new Parameter(t)`);
    }
    this.#sync();
    this.#checkFree(op, name, 'param');
    this.#buffers.delete(name); this.#nonPersistent.delete(name); this.#modules.delete(name);
    this.#params.set(name, param);
    this.#install(name);
  }

  /**
   * Register a buffer: state that is not learned (masks, running statistics). Persistent buffers
   * (the default) appear in stateDict(); `null` keeps the name with no value.
   *
   * @example
   * m.registerBuffer('weight_mask', ops.onesLike(m.weight));
   */
  registerBuffer(name: string, tensor: Tensor | null, persistent = true): void {
    const op = `${this.#name()}.registerBuffer`;
    checkName(op, name);
    if (tensor !== null && !(tensor instanceof Tensor)) {
      throw new TensorslimError(op, `'${name}' must be a Tensor or null, got ${describe(tensor)}`);
    }
    if (tensor instanceof Parameter) {
      throw new TensorslimError(op, `'${name}' is a Parameter; use registerParameter, or pass ops.detach(p) to store it as a buffer`);
    }
    this.#sync();
    this.#checkFree(op, name, 'buffer');
    this.#params.delete(name); this.#modules.delete(name);
    this.#buffers.set(name, tensor);
    if (persistent) this.#nonPersistent.delete(name); else this.#nonPersistent.add(name);
    this.#install(name);
  }

  /**
   * Register a child module under `name` (its parameters become `name.*`); `null` keeps the name.
   *
   * @example
   * m.registerModule('head', new Linear(8, 2));
   */
  registerModule(name: string, module: AnyModule | null): void {
    const op = `${this.#name()}.registerModule`;
    checkName(op, name);
    if (module !== null && !(module instanceof Module)) {
      throw new TensorslimError(op, `'${name}' must be a Module or null, got ${describe(module)}`);
    }
    this.#sync();
    this.#checkFree(op, name, 'module');
    this.#params.delete(name); this.#buffers.delete(name); this.#nonPersistent.delete(name);
    this.#modules.set(name, module);
    this.#install(name);
  }

  /**
   * Remove parameter `name` (registry entry and field) and return it. The name is then a free
   * attribute: pruning sets a plain computed tensor there.
   *
   * @example
   * const orig = lin.deleteParameter('weight');  // lin.weight is now undefined
   */
  deleteParameter(name: string): Parameter | null {
    this.#sync();
    if (!this.#params.has(name)) {
      throw new TensorslimError(`${this.#name()}.deleteParameter`, `no parameter named '${name}'; parameters: [${[...this.#params.keys()].join(', ')}]`);
    }
    const p = this.#params.get(name)!;
    this.#params.delete(name);
    this.#uninstall(name);
    return p;
  }

  /** Remove buffer `name` (registry entry and field) and return it. @example m.deleteBuffer('weight_mask'); */
  deleteBuffer(name: string): Tensor | null {
    this.#sync();
    if (!this.#buffers.has(name)) {
      throw new TensorslimError(`${this.#name()}.deleteBuffer`, `no buffer named '${name}'; buffers: [${[...this.#buffers.keys()].join(', ')}]`);
    }
    const b = this.#buffers.get(name)!;
    this.#buffers.delete(name); this.#nonPersistent.delete(name);
    this.#uninstall(name);
    return b;
  }

  /** Remove child module `name` (registry entry and field) and return it. @example seq.deleteModule('1'); */
  deleteModule(name: string): AnyModule | null {
    this.#sync();
    if (!this.#modules.has(name)) {
      throw new TensorslimError(`${this.#name()}.deleteModule`, `no submodule named '${name}'; submodules: [${[...this.#modules.keys()].join(', ')}]`);
    }
    const m = this.#modules.get(name)!;
    this.#modules.delete(name);
    this.#uninstall(name);
    return m;
  }

  /**
   * The raw child registry in order, including null slots and repeated modules (what containers
   * iterate in forward(); children() reports each module once).
   */
  protected childSlots(): [string, AnyModule | null][] {
    this.#sync();
    return [...this.#modules];
  }

  #name(): string { return this.constructor.name || 'Module'; }

  /** A registered name may be re-registered; otherwise the attribute must not exist (or be an empty placeholder field). */
  #checkFree(op: string, name: string, slot: Slot): void {
    if (this.#slotOf(name) !== null) {
      const cur = this.#slotOf(name)!;
      if (cur === slot) return;
      throw new TensorslimError(op, `'${name}' is already registered as a ${cur === 'param' ? 'parameter' : cur}; delete it first (delete${cur === 'param' ? 'Parameter' : cur === 'buffer' ? 'Buffer' : 'Module'}('${name}'))`);
    }
    const own = Object.getOwnPropertyDescriptor(this, name);
    if (own) {
      if ('value' in own && (own.value === undefined || own.value === null)) return; // a declared field awaiting its value
      throw new TensorslimError(op, `attribute '${name}' already exists (${describe(own.value)}); delete it first (delete m.${name})`);
    }
    if (name in this) throw new TensorslimError(op, `'${name}' would shadow the Module member of that name; pick another name`);
  }

  #slotOf(name: string): Slot | null {
    if (this.#params.has(name)) return 'param';
    if (this.#buffers.has(name)) return 'buffer';
    if (this.#modules.has(name)) return 'module';
    return null;
  }

  #get(name: string): unknown {
    if (this.#params.has(name)) return this.#params.get(name);
    if (this.#buffers.has(name)) return this.#buffers.get(name);
    return this.#modules.get(name);
  }

  /** PyTorch's __setattr__ for a registered name. */
  #set(name: string, value: unknown): void {
    const op = `${this.#name()}.${name}`;
    if (value instanceof Parameter) {
      this.#buffers.delete(name); this.#nonPersistent.delete(name); this.#modules.delete(name);
      this.#params.set(name, value);
    } else if (this.#params.has(name)) {
      if (value !== null && value !== undefined) {
        throw new TensorslimError(op, `cannot assign ${describe(value)} to parameter '${name}' (Parameter or null expected); to set a computed tensor, call deleteParameter('${name}') first`);
      }
      this.#params.set(name, null);
    } else if (value instanceof Module) {
      this.#buffers.delete(name); this.#nonPersistent.delete(name);
      this.#modules.set(name, value as AnyModule);
    } else if (this.#modules.has(name)) {
      if (value !== null && value !== undefined) {
        throw new TensorslimError(op, `cannot assign ${describe(value)} to submodule '${name}' (Module or null expected); call deleteModule('${name}') first`);
      }
      this.#modules.set(name, null);
    } else {
      if (value !== null && value !== undefined && !(value instanceof Tensor)) {
        throw new TensorslimError(op, `cannot assign ${describe(value)} to buffer '${name}' (Tensor or null expected); call deleteBuffer('${name}') first`);
      }
      this.#buffers.set(name, (value ?? null) as Tensor | null);
    }
  }

  #install(name: string): void {
    const get = (): unknown => this.#get(name);
    this.#getters.set(name, get);
    Object.defineProperty(this, name, {
      get, set: (v: unknown) => this.#set(name, v), enumerable: true, configurable: true,
    });
  }

  #uninstall(name: string): void {
    this.#getters.delete(name);
    delete (this as Record<string, unknown>)[name];
  }

  /**
   * Bring the registries up to date with the fields: drop names whose accessor was deleted or
   * overwritten by defineProperty, then register Parameter/Module values held in data fields.
   */
  #sync(): void {
    for (const [name, get] of this.#getters) {
      const d = Object.getOwnPropertyDescriptor(this, name);
      if (d === undefined || d.get !== get) {
        this.#getters.delete(name);
        this.#params.delete(name); this.#buffers.delete(name); this.#nonPersistent.delete(name); this.#modules.delete(name);
      }
    }
    for (const key of Object.keys(this)) {
      if (this.#getters.has(key)) continue;
      const d = Object.getOwnPropertyDescriptor(this, key);
      if (d === undefined || !('value' in d)) continue;
      const v: unknown = d.value;
      if (v instanceof Parameter) { this.#params.set(key, v); this.#install(key); }
      else if (v instanceof Module) { this.#modules.set(key, v as AnyModule); this.#install(key); }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Traversal (arrays, in registration order; shared objects reported once unless asked)

  /**
   * Direct children with their attribute names.
   * @example for (const [name, child] of seq.namedChildren()) console.log(name); // '0', '1', ...
   */
  namedChildren(): [string, AnyModule][] {
    this.#sync();
    const out: [string, AnyModule][] = [];
    const seen = new Set<AnyModule>();
    for (const [name, m] of this.#modules) {
      if (m === null || seen.has(m)) continue;
      seen.add(m);
      out.push([name, m]);
    }
    return out;
  }

  /** Direct children. @example seq.children().length */
  children(): AnyModule[] { return this.namedChildren().map(([, m]) => m); }

  /**
   * This module and all descendants, depth first, with dotted names ('' for this one).
   * @example net.namedModules().map(([n]) => n);  // ['', 'fc1', 'fc2']
   */
  namedModules(prefix = '', removeDuplicate = true): [string, AnyModule][] {
    const out: [string, AnyModule][] = [];
    const memo = new Set<AnyModule>();
    const walk = (m: AnyModule, pre: string): void => {
      if (removeDuplicate) { if (memo.has(m)) return; memo.add(m); }
      out.push([pre, m]);
      m.#sync();
      for (const [name, child] of m.#modules) {
        if (child !== null) walk(child, pre === '' ? name : `${pre}.${name}`);
      }
    };
    walk(this, prefix);
    return out;
  }

  /** This module and all descendants. @example net.modules().filter((m) => m instanceof Linear) */
  modules(): AnyModule[] { return this.namedModules().map(([, m]) => m); }

  /**
   * Parameters with PyTorch dotted names; a parameter shared by two modules is listed once.
   * @example new Sequential(new Linear(2, 3)).namedParameters().map(([n]) => n); // ['0.weight', '0.bias']
   */
  namedParameters(prefix = '', recurse = true, removeDuplicate = true): [string, Parameter][] {
    return this.#namedMembers('param', prefix, recurse, removeDuplicate) as [string, Parameter][];
  }

  /** Parameters (for optimizers). @example new SGD(net.parameters(), { lr: 0.1 }) */
  parameters(recurse = true): Parameter[] { return this.namedParameters('', recurse).map(([, p]) => p); }

  /** Buffers with dotted names (persistent and not). @example m.namedBuffers().map(([n]) => n) */
  namedBuffers(prefix = '', recurse = true, removeDuplicate = true): [string, Tensor][] {
    return this.#namedMembers('buffer', prefix, recurse, removeDuplicate);
  }

  /** Buffers. @example m.buffers().length */
  buffers(recurse = true): Tensor[] { return this.namedBuffers('', recurse).map(([, b]) => b); }

  #namedMembers(slot: 'param' | 'buffer', prefix: string, recurse: boolean, removeDuplicate: boolean): [string, Tensor][] {
    const mods: [string, AnyModule][] = recurse ? this.namedModules(prefix, removeDuplicate) : [[prefix, this]];
    const out: [string, Tensor][] = [];
    const memo = new Set<Tensor>();
    for (const [pre, m] of mods) {
      m.#sync();
      const reg: Map<string, Tensor | null> = slot === 'param' ? m.#params : m.#buffers;
      for (const [name, t] of reg) {
        if (t === null) continue;
        if (removeDuplicate) { if (memo.has(t)) continue; memo.add(t); }
        out.push([pre === '' ? name : `${pre}.${name}`, t]);
      }
    }
    return out;
  }

  /**
   * The submodule at a dotted path ('' is this module).
   * @example net.getSubmodule('encoder.layers.0')
   */
  getSubmodule(target: string): AnyModule {
    let m: AnyModule = this;
    if (target === '') return m;
    const parts = target.split('.');
    for (let i = 0; i < parts.length; i++) {
      m.#sync();
      const child = m.#modules.get(parts[i]!);
      if (!(child instanceof Module)) {
        const at = parts.slice(0, i).join('.') || '<root>';
        throw new TensorslimError('getSubmodule', `${m.#name()} at '${at}' has no submodule '${parts[i]}' (looking up '${target}'); children: [${[...m.#modules.keys()].join(', ')}]`);
      }
      m = child;
    }
    return m;
  }

  /**
   * The parameter at a dotted path.
   * @example net.getParameter('fc1.weight')
   */
  getParameter(target: string): Parameter {
    const i = target.lastIndexOf('.');
    const m = this.getSubmodule(i < 0 ? '' : target.slice(0, i));
    const name = target.slice(i + 1);
    m.#sync();
    const p = m.#params.get(name);
    if (!(p instanceof Parameter)) {
      throw new TensorslimError('getParameter', `${m.#name()} has no parameter '${name}' (looking up '${target}'); parameters: [${[...m.#params.keys()].join(', ')}]`);
    }
    return p;
  }

  /**
   * The buffer at a dotted path.
   * @example net.getBuffer('fc1.weight_mask')
   */
  getBuffer(target: string): Tensor {
    const i = target.lastIndexOf('.');
    const m = this.getSubmodule(i < 0 ? '' : target.slice(0, i));
    const name = target.slice(i + 1);
    m.#sync();
    const b = m.#buffers.get(name);
    if (!(b instanceof Tensor)) {
      throw new TensorslimError('getBuffer', `${m.#name()} has no buffer '${name}' (looking up '${target}'); buffers: [${[...m.#buffers.keys()].join(', ')}]`);
    }
    return b;
  }

  // ---------------------------------------------------------------------------------------------
  // Modes, gradients, apply

  /**
   * Set training mode on this module and all descendants; returns this.
   * @example net.train(); net.training === true
   */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (Dropout off); same as train(false). @example net.eval() */
  eval(): this { return this.train(false); }

  /**
   * Turn gradients on or off for every parameter (freeze a teacher, a backbone); returns this.
   * @example teacher.requiresGrad_(false)
   */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /**
   * Clear gradients: set them to null (default) or fill them with zeros.
   * @example net.zeroGrad()
   */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) {
      if (p.grad === null) continue;
      if (setToNone) p.grad = null;
      else { const g = p.grad; noGrad(() => { ops.zero_(g); }); }
    }
  }

  /**
   * Call fn on every descendant (children first) and then on this module; returns this.
   * @example net.apply((m) => { if (m instanceof Linear) init.zeros_(m.bias!); })
   */
  apply(fn: (module: AnyModule) => void): this {
    for (const c of this.children()) c.apply(fn);
    fn(this);
    return this;
  }

  /**
   * Total number of elements in the parameters (shared ones counted once).
   * @example new Linear(784, 300).numParameters()  // 235500
   */
  numParameters(onlyTrainable = false): number {
    let n = 0;
    for (const p of this.parameters()) if (!onlyTrainable || p.requiresGrad) n += p.size;
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // State dict

  /**
   * Parameters and persistent buffers by PyTorch key, in registration order. Values are detached
   * views sharing storage with the module (as in PyTorch): clone them to keep a snapshot.
   * Shared (tied) tensors appear under every name that holds them.
   *
   * @example
   * [...new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1)).stateDict().keys()]
   * // ['0.weight', '0.bias', '2.weight', '2.bias']
   */
  stateDict(opts: { prefix?: string; keepVars?: boolean } = {}): StateDict {
    const out: StateDict = new Map();
    const keep = opts.keepVars ?? false;
    for (const [key, t] of this.#stateEntries(opts.prefix ?? '')) out.set(key, keep ? t : ops.detach(t));
    return out;
  }

  /** [key, live tensor] for every parameter and persistent buffer, without dedup (PyTorch's state_dict order). */
  #stateEntries(prefix: string): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const walk = (m: AnyModule, pre: string): void => {
      m.#sync();
      for (const [name, p] of m.#params) if (p !== null) out.push([pre + name, p]);
      for (const [name, b] of m.#buffers) if (b !== null && !m.#nonPersistent.has(name)) out.push([pre + name, b]);
      for (const [name, c] of m.#modules) if (c !== null) walk(c, `${pre}${name}.`);
    };
    walk(this, prefix);
    return out;
  }

  /**
   * Copy values from `state` into the existing parameters and buffers (their objects stay the
   * same, so optimizers keep working). Everything is validated first; on any problem one error
   * lists every offending key and nothing is changed. Shape and dtype-kind mismatches always fail;
   * missing and unexpected keys fail only when `strict` (the default). float32 <-> float64 values
   * are converted.
   *
   * @example
   * const saved = cloneStateDict(net.stateDict());  // a snapshot, not views
   * net.loadStateDict(saved);
   * const { missingKeys } = net.loadStateDict(partial, { strict: false });
   */
  loadStateDict(state: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>, opts: { strict?: boolean } = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const src: ReadonlyMap<string, unknown> = state instanceof Map ? state : new Map(Object.entries(state));
    const entries = this.#stateEntries('');
    const expected = new Map(entries);
    const missing: string[] = [];
    const unexpected: string[] = [];
    const bad: string[] = [];
    const copies: [Tensor, Tensor][] = [];
    for (const [key, target] of entries) {
      if (!src.has(key)) { missing.push(key); continue; }
      const v = src.get(key);
      if (!(v instanceof Tensor)) { bad.push(`${key}: value is ${describe(v)}, expected a Tensor`); continue; }
      if (!shapeEquals(v.shape, target.shape)) {
        bad.push(`${key}: shape ${fmtShape(v.shape)} in the state dict vs ${fmtShape(target.shape)} in the model`);
        continue;
      }
      if (v.dtype !== target.dtype && !(isFloat(v.dtype) && isFloat(target.dtype))) {
        bad.push(`${key}: dtype ${v.dtype} in the state dict vs ${target.dtype} in the model`);
        continue;
      }
      copies.push([target, v]);
    }
    for (const key of src.keys()) if (!expected.has(key)) unexpected.push(key);
    const problems: string[] = [];
    if (strict && missing.length > 0) {
      problems.push(`missing keys (in the model, not in the state dict): ${missing.map((k) => `${k} ${fmtShape(expected.get(k)!.shape)}`).join(', ')}`);
    }
    if (strict && unexpected.length > 0) {
      problems.push(`unexpected keys (in the state dict, not in the model): ${unexpected.map((k) => { const v = src.get(k); return v instanceof Tensor ? `${k} ${fmtShape(v.shape)}` : k; }).join(', ')}`);
    }
    if (bad.length > 0) problems.push(`mismatched: ${bad.join('; ')}`);
    if (problems.length > 0) {
      const hint = strict && (missing.length > 0 || unexpected.length > 0)
        ? '\n  fix: check that the checkpoint matches this architecture, or pass { strict: false } to load only the matching keys (shape/dtype mismatches still fail)'
        : '';
      throw new TensorslimError(`loadStateDict(${this.#name()})`, `nothing was loaded:\n  ${problems.join('\n  ')}${hint}`);
    }
    noGrad(() => {
      for (const [target, v] of copies) {
        if (v === target) continue;
        ops.assign(target, v.dtype === target.dtype ? v : ops.to(v, target.dtype));
      }
    });
    return { missingKeys: strict ? [] : missing, unexpectedKeys: strict ? [] : unexpected };
  }

  // ---------------------------------------------------------------------------------------------
  // Conversion and printing

  /**
   * Convert floating-point parameters and buffers to `dtype` (float32 or float64); returns this.
   * Parameters already of that dtype keep their identity; converted ones are NEW Parameter objects
   * (tensor storage is typed, so it cannot change dtype in place): create optimizers after to().
   * Tied parameters stay tied. Gradients are converted too.
   *
   * @example
   * const net = new Linear(2, 2).to('float64');  // net.weight.dtype === 'float64'
   */
  to(dtype: DType): this {
    if (!isFloat(dtype)) {
      throw new TensorslimError(`${this.#name()}.to`, `only floating-point dtypes are supported (float32, float64), got ${dtype}; integer state is never converted`);
    }
    const converted = new Map<Tensor, Tensor>();
    const conv = (t: Tensor): Tensor => {
      let c = converted.get(t);
      if (c === undefined) {
        const data = noGrad(() => ops.to(ops.detach(t), dtype));
        if (t instanceof Parameter) {
          const p = new Parameter(data, t.requiresGrad);
          if (t.grad !== null) p.grad = noGrad(() => ops.to(t.grad!, dtype));
          c = p;
        } else c = data;
        converted.set(t, c);
      }
      return c;
    };
    for (const m of this.modules()) {
      for (const [name, p] of m.#params) {
        if (p !== null && isFloat(p.dtype) && p.dtype !== dtype) m.#params.set(name, conv(p) as Parameter);
      }
      for (const [name, b] of m.#buffers) {
        if (b !== null && isFloat(b.dtype) && b.dtype !== dtype) m.#buffers.set(name, conv(b));
      }
    }
    return this;
  }

  /** One-line description of this module's settings, shown by toString(). Override in layers. */
  extraRepr(): string { return ''; }

  /**
   * The module tree, like PyTorch's repr.
   * @example
   * String(new Sequential(new Linear(2, 3), new ReLU()))
   * // Sequential(
   * //   (0): Linear(inFeatures=2, outFeatures=3, bias=true)
   * //   (1): ReLU()
   * // )
   */
  toString(): string {
    this.#sync();
    const extra = this.extraRepr();
    const extraLines = extra ? extra.split('\n') : [];
    const childLines: string[] = [];
    for (const [key, m] of this.#modules) childLines.push(`(${key}): ${indent(m === null ? 'null' : m.toString(), 2)}`);
    const lines = [...extraLines, ...childLines];
    let s = `${this.#name()}(`;
    if (lines.length > 0) {
      if (extraLines.length === 1 && childLines.length === 0) s += extraLines[0];
      else s += `\n  ${lines.join('\n  ')}\n`;
    }
    return `${s})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string { return this.toString(); }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (v instanceof Parameter) return `a Parameter of shape ${fmtShape(v.shape)}`;
  if (v instanceof Tensor) return `a Tensor of shape ${fmtShape(v.shape)}`;
  if (v instanceof Module) return `a ${v.constructor.name} module`;
  return typeof v === 'object' ? `an object (${(v as object).constructor?.name ?? 'Object'})` : `a ${typeof v}`;
}

/** Snapshot helper for tests and checkpoints: a contiguous copy sharing no storage. */
export function cloneStateDict(sd: ReadonlyMap<string, Tensor>): StateDict {
  return new Map([...sd].map(([k, v]) => [k, cloneTensor(v)]));
}
