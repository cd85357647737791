// LayerNorm: normalizes over the trailing dims; weight starts at ones and bias at zeros.

import type { Tensor } from '../core/tensor.js';
import type { FloatDType } from '../backend/dtype.js';
import * as ops from '../ops/index.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { layerNorm } from './functional.js';
import { checkDim } from './util.js';

/**
 * Layer normalization over the last dims (normalizedShape), like torch.nn.LayerNorm.
 * @example new LayerNorm(768).call(ops.randn([2, 5, 768]))
 */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly elementwiseAffine: boolean;
  declare weight: Tensor | null;
  declare bias: Tensor | null;

  constructor(
    normalizedShape: number | readonly number[],
    opts: { eps?: number; elementwiseAffine?: boolean; bias?: boolean; dtype?: FloatDType } = {},
  ) {
    super();
    const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    for (const d of ns) checkDim('LayerNorm', 'normalizedShape entries', d, false);
    this.normalizedShape = Object.freeze(ns);
    this.eps = opts.eps ?? 1e-5;
    this.elementwiseAffine = opts.elementwiseAffine ?? true;
    const dtype = opts.dtype ?? 'float32';
    const affine = this.elementwiseAffine;
    this.registerParameter('weight', affine ? new Parameter(ops.ones(ns, { dtype })) : null);
    this.registerParameter('bias', affine && (opts.bias ?? true) ? new Parameter(ops.zeros(ns, { dtype })) : null);
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps, `LayerNorm((${this.normalizedShape.join(', ')}))`);
  }

  override extraRepr(): string {
    return `(${this.normalizedShape.join(', ')}${this.normalizedShape.length === 1 ? ',' : ''}), eps=${this.eps}, elementwiseAffine=${this.elementwiseAffine}`;
  }
}
