// Checkpoints: layout (PyTorch state-dict keys, optimizer tensors under optimizer.state.<i>.<name>,
// JSON metadata), exact resume (6 straight steps == 3 steps, save, load into fresh objects, 3 more:
// bitwise-identical parameters), all-or-nothing restore, refusal of bad files, a PyTorch model
// reading our weights (torch gives the same predictions), and a writer killed mid-write leaving
// the previous checkpoint intact.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { defaultGenerator, manualSeed, TensorslimError, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { Dropout, F, Linear, ReLU, Sequential } from '../../src/nn/index.js';
import { Adam, AdamW, SGD, StepLR, type Optimizer } from '../../src/optim/index.js';
import { createModel } from '../../src/models/index.js';
import {
  CHECKPOINT_FORMAT_VERSION, loadCheckpoint, loadSafetensors, modelFromCheckpoint, parseCheckpoint, restoreCheckpoint,
  parseSafetensors, saveCheckpoint, saveSafetensors, serializeCheckpoint, serializeSafetensors,
} from '../../src/io/index.js';
import { runChecker, tempDir } from './helpers.js';
import { requireOrSkip } from '../helpers/requirements.js';
import { nodeEntry } from '../helpers/paths.js';

const bits = (t: Tensor): number[] => Array.from(new Uint8Array(t.dataSync().buffer));
const paramBits = (m: Sequential): number[][] => m.parameters().map(bits);

function setup(): { model: Sequential; opt: Adam; sched: StepLR } {
  const model = new Sequential(new Linear(4, 8), new Dropout(0.25), new Linear(8, 2));
  const opt = new Adam(model.parameters(), { lr: 0.05, amsgrad: true });
  const sched = new StepLR(opt, 2, 0.5);
  return { model, opt, sched };
}

/** One training step; data and dropout masks come from the default generator. */
function trainStep({ model, opt, sched }: { model: Sequential; opt: Optimizer; sched: StepLR }): void {
  const x = ops.randn([5, 4]);
  const y = ops.randn([5, 2]);
  opt.zeroGrad();
  F.mseLoss(model.call(x), y).backward();
  opt.step();
  sched.step();
}

const saveArgs = (s: ReturnType<typeof setup>, step: number): Parameters<typeof serializeCheckpoint>[0] => ({
  model: s.model, optimizer: s.opt, scheduler: s.sched, step, epoch: 0, config: null, rngState: defaultGenerator.getState(),
});

describe('resume reproduces an uninterrupted run exactly', () => {
  it('Linear + Dropout + Adam(amsgrad) + StepLR: 6 straight steps == 3 + save + load into fresh objects + 3, bitwise', () => {
    manualSeed(42);
    const straight = setup();
    for (let k = 0; k < 6; k++) trainStep(straight);
    const expected = paramBits(straight.model);

    const { dir, cleanup } = tempDir();
    try {
      manualSeed(42);
      const first = setup();
      for (let k = 0; k < 3; k++) trainStep(first);
      const path = join(dir, 'ckpt.safetensors');
      saveCheckpoint(path, saveArgs(first, 3));

      const resume = (restoreRng: boolean, restoreOpt: boolean): number[][] => {
        manualSeed(999); // fresh objects with different weights and RNG
        const fresh = setup();
        const ckpt = loadCheckpoint(path);
        assert.equal(ckpt.step, 3);
        restoreCheckpoint(ckpt, {
          model: fresh.model,
          ...(restoreOpt ? { optimizer: fresh.opt, scheduler: fresh.sched } : {}),
          generator: restoreRng ? defaultGenerator : null,
        });
        for (let k = 0; k < 3; k++) trainStep(fresh);
        return paramBits(fresh.model);
      };
      assert.deepEqual(resume(true, true), expected);
      // The test is sensitive to each part: without the RNG or the optimizer state, the run differs.
      assert.notDeepEqual(resume(false, true), expected);
      assert.notDeepEqual(resume(true, false), expected);
    } finally {
      cleanup();
    }
  });
});

describe('layout', () => {
  it('model tensors under PyTorch keys, optimizer tensors under optimizer.state.<i>.<name>, JSON metadata', () => {
    manualSeed(1);
    const s = setup();
    trainStep(s);
    const bytes = serializeCheckpoint({ ...saveArgs(s, 1), epoch: 2, extra: { bestAccuracy: 0.5, notes: ['a'] } });
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'c.safetensors');
      saveSafetensors(path, new Map()); // replaced below; checks overwrite
      saveCheckpoint(path, { ...saveArgs(s, 1), epoch: 2, extra: { bestAccuracy: 0.5, notes: ['a'] } });
      assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
      const { tensors, metadata } = loadSafetensors(path);
      const names = (i: number): string[] => ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'].map((n) => `optimizer.state.${i}.${n}`);
      assert.deepEqual([...tensors.keys()].sort(), ['0.bias', '0.weight', '2.bias', '2.weight', ...[0, 1, 2, 3].flatMap(names)].sort());
      assert.deepEqual(Object.keys(metadata).sort(), ['format', 'tensorslim.config', 'tensorslim.epoch', 'tensorslim.extra', 'tensorslim.format_version',
        'tensorslim.optimizer', 'tensorslim.rng_state', 'tensorslim.scheduler', 'tensorslim.step', 'tensorslim.version'].sort());
      assert.equal(metadata['format'], 'pt');
      assert.equal(metadata['tensorslim.format_version'], String(CHECKPOINT_FORMAT_VERSION));
      assert.equal(metadata['tensorslim.version'], JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
      assert.equal(metadata['tensorslim.step'], '1');
      assert.equal(metadata['tensorslim.epoch'], '2');
      assert.equal(metadata['tensorslim.config'], 'null');
      const opt = JSON.parse(metadata['tensorslim.optimizer']!);
      assert.equal(opt.type, 'Adam');
      assert.deepEqual(opt.state, { 0: { step: 1 }, 1: { step: 1 }, 2: { step: 1 }, 3: { step: 1 } });
      assert.deepEqual(opt.paramGroups[0].params, [0, 1, 2, 3]);
      assert.equal(opt.paramGroups[0].amsgrad, true);
      assert.deepEqual(opt.paramGroups[0].betas, [0.9, 0.999]);
      const sched = JSON.parse(metadata['tensorslim.scheduler']!);
      assert.equal(sched.type, 'StepLR');
      assert.deepEqual(sched.state.config, { stepSize: 2, gamma: 0.5 });
      assert.equal(sched.state.lastEpoch, 1);
      assert.deepEqual(JSON.parse(metadata['tensorslim.extra']!), { bestAccuracy: 0.5, notes: ['a'] });
      const ckpt = loadCheckpoint(path);
      assert.deepEqual(ckpt.extra, { bestAccuracy: 0.5, notes: ['a'] });
      assert.equal(ckpt.optimizer!.stateDict.state[2]!['step'], 1);
      assert.deepEqual([...ckpt.model.keys()], ['0.weight', '0.bias', '2.weight', '2.bias']);
    } finally {
      cleanup();
    }
  });

  it('without optimizer and scheduler the file holds only the weights', () => {
    const net = new Sequential(new Linear(2, 2));
    const ckpt = parseCheckpoint(serializeCheckpoint({ model: net, step: 0, epoch: 0, config: null, rngState: defaultGenerator.getState() }));
    assert.equal(ckpt.optimizer, null);
    assert.equal(ckpt.scheduler, null);
    assert.deepEqual([...ckpt.model.keys()], ['0.weight', '0.bias']);
    assert.throws(() => restoreCheckpoint(ckpt, { model: net, optimizer: new SGD(net.parameters(), { lr: 0.1 }) }), /has no optimizer state/);
  });

  it('a preset model: config round trip and modelFromCheckpoint gives the same outputs', () => {
    manualSeed(3);
    const net = createModel('mlp', { inFeatures: 6, hidden: [5], numClasses: 3 });
    const ckpt = parseCheckpoint(serializeCheckpoint({ model: net, step: 10, epoch: 1, config: net.config, rngState: defaultGenerator.getState() }));
    assert.deepEqual(ckpt.config, net.config);
    manualSeed(4);
    const again = modelFromCheckpoint(ckpt);
    const x = ops.randn([2, 6]);
    assert.deepEqual(bits(again.call(x)), bits(net.call(x)));
  });
});

describe('restore is all or nothing; bad checkpoints are refused', () => {
  const make = (): ReturnType<typeof setup> => { manualSeed(5); const s = setup(); trainStep(s); return s; };

  it('wrong optimizer or scheduler class', () => {
    const s = make();
    const ckpt = parseCheckpoint(serializeCheckpoint(saveArgs(s, 1)));
    const fresh = setup();
    assert.throws(() => restoreCheckpoint(ckpt, { model: fresh.model, optimizer: new AdamW(fresh.model.parameters()) }), /holds Adam state, but the optimizer is AdamW/);
  });

  it('a later part failing rolls back the model and the optimizer', () => {
    const s = make();
    const ckpt = parseCheckpoint(serializeCheckpoint(saveArgs(s, 1)));
    manualSeed(6);
    const fresh = setup();
    trainStep(fresh);
    const before = paramBits(fresh.model);
    const optBefore = JSON.stringify(fresh.opt.stateDict().paramGroups);
    // A damaged scheduler state: the model and optimizer load first, then the scheduler refuses.
    const damaged = { ...ckpt, scheduler: { type: 'StepLR', stateDict: { ...ckpt.scheduler!.stateDict, config: { nope: 1 } } } };
    assert.throws(() => restoreCheckpoint(damaged, { model: fresh.model, optimizer: fresh.opt, scheduler: fresh.sched }), /loaded config has settings/);
    assert.deepEqual(paramBits(fresh.model), before);
    assert.equal(JSON.stringify(fresh.opt.stateDict().paramGroups), optBefore);
    // The restored objects still train.
    trainStep(fresh);
  });

  it('a different architecture: nothing changes', () => {
    const s = make();
    const ckpt = parseCheckpoint(serializeCheckpoint(saveArgs(s, 1)));
    const other = new Sequential(new Linear(4, 3), new ReLU(), new Linear(3, 2));
    const before = paramBits(other);
    assert.throws(() => restoreCheckpoint(ckpt, { model: other }), /0.weight: shape \(8, 4\) in the state dict vs \(3, 4\) in the model/);
    assert.deepEqual(paramBits(other), before);
  });

  it('plain safetensors, newer format, damaged metadata', () => {
    assert.throws(() => parseCheckpoint(serializeSafetensors({ w: ops.ones([2]) })), /not a tensorslim checkpoint.*loadSafetensors/);
    const good = (patch: Record<string, string>): Uint8Array => {
      const { metadata, tensors } = parseSafetensors(serializeCheckpoint(saveArgs(make(), 1)));
      return serializeSafetensors(tensors, { ...metadata, ...patch });
    };
    assert.throws(() => parseCheckpoint(good({ 'tensorslim.format_version': '2' })), /format version 2 is newer than this tensorslim reads \(1\); upgrade/);
    assert.throws(() => parseCheckpoint(good({ 'tensorslim.step': '{' })), /'tensorslim.step' is not valid JSON/);
    assert.throws(() => parseCheckpoint(good({ 'tensorslim.step': '-1' })), /'tensorslim.step' must be a non-negative integer/);
    assert.throws(() => parseCheckpoint(good({ 'tensorslim.rng_state': '{"s":[1,2,3],"spare":null}' })), /rngState must be Generator.getState/);
    assert.throws(() => parseCheckpoint(good({ 'tensorslim.config': '{"arch":"nope"}' })), /'tensorslim.config' is not a valid model config/);
    assert.throws(() => parseCheckpoint(good({ 'tensorslim.optimizer': '{"type":"Adam","paramGroups":[{"params":[-1]}],"state":{}}' })), /'tensorslim.optimizer' is malformed/);
    assert.throws(() => parseCheckpoint(good({ 'tensorslim.scheduler': '[]' })), /'tensorslim.scheduler' is malformed/);
  });

  it('refuses to save what JSON cannot carry, and key collisions', () => {
    const s = make();
    assert.throws(() => serializeCheckpoint({ ...saveArgs(s, 1), extra: { loss: NaN } }), /extra.loss is NaN, which JSON cannot store/);
    assert.throws(() => serializeCheckpoint({ ...saveArgs(s, 1), step: 1.5 }), /step must be a non-negative integer/);
    assert.throws(() => serializeCheckpoint({ ...saveArgs(s, 1), config: undefined as never }), /config is required/);
    const clash = new Map([['optimizer.x', ops.ones([1])]]);
    assert.throws(() => serializeCheckpoint({ ...saveArgs(s, 1), model: clash }), /model key 'optimizer.x' would collide/);
    assert.throws(() => serializeCheckpoint({ ...saveArgs(s, 1), rngState: { s: [0, 0, 0, 0], spare: null } }), (e: unknown) => e instanceof TensorslimError && /rngState must be/.test(e.message));
  });
});

describe('PyTorch reads our checkpoints', () => {
  it('torch.nn.Sequential loads the weights (optimizer tensors left out) and predicts what we predict', { skip: requireOrSkip('torch') }, () => {
    manualSeed(11);
    const net = new Sequential(new Linear(6, 7), new ReLU(), new Linear(7, 3));
    const opt = new Adam(net.parameters(), { lr: 0.01 });
    const x = ops.randn([4, 6]);
    F.mseLoss(net.call(x), ops.randn([4, 3])).backward();
    opt.step();
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'net.safetensors');
      saveCheckpoint(path, { model: net, optimizer: opt, step: 1, epoch: 0, config: null, rngState: defaultGenerator.getState() });
      const out = runChecker<{ shape: number[]; data: number[] }>(['forward', path], JSON.stringify({ shape: x.shape, data: Array.from(x.dataSync()) }));
      const ours = Array.from(net.call(x).dataSync());
      assert.deepEqual(out.shape, [4, 3]);
      ours.forEach((v, i) => assert.ok(Math.abs(v - out.data[i]!) <= 1e-5 * (1 + Math.abs(v)), `[${i}] ours ${v} vs torch ${out.data[i]}`));
    } finally {
      cleanup();
    }
  });
});

describe('kill test', () => {
  it('a writer killed mid-write leaves the previous checkpoint intact', async (t) => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'ckpt.safetensors');
      const child = spawn(process.execPath, [...nodeEntry(fileURLToPath(new URL('./kill_writer.ts', import.meta.url))), path], { stdio: ['ignore', 'pipe', 'inherit'] });
      // Once version 2 is complete, kill the writer as soon as a write is visibly under way (a second
      // file appears, or the target's size changes: what a non-atomic writer would show), or at
      // version 10 at the latest. Where the kill lands does not change what must hold afterwards.
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      const exited = new Promise<string | null>((r) => child.once('exit', (_code, signal) => r(signal)));
      let midWrite = false;
      let fullSize: number | undefined;
      while (child.exitCode === null && child.signalCode === null) {
        if (out.includes('wrote 2\n')) {
          fullSize ??= statSync(path).size;
          midWrite = readdirSync(dir).length > 1 || statSync(path).size !== fullSize;
          if (midWrite || out.includes('writing 10\n')) { child.kill('SIGKILL'); break; }
        }
        await new Promise((r) => setImmediate(r));
      }
      assert.equal(await exited, 'SIGKILL', 'the writer should have been killed, not have exited');
      t.diagnostic(`killed ${midWrite ? 'mid-write' : 'between writes'}`);
      const ckpt = loadCheckpoint(path);
      assert.ok(ckpt.step >= 2, `step ${ckpt.step}`);
      const w = ckpt.model.get('w')!.dataSync();
      assert.equal(w.length, 4_000_000);
      assert.ok(w.every((v) => v === ckpt.step), 'every weight belongs to the same version');
      // Only the target and possibly the killed writer's temporary file.
      assert.ok(readdirSync(dir).every((f) => f === 'ckpt.safetensors' || /^\.ckpt\.safetensors\.\d+\.[0-9a-f]+\.tmp$/.test(f)), readdirSync(dir).join(', '));
    } finally {
      cleanup();
    }
  });
});
