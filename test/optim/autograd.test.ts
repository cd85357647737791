// Optimizers with gradients from the real tape (ops + autograd, no nn): the update is in place,
// parameter objects keep their identity, and a graph that saved a parameter refuses backward()
// after the parameter was stepped (the optimizer bumps the tensor's version, as PyTorch does).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../../src/autograd/index.js';
import * as ops from '../../src/ops/index.js';
import { Adam, SGD, clipGradNorm } from '../../src/optim/index.js';

describe('optimizers on real gradients', () => {
  it('Adam fits a least-squares problem; parameters keep identity and storage', () => {
    // y = x @ [1, -2, 0.5]^T exactly, so the minimum is at w = [1, -2, 0.5] with loss 0.
    const x = ops.randn([16, 3], { dtype: 'float64' });
    const y = ops.matmul(x, ops.tensor([[1], [-2], [0.5]], { dtype: 'float64' }));
    const w = ops.zeros([3, 1], { dtype: 'float64', requiresGrad: true });
    const storage = w.data;
    const opt = new Adam([w], { lr: 0.1 });
    let loss = Infinity;
    for (let i = 0; i < 300; i++) {
      const l = ops.mean(ops.square(ops.sub(ops.matmul(x, w), y)));
      loss = l.item();
      l.backward();
      clipGradNorm([w], 10);
      opt.step();
      opt.zeroGrad();
    }
    assert.ok(loss < 1e-8, `loss ${loss}`);
    assert.equal(opt.paramGroups[0]!.params[0], w);
    assert.equal(w.data, storage);
    assert.ok(w.isLeaf && w.requiresGrad);
    const got = Array.from(w.dataSync());
    [1, -2, 0.5].forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-4, `w[${i}] = ${got[i]}`));
  });

  it('backward through a graph that saved a stepped parameter is refused', () => {
    const w = ops.ones([3], { dtype: 'float64', requiresGrad: true });
    const opt = new SGD([w], { lr: 0.1 });
    const l = ops.sum(ops.mul(w, w)); // saves w
    l.backward(undefined, { retainGraph: true });
    assert.deepEqual(Array.from(w.grad!.dataSync()), [2, 2, 2]); // d/dw sum(w^2) = 2w
    opt.step();
    assert.deepEqual(Array.from(w.dataSync()), [0.8, 0.8, 0.8]); // 1 - 0.1 * 2
    assert.throws(() => l.backward(), /modified in place/);
  });
});
