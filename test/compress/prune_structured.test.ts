// Structured shrinking: removing exactly the units a structured mask zeroed gives the masked
// model's outputs; parameter counts drop as computed by hand; norm-based choice picks the
// hand-computed units; what cannot be shrunk safely is refused with the model unchanged.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Conv2d, Dropout, Flatten, GELU, Identity, LayerNorm, Linear, MaxPool2d, Module, ReLU, Sequential, Sigmoid, Softmax, Tanh, Tensor,
  manualSeed, noGrad, randn, tensor, add, type AnyModule,
} from '../../src/index.js';
import { defaultGenerator } from '../../src/core/random.js';
import { prune } from '../../src/compress/index.js';
import { createModel, PresetModel } from '../../src/models/index.js';

const vals = (t: Tensor): number[] => Array.from(t.dataSync());
const run = (m: AnyModule, x: Tensor): number[] => vals(noGrad(() => (m as unknown as Module).call(x)));
const snapshot = (m: AnyModule): string => JSON.stringify([...m.stateDict()].map(([k, v]) => [k, vals(v)]));

function close(a: readonly number[], b: readonly number[], tol: number): void {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)), `[${i}] ${a[i]} vs ${b[i]}`);
}

describe('shrunk == masked when the removed units are the ones a structured mask zeroed', () => {
  for (const [name, Act] of [['ReLU', ReLU], ['GELU', GELU], ['Tanh', Tanh], ['Sigmoid', Sigmoid]] as const) {
    test(`MLP with ${name} (biases kept: their constant outputs are folded into the next bias), float64`, () => {
      manualSeed(10);
      const net = new Sequential(
        new Linear(12, 10, { dtype: 'float64' }), new Act(), new Dropout(0.3),
        new Linear(10, 8, { dtype: 'float64' }), new Act(),
        new Linear(8, 3, { dtype: 'float64' }),
      );
      net.eval();
      prune.lnStructured(net.at(0), 'weight', 0.4, 2, 0);   // 4 of 10 neurons
      prune.lnStructured(net.at(3), 'weight', 0.5, 1, 0);   // 4 of 8 neurons
      const x = randn([6, 12], { dtype: 'float64' });
      const masked = run(net, x);
      const before = snapshot(net);
      const r = prune.shrink(net, { fromMask: true });
      assert.deepEqual(r.layers.map((l) => [l.path, l.before, l.after, l.consumer]), [['0', 10, 6, '3'], ['3', 8, 4, '5']]);
      assert.equal(r.exact, true);
      close(run(r.model, x), masked, 1e-12);
      assert.equal(snapshot(net), before, 'the input model is unchanged');
      assert.equal(prune.isPruned(r.model), false, 'the result needs no masks');
      // params by hand: 12*6+6 + 6*4+4 + 4*3+3 = 78 + 28 + 15
      assert.equal(r.parametersAfter, 121);
      assert.equal(r.parametersBefore, 12 * 10 + 10 + 10 * 8 + 8 + 8 * 3 + 3);
    });
  }

  test('float32 MLP with the mask on weight and bias: same outputs within 1e-6', () => {
    manualSeed(11);
    const net = new Sequential(new Linear(20, 16), new ReLU(), new Linear(16, 12), new ReLU(), new Linear(12, 5));
    for (const i of [0, 2]) {
      const lin = net.at(i) as unknown as Linear;
      prune.lnStructured(lin, 'weight', 0.5, 2, 0);
      const rows = vals((lin as unknown as Record<string, Tensor>)['weight_mask']!).filter((_, j) => j % lin.inFeatures === 0);
      prune.customFromMask(lin, 'bias', tensor(new Float32Array(rows)));
    }
    const x = randn([7, 20]);
    const masked = run(net, x);
    const r = prune.shrink(net, { fromMask: true });
    close(run(r.model, x), masked, 1e-6);
    assert.deepEqual(r.layers.map((l) => l.after), [8, 6]);
  });

  test('CNN: Conv2d -> ReLU -> MaxPool2d -> Conv2d -> ReLU -> Flatten -> Linear (column groups per filter)', () => {
    manualSeed(12);
    const net = new Sequential(
      new Conv2d(2, 6, 3, { padding: 1, dtype: 'float64' }), new ReLU(), new MaxPool2d(2),
      new Conv2d(6, 5, 3, { dtype: 'float64' }), new ReLU(), new Flatten(),
      new Linear(5 * 2 * 2, 7, { dtype: 'float64' }), new ReLU(), new Linear(7, 3, { dtype: 'float64' }),
    );
    prune.lnStructured(net.at(0), 'weight', 0.5, 2, 0);  // 3 of 6 filters
    prune.lnStructured(net.at(3), 'weight', 0.4, 2, 0);  // 2 of 5 filters
    prune.lnStructured(net.at(6), 'weight', 3, 1, 0);    // 3 of 7 neurons
    const x = randn([3, 2, 8, 8], { dtype: 'float64' });
    const masked = run(net, x);
    const r = prune.shrink(net, { fromMask: true });
    assert.deepEqual(r.layers.map((l) => [l.path, l.after]), [['0', 3], ['3', 3], ['6', 4]]);
    close(run(r.model, x), masked, 1e-12);
    assert.equal(r.exact, true);
    // by hand: conv 2->3 (3x3): 2*3*9+3 = 57; conv 3->3: 3*3*9+3 = 84; Linear 12->4: 52; Linear 4->3: 15
    assert.equal(r.parametersAfter, 57 + 84 + 52 + 15);
    const lin = r.model.at(6) as unknown as Linear;
    assert.equal(lin.inFeatures, 3 * 4);
  });

  test('a padded consumer Conv2d with a folded constant is reported inexact', () => {
    manualSeed(13);
    const net = new Sequential(new Conv2d(1, 4, 3, { dtype: 'float64' }), new Sigmoid(), new Conv2d(4, 2, 3, { padding: 1, dtype: 'float64' }), new Flatten(), new Linear(2 * 4 * 4, 2, { dtype: 'float64' }));
    prune.lnStructured(net.at(0), 'weight', { count: 1 }, 2, 0);
    const r = prune.shrink(net, { fromMask: true, layers: ['0'] });
    assert.equal(r.layers[0]!.exact, false);
    assert.equal(r.exact, false);
  });
});

describe('choosing units', () => {
  test('amount + norm removes the lowest-norm neurons (hand-made weights)', () => {
    const net = new Sequential(new Linear(3, 4, { dtype: 'float64' }), new ReLU(), new Linear(4, 2, { dtype: 'float64' }));
    // L1 norms by row: 6, 0.5, 3, 1.5; L2 norms: sqrt(14)=3.74, 0.5, 3, sqrt(1.25)=1.118 (row 3: 1, 0.5, 0)
    noGrad(() => (net.at(0) as unknown as Linear).weight.assign(tensor([[1, 2, 3], [0.5, 0, 0], [0, 0, 3], [1, 0.5, 0]], { dtype: 'float64' })));
    assert.deepEqual(prune.shrink(net, { amount: 2, norm: 1 }).layers[0]!.removed, [1, 3]);
    assert.deepEqual(prune.shrink(net, { amount: 0.25 }).layers[0]!.removed, [1]);
    const r = prune.shrink(net, { amount: 0.5 });
    assert.equal(r.exact, false, 'live neurons removed');
    // kept rows 0 and 2, in order, and the consumer kept columns 0 and 2
    const a = r.model.at(0) as unknown as Linear, b = r.model.at(2) as unknown as Linear;
    assert.deepEqual(vals(a.weight), [1, 2, 3, 0, 0, 3]);
    const w2 = vals((net.at(2) as unknown as Linear).weight);
    assert.deepEqual(vals(b.weight), [w2[0], w2[2], w2[4], w2[6]]);
  });

  test('explicit units; parameter count by hand; the default generator does not move', () => {
    manualSeed(14);
    const net = new Sequential(new Linear(8, 6), new ReLU(), new Linear(6, 4), new ReLU(), new Linear(4, 3));
    const state = JSON.stringify(defaultGenerator.getState());
    const r = prune.shrink(net, { units: { '0': [5, 1], '2': [0] } });
    assert.equal(JSON.stringify(defaultGenerator.getState()), state);
    assert.equal(r.parametersBefore, 54 + 28 + 15);
    assert.equal(r.parametersAfter, (8 * 4 + 4) + (4 * 3 + 3) + (3 * 3 + 3));
    assert.deepEqual(r.layers.map((l) => l.removed), [[1, 5], [0]]);
    assert.deepEqual([...r.model.stateDict().keys()], [...net.stateDict().keys()]);
  });

  test('nested Sequentials keep their keys', () => {
    manualSeed(15);
    const net = new Sequential(new Sequential(new Linear(4, 6), new ReLU()), new Sequential(new Linear(6, 2)));
    const r = prune.shrink(net, { amount: 0.5 });
    assert.deepEqual([...r.model.stateDict().entries()].map(([k, v]) => [k, [...v.shape]]), [['0.0.weight', [3, 4]], ['0.0.bias', [3]], ['1.0.weight', [2, 3]], ['1.0.bias', [2]]]);
  });

  test('a preset (LeNet-5) comes back as a PresetModel with the shrunk config', () => {
    manualSeed(16);
    const net = createModel('lenet5');
    const r = prune.shrink(net, { amount: 0.5 });
    assert.ok(r.model instanceof PresetModel);
    const cfg = (r.model as PresetModel).config;
    assert.deepEqual(cfg.arch === 'lenet5' ? [cfg.channels, cfg.fc] : null, [[3, 8], [60, 42]]);
    assert.deepEqual([...r.model.stateDict().keys()], [...net.stateDict().keys()]);
    assert.deepEqual([...run(r.model, randn([2, 784])).keys()].length, 20);
    const mlp = createModel('mlp-large');
    const r2 = prune.shrink(mlp, { amount: 0.5 });
    const c2 = (r2.model as PresetModel).config;
    assert.deepEqual(c2.arch === 'mlp' ? c2.hidden : null, [600, 600]);
    // 784*600+600 + 600*600+600 + 600*10+10
    assert.equal(r2.parametersAfter, 471000 + 360600 + 6010);
  });
});

describe('refusals leave the model unchanged', () => {
  class Residual extends Module {
    fc = new Linear(4, 4);
    forward(x: Tensor): Tensor { return add(x, this.fc.call(x)); }
  }
  class Mystery extends Module { forward(x: Tensor): Tensor { return x; } }
  const cases: [string, () => AnyModule, prune.ShrinkOptions, RegExp][] = [
    ['a residual block as the model', () => new Residual(), { amount: 0.5 }, /shrink follows Sequential chains only; Residual has its own forward\(\)/],
    ['a residual block between producer and consumer', () => new Sequential(new Linear(3, 4), new Residual(), new Linear(4, 2)), { amount: 0.5, layers: ['0'] },
      /Residual '1' lies between Linear '0' and the layer consuming its outputs/],
    ['an unknown module between', () => new Sequential(new Linear(3, 4), new Mystery(), new Linear(4, 2)), { amount: 0.5 }, /Mystery '1' lies between Linear '0'/],
    ['LayerNorm over the shrunk axis', () => new Sequential(new Linear(3, 4), new LayerNorm(4), new Linear(4, 2)), { amount: 0.5 },
      /LayerNorm '1' normalizes over the neurons of Linear '0'.*pass \{ layers/s],
    ['Softmax across units', () => new Sequential(new Linear(3, 4), new Softmax(-1), new Linear(4, 2)), { amount: 0.5 }, /Softmax '1' normalizes across the neurons/],
    ['the output layer named explicitly', () => new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2)), { amount: 0.5, layers: ['2'] },
      /Linear '2' is the model's output layer/],
    ['a layer inside a residual block', () => new Sequential(new Residual(), new Linear(4, 2)), { amount: 0.5, layers: ['0.fc'] }, /'0.fc' is inside Residual '0'/],
    ['removing every unit', () => new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2)), { units: { '0': [0, 1, 2, 3] } }, /would leave Linear '0' with no outputs/],
    ['Linear after Conv2d without Flatten', () => new Sequential(new Conv2d(1, 2, 3), new Linear(5, 2)), { amount: 0.5, layers: ['0'] }, /reads the \(N, C, H, W\) output of Conv2d '0' without a Flatten/],
    ['a depthwise consumer Conv2d', () => new Sequential(new Conv2d(1, 4, 3), new ReLU(), new Conv2d(4, 4, 3, { groups: 4 }), new Flatten(), new Linear(4, 2)), { amount: 0.5, layers: ['0'] },
      /Conv2d '2' has groups=4; shrink removes whole filters and input channels of groups=1 convolutions only .*prune it unstructured \(l1\) or with lnStructured masks instead/],
    ['a grouped producer Conv2d', () => new Sequential(new Conv2d(2, 4, 3, { groups: 2 }), new ReLU(), new Conv2d(4, 2, 1), new Flatten(), new Linear(2, 2)), { amount: 0.5, layers: ['0'] },
      /Conv2d '0' has groups=2; shrink removes whole filters/],
    ['two ways of choosing', () => new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2)), { amount: 0.5, fromMask: true }, /exactly one of/],
    ['an amount out of range', () => new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2)), { amount: 1.5 }, /amount 1.5 is neither a fraction/],
    ['an unknown path', () => new Sequential(new Linear(3, 4), new ReLU(), new Linear(4, 2)), { amount: 0.5, layers: ['9'] }, /no layer '9' in the model; layers that can be shrunk: 0, 2/],
    ['a shared module', () => { const l = new Linear(4, 4); return new Sequential(new Linear(3, 4), new ReLU(), l, new Identity(), new Sequential(l)); }, { amount: 0.5 },
      /the same Linear object is used at '2' and '4.0'/],
  ];
  for (const [what, build, opts, re] of cases) {
    test(what, () => {
      manualSeed(17);
      const m = build();
      const before = snapshot(m);
      const structure = String(m);
      assert.throws(() => prune.shrink(m, opts), re);
      assert.equal(snapshot(m), before);
      assert.equal(String(m), structure);
    });
  }
});
