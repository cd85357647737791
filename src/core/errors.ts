// Errors that name the op, the shapes or dtypes at fault, and the fix where one is known.

import { fmtShape, type Shape } from '../backend/shape.js';

/** Base class of every error tensorslim throws on bad input. */
export class TensorslimError extends Error {
  readonly op: string;
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'TensorslimError';
    this.op = op;
  }
}

export class ShapeError extends TensorslimError {
  constructor(op: string, message: string) { super(op, message); this.name = 'ShapeError'; }
}

export class DTypeError extends TensorslimError {
  constructor(op: string, message: string) { super(op, message); this.name = 'DTypeError'; }
}

export { fmtShape };
export type { Shape };

/** Normalize a possibly negative axis for a tensor of rank `rank`; throws a clear error when out of range. */
export function normAxis(op: string, axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw new ShapeError(op, `axis ${axis} is out of range for a tensor of rank ${rank} (valid: ${-rank}..${Math.max(rank - 1, 0)})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalize a list of axes (undefined = all axes); sorted, distinct. */
export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = [...new Set(list.map((a) => normAxis(op, a, rank)))].sort((a, b) => a - b);
  if (out.length !== list.length) throw new ShapeError(op, `repeated axis in [${list.join(', ')}]`);
  return out;
}
