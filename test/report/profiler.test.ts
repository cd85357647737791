// The profiler: it never changes results (same losses with and without it), it restores the
// backend (also after a throw), FLOPs/bytes per kernel follow the hand-derived formulas of
// src/report/kernel_cost.ts, kernels land in the phase whose region encloses them, and the memory
// timeline and estimate agree with parameter counts worked out by hand. No timing assertions.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/native/index.js';
import { getBackend } from '../../src/backend/registry.js';
import { manualSeed } from '../../src/core/random.js';
import * as ops from '../../src/ops/index.js';
import { createAnyModel } from '../../src/models/index.js';
import { Profiler, profile } from '../../src/report/profiler.js';
import { kernelCost } from '../../src/report/kernel_cost.js';
import { estimateTrainingMemory, optimizerStateBytes, savedActivationBytes } from '../../src/report/memory.js';
import { Linear } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { profileTraining, trainingStep } from '../../src/report/training.js';

const view = (shape: number[], strides?: number[]) => {
  const st = strides ?? shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return { data: new Float32Array(Math.max(1, shape.reduce((a, b) => a * b, 1))), shape, strides: st, offset: 0 };
};

test('kernelCost: matmul 2BMNK, linear with bias and ReLU, broadcast operands read once', () => {
  // (2, 3, 4) @ (2, 4, 5): 2*2*3*5*4 = 240 FLOPs; bytes 4 * (24 + 40 + 30) = 376
  assert.deepEqual(kernelCost('matmul', [view([2, 3, 4]), view([2, 4, 5]), 'float32']), { flops: 240, bytes: 376 });
  // x (8, 16) w (4, 16) + bias (4,) + ReLU: 2*8*4*16 + 32 + 32 = 1088; bytes 4 * (128 + 64 + 4 + 32) = 912
  assert.deepEqual(kernelCost('linear', [view([8, 16]), view([4, 16]), view([4]), true]), { flops: 1088, bytes: 912 });
  // a (3, 4) + b broadcast from (4,) (stride 0 on axis 0): reads 12 + 4, writes 12 floats
  assert.deepEqual(kernelCost('binary', ['add', view([3, 4]), view([3, 4], [0, 1]), 'float32']), { flops: 12, bytes: 4 * 28 });
  // linearBackward dy (8, 4), x (8, 16), w (4, 16), all needed: 2*(2*8*4*16) + 32 FLOPs
  assert.equal(kernelCost('linearBackward', [view([8, 4]), null, view([8, 16]), view([4, 16]), [true, true, true]]).flops, 2080);
  assert.deepEqual(kernelCost('setThreads', [2]), { flops: 0, bytes: 0 });
  // conv2d x (2, 3, 6, 6), w (4, 3, 3, 3) + bias, 4x4 output: 2*2*4*27*16 = 6912 + 2*4*16 bias adds;
  // bytes 4 * (216 + 108 + 128); backward dx + dW + db: 2 * 6912 + 128
  const g = { n: 2, c: 3, h: 6, w: 6, kh: 3, kw: 3, oh: 4, ow: 4 };
  assert.deepEqual(kernelCost('conv2dForward', [view([2, 3, 6, 6]), view([4, 3, 3, 3]), view([4]), g]), { flops: 7040, bytes: 4 * 452 });
  assert.equal(kernelCost('conv2dBackward', [view([2, 4, 4, 4]), view([2, 3, 6, 6]), view([4, 3, 3, 3]), g, [true, true, true]]).flops, 13952);
  // maxPool2d forward of (2, 3, 6, 6) in 2x2 windows: one compare per window element
  assert.equal(kernelCost('maxPool2dForward', [view([2, 3, 6, 6]), { ...g, kh: 2, kw: 2, oh: 3, ow: 3 }]).flops, 216);
});

test('profile: a matmul is counted with its FLOPs and the backend is restored', async () => {
  const before = getBackend();
  const a = ops.randn([3, 4]), b = ops.randn([4, 5]);
  const r = await profile((p) => { p.region('forward', () => ops.matmul(a, b)); });
  assert.equal(getBackend(), before);
  const flops = r.kernels.reduce((s, k) => s + k.flops, 0);
  assert.equal(flops, 2 * 3 * 4 * 5, JSON.stringify(r.kernels.map((k) => [k.name, k.flops])));
  for (const k of r.kernels) assert.equal(k.phaseMs.backward, 0);
  assert.equal(r.regions[0]!.name, 'forward');
});

test('profile: restores the backend when the work throws, and profilers do not nest', async () => {
  const before = getBackend();
  await assert.rejects(profile(() => { throw new Error('boom'); }), /boom/);
  assert.equal(getBackend(), before);
  const p = new Profiler();
  p.start();
  try {
    assert.throws(() => new Profiler().start(), /another profiler is running/);
  } finally {
    await p.stop();
  }
  assert.equal(getBackend(), before);
  await assert.rejects(p.stop(), /not started/);
});

test('the profiler never changes results: same losses with and without it', async () => {
  manualSeed(3);
  const plain = trainingStep(createAnyModel('mlp-tiny'), 16, 11);
  const expected = [plain.step(), plain.step(), plain.step()];
  manualSeed(3);
  const r = await profileTraining(createAnyModel('mlp-tiny'), { batch: 16, steps: 2, warmup: 1, seed: 11 });
  assert.deepEqual(r.losses, expected);
});

test('profileTraining: phases, step breakdown and memory timeline of an MLP step', async () => {
  manualSeed(1);
  const model = createAnyModel('mlp-tiny');
  const r = await profileTraining(model, { batch: 8, steps: 2, warmup: 1 });
  const p = r.profile;
  assert.equal(p.steps.length, 2);
  for (const s of p.steps) {
    assert.ok(s.forwardMs > 0 && s.backwardMs > 0 && s.optimizerMs > 0);
    assert.ok(s.dataMs + s.forwardMs + s.backwardMs + s.optimizerMs <= s.totalMs + 1e-6);
    assert.ok(s.kernelMs <= s.totalMs + 1e-6);
    // the accounting partitions the step: its parts sum to it exactly
    const a = s.accounting;
    assert.ok(Math.abs(a.ops + a.optimizer + a.data + a.gc + a.comm + a.unattributed - s.totalMs) < 1e-9, JSON.stringify(s));
    assert.ok(a.opsKernel > 0 && a.opsKernel <= a.ops && a.optimizer > 0 && a.comm === 0);
  }
  for (const k of p.kernels) assert.ok(Math.abs(k.opSelfMs - k.totalMs - k.dispatchMs) < 1e-9 && k.dispatchMs >= 0, k.name);
  const fwd = p.kernels.reduce((s, k) => s + k.phaseMs.forward, 0), bwd = p.kernels.reduce((s, k) => s + k.phaseMs.backward, 0);
  assert.ok(fwd > 0 && bwd > 0, 'kernels in both forward and backward');
  const shares = p.kernels.reduce((s, k) => s + k.share, 0);
  assert.ok(shares > 0 && shares <= 1 + 1e-9, `kernel shares sum to ${shares}`);
  // parameters of mlp-tiny counted by hand from its config; float32
  const nParams = model.parameters().reduce((s, t) => s + t.size, 0);
  const m = p.memory.timeline;
  const at = (label: string) => m.find((x) => x.label === label)!;
  assert.equal(at('start').params, 4 * nParams);
  assert.equal(at('start').optimizerState, 2 * 4 * nParams, 'Adam: exp_avg + exp_avg_sq after the warm-up step');
  assert.ok(at('forward:exit').activations > 0);
  assert.equal(at('backward:exit').activations, 0, 'backward frees the graph');
  assert.equal(at('backward:exit').grads, 4 * nParams);
  assert.equal(at('optimizer:exit').grads, 0, 'zeroGrad sets gradients to none');
  assert.ok(p.memory.peakRss > 0 && p.memory.peakArrayBuffers > 0);
});

test('estimateTrainingMemory: parts counted by hand, and within a loose bound of the measured peak for mlp-large', async () => {
  manualSeed(2);
  const model = createAnyModel('mlp-large');
  const nParams = model.parameters().reduce((s, t) => s + t.size, 0);
  const t = trainingStep(model, 4);
  const est = estimateTrainingMemory(model, (b) => t.lossFor(b), { batch: 4, optimizer: 'adam' });
  assert.equal(est.params, 4 * nParams);
  assert.equal(est.grads, 4 * nParams);
  assert.equal(est.optimizerState, 8 * nParams);
  assert.ok(est.activations > 0);
  assert.equal(estimateTrainingMemory(model, (b) => t.lossFor(b), { batch: 4, optimizer: 'adam', optimizerShards: 2 }).optimizerState, 4 * nParams);
  const r = await profileTraining(model, { batch: 4, steps: 1, warmup: 1 });
  const ratio = r.estimate.total / r.profile.memory.peakAccounted;
  assert.ok(ratio > 0.5 && ratio < 2, `estimate ${r.estimate.total} vs measured peak ${r.profile.memory.peakAccounted}`);
});

const spin = (ms: number): void => { const t0 = performance.now(); while (performance.now() - t0 < ms) { /* JavaScript work */ } };

test('accounting: JavaScript before a kernel is its dispatch, after the last kernel it is unattributed, an awaited region is comm', async () => {
  const a = ops.randn([2, 3]), b = ops.randn([3, 2]);
  const r = await profile(async (p) => {
    await p.stepAsync(async () => {
      p.region('forward', () => { spin(3); ops.matmul(a, b); spin(2); });
      await p.regionAsync('comm', async () => { await new Promise<void>((res) => setTimeout(res, 1)); spin(2); });
    });
  }, { gc: false });
  const s = r.steps[0]!;
  const mm = r.kernels.find((k) => k.name === 'matmul')!;
  assert.equal(mm.calls, 1);
  assert.ok(mm.dispatchMs >= 3, `the 3 ms before the matmul are its dispatch: ${mm.dispatchMs}`);
  assert.ok(s.accounting.unattributed >= 2, `the 2 ms after it are unattributed: ${s.accounting.unattributed}`);
  assert.ok(s.accounting.comm >= 2 && s.commMs === s.accounting.comm, `comm ${s.commMs}`);
  assert.equal(s.commSource, 'timer');
  assert.ok(Math.abs(s.accounting.ops - mm.opSelfMs) < 1e-9);
  assert.ok(Math.abs(s.accounting.ops + s.accounting.comm + s.accounting.unattributed - s.totalMs) < 1e-9);
});

test('the profiled backend forwards non-kernel members and does not time them', async () => {
  const before = getBackend();
  const r = await profile(() => {
    const b = getBackend();
    assert.equal(b.name, before.name);
    assert.equal(b.description, before.description);
  });
  assert.equal(r.kernels.length, 0);
});

test('kernel records grow past their first 1024 slots and keep per-op names apart', async () => {
  const a = ops.randn([3]), b = ops.randn([3]);
  const r = await profile(() => { for (let i = 0; i < 520; i++) { ops.add(a, b); ops.mul(a, b); } }, { gc: false, memory: false });
  const calls = Object.fromEntries(r.kernels.map((k) => [k.name, k.calls]));
  assert.equal(calls['binary.add'], 520);
  assert.equal(calls['binary.mul'], 520);
  const ks = r.events.filter((e) => e.cat === 'kernel');
  assert.equal(ks.length, 1040);
  for (let i = 1; i < ks.length; i++) assert.ok(ks[i]!.start >= ks[i - 1]!.start, 'records keep their order');
});

test('memory samples: cached activation and optimizer-state bytes match a fresh count at every sample; RSS rate-limited', async () => {
  manualSeed(5);
  const net = new Linear(6, 4);
  const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
  const exclude = new Set(net.parameters().map((q) => q.data.buffer));
  const x = ops.randn([3, 6]);
  const fresh: { activations: number; optimizerState: number }[] = [];
  let held: ReturnType<typeof ops.relu> | null = null;
  // the observer region runs no kernel: it records what a full walk and sum give at that moment,
  // next to the profiler's samples at its enter and exit
  const observe = (p: Profiler): void => p.region('observe', () => { fresh.push({ activations: held ? savedActivationBytes([held], exclude) : 0, optimizerState: optimizerStateBytes(opt) }); });
  const r = await profile((p) => {
    for (let s = 0; s < 2; s++) {
      p.step(() => {
        held = p.region('forward', () => ops.relu(net.call(x)).sum());
        observe(p);
        p.region('backward', () => held!.backward());
        observe(p);
        p.region('optimizer', () => { opt.step(); opt.zeroGrad(); });
        observe(p);
        held = null;
      });
    }
    // a loaded state is a new map: its bytes are counted again outside any 'optimizer' region
    const fresh2 = new SGD(net.parameters(), { lr: 0.1 });
    opt.loadStateDict(fresh2.stateDict());
    observe(p);
  }, { model: net, optimizer: opt, gc: false, processMemoryIntervalMs: 1e9 });
  const seen = r.memory.timeline.filter((m) => m.label === 'observe:enter');
  assert.equal(seen.length, fresh.length);
  seen.forEach((m, i) => assert.deepEqual({ activations: m.activations, optimizerState: m.optimizerState }, fresh[i], `sample ${i}`));
  assert.ok(fresh[0]!.activations > 0 && fresh[1]!.activations === 0, 'backward frees the graph');
  assert.equal(fresh[2]!.optimizerState, 4 * (6 * 4 + 4), 'SGD momentum buffers after the first step');
  assert.equal(fresh[6]!.optimizerState, 0, 'a state without momentum buffers loaded');
  // with an interval longer than the run only the first and the last samples read the process
  assert.deepEqual(r.memory.timeline.filter((m) => m.processSample).map((m) => m.label), ['start', 'stop']);
  assert.ok(r.memory.timeline.every((m) => m.rss > 0 && m.arrayBuffers > 0 && m.heapUsed > 0));
  assert.ok(r.memory.peakRss >= Math.max(...r.memory.timeline.map((m) => m.rss)));
  const every = await profile((p) => { p.region('x', () => ops.add(x, x)); }, { processMemoryIntervalMs: 0 });
  assert.ok(every.memory.timeline.every((m) => m.processSample));
});

test('a comm source: the comm phase is the wait it reports when a sync finished inside the region, else the timer', { skip: process.env.TENSORSLIM_BACKEND === 'reference' ? 'profiler bookkeeping only, no kernel: runs in the native pass' : false }, async () => {
  const stats = { steps: 0, waitMs: 0, overlapMs: 0 };
  const source = { commStats: () => ({ ...stats }) };
  const r = await profile(async (p) => {
    await p.stepAsync(async () => {
      await p.regionAsync('comm', async () => { spin(3); stats.steps++; stats.waitMs = 1.25; stats.overlapMs = 0.5; });
    });
    // no sync inside: the source's figures belong to the previous step, so the timer counts
    await p.stepAsync(async () => { await p.regionAsync('comm', async () => { spin(1); }); });
  }, { comm: source, gc: false, memory: false });
  const [a, b] = r.steps;
  assert.deepEqual([a!.commSource, a!.commMs, a!.commOverlapMs, a!.accounting.comm], ['ddp', 1.25, 0.5, 1.25]);
  assert.ok(a!.accounting.unattributed >= 1.5, 'the rest of the region is not communication');
  assert.equal(b!.commSource, 'timer');
  assert.ok(b!.commMs >= 1 && b!.commMs === b!.accounting.comm);
});
