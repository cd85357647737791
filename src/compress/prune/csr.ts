// CSR (compressed sparse row) storage of a 2-D weight and the reference sparse x dense kernel.
// Everything here sees typed arrays only (no Tensor, no autograd, no modules): a native backend can
// supply a SIMD/threaded twin with the CsrLinearKernel signature (as an optional `csrLinear`
// method on the backend object) and be tested against csrLinearReference.
//
// Layout, as PyTorch's sparse CSR tensors (torch.sparse_csr_tensor): crowIndices (rows + 1,
// int32), colIndices (nnz, int32, strictly ascending within a row), values (nnz). Row r holds
// entries crowIndices[r] .. crowIndices[r + 1] - 1.

import { TensorslimError } from '../../core/errors.js';

export type FloatArray = Float32Array | Float64Array;

/** A (rows, cols) matrix in CSR form. */
export interface CsrMatrix {
  readonly rows: number;
  readonly cols: number;
  readonly crowIndices: Int32Array;
  readonly colIndices: Int32Array;
  readonly values: FloatArray;
}

/**
 * y = x W^T + b with W in CSR: x (batch, cols) row-major, out (batch, rows), bias (rows) or null.
 * Writes every entry of `out`.
 */
export type CsrLinearKernel = (x: FloatArray, batch: number, w: CsrMatrix, bias: FloatArray | null, out: FloatArray) => void;

/**
 * The CSR form of a dense row-major (rows, cols) matrix; exact zeros are dropped.
 * @example denseToCsr(new Float32Array([0, 2, 3, 0]), 2, 2)  // crow [0, 1, 2], col [1, 0], values [2, 3]
 */
export function denseToCsr(dense: ArrayLike<number>, rows: number, cols: number, dtype: 'float32' | 'float64' = 'float32'): CsrMatrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || dense.length !== rows * cols) {
    throw new TensorslimError('denseToCsr', `expected ${rows} x ${cols} = ${rows * cols} values, got ${dense.length}`);
  }
  let nnz = 0;
  for (let i = 0; i < dense.length; i++) if (dense[i] !== 0) nnz++;
  const crowIndices = new Int32Array(rows + 1), colIndices = new Int32Array(nnz);
  const values = dtype === 'float64' ? new Float64Array(nnz) : new Float32Array(nnz);
  let k = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = dense[r * cols + c]!;
      if (v !== 0) { colIndices[k] = c; values[k] = v; k++; }
    }
    crowIndices[r + 1] = k;
  }
  return { rows, cols, crowIndices, colIndices, values };
}

/** The dense row-major matrix of a CSR one. @example csrToDense(w)  // Float32Array(rows * cols) */
export function csrToDense(w: CsrMatrix): FloatArray {
  const out = w.values instanceof Float64Array ? new Float64Array(w.rows * w.cols) : new Float32Array(w.rows * w.cols);
  for (let r = 0; r < w.rows; r++) {
    for (let k = w.crowIndices[r]!; k < w.crowIndices[r + 1]!; k++) out[r * w.cols + w.colIndices[k]!] = w.values[k]!;
  }
  return out;
}

/**
 * Refuse a malformed CSR matrix (from a corrupt or hand-edited file) before any kernel reads it.
 * @example checkCsr('loadSparse', w)
 */
export function checkCsr(op: string, w: CsrMatrix): void {
  const bad = (msg: string): never => { throw new TensorslimError(op, `malformed CSR weight (${w.rows} x ${w.cols}): ${msg}`); };
  if (!Number.isInteger(w.rows) || !Number.isInteger(w.cols) || w.rows < 0 || w.cols < 0) bad('the shape must be two non-negative integers');
  if (w.crowIndices.length !== w.rows + 1) bad(`crow_indices has ${w.crowIndices.length} entries, expected rows + 1 = ${w.rows + 1}`);
  const nnz = w.colIndices.length;
  if (w.values.length !== nnz) bad(`values has ${w.values.length} entries but col_indices has ${nnz}`);
  if (w.crowIndices[0] !== 0 || w.crowIndices[w.rows] !== nnz) bad(`crow_indices must start at 0 and end at nnz = ${nnz}, got ${w.crowIndices[0]} .. ${w.crowIndices[w.rows]}`);
  for (let r = 0; r < w.rows; r++) {
    const a = w.crowIndices[r]!, b = w.crowIndices[r + 1]!;
    if (b < a) bad(`crow_indices decreases at row ${r} (${a} -> ${b})`);
    for (let k = a; k < b; k++) {
      const c = w.colIndices[k]!;
      if (c < 0 || c >= w.cols) bad(`column index ${c} at entry ${k} (row ${r}) is out of range for ${w.cols} columns`);
      if (k > a && c <= w.colIndices[k - 1]!) bad(`column indices of row ${r} are not strictly ascending (${w.colIndices[k - 1]} then ${c})`);
    }
  }
}

/** Bytes of the CSR arrays (values + int32 indices). @example csrBytes(w)  // 8 * nnz + 4 * (rows + 1) for float32 */
export function csrBytes(w: CsrMatrix): number {
  return w.values.byteLength + w.colIndices.byteLength + w.crowIndices.byteLength;
}

/**
 * Reference kernel: for each batch row, for each output row r, sum values[k] * x[colIndices[k]]
 * over the nonzeros of r, then add bias[r]. Four batch rows share each load of a nonzero.
 * Sums are carried in float64 and rounded once on store.
 * @example csrLinearReference(x, 32, w, bias, out)   // out (32, w.rows)
 */
export const csrLinearReference: CsrLinearKernel = (x, batch, w, bias, out) => {
  const { rows, cols, crowIndices: rp, colIndices: ci, values: v } = w;
  let b = 0;
  for (; b + 4 <= batch; b += 4) {
    const x0 = b * cols, x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
    const y0 = b * rows, y1 = y0 + rows, y2 = y1 + rows, y3 = y2 + rows;
    for (let r = 0; r < rows; r++) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      const end = rp[r + 1]!;
      for (let k = rp[r]!; k < end; k++) {
        const c = ci[k]!, wk = v[k]!;
        s0 += wk * x[x0 + c]!; s1 += wk * x[x1 + c]!; s2 += wk * x[x2 + c]!; s3 += wk * x[x3 + c]!;
      }
      const br = bias === null ? 0 : bias[r]!;
      out[y0 + r] = s0 + br; out[y1 + r] = s1 + br; out[y2 + r] = s2 + br; out[y3 + r] = s3 + br;
    }
  }
  for (; b < batch; b++) {
    const x0 = b * cols, y0 = b * rows;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      const end = rp[r + 1]!;
      for (let k = rp[r]!; k < end; k++) s += v[k]! * x[x0 + ci[k]!]!;
      out[y0 + r] = s + (bias === null ? 0 : bias[r]!);
    }
  }
};
