// Layers and init: PyTorch default init bounds, seeded repeatability, hand-computed outputs,
// and bad-input errors that name the layer, the shapes and the fix. At the end, compileInference
// (src/nn/inference.ts): its output is bit-identical to noGrad(() => model.call(x)) (the module
// path itself, on the same backend) at batch 1 (GEMV) and at GEMM batches, with NaN, -0 and
// negative inputs; it fuses Linear + ReLU, honours forward hooks and eval-mode dropout, re-plans
// after module swapping, never hands out storage that a previous result still uses, records no
// graph, and refuses training mode.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ops from '../../src/ops/index.js';
import { manualSeed } from '../../src/core/random.js';
import { noGrad } from '../../src/core/engine.js';
import {
  Linear, Conv2d, MaxPool2d, LayerNorm, Embedding, Flatten, GELU, Tanh, Sigmoid, ReLU, Dropout, Identity, Sequential, init, F, compileInference,
} from '../../src/nn/index.js';
import type { Tensor } from '../../src/core/tensor.js';
import { createAnyModel } from '../../src/models/index.js';

const maxAbs = (a: ArrayLike<number>): number => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!)); return m; };

test('Linear: PyTorch default init bounds 1/sqrt(inFeatures) for weight and bias; seeded runs repeat', () => {
  manualSeed(42);
  const a = new Linear(100, 50);
  // kaiming_uniform(a = sqrt 5): gain = sqrt(2 / (1 + 5)), bound = gain * sqrt(3 / 100) = 1 / sqrt(100) = 0.1
  const w = a.weight.dataSync();
  assert.ok(maxAbs(w) <= 0.1 && maxAbs(w) > 0.09);
  assert.ok(maxAbs(a.bias!.dataSync()) <= 0.1);
  // U(-b, b) has variance b^2 / 3
  const varW = [...w].reduce((s, v) => s + v * v, 0) / w.length;
  assert.ok(Math.abs(varW - 0.01 / 3) < 0.0005, `variance ${varW}`);
  manualSeed(42);
  const b = new Linear(100, 50);
  assert.deepEqual([...b.weight.dataSync()], [...w]);
  assert.deepEqual([...b.bias!.dataSync()], [...a.bias!.dataSync()]);
  assert.equal(new Linear(3, 2, { bias: false }).bias, null);
  assert.equal(new Linear(3, 2, { dtype: 'float64' }).weight.dtype, 'float64');
});

test('Linear: y = x W^T + b by hand, any leading dims', () => {
  const lin = new Linear(2, 3);
  init.constant_(lin.weight, 0);
  noGrad(() => {
    ops.assign(lin.weight, ops.tensor([[1, 0], [0, 1], [1, 1]]));
    ops.assign(lin.bias!, ops.tensor([0.5, -1, 0]));
  });
  // x = [2, 3]: W x = [2, 3, 5], + b = [2.5, 2, 5]
  assert.deepEqual(lin.call(ops.tensor([2, 3])).toArray(), [2.5, 2, 5]);
  assert.deepEqual(lin.call(ops.tensor([[[2, 3]]])).shape, [1, 1, 3]);
});

test('Linear: bad input names the layer, the shapes and the fix', () => {
  const lin = new Linear(784, 300);
  assert.throws(() => lin.call(ops.zeros([32, 100])),
    /Linear\(784, 300\): input last dimension 100 does not match inFeatures 784; input shape \(32, 100\)/);
  assert.throws(() => new Linear(-1, 3), /Linear: inFeatures must be a non-negative integer, got -1/);
  assert.throws(() => F.linear(ops.zeros([2, 3]), ops.zeros([4, 5])), /linear: input last dimension 3 does not match inFeatures 5/);
});

test('Conv2d: default init bound 1/sqrt(C*kh*kw), output shape, and a hand-computed value', () => {
  manualSeed(3);
  const conv = new Conv2d(2, 4, 3, { padding: 1 });
  assert.deepEqual([...conv.weight.shape], [4, 2, 3, 3]);
  assert.ok(maxAbs(conv.weight.dataSync()) <= 1 / Math.sqrt(18));
  assert.ok(maxAbs(conv.bias!.dataSync()) <= 1 / Math.sqrt(18));
  assert.deepEqual(conv.call(ops.zeros([5, 2, 8, 8])).shape, [5, 4, 8, 8]);
  assert.deepEqual(conv.call(ops.zeros([2, 8, 8])).shape, [4, 8, 8]);   // unbatched
  // all-ones 1x1x3x3 kernel, no bias, on a 3x3 image of ones: 9 at the centre, 4 in a corner (padding 1)
  const c1 = new Conv2d(1, 1, 3, { padding: 'same', bias: false });
  init.ones_(c1.weight);
  const y = c1.call(ops.ones([1, 1, 3, 3])).toArray() as number[][][][];
  assert.equal(y[0]![0]![1]![1], 9);
  assert.equal(y[0]![0]![0]![0], 4);
  assert.throws(() => conv.call(ops.zeros([5, 3, 8, 8])), /Conv2d\(2, 4, kernelSize=\(3, 3\)\): input has 3 channels but the layer expects 2; input shape \(5, 3, 8, 8\)/);
  assert.throws(() => conv.call(ops.zeros([8, 8])), /expected input \(N, C, H, W\) or \(C, H, W\), got \(8, 8\)/);
  assert.throws(() => new Conv2d(1, 1, 2, { padding: 'same' }), /padding='same' needs/);
});

test('Conv2d groups: weight (out, in/groups, kh, kw), PyTorch keys and init bound, depthwise, and errors naming the fix', () => {
  manualSeed(4);
  const g = new Conv2d(4, 6, 3, { padding: 1, groups: 2 });
  assert.deepEqual([...g.weight.shape], [6, 2, 3, 3]);
  assert.deepEqual([...g.stateDict().keys()], ['weight', 'bias']);
  assert.ok(maxAbs(g.weight.dataSync()) <= 1 / Math.sqrt(18));   // fan_in = in/groups * kh * kw, as torch
  assert.deepEqual(g.call(ops.zeros([2, 4, 5, 5])).shape, [2, 6, 5, 5]);
  assert.match(g.toString(), /groups=2/);
  // depthwise with channel multiplier 2, all-ones kernels: each output channel sums its own input
  // channel's 3x3 neighbourhood (channel c of x holds c + 1): centre 9 (c + 1), corner 4 (c + 1)
  const dw = new Conv2d(2, 4, 3, { padding: 1, groups: 2, bias: false });
  assert.deepEqual([...dw.weight.shape], [4, 1, 3, 3]);
  init.ones_(dw.weight);
  const x = ops.cat([ops.ones([1, 1, 3, 3]), ops.mul(ops.ones([1, 1, 3, 3]), 2)], 1);
  const y = dw.call(x).toArray() as number[][][][];
  assert.deepEqual(y[0]!.map((c) => [c[1]![1], c[0]![0]]), [[9, 4], [9, 4], [18, 8], [18, 8]]);
  assert.throws(() => new Conv2d(4, 6, 3, { groups: 4 }), /Conv2d\(4, 6\): groups=4 must divide both the input channels \(4\) and the output channels \(6\); use a group count that divides both/);
  assert.throws(() => new Conv2d(3, 6, 3, { groups: 2 }), /groups=2 must divide both the input channels \(3\)/);
  assert.throws(() => new Conv2d(4, 4, 3, { groups: 0 }), /groups must be an integer >= 1, got 0/);
  assert.throws(() => g.call(ops.zeros([1, 2, 5, 5])), /input has 2 channels but the layer expects 4/);
  assert.throws(() => F.conv2d(ops.zeros([1, 4, 5, 5]), ops.zeros([6, 2, 3, 3]), null, { groups: 3 }),
    /conv2d: input \(1, 4, 5, 5\) must be \(N, 6, H, W\) \(weight's 2 input channels per group x groups=3\) to match weight \(6, 2, 3, 3\)/);
  assert.throws(() => F.conv2d(ops.zeros([1, 4, 5, 5]), ops.zeros([6, 1, 3, 3]), null, { groups: 4 }),
    /conv2d: groups=4 must divide both the input channels \(4\) and the output channels \(6\)/);
});

test('MaxPool2d and Flatten', () => {
  const x = ops.tensor(new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]), { shape: [1, 1, 4, 4] });
  // 2x2 windows of [[1..4],[5..8],[9..12],[13..16]]: maxima 6, 8, 14, 16
  assert.deepEqual(new MaxPool2d(2).call(x).toArray(), [[[[6, 8], [14, 16]]]]);
  assert.deepEqual(new Flatten().call(x).shape, [1, 16]);
  assert.deepEqual(new Flatten(0).call(x).shape, [16]);
});

test('LayerNorm: zero mean, unit (biased) variance; affine starts at ones/zeros', () => {
  const ln = new LayerNorm(4);
  assert.deepEqual(ln.weight!.toArray(), [1, 1, 1, 1]);
  assert.deepEqual(ln.bias!.toArray(), [0, 0, 0, 0]);
  // x = [1, 2, 3, 4]: mean 2.5, biased var 1.25 -> y = (x - 2.5) / sqrt(1.25 + 1e-5)
  const y = ln.call(ops.tensor([[1, 2, 3, 4]], { dtype: 'float32' })).dataSync();
  const s = Math.sqrt(1.25 + 1e-5);
  [-1.5, -0.5, 0.5, 1.5].forEach((d, i) => assert.ok(Math.abs(y[i]! - d / s) < 1e-5));
  assert.equal(new LayerNorm([2, 3], { elementwiseAffine: false }).parameters().length, 0);
  assert.throws(() => ln.call(ops.zeros([2, 5])), /LayerNorm\(\(4\)\): input shape \(2, 5\) must end with normalizedShape \(4,\)/);
});

test('Embedding: N(0, 1) init, lookup shape, padding row zero with no gradient, range errors', () => {
  manualSeed(5);
  const e = new Embedding(1000, 8);
  const w = e.weight.dataSync();
  const mean = [...w].reduce((a, b) => a + b, 0) / w.length;
  const v = [...w].reduce((a, b) => a + (b - mean) ** 2, 0) / w.length;
  assert.ok(Math.abs(mean) < 0.05 && Math.abs(v - 1) < 0.05, `mean ${mean}, var ${v}`);
  const idx = ops.tensor([[1, 2, 3], [3, 2, 1]], { dtype: 'int32' });
  const out = e.call(idx);
  assert.deepEqual(out.shape, [2, 3, 8]);
  const ep = new Embedding(4, 2, { paddingIdx: 0 });
  assert.deepEqual((ep.weight.toArray() as number[][])[0], [0, 0]);
  ops.sum(ep.call(ops.tensor([0, 1, 0], { dtype: 'int32' }))).backward();
  const g = ep.weight.grad!.toArray() as number[][];
  assert.deepEqual(g[0], [0, 0]);
  assert.deepEqual(g[1], [1, 1]);
  assert.throws(() => e.call(ops.tensor([1000], { dtype: 'int32' })), /Embedding\(1000, 8\): index 1000 at flat position 0 is out of range for an embedding of 1000 rows/);
  assert.throws(() => e.call(ops.tensor([1])), /indices must be int32, got float32/);
});

test('activations match their definitions', () => {
  const x = ops.tensor([-1, 0, 2], { dtype: 'float64' });
  assert.deepEqual(new ReLU().call(x).toArray(), [0, 0, 2]);
  const t = new Tanh().call(x).dataSync();
  assert.ok(Math.abs(t[2]! - Math.tanh(2)) < 1e-12);
  const s = new Sigmoid().call(x).dataSync();
  assert.ok(Math.abs(s[0]! - 1 / (1 + Math.E)) < 1e-12);
  // gelu(x) = x * Phi(x); Phi(2) = 0.9772498680518208
  const g = new GELU().call(x).dataSync();
  assert.ok(Math.abs(g[2]! - 2 * 0.9772498680518208) < 1e-9);
  assert.throws(() => new GELU({ approximate: 'fast' as never }), /approximate must be 'none' or 'tanh'/);
  assert.equal(new Identity().call(x), x);
  assert.throws(() => new Dropout(1.5), /Dropout: probability p must be in \[0, 1\], got 1.5/);
});

test('init helpers write in place under noGrad and respect their bounds', () => {
  const w = ops.zeros([64, 32], { requiresGrad: true });
  manualSeed(9);
  init.xavierUniform_(w);
  // bound = sqrt(6 / (32 + 64)) = 0.25
  assert.ok(maxAbs(w.dataSync()) <= 0.25 && maxAbs(w.dataSync()) > 0.2);
  assert.equal(w.gradFn, null);
  init.kaimingNormal_(w, { mode: 'fanOut', nonlinearity: 'relu' });
  assert.equal(w.gradFn, null);
  assert.ok(maxAbs(w.dataSync()) > 0.25, 'kaimingNormal_ wrote over the xavierUniform_ values'); // std sqrt(2 / 64): tails past 0.25
  init.zeros_(w);
  assert.equal(maxAbs(w.dataSync()), 0);
  assert.deepEqual(init.calculateFanInAndFanOut(ops.zeros([16, 3, 5, 5])), [75, 400]);
  assert.equal(init.calculateGain('tanh'), 5 / 3);
  assert.throws(() => init.uniform_(ops.zeros([2], { dtype: 'int32' })), /init\.uniform_: expects a floating-point tensor, got int32/);
  assert.throws(() => init.xavierUniform_(ops.zeros([3])), /at least 2 dimensions, got shape \(3,\)/);
});

// Sample moments of the random initializers against their formulas. With n draws the sample mean
// has standard error sd / sqrt(n) and the sample variance, for a normal (or a lighter-tailed
// truncated normal), at most var * sqrt(2 / n); the bounds below are 4.5 standard errors.
function moments(a: ArrayLike<number>): { n: number; mean: number; variance: number; min: number; max: number } {
  let s = 0, min = Infinity, max = -Infinity;
  for (let i = 0; i < a.length; i++) { s += a[i]!; min = Math.min(min, a[i]!); max = Math.max(max, a[i]!); }
  const mean = s / a.length;
  let q = 0;
  for (let i = 0; i < a.length; i++) q += (a[i]! - mean) ** 2;
  return { n: a.length, mean, variance: q / (a.length - 1), min, max };
}

function assertNormalMoments(a: ArrayLike<number>, mean: number, sd: number, what: string): void {
  const m = moments(a);
  const seMean = sd / Math.sqrt(m.n), seVar = sd * sd * Math.sqrt(2 / m.n);
  assert.ok(Math.abs(m.mean - mean) < 4.5 * seMean, `${what}: mean ${m.mean}, want ${mean} (SE ${seMean})`);
  assert.ok(Math.abs(m.variance - sd * sd) < 4.5 * seVar, `${what}: variance ${m.variance}, want ${sd * sd} (SE ${seVar})`);
}

test('init gains are PyTorch\'s calculate_gain values', () => {
  assert.equal(init.calculateGain('linear'), 1);
  assert.equal(init.calculateGain('conv2d'), 1);
  assert.equal(init.calculateGain('sigmoid'), 1);
  assert.equal(init.calculateGain('tanh'), 5 / 3);
  assert.equal(init.calculateGain('relu'), Math.sqrt(2));
  assert.equal(init.calculateGain('selu'), 3 / 4);
  assert.equal(init.calculateGain('leaky_relu'), Math.sqrt(2 / (1 + 0.01 ** 2)));
  assert.equal(init.calculateGain('leaky_relu', 0.2), Math.sqrt(2 / 1.04));
});

test('kaimingNormal_ draws N(0, gain^2 / fan) for each mode and nonlinearity', () => {
  manualSeed(21);
  // (out, in, kh, kw) = (50, 40, 5, 5): fan_in = 1000, fan_out = 1250; 50,000 draws
  const w = ops.zeros([50, 40, 5, 5]);
  init.kaimingNormal_(w);   // defaults: fanIn, leaky_relu with a = 0, so gain sqrt(2)
  assertNormalMoments(w.dataSync(), 0, Math.sqrt(2 / 1000), 'kaimingNormal_ defaults');
  init.kaimingNormal_(w, { mode: 'fanOut', nonlinearity: 'relu' });
  assertNormalMoments(w.dataSync(), 0, Math.sqrt(2 / 1250), 'kaimingNormal_ fanOut relu');
  init.kaimingNormal_(w, { a: 0.2 });
  assertNormalMoments(w.dataSync(), 0, Math.sqrt(2 / 1.04) / Math.sqrt(1000), 'kaimingNormal_ leaky_relu a = 0.2');
  init.kaimingNormal_(w, { nonlinearity: 'tanh', mode: 'fanOut' });
  assertNormalMoments(w.dataSync(), 0, (5 / 3) / Math.sqrt(1250), 'kaimingNormal_ tanh fanOut');
  assert.throws(() => init.kaimingNormal_(ops.zeros([4, 0])), /zero fan/);
});

test('xavierNormal_ draws N(0, gain^2 * 2 / (fan_in + fan_out))', () => {
  manualSeed(22);
  const w = ops.zeros([300, 200], { dtype: 'float64' });
  init.xavierNormal_(w);
  assertNormalMoments(w.dataSync(), 0, Math.sqrt(2 / 500), 'xavierNormal_');
  init.xavierNormal_(w, init.calculateGain('relu'));
  assertNormalMoments(w.dataSync(), 0, Math.sqrt(2) * Math.sqrt(2 / 500), 'xavierNormal_ gain sqrt(2)');
});

test('truncNormal_ stays in [a, b] and has the truncated normal\'s mean and variance', () => {
  // the truncated normal's moments: with alpha = (a - mu) / sd, beta = (b - mu) / sd, Z = Phi(beta) - Phi(alpha),
  // mean = mu + sd (phi(alpha) - phi(beta)) / Z, var = sd^2 (1 + (alpha phi(alpha) - beta phi(beta)) / Z - ((phi(alpha) - phi(beta)) / Z)^2)
  const phi = (x: number): number => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
  const mass = (lo: number, hi: number): number => { // Simpson's rule; error far below 1e-9 here
    const k = 2000, h = (hi - lo) / k;
    let s = phi(lo) + phi(hi);
    for (let i = 1; i < k; i++) s += (i % 2 ? 4 : 2) * phi(lo + i * h);
    return s * h / 3;
  };
  manualSeed(23);
  const w = ops.zeros([400, 250]);
  for (const [mu, sd, a, b] of [[0, 1, -2, 2], [0.5, 2, -1, 3], [0, 0.02, -0.04, 0.04], [1, 1, 1, 4]] as const) {
    init.truncNormal_(w, mu, sd, a, b);
    const m = moments(w.dataSync());
    assert.ok(m.min >= Math.fround(a) && m.max <= Math.fround(b), `truncNormal_(${mu}, ${sd}, ${a}, ${b}): range [${m.min}, ${m.max}]`);
    const al = (a - mu) / sd, be = (b - mu) / sd, z = mass(al, be), d = (phi(al) - phi(be)) / z;
    const mean = mu + sd * d;
    const variance = sd * sd * (1 + (al * phi(al) - be * phi(be)) / z - d * d);
    const seMean = Math.sqrt(variance / m.n), seVar = variance * Math.sqrt(2 / m.n);
    assert.ok(Math.abs(m.mean - mean) < 4.5 * seMean, `truncNormal_(${mu}, ${sd}, ${a}, ${b}): mean ${m.mean}, want ${mean}`);
    assert.ok(Math.abs(m.variance - variance) < 4.5 * seVar, `truncNormal_(${mu}, ${sd}, ${a}, ${b}): variance ${m.variance}, want ${variance}`);
  }
  assert.throws(() => init.truncNormal_(w, 0, 1, 2, 2), /init\.truncNormal_: needs a < b, got a=2, b=2/);
});

test('a small MLP trains end to end (loss goes down with plain SGD written here)', () => {
  manualSeed(0);
  const net = new Sequential(new Linear(2, 8), new Tanh(), new Linear(8, 1));
  const x = ops.randn([32, 2]);
  const y = ops.sum(x, 1, true);           // learn y = x0 + x1
  let first = 0, last = 0;
  for (let step = 0; step < 60; step++) {
    const loss = F.mseLoss(net.call(x), y);
    if (step === 0) first = loss.item();
    last = loss.item();
    net.zeroGrad();
    loss.backward();
    noGrad(() => { for (const p of net.parameters()) ops.assign(p, ops.sub(p, ops.mul(p.grad!, 0.1))); });
  }
  assert.ok(last < first * 0.2, `loss ${first} -> ${last}`);
});

const bits = (t: Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.data as Float32Array).buffer));
const same = (a: Tensor, b: Tensor, what: string): void => {
  assert.deepEqual(a.shape, b.shape, what);
  assert.deepEqual(bits(a), bits(b), `${what}: bit-identical`);
};

test('compileInference: the mlp preset, batch 1 and 7, bit-identical to model.call under noGrad (NaN, -0 included)', () => {
  manualSeed(4);
  const net = createAnyModel('mlp') as Sequential;
  net.eval();
  const plan = compileInference(net);
  assert.deepEqual(plan.describe(), ['flatten', 'linear+relu', 'linear+relu', 'linear']);
  for (const batch of [1, 7]) {
    const x = ops.randn([batch, 784]);
    const d = x.data as Float32Array;
    d[0] = Number.NaN; d[1] = -0; d[2] = -5;
    same(plan.run(x), noGrad(() => net.call(x)), `batch ${batch}`);
  }
  // an image-shaped input: Flatten reshapes it, then the linear layers run as one chain
  const img = ops.randn([2, 1, 28, 28]);
  same(plan.run(img), noGrad(() => net.call(img)), '4-D input');
  const x = ops.randn([1, 784]);
  x.requiresGrad = true;
  assert.equal(plan.run(x).gradFn, null, 'no graph');
  net.train();
  assert.throws(() => plan.run(x), /compileInference: the model is in training mode; call model\.eval\(\)/);
});

test('compileInference: dropout, identity, other layers, nested Sequential, hooks and module swapping', () => {
  manualSeed(5);
  const inner = new Sequential(new Linear(6, 5), new ReLU(), new Dropout(0.5));
  const net = new Sequential(new Flatten(), inner, new Identity(), new Linear(5, 4), new Tanh(), new Linear(4, 3));
  net.eval();
  const plan = compileInference(net);
  assert.deepEqual(plan.describe(), ['flatten', 'linear+relu', 'pass', 'pass', 'linear', 'call:Tanh', 'linear']);
  const x = ops.randn([2, 2, 3]);
  same(plan.run(x), noGrad(() => net.call(x)), 'mixed layers');
  // a forward pre-hook (pruning's seam) on the fused Linear: the plan runs it through call()
  const lin = inner.at(0) as Linear;
  const h = lin.registerForwardPreHook((_m, [t]) => [ops.mul(t, 2)]);
  const hooked = plan.run(x);
  same(hooked, noGrad(() => net.call(x)), 'with a hook');
  h.remove();
  assert.notDeepEqual(bits(hooked), bits(plan.run(x)), 'the hook changed the result');
  // module swapping re-plans
  net.set(4, new ReLU());
  assert.deepEqual(plan.describe(), ['flatten', 'linear+relu', 'pass', 'pass', 'linear+relu', 'linear']);
  same(plan.run(x), noGrad(() => net.call(x)), 'after swapping Tanh for ReLU');
  // a Dropout left in training mode inside an eval model still drops (its own forward runs)
  inner.at(2).train();
  assert.deepEqual(plan.run(ops.zeros([2, 6])).shape, [2, 3]);
});

test('compileInference: a result stays valid after later calls (pooled intermediates never alias it)', () => {
  manualSeed(6);
  // widths of 100+ floats: the intermediates are pooled size classes, reused from the second call on
  const net = new Sequential(new Linear(80, 128), new ReLU(), new Linear(128, 96), new ReLU(), new Linear(96, 128)).eval();
  const plan = compileInference(net);
  const x1 = ops.randn([1, 80]);
  const y1 = plan.run(x1);
  const keep = bits(y1);
  for (let i = 0; i < 3; i++) plan.run(ops.randn([1, 80]));
  assert.deepEqual(bits(y1), keep, 'the first result is unchanged');
  same(y1, noGrad(() => net.call(x1)), 'and correct');
  const x3 = ops.randn([2, 1, 80]);  // a 3-D input takes fusedLinear's reshaping path
  same(plan.run(x3), noGrad(() => net.call(x3)), '3-D input');
  const wide = new Sequential(new Linear(5, 4, { dtype: 'float64' }), new ReLU()).eval();
  const x64 = ops.randn([3, 5], { dtype: 'float64' });
  const a64 = compileInference(wide).run(x64), b64 = noGrad(() => wide.call(x64));
  assert.deepEqual(Array.from(a64.data), Array.from(b64.data), 'float64');
});
