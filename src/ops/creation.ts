// Tensor creation: from data, constants, ranges and seeded random numbers.

import { allocate, allocateUninit, dtypeOfArray, isFloat, type DType, type TypedArray } from '../backend/dtype.js';
import { fmtShape, numel, type Shape } from '../backend/shape.js';
import { DTypeError, ShapeError, TensorslimError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { Tensor, type NestedArray } from '../core/tensor.js';

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RandomOptions extends TensorOptions {
  generator?: Generator;
}

function finish(t: Tensor, opts: TensorOptions | undefined): Tensor {
  if (opts?.requiresGrad) t.requiresGrad = true;
  return t;
}

function checkShape(op: string, shape: Shape): void {
  if (!Array.isArray(shape)) throw new ShapeError(op, `shape must be an array of non-negative integers, got ${String(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `shape must be non-negative integers, got ${fmtShape(shape)}`);
  }
  // one typed array holds at most 2^32 elements; say so instead of V8's bare "Invalid typed array length"
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > MAX_ELEMENTS) throw new ShapeError(op, `shape ${fmtShape(shape)} has ${n.toExponential(3)} elements; a tensor holds at most 2^32 (${MAX_ELEMENTS.toLocaleString('en-US')}); use a smaller shape`);
}

const MAX_ELEMENTS = 2 ** 32;

/** allocate() with an error naming the op, shape and bytes when memory runs out. */
function allocateFor(op: string, dtype: DType, shape: Shape, uninit = false): TypedArray {
  try {
    return uninit ? allocateUninit(dtype, numel(shape)) : allocate(dtype, numel(shape));
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new TensorslimError(op, `cannot allocate ${fmtShape(shape)} ${dtype} (${e.message}); use a smaller shape`);
  }
}

/**
 * Create a tensor from nested arrays, a typed array or a number.
 * @example tensor([[1, 2], [3, 4]], { requiresGrad: true })
 * @example tensor(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] })
 */
export function tensor(data: NestedArray | TypedArray | readonly NestedArray[], opts: TensorOptions & { shape?: Shape } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const typed = data as TypedArray;
    const dtype = opts.dtype ?? dtypeOfArray(typed);
    const shape = opts.shape ?? [typed.length];
    checkShape('tensor', shape);
    if (numel(shape) !== typed.length) {
      throw new ShapeError('tensor', `shape ${fmtShape(shape)} holds ${numel(shape)} elements but the typed array has ${typed.length}`);
    }
    const store = allocate(dtype, typed.length);
    if (dtype === 'bool') for (let i = 0; i < typed.length; i++) store[i] = typed[i] !== 0 ? 1 : 0;
    else store.set(typed as ArrayLike<number>);
    return finish(new Tensor(store, dtype, shape), opts);
  }
  // nested arrays or a scalar: infer the shape, check it is rectangular
  const shape: number[] = [];
  let probe: unknown = data;
  while (Array.isArray(probe)) { shape.push(probe.length); probe = probe[0]; }
  const isBool = typeof probe === 'boolean';
  const dtype = opts.dtype ?? (isBool ? 'bool' : 'float32');
  const out = allocate(dtype, numel(shape));
  let pos = 0;
  const walk = (v: unknown, axis: number): void => {
    if (axis === shape.length) {
      if (typeof v === 'number') out[pos++] = dtype === 'bool' ? (v !== 0 ? 1 : 0) : v;
      else if (typeof v === 'boolean') out[pos++] = v ? 1 : 0;
      else throw new TensorslimError('tensor', `expected a number or boolean at depth ${axis}, got ${typeof v}`);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[axis]) {
      throw new ShapeError('tensor', `nested arrays are not rectangular: expected length ${shape[axis]} at depth ${axis}, got ${Array.isArray(v) ? v.length : typeof v}`);
    }
    for (const e of v) walk(e, axis + 1);
  };
  walk(data, 0);
  let finalShape: Shape = shape;
  if (opts.shape) {
    checkShape('tensor', opts.shape);
    if (numel(opts.shape) !== out.length) {
      throw new ShapeError('tensor', `shape ${fmtShape(opts.shape)} holds ${numel(opts.shape)} elements but the data has ${out.length}`);
    }
    finalShape = opts.shape;
  }
  return finish(new Tensor(out, dtype, finalShape), opts);
}

/** A tensor filled with `value`. @example full([2, 3], 7) */
export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  return filled('full', shape, value, opts);
}

function filled(op: string, shape: Shape, value: number, opts: TensorOptions): Tensor {
  checkShape(op, shape);
  const dtype = opts.dtype ?? 'float32';
  const data = allocateFor(op, dtype, shape);
  if (value !== 0) data.fill(dtype === 'bool' ? (value ? 1 : 0) : value);
  return finish(new Tensor(data, dtype, shape), opts);
}

/**
 * An UNINITIALIZED tensor, like torch.empty: its values are whatever the memory held (often a freed
 * tensor's data, possibly NaN). Use it only as storage you overwrite completely, e.g. the `out` of
 * an elementwise op; it skips the zero-fill pass that zeros() pays.
 * @example const out = empty([1024, 1024]); add(a, b, { out })
 */
export function empty(shape: Shape, opts: TensorOptions = {}): Tensor {
  checkShape('empty', shape);
  const dtype = opts.dtype ?? 'float32';
  return finish(new Tensor(allocateFor('empty', dtype, shape, true), dtype, shape), opts);
}

/** @example zeros([2, 3]) */
export function zeros(shape: Shape, opts: TensorOptions = {}): Tensor { return filled('zeros', shape, 0, opts); }
/** @example ones([2, 3], { dtype: 'float64' }) */
export function ones(shape: Shape, opts: TensorOptions = {}): Tensor { return filled('ones', shape, 1, opts); }
/** Zeros with `t`'s shape and (by default) dtype. */
export function zerosLike(t: Tensor, opts: TensorOptions = {}): Tensor { return full(t.shape, 0, { dtype: t.dtype, ...opts }); }
export function onesLike(t: Tensor, opts: TensorOptions = {}): Tensor { return full(t.shape, 1, { dtype: t.dtype, ...opts }); }
export function fullLike(t: Tensor, value: number, opts: TensorOptions = {}): Tensor { return full(t.shape, value, { dtype: t.dtype, ...opts }); }

/**
 * Values from start (inclusive) to end (exclusive) by step. Integer arguments give int32, like torch.arange.
 * @example arange(5)           // [0, 1, 2, 3, 4]
 * @example arange(0, 1, 0.25)  // [0, 0.25, 0.5, 0.75]
 */
export function arange(start: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (end === undefined) { end = start; start = 0; }
  if (step === 0 || !Number.isFinite(step)) throw new TensorslimError('arange', `step must be a non-zero finite number, got ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  const allInt = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const dtype = opts.dtype ?? (allInt ? 'int32' : 'float32');
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return finish(new Tensor(data, dtype, [n]), opts);
}

/** `steps` evenly spaced values from start to end inclusive. @example linspace(0, 1, 5) */
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new TensorslimError('linspace', `steps must be a non-negative integer, got ${steps}`);
  const dtype = opts.dtype ?? 'float32';
  const data = allocate(dtype, steps);
  const d = steps > 1 ? (end - start) / (steps - 1) : 0;
  // the second half is computed from the end, as PyTorch does, so the last value is exactly `end`
  for (let i = 0; i < steps; i++) data[i] = i < steps / 2 ? start + i * d : end - (steps - 1 - i) * d;
  return finish(new Tensor(data, dtype, [steps]), opts);
}

/** Identity matrix (n, m). @example eye(3) */
export function eye(n: number, m: number = n, opts: TensorOptions = {}): Tensor {
  const t = zeros([n, m], opts);
  for (let i = 0; i < Math.min(n, m); i++) t.data[i * m + i] = 1;
  return t;
}

function randomFill(op: string, shape: Shape, opts: RandomOptions, draw: (g: Generator) => number): Tensor {
  checkShape(op, shape);
  const dtype = opts.dtype ?? 'float32';
  if (!isFloat(dtype)) throw new DTypeError(op, `dtype must be float32 or float64, got ${dtype}`);
  const g = opts.generator ?? defaultGenerator;
  const data = allocate(dtype, numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = draw(g);
  return finish(new Tensor(data, dtype, shape), opts);
}

/** Uniform [0, 1) from the seeded generator. @example manualSeed(0); rand([2, 2]) */
export function rand(shape: Shape, opts: RandomOptions = {}): Tensor {
  return randomFill('rand', shape, opts, (g) => g.uniform());
}

/** Standard normal from the seeded generator. @example randn([3]) */
export function randn(shape: Shape, opts: RandomOptions = {}): Tensor {
  return randomFill('randn', shape, opts, (g) => g.normal());
}

/** Integers uniform in [low, high), int32. @example randint(0, 10, [5]) */
export function randint(low: number, high: number, shape: Shape, opts: RandomOptions = {}): Tensor {
  checkShape('randint', shape);
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new TensorslimError('randint', `need integers low < high, got low=${low}, high=${high}`);
  }
  const g = opts.generator ?? defaultGenerator;
  const dtype = opts.dtype ?? 'int32';
  const data = allocate(dtype, numel(shape));
  for (let i = 0; i < data.length; i++) data[i] = g.randint(low, high);
  return new Tensor(data, dtype, shape);
}
