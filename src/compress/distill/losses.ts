// Distillation losses as plain functions, composed from ops and nn.F (no hand-written backward):
// the Hinton et al. (2015) soft-target loss, its mix with the hard-label loss, and the hidden-state,
// cosine and attention-map losses of FitNets, DistilBERT, TinyBERT and MiniLM.
// Teacher tensors are targets: every function detaches them, so no gradient ever reaches a teacher.
// These functions hold no state; the learned projection lives in modules.ts (FeatureProjector).

import { isFloat } from '../../backend/dtype.js';
import { fmtShape, shapeEquals } from '../../backend/shape.js';
import { DTypeError, ShapeError, TensorslimError } from '../../core/errors.js';
import { Tensor } from '../../core/tensor.js';
import * as ops from '../../ops/index.js';
import { F, type KlReduction, type Reduction, type TensorModule } from '../../nn/index.js';

/** Default temperature (Hinton et al. used 1..20; 4 is a common choice for 10-class problems). */
export const DEFAULT_TEMPERATURE = 4;
/** Default weight of the soft (teacher) term in distillationLoss. */
export const DEFAULT_ALPHA = 0.9;

/** Throw unless T is a finite number > 0. */
export function checkTemperature(op: string, temperature: unknown): number {
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0) {
    throw new TensorslimError(op, `temperature must be a finite number > 0, got ${String(temperature)}; T = 1 is the plain softmax, larger T softens the teacher's distribution (Hinton et al. used 1..20)`);
  }
  return temperature;
}

/** Throw unless alpha is a number in [0, 1]. */
export function checkAlpha(op: string, alpha: unknown): number {
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha < 0 || alpha > 1) {
    throw new TensorslimError(op, `alpha must be a number in [0, 1] (the weight of the teacher's soft-target loss; 1 - alpha weighs the hard labels), got ${String(alpha)}`);
  }
  return alpha;
}

function requireFloatTensor(op: string, name: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new TensorslimError(op, `${name} must be a Tensor, got ${t === null ? 'null' : typeof t}`);
  if (!isFloat(t.dtype)) throw new DTypeError(op, `${name} must be floating point, got ${t.dtype}; convert with ops.to(${name}, 'float32')`);
  return t;
}

/** The teacher's tensor as a constant in the student's dtype. */
function asTarget(op: string, name: string, teacher: unknown, student: Tensor): Tensor {
  const t = requireFloatTensor(op, name, teacher);
  const d = ops.detach(t);
  return d.dtype === student.dtype ? d : ops.to(d, student.dtype);
}

function requireSameShape(op: string, what: string, student: Tensor, teacher: Tensor, hint: string): void {
  if (!shapeEquals(student.shape, teacher.shape)) {
    throw new ShapeError(op, `student ${what} ${fmtShape(student.shape)} and teacher ${what} ${fmtShape(teacher.shape)} must have the same shape; ${hint}`);
  }
}

export interface KdLossOptions {
  /** Softmax temperature T > 0 (default 4). */
  temperature?: number;
  /** As F.klDiv: 'batchmean' (default, the true KL per sample), 'sum', 'mean' (per element), 'none'. */
  reduction?: KlReduction;
}

/**
 * Hinton et al.'s soft-target loss: KL(softmax(t / T) || softmax(s / T)) * T^2, over the last
 * axis, i.e. exactly PyTorch's
 * `F.kl_div(F.log_softmax(s / T, -1), F.softmax(t / T, -1), reduction='batchmean') * T * T`.
 * The T^2 keeps the soft-target gradient, (softmax(s/T) - softmax(t/T)) * T / B, on the scale of
 * the hard-label gradient as T changes. 'batchmean' divides by shape[0] (for (B, L, C) sequence
 * logits that is B, as in PyTorch). Teacher logits are detached.
 * @example
 * const loss = kdLoss(student.call(x), noGrad(() => teacher.call(x)), { temperature: 4 });
 */
export function kdLoss(studentLogits: Tensor, teacherLogits: Tensor, opts: KdLossOptions = {}): Tensor {
  const op = 'kdLoss';
  const T = checkTemperature(op, opts.temperature ?? DEFAULT_TEMPERATURE);
  const s = requireFloatTensor(op, 'studentLogits', studentLogits);
  const t = asTarget(op, 'teacherLogits', teacherLogits, s);
  if (s.ndim === 0) throw new ShapeError(op, 'logits must have a class axis (last), got a scalar');
  requireSameShape(op, 'logits', s, t, 'teacher and student must predict the same classes (the last axis)');
  const logP = ops.logSoftmax(T === 1 ? s : ops.div(s, T), -1);
  const q = ops.softmax(T === 1 ? t : ops.div(t, T), -1);
  const kl = F.klDiv(logP, q, { reduction: opts.reduction ?? 'batchmean' });
  return T === 1 ? kl : ops.mul(kl, T * T);
}

export interface DistillationLossOptions {
  /** Softmax temperature T > 0 for the soft term (default 4). */
  temperature?: number;
  /**
   * Weight of the soft (teacher) term, in [0, 1] (default 0.9): loss = alpha * kd + (1 - alpha) * ce.
   * alpha = 1 learns from the teacher only (labels not needed), alpha = 0 is plain supervised training.
   */
  alpha?: number;
  /** Label smoothing of the hard-label cross-entropy (default 0). */
  labelSmoothing?: number;
}

/**
 * The Hinton et al. (2015) objective: alpha * kdLoss(s, t, T) + (1 - alpha) * crossEntropy(s, y).
 * Alpha convention: alpha weighs the soft (teacher) term; the kd term already carries T^2, so the
 * two terms have comparable gradients and alpha is a plain mix. `targets`: int32 class indices
 * (B,) or class probabilities shaped like the logits; may be null when alpha = 1. `teacherLogits`
 * may be null when alpha = 0. Logits with more than 2 axes ((B, L, C) sequences) are flattened to
 * (B * L, C) rows first, so both terms are means per row (token).
 * @example
 * const loss = distillationLoss(student.call(x), tLogits, y, { temperature: 4, alpha: 0.9 });
 */
export function distillationLoss(
  studentLogits: Tensor, teacherLogits: Tensor | null, targets: Tensor | null, opts: DistillationLossOptions = {},
): Tensor {
  const op = 'distillationLoss';
  const T = checkTemperature(op, opts.temperature ?? DEFAULT_TEMPERATURE);
  const alpha = checkAlpha(op, opts.alpha ?? DEFAULT_ALPHA);
  const { kd, ce } = distillationTerms(op, studentLogits, teacherLogits, targets, T, alpha, opts.labelSmoothing ?? 0);
  return mixTerms(kd, ce, alpha);
}

/** alpha * kd + (1 - alpha) * ce, skipping a term whose weight is 0. */
export function mixTerms(kd: Tensor | null, ce: Tensor | null, alpha: number): Tensor {
  const parts: Tensor[] = [];
  if (kd && alpha > 0) parts.push(alpha === 1 ? kd : ops.mul(kd, alpha));
  if (ce && alpha < 1) parts.push(alpha === 0 ? ce : ops.mul(ce, 1 - alpha));
  return parts.length === 1 ? parts[0]! : ops.add(parts[0]!, parts[1]!);
}

/**
 * The two unweighted terms of distillationLoss (kd only when alpha > 0, ce only when alpha < 1),
 * with (B, ..., C) logits flattened to rows. T and alpha must be validated by the caller.
 */
export function distillationTerms(
  op: string, studentLogits: Tensor, teacherLogits: Tensor | null, targets: Tensor | null, T: number, alpha: number, labelSmoothing: number,
): { kd: Tensor | null; ce: Tensor | null } {
  let s = requireFloatTensor(op, 'studentLogits', studentLogits);
  if (s.ndim < 2) throw new ShapeError(op, `student logits must be (B, C) or (B, ..., C), got ${fmtShape(s.shape)}`);
  if (alpha > 0 && !(teacherLogits instanceof Tensor)) throw new TensorslimError(op, `teacher logits are needed when alpha > 0 (alpha = ${alpha})`);
  if (alpha < 1 && !(targets instanceof Tensor)) {
    throw new TensorslimError(op, `targets (labels) are needed when alpha < 1 (alpha = ${alpha}); pass alpha: 1 to distill from the teacher alone`);
  }
  let t = alpha > 0 ? teacherLogits : null;
  let y = alpha < 1 ? targets : null;
  if (s.ndim > 2) {
    const c = s.shape[s.ndim - 1]!;
    const rows = s.shape.slice(0, -1);
    if (t) {
      requireSameShape(op, 'logits', s, requireFloatTensor(op, 'teacher logits', t), 'teacher and student must predict the same classes');
      t = ops.reshape(t, [-1, c]);
    }
    if (y && !isFloat(y.dtype)) {
      if (!shapeEquals(y.shape, rows)) throw new ShapeError(op, `class-index targets ${fmtShape(y.shape)} must have the logits' shape without the class axis, ${fmtShape(rows)}`);
      y = ops.reshape(y, [-1]);
    } else if (y) {
      requireSameShape(op, 'class probabilities', s, y, 'probability targets have the logits\' shape');
      y = ops.reshape(y, [-1, c]);
    }
    s = ops.reshape(s, [-1, c]);
  }
  return {
    kd: t ? kdLoss(s, t, { temperature: T, reduction: 'batchmean' }) : null,
    ce: y ? F.crossEntropy(s, y, { labelSmoothing }) : null,
  };
}

/** The student's feature through the projector (when given) and the teacher's as a detached target like it. */
function projectedPair(op: string, studentFeature: Tensor, teacherFeature: Tensor, projector: TensorModule | null | undefined): [Tensor, Tensor] {
  let s = requireFloatTensor(op, 'studentFeature', studentFeature);
  if (projector) s = projector.call(s);
  return [s, asTarget(op, 'teacherFeature', teacherFeature, s)];
}

/** Options of featureLoss and cosineLoss. */
export interface FeatureLossOptions {
  /** Maps the student's feature to the teacher's width (a FeatureProjector), or none when they match. */
  projector?: TensorModule | null;
  /**
   * 'mean' (default), 'sum', or 'none': featureLoss's squared errors per element, cosineLoss's
   * 1 - cos per row (the features' shape without the last axis).
   */
  reduction?: Reduction;
}

/**
 * Hidden-state (feature) distillation, FitNets / TinyBERT style: mse(projector(s), t).
 * The projector (a learned FeatureProjector) is needed when the widths differ; its parameters must
 * be trained with the student's. Teacher features are detached.
 * @example
 * const proj = new FeatureProjector(64, 256);
 * const loss = featureLoss(studentHidden, teacherHidden, { projector: proj });
 */
export function featureLoss(studentFeature: Tensor, teacherFeature: Tensor, opts: FeatureLossOptions = {}): Tensor {
  const op = 'featureLoss';
  const [s, t] = projectedPair(op, studentFeature, teacherFeature, opts.projector);
  requireSameShape(op, opts.projector ? 'feature (after the projector)' : 'feature', s, t,
    opts.projector ? 'check the projector\'s output width and axis' : `pass a projector: new FeatureProjector(${s.shape[s.ndim - 1] ?? 1}, ${t.shape[t.ndim - 1] ?? 1}) maps the student's last axis to the teacher's`);
  return F.mseLoss(s, t, { reduction: opts.reduction ?? 'mean' });
}

/** |x|^2 + 1e-12 in PyTorch's cosine_embedding_loss. */
const COS_EPS = 1e-12;

/** Options of cosineLoss: the projector and reduction of FeatureLossOptions. */
export type CosineLossOptions = FeatureLossOptions;

/**
 * Cosine embedding loss between hidden states, as DistilBERT uses it: 1 - cos(s, t) per row of
 * the last axis, averaged; equal to PyTorch's
 * `F.cosine_embedding_loss(s.reshape(-1, D), t.reshape(-1, D), ones)` (cos = s.t / sqrt((|s|^2 + 1e-12)(|t|^2 + 1e-12))).
 * @example
 * const loss = cosineLoss(studentHidden, teacherHidden);   // (B, L, D) each
 */
export function cosineLoss(studentFeature: Tensor, teacherFeature: Tensor, opts: CosineLossOptions = {}): Tensor {
  const op = 'cosineLoss';
  const [s, t] = projectedPair(op, studentFeature, teacherFeature, opts.projector);
  if (s.ndim === 0) throw new ShapeError(op, 'features must have a feature axis (last), got a scalar');
  requireSameShape(op, 'feature', s, t, 'pass a projector (FeatureProjector) when the widths differ');
  const dot = ops.sum(ops.mul(s, t), -1);
  const ns = ops.add(ops.sum(ops.mul(s, s), -1), COS_EPS);
  const nt = ops.add(ops.sum(ops.mul(t, t), -1), COS_EPS);
  const loss = ops.sub(1, ops.div(dot, ops.sqrt(ops.mul(ns, nt))));
  const reduction = opts.reduction ?? 'mean';
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return ops.sum(loss);
  if (reduction === 'mean') return ops.mean(loss);
  throw new TensorslimError(op, `reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
}

export interface AttentionLossOptions {
  /**
   * 'mse' (default): mean squared error between the probability maps (TinyBERT compares maps);
   * 'kl': KL(teacher || student) per attention row, averaged over B * H * T rows (MiniLM).
   */
  kind?: 'mse' | 'kl';
  /** Student probabilities are clamped to at least eps before the log ('kl'); default 1e-12. */
  eps?: number;
  /** Compare head-averaged maps (for teacher and student with different head counts). Default false. */
  meanOverHeads?: boolean;
}

/**
 * Attention-map distillation between attention probabilities of shape (B, H, T, T) (each row
 * sums to 1, masked positions 0). 'mse' is F.mseLoss(s, t); 'kl' is
 * F.klDiv(log(max(s, eps)), t, 'sum') / (B * H * T), so a masked position (t = 0) adds nothing.
 * @example
 * const loss = attentionLoss(studentAttn, teacherAttn, { kind: 'kl' });
 */
export function attentionLoss(studentMaps: Tensor, teacherMaps: Tensor, opts: AttentionLossOptions = {}): Tensor {
  const op = 'attentionLoss';
  let s = requireFloatTensor(op, 'studentMaps', studentMaps);
  let t = asTarget(op, 'teacherMaps', teacherMaps, s);
  const kind = opts.kind ?? 'mse';
  if (kind !== 'mse' && kind !== 'kl') throw new TensorslimError(op, `kind must be 'mse' or 'kl', got '${String(kind)}'`);
  if (s.ndim !== 4 || t.ndim !== 4) {
    throw new ShapeError(op, `attention maps must be 4-D (B, H, T, T), got student ${fmtShape(s.shape)} and teacher ${fmtShape(t.shape)}`);
  }
  if (opts.meanOverHeads) { s = ops.mean(s, 1, true); t = ops.mean(t, 1, true); }
  requireSameShape(op, 'attention maps', s, t, s.shape[1] !== t.shape[1]
    ? `the head counts differ (${s.shape[1]} vs ${t.shape[1]}): pass { meanOverHeads: true } to compare head-averaged maps`
    : 'distill between layers with the same batch and sequence length');
  if (kind === 'mse') return F.mseLoss(s, t);
  const eps = opts.eps ?? 1e-12;
  if (!(eps > 0)) throw new TensorslimError(op, `eps must be > 0, got ${eps}`);
  const rows = s.size / s.shape[3]!;
  return ops.div(F.klDiv(ops.log(ops.clamp(s, eps)), t, { reduction: 'sum' }), rows);
}
