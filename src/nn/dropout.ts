// Dropout and Flatten: shape/regularization layers without parameters.

import type { Tensor } from '../core/tensor.js';
import { TensorslimError } from '../core/errors.js';
import * as ops from '../ops/index.js';
import { Module } from './module.js';

/**
 * Inverted dropout in training mode (zero with probability p, scale the rest by 1/(1-p));
 * the identity in eval mode. Masks come from the seeded default generator.
 * @example const d = new Dropout(0.1); d.eval(); d.call(x) === x
 */
export class Dropout extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    if (!(typeof p === 'number' && p >= 0 && p <= 1)) throw new TensorslimError('Dropout', `probability p must be in [0, 1], got ${p}`);
    this.p = p;
  }
  forward(x: Tensor): Tensor { return ops.dropout(x, this.p, this.training); }
  override extraRepr(): string { return `p=${this.p}`; }
}

/**
 * Flatten dims startDim..endDim into one (default: all but the batch dim).
 * @example new Flatten().call(ops.zeros([8, 1, 28, 28])).shape  // [8, 784]
 */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) { super(); }
  forward(x: Tensor): Tensor { return ops.flatten(x, this.startDim, this.endDim); }
  override extraRepr(): string { return `startDim=${this.startDim}, endDim=${this.endDim}`; }
}
