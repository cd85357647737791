// compress/distill: knowledge distillation (Hinton et al. 2015) with hidden-state, cosine and
// attention-map terms (FitNets, DistilBERT, TinyBERT, MiniLM), built only on public seams:
// ops/F for the losses, forward hooks for feature taps, module.call for the student.
export {
  kdLoss, distillationLoss, featureLoss, cosineLoss, attentionLoss, checkTemperature, checkAlpha,
  DEFAULT_TEMPERATURE, DEFAULT_ALPHA,
  type KdLossOptions, type DistillationLossOptions, type FeatureLossOptions, type CosineLossOptions, type AttentionLossOptions,
} from './losses.js';
export { FeatureProjector, KDLoss, DistillationLoss, FeatureLoss, CosineLoss, AttentionLoss } from './modules.js';
export { tapFeatures, tappableNames, type FeatureTap } from './taps.js';
export {
  Distiller, type DistillerOptions, type DistillModel, type FeaturePair, type FeatureLossKind, type DistillBatch, type BatchLike,
  type LossParts, type DistillerStats,
} from './distiller.js';
export {
  distillEpoch, trainStudent, evaluateAccuracy,
  type DistillEpochOptions, type EpochResult, type TrainStudentOptions, type EpochRecord, type Steppable,
} from './loop.js';
export { attentionMapsFromQkv } from './attention.js';
export { withTeacherLogits, withShiftedTeacherLogits, shiftWithTeacherLogits, type ShiftedTeacherLogitsOptions } from './targets.js';
export { distillCallback, type DistillCallbackState, type ProjectorState } from './callback.js';
export {
  runDistillation, distillPairProblem, type DistillRunOptions, type DistillPlan, type DistillRunResult,
} from './workflow.js';
