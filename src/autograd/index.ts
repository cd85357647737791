// Autograd: the tape, gradient rules, gradcheck, and the Tensor methods.
import './grads/index.js';
import './methods.js';

export { backward, grad, registerBackwardStartHook, registerGradChunkHook, registerPostAccumulateGradHook, sumTo, type BackwardOptions, type BackwardStartInfo } from './tape.js';
export { tidy, keep, StepScope, type StepScopeOptions } from './tidy.js';
export { defineGrad, getGradRule, registeredGradKernels, type GradRule, type GradContext, type GradChunks } from './registry.js';
export { gradcheck, type GradcheckOptions, type GradcheckResult } from './gradcheck.js';
export { noGrad, enableGrad, isGradEnabled } from '../core/engine.js';
