// Data types and their typed-array storage. The lowest layer: no Tensor, no autograd here.
// bool is stored as one byte per element (0 or 1), like PyTorch's torch.bool.

import { acquire } from './pool.js';

export type DType = 'float32' | 'float64' | 'int32' | 'bool' | 'uint8';
export type FloatDType = 'float32' | 'float64';

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'bool', 'uint8'];

/** Allocate zeroed storage of `n` elements for `dtype`. */
export function allocate(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int32': return new Int32Array(n);
    case 'bool': case 'uint8': return new Uint8Array(n);
  }
}

/**
 * Below this many bytes a zeroed typed array costs less than uninitialized storage: V8 allocates
 * small typed arrays cheaply (tiny ones on its own heap), and the zeroing is a few cache lines.
 */
const UNINIT_MIN_BYTES = 16384;

// A Node.js Buffer constructor when there is one (uninitialized storage needs Buffer.allocUnsafeSlow).
interface BufferCtor { allocUnsafeSlow(size: number): Uint8Array }
const NodeBuffer: BufferCtor | undefined = (globalThis as { Buffer?: BufferCtor }).Buffer;

// Test hook: when set, uninitialized storage is filled with this byte (see setUninitPoison).
let poison: number | null = (() => {
  const e = typeof process !== 'undefined' ? process.env['TENSORSLIM_POISON_UNINIT'] : undefined;
  if (e === undefined || e === '' || e === '0') return null;
  const v = Number(e);
  return Number.isInteger(v) && v >= 0 && v <= 255 && e !== '1' ? v : 0xff;
})();

/**
 * Allocate storage of `n` elements for `dtype` WITHOUT zeroing it (its bytes are whatever the
 * allocator held: old tensor data). Only for outputs a kernel overwrites completely before anyone
 * can read them. Large sizes come from `Buffer.allocUnsafeSlow` (malloc, no memset: a whole write
 * pass saved); small ones, and runtimes without Node's Buffer, get zeroed storage. The array
 * always starts at byte 0 of its own ArrayBuffer (malloc alignment, >= 16 bytes), so Float64Array
 * is fine. The storage pool (pool.ts) serves it first when it has a free buffer of the size class
 * (then the array covers the first n elements of a possibly larger ArrayBuffer) or a backward pass
 * is tracking its temporaries. Set TENSORSLIM_POISON_UNINIT=1 (or a byte value) to fill it with a poison byte instead
 * (0xff: NaN in floats, -1 in int32), which makes any element a kernel failed to write visible.
 * @example const out = allocateUninit('float32', 1 << 20); kernel(x, out) // writes every element
 */
export function allocateUninit(dtype: DType, n: number): TypedArray {
  const size = itemSize(dtype);
  const pooled = acquire(n * size); // the storage pool first (pool.ts): reused storage, or null
  if (pooled !== null) {
    if (poison !== null) new Uint8Array(pooled, 0, n * size).fill(poison);
    return view(dtype, pooled, n);
  }
  if (NodeBuffer === undefined || n * size < UNINIT_MIN_BYTES) {
    if (poison === null) return allocate(dtype, n);
    const z = allocate(dtype, n);
    new Uint8Array(z.buffer, z.byteOffset, z.byteLength).fill(poison);
    return z;
  }
  let raw: Uint8Array;
  try {
    raw = NodeBuffer.allocUnsafeSlow(n * size);
  } catch (e) {
    throw new RangeError(`allocateUninit: cannot allocate ${n} ${dtype} elements (${n * size} bytes): ${(e as Error).message}; use smaller tensors (batch, sequence or model size)`);
  }
  if (poison !== null) raw.fill(poison);
  const buf = raw.buffer as ArrayBuffer; // its own ArrayBuffer, byteOffset 0 (allocUnsafeSlow never pools)
  return view(dtype, buf, n);
}

function view(dtype: DType, buf: ArrayBuffer, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buf, 0, n);
    case 'float64': return new Float64Array(buf, 0, n);
    case 'int32': return new Int32Array(buf, 0, n);
    case 'bool': case 'uint8': return new Uint8Array(buf, 0, n);
  }
}

/**
 * Test hook: fill all later uninitialized storage (allocateUninit) with `byte` (0..255), or stop
 * with null. Returns the previous setting. Tests use it to prove kernels write every output element.
 * @example const prev = setUninitPoison(0xff); try { ... } finally { setUninitPoison(prev); }
 */
export function setUninitPoison(byte: number | null): number | null {
  if (byte !== null && (!Number.isInteger(byte) || byte < 0 || byte > 255)) {
    throw new RangeError(`setUninitPoison: expected a byte 0..255 or null, got ${byte}`);
  }
  const prev = poison;
  poison = byte;
  return prev;
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'float32' || dtype === 'float64';
}

/**
 * Whether a typed array holds floats (the arrays the float kernels take).
 * @example isFloatArray(new Float32Array(2)) // true; isFloatArray(new Int32Array(2)) // false
 */
export function isFloatArray(a: TypedArray): a is Float32Array | Float64Array {
  return a instanceof Float32Array || a instanceof Float64Array;
}

/** The dtype a typed array naturally holds (Uint8Array maps to uint8). */
export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  return 'uint8';
}

const RANK: Record<DType, number> = { bool: 0, uint8: 1, int32: 2, float32: 3, float64: 4 };

/** Type promotion for binary ops, as PyTorch does for tensors of these dtypes. */
export function promoteTypes(a: DType, b: DType): DType {
  return RANK[a] >= RANK[b] ? a : b;
}

/** Bytes per element. */
export function itemSize(dtype: DType): number {
  switch (dtype) {
    case 'float64': return 8;
    case 'float32': case 'int32': return 4;
    default: return 1;
  }
}
