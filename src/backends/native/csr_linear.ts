// The native backend's sparse x dense kernel (native/src/csr_linear.cc): csrLinear, y = x W^T + b
// with W in CSR form, the backend's optional `csrLinear` method with the CsrLinearKernel signature
// of src/compress/prune/csr.ts (SparseLinear calls it when the active backend has it; otherwise it
// runs csrLinearReference). The addon checks lengths, dtypes and the CSR structure itself, and
// throws (naming csrLinear) on a corrupt matrix.

import type { FusedKernels } from '../../backend/backend.js';
import type { NativeAddon } from './addon.js';

/** y = x W^T + b: x (batch, cols) row-major, out (batch, rows), bias (rows) or null. */
export type NativeCsrLinear = Required<FusedKernels>['csrLinear'];

/**
 * The CSR linear kernel of `addon`.
 * @example const backend = { ...otherKernels, ...csrLinearKernels(addon) };  // backend.csrLinear(x, 1, w, b, out)
 */
export function csrLinearKernels(addon: NativeAddon): { csrLinear: NativeCsrLinear } {
  return {
    csrLinear(x, batch, w, bias, out) {
      addon.csrLinear(x, batch, w.rows, w.cols, w.crowIndices, w.colIndices, w.values, bias, out);
    },
  };
}
