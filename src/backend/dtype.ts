// Data types and their typed-array storage. The lowest layer: no Tensor, no autograd here.
// bool is stored as one byte per element (0 or 1), like PyTorch's torch.bool.

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

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'float32' || dtype === 'float64';
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
