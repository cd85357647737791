// Activation layers: stateless wrappers over ops, so they show up in module trees and can be
// swapped or hooked like any layer.

import type { Tensor } from '../core/tensor.js';
import { TensorslimError } from '../core/errors.js';
import * as ops from '../ops/index.js';
import { Module } from './module.js';

/** max(x, 0). @example new ReLU().call(ops.tensor([-1, 2]))  // [0, 2] */
export class ReLU extends Module {
  forward(x: Tensor): Tensor { return ops.relu(x); }
}

/**
 * GELU, exact (erf) or with the tanh approximation.
 * @example new GELU({ approximate: 'tanh' }).call(x)
 */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';
  constructor(opts: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    const a = opts.approximate ?? 'none';
    if (a !== 'none' && a !== 'tanh') throw new TensorslimError('GELU', `approximate must be 'none' or 'tanh', got '${String(a)}'`);
    this.approximate = a;
  }
  forward(x: Tensor): Tensor { return ops.gelu(x, { approximate: this.approximate }); }
  override extraRepr(): string { return `approximate='${this.approximate}'`; }
}

/** tanh(x). @example new Tanh().call(x) */
export class Tanh extends Module {
  forward(x: Tensor): Tensor { return ops.tanh(x); }
}

/** 1 / (1 + exp(-x)). @example new Sigmoid().call(x) */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor { return ops.sigmoid(x); }
}

/** softmax along `dim` (default -1). @example new Softmax(1).call(logits) */
export class Softmax extends Module {
  constructor(readonly dim = -1) { super(); }
  forward(x: Tensor): Tensor { return ops.softmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}

/** logSoftmax along `dim` (default -1). @example new LogSoftmax(1).call(logits) */
export class LogSoftmax extends Module {
  constructor(readonly dim = -1) { super(); }
  forward(x: Tensor): Tensor { return ops.logSoftmax(x, this.dim); }
  override extraRepr(): string { return `dim=${this.dim}`; }
}
