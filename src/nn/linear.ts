// Linear and Identity layers. Linear reads `this.weight` / `this.bias` in forward(), so a feature
// (pruning, quantization) may replace them with computed tensors through the Module seams.

import type { Tensor } from '../core/tensor.js';
import type { FloatDType } from '../backend/dtype.js';
import * as ops from '../ops/index.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { linear } from './functional.js';
import { checkLinearShapes } from '../ops/linear.js';
import { checkDim } from './util.js';
import { defaultLayerInit } from './init.js';

/**
 * y = x W^T + b, like torch.nn.Linear. weight: (outFeatures, inFeatures) initialized with
 * kaimingUniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)); bias: U(-1/sqrt(in), 1/sqrt(in)).
 * `weight` and `bias` are Parameters unless a feature (pruning) replaced `weight` with a
 * computed tensor; forward() always uses whatever `this.weight` holds.
 *
 * @example
 * const fc = new Linear(784, 300);
 * fc.call(ops.zeros([32, 784])).shape;  // [32, 300]
 */
export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  declare weight: Tensor;
  declare bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, opts: { bias?: boolean; dtype?: FloatDType } = {}) {
    super();
    checkDim('Linear', 'inFeatures', inFeatures);
    checkDim('Linear', 'outFeatures', outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const dtype = opts.dtype ?? 'float32';
    this.registerParameter('weight', new Parameter(ops.zeros([outFeatures, inFeatures], { dtype })));
    this.registerParameter('bias', (opts.bias ?? true) ? new Parameter(ops.zeros([outFeatures], { dtype })) : null);
    this.resetParameters();
  }

  /** Re-draw weight and bias with PyTorch's default init. @example fc.resetParameters() */
  resetParameters(): void {
    defaultLayerInit(this.weight, this.bias);
  }

  forward(x: Tensor): Tensor {
    const op = `Linear(${this.inFeatures}, ${this.outFeatures})`;
    checkLinearShapes(op, x, this.weight, this.bias,
      `the layer before must output ${this.inFeatures} features (or build Linear(${x.ndim === 0 ? '?' : x.shape[x.ndim - 1]}, ${this.outFeatures}))`);
    return linear(x, this.weight, this.bias, op);
  }

  override extraRepr(): string {
    return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`;
  }
}

/**
 * Returns its input unchanged (a placeholder when swapping layers out).
 * @example new Identity().call(x) === x
 */
export class Identity extends Module {
  forward(x: Tensor): Tensor { return x; }
}
