// Public API of the nn layer: Module and Parameter, layers, losses, init and the functional
// namespace F. Imports only core, backend, ops and autograd (installing autograd's Tensor methods).

import '../autograd/index.js';

export { Parameter } from './parameter.js';
export {
  Module, cloneStateDict,
  type AnyModule, type RemovableHandle, type ForwardPreHook, type ForwardHook, type StateDict, type LoadStateDictResult,
} from './module.js';
export { Sequential, ModuleList, ModuleDict, type TensorModule } from './container.js';
export { Linear, Identity } from './linear.js';
export { ReLU, GELU, Tanh, Sigmoid, Softmax, LogSoftmax } from './activation.js';
export { Dropout, Flatten } from './dropout.js';
export { compileInference, type InferencePlan } from './inference.js';
export { LayerNorm } from './normalization.js';
export { Embedding } from './embedding.js';
export { Conv2d, MaxPool2d, type Size2 } from './conv.js';
export { MSELoss, L1Loss, NLLLoss, CrossEntropyLoss, KLDivLoss, BCEWithLogitsLoss } from './loss.js';
export type { Reduction, KlReduction, NllLossOptions, CrossEntropyOptions } from './functional.js';
export * as F from './functional.js';
export * as init from './init.js';
export { CausalSelfAttention, KVCacheLayer, type CausalSelfAttentionOptions } from './attention.js';
export { Block, MLP, checkpoint, checkpointWith, type CheckpointOptions, type TransformerBlockOptions } from './transformer.js';
