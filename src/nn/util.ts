// Small validation helpers shared by the layers (internal; not exported from nn/index.ts).

import { TensorslimError } from '../core/errors.js';

/** Throw unless `v` is a non-negative (or positive) integer. */
export function checkDim(op: string, what: string, v: number, allowZero = true): void {
  if (!Number.isInteger(v) || v < (allowZero ? 0 : 1)) {
    throw new TensorslimError(op, `${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${v}`);
  }
}
