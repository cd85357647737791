// Pruning: masks match torch.nn.utils.prune (fixtures from tools/fixtures/prune_fixtures.py),
// plus the reparametrization invariants and bad input.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  Adam, Conv2d, Linear, Module, type AnyModule, ReLU, SGD, Sequential, Tensor, manualSeed, noGrad, randn, tensor, mul, sum,
} from '../../src/index.js';
import { prune } from '../../src/compress/index.js';

interface Fx { shape: number[]; data: number[] }
const fx = JSON.parse(readFileSync(new URL('../fixtures/prune.json', import.meta.url), 'utf8')) as {
  cases: { name: string; weight: Fx; mask: number[]; effective: number[]; keys: string[] }[];
  global: { weights: Fx[]; masks: number[][] };
  sequentialKeys: string[]; sequentialKeysAfterRemove: string[];
};

const vals = (t: Tensor): number[] => Array.from(t.dataSync());
type Attrs = Record<string, Tensor>;
const get = (m: AnyModule, n: string): Tensor => (m as unknown as Attrs)[n]!;

function layerFor(w: Fx): Linear | Conv2d {
  const m = w.shape.length === 4
    ? new Conv2d(w.shape[1]!, w.shape[0]!, [w.shape[2]!, w.shape[3]!], { dtype: 'float64' })
    : new Linear(w.shape[1]!, w.shape[0]!, { dtype: 'float64' });
  noGrad(() => (m.weight as Tensor).assign(tensor(new Float64Array(w.data), { shape: w.shape })));
  return m;
}

// the same steps the fixture script ran, by case name
const STEPS: Record<string, (m: Linear | Conv2d) => void> = {
  'l1 fraction 0.3': (m) => prune.l1Unstructured(m, 'weight', 0.3),
  'l1 count 7': (m) => prune.l1Unstructured(m, 'weight', 7),
  'l1 fraction rounds half to even (0.25 of 10 = 2.5 -> 2)': (m) => prune.l1Unstructured(m, 'weight', 0.25),
  'l1 twice composes (0.5 then 0.5)': (m) => { prune.l1Unstructured(m, 'weight', 0.5); prune.l1Unstructured(m, 'weight', 0.5); },
  'ln structured L2 dim 0': (m) => prune.lnStructured(m, 'weight', 0.5, 2, 0),
  'ln structured L1 dim 1': (m) => prune.lnStructured(m, 'weight', 2, 1, 1),
  'ln structured Linf dim -1': (m) => prune.lnStructured(m, 'weight', 0.4, Infinity, -1),
  'l1 then ln structured': (m) => { prune.l1Unstructured(m, 'weight', 0.3); prune.lnStructured(m, 'weight', 0.4, 2, 0); },
  'conv filters ln structured L2 dim 0': (m) => prune.lnStructured(m, 'weight', 0.5, 2, 0),
};

describe('masks match PyTorch', () => {
  for (const c of fx.cases) {
    test(c.name, () => {
      const m = layerFor(c.weight);
      STEPS[c.name]!(m);
      assert.deepEqual(vals(get(m, 'weight_mask')), c.mask);
      assert.deepEqual(vals(get(m, 'weight')), c.effective);
      assert.deepEqual([...m.stateDict().keys()], c.keys);
    });
  }
  test('globalUnstructured: one threshold across layers', () => {
    const a = layerFor(fx.global.weights[0]!), b = layerFor(fx.global.weights[1]!);
    prune.globalUnstructured([[a, 'weight'], [b, 'weight']], { amount: 0.6 });
    assert.deepEqual(vals(get(a, 'weight_mask')), fx.global.masks[0]);
    assert.deepEqual(vals(get(b, 'weight_mask')), fx.global.masks[1]);
  });
  test('state-dict keys of a pruned Sequential, before and after remove', () => {
    const seq = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
    prune.l1Unstructured(seq.getSubmodule('0'), 'weight', 0.5);
    prune.l1Unstructured(seq.getSubmodule('2'), 'bias', { count: 1 });
    assert.deepEqual([...seq.stateDict().keys()], fx.sequentialKeys);
    prune.remove(seq.getSubmodule('0'), 'weight');
    assert.deepEqual([...seq.stateDict().keys()], fx.sequentialKeysAfterRemove);
  });
});

describe('reparametrization invariants', () => {
  test('mask and orig have the parameter shape; weight == orig * mask', () => {
    manualSeed(1);
    const lin = new Linear(8, 5);
    const shape = [...lin.weight.shape];
    prune.randomUnstructured(lin, 'weight', 0.4);
    assert.deepEqual([...get(lin, 'weight_orig').shape], shape);
    assert.deepEqual([...get(lin, 'weight_mask').shape], shape);
    const o = vals(get(lin, 'weight_orig')), k = vals(get(lin, 'weight_mask'));
    assert.deepEqual(vals(lin.weight), o.map((v, i) => v * k[i]!));
    assert.equal(k.filter((v) => v === 0).length, 16); // round(0.4 * 40)
  });

  test('an all-ones mask (identity) leaves forward and backward unchanged', () => {
    manualSeed(2);
    const lin = new Linear(6, 3, { dtype: 'float64' });
    const x = randn([4, 6], { dtype: 'float64' });
    const y0 = vals(lin.call(x));
    sum(mul(lin.call(x), lin.call(x))).backward();
    const g0 = vals(lin.weight.grad!);
    lin.zeroGrad();
    prune.identity(lin, 'weight');
    assert.deepEqual(vals(lin.call(x)), y0);
    sum(mul(lin.call(x), lin.call(x))).backward();
    assert.deepEqual(vals(get(lin, 'weight_orig').grad!), g0);
  });

  for (const opt of ['SGD', 'Adam'] as const) {
    test(`masked weights get zero gradient and stay zero under ${opt}`, () => {
      manualSeed(3);
      const lin = new Linear(10, 6);
      const w = lin.weight;                      // the Parameter object
      prune.l1Unstructured(lin, 'weight', 0.5);
      assert.equal(lin.parameters().includes(w as never), true, 'weight_orig is the same Parameter object');
      const optim = opt === 'SGD' ? new SGD(lin.parameters(), { lr: 0.1, momentum: 0.9 }) : new Adam(lin.parameters(), { lr: 0.01 });
      const mask = vals(get(lin, 'weight_mask'));
      const x = randn([16, 10]);
      for (let i = 0; i < 5; i++) {
        const loss = sum(mul(lin.call(x), lin.call(x)));
        optim.zeroGrad();
        loss.backward();
        const g = vals(get(lin, 'weight_orig').grad!);
        mask.forEach((k, j) => { if (k === 0) assert.ok(g[j] === 0, `grad ${j} = ${g[j]}`); });
        optim.step();
      }
      lin.call(x); // the pre-hook recomputes the effective weight
      const eff = vals(lin.weight);
      mask.forEach((k, j) => { if (k === 0) assert.ok(eff[j] === 0, `weight ${j} = ${eff[j]}`); });
    });
  }

  test('remove bakes the mask in, keeps the output and the Parameter object', () => {
    manualSeed(4);
    const lin = new Linear(7, 4);
    const w = lin.weight;
    const x = randn([3, 7]);
    prune.l1Unstructured(lin, 'weight', 0.6);
    const y = vals(lin.call(x));
    prune.remove(lin, 'weight');
    assert.equal(lin.weight, w);
    assert.deepEqual(vals(lin.call(x)), y);
    assert.deepEqual([...lin.stateDict().keys()], ['bias', 'weight']); // PyTorch re-registers weight last too (see fixture)
    assert.equal(prune.isPruned(lin), false);
  });

  test('2:4 semi-structured: exactly two survivors in every group of four', () => {
    manualSeed(5);
    const lin = new Linear(8, 3);
    prune.nmStructured(lin, 'weight', 2, 4);
    const w = vals(lin.weight);
    const o = vals(get(lin, 'weight_orig'));
    for (let g = 0; g < w.length; g += 4) {
      const grp = w.slice(g, g + 4);
      assert.equal(grp.filter((v) => v !== 0).length, 2);
      // the two kept are the two largest magnitudes of the group
      const mags = o.slice(g, g + 4).map(Math.abs).sort((a, b) => b - a);
      assert.ok(grp.filter((v) => v !== 0).every((v) => Math.abs(v) >= mags[1]!));
    }
  });

  test("pruneWeights does what the seed's prune_weights meant", () => {
    class BigModel extends Module<[Tensor], Tensor> {
      layer1 = new Linear(20, 30);
      layer2 = new Linear(30, 10);
      forward(x: Tensor): Tensor { return this.layer2.call(this.layer1.call(x)); }
    }
    const model = new BigModel();
    // the seed's loop: names never start with 'weight'
    assert.equal(model.namedParameters().filter(([n]) => n.startsWith('weight')).length, 0);
    const pruned = prune.pruneWeights(model, 0.5);
    assert.deepEqual(pruned.map(([n]) => n), ['layer1', 'layer2']);
    assert.equal(prune.sparsity([[model.layer1, 'weight'], [model.layer2, 'weight']]), 0.5);
    assert.deepEqual(model.namedParameters().map(([n]) => n), ['layer1.bias', 'layer1.weight_orig', 'layer2.bias', 'layer2.weight_orig']);
  });

  test('agpSparsity follows s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3', () => {
    const s = { initial: 0, final: 0.9, startStep: 100, numSteps: 10, frequency: 50 };
    assert.equal(prune.agpSparsity(0, s), 0);
    assert.equal(prune.agpSparsity(100, s), 0);
    // t = 350: (1 - 250/500)^3 = 0.125 -> 0.9 - 0.9 * 0.125 = 0.7875
    assert.ok(Math.abs(prune.agpSparsity(350, s) - 0.7875) < 1e-12);
    assert.equal(prune.agpSparsity(600, s), 0.9);
    assert.equal(prune.agpSparsity(10_000, s), 0.9);
  });
});

describe('bad input leaves the model unchanged', () => {
  const fresh = (): Linear => { manualSeed(6); return new Linear(4, 3); };
  const snapshot = (m: Linear): string => JSON.stringify([...m.stateDict()].map(([k, v]) => [k, vals(v)]));
  for (const [what, fn, re] of [
    ['fraction above 1', (m: Linear) => prune.l1Unstructured(m, 'weight', 1.5), /amount 1.5 is neither a fraction/],
    ['negative amount', (m: Linear) => prune.l1Unstructured(m, 'weight', -0.1), /amount must be a fraction/],
    ['count above size', (m: Linear) => prune.l1Unstructured(m, 'weight', 13), /amount 13 is larger than the number of units that can be pruned \(12\)/],
    ['unknown name', (m: Linear) => prune.l1Unstructured(m, 'kernel', 0.5), /Linear has no parameter 'kernel' \(parameters: weight, bias\)/],
    ['structured dim out of range', (m: Linear) => prune.lnStructured(m, 'weight', 0.5, 2, 3), /axis 3 is out of range/],
    ['importance scores of the wrong shape', (m: Linear) => prune.l1Unstructured(m, 'weight', 0.5, { importanceScores: randn([3, 3]) }), /importance scores shape \(3, 3\) must equal weight's shape \(3, 4\)/],
    ['2:4 on a width not divisible by 4', (m: Linear) => prune.nmStructured(m, 'weight', 2, 3), /last dimension \(4\) .* divisible by M = 3/],
  ] as const) {
    test(what, () => {
      const m = fresh();
      const before = snapshot(m);
      assert.throws(() => fn(m), re);
      assert.equal(snapshot(m), before);
      assert.equal(prune.isPruned(m), false);
    });
  }
  test('a second pruning that fails keeps the first', () => {
    const m = fresh();
    prune.l1Unstructured(m, 'weight', 0.5);
    const before = snapshot(m);
    assert.throws(() => prune.l1Unstructured(m, 'weight', 7), /larger than the number of units that can be pruned \(6\)/);
    assert.equal(snapshot(m), before);
  });
  test('remove on a parameter that is not pruned', () => {
    assert.throws(() => prune.remove(fresh(), 'weight'), /prune.remove: parameter 'weight' of Linear is not pruned/);
  });
});
