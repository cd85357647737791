// The native backend's sparse x dense kernel (native/src/sparse.cc): csrLinear, y = x W^T + b with
// W in CSR form, offered as the backend's optional `csrLinear` method with the CsrLinearKernel
// signature of src/compress/prune/csr.ts (SparseLinear calls it when the active backend has it).
// Offered only when the loaded addon has it (an addon built before it simply lacks it, and
// SparseLinear then runs csrLinearReference). The addon checks lengths, dtypes and the CSR
// structure itself, and throws (naming csrLinear) on a corrupt matrix.

import type { TypedArray } from '../../backend/dtype.js';

type FloatArray = Float32Array | Float64Array;

/** A (rows, cols) CSR matrix, structurally the CsrMatrix of compress/prune/csr.ts. */
export interface NativeCsrMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly crowIndices: Int32Array;
  readonly colIndices: Int32Array;
  readonly values: FloatArray;
}

/** y = x W^T + b: x (batch, cols) row-major, out (batch, rows), bias (rows) or null. */
export type NativeCsrLinear = (x: FloatArray, batch: number, w: NativeCsrMatrix, bias: FloatArray | null, out: FloatArray) => void;

interface SparseAddon {
  csrLinear?(x: TypedArray, batch: number, rows: number, cols: number, crow: Int32Array, col: Int32Array,
    values: TypedArray, bias: TypedArray | null, out: TypedArray): void;
}

/**
 * The sparse kernels of `addon`, or {} when it was built without them.
 * @example const backend = { ...otherKernels, ...sparseKernels(addon) };  // backend.csrLinear?.(x, 1, w, b, out)
 */
export function sparseKernels(addon: object): { csrLinear?: NativeCsrLinear } {
  const a = addon as SparseAddon;
  const k = a.csrLinear;
  if (typeof k !== 'function') return {};
  return {
    csrLinear(x, batch, w, bias, out) {
      k.call(addon, x, batch, w.rows, w.cols, w.crowIndices, w.colIndices, w.values, bias, out);
    },
  };
}
