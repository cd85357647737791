// The optim layer's public API: optimizers, LR schedulers, gradient clipping.
// Built on core and backend only (no nn): optimizers take plain Tensors.
//
// @example
// const opt = new Adam(model.parameters(), { lr: 1e-3 });
// const sched = cosineWithWarmup(opt, { warmupSteps: 100, totalSteps: 5000 });
// loss.backward(); clipGradNorm(model.parameters(), 1.0); opt.step(); sched.step(); opt.zeroGrad();

export {
  Optimizer,
  type OptimizerOptions,
  type OptimizerStateDict,
  type PackedParamGroup,
  type ParamGroup,
  type ParamGroupInput,
  type ParamsInput,
  type ParamState,
  type HyperParam,
} from './optimizer.js';
export { SGD, sgdUpdate, type SGDOptions } from './sgd.js';
export { Adam, AdamW, adamUpdate, type AdamOptions, type AdamBuffers } from './adam.js';
export {
  LRScheduler,
  StepLR,
  LinearLR,
  CosineAnnealingLR,
  CosineWithWarmupLR,
  cosineWithWarmup,
  LambdaLR,
  type SchedulerStateDict,
} from './lr_scheduler.js';
export { clipGradNorm, clipGradValue } from './clip_grad.js';
export type { FloatArray } from './storage.js';
