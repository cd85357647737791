// LR schedulers against PyTorch 1.13 (test/fixtures/optim.json): lr of each of two groups right
// after construction and after every step. PyTorch's step() uses recursive (chainable) forms
// and we use its closed forms, so values agree to rounding (rtol 1e-12), not bit for bit.
// CosineWithWarmupLR is checked against torch's LambdaLR with nanoGPT's get_lr factor.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CosineAnnealingLR, CosineWithWarmupLR, LambdaLR, LinearLR, SGD, StepLR, cosineWithWarmup, type LRScheduler, type Optimizer,
} from '../../src/optim/index.js';
import { assertClose, f64, loadFixture } from './helpers.js';

interface SchedulerCase {
  name: string;
  scheduler: 'StepLR' | 'LinearLR' | 'CosineAnnealingLR' | 'CosineWithWarmupLR';
  args: Record<string, number>;
  baseLrs: number[];
  lrs: number[][];
}

const { schedulers } = loadFixture<{ schedulers: SchedulerCase[] }>();

function optimizer(baseLrs: number[]): Optimizer {
  return new SGD(baseLrs.map((lr) => ({ params: [f64([0]).requiresGrad_(true)], lr })), { lr: baseLrs[0]! });
}

function make(c: SchedulerCase, opt: Optimizer): LRScheduler {
  const a = c.args;
  switch (c.scheduler) {
    case 'StepLR': return a['gamma'] === undefined ? new StepLR(opt, a['stepSize']!) : new StepLR(opt, a['stepSize']!, a['gamma']);
    case 'LinearLR': return new LinearLR(opt, a);
    case 'CosineAnnealingLR': return new CosineAnnealingLR(opt, a['tMax']!, a['etaMin']);
    case 'CosineWithWarmupLR': return new CosineWithWarmupLR(opt, { warmupSteps: a['warmupSteps']!, totalSteps: a['totalSteps']!, minLr: a['minLr']! });
  }
}

describe('LR schedulers match PyTorch', () => {
  assert.ok(schedulers.length >= 6);
  for (const c of schedulers) {
    it(c.name, () => {
      const opt = optimizer(c.baseLrs);
      const sched = make(c, opt);
      c.lrs.forEach((expected, k) => {
        if (k > 0) { opt.step(); sched.step(); }
        assertClose(opt.paramGroups.map((g) => g.lr), expected, `${c.name}: group lrs after ${k} steps`, 1e-12, 1e-15);
        assertClose(sched.getLastLr(), expected, `${c.name}: getLastLr after ${k} steps`, 1e-12, 1e-15);
      });
      assert.deepEqual(opt.paramGroups.map((g) => g.initialLr), c.baseLrs);
    });
  }
});

describe('LR scheduler details', () => {
  it('stateDict round trip resumes the same sequence', () => {
    const c = schedulers.find((s) => s.scheduler === 'CosineWithWarmupLR')!;
    const opt = optimizer(c.baseLrs);
    const sched = make(c, opt);
    for (let k = 0; k < 5; k++) sched.step();
    const saved = sched.stateDict();
    // A fresh optimizer + scheduler, restored: next lrs continue the fixture.
    const opt2 = optimizer(c.baseLrs);
    const sched2 = make(c, opt2);
    sched2.loadStateDict(saved);
    for (let k = 6; k < c.lrs.length; k++) {
      sched2.step();
      assertClose(sched2.getLastLr(), c.lrs[k]!, `resumed step ${k}`, 1e-12, 1e-15);
    }
  });

  it('loadStateDict refuses a state from another scheduler and changes nothing', () => {
    const opt = optimizer([0.1]);
    const sched = new StepLR(opt, 2, 0.5);
    sched.step();
    const cos = new CosineAnnealingLR(optimizer([0.1]), 10);
    assert.throws(() => sched.loadStateDict(cos.stateDict()), /different scheduler/);
    assert.throws(() => sched.loadStateDict({ ...sched.stateDict(), baseLrs: [0.1, 0.2] }), /2 base lrs.*1 parameter groups/);
    assert.equal(sched.lastEpoch, 1);
    assert.deepEqual(sched.stateDict().config, { stepSize: 2, gamma: 0.5 });
  });

  it('cosineWithWarmup is CosineWithWarmupLR; LambdaLR multiplies the base lr', () => {
    const opt = optimizer([0.1]);
    const s = cosineWithWarmup(opt, { warmupSteps: 2, totalSteps: 4 });
    assert.ok(s instanceof CosineWithWarmupLR);
    assertClose([opt.paramGroups[0]!.lr], [0.05], 'warmup step 0'); // 0.1 * (0 + 1) / 2
    const opt2 = optimizer([0.1, 1]);
    const l = new LambdaLR(opt2, [(e) => 0.5 ** e, (e) => e + 1]);
    l.step(); l.step();
    assertClose(l.getLastLr(), [0.025, 3], 'lambda'); // 0.1 * 0.25, 1 * 3
  });

  it('rejects bad arguments like PyTorch', () => {
    const opt = optimizer([0.1]);
    assert.throws(() => new StepLR(opt, 0), /stepSize/);
    assert.throws(() => new LinearLR(opt, { startFactor: 0 }), /startFactor/);
    assert.throws(() => new LinearLR(opt, { endFactor: 1.5 }), /endFactor/);
    assert.throws(() => new CosineAnnealingLR(opt, 0), /tMax/);
    assert.throws(() => new CosineWithWarmupLR(opt, { warmupSteps: 10, totalSteps: 5 }), /totalSteps/);
    const fresh = optimizer([0.1]);
    assert.throws(() => new StepLR(fresh, 3, 0.1, 5), /initialLr/);
  });
});
