// The closed list of kernels that ops record on the autograd tape. Each differentiable kernel has
// exactly one gradient rule in autograd/grads/; the rest are listed in NON_DIFFERENTIABLE with a reason.
// A meta-test checks both lists against the gradient registry.

export const KERNELS = [
  // unary elementwise (ops/unary.ts)
  'neg', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'erf', 'sign', 'sin', 'cos', 'floor',
  // binary elementwise (ops/binary.ts)
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum',
  // selection (ops/binary.ts)
  'where',
  // reductions (ops/reduce.ts)
  'sum', 'max', 'min',
  // linear algebra (ops/matmul.ts)
  'matmul',
  // dtype conversion and layout (ops/movement.ts)
  'cast', 'contiguous', 'reshape', 'permute', 'expand', 'slice', 'padSlice',
  // indexing (ops/indexing.ts)
  'gather', 'scatterAdd', 'cat',
  // convolution geometry (ops/conv.ts); max pooling with argmax (ops/max_pool2d.ts); convolution
  // without a column tensor (ops/conv2d.ts)
  'unfold2d', 'fold2d', 'maxPool2d', 'conv2d',
  // fused kernels, one file each named after the kernel: linear (+bias, +ReLU) ops/linear.ts, mean
  // softmax cross-entropy ops/softmax_cross_entropy.ts, layer norm over the last dimension (+weight,
  // +bias) ops/layer_norm.ts, GELU (erf or tanh form) ops/gelu.ts, an LM head fused with its mean
  // cross-entropy ops/linear_cross_entropy.ts. (The embedding kernel records 'gather',
  // ops/embedding.ts; Adam is an optimizer step, optim/adam.ts, never recorded.)
  'linear', 'softmaxCrossEntropy', 'layerNorm', 'gelu', 'linearCrossEntropy',
  // fused scaled-dot-product attention (ops/attention.ts)
  'attention',
  // activation checkpointing: recomputes a function in backward (autograd/recompute.ts)
  'checkpoint',
] as const;

export type KernelName = (typeof KERNELS)[number];

/**
 * Exported ops whose results carry no gradient, with the reason. They never call record(): their
 * outputs are integer or bool tensors, or constants. Keys must be names src/ops exports
 * (test/autograd/coverage.test.ts checks every export against this list and the kernels).
 */
export const NON_DIFFERENTIABLE: Readonly<Record<string, string>> = {
  eq: 'comparison: bool output, piecewise constant',
  ne: 'comparison: bool output, piecewise constant',
  lt: 'comparison: bool output, piecewise constant',
  le: 'comparison: bool output, piecewise constant',
  gt: 'comparison: bool output, piecewise constant',
  ge: 'comparison: bool output, piecewise constant',
  logicalNot: 'bool in, bool out',
  logicalAnd: 'bool in, bool out',
  logicalOr: 'bool in, bool out',
  argmax: 'int32 indices',
  argmin: 'int32 indices',
  oneHot: 'int32 output from int32 indices',
  rand: 'random values: constant with respect to every input',
  randn: 'random values: constant with respect to every input',
  randint: 'random int32 values',
};
