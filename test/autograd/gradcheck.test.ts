// Float64 central-difference gradient check of every differentiable kernel, plus composite ops,
// and the meta-test: every kernel has a gradient rule or is listed as non-differentiable.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  KERNELS, NON_DIFFERENTIABLE, registeredGradKernels, gradcheck, Generator, Tensor,
  abs, add, cat, clamp, conv2d, cos, div, dropout, erf, exp, expand, floor, fold2d, gather, gelu, indexSelect,
  log, logSoftmax, logsumexp, matmul, max, maximum, mean, min, minimum, maxPool2d, mul, narrow, neg, padSlice,
  permute, pow, randn, relu, reshape, scatterAdd, sigmoid, sign, sin, slice, softmax, sqrt, stack, sub, sum,
  tanh, tensor, to, transpose, unfold2d, variance, where, gt, contiguous, conv2dGeometry, rand,
  fusedLinear, softmaxCrossEntropy, scaledDotProductAttention, checkpoint, fusedLayerNorm, fusedGelu, linearCrossEntropy,
} from '../../src/index.js';

const gen = new Generator(1234);
/** float64 normal input that requires grad */
const R = (shape: number[]): Tensor => randn(shape, { dtype: 'float64', requiresGrad: true, generator: gen });
/** positive input in [0.5, 2) (for log, sqrt, pow bases) */
const P = (shape: number[]): Tensor => {
  const t = rand(shape, { dtype: 'float64', generator: gen });
  for (let i = 0; i < t.data.length; i++) t.data[i] = 0.5 + 1.5 * t.data[i]!;
  return t.requiresGrad_();
};
/** values kept away from 0 so kinks (abs, relu, sign) are not sampled */
const K = (shape: number[]): Tensor => {
  const t = randn(shape, { dtype: 'float64', generator: gen });
  for (let i = 0; i < t.data.length; i++) t.data[i] = t.data[i]! + (t.data[i]! >= 0 ? 0.1 : -0.1);
  return t.requiresGrad_();
};
const idx = (data: number[], shape?: number[]): Tensor => tensor(new Int32Array(data), { shape: shape ?? [data.length] });

interface Case { fn: (...xs: Tensor[]) => Tensor; inputs: () => Tensor[]; opts?: { eps?: number; atol?: number } }

/** One case per kernel: the function must record that kernel (checked below). */
const KERNEL_CASES: Record<string, Case> = {
  neg: { fn: (x) => neg(x), inputs: () => [R([3, 4])] },
  exp: { fn: (x) => exp(x), inputs: () => [R([3, 4])] },
  log: { fn: (x) => log(x), inputs: () => [P([3, 4])] },
  sqrt: { fn: (x) => sqrt(x), inputs: () => [P([3, 4])] },
  abs: { fn: (x) => abs(x), inputs: () => [K([3, 4])] },
  tanh: { fn: (x) => tanh(x), inputs: () => [R([3, 4])] },
  sigmoid: { fn: (x) => sigmoid(x), inputs: () => [R([3, 4])] },
  relu: { fn: (x) => relu(x), inputs: () => [K([3, 4])] },
  erf: { fn: (x) => erf(x), inputs: () => [R([3, 4])] },
  sign: { fn: (x) => sign(x), inputs: () => [K([3, 4])] },
  sin: { fn: (x) => sin(x), inputs: () => [R([3, 4])] },
  cos: { fn: (x) => cos(x), inputs: () => [R([3, 4])] },
  floor: { fn: (x) => floor(x), inputs: () => { const t = K([3, 4]); for (let i = 0; i < t.data.length; i++) t.data[i] = Math.floor(t.data[i]!) + 0.5; return [t]; } },
  add: { fn: (a, b) => add(a, b), inputs: () => [R([2, 3, 4]), R([3, 1])] },
  sub: { fn: (a, b) => sub(a, b), inputs: () => [R([3, 1]), R([2, 3, 4])] },
  mul: { fn: (a, b) => mul(a, b), inputs: () => [R([2, 3, 4]), R([4])] },
  div: { fn: (a, b) => div(a, b), inputs: () => [R([2, 3]), P([2, 1])] },
  pow: { fn: (a, b) => pow(a, b), inputs: () => [P([2, 3]), R([3])] },
  maximum: { fn: (a, b) => maximum(a, b), inputs: () => [R([3, 4]), R([4])] },
  minimum: { fn: (a, b) => minimum(a, b), inputs: () => [R([3, 4]), R([3, 1])] },
  where: { fn: (a, b) => where(gt(a, 0.2), a, b), inputs: () => [K([3, 4]), R([4])] },
  sum: { fn: (x) => sum(x, [0, 2], true), inputs: () => [R([2, 3, 4])] },
  max: { fn: (x) => max(x, 1), inputs: () => [R([2, 5, 3])] },
  min: { fn: (x) => min(x, [0, 2]), inputs: () => [R([2, 5, 3])] },
  matmul: { fn: (a, b) => matmul(a, b), inputs: () => [R([2, 3, 4]), R([4, 5])] },
  // float32 rounding limits finite differences; the function is linear, so a large step is exact
  cast: { fn: (x) => to(mul(to(x, 'float32'), 3), 'float64'), inputs: () => [R([3])], opts: { eps: 1e-1, atol: 1e-5 } },
  contiguous: { fn: (x) => contiguous(transpose(x, 0, 1)), inputs: () => [R([3, 4])] },
  reshape: { fn: (x) => reshape(x, [4, 3]), inputs: () => [R([3, 4])] },
  permute: { fn: (x) => permute(x, [2, 0, 1]), inputs: () => [R([2, 3, 4])] },
  expand: { fn: (x) => expand(x, [2, 3, 4]), inputs: () => [R([3, 1])] },
  slice: { fn: (x) => slice(x, 1, 1, 5, 2), inputs: () => [R([3, 6])] },
  padSlice: { fn: (x) => padSlice(x, [3, 7], 1, 1, 3), inputs: () => [R([3, 2])] },
  gather: { fn: (x) => gather(x, 1, idx([0, 2, 2, 1, 0, 0], [3, 2])), inputs: () => [R([3, 4])] },
  scatterAdd: { fn: (s) => scatterAdd([3, 4], 1, idx([0, 2, 2, 1, 3, 3], [3, 2]), s), inputs: () => [R([3, 2])] },
  cat: { fn: (a, b) => cat([a, b], 1), inputs: () => [R([2, 3]), R([2, 2])] },
  unfold2d: {
    fn: (x) => unfold2d(x, conv2dGeometry('unfold2d', x.shape, [2, 3], [1, 2], [1, 1], [1, 1])),
    inputs: () => [R([1, 2, 4, 5])],
  },
  fold2d: {
    fn: (c) => fold2d(c, conv2dGeometry('fold2d', [1, 2, 4, 5], [2, 3], [1, 2], [1, 1], [1, 1])),
    inputs: () => [R([1, 2, 2, 3, 5, 3])],
  },
  // overlapping windows (stride 1) with padding: the argmax scatter adds up where windows share a maximum
  maxPool2d: { fn: (x) => maxPool2d(x, 2, { stride: 1, padding: 1 }), inputs: () => [R([2, 2, 4, 4])] },
  conv2d: { fn: (x, w, b) => conv2d(x, w, b, { padding: 1 }), inputs: () => [R([2, 3, 4, 5]), R([4, 3, 3, 2]), R([4])] },
  // fused kernels: ReLU case with pre-activations kept away from the kink by a large bias
  linear: { fn: (x, w, b) => fusedLinear(x, w, b, { relu: true }), inputs: () => [R([3, 4]), R([5, 4]), K([5])] },
  softmaxCrossEntropy: { fn: (z) => softmaxCrossEntropy(z, idx([2, 0, 4])), inputs: () => [R([3, 5])] },
  // one row per chunk (chunkElements 5 = V): gradients accumulate over chunks
  linearCrossEntropy: { fn: (x, w) => linearCrossEntropy(x, w, idx([2, 0, 4]), { chunkElements: 5 }), inputs: () => [R([3, 4]), R([5, 4])] },
  // over the last dim of a 3-D input, with weight and bias
  layerNorm: { fn: (x, w, b) => fusedLayerNorm(x, w, b, 1e-5), inputs: () => [R([2, 3, 5]), R([5]), R([5])] },
  gelu: { fn: (x) => fusedGelu(x), inputs: () => [R([3, 4])] },
  // causal with fewer queries than keys (a KV cache's mask), D != Dv, a fixed dropout mask
  attention: {
    fn: (q, k, v) => scaledDotProductAttention(q, k, v, { causal: true, dropout: 0.2, seed: 3 }),
    inputs: () => [R([1, 2, 3, 4]), R([1, 2, 5, 4]), R([1, 2, 5, 3])],
  },
  // recomputed in backward; gradients reach both inputs through the replayed graph
  checkpoint: { fn: (x, w) => checkpoint((a, b) => tanh(matmul(a, b)), x, w), inputs: () => [R([3, 4]), R([4, 2])] },
};

/** Composite ops: differentiated through their composition. */
const COMPOSITE_CASES: Record<string, Case> = {
  'broadcast both ways': { fn: (a, b) => mul(add(a, b), b), inputs: () => [R([4, 1, 3]), R([2, 1])] },
  'non-contiguous input': { fn: (x) => tanh(matmul(transpose(x, 0, 1), x)), inputs: () => [R([4, 3])] },
  'mean': { fn: (x) => mean(x, 1), inputs: () => [R([3, 4])] },
  'var': { fn: (x) => variance(x, 0), inputs: () => [R([5, 3])] },
  'var correction 0 keepdim': { fn: (x) => variance(x, [0, 1], { correction: 0, keepdim: true }), inputs: () => [R([2, 3, 2])] },
  'softmax': { fn: (x) => softmax(x, 0), inputs: () => [R([4, 3])] },
  'logSoftmax': { fn: (x) => logSoftmax(x, -1), inputs: () => [R([3, 5])] },
  'logsumexp': { fn: (x) => logsumexp(x, 1), inputs: () => [R([3, 5])] },
  'gelu erf': { fn: (x) => gelu(x), inputs: () => [R([3, 4])] },
  'gelu tanh': { fn: (x) => gelu(x, { approximate: 'tanh' }), inputs: () => [R([3, 4])] },
  'clamp': { fn: (x) => clamp(x, -0.5, 0.5), inputs: () => [K([4, 4])] },
  'matmul 1-D @ 2-D': { fn: (a, b) => matmul(a, b), inputs: () => [R([4]), R([4, 3])] },
  'matmul 2-D @ 1-D': { fn: (a, b) => matmul(a, b), inputs: () => [R([3, 4]), R([4])] },
  'matmul 1-D @ 1-D': { fn: (a, b) => matmul(a, b), inputs: () => [R([4]), R([4])] },
  'matmul broadcast batch': { fn: (a, b) => matmul(a, b), inputs: () => [R([2, 1, 3, 4]), R([3, 4, 2])] },
  'matmul transposed operand': { fn: (a, b) => matmul(a, transpose(b, 0, 1)), inputs: () => [R([3, 4]), R([5, 4])] },
  'indexSelect': { fn: (x) => indexSelect(x, 0, idx([2, 0, 2])), inputs: () => [R([3, 4])] },
  'stack': { fn: (a, b) => stack([a, b], 1), inputs: () => [R([2, 3]), R([2, 3])] },
  'narrow': { fn: (x) => narrow(x, 0, 1, 2), inputs: () => [R([4, 3])] },
  'conv2d stride/padding/dilation + bias': {
    fn: (x, w, b) => conv2d(x, w, b, { stride: [2, 1], padding: 1, dilation: [1, 2] }),
    inputs: () => [R([2, 3, 5, 6]), R([4, 3, 3, 2]), R([4])],
  },
  'conv2d groups 2, stride 2, no bias': {
    fn: (x, w) => conv2d(x, w, null, { stride: 2, padding: 1, groups: 2 }),
    inputs: () => [R([2, 4, 5, 4]), R([6, 2, 3, 2])],
  },
  'conv2d depthwise, channel multiplier 2, dilation 2 + bias': {
    fn: (x, w, b) => conv2d(x, w, b, { padding: 2, dilation: 2, groups: 3 }),
    inputs: () => [R([2, 3, 5, 5]), R([6, 1, 3, 3]), R([6])],
  },
  'conv2d direct (stride 1, one input channel, padding 2) + maxPool2d 2x2': {
    fn: (x, w, b) => maxPool2d(conv2d(x, w, b, { padding: 2 }), 2),
    inputs: () => [R([2, 1, 5, 7]), R([3, 1, 5, 5]), R([3])],
  },
  // lenet5's block order; weights of both signs so ReLU masks some outputs (its fused backward)
  'conv2d direct + relu + maxPool2d 2x2': {
    fn: (x, w, b) => maxPool2d(relu(conv2d(x, w, b)), 2),
    inputs: () => [R([2, 2, 6, 6]), K([3, 2, 3, 3]), K([3])],
  },
  'dropout (fixed mask)': { fn: (x) => dropout(x, 0.3, true, new Generator(5)), inputs: () => [R([4, 5])] },
  'sum all': { fn: (x) => sum(mul(x, x)), inputs: () => [R([3, 4])] },
  'max all (ties split)': { fn: (x) => max(x), inputs: () => [R([3, 4])] },
  'fusedLinear no bias, no activation, 3-D input': { fn: (x, w) => fusedLinear(x, w), inputs: () => [R([2, 3, 4]), R([5, 4])] },
  'attention, no mask, no dropout': { fn: (q, k, v) => scaledDotProductAttention(q, k, v), inputs: () => [R([2, 1, 4, 3]), R([2, 1, 2, 3]), R([2, 1, 2, 3])] },
  'fusedLayerNorm weight only, transposed input': { fn: (x, w) => fusedLayerNorm(transpose(x, 0, 1), w, null, 1e-3), inputs: () => [R([6, 4]), R([6])] },
  'fusedLayerNorm bias only': { fn: (x, b) => fusedLayerNorm(x, null, b), inputs: () => [R([3, 4]), R([4])] },
  'fusedLayerNorm no affine': { fn: (x) => fusedLayerNorm(x), inputs: () => [R([3, 4])] },
  'fusedGelu tanh, strided input': { fn: (x) => fusedGelu(transpose(x, 0, 1), 'tanh'), inputs: () => [R([4, 3])] },
  'fusedLinear transposed input': { fn: (x, w, b) => fusedLinear(transpose(x, 0, 1), w, b), inputs: () => [R([4, 3]), R([2, 4]), R([2])] },
};

function kernelsOf(t: Tensor): Set<string> {
  const seen = new Set<string>();
  const stack: unknown[] = [t.gradFn];
  while (stack.length) {
    const n = stack.pop() as { kernel: string; edges: { node: unknown }[] } | null;
    if (!n || seen.has(n.kernel + '#' + String((n as { seq?: number }).seq))) continue;
    seen.add(n.kernel + '#' + String((n as { seq?: number }).seq));
    for (const e of n.edges) stack.push(e.node);
  }
  return new Set([...seen].map((s) => s.split('#')[0]!));
}

describe('gradcheck: every differentiable kernel (float64, central differences)', () => {
  for (const [kernel, c] of Object.entries(KERNEL_CASES)) {
    test(kernel, () => {
      const inputs = c.inputs();
      const out = c.fn(...inputs);
      assert.ok(kernelsOf(out).has(kernel), `case for '${kernel}' does not record that kernel (recorded: ${[...kernelsOf(out)].join(', ')})`);
      const r = gradcheck(c.fn, inputs, c.opts);
      assert.ok(r.ok, `${kernel}: ${r.message}`);
    });
  }
});

describe('gradcheck: composite ops', () => {
  for (const [name, c] of Object.entries(COMPOSITE_CASES)) {
    test(name, () => {
      const r = gradcheck(c.fn, c.inputs());
      assert.ok(r.ok, `${name}: ${r.message}`);
    });
  }
});

describe('meta: gradient rule coverage', () => {
  test('every kernel has exactly one gradient rule and a gradcheck case', () => {
    const registered = new Set(registeredGradKernels());
    for (const k of KERNELS) {
      assert.ok(registered.has(k), `kernel '${k}' has no gradient rule`);
      assert.ok(k in KERNEL_CASES, `kernel '${k}' has no gradcheck case`);
    }
    for (const k of registered) assert.ok((KERNELS as readonly string[]).includes(k), `rule '${k}' is not a listed kernel`);
  });
  test('non-differentiable ops have no rule and a reason', () => {
    const registered = new Set(registeredGradKernels());
    for (const [k, reason] of Object.entries(NON_DIFFERENTIABLE)) {
      assert.ok(!registered.has(k), `'${k}' is listed non-differentiable but has a rule`);
      assert.ok(reason.length > 5, `'${k}' needs a reason`);
    }
  });
});
