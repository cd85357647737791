// The distillation losses as nn Modules (so they print, nest and carry a learned projection), and
// FeatureProjector, the learned map from a student's hidden width to the teacher's.
// Math lives in losses.ts; these classes only hold settings and the projector.

import type { FloatDType } from '../../backend/dtype.js';
import { fmtShape } from '../../backend/shape.js';
import { ShapeError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import * as ops from '../../ops/index.js';
import { Linear, Module, type Reduction, type KlReduction } from '../../nn/index.js';
import {
  attentionLoss, checkAlpha, checkTemperature, cosineLoss, distillationLoss, featureLoss, kdLoss,
  DEFAULT_ALPHA, DEFAULT_TEMPERATURE, type AttentionLossOptions,
} from './losses.js';

/**
 * A learned linear map of a student feature to the teacher's width along one axis (FitNets'
 * regressor). Along the last axis it is a Linear; along axis 1 of (B, C, H, W) maps it equals a
 * 1x1 convolution. State-dict keys are Linear's: 'weight' (out, in), 'bias' (out).
 * @example
 * const proj = new FeatureProjector(64, 256);           // (B, 64) -> (B, 256)
 * const conv = new FeatureProjector(8, 16, { dim: 1 }); // (B, 8, H, W) -> (B, 16, H, W)
 */
export class FeatureProjector extends Linear {
  /** The feature axis it maps (negative counts from the end). */
  readonly dim: number;

  constructor(inFeatures: number, outFeatures: number, opts: { dim?: number; bias?: boolean; dtype?: FloatDType } = {}) {
    super(inFeatures, outFeatures, { bias: opts.bias ?? true, dtype: opts.dtype ?? 'float32' });
    this.dim = opts.dim ?? -1;
  }

  override forward(x: Tensor): Tensor {
    const op = 'FeatureProjector';
    if (x.ndim === 0) throw new ShapeError(op, 'input must have a feature axis, got a scalar');
    const d = this.dim < 0 ? this.dim + x.ndim : this.dim;
    if (d < 0 || d >= x.ndim) throw new ShapeError(op, `dim ${this.dim} is out of range for input ${fmtShape(x.shape)}`);
    if (x.shape[d] !== this.inFeatures) {
      throw new ShapeError(op, `input axis ${this.dim} has size ${x.shape[d]}, expected inFeatures ${this.inFeatures}; input shape ${fmtShape(x.shape)}`);
    }
    if (d === x.ndim - 1) return super.forward(x);
    // move the feature axis last, project, move it back: (B, C, H, W) -> (B, H, W, C) -> ... -> (B, C', H, W)
    const perm = [...Array(x.ndim).keys()].filter((a) => a !== d).concat(d);
    const inv = perm.map((_, i) => perm.indexOf(i));
    return ops.permute(super.forward(ops.permute(x, perm)), inv);
  }

  override extraRepr(): string { return `${super.extraRepr()}, dim=${this.dim}`; }
}

/**
 * kdLoss as a module. @example new KDLoss({ temperature: 4 }).call(studentLogits, teacherLogits)
 */
export class KDLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly temperature: number;
  readonly reduction: KlReduction;
  constructor(opts: { temperature?: number; reduction?: KlReduction } = {}) {
    super();
    this.temperature = checkTemperature('KDLoss', opts.temperature ?? DEFAULT_TEMPERATURE);
    this.reduction = opts.reduction ?? 'batchmean';
  }
  forward(student: Tensor, teacher: Tensor): Tensor { return kdLoss(student, teacher, { temperature: this.temperature, reduction: this.reduction }); }
  override extraRepr(): string { return `temperature=${this.temperature}, reduction='${this.reduction}'`; }
}

/**
 * distillationLoss as a module (alpha weighs the teacher's soft term).
 * @example new DistillationLoss({ temperature: 4, alpha: 0.9 }).call(studentLogits, teacherLogits, labels)
 */
export class DistillationLoss extends Module<[Tensor, Tensor | null, Tensor | null], Tensor> {
  readonly temperature: number;
  readonly alpha: number;
  readonly labelSmoothing: number;
  constructor(opts: { temperature?: number; alpha?: number; labelSmoothing?: number } = {}) {
    super();
    this.temperature = checkTemperature('DistillationLoss', opts.temperature ?? DEFAULT_TEMPERATURE);
    this.alpha = checkAlpha('DistillationLoss', opts.alpha ?? DEFAULT_ALPHA);
    this.labelSmoothing = opts.labelSmoothing ?? 0;
  }
  forward(student: Tensor, teacher: Tensor | null, targets: Tensor | null): Tensor {
    return distillationLoss(student, teacher, targets, { temperature: this.temperature, alpha: this.alpha, labelSmoothing: this.labelSmoothing });
  }
  override extraRepr(): string { return `temperature=${this.temperature}, alpha=${this.alpha}`; }
}

/**
 * Hidden-state loss with its own projector when the widths differ (child 'projector', trained
 * with the student: include loss.parameters() in the optimizer).
 * @example
 * const fl = new FeatureLoss(64, 256);                 // MSE through a 64 -> 256 projector
 * const opt = new Adam([...student.parameters(), ...fl.parameters()], { lr: 1e-3 });
 * fl.call(studentHidden, teacherHidden).backward();
 */
export class FeatureLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly kind: 'mse' | 'cosine';
  readonly reduction: Reduction;
  declare projector: FeatureProjector | null;
  constructor(studentDim?: number, teacherDim?: number, opts: { kind?: 'mse' | 'cosine'; dim?: number; reduction?: Reduction; dtype?: FloatDType } = {}) {
    super();
    this.kind = opts.kind ?? 'mse';
    this.reduction = opts.reduction ?? 'mean';
    const needs = studentDim !== undefined && teacherDim !== undefined && studentDim !== teacherDim;
    this.registerModule('projector', needs ? new FeatureProjector(studentDim, teacherDim, { dim: opts.dim, dtype: opts.dtype }) : null);
  }
  forward(student: Tensor, teacher: Tensor): Tensor {
    const o = { projector: this.projector, reduction: this.reduction };
    return this.kind === 'cosine' ? cosineLoss(student, teacher, o) : featureLoss(student, teacher, o);
  }
  override extraRepr(): string { return `kind='${this.kind}'`; }
}

/**
 * Cosine embedding loss (1 - cos) between hidden states, as DistilBERT. @example new CosineLoss().call(s, t)
 */
export class CosineLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;
  constructor(opts: { reduction?: Reduction } = {}) { super(); this.reduction = opts.reduction ?? 'mean'; }
  forward(student: Tensor, teacher: Tensor): Tensor { return cosineLoss(student, teacher, { reduction: this.reduction }); }
  override extraRepr(): string { return `reduction='${this.reduction}'`; }
}

/**
 * Attention-map loss between (B, H, T, T) probability maps. @example new AttentionLoss({ kind: 'kl' }).call(sAttn, tAttn)
 */
export class AttentionLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly opts: Readonly<AttentionLossOptions>;
  constructor(opts: AttentionLossOptions = {}) { super(); this.opts = { ...opts }; }
  forward(student: Tensor, teacher: Tensor): Tensor { return attentionLoss(student, teacher, this.opts); }
  override extraRepr(): string { return `kind='${this.opts.kind ?? 'mse'}'`; }
}
