// SGD, Adam and AdamW against PyTorch 1.13 (test/fixtures/optim.json, written by
// tools/fixtures/optim_fixtures.py): fixed float64 parameters, fixed gradient sequences,
// parameters compared after every step. Also: parameter identity and in-place updates.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Adam, SGD } from '../../src/optim/index.js';
import { Tensor, fromBuffer } from '../../src/core/tensor.js';
import { assertClose, build, f64, loadFixture, param, setGrads, values, type OptimizerCase } from './helpers.js';

const { optimizers } = loadFixture<{ optimizers: OptimizerCase[] }>();

describe('optimizers match PyTorch', () => {
  assert.ok(optimizers.length >= 10, 'fixture has optimizer cases');
  for (const c of optimizers) {
    it(c.name, () => {
      const { params, opt } = build(c);
      const storages = params.map((p) => p.data);
      c.grads.forEach((grads, k) => {
        setGrads(params, grads);
        opt.step();
        params.forEach((p, i) => assertClose(values(p), c.after[k]![i]!.data, `${c.name}: step ${k + 1}, param ${i}`));
      });
      // Updated in place: same objects, same storage.
      params.forEach((p, i) => assert.equal(p.data, storages[i]));
      assert.deepEqual(opt.paramGroups.flatMap((g) => g.params).sort((a, b) => a.id - b.id), [...params].sort((a, b) => a.id - b.id));
    });
  }
});

describe('optimizer details', () => {
  it('skips parameters without a gradient and creates no state for them', () => {
    const p = f64([1, 2]).requiresGrad_(true);
    const q = f64([3]).requiresGrad_(true);
    const opt = new Adam([p, q], { lr: 0.1 });
    p.grad = f64([1, 1]);
    opt.step();
    assert.deepEqual(values(q), [3]);
    assert.equal(opt.state.has(q), false);
    assert.equal(opt.state.get(p)!['step'], 1);
  });

  it('float32 parameters stay float32 and follow the float64 trajectory within float32 precision', () => {
    const c = optimizers.find((x) => x.name === 'adam amsgrad')!;
    const init = c.init[0]!;
    const p32 = fromBuffer(new Float32Array(init.data), 'float32', init.shape).requiresGrad_(true);
    const opt = new Adam([p32], { lr: 0.05, amsgrad: true });
    c.grads.forEach((grads, k) => {
      const g = grads[0]!;
      p32.grad = fromBuffer(new Float32Array(g.data), 'float32', g.shape);
      opt.step();
      assert.ok(p32.data instanceof Float32Array);
      assert.ok((opt.state.get(p32)!['exp_avg'] as Tensor).data instanceof Float32Array);
      assertClose(values(p32), c.after[k]![0]!.data, `float32 step ${k + 1}`, 1e-5, 1e-6);
    });
  });

  it('updates a strided (non-contiguous) parameter view through its strides', () => {
    // storage holds a (2, 3) matrix [[1, 2, 3], [4, 5, 6]]; the parameter is its transpose (3, 2).
    const storage = new Float64Array([1, 2, 3, 4, 5, 6]);
    const pt = new Tensor(storage, 'float64', [3, 2], [1, 3], 0).requiresGrad_(true);
    const opt = new SGD([pt], { lr: 1 });
    pt.grad = f64([1, 10, 2, 20, 3, 30], [3, 2]); // grad[i][j] moves pt[i][j] = storage[j * 3 + i]
    opt.step();
    assert.deepEqual(Array.from(storage), [1 - 1, 2 - 2, 3 - 3, 4 - 10, 5 - 20, 6 - 30]);
    assert.equal(pt.version, 1);
  });

  it('zeroGrad sets grads to null by default, or fills them with zeros', () => {
    const p = f64([1, 2]).requiresGrad_(true);
    const opt = new SGD([p], { lr: 0.1 });
    const g = f64([5, 6]);
    p.grad = g;
    opt.zeroGrad(false);
    assert.equal(p.grad, g);
    assert.deepEqual(values(g), [0, 0]);
    opt.zeroGrad();
    assert.equal(p.grad, null);
  });

  it('uses each group\'s own (possibly changed) lr', () => {
    const p = f64([1]).requiresGrad_(true);
    const q = f64([1]).requiresGrad_(true);
    const opt = new SGD([{ params: [p] }, { params: [q], lr: 0.5 }], { lr: 0.1 });
    p.grad = f64([1]); q.grad = f64([1]);
    opt.step();
    assertClose(values(p), [0.9], 'p'); // 1 - 0.1 * 1
    assertClose(values(q), [0.5], 'q'); // 1 - 0.5 * 1
    opt.paramGroups[0]!.lr = 0.2;
    opt.step();
    assertClose(values(p), [0.7], 'p after lr change');
  });

  it('addParamGroup fills defaults and refuses a parameter already optimized', () => {
    const p = f64([1]).requiresGrad_(true);
    const q = f64([1]).requiresGrad_(true);
    const opt = new Adam([p], { lr: 0.01, betas: [0.8, 0.9] });
    opt.addParamGroup({ params: [q], lr: 0.1 });
    assert.equal(opt.paramGroups[1]!.lr, 0.1);
    assert.deepEqual(opt.paramGroups[1]!.betas, [0.8, 0.9]);
    assert.notEqual(opt.paramGroups[1]!.betas, opt.paramGroups[0]!.betas, 'groups do not share arrays');
    assert.throws(() => opt.addParamGroup({ params: [p] }), /more than one parameter group/);
  });

  it('step(closure) returns the closure\'s loss', () => {
    const p = f64([1]).requiresGrad_(true);
    const opt = new SGD([p], { lr: 0.1 });
    const loss = opt.step(() => { p.grad = f64([2]); return 42; });
    assert.equal(loss, 42);
    assertClose(values(p), [0.8], 'p');
  });
});
