// Loss modules: thin wrappers over the functional losses in functional.ts. Class weights are
// registered as buffers under PyTorch's names ('weight', 'pos_weight'), as torch.nn does.

import type { Tensor } from '../core/tensor.js';
import { Module } from './module.js';
import * as F from './functional.js';
import type { Reduction, KlReduction } from './functional.js';

/**
 * Mean squared error. @example new MSELoss().call(pred, target)
 */
export class MSELoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;
  constructor(opts: { reduction?: Reduction } = {}) { super(); this.reduction = opts.reduction ?? 'mean'; }
  forward(input: Tensor, target: Tensor): Tensor { return F.mseLoss(input, target, { reduction: this.reduction }); }
  override extraRepr(): string { return `reduction='${this.reduction}'`; }
}

/**
 * Mean absolute error. @example new L1Loss().call(pred, target)
 */
export class L1Loss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;
  constructor(opts: { reduction?: Reduction } = {}) { super(); this.reduction = opts.reduction ?? 'mean'; }
  forward(input: Tensor, target: Tensor): Tensor { return F.l1Loss(input, target, { reduction: this.reduction }); }
  override extraRepr(): string { return `reduction='${this.reduction}'`; }
}

/**
 * Negative log likelihood over log-probabilities. @example new NLLLoss().call(ops.logSoftmax(logits, 1), targets)
 */
export class NLLLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;
  readonly ignoreIndex: number;
  declare weight: Tensor | null;
  constructor(opts: F.NllLossOptions = {}) {
    super();
    this.reduction = opts.reduction ?? 'mean';
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.registerBuffer('weight', opts.weight ?? null);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.nllLoss(input, target, { weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction });
  }
  override extraRepr(): string { return `reduction='${this.reduction}'`; }
}

/**
 * Cross entropy over logits with int32 class targets (or class probabilities).
 * @example new CrossEntropyLoss({ labelSmoothing: 0.1 }).call(logits, targets)
 */
export class CrossEntropyLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;
  readonly ignoreIndex: number;
  readonly labelSmoothing: number;
  declare weight: Tensor | null;
  constructor(opts: F.CrossEntropyOptions = {}) {
    super();
    this.reduction = opts.reduction ?? 'mean';
    this.ignoreIndex = opts.ignoreIndex ?? -100;
    this.labelSmoothing = opts.labelSmoothing ?? 0;
    this.registerBuffer('weight', opts.weight ?? null);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.crossEntropy(input, target, {
      weight: this.weight, ignoreIndex: this.ignoreIndex, reduction: this.reduction, labelSmoothing: this.labelSmoothing,
    });
  }
  override extraRepr(): string { return `reduction='${this.reduction}'${this.labelSmoothing ? `, labelSmoothing=${this.labelSmoothing}` : ''}`; }
}

/**
 * KL divergence, input as log-probabilities. Use reduction 'batchmean' for the true KL.
 * @example new KLDivLoss({ reduction: 'batchmean' }).call(ops.logSoftmax(s, -1), ops.softmax(t, -1))
 */
export class KLDivLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: KlReduction;
  readonly logTarget: boolean;
  constructor(opts: { reduction?: KlReduction; logTarget?: boolean } = {}) {
    super();
    this.reduction = opts.reduction ?? 'mean';
    this.logTarget = opts.logTarget ?? false;
  }
  forward(input: Tensor, target: Tensor): Tensor { return F.klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget }); }
  override extraRepr(): string { return `reduction='${this.reduction}', logTarget=${this.logTarget}`; }
}

/**
 * Binary cross entropy on logits, computed stably; posWeight weighs positives per class.
 * @example new BCEWithLogitsLoss({ posWeight: ops.tensor([3]) }).call(logits, labels)
 */
export class BCEWithLogitsLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;
  declare weight: Tensor | null;
  declare pos_weight: Tensor | null;
  constructor(opts: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {}) {
    super();
    this.reduction = opts.reduction ?? 'mean';
    this.registerBuffer('weight', opts.weight ?? null);
    this.registerBuffer('pos_weight', opts.posWeight ?? null);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return F.bceWithLogits(input, target, { weight: this.weight, posWeight: this.pos_weight, reduction: this.reduction });
  }
  override extraRepr(): string { return `reduction='${this.reduction}'`; }
}
