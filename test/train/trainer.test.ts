// The Trainer: the outside truths are a plain hand-written training loop (what a PyTorch user writes),
// hand-derived math (clipping, LR schedule, cross-entropy and accuracy), and invariants: a seeded run
// repeats exactly; 1 epoch + resume from the checkpoint file == 2 epochs, bitwise; a NaN loss stops
// training and keeps the last good checkpoint; callbacks fire in the documented order.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { defaultGenerator, manualSeed, rand, randint, tensor, Tensor } from '../../src/index.js';
import { Dropout, F, Linear, ReLU, Sequential, type AnyModule } from '../../src/nn/index.js';
import { Adam, CosineAnnealingLR, SGD, type LRScheduler, type Optimizer } from '../../src/optim/index.js';
import { DataLoader, TensorDataset } from '../../src/data/index.js';
import {
  Trainer, checkpointSaver, evaluate, loadTrainingCheckpoint, type Callback, type TrainerOptions,
} from '../../src/train/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-train-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** 40 samples of 6 features, 3 classes (fixed by seed 123, independent of the model's seed). */
function dataset(n = 40): TensorDataset {
  manualSeed(123);
  const x = rand([n, 6]);
  const y = randint(0, 3, [n], { dtype: 'int32' });
  return new TensorDataset(x, y);
}

function net(seed: number): Sequential {
  manualSeed(seed);
  return new Sequential(new Linear(6, 16), new ReLU(), new Dropout(0.25), new Linear(16, 3));
}

interface Setup { model: Sequential; opt: Optimizer; sched: LRScheduler | null; loader: DataLoader<Tensor[], Tensor[]>; evalLoader: DataLoader<Tensor[], Tensor[]> }

/** Same setup every time: batch 12 of 40 samples -> 4 steps per epoch (the last one of 4 samples). */
function setup(modelSeed = 1, totalSteps = 8): Setup {
  const ds = dataset();
  const model = net(modelSeed);
  const opt = new Adam(model.parameters(), { lr: 0.01 });
  const sched = new CosineAnnealingLR(opt, totalSteps);
  return { model, opt, sched, loader: new DataLoader(ds, { batchSize: 12, shuffle: true, seed: 5 }), evalLoader: new DataLoader(ds, { batchSize: 40 }) };
}

function trainerOf(s: Setup, extra: Partial<TrainerOptions<Tensor[]>> = {}): Trainer<Tensor[]> {
  return new Trainer<Tensor[]>({ model: s.model, optimizer: s.opt, scheduler: s.sched, trainLoader: s.loader, evalLoader: s.evalLoader, ...extra });
}

function params(m: AnyModule): Map<string, Float32Array> {
  return new Map([...m.stateDict()].map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
}

function assertSameParams(a: AnyModule, b: AnyModule, what: string): void {
  const pa = params(a);
  const pb = params(b);
  assert.deepEqual([...pa.keys()], [...pb.keys()]);
  for (const [k, v] of pa) assert.deepEqual(pb.get(k), v, `${what}: ${k} differs`);
}

test('a seeded run repeats exactly (dropout, shuffling, Adam, cosine schedule)', async () => {
  const run = async (): Promise<[Sequential, number[]]> => {
    const s = setup();
    const losses: number[] = [];
    await trainerOf(s, { epochs: 2, callbacks: [{ onStepEnd: (_t, _b, l) => { losses.push(l); } }] }).fit();
    return [s.model, losses];
  };
  const [m1, l1] = await run();
  const [m2, l2] = await run();
  assert.equal(l1.length, 8);
  assert.deepEqual(l1, l2);
  assertSameParams(m1, m2, 'second run');
});

test('the Trainer does what the plain loop does (zeroGrad; loss; backward; step)', async () => {
  // plain loop, written as in PyTorch
  const ds = dataset();
  manualSeed(9);
  const plain = new Sequential(new Linear(6, 5), new ReLU(), new Linear(5, 3));
  const opt = new SGD(plain.parameters(), { lr: 0.1, momentum: 0.9 });
  const loader = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 2 });
  const plainLosses: number[] = [];
  for (let epoch = 0; epoch < 2; epoch++) {
    for (const [x, y] of loader) {
      opt.zeroGrad();
      const loss = F.crossEntropy(plain.call(x!), y!);
      plainLosses.push(loss.item());
      loss.backward();
      opt.step();
    }
  }
  manualSeed(9);
  const model = new Sequential(new Linear(6, 5), new ReLU(), new Linear(5, 3));
  const losses: number[] = [];
  const base = await new Trainer<Tensor[]>({
    model, optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }), epochs: 2,
    trainLoader: new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 2 }),
    callbacks: [{ onStepEnd: (_t, _b, l) => { losses.push(l); } }],
  }).fit();
  assert.deepEqual(losses, plainLosses);
  assertSameParams(model, plain, 'trainer vs plain loop');
  // releaseSaved (activations given back during backward; the output kept for the accuracy): the same run
  manualSeed(9);
  const rs = new Sequential(new Linear(6, 5), new ReLU(), new Linear(5, 3));
  const rsLosses: number[] = [];
  const r = await new Trainer<Tensor[]>({
    model: rs, optimizer: new SGD(rs.parameters(), { lr: 0.1, momentum: 0.9 }), epochs: 2, releaseSaved: true,
    trainLoader: new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 2 }),
    callbacks: [{ onStepEnd: (_t, _b, l) => { rsLosses.push(l); } }],
  }).fit();
  assert.deepEqual(rsLosses, plainLosses);
  assertSameParams(rs, plain, 'trainer with releaseSaved vs plain loop');
  const acc = (h: readonly { trainAccuracy: number }[]): number[] => h.map((e) => e.trainAccuracy);
  assert.deepEqual(acc(r.history), acc(base.history), 'the accuracy, read from the kept outputs after backward');
  assert.ok(acc(r.history).every(Number.isFinite));
});

test('onOptimizerStep takes over clipping and the step; a non-finite norm stops; two are refused', async () => {
  // A callback stepping a second optimizer over the same parameters (as ZeRO steps its shards): the
  // run equals the plain Trainer's, the Trainer's own optimizer is never stepped, clipNorm arrives.
  const s = setup();
  const inner = new Adam(s.model.parameters(), { lr: 0.01 });
  const seen: (number | null)[] = [];
  const stepper: Callback<Tensor[]> = {
    onOptimizerStep: (_t, clip) => {
      seen.push(clip);
      inner.paramGroups[0]!.lr = s.opt.paramGroups[0]!.lr; // the scheduler drives the Trainer's optimizer
      inner.step();
      inner.zeroGrad();
      return Promise.resolve(null);
    },
  };
  await trainerOf(s, { epochs: 2, callbacks: [stepper] }).fit();
  const ref = setup(); // (dropout draws from the seeded generator: set up right before each run)
  await trainerOf(ref, { epochs: 2 }).fit();
  assertSameParams(s.model, ref.model, 'stepped by the callback vs by the Trainer');
  assert.equal(s.opt.state.size, 0, 'the Trainer did not step its own optimizer');
  assert.deepEqual(seen, Array(8).fill(null));
  const n = setup();
  const r = await trainerOf(n, { epochs: 1, gradClipNorm: 2, callbacks: [{ onOptimizerStep: (_t, clip) => Promise.resolve(clip === 2 ? Infinity : 0) }] }).fit();
  assert.equal(r.stopReason, 'nonfinite-loss');
  assert.match(r.message!, /the gradient norm is Infinity/);
  assert.throws(() => trainerOf(setup(), { callbacks: [stepper, { ...stepper }] }), /2 callbacks define onOptimizerStep; at most one/);
});

test('1 epoch + resume from the checkpoint file == 2 epochs, bitwise', async () => {
  const full = setup();
  const r = await trainerOf(full, { epochs: 2 }).fit();
  const rngFull = defaultGenerator.getState();

  // First half: the same plan (2 epochs), stopped after epoch 1 as if killed; checkpoint every epoch.
  const path = join(dir, 'half.safetensors');
  const a = setup();
  const stopAfterOne: Callback<Tensor[]> = { onEpochEnd: (t) => { if (t.epoch === 0) t.stop('interrupted'); } };
  await trainerOf(a, { epochs: 2, callbacks: [stopAfterOne], checkpointPath: path, save: checkpointSaver({ optimizer: a.opt, scheduler: a.sched, config: null }) }).fit();

  // Second half: fresh objects, a different init seed (overwritten by the checkpoint), the RNG moved on.
  const b = setup(77);
  manualSeed(999);
  const { snapshot, checkpoint } = loadTrainingCheckpoint(path);
  assert.equal(checkpoint.epoch, 1);
  assert.equal(checkpoint.step, 4);
  const tb = trainerOf(b, { epochs: 2 });
  tb.resume(snapshot!);
  const rb = await tb.fit();

  assertSameParams(b.model, full.model, 'resumed');
  const expAvg = (o: Optimizer): Float32Array => Float32Array.from((o.stateDict().state[0]!['exp_avg'] as Tensor).dataSync());
  assert.deepEqual(expAvg(b.opt), expAvg(full.opt));
  assert.equal(b.opt.paramGroups[0]!.lr, full.opt.paramGroups[0]!.lr);
  assert.deepEqual(defaultGenerator.getState(), rngFull); // dropout masks drew the same numbers
  assert.equal(rb.step, r.step);
  const strip = (h: typeof r.history): unknown => h.map((m) => ({ ...m, seconds: 0, samplesPerSecond: 0, eval: m.eval ? { ...m.eval, seconds: 0, samplesPerSecond: 0 } : undefined }));
  assert.deepEqual(strip(rb.history), strip(r.history));
});

test('resume in the middle of an epoch (--steps) == uninterrupted, bitwise', async () => {
  const full = setup(1, 10);
  const r = await trainerOf(full, { steps: 10 }).fit();

  const path = join(dir, 'mid.safetensors');
  const a = setup(1, 10);
  const stopAt6: Callback<Tensor[]> = { onStepEnd: (t) => { if (t.step === 6) t.stop('interrupted'); } };
  await trainerOf(a, { steps: 10, callbacks: [stopAt6], checkpointPath: path, save: checkpointSaver({ optimizer: a.opt, scheduler: a.sched, config: null }) }).fit();

  const b = setup(42, 10);
  const { snapshot } = loadTrainingCheckpoint(path);
  assert.equal(snapshot!.step, 6);
  assert.equal(snapshot!.stepInEpoch, 2); // 4 steps per epoch: epoch 2, two batches in
  const tb = trainerOf(b, { steps: 10 });
  tb.resume(snapshot!);
  const rb = await tb.fit();
  assertSameParams(b.model, full.model, 'resumed mid-epoch');
  // the epoch cut in two reports the metrics of the whole epoch
  const pick = (h: typeof r.history): unknown => h.map((m) => [m.epoch, m.step, m.batches, m.trainLoss, m.trainAccuracy, m.eval?.loss]);
  assert.deepEqual(pick(rb.history), pick(r.history));
});

test('a NaN loss stops training with a clear message and keeps the last good checkpoint', async () => {
  const s = setup();
  const path = join(dir, 'nan.safetensors');
  let good: Uint8Array | null = null;
  let goodParams: Map<string, Float32Array> | null = null;
  const poison = (model: AnyModule, batch: Tensor[]): Tensor => {
    const loss = F.crossEntropy((model as Sequential).call(batch[0]!), batch[1]!);
    return stepCount >= 5 ? loss.mul(NaN) : loss;
  };
  let stepCount = 0;
  const r = await trainerOf(s, {
    epochs: 3, lossFn: (m, b) => poison(m, b),
    checkpointPath: path, save: checkpointSaver({ optimizer: s.opt, scheduler: s.sched, config: null }),
    callbacks: [
      { onStepEnd: () => { stepCount++; } },
      { onCheckpoint: (_t, p) => { good = Uint8Array.from(readFileSync(p)); goodParams = params(s.model); } },
    ],
  }).fit();
  assert.equal(r.stopReason, 'nonfinite-loss');
  assert.equal(r.step, 5);
  assert.match(r.message!, /loss is NaN at epoch 2, step 6 \(batch 2 of 4, 12 samples\)/);
  assert.match(r.message!, /that step was not taken/);
  assert.match(r.message!, new RegExp(`last good checkpoint is kept: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(written after step 4\\)`));
  assert.match(r.message!, /lower learning rate/);
  assert.deepEqual(Uint8Array.from(readFileSync(path)), good);
  assert.equal(loadTrainingCheckpoint(path).checkpoint.step, 4);
  // the NaN step changed nothing, and gradients are cleared
  const after5 = params(s.model);
  assert.notDeepEqual(after5, goodParams); // step 5 (epoch 2, batch 1) was a good step after the checkpoint
  for (const p of s.model.parameters()) assert.equal(p.grad, null);
  for (const v of after5.values()) assert.ok(v.every(Number.isFinite));
});

test('a NaN right after resuming in place names the resumed file as the checkpoint kept', async () => {
  const path = join(dir, 'inplace.safetensors');
  const a = setup();
  await trainerOf(a, { epochs: 1, checkpointPath: path, save: checkpointSaver({ optimizer: a.opt, scheduler: a.sched, config: null }) }).fit();
  const before = Uint8Array.from(readFileSync(path));
  const b = setup();
  const t = trainerOf(b, { epochs: 2, lossFn: (m, [x, y]) => F.crossEntropy((m as Sequential).call(x!), y!).mul(NaN),
    checkpointPath: path, save: checkpointSaver({ optimizer: b.opt, scheduler: b.sched, config: null }) });
  t.resume(loadTrainingCheckpoint(path).snapshot!, path);
  const r = await t.fit();
  assert.equal(r.stopReason, 'nonfinite-loss');
  assert.match(r.message!, /last good checkpoint is kept: .*inplace\.safetensors \(written after step 4\)/);
  assert.deepEqual(Uint8Array.from(readFileSync(path)), before);
});

test('callbacks fire in the documented order', async () => {
  const s = setup();
  const events: string[] = [];
  const mk = (tag: string): Callback<Tensor[]> => ({
    onTrainBegin: () => { events.push(`${tag}:trainBegin`); },
    onEpochBegin: (t) => { events.push(`${tag}:epochBegin${t.epoch}`); },
    onStepBegin: (t) => { events.push(`${tag}:stepBegin${t.step}`); },
    onAfterBackward: (t) => { events.push(`${tag}:afterBackward${t.step}`); },
    onStepEnd: async (t) => { await Promise.resolve(); events.push(`${tag}:stepEnd${t.step}`); },
    onEvaluate: (t) => { events.push(`${tag}:evaluate${t.epoch}`); },
    onEpochEnd: (_t, m) => { events.push(`${tag}:epochEnd${m.epoch}`); },
    onCheckpoint: () => { events.push(`${tag}:checkpoint`); },
    onTrainEnd: () => { events.push(`${tag}:trainEnd`); },
  });
  await trainerOf(s, { steps: 3, trainLoader: new DataLoader(dataset(), { batchSize: 20 }), callbacks: [mk('a'), mk('b')],
    checkpointPath: join(dir, 'order.safetensors'), save: checkpointSaver({ optimizer: s.opt, scheduler: s.sched, config: null }) }).fit();
  const both = (e: string): string[] => [`a:${e}`, `b:${e}`];
  assert.deepEqual(events, [
    ...both('trainBegin'),
    ...both('epochBegin0'),
    ...both('stepBegin0'), ...both('afterBackward0'), ...both('stepEnd1'),
    ...both('stepBegin1'), ...both('afterBackward1'), ...both('stepEnd2'),
    ...both('evaluate0'), ...both('epochEnd0'), ...both('checkpoint'),
    ...both('epochBegin1'),
    ...both('stepBegin2'), ...both('afterBackward2'), ...both('stepEnd3'),
    ...both('evaluate1'), ...both('epochEnd1'), ...both('checkpoint'),
    ...both('trainEnd'),
  ]);
});

test('gradient clipping scales the gradient to the given norm (hand-derived)', async () => {
  // w = [0, 0], x = [3, 4], y = 10: loss = (w.x - y)^2, grad = 2 (w.x - y) x = [-60, -80], norm 100.
  // Clipped to norm 1: [-0.6, -0.8]; one SGD step with lr 1 gives w = [0.6, 0.8].
  const lin = new Linear(2, 1, { bias: false });
  lin.weight.data.fill(0);
  const ds = new TensorDataset(tensor([[3, 4]]), tensor([[10]]));
  await new Trainer<Tensor[]>({
    model: lin, optimizer: new SGD(lin.parameters(), { lr: 1 }), steps: 1, gradClipNorm: 1,
    trainLoader: new DataLoader(ds, { batchSize: 1 }),
    lossFn: (m, [x, y]) => F.mseLoss((m as Linear).call(x!), y!),
  }).fit();
  const w = lin.weight.dataSync();
  assert.ok(Math.abs(w[0]! - 0.6) < 1e-6 && Math.abs(w[1]! - 0.8) < 1e-6, `w = ${Array.from(w)}`);
});

test('the LR schedule steps per optimizer step (or per epoch) to its closed form', async () => {
  // cosine over T = 8 steps: lr_t = lr0 * (1 + cos(pi t / T)) / 2; after 6 steps: 0.01 * (1 + cos(3pi/4)) / 2
  const s = setup(1, 8);
  const r = await trainerOf(s, { steps: 6 }).fit();
  assert.ok(Math.abs(s.opt.paramGroups[0]!.lr - 0.01 * (1 + Math.cos((3 * Math.PI) / 4)) / 2) < 1e-15);
  assert.equal(r.history.at(-1)!.lr, s.opt.paramGroups[0]!.lr);
  const e = setup(1, 8);
  await trainerOf(e, { epochs: 2, schedulerInterval: 'epoch' }).fit();
  assert.ok(Math.abs(e.opt.paramGroups[0]!.lr - 0.01 * (1 + Math.cos((2 * Math.PI) / 8)) / 2) < 1e-15);
});

test('evaluate: mean cross-entropy and accuracy by hand', () => {
  // identity logits; labels [0, 1, 1, 0]: sample 3 (logits [0, 2]) is wrong -> accuracy 3/4.
  const lin = new Linear(2, 2, { bias: false });
  lin.weight.data.set([1, 0, 0, 1]);
  const x = tensor([[2, 0], [0, 1], [1, 3], [0, 2]]);
  const y = tensor([0, 1, 1, 0], { dtype: 'int32' });
  const m = evaluate(lin, new DataLoader(new TensorDataset(x, y), { batchSize: 3 }));
  // CE_i = logsumexp(logits_i) - logits_i[y_i]
  const lse = (a: number, b: number): number => Math.log(Math.exp(a) + Math.exp(b));
  const ce = [lse(2, 0) - 2, lse(0, 1) - 1, lse(1, 3) - 3, lse(0, 2) - 0];
  assert.equal(m.accuracy, 0.75);
  assert.equal(m.samples, 4);
  assert.ok(Math.abs(m.loss - ce.reduce((a, b) => a + b) / 4) < 1e-6);
  assert.equal(lin.training, true); // mode restored
});

test('bad options are refused before training', () => {
  const s = setup();
  assert.throws(() => trainerOf(s, { epochs: 1, steps: 3 }), /give epochs or steps, not both/);
  assert.throws(() => trainerOf(s, { epochs: 0 }), /epochs must be a positive integer, got 0/);
  assert.throws(() => trainerOf(s, { steps: 1.5 }), /steps must be a positive integer/);
  assert.throws(() => trainerOf(s, { gradClipNorm: -1 }), /gradClipNorm must be > 0/);
  assert.throws(() => trainerOf(s, { checkpointPath: 'x.safetensors' }), /checkpointPath needs a save function/);
  assert.throws(() => trainerOf(s, { checkpointEvery: 0 }), /checkpointEvery must be a positive integer \(optimizer steps\), got 0/);
  assert.throws(() => trainerOf(s, { trainLoader: new DataLoader(dataset(5), { batchSize: 8, dropLast: true }) }), /yields 0 batches per epoch/);
  assert.throws(() => trainerOf(s, { callbacks: [{ stateDict: () => 1 }] }), /needs a name/);
  const t = trainerOf(s, { epochs: 1 });
  const snap = t.snapshot();
  assert.throws(() => trainerOf(setup(), { epochs: 1, trainLoader: new DataLoader(dataset(), { batchSize: 40 }) }).resume({ ...snap, stepInEpoch: 3 }), /3 steps into an epoch, but an epoch here has 1 steps/);
});
