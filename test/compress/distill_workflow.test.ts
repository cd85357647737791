// distill.runDistillation / distillPairProblem, called as a script would, without the CLI. Outside
// truths: with alpha = 0 the loss is the plain cross-entropy, so the student must come out exactly as
// runTraining of the same preset, seed and budget trains it (the documented "alone" baseline); a bad
// pair is refused before any step with the problem named; the checkpoint written is the student's.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { manualSeed, rand, randint, type Tensor } from '../../src/index.js';
import { distill } from '../../src/compress/index.js';
import { TensorDataset, type ImageClassificationData } from '../../src/data/index.js';
import { createModel, modelFromConfig } from '../../src/models/index.js';
import { loadModel, runTraining, type Callback } from '../../src/train/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-distill-workflow-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** 64 random 28x28 "images" (train) and 32 (test), 10 classes, fixed by seed 13. */
function data(): ImageClassificationData {
  manualSeed(13);
  const mk = (n: number): TensorDataset => new TensorDataset(rand([n, 1, 28, 28]), randint(0, 10, [n], { dtype: 'int32' }));
  const train = mk(64), test = mk(32);
  return {
    kind: 'image', train, test,
    info: { kind: 'image', name: 'synthetic', numClasses: 10, inputShape: [1, 28, 28], classNames: [...'0123456789'], trainSize: 64, testSize: 32, source: 'test', split: 'random' },
  };
}

const values = (m: { parameters(): Tensor[] }): number[][] => m.parameters().map((p) => Array.from(p.dataSync()));

describe('distill.runDistillation (library workflow)', () => {
  test('alpha 0 trains the student exactly as runTraining of the same preset, seed and budget', async () => {
    const d = data();
    manualSeed(1);
    const teacher = createModel('mlp-small');
    const budget = { steps: 5, batchSize: 16, lr: 1e-3, seed: 4 } as const;
    const r = await distill.runDistillation({ ...budget, teacher, student: 'mlp-tiny', data: d, alpha: 0 });
    const alone = await runTraining({ ...budget, model: 'mlp-tiny', dataset: d, optimizer: 'adam' });
    assert.equal(r.steps, 5);
    assert.deepEqual(values(r.student), values(alone.model));
    assert.deepEqual([r.test.loss, r.test.accuracy], [alone.test.loss, alone.test.accuracy]);
    assert.equal(r.alpha, 0);
    assert.equal(r.stats.teacherForwards, 0, 'alpha 0 never runs the teacher in training');
  });

  test('soft targets: onStart sees the plan, callbacks run, the teacher is unchanged, --out holds the student', async () => {
    const d = data();
    manualSeed(1);
    const teacher = createModel('mlp-small');
    const before = values(teacher);
    const out = join(dir, 'student.safetensors');
    let planned = 0;
    let stepsSeen = 0;
    const counter: Callback<Tensor[]> = { onStepEnd: () => { stepsSeen++; } };
    const r = await distill.runDistillation({
      teacher, student: 'mlp-tiny', data: d, temperature: 2, alpha: 0.7, epochs: 1, batchSize: 16, seed: 0, out, callbacks: [counter],
      onStart: (p) => { planned = p.studentParams; assert.equal(p.teacherParams, teacher.numParameters()); },
    });
    assert.equal(planned, 784 * 64 + 64 + 64 * 10 + 10);
    assert.equal(stepsSeen, 4, '64 samples / batch 16');
    assert.equal(r.temperature, 2);
    assert.deepEqual(values(teacher), before);
    assert.ok(existsSync(out));
    assert.deepEqual(values(loadModel(out)), values(r.student));
  });

  test('a bad pair is refused before training, naming the problem', async () => {
    const d = data();
    const five = modelFromConfig({ arch: 'mlp', inFeatures: 784, hidden: [8], numClasses: 5, dropout: 0, inputDropout: 0 });
    assert.match(distill.distillPairProblem(five.config, 'mlp-tiny', d) ?? '', /output sizes differ.*5 outputs.*10/);
    assert.match(distill.distillPairProblem(createModel('mlp').config, 'no-such', d) ?? '', /unknown student preset 'no-such'/);
    assert.equal(distill.distillPairProblem(createModel('mlp').config, 'mlp-tiny', d), null);
    let started = false;
    await assert.rejects(
      distill.runDistillation({ teacher: five, student: 'mlp-tiny', data: d, steps: 1, onStart: () => { started = true; } }),
      /distill: teacher and student output sizes differ/,
    );
    assert.equal(started, false);
  });
});
