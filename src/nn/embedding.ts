// Embedding: a lookup table of learnable rows indexed by int32 ids.

import type { Tensor } from '../core/tensor.js';
import { TensorslimError } from '../core/errors.js';
import type { FloatDType } from '../backend/dtype.js';
import * as ops from '../ops/index.js';
import { noGrad } from '../core/engine.js';
import { Module } from './module.js';
import { Parameter } from './parameter.js';
import { embedding } from './functional.js';
import { normal_ } from './init.js';
import { checkDim } from './util.js';

/**
 * Lookup table (numEmbeddings, embeddingDim), initialized N(0, 1) like torch.nn.Embedding.
 * With paddingIdx, that row starts at zero and receives no gradient.
 * @example new Embedding(10, 4).call(ops.tensor([[1, 2, 3]], { dtype: 'int32' })).shape  // [1, 3, 4]
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIdx: number | null;
  declare weight: Tensor;

  constructor(numEmbeddings: number, embeddingDim: number, opts: { paddingIdx?: number | null; dtype?: FloatDType } = {}) {
    super();
    checkDim('Embedding', 'numEmbeddings', numEmbeddings);
    checkDim('Embedding', 'embeddingDim', embeddingDim);
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    let pad = opts.paddingIdx ?? null;
    if (pad !== null) {
      if (!Number.isInteger(pad) || pad < -numEmbeddings || pad >= numEmbeddings) {
        throw new TensorslimError('Embedding', `paddingIdx must be an integer in [${-numEmbeddings}, ${numEmbeddings - 1}], got ${pad}`);
      }
      if (pad < 0) pad += numEmbeddings;
    }
    this.paddingIdx = pad;
    this.registerParameter('weight', new Parameter(ops.zeros([numEmbeddings, embeddingDim], { dtype: opts.dtype ?? 'float32' })));
    this.resetParameters();
  }

  /** Re-draw N(0, 1) and zero the padding row. @example emb.resetParameters() */
  resetParameters(): void {
    normal_(this.weight);
    if (this.paddingIdx !== null) {
      const row = ops.narrow(this.weight, 0, this.paddingIdx, 1);
      noGrad(() => { ops.fill_(row, 0); });
    }
  }

  forward(indices: Tensor): Tensor {
    const out = embedding(indices, this.weight, `Embedding(${this.numEmbeddings}, ${this.embeddingDim})`);
    if (this.paddingIdx === null) return out;
    // Same values, but positions holding paddingIdx read a detached copy: no gradient to that row.
    const keep = ops.unsqueeze(ops.ne(indices, this.paddingIdx), -1);
    return ops.where(keep, out, ops.detach(out));
  }

  override extraRepr(): string {
    return `${this.numEmbeddings}, ${this.embeddingDim}${this.paddingIdx !== null ? `, paddingIdx=${this.paddingIdx}` : ''}`;
  }
}
