// How many units an `amount` removes, with torch.nn.utils.prune's rules.
// JavaScript has one number type, so PyTorch's int-vs-float distinction becomes: a value in [0, 1]
// is a fraction (1 = everything), an integer > 1 is a count; `{ count: n }` forces a count
// (needed to prune exactly one unit).

import { TensorslimError } from '../../core/errors.js';

export type Amount = number | { readonly count: number } | { readonly fraction: number };

/** Python's round(): halves go to the even neighbour (PyTorch rounds amount * n this way). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Reject amounts that can never be valid, before touching any module. */
export function validateAmount(op: string, amount: Amount): void {
  if (typeof amount === 'number') {
    if (!Number.isFinite(amount) || amount < 0) throw new TensorslimError(op, `amount must be a fraction in [0, 1] or a count >= 0, got ${amount}`);
    if (amount > 1 && !Number.isInteger(amount)) throw new TensorslimError(op, `amount ${amount} is neither a fraction in [0, 1] nor an integer count`);
    return;
  }
  if ('count' in amount) {
    if (!Number.isInteger(amount.count) || amount.count < 0) throw new TensorslimError(op, `count must be a non-negative integer, got ${amount.count}`);
    return;
  }
  if (!(amount.fraction >= 0 && amount.fraction <= 1)) throw new TensorslimError(op, `fraction must be in [0, 1], got ${amount.fraction}`);
}

/** Number of units to prune out of `n` (throws when a count exceeds n). */
export function unitsToPrune(op: string, amount: Amount, n: number): number {
  validateAmount(op, amount);
  let count: number;
  if (typeof amount === 'number') count = amount <= 1 ? roundHalfEven(amount * n) : amount;
  else if ('count' in amount) count = amount.count;
  else count = roundHalfEven(amount.fraction * n);
  if (count > n) throw new TensorslimError(op, `amount ${count} is larger than the number of units that can be pruned (${n})`);
  return count;
}
