// Gradient coverage of the public ops, from the outside: every function src/ops exports is either
// called here on small float64 inputs that require grad and must return tensors recorded on the
// tape (a grad_fn whose kernels are all listed in KERNELS), or sits in exactly one explicit list of
// ops that record nothing, each with a reason and a check of that reason (constants have no
// grad_fn, in-place ops refuse a tensor that requires grad, comparisons return untracked tensors).
// An exported op that forgets to call record() therefore fails here instead of silently cutting
// the graph. Then a float64 gradcheck case for each kernel or loss option that changes the math:
// attention mask modes, scale, dropout and training; loss reductions, label smoothing, class
// weights, ignored targets, soft targets, log targets.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import * as ops from '../../src/ops/index.js';
import { Generator, Tensor, gradcheck } from '../../src/index.js';
import { F } from '../../src/nn/index.js';

const gen = new Generator(4321);
/** float64 normal input that requires grad */
const R = (shape: number[]): Tensor => ops.randn(shape, { dtype: 'float64', requiresGrad: true, generator: gen });
/** positive input in [0.5, 2) */
const P = (shape: number[]): Tensor => {
  const t = ops.rand(shape, { dtype: 'float64', generator: gen });
  for (let i = 0; i < t.data.length; i++) t.data[i] = 0.5 + 1.5 * t.data[i]!;
  return t.requiresGrad_();
};
const idx = (data: number[], shape?: number[]): Tensor => ops.tensor(new Int32Array(data), { shape: shape ?? [data.length] });
const geo = (x: readonly number[]): ReturnType<typeof ops.conv2dGeometry> => ops.conv2dGeometry('test', x, [2, 2], [1, 1], [0, 0], [1, 1]);

/** Each differentiable export, called on fresh float64 inputs that require grad. */
const DIFFERENTIABLE: Record<string, () => Tensor | readonly Tensor[]> = {
  abs: () => ops.abs(R([3])), add: () => ops.add(R([2, 3]), R([3])), cat: () => ops.cat([R([2]), R([3])]),
  clamp: () => ops.clamp(R([4]), -0.5, 0.5), clone: () => ops.clone(R([3])), contiguous: () => ops.contiguous(ops.t(R([2, 3]))),
  conv2d: () => ops.conv2d(R([1, 2, 4, 4]), R([3, 2, 2, 2]), R([3])), cos: () => ops.cos(R([3])), div: () => ops.div(R([3]), P([3])),
  dropout: () => ops.dropout(R([8]), 0.5, true, new Generator(1)), erf: () => ops.erf(R([3])), exp: () => ops.exp(R([3])),
  expand: () => ops.expand(R([3, 1]), [3, 4]), flatten: () => ops.flatten(R([2, 3, 2])), floor: () => ops.floor(R([3])),
  fold2d: () => ops.fold2d(R([1, 2, 2, 2, 2, 2]), geo([1, 2, 3, 3])), fusedGelu: () => ops.fusedGelu(R([3])),
  fusedLayerNorm: () => ops.fusedLayerNorm(R([2, 4]), R([4]), R([4])), fusedLinear: () => ops.fusedLinear(R([2, 3]), R([4, 3]), R([4])),
  gather: () => ops.gather(R([2, 3]), 1, idx([0, 2], [2, 1])), gelu: () => ops.gelu(R([3])), geluReference: () => ops.geluReference(R([3])),
  indexSelect: () => ops.indexSelect(R([3, 2]), 0, idx([2, 0])), layerNormReference: () => ops.layerNormReference(R([2, 4]), R([4]), R([4])),
  log: () => ops.log(P([3])), logSoftmax: () => ops.logSoftmax(R([2, 3])), logsumexp: () => ops.logsumexp(R([2, 3]), 1),
  matmul: () => ops.matmul(R([2, 3]), R([3, 2])), max: () => ops.max(R([2, 3]), 1), maxPool2d: () => ops.maxPool2d(R([1, 1, 4, 4]), 2),
  maximum: () => ops.maximum(R([3]), R([3])), mean: () => ops.mean(R([2, 3])), min: () => ops.min(R([2, 3]), 0),
  minimum: () => ops.minimum(R([3]), R([3])), mul: () => ops.mul(R([3]), R([3])), narrow: () => ops.narrow(R([4, 2]), 0, 1, 2),
  neg: () => ops.neg(R([3])), padSlice: () => ops.padSlice(R([3, 2]), [3, 5], 1, 1, 2), permute: () => ops.permute(R([2, 3, 4]), [2, 0, 1]),
  pow: () => ops.pow(P([3]), R([3])), reciprocal: () => ops.reciprocal(P([3])), relu: () => ops.relu(R([3])),
  reshape: () => ops.reshape(R([2, 3]), [3, 2]), scatterAdd: () => ops.scatterAdd([2, 3], 1, idx([0, 2], [2, 1]), R([2, 1])),
  sigmoid: () => ops.sigmoid(R([3])), sign: () => ops.sign(R([3])), sin: () => ops.sin(R([3])), slice: () => ops.slice(R([5]), 0, 1, 4, 2),
  softmax: () => ops.softmax(R([2, 3])), softmaxCrossEntropy: () => ops.softmaxCrossEntropy(R([2, 3]), idx([2, 0])),
  sqrt: () => ops.sqrt(P([3])), square: () => ops.square(R([3])), squeeze: () => ops.squeeze(R([3, 1]), 1),
  stack: () => ops.stack([R([2]), R([2])]), sub: () => ops.sub(R([3]), R([3])), sum: () => ops.sum(R([2, 3])), t: () => ops.t(R([2, 3])),
  tanh: () => ops.tanh(R([3])), to: () => ops.to(R([3]), 'float32'), transpose: () => ops.transpose(R([2, 3]), 0, 1),
  unfold2d: () => ops.unfold2d(R([1, 2, 3, 3]), geo([1, 2, 3, 3])), unsqueeze: () => ops.unsqueeze(R([3]), 0),
  variance: () => ops.variance(R([2, 3]), 1), view: () => ops.view(R([2, 3]), [6]),
  where: () => ops.where(ops.gt(R([3]), 0), R([3]), R([3])),
  scaledDotProductAttention: () => ops.scaledDotProductAttention(R([1, 2, 3, 4]), R([1, 2, 3, 4]), R([1, 2, 3, 4]), { causal: true }),
  attentionReference: () => ops.attentionReference(R([1, 2, 3, 4]), R([1, 2, 3, 4]), R([1, 2, 3, 4])),
  packedSelfAttention: () => ops.packedSelfAttention(R([1, 3, 12]), 2, { causal: true }),
  embeddingRows: () => ops.embeddingRows(R([4, 3]), idx([3, 0, 3])),
  linearReference: () => ops.linearReference(R([2, 3]), R([4, 3]), R([4]), true),
  conv2dReference: () => ops.conv2dReference(R([1, 2, 4, 4]), R([3, 2, 2, 2]), R([3]), ops.conv2dGeometry('conv2d', [1, 2, 4, 4], [2, 2], [1, 1], [0, 0], [1, 1])),
  softmaxCrossEntropyReference: () => ops.softmaxCrossEntropyReference(R([2, 3]), idx([2, 0])),
  linearCrossEntropy: () => ops.linearCrossEntropy(R([2, 3]), R([4, 3]), idx([2, 0])),
  linearCrossEntropyReference: () => ops.linearCrossEntropyReference(R([2, 3]), R([4, 3]), idx([2, 0])),
  layerNormParts: () => { const p = ops.layerNormParts(R([2, 4]), 1, 1e-5); return [p.mean, p.centered, p.std]; },
  layerNormApply: () => ops.layerNormApply(ops.layerNormParts(R([2, 4]), 1, 1e-5), R([4]), R([4])),
};

/** Exports whose results carry no gradient by design: the reason, and the check of that reason. */
type Kind = 'listed in NON_DIFFERENTIABLE' | 'constant' | 'in-place' | 'no tensor result' | 'cuts the graph' | 'gradient helper' | 'dispatch helper';
const NOT_RECORDED: Record<string, Kind> = {
  ...Object.fromEntries(Object.keys(ops.NON_DIFFERENTIABLE).map((k) => [k, 'listed in NON_DIFFERENTIABLE' as const])),
  // creation: the result does not depend on any tensor's values (fullLike & co. take only a shape and dtype)
  arange: 'constant', empty: 'constant', eye: 'constant', full: 'constant', fullLike: 'constant', linspace: 'constant',
  ones: 'constant', onesLike: 'constant', tensor: 'constant', zeros: 'constant', zerosLike: 'constant',
  // in-place writes refuse a tensor that requires grad while recording (wrap them in noGrad)
  abs_: 'in-place', add_: 'in-place', assign: 'in-place', cos_: 'in-place', div_: 'in-place', erf_: 'in-place', exp_: 'in-place',
  fill_: 'in-place', floor_: 'in-place', log_: 'in-place', mul_: 'in-place', neg_: 'in-place', pow_: 'in-place', relu_: 'in-place',
  sigmoid_: 'in-place', sign_: 'in-place', sin_: 'in-place', sqrt_: 'in-place', sub_: 'in-place', tanh_: 'in-place', zero_: 'in-place',
  allClose: 'no tensor result', checkDtype: 'no tensor result', conv2dGeometry: 'no tensor result', checkConv2dGroups: 'no tensor result', checkLinearShapes: 'no tensor result',
  // choose the fused kernel or the composition; the ops that call them are checked above (fusedLinear, gelu, ...)
  fusedOr: 'dispatch helper', fusedBackwardOr: 'dispatch helper',
  attentionKeep: 'no tensor result', attentionDropThreshold: 'no tensor result',
  detach: 'cuts the graph',
  // the attention kernel's gradient rule calls these; second-order gradients are checked in test/nn/packed_attention.test.ts
  attentionBackward: 'gradient helper', attentionBackwardComposed: 'gradient helper', packedAttentionBackward: 'gradient helper',
};

const exported = Object.entries(ops).filter(([, v]) => typeof v === 'function').map(([k]) => k);

/** Kernel names recorded in the graph behind t. */
function kernelsOf(t: Tensor): Set<string> {
  const seen = new Set<unknown>(), kernels = new Set<string>();
  const stack: unknown[] = [t.gradFn];
  while (stack.length) {
    const n = stack.pop() as { kernel: string; edges: { node: unknown }[] } | null;
    if (!n || seen.has(n)) continue;
    seen.add(n);
    kernels.add(n.kernel);
    for (const e of n.edges) stack.push(e.node);
  }
  return kernels;
}

describe('meta: every exported op records a kernel or is listed as not recording', () => {
  test('each export is in exactly one of the two lists, and every listed name is an export', () => {
    for (const name of exported) {
      const inD = name in DIFFERENTIABLE, inN = name in NOT_RECORDED;
      assert.ok(inD || inN, `ops.${name} is exported but neither called as differentiable here nor listed as not recording: add it to one (and, if it records nothing, to NON_DIFFERENTIABLE in src/ops/kernels.ts with a reason)`);
      assert.ok(!(inD && inN), `ops.${name} is in both lists`);
    }
    for (const name of [...Object.keys(DIFFERENTIABLE), ...Object.keys(NOT_RECORDED)]) {
      assert.ok(exported.includes(name), `'${name}' is listed but src/ops exports no such function`);
    }
    for (const name of Object.keys(ops.NON_DIFFERENTIABLE)) {
      assert.ok(exported.includes(name), `NON_DIFFERENTIABLE names '${name}', which src/ops does not export`);
    }
  });

  for (const [name, call] of Object.entries(DIFFERENTIABLE)) {
    test(`${name} records its result on the tape`, () => {
      const out = call();
      for (const t of Array.isArray(out) ? out : [out as Tensor]) {
        assert.ok(t.requiresGrad && t.gradFn !== null, `ops.${name} returned a tensor without a grad_fn from inputs that require grad`);
        for (const k of kernelsOf(t)) assert.ok((ops.KERNELS as readonly string[]).includes(k), `ops.${name} recorded '${k}', which is not in KERNELS`);
      }
    });
  }

  test('ops that record nothing: untracked results, refused in-place writes', () => {
    for (const [name, kind] of Object.entries(NOT_RECORDED)) {
      if (kind === 'in-place') {
        // fill_ and zero_ delegate to assign, whose name their error carries
        const fn = (ops as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
        const x = R([3]);
        const args: unknown[] = name === 'zero_' ? [x] : name === 'fill_' || name === 'assign' || name === 'pow_' ? [x, 2] : name.endsWith('_') && ['add_', 'sub_', 'mul_', 'div_'].includes(name) ? [x, P([3])] : [x];
        assert.throws(() => fn(...args), new RegExp(`(${name}|assign): .*requires grad`), `ops.${name} wrote into a tensor that requires grad`);
      }
    }
    const x = R([2, 3]);
    for (const c of [ops.eq(x, 0), ops.ne(x, 0), ops.lt(x, 0), ops.le(x, 0), ops.gt(x, 0), ops.ge(x, 0), ops.argmax(x, 1), ops.argmin(x, 1),
      ops.logicalNot(ops.gt(x, 0)), ops.logicalAnd(ops.gt(x, 0), ops.lt(x, 1)), ops.logicalOr(ops.gt(x, 0), ops.lt(x, 1)), ops.oneHot(idx([1, 0]), 3),
      ops.fullLike(x, 2), ops.onesLike(x), ops.zerosLike(x), ops.detach(x), ops.rand([2]), ops.randn([2]), ops.randint(0, 3, [2])]) {
      assert.equal(c.gradFn, null);
      assert.equal(c.requiresGrad, false);
    }
  });
});

// ---- one gradient check per option that changes the math ----

interface Case { fn: (...xs: Tensor[]) => Tensor; inputs: () => Tensor[] }
const q = (): Tensor[] => [R([1, 2, 3, 4]), R([1, 2, 5, 4]), R([1, 2, 5, 3])];   // Tq = 3 < Tk = 5, D = 4 != Dv = 3
const OPTION_CASES: Record<string, Case> = {
  'attention: causal, no dropout': { fn: (a, b, c) => ops.scaledDotProductAttention(a, b, c, { causal: true }), inputs: q },
  'attention: custom scale': { fn: (a, b, c) => ops.scaledDotProductAttention(a, b, c, { scale: 0.3 }), inputs: q },
  'attention: dropout, not causal': { fn: (a, b, c) => ops.scaledDotProductAttention(a, b, c, { dropout: 0.3, seed: 9 }), inputs: q },
  'attention: dropout with training false (no mask)': { fn: (a, b, c) => ops.scaledDotProductAttention(a, b, c, { dropout: 0.3, training: false, causal: true }), inputs: q },
  'packedSelfAttention: causal': { fn: (x) => ops.packedSelfAttention(x, 2, { causal: true }), inputs: () => [R([2, 3, 12])] },
  'packedSelfAttention: not causal, dropout': { fn: (x) => ops.packedSelfAttention(x, 2, { dropout: 0.25, seed: 4 }), inputs: () => [R([1, 4, 12])] },
};
const T3 = (): Tensor => idx([2, 0, 1]);
// constants of the loss cases, drawn once (gradcheck calls each function many times)
const SOFT = ops.softmax(ops.randn([3, 4], { dtype: 'float64', generator: gen }), 1);
const BCE_TARGET = ops.rand([2, 3], { dtype: 'float64', generator: gen });
const BCE_WEIGHT = P([3]).detach(), BCE_POS_WEIGHT = P([3]).detach();
const ZEROS = ops.zeros([2, 3], { dtype: 'float64' });
/** a weighted sum, so that reduction 'none' is checked elementwise */
const wsum = (t: Tensor): Tensor => ops.sum(ops.mul(t, ops.reshape(ops.arange(1, t.size + 1, 1, { dtype: 'float64' }), t.shape)));
for (const reduction of ['mean', 'sum', 'none'] as const) {
  const red = (t: Tensor): Tensor => (reduction === 'none' ? wsum(t) : t);
  OPTION_CASES[`crossEntropy ${reduction}`] = { fn: (z) => red(F.crossEntropy(z, T3(), { reduction })), inputs: () => [R([3, 4])] };
  OPTION_CASES[`crossEntropy ${reduction}, label smoothing 0.2`] = { fn: (z) => red(F.crossEntropy(z, T3(), { reduction, labelSmoothing: 0.2 })), inputs: () => [R([3, 4])] };
  OPTION_CASES[`crossEntropy ${reduction}, weights, an ignored target, label smoothing 0.1`] = {
    fn: (z, w) => red(F.crossEntropy(z, idx([2, -100, 1]), { reduction, weight: w, labelSmoothing: 0.1 })),
    inputs: () => [R([3, 4]), P([4])],
  };
  OPTION_CASES[`crossEntropy ${reduction}, soft targets, label smoothing 0.1`] = { fn: (z) => red(F.crossEntropy(z, SOFT, { reduction, labelSmoothing: 0.1 })), inputs: () => [R([3, 4])] };
  OPTION_CASES[`crossEntropy ${reduction}, (N, C, d) input`] = { fn: (z) => red(F.crossEntropy(z, idx([1, 0, 2, 2], [2, 2]), { reduction })), inputs: () => [R([2, 3, 2])] };
  OPTION_CASES[`nllLoss ${reduction}, weights`] = { fn: (z, w) => red(F.nllLoss(ops.logSoftmax(z, 1), T3(), { reduction, weight: w })), inputs: () => [R([3, 4]), P([4])] };
  OPTION_CASES[`mseLoss ${reduction}`] = { fn: (a, b) => red(F.mseLoss(a, b, { reduction })), inputs: () => [R([2, 3]), R([2, 3])] };
  OPTION_CASES[`l1Loss ${reduction}`] = { fn: (a) => red(F.l1Loss(a, ZEROS, { reduction })), inputs: () => [P([2, 3])] };
  OPTION_CASES[`bceWithLogits ${reduction}, weight and posWeight`] = {
    fn: (z) => red(F.bceWithLogits(z, BCE_TARGET, { reduction, weight: BCE_WEIGHT, posWeight: BCE_POS_WEIGHT })),
    inputs: () => [R([2, 3])],
  };
}
for (const reduction of ['mean', 'batchmean', 'sum', 'none'] as const) {
  for (const logTarget of [false, true]) {
    OPTION_CASES[`klDiv ${reduction}${logTarget ? ', log target' : ''}`] = {
      fn: (s, t) => {
        const target = logTarget ? ops.logSoftmax(t, 1) : ops.softmax(t, 1);
        const l = F.klDiv(ops.logSoftmax(s, 1), target, { reduction, logTarget });
        return reduction === 'none' ? wsum(l) : l;
      },
      inputs: () => [R([3, 4]), R([3, 4])],
    };
  }
}

describe('gradcheck: each option that changes the math (float64, central differences)', () => {
  for (const [name, c] of Object.entries(OPTION_CASES)) {
    test(name, () => {
      const r = gradcheck(c.fn, c.inputs());
      assert.ok(r.ok, `${name}: ${r.message}`);
    });
  }
});
