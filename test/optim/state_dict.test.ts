// Optimizer stateDict / loadStateDict and input validation. Resuming from a saved state must give
// the same next steps as PyTorch's uninterrupted run (fixture values, not our own output), and a
// bad state or bad option must throw and leave the optimizer exactly as it was.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Adam, AdamW, SGD, type Optimizer, type OptimizerStateDict } from '../../src/optim/index.js';
import { fromBuffer, type Tensor } from '../../src/core/tensor.js';
import { assertClose, build, f64, loadFixture, setGrads, values, type OptimizerCase } from './helpers.js';

const { optimizers } = loadFixture<{ optimizers: OptimizerCase[] }>();

/** Everything observable about an optimizer, as plain data. */
function snapshot(opt: Optimizer): unknown {
  const sd = opt.stateDict();
  const state = Object.fromEntries(Object.entries(sd.state).map(([k, s]) => [k, Object.fromEntries(
    Object.entries(s).map(([n, v]) => [n, typeof v === 'number' ? v : { shape: [...v.shape], dtype: v.dtype, data: values(v) }]))]));
  return { state, paramGroups: sd.paramGroups };
}

describe('stateDict round trip', () => {
  for (const name of ['adam amsgrad weight decay maximize', 'adamw wd 0.1 amsgrad', 'sgd momentum', 'sgd two groups', 'adam two groups']) {
    it(`${name}: resuming gives PyTorch's next steps`, () => {
      const c = optimizers.find((x) => x.name === name)!;
      const { params, opt } = build(c);
      const split = 3;
      for (let k = 0; k < split; k++) { setGrads(params, c.grads[k]!); opt.step(); }
      const saved = opt.stateDict();
      const before = snapshot(opt);
      // A snapshot: stepping the original on must not change the saved dict.
      setGrads(params, c.grads[split]!); opt.step();
      assert.notDeepEqual(snapshot(opt), before);

      // Resume: fresh parameters with the values at the split, fresh optimizer, loaded state.
      const resumed = build({ ...c, init: c.after[split - 1]! });
      resumed.opt.loadStateDict(saved);
      assert.deepEqual(snapshot(resumed.opt), before);
      for (let k = split; k < c.grads.length; k++) {
        setGrads(resumed.params, c.grads[k]!);
        resumed.opt.step();
        resumed.params.forEach((p, i) => assertClose(values(p), c.after[k]![i]!.data, `${name}: resumed step ${k + 1}, param ${i}`));
      }
    });
  }

  it('packs state by parameter index with PyTorch\'s keys and each group\'s hyper-parameters', () => {
    const p = f64([1, 2]).requiresGrad_(true);
    const q = f64([3]).requiresGrad_(true);
    const opt = new Adam([{ params: [p] }, { params: [q], lr: 0.5, amsgrad: true }], { lr: 0.1 });
    q.grad = f64([1]);
    opt.step();
    const sd = opt.stateDict();
    assert.deepEqual(Object.keys(sd.state), ['1']);
    assert.deepEqual(Object.keys(sd.state[1]!).sort(), ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq', 'step']);
    assert.deepEqual(sd.paramGroups, [
      { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, params: [0] },
      { lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: true, maximize: false, params: [1] },
    ]);
  });

  it('accepts PyTorch\'s 0-d tensor step count', () => {
    const p = f64([1, 2]).requiresGrad_(true);
    const opt = new Adam([p], { lr: 0.1 });
    p.grad = f64([1, 1]);
    opt.step();
    const sd = opt.stateDict();
    sd.state[0]!['step'] = fromBuffer(new Float32Array([1]), 'float32', []);
    const opt2 = new Adam([f64([1, 2]).requiresGrad_(true)], { lr: 0.1 });
    opt2.loadStateDict(sd);
    assert.equal(opt2.stateDict().state[0]!['step'], 1);
  });

  it('casts loaded state to the parameter dtype', () => {
    const p = f64([1, 2]).requiresGrad_(true);
    const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad = f64([1, 1]);
    opt.step();
    const p32 = fromBuffer(new Float32Array([1, 2]), 'float32', [2]).requiresGrad_(true);
    const opt32 = new SGD([p32], { lr: 0.1, momentum: 0.9 });
    opt32.loadStateDict(opt.stateDict());
    assert.equal((opt32.state.get(p32)!['momentum_buffer'] as Tensor).dtype, 'float32');
  });
});

describe('loadStateDict refuses mismatched states and changes nothing', () => {
  function trained(): { opt: Optimizer; params: Tensor[] } {
    const a = f64([1, 2, 3, 4], [2, 2]).requiresGrad_(true);
    const b = f64([5, 6]).requiresGrad_(true);
    const opt = new Adam([a, b], { lr: 0.1 });
    a.grad = f64([1, -1, 2, -2], [2, 2]); b.grad = f64([0.5, 0.25]);
    opt.step();
    return { opt, params: [a, b] };
  }

  const cases: Array<[string, (sd: OptimizerStateDict) => OptimizerStateDict, RegExp]> = [
    ['group count', (sd) => ({ ...sd, paramGroups: [...sd.paramGroups, { ...sd.paramGroups[0]!, params: [2] }] }), /2 parameter groups, this optimizer has 1/],
    ['group size', (sd) => ({ ...sd, paramGroups: [{ ...sd.paramGroups[0]!, params: [0] }] }), /group 0 has 1 parameters.*has 2/],
    ['state tensor shape', (sd) => ({ ...sd, state: { ...sd.state, 1: { ...sd.state[1]!, exp_avg_sq: f64([1, 2, 3]) } } }), /exp_avg_sq' of parameter 1 has shape \(3,\), but the parameter has shape \(2,\)/],
    ['state of an unknown parameter', (sd) => ({ ...sd, state: { ...sd.state, 7: { step: 1 } } }), /parameter 7/],
    ['a state from SGD', (sd) => ({ ...sd, paramGroups: [{ lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false, params: [0, 1] }] }), /lacks hyper-parameter 'betas'/],
    ['an invalid hyper-parameter', (sd) => ({ ...sd, paramGroups: [{ ...sd.paramGroups[0]!, lr: -1 }] }), /invalid learning rate: -1/],
    ['a wrongly typed hyper-parameter', (sd) => ({ ...sd, paramGroups: [{ ...sd.paramGroups[0]!, amsgrad: 1 }] }), /amsgrad = 1/],
  ];
  for (const [what, corrupt, message] of cases) {
    it(what, () => {
      const { opt } = trained();
      const { opt: other } = trained();
      const before = snapshot(opt);
      const stateBefore = opt.state;
      // A valid state from another run, corrupted in one place.
      assert.throws(() => opt.loadStateDict(corrupt(other.stateDict())), message);
      assert.deepEqual(snapshot(opt), before);
      assert.equal(opt.state, stateBefore);
    });
  }
});

describe('bad options and parameters are refused like PyTorch', () => {
  const p = (): Tensor => f64([1]).requiresGrad_(true);
  it('SGD', () => {
    assert.throws(() => new SGD([p()], { lr: -0.1 }), /SGD: invalid learning rate: -0.1/);
    assert.throws(() => new SGD([p()], { lr: 0.1, momentum: -1 }), /invalid momentum/);
    assert.throws(() => new SGD([p()], { lr: 0.1, weightDecay: -1 }), /invalid weightDecay/);
    assert.throws(() => new SGD([p()], { lr: 0.1, nesterov: true }), /Nesterov momentum requires a momentum and zero dampening/);
    assert.throws(() => new SGD([p()], { lr: 0.1, nesterov: true, momentum: 0.9, dampening: 0.1 }), /Nesterov/);
    assert.throws(() => new SGD([{ params: [p()], lr: -1 }], { lr: 0.1 }), /invalid learning rate: -1/, 'per-group options are checked too');
  });
  it('Adam and AdamW', () => {
    assert.throws(() => new Adam([p()], { lr: -1 }), /Adam: invalid learning rate/);
    assert.throws(() => new AdamW([p()], { lr: NaN }), /AdamW: invalid learning rate/);
    assert.throws(() => new Adam([p()], { eps: -1e-8 }), /invalid epsilon/);
    assert.throws(() => new Adam([p()], { betas: [1, 0.999] }), /invalid beta parameter at index 0: 1/);
    assert.throws(() => new Adam([p()], { betas: [0.9, -0.1] }), /invalid beta parameter at index 1/);
    assert.throws(() => new AdamW([p()], { weightDecay: -0.1 }), /invalid weightDecay/);
    assert.equal(new AdamW([p()]).defaults.weightDecay, 0.01);
    assert.equal(new Adam([p()]).defaults.weightDecay, 0);
  });
  it('parameters', () => {
    assert.throws(() => new SGD([], { lr: 0.1 }), /empty parameter list/);
    assert.throws(() => new SGD(p() as unknown as Tensor[], { lr: 0.1 }), /got a Tensor/);
    const nonLeaf = f64([1]);
    nonLeaf.gradFn = { kernel: 'add' };
    assert.throws(() => new SGD([nonLeaf], { lr: 0.1 }), /non-leaf/);
    assert.throws(() => new SGD([fromBuffer(new Int32Array(1), 'int32', [1])], { lr: 0.1 }), /floating-point/);
    const q = p();
    assert.throws(() => new SGD([q, q], { lr: 0.1 }), /same parameter twice/);
    assert.throws(() => new SGD([{ params: new Set([p()]) }], { lr: 0.1 }), /Set/);
  });
  it('a gradient of the wrong shape, found before any parameter changes', () => {
    const first = p();
    const q = p();
    const opt = new SGD([first, q], { lr: 0.1 });
    first.grad = f64([1]);
    q.grad = f64([1, 2]);
    assert.throws(() => opt.step(), /SGD.step: gradient of shape \(2,\) does not match its parameter's shape \(1,\)/);
    assert.deepEqual(values(first), [1], 'first parameter not stepped');
  });
});
