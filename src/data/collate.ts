// Default collation: turn a list of samples into one batch, the way PyTorch's default_collate does
// for tensors, numbers, tuples/arrays and plain objects (recursively).

import { allocate, type DType } from '../backend/dtype.js';
import { fmtShape, numel } from '../backend/shape.js';
import { ShapeError, TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { stack } from '../ops/index.js';

/**
 * The batch type the default collation makes from samples of type T: tensors and numbers become
 * one tensor with a leading batch axis; arrays/tuples and objects are collated field by field.
 */
export type Collated<T> = T extends Tensor | number | boolean
  ? Tensor
  : T extends readonly unknown[]
    ? { -readonly [K in keyof T]: Collated<T[K]> }
    : T extends object
      ? { [K in keyof T]: Collated<T[K]> }
      : never;

/**
 * Collate samples into a batch: tensors of equal shape S -> one (B, ...S) tensor; numbers -> a (B,)
 * tensor (int32 if all are integers, else float32); booleans -> bool (B,); arrays and objects field
 * by field.
 * @example defaultCollate([[x0, 3], [x1, 5]]) // [ (2, ...x0.shape) tensor, int32 tensor [3, 5] ]
 */
export function defaultCollate<T>(items: readonly T[]): Collated<T> {
  if (items.length === 0) throw new TensorslimError('collate', 'cannot collate an empty list of samples');
  return collateAny(items as readonly unknown[], 'sample') as Collated<T>;
}

function collateAny(items: readonly unknown[], path: string): unknown {
  const first = items[0];
  if (first instanceof Tensor) return collateTensors(items, path);
  if (typeof first === 'number' || typeof first === 'boolean') return collateScalars(items, path);
  if (Array.isArray(first)) {
    const n = first.length;
    for (const it of items) {
      if (!Array.isArray(it) || it.length !== n) throw new TensorslimError('collate', `${path}: every sample must be an array of length ${n}, got ${describe(it)}`);
    }
    return first.map((_, k) => collateAny(items.map((it) => (it as unknown[])[k]), `${path}[${k}]`));
  }
  if (first !== null && typeof first === 'object') {
    const keys = Object.keys(first);
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      out[key] = collateAny(items.map((it) => {
        if (it === null || typeof it !== 'object' || !(key in it)) throw new TensorslimError('collate', `${path}: sample lacks field '${key}'`);
        return (it as Record<string, unknown>)[key];
      }), `${path}.${key}`);
    }
    return out;
  }
  throw new TensorslimError('collate', `${path}: cannot collate values of type ${describe(first)}; pass a collate function to the DataLoader`);
}

function collateTensors(items: readonly unknown[], path: string): Tensor {
  const first = items[0] as Tensor;
  for (const it of items) {
    if (!(it instanceof Tensor)) throw new TensorslimError('collate', `${path}: mixes tensors with ${describe(it)}`);
    if (it.dtype !== first.dtype || it.ndim !== first.ndim || it.shape.some((d, i) => d !== first.shape[i])) {
      throw new ShapeError('collate', `${path}: all samples must have the same shape and dtype to be stacked, got ${fmtShape(first.shape)} ${first.dtype} and ${fmtShape(it.shape)} ${it.dtype}; pad them or pass a collate function`);
    }
  }
  const tensors = items as readonly Tensor[];
  if (tensors.some((t) => t.requiresGrad)) return stack(tensors, 0); // keep the graph
  const row = numel(first.shape);
  const out = allocate(first.dtype, tensors.length * row);
  tensors.forEach((t, k) => out.set(t.dataSync(), k * row));
  return new Tensor(out, first.dtype, [tensors.length, ...first.shape]);
}

function collateScalars(items: readonly unknown[], path: string): Tensor {
  const kind = typeof items[0];
  for (const it of items) if (typeof it !== kind) throw new TensorslimError('collate', `${path}: mixes ${kind} with ${describe(it)}`);
  const dtype: DType = kind === 'boolean' ? 'bool' : (items as number[]).every((v) => Number.isInteger(v) && Math.abs(v) <= 2147483647) ? 'int32' : 'float32';
  const out = allocate(dtype, items.length);
  items.forEach((v, k) => { out[k] = typeof v === 'boolean' ? (v ? 1 : 0) : (v as number); });
  return new Tensor(out, dtype, [items.length]);
}

function describe(v: unknown): string {
  if (v instanceof Tensor) return `a tensor of shape ${fmtShape(v.shape)}`;
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  return v === null ? 'null' : typeof v;
}
