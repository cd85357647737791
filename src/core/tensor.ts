// The Tensor handle: storage (a typed array owned by JS) + dtype + shape + strides + offset.
// Views share storage. Math lives in ops/ and is attached as methods by autograd/methods.ts,
// so this file depends on nothing above the core.

import type { View } from '../backend/backend.js';
import { allocate, isFloat, type DType, type TypedArray } from '../backend/dtype.js';
import { getBackend } from '../backend/registry.js';
import '../backends/index.js'; // registers the built-in backends as lazy providers (loads nothing)
import { contiguousStrides, isContiguous, numel, type Shape } from '../backend/shape.js';
import { DTypeError, TensorslimError } from './errors.js';

/** A node of the autograd tape, as far as the core needs to know it. */
export interface GradNode {
  readonly kernel: string;
}

let nextId = 1;

// Frozen contiguous strides of frozen shapes, by the shape array's identity.
const stridesOf = new WeakMap<Shape, readonly number[]>();
function denseStrides(shape: Shape): readonly number[] {
  let s = stridesOf.get(shape);
  if (s === undefined) { s = Object.freeze(contiguousStrides(shape)); stridesOf.set(shape, s); }
  return s;
}
const storageVersions = new WeakMap<ArrayBufferLike, number>();
// Typed arrays whose storage a step scope gave back to the storage pool (autograd/tidy.ts): every
// tensor over one (the tensor, its views, detach()) is dead, and reading it through a kernel throws.
let revoked: WeakSet<TypedArray> | null = null;

/**
 * Mark `data` dead: its storage went back to the storage pool (autograd/tidy.ts calls it), so every
 * tensor over this typed array throws when a kernel, dataSync(), item() or toArray() reads it,
 * instead of reading storage that a newer tensor now owns.
 * @example revokeStorage(t.data); t.item() // throws
 */
export function revokeStorage(data: TypedArray): void { (revoked ??= new WeakSet()).add(data); }

function deadTensor(): TensorslimError {
  return new TensorslimError('tensor', 'this tensor\'s storage was given back to the storage pool when the tidy() step that made it ended (it was not returned, kept or reachable from the step\'s roots); call keep(t) (or return it) inside the step, or clone it there');
}

export class Tensor {
  /** Storage, shared by all views of the same data. */
  readonly data: TypedArray;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly id: number = nextId++;
  /** Accumulated gradient after backward(), for tensors that require grad. */
  grad: Tensor | null = null;
  /** The tape node that produced this tensor; null for leaves. */
  gradFn: GradNode | null = null;
  /**
   * Bumped by in-place writes; the tape uses it to refuse stale saved tensors. One counter per
   * storage, shared by all views of it (a write through a slice is seen by the base), as in PyTorch.
   */
  get version(): number { return storageVersions.get(this.data.buffer) ?? 0; }
  set version(v: number) { storageVersions.set(this.data.buffer, v); }
  private requiresGradFlag = false;

  constructor(data: TypedArray, dtype: DType, shape: Shape, strides?: Shape, offset = 0) {
    this.data = data;
    this.dtype = dtype;
    // A frozen array (another tensor's shape or strides) is shared, not copied: it cannot change.
    // Freezing costs more than the rest of the constructor, so the contiguous strides of a frozen
    // shape are made once and shared too (docs/NATIVE.md "Per-op overhead").
    const frozen = Object.isFrozen(shape);
    this.shape = frozen ? shape : Object.freeze([...shape]);
    this.strides = strides ? (Object.isFrozen(strides) ? strides : Object.freeze([...strides])) : frozen ? denseStrides(shape) : Object.freeze(contiguousStrides(shape));
    this.offset = offset;
  }

  /** Whether gradients flow to this tensor. Only floating-point tensors can require grad. */
  get requiresGrad(): boolean { return this.requiresGradFlag; }
  set requiresGrad(v: boolean) {
    if (v && !isFloat(this.dtype)) {
      throw new DTypeError('requiresGrad', `only floating-point tensors can require gradients, got ${this.dtype}; convert with .to('float32')`);
    }
    if (!v && this.gradFn !== null) {
      throw new DTypeError('requiresGrad', 'cannot turn off requiresGrad on a non-leaf tensor; use .detach()');
    }
    this.requiresGradFlag = v;
  }

  /** Set requiresGrad and return this (chainable, like requires_grad_()). */
  requiresGrad_(v = true): this { this.requiresGrad = v; return this; }

  /** True for tensors not produced by a recorded op (user-created tensors and parameters). */
  get isLeaf(): boolean { return this.gradFn === null; }
  get ndim(): number { return this.shape.length; }
  /** Number of elements. */
  get size(): number { return numel(this.shape); }
  isContiguous(): boolean { return isContiguous(this.shape, this.strides); }

  /** The strided window backends read. */
  view_(): View {
    if (revoked !== null && revoked.has(this.data)) throw deadTensor();
    return { data: this.data, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  /** A fresh contiguous typed array with this tensor's values, in its dtype. */
  dataSync(): TypedArray {
    if (revoked !== null && revoked.has(this.data)) throw deadTensor();
    if (this.isContiguous() && this.offset === 0 && this.data.length === this.size) return this.data.slice();
    return getBackend().copy(this.view_(), this.dtype);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (revoked !== null && revoked.has(this.data)) throw deadTensor();
    if (this.size !== 1) throw new DTypeError('item', `only one-element tensors can be converted to a number, got shape (${this.shape.join(', ')})`);
    return this.data[this.offset]!;
  }

  /** Nested arrays of numbers (booleans for bool tensors). */
  toArray(): NestedArray {
    const flat = this.dataSync();
    const isBool = this.dtype === 'bool';
    if (this.shape.length === 0) return isBool ? flat[0] !== 0 : flat[0]!;
    let pos = 0;
    const build = (axis: number): NestedArray => {
      const n = this.shape[axis]!;
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) {
        if (axis === this.shape.length - 1) { const v = flat[pos++]!; out.push(isBool ? v !== 0 : v); }
        else out.push(build(axis + 1));
      }
      return out;
    };
    return build(0);
  }

  /** PyTorch-like printout: tensor([[1.0000, 2.0000]], dtype=float64, requiresGrad=true). */
  toString(): string {
    const flat = this.dataSync();
    const fl = isFloat(this.dtype);
    const fmt = (v: number): string => {
      if (this.dtype === 'bool') return v ? 'true' : 'false';
      if (!fl) return String(v);
      if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
      const a = Math.abs(v);
      return a !== 0 && (a >= 1e5 || a < 1e-4) ? v.toExponential(4) : v.toFixed(4);
    };
    const strs = Array.from(flat, fmt);
    const width = strs.reduce((m, s) => Math.max(m, s.length), 0);
    const limit = this.size > 1000;
    let pos = 0;
    const build = (axis: number, indent: number): string => {
      if (this.shape.length === 0) return strs[0]!;
      const n = this.shape[axis]!;
      const items: string[] = [];
      const last = axis === this.shape.length - 1;
      const inner = last ? 1 : numel(this.shape.slice(axis + 1));
      for (let i = 0; i < n; i++) {
        if (limit && n > 6 && i === 3) { items.push('...'); pos += inner * (n - 6); i = n - 4; continue; }
        items.push(last ? strs[pos++]!.padStart(width) : build(axis + 1, indent + 1));
      }
      const sep = last ? ', ' : ',' + '\n'.repeat(this.shape.length - axis - 1) + ' '.repeat(indent + 1);
      return '[' + items.join(sep) + ']';
    };
    const extras: string[] = [];
    if (this.dtype !== 'float32') extras.push(`dtype=${this.dtype}`);
    if (this.gradFn) extras.push(`gradFn=${this.gradFn.kernel}`);
    else if (this.requiresGrad) extras.push('requiresGrad=true');
    return `tensor(${build(0, 7)}${extras.length ? ', ' + extras.join(', ') : ''})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string { return this.toString(); }
}

export type NestedArray = number | boolean | NestedArray[];

/** Wrap a fresh contiguous buffer as a tensor. */
export function fromBuffer(data: TypedArray, dtype: DType, shape: Shape): Tensor {
  return new Tensor(data, dtype, shape);
}

/** A contiguous tensor of zeros. */
export function emptyLike(shape: Shape, dtype: DType): Tensor {
  return new Tensor(allocate(dtype, numel(shape)), dtype, shape);
}
