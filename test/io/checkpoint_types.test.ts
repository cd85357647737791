// Checkpoints store an optimizer's and scheduler's type from their fixed `typeName`, not from the
// JavaScript class name, so subclasses and minified builds save and resume like the base class.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor, defaultGenerator, manualSeed } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { Linear } from '../../src/nn/index.js';
import {
  Adam, AdamW, CosineAnnealingLR, CosineWithWarmupLR, LambdaLR, LinearLR, SGD, StepLR,
} from '../../src/optim/index.js';
import { parseCheckpoint, restoreCheckpoint, serializeCheckpoint } from '../../src/io/index.js';

/** A value with every Tensor replaced by its dtype, shape and values, for a bitwise deepEqual. */
function plainValues(v: unknown): unknown {
  if (v instanceof Tensor) return { dtype: v.dtype, shape: [...v.shape], data: Array.from(v.dataSync()) };
  if (Array.isArray(v)) return v.map(plainValues);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainValues(x)]));
  return v;
}

describe('optimizer and scheduler type names in checkpoints', () => {
  it('each class reports the PyTorch class name it mirrors', () => {
    const p = new Linear(2, 2).parameters();
    assert.equal(new SGD(p, { lr: 0.1 }).typeName, 'SGD');
    assert.equal(new Adam(p).typeName, 'Adam');
    assert.equal(new AdamW(p).typeName, 'AdamW');
    const opt = new SGD(p, { lr: 0.1 });
    assert.equal(new StepLR(opt, 2).typeName, 'StepLR');
    assert.equal(new LinearLR(opt).typeName, 'LinearLR');
    assert.equal(new CosineAnnealingLR(opt, 10).typeName, 'CosineAnnealingLR');
    assert.equal(new CosineWithWarmupLR(opt, { warmupSteps: 1, totalSteps: 10 }).typeName, 'CosineWithWarmupLR');
    assert.equal(new LambdaLR(opt, () => 1).typeName, 'LambdaLR');
  });

  it('a subclass of Adam saves Adam state that a plain Adam restores exactly, and a plain SGD refuses', () => {
    class MyAdam extends Adam {}
    manualSeed(4);
    const model = new Linear(3, 2);
    const opt = new MyAdam(model.parameters(), { lr: 0.01, betas: [0.8, 0.9] });
    const sched = new StepLR(opt, 2, 0.5);
    const x = ops.randn([5, 3]), y = ops.randn([5, 2]);
    const step = (m: Linear, o: Adam, s: StepLR): void => {
      o.zeroGrad();
      ops.mean(ops.square(ops.sub(m.call(x), y))).backward();
      o.step();
      s.step();
    };
    for (let i = 0; i < 3; i++) step(model, opt, sched);   // non-trivial moments and step count; lr 0.01 * 0.5^floor(3 / 2)
    const bytes = serializeCheckpoint({ model, optimizer: opt, scheduler: sched, step: 3, epoch: 0, config: null, rngState: defaultGenerator.getState() });
    const ckpt = parseCheckpoint(bytes);
    assert.equal(ckpt.optimizer?.type, 'Adam');
    assert.equal(ckpt.scheduler?.type, 'StepLR');
    const fresh = new Linear(3, 2);
    const plain = new Adam(fresh.parameters(), { lr: 0.01 });
    const plainSched = new StepLR(plain, 2, 0.5);
    restoreCheckpoint(ckpt, { model: fresh, optimizer: plain, scheduler: plainSched, generator: null });
    // the weights, the Adam state (step, exp_avg, exp_avg_sq), the hyperparameters and the schedule, exactly
    for (const [k, t] of model.stateDict()) assert.deepEqual(fresh.stateDict().get(k)!.dataSync(), t.dataSync(), k);
    assert.deepEqual(plainValues(plain.stateDict()), plainValues(opt.stateDict()));
    assert.deepEqual(plain.paramGroups.map((g) => [g.lr, g['betas']]), [[0.005, [0.8, 0.9]]]);
    assert.deepEqual(plainSched.stateDict(), sched.stateDict());
    // and the next steps agree bit for bit
    for (let i = 0; i < 2; i++) { step(model, opt, sched); step(fresh, plain, plainSched); }
    for (const [k, t] of model.stateDict()) assert.deepEqual(fresh.stateDict().get(k)!.dataSync(), t.dataSync(), `after 2 more steps: ${k}`);
    const sgdModel = new Linear(3, 2);
    assert.throws(() => restoreCheckpoint(ckpt, { model: sgdModel, optimizer: new SGD(sgdModel.parameters(), { lr: 0.1 }), generator: null }),
      /holds Adam state, but the optimizer is SGD/);
  });
});
