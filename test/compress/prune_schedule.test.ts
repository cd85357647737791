// Pruning schedules: sparsities follow the hand-computed schedules (Zhu & Gupta cubic, geometric
// rounds), masked weights stay zero while training, lottery-ticket rewinding restores the
// remembered weights, and the gradual schedule runs inside the Trainer (callback) and resumes.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Linear, ReLU, SGD, Sequential, Tensor, manualSeed, randn, randint, mul, sum, sub, type AnyModule,
} from '../../src/index.js';
import { prune } from '../../src/compress/index.js';
import { Trainer } from '../../src/train/index.js';

const vals = (t: Tensor): number[] => Array.from(t.dataSync());
const attr = (m: AnyModule, n: string): Tensor => (m as unknown as Record<string, Tensor>)[n]!;
const masked = (m: AnyModule): number => vals(attr(m, 'weight_mask')).filter((v) => v === 0).length;

/** A tiny regression problem and an SGD step on it. */
function setup(seed: number, sizes: number[] = [8, 8, 4]): { net: Sequential; step: () => void; loss: () => number; opt: () => SGD } {
  manualSeed(seed);
  const layers = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    layers.push(new Linear(sizes[i]!, sizes[i + 1]!));
    if (i + 2 < sizes.length) layers.push(new ReLU());
  }
  const net = new Sequential(...layers);
  const x = randn([16, sizes[0]!]), y = randn([16, sizes[sizes.length - 1]!]);
  let opt = new SGD(net.parameters(), { lr: 0.05 });
  const lossT = (): Tensor => { const d = sub(net.call(x), y); return sum(mul(d, d)); };
  return {
    net,
    step: () => { opt.zeroGrad(); lossT().backward(); opt.step(); },
    loss: () => lossT().item(),
    opt: () => (opt = new SGD(net.parameters(), { lr: 0.05 })),
  };
}

describe('pruneToSparsity', () => {
  test('per target and global, only ever adding to the masks', () => {
    const { net } = setup(1);
    const t = prune.weightTargets(net);
    assert.equal(t.length, 2);
    // 64 + 32 weights; 0.3 per layer: round(19.2) = 19 and round(9.6) = 10
    prune.pruneToSparsity(t, 0.3);
    assert.deepEqual([masked(net.at(0)), masked(net.at(2))], [19, 10]);
    // global 0.5 of 96 = 48 in all; already 29, so 19 more wherever the smallest magnitudes are
    const s = prune.pruneToSparsity(t, 0.5, { global: true });
    assert.equal(masked(net.at(0)) + masked(net.at(2)), 48);
    assert.equal(s, 0.5);
    // asking for less never un-prunes
    prune.pruneToSparsity(t, 0.1);
    assert.equal(prune.maskSparsity(t), 0.5);
    assert.throws(() => prune.pruneToSparsity(t, 1.2), /sparsity must be a fraction in \[0, 1\], got 1.2/);
  });
});

describe('gradual (Zhu & Gupta)', () => {
  // s_t = 0.8 + (0 - 0.8)(1 - (t - 10)/(4 * 5))^3 at t = 10, 15, 20, 25, 30:
  //   0, 0.8 - 0.8 * 0.421875 = 0.4625, 0.8 - 0.8 * 0.125 = 0.7, 0.8 - 0.8/64 = 0.7875, 0.8
  // of 100 weights: 0, 46, 70, 79, 80 masked
  const schedule = { final: 0.8, startStep: 10, numSteps: 4, frequency: 5 };

  test('GradualPruner prunes at t0 + i dt to the cubic schedule, and catches up skipped steps', () => {
    manualSeed(2);
    const lin = new Linear(10, 10);
    const p = new prune.GradualPruner([[lin, 'weight']], schedule);
    const seen: [number, number][] = [];
    for (let step = 1; step <= 40; step++) {
      if (p.onStep(step) !== null) seen.push([step, prune.isPruned(lin) ? masked(lin) : 0]);
    }
    assert.deepEqual(seen, [[10, 0], [15, 46], [20, 70], [25, 79], [30, 80]]);
    const lin2 = new Linear(10, 10);
    const r = new prune.GradualPruner([[lin2, 'weight']], schedule);
    assert.ok(Math.abs(r.onStep(22)! - 0.7) < 1e-12);   // steps 1..21 never reported: jumps to the step-20 value
    assert.equal(masked(lin2), 70);
    assert.equal(r.onStep(24), null);
    assert.equal(r.endStep, 30);
  });

  test('gradualPruning trains, prunes on schedule, and masked weights stay zero', async () => {
    const { net, step, loss } = setup(3, [10, 10, 4]);
    const first = net.at(0) as unknown as Linear;
    const calls: number[] = [];
    const r = await prune.gradualPruning(net, {
      ...schedule, targets: [[first, 'weight']], totalSteps: 36,
      trainStep: (s) => { calls.push(s); step(); }, evaluate: () => -loss(),
    });
    assert.deepEqual(calls, Array.from({ length: 36 }, (_, i) => i + 1));
    assert.deepEqual(r.history.filter((h) => h.stage === 'prune').map((h) => [h.step, Math.round(h.sparsity * 100)]), [[10, 0], [15, 46], [20, 70], [25, 79], [30, 80]]);
    assert.equal(r.sparsity, 0.8);
    const mask = vals(attr(first, 'weight_mask')), w = vals(first.weight);
    mask.forEach((k, i) => { if (k === 0) assert.ok(w[i] === 0, `weight ${i} = ${w[i]}`); });
    assert.ok(r.denseMetric !== null && r.metric !== null);
    await assert.rejects(prune.gradualPruning(net, { ...schedule, totalSteps: 20, trainStep: step }), /totalSteps 20 ends before the schedule reaches its final sparsity at step 30/);
  });
});

describe('iterative and one-shot', () => {
  test('iterative: each round removes the same fraction of survivors (0.5, 0.75, 0.875)', async () => {
    const { net, step, loss } = setup(4);
    const phases: string[] = [];
    const r = await prune.iterativePruning(net, {
      final: 0.875, rounds: 3, finetuneSteps: 4, trainStep: step, evaluate: () => -loss(),
      onPhase: (p) => { phases.push(`${p.kind}:${p.round}:${p.firstStep}+${p.steps}`); },
    });
    // 1 - 0.125^(r/3) = 0.5, 0.75, 0.875 of 64 and 32 weights
    assert.deepEqual(r.history.slice(1).map((h) => h.sparsity), [0.5, 0.75, 0.875]);
    assert.deepEqual([masked(net.at(0)), masked(net.at(2))], [56, 28]);
    assert.deepEqual(phases, ['finetune:1:1+4', 'finetune:2:5+4', 'finetune:3:9+4']);
    assert.equal(r.steps, 12);
  });

  test('one-shot: dense, pruned, fine-tuned', async () => {
    const { net, step, loss } = setup(5);
    const r = await prune.oneShot(net, { sparsity: 0.5, global: true, finetuneSteps: 3, trainStep: step, evaluate: () => -loss() });
    assert.deepEqual(r.history.map((h) => [h.stage, h.sparsity]), [['dense', 0], ['pruned', 0.5], ['finetuned', 0.5]]);
    assert.equal(r.steps, 3);
  });
});

describe('lottery ticket', () => {
  for (const k of [0, 3]) {
    test(`rewinds the survivors to the weights at step ${k} and keeps the masks of the trained weights`, async () => {
      const { net, step, loss, opt } = setup(6);
      const params = net.parameters();
      let remembered: number[][] | null = null;
      if (k === 0) remembered = params.map(vals);
      const trained: number[][][] = [];
      let mask1: number[] = [];
      const atPhase: { kind: string; first: number; weights: number[][] }[] = [];
      const r = await prune.lotteryTicket(net, {
        final: 0.75, rounds: 2, trainSteps: 8, rewindStep: k,
        trainStep: (s) => { step(); if (s === k && remembered === null) remembered = params.map(vals); },
        evaluate: () => { trained.push(params.map(vals)); return -loss(); },
        onPhase: (p) => {
          opt();
          atPhase.push({ kind: p.kind, first: p.firstStep, weights: params.map(vals) });
          if (p.round === 2) mask1 = vals(attr(net.at(0), 'weight_mask'));
        },
      });
      assert.deepEqual(atPhase.map((p) => [p.kind, p.first]), [['train', 1], ['train', k + 1], ['retrain', k + 1]]);
      // every phase after the first starts from the remembered weights (orig values; masks apply on top)
      for (const p of atPhase.slice(1)) assert.deepEqual(p.weights, remembered);
      // the calls: 8 steps, then 8 - k twice
      assert.equal(r.steps, 8 + 2 * (8 - k));
      // round sparsities 1 - 0.25^(1/2) = 0.5, then 0.75
      assert.deepEqual(r.history.filter((h) => h.stage === 'rewound').map((h) => h.sparsity), [0.5, 0.75]);
      assert.equal(r.sparsity, 0.75);
      // round 2 pruned layer 0's smallest trained (end of round 2) magnitudes among round 1's survivors
      const w2 = trained[1]![0]!.map(Math.abs), mask2 = vals(attr(net.at(0), 'weight_mask'));
      const kept = w2.filter((_, i) => mask2[i] === 1), cut = w2.filter((_, i) => mask1[i] === 1 && mask2[i] === 0);
      assert.equal(cut.length, 16);
      assert.ok(Math.min(...kept) >= Math.max(...cut));
      const first = net.at(0) as unknown as Linear;
      assert.equal(masked(first), 48);
    });
  }

  test('bad settings', async () => {
    const { net, step } = setup(7);
    await assert.rejects(prune.lotteryTicket(net, { final: 0.5, trainSteps: 4, rewindStep: 4, trainStep: step }), /rewindStep 4 must be below trainSteps 4/);
    await assert.rejects(prune.iterativePruning(net, { final: 0.5, rounds: 0, finetuneSteps: 1, trainStep: step }), /rounds must be an integer >= 1, got 0/);
    assert.throws(() => new prune.GradualPruner(prune.weightTargets(net), { initial: 0.5, final: 0.2, numSteps: 2, frequency: 1 }), /initial sparsity 0.5 is above final 0.2/);
    assert.equal(prune.isPruned(net), false);
  });
});

describe('inside the Trainer', () => {
  function data(seed: number): [Tensor, Tensor][] {
    manualSeed(seed);
    return Array.from({ length: 4 }, () => [randn([8, 6]), randint(0, 3, [8])] as [Tensor, Tensor]);
  }

  test('gradualPruningCallback prunes at the trainer steps; a snapshot resumes into a fresh model', async () => {
    manualSeed(8);
    const net = new Sequential(new Linear(6, 10), new ReLU(), new Linear(10, 3));
    const cb = prune.gradualPruningCallback(net, { final: 0.6, startStep: 2, numSteps: 3, frequency: 2 });
    const loader = data(9);
    const t1 = new Trainer({ model: net, optimizer: new SGD(net.parameters(), { lr: 0.1 }), trainLoader: loader, steps: 5, callbacks: [cb] });
    await t1.fit();
    // events at steps 2, 4 (s = 0.6 - 0.6 (2/3)^3 = 0.4222 -> 25 of 60 and 13 of 30)
    assert.equal(cb.pruner.lastEvent, 1);
    assert.deepEqual([masked(net.at(0)), masked(net.at(2))], [25, 13]);
    const snap = t1.snapshot();

    manualSeed(8);
    const fresh = new Sequential(new Linear(6, 10), new ReLU(), new Linear(10, 3));
    const cb2 = prune.gradualPruningCallback(fresh, { final: 0.6, startStep: 2, numSteps: 3, frequency: 2 });
    const t2 = new Trainer({ model: fresh, optimizer: new SGD(fresh.parameters(), { lr: 0.1 }), trainLoader: loader, steps: 9, callbacks: [cb2] });
    t2.resume(snap);
    assert.deepEqual([masked(fresh.at(0)), masked(fresh.at(2))], [25, 13]);
    await t2.fit();
    assert.equal(cb2.pruner.lastEvent, 3);
    assert.deepEqual([masked(fresh.at(0)), masked(fresh.at(2))], [36, 18]);
  });
});
