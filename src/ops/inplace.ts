// In-place writes: assign, fill_ and zero_ here; the in-place elementwise ops (add_, relu_, ...) and
// the `out` option live next to their out-of-place forms in binary.ts and unary.ts. Used by
// optimizers, initializers and loadStateDict. They refuse to run where they would corrupt the tape,
// and bump the version counter so a tensor saved for backward and then overwritten is detected.

import { TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { to } from './movement.js';
import { backend, broadcastOrThrow, checkWritable, scalarTensor, viewAs } from './util.js';

/**
 * Copy src's values into x's storage (broadcasting src to x's shape, converting dtype). Returns x.
 * @example noGrad(() => param.assign(newValue))
 */
export function assign(x: Tensor, src: Tensor | number): Tensor {
  checkWritable('assign', x);
  let s = typeof src === 'number' ? scalarTensor(src, x.dtype) : src;
  const shape = broadcastOrThrow('assign', x.shape, s.shape);
  if (shape.length !== x.ndim || shape.some((d, i) => d !== x.shape[i])) {
    throw new TensorslimError('assign', `source shape (${s.shape.join(', ')}) does not broadcast to destination (${x.shape.join(', ')})`);
  }
  if (x.shape.some((d, i) => d > 1 && x.strides[i] === 0)) {
    throw new TensorslimError('assign', `the destination (${x.shape.join(', ')}) has strides (${x.strides.join(', ')}): several elements share one memory location (an expanded view); write to a contiguous tensor instead`);
  }
  if (s.dtype !== x.dtype) s = to(s, x.dtype);
  backend().assign(x.view_(), viewAs(s, x.shape));
  x.version++;
  return x;
}

/** Fill with a value in place. @example t.fill_(0.5) */
export function fill_(x: Tensor, value: number): Tensor { return assign(x, value); }

/** Fill with zeros in place. @example t.zero_() */
export function zero_(x: Tensor): Tensor { return assign(x, 0); }
