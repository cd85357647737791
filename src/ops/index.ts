// Public tensor ops. Each validates its inputs, then dispatches a kernel or composes other ops.

export * from './creation.js';
export * from './unary.js';
export * from './binary.js';
export * from './movement.js';
export * from './reduce.js';
export * from './matmul.js';
export * from './indexing.js';
export * from './conv.js';
export * from './max_pool2d.js';
export * from './conv2d.js';
export * from './activation.js';
export * from './inplace.js';
export * from './linear.js';
export * from './softmax_cross_entropy.js';
export * from './linear_cross_entropy.js';
export * from './layer_norm.js';
export * from './gelu.js';
export * from './embedding.js';
export { fusedOr, fusedBackwardOr, type BackendWith } from './fused_or.js';
export { KERNELS, NON_DIFFERENTIABLE, type KernelName } from './kernels.js';
export type { TensorLike } from './util.js';
export {
  scaledDotProductAttention, packedSelfAttention, packedAttentionBackward, attentionReference, attentionBackward, attentionBackwardComposed, attentionKeep, attentionDropThreshold,
  type AttentionOptions,
} from './attention.js';
