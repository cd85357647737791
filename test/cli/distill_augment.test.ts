// `tensorslim distill --augment / --mixup` (consistent augmentation, Beyer et al. 2022): in-process
// through main() with tiny budgets. Outside truths: --baseline with a shift and no mixup is by
// definition `train --augment` with the same seed; with alpha = 0 the distillation loss is plain
// cross-entropy, so a "distilled" student fed the same augmented batches is the student alone; and
// the soft-target loss on the augmented batch, written out by hand (kdLoss of the student and of
// the teacher on the same shifted, mixed images, Adam), gives the distilled student exactly.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { cli, trainTinyCheckpoint } from './helpers.js';
import { noGrad } from '../../src/core/engine.js';
import { manualSeed } from '../../src/core/random.js';
import type { Tensor } from '../../src/core/tensor.js';
import { kdLoss } from '../../src/compress/distill/index.js';
import { DataLoader } from '../../src/data/index.js';
import { composeTransforms, mixup, randomShift } from '../../src/data/augment.js';
import { createModel } from '../../src/models/index.js';
import { Adam } from '../../src/optim/index.js';
import { evaluateOn, loadImageData, loadModel } from '../../src/train/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-distill-aug-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const teacher = join(dir, 'teacher.safetensors');

before(async () => { await trainTinyCheckpoint(teacher); });

const base = ['--teacher', teacher, '--student', 'mlp-tiny', '--dataset', 'mnist', '--json'];

test('--augment shift:1: --baseline is train --augment shift:1', async () => {
  const r = await cli('distill', ...base, '--steps', '8', '--seed', '3', '--augment', 'shift:1', '--baseline');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['augment'], 'shift:1');
  assert.equal(r.json['mixup'], 0);
  assert.equal(r.json['teacherTargets'], 'precomputed-per-shift');
  const alone = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '8', '--seed', '3', '--augment', 'shift:1', '--json');
  assert.equal(r.json['studentAloneAccuracy'], alone.json['testAccuracy']);
  assert.equal(r.json['studentAloneLoss'], alone.json['testLoss']);
  const plain = await cli('distill', ...base, '--steps', '8', '--seed', '3');
  assert.equal(plain.json['teacherTargets'], 'precomputed');
  assert.notEqual(plain.json['distilledLoss'], r.json['distilledLoss'], 'the augmentation changes training');
});

test('--mixup: deterministic per seed; with alpha 0 the distilled and the --baseline student are the same run', async () => {
  const args = ['--steps', '6', '--augment', 'shift:1', '--mixup', '0.4'];
  const a = await cli('distill', ...base, ...args, '--seed', '5', '--alpha', '0', '--baseline');
  assert.equal(a.code, 0, a.ctx.stderr.join('\n'));
  assert.equal(a.json['teacherTargets'], 'none');
  // same initial weights, same shuffled, shifted and mixed batches, same (mixed one-hot) targets
  assert.equal(a.json['distilledAccuracy'], a.json['studentAloneAccuracy']);
  assert.equal(a.json['distilledLoss'], a.json['studentAloneLoss']);
  const again = await cli('distill', ...base, ...args, '--seed', '5', '--alpha', '0.7');
  const twice = await cli('distill', ...base, ...args, '--seed', '5', '--alpha', '0.7');
  assert.equal(again.json['distilledLoss'], twice.json['distilledLoss'], 'same seed, same run');
  assert.equal(again.json['teacherTargets'], 'per-batch');
  assert.notEqual(again.json['distilledLoss'], a.json['distilledLoss'], 'the teacher changes the distilled student');
  const other = await cli('distill', ...base, ...args, '--seed', '6', '--alpha', '0.7');
  assert.notEqual(other.json['distilledLoss'], again.json['distilledLoss'], 'another seed, another run');
  const noMix = await cli('distill', ...base, '--steps', '6', '--augment', 'shift:1', '--seed', '5', '--alpha', '0');
  assert.notEqual(noMix.json['distilledLoss'], a.json['distilledLoss'], 'mixup changes training');
});

test('the soft targets are the teacher\'s outputs on the augmented batch (by hand: kdLoss, Adam)', async () => {
  const out = join(dir, 'student.safetensors');
  const r = await cli('distill', ...base, '--steps', '4', '--seed', '2', '--batch-size', '32', '--temperature', '2', '--alpha', '1',
    '--augment', 'shift:2', '--mixup', '0.3', '--out', out);
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  const data = loadImageData('mnist');
  const t = loadModel(teacher);
  t.eval();
  const byHand = (teacherOnAugmented: boolean): number => {
    manualSeed(2);
    const s = createModel('mlp-tiny');
    const opt = new Adam(s.parameters(), { lr: 1e-3 });
    const loader = new DataLoader(data.train, { batchSize: 32, shuffle: true, seed: 2,
      transform: composeTransforms(randomShift({ maxShift: 2, imageShape: data.info.inputShape }), mixup({ alpha: 0.3, numClasses: 10 }))! });
    const plain = new DataLoader(data.train, { batchSize: 32, shuffle: true, seed: 2 });    // same order, unaugmented
    const it = plain[Symbol.iterator]();
    s.train();
    let step = 0;
    for (const [x] of loader as Iterable<Tensor[]>) {
      const xPlain = (it.next().value as Tensor[])[0]!;
      const target = noGrad(() => t.call(teacherOnAugmented ? x! : xPlain));
      const loss = kdLoss(s.call(x!), target, { temperature: 2 });
      loss.backward(); opt.step(); opt.zeroGrad();
      if (++step === 4) break;
    }
    return evaluateOn(s, data).loss;
  };
  const want = byHand(true);
  assert.ok(Math.abs((r.json['distilledLoss'] as number) - want) < 1e-9, `${r.json['distilledLoss']} vs ${want}`);
  assert.ok(Math.abs(evaluateOn(loadModel(out), data).loss - want) < 1e-9);
  assert.ok(Math.abs(byHand(false) - want) > 1e-6, 'teacher targets on the unaugmented images would give another student');
});

test('shift only: the teacher\'s logits per shift are precomputed, and are its outputs on the shifted batch (by hand)', async () => {
  const r = await cli('distill', ...base, '--steps', '4', '--seed', '4', '--batch-size', '32', '--temperature', '2', '--alpha', '1', '--augment', 'shift:1');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['teacherTargets'], 'precomputed-per-shift');
  const data = loadImageData('mnist');
  const t = loadModel(teacher);
  t.eval();
  manualSeed(4);
  const s = createModel('mlp-tiny');
  const opt = new Adam(s.parameters(), { lr: 1e-3 });
  const loader = new DataLoader(data.train, { batchSize: 32, shuffle: true, seed: 4, transform: randomShift({ maxShift: 1, imageShape: data.info.inputShape }) });
  s.train();
  let step = 0;
  for (const [x] of loader as Iterable<Tensor[]>) {
    const loss = kdLoss(s.call(x!), noGrad(() => t.call(x!)), { temperature: 2 });
    loss.backward(); opt.step(); opt.zeroGrad();
    if (++step === 4) break;
  }
  // the teacher ran on chunks of 1000 there and of 32 here: equal up to float32 rounding
  const want = evaluateOn(s, data).loss;
  assert.ok(Math.abs((r.json['distilledLoss'] as number) - want) < 1e-5, `${r.json['distilledLoss']} vs ${want}`);
  const plain = await cli('distill', ...base, '--steps', '4', '--seed', '4', '--batch-size', '32', '--temperature', '2', '--alpha', '1');
  assert.ok(Math.abs((plain.json['distilledLoss'] as number) - want) > 1e-4, 'unshifted images and targets give another student');
});

test('--student-hidden 128: a 784-128-10 student (784*128 + 128 + 128*10 + 10 = 101,770 parameters), the same for --baseline', async () => {
  const r = await cli('distill', ...base, '--steps', '3', '--seed', '1', '--student-hidden', '128', '--alpha', '0', '--baseline');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['studentParams'], 101_770);
  assert.deepEqual(r.json['studentHidden'], [128]);
  assert.equal(r.json['distilledLoss'], r.json['studentAloneLoss'], 'alpha 0: the same student, data and loss');
  const bad = await cli('distill', ...base, '--steps', '2', '--student-hidden', '12x');
  assert.equal(bad.code, 2);
  assert.match(bad.ctx.stderr.join('\n'), /--student-hidden must be positive integer widths/);
});

test('bad --augment / --mixup: exit 2 with a clear message before training', async () => {
  const out = join(dir, 'never.safetensors');
  const cases: [string[], RegExp][] = [
    [['--mixup', '-1'], /--mixup must be >= 0, got -1/],
    [['--mixup', 'x'], /--mixup/],
    [['--augment', 'shift:9'], /bad --augment 'shift:9'.*shift:N with N an integer in 0\.\.8/],
    [['--augment', 'rotate'], /bad --augment 'rotate'/],
  ];
  for (const [extra, msg] of cases) {
    const r = await cli('distill', ...base, '--steps', '2', ...extra, '--out', out);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.ctx.stderr.join('\n')}`);
    assert.match(r.ctx.stderr.join('\n'), msg, extra.join(' '));
    assert.ok(!r.ctx.stderr.some((l) => l.includes('epoch 1/')), `${extra.join(' ')} started training`);
    assert.ok(!existsSync(out));
  }
});
