// Checkpoints store an optimizer's and scheduler's type from their fixed `typeName`, not from the
// JavaScript class name, so subclasses and minified builds save and resume like the base class.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultGenerator } from '../../src/index.js';
import { Linear } from '../../src/nn/index.js';
import {
  Adam, AdamW, CosineAnnealingLR, CosineWithWarmupLR, LambdaLR, LinearLR, SGD, StepLR,
} from '../../src/optim/index.js';
import { parseCheckpoint, restoreCheckpoint, serializeCheckpoint } from '../../src/io/index.js';

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

  it('a subclass of Adam saves Adam state that a plain Adam restores, and a plain SGD refuses', () => {
    class MyAdam extends Adam {}
    const model = new Linear(3, 2);
    const opt = new MyAdam(model.parameters(), { lr: 0.01 });
    const sched = new StepLR(opt, 5);
    const bytes = serializeCheckpoint({ model, optimizer: opt, scheduler: sched, step: 0, epoch: 0, config: null, rngState: defaultGenerator.getState() });
    const ckpt = parseCheckpoint(bytes);
    assert.equal(ckpt.optimizer?.type, 'Adam');
    assert.equal(ckpt.scheduler?.type, 'StepLR');
    const fresh = new Linear(3, 2);
    const plain = new Adam(fresh.parameters(), { lr: 0.01 });
    restoreCheckpoint(ckpt, { model: fresh, optimizer: plain, scheduler: new StepLR(plain, 5), generator: null });
    const sgdModel = new Linear(3, 2);
    assert.throws(() => restoreCheckpoint(ckpt, { model: sgdModel, optimizer: new SGD(sgdModel.parameters(), { lr: 0.1 }), generator: null }),
      /holds Adam state, but the optimizer is SGD/);
  });
});
