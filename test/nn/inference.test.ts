// compileInference (src/nn/inference.ts): the plan's output is bit-identical to
// noGrad(() => model.call(x)) (the outside truth here is the module path itself, on the same
// backend), at batch 1 (the GEMV path) and at batches that take the GEMM path, with NaN, -0 and
// negative inputs; it fuses Linear + ReLU, honours forward hooks and eval-mode dropout, re-plans
// after module swapping, never hands out storage that a previous result still uses, records no
// graph, and refuses training mode.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/native/index.js';
import { noGrad } from '../../src/core/engine.js';
import { manualSeed } from '../../src/core/random.js';
import type { Tensor } from '../../src/core/tensor.js';
import * as ops from '../../src/ops/index.js';
import { compileInference, Dropout, Flatten, Identity, Linear, ReLU, Sequential, Tanh } from '../../src/nn/index.js';
import { createAnyModel } from '../../src/models/index.js';

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
