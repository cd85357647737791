// prune.runPrune / fineTune / clonePreset, called as a script would, without the CLI. Outside truths:
// `tensorslim prune --json` on the same checkpoint and flags (the library call must give the CLI's
// numbers exactly), the masks' invariants (masked weights stay zero through fine-tuning, the final
// non-zeros are what the CSR layers hold) and hand-counted shapes of a shrunk model.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { Linear, defaultGenerator, manualSeed, rand, randint, type Tensor } from '../../src/index.js';
import { prune } from '../../src/compress/index.js';
import { TensorDataset, type ImageClassificationData } from '../../src/data/index.js';
import { createModel, type PresetModel } from '../../src/models/index.js';
import { evaluateOn, loadImageData, loadModel, loadTrainingCheckpoint, runTraining, type Callback } from '../../src/train/index.js';
import { cli } from '../cli/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-prune-workflow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** 64 random 28x28 "images" (train) and 32 (test), 10 classes, fixed by seed 11. */
function data(): ImageClassificationData {
  manualSeed(11);
  const mk = (n: number): TensorDataset => new TensorDataset(rand([n, 1, 28, 28]), randint(0, 10, [n], { dtype: 'int32' }));
  const train = mk(64), test = mk(32);
  return {
    kind: 'image', train, test,
    info: { kind: 'image', name: 'synthetic', numClasses: 10, inputShape: [1, 28, 28], classNames: [...'0123456789'], trainSize: 64, testSize: 32, source: 'test', split: 'random' },
  };
}

function tinyModel(): PresetModel {
  manualSeed(5);
  return createModel('mlp-tiny');   // 784-64-10
}

const base = { amount: 0.8, finetuneSteps: 4, rounds: 2, structured: false, batchSize: 16, lr: 1e-3, seed: 2 } as const;

describe('prune.runPrune (library workflow)', () => {
  test('gives exactly what `tensorslim prune --json` reports for the same checkpoint and flags', async () => {
    const ckpt = join(dir, 'dense.safetensors');
    const trained = await runTraining({ model: 'mlp-tiny', dataset: 'mnist', steps: 10, seed: 0, out: ckpt });
    assert.equal(trained.fit.stopReason, 'completed');
    const c = await cli('prune', '--model', ckpt, '--dataset', 'mnist', '--method', 'global', '--amount', '0.8', '--schedule', 'iterative',
      '--rounds', '2', '--finetune-steps', '4', '--batch-size', '16', '--seed', '2', '--json');
    assert.equal(c.code, 0, c.ctx.stderr.join('\n'));
    const events: prune.PruneEvent[] = [];
    const r = await prune.runPrune({
      ...base, model: loadModel(ckpt), data: loadImageData('mnist'), method: 'global', schedule: 'iterative', onEvent: (e) => events.push(e),
    });
    assert.equal(r.final.accuracy, c.json['testAccuracy']);
    assert.equal(r.dense.accuracy, c.json['denseTestAccuracy']);
    assert.equal(r.pruned.accuracy, c.json['prunedTestAccuracy']);
    assert.equal(r.nonzeros, c.json['nonzeros']);
    assert.equal(r.sparsity, c.json['sparsity']);
    assert.equal(r.weightSparsity, c.json['weightSparsity']);
    assert.deepEqual(events.map((e) => e.kind), ['dense', 'round', 'round']);
    // the CLI printed one line per event: the same rounds it ran
    assert.equal(c.ctx.stderr.filter((l) => /^round \d\/2: pruned to/.test(l)).length, 2);
  });

  test('one-shot global pruning: masks fixed while fine-tuning, CSR layers hold exactly the non-zeros, RNG stream restored', async () => {
    const d = data();
    const model = tinyModel();
    const labels: string[] = [];
    const steps: number[] = [];
    const progress = (label: string): Callback<Tensor[]> => { labels.push(label); return { onStepEnd: (t) => { steps.push(t.step); } }; };
    const rng = defaultGenerator.getState();
    const r = await prune.runPrune({ ...base, model, data: d, method: 'global', schedule: 'oneshot', progress });
    assert.deepEqual(defaultGenerator.getState(), rng, 'the caller\'s random stream is left where it was');
    assert.deepEqual(labels, ['fine-tune']);
    assert.deepEqual(steps, [1, 2, 3, 4]);
    // 80% of the 784*64 + 64*10 weights masked (global threshold), biases untouched
    const weights = 784 * 64 + 64 * 10;
    assert.ok(Math.abs(r.weightSparsity - 0.8) < 1e-3, `weightSparsity ${r.weightSparsity}`);
    assert.equal(r.denseParameters, weights + 64 + 10);
    // fine-tuning could not revive masked weights: the non-zeros are the 20% survivors (+ biases) at most
    assert.ok(r.nonzeros <= Math.round(weights * 0.2) + 74, `nonzeros ${r.nonzeros}`);
    const csr = r.sparseLayers.reduce((a, l) => a + l.nonzeros, 0);
    assert.ok(r.sparseLayers.length > 0 && csr <= r.nonzeros, 'sparse layers swapped in');
    assert.equal(r.sparsity, 1 - r.nonzeros / r.denseParameters);
    assert.equal(r.final.accuracy, evaluateOn(r.model, d).accuracy);
    assert.equal(prune.isPruned(r.model), false, 'masks baked in (prune.remove)');
  });

  test('gradual schedule reports its plan; ln-structured with structured shrinks the hidden layer to the survivors', async () => {
    const d = data();
    const events: prune.PruneEvent[] = [];
    const g = await prune.runPrune({ ...base, finetuneSteps: 6, model: tinyModel(), data: d, method: 'l1', schedule: 'gradual', onEvent: (e) => events.push(e) });
    const plan = events.find((e) => e.kind === 'gradual');
    // numSteps = min(10, floor(2 * 6 / 3)) = 4, frequency = floor(4 / 4) = 1
    assert.deepEqual(plan, { kind: 'gradual', amount: 0.8, numSteps: 4, frequency: 1, steps: 6 });
    assert.ok(g.weightSparsity > 0.79, `gradual reached ${g.weightSparsity}`);

    events.length = 0;
    const s = await prune.runPrune({ ...base, amount: 0.5, model: tinyModel(), data: d, method: 'ln-structured', schedule: 'oneshot', structured: true, onEvent: (e) => events.push(e) });
    assert.deepEqual(events.map((e) => e.kind), ['dense', 'shrunk', 'pruned']);
    // 64 hidden units, half removed: 784*32 + 32 + 32*10 + 10
    assert.deepEqual(s.shrunk?.map((l) => [l.before, l.after]), [[64, 32]]);
    assert.equal(s.parameters, 784 * 32 + 32 + 32 * 10 + 10);
    assert.equal(s.model.numParameters(), s.parameters);
    assert.equal(s.weightSparsity, 0);
  });
});

describe('prune.fineTune and prune.clonePreset', () => {
  test('fineTune keeps pruned weights at zero and trains the rest; 0 steps changes nothing', async () => {
    const d = data();
    const model = tinyModel();
    const layer = prune.weightTargets(model)[0]![0] as Linear;
    prune.l1Unstructured(layer, 'weight', 0.5);
    const before = Array.from(layer.weight.dataSync());
    await prune.fineTune(model, d, { steps: 0, lr: 1e-2, batchSize: 16, seed: 0 });
    model.call(d.test.getBatch([0])[0]!);   // the pre-hook recomputes weight = orig * mask
    assert.deepEqual(Array.from(layer.weight.dataSync()), before);
    await prune.fineTune(model, d, { steps: 3, lr: 1e-2, batchSize: 16, seed: 0 });
    model.call(d.test.getBatch([0])[0]!);
    const after = Array.from(layer.weight.dataSync());
    assert.ok(before.every((v, i) => (v === 0) === (after[i] === 0)), 'zeros stay zeros, survivors stay non-zero');
    assert.ok(after.some((v, i) => v !== before[i]), 'survivors trained');
  });

  test('clonePreset copies config, weights and mode without moving the random stream', () => {
    const model = tinyModel();
    model.eval();
    const rng = defaultGenerator.getState();
    const copy = prune.clonePreset(model);
    assert.deepEqual(defaultGenerator.getState(), rng);
    assert.deepEqual(copy.config, model.config);
    assert.equal(copy.training, false);
    const a = model.parameters().map((p) => Array.from(p.dataSync()));
    assert.deepEqual(copy.parameters().map((p) => Array.from(p.dataSync())), a);
    assert.notEqual(copy.parameters()[0], model.parameters()[0]);
  });
});

/** Every tensor of a model's state, as plain numbers by name (for bitwise comparisons). */
function stateOf(model: { stateDict(): Map<string, Tensor> }): Record<string, number[]> {
  return Object.fromEntries([...model.stateDict()].map(([k, t]) => [k, Array.from(t.contiguous().dataSync())]));
}

describe('prune.runPrune checkpoint and resume', () => {
  // 64 samples in batches of 16: 4 steps an epoch, so the runs cross epoch ends and resume mid-epoch;
  // a progress callback that throws stands for the killed process.
  const cases = [
    { name: 'iterative global (resumed in round 2)', method: 'global', schedule: 'iterative', stopLabel: 'round 2', stopStep: 3, at: 'round 2: resumed from' },
    { name: 'gradual random (masks made while training)', method: 'random', schedule: 'gradual', stopLabel: 'gradual', stopStep: 5, at: 'gradual: resumed from' },
    { name: 'oneshot ln-structured, shrunk', method: 'ln-structured', schedule: 'oneshot', stopLabel: 'fine-tune', stopStep: 5, at: 'fine-tune: resumed from' },
  ] as const;
  for (const c of cases) {
    test(`${c.name}: killed after a step checkpoint, resumed, ends bitwise where an uninterrupted run ends`, async () => {
      const d = data();
      const o = { ...base, finetuneSteps: 10, method: c.method, schedule: c.schedule, structured: c.method === 'ln-structured', amount: c.method === 'ln-structured' ? 0.5 : 0.8 };
      const whole = await prune.runPrune({ ...o, model: tinyModel(), data: d });
      const ck = join(dir, `resume-${c.method}.safetensors`);
      const stop = (label: string): Callback<Tensor[]> => ({ onStepEnd: (t) => { if (label === c.stopLabel && t.step === c.stopStep) throw new Error('killed'); } });
      await assert.rejects(prune.runPrune({ ...o, model: tinyModel(), data: d, checkpoint: ck, checkpointEvery: 2, progress: stop }), /killed/);
      const saved = loadTrainingCheckpoint(ck);
      assert.equal(saved.snapshot!.step, c.stopStep - 1, 'the last step checkpoint before the kill');
      if (c.schedule !== 'oneshot' || !o.structured) assert.ok([...saved.snapshot!.model.keys()].some((k) => k.endsWith('.weight_orig')) && [...saved.snapshot!.model.keys()].some((k) => k.endsWith('.weight_mask')), 'masks saved as weight_orig / weight_mask');
      const events: prune.PruneEvent[] = [];
      const rng = defaultGenerator.getState();
      const resumed = await prune.runPrune({ ...o, model: tinyModel(), data: d, checkpoint: ck, resume: ck, onEvent: (e) => events.push(e) });
      assert.deepEqual(defaultGenerator.getState(), rng, 'the caller\'s random stream is left where it was');
      assert.equal(resumed.resumedFrom, ck);
      const ev = events.find((e) => e.kind === 'resumed');
      assert.deepEqual(ev, { kind: 'resumed', path: ck, label: c.stopLabel, step: c.stopStep - 1, steps: c.schedule === 'iterative' ? 5 : 10 });
      assert.deepEqual(stateOf(resumed.model), stateOf(whole.model), 'same parameters and masks as the uninterrupted run');
      assert.deepEqual([resumed.pruned, resumed.final.accuracy, resumed.nonzeros], [whole.pruned, whole.final.accuracy, whole.nonzeros].map((x, i) => (i === 0 ? { ...whole.pruned, seconds: resumed.pruned.seconds, samplesPerSecond: resumed.pruned.samplesPerSecond } : x)));
      if (c.schedule === 'iterative') {
        // the finished run's checkpoint resumes to the same end again (nothing left to train)
        const again = await prune.runPrune({ ...o, model: tinyModel(), data: d, resume: ck });
        assert.deepEqual(stateOf(again.model), stateOf(whole.model));
      }
    });
  }

  test('a checkpoint of another run, model or data, a damaged file and a train checkpoint are refused, saying why', async () => {
    const d = data();
    const o = { ...base, method: 'global', schedule: 'iterative', finetuneSteps: 4 } as const;
    const ck = join(dir, 'refuse.safetensors');
    await prune.runPrune({ ...o, model: tinyModel(), data: d, checkpoint: ck });
    await assert.rejects(prune.runPrune({ ...o, amount: 0.7, model: tinyModel(), data: d, resume: ck }), /other settings: amount 0\.8 \(this run: 0\.7\)/);
    const other = tinyModel();
    (other.parameters()[0]!.data as Float32Array)[0] += 1;
    await assert.rejects(prune.runPrune({ ...o, model: other, data: d, resume: ck }), /another dense model/);
    const fewer: ImageClassificationData = { ...d, train: new TensorDataset(...d.train.getBatch(Array.from({ length: 48 }, (_, i) => i)) as [Tensor, Tensor]) };
    await assert.rejects(prune.runPrune({ ...o, model: tinyModel(), data: fewer, resume: ck }), /64 training samples\), this run on synthetic \(48\)/);
    const bytes = readFileSync(ck);
    const bad = join(dir, 'damaged.safetensors');
    writeFileSync(bad, bytes.subarray(0, bytes.length - 100));
    await assert.rejects(prune.runPrune({ ...o, model: tinyModel(), data: d, resume: bad }), /cannot be read as a checkpoint/);
    const trained = join(dir, 'trained.safetensors');
    await runTraining({ model: 'mlp-tiny', dataset: d, steps: 1, out: trained });
    await assert.rejects(prune.runPrune({ ...o, model: tinyModel(), data: d, resume: trained }), /not a prune fine-tuning checkpoint/);
    await assert.rejects(prune.runPrune({ ...o, model: tinyModel(), data: d, checkpointEvery: 2 }), /checkpointEvery needs a checkpoint path/);
  });
});
