// `tensorslim distill`, in-process through main() with tiny budgets: a mlp-tiny teacher trained 20
// steps, distilled into mlp-tiny for a few steps. Outside truths: mlp-tiny (784-64-10) has
// 784*64 + 64 + 64*10 + 10 = 50,890 parameters; the teacher's accuracy is what `train` reported for
// it; --baseline is by definition `train --model <student>` with the same budget and seed; the
// student checkpoint written with --out evaluates to the reported distilled accuracy; with alpha = 0
// Hinton's loss is plain cross-entropy on the labels, so the "distilled" student is the student alone.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { cli, trainTinyCheckpoint } from './helpers.js';
import { captureContext, main } from '../../src/cli/index.js';
import { modelFromConfig } from '../../src/models/index.js';
import { evaluateOn, exportWeights, loadImageData, loadModel } from '../../src/train/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-distill-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const teacher = join(dir, 'teacher.safetensors');
let teacherAccuracy = NaN;

before(async () => { teacherAccuracy = (await trainTinyCheckpoint(teacher))['testAccuracy'] as number; });

const base = ['--teacher', teacher, '--student', 'mlp-tiny', '--dataset', 'mnist', '--json'];

test('JSON contract, --baseline equals train alone, and the --out checkpoint holds the distilled student', async () => {
  const out = join(dir, 'student.safetensors');
  const r = await cli('distill', ...base, '--steps', '8', '--seed', '3', '--temperature', '8', '--alpha', '0.7', '--baseline', '--out', out);
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  const j = r.json;
  for (const k of ['teacherAccuracy', 'studentAloneAccuracy', 'distilledAccuracy', 'teacherParams', 'studentParams', 'temperature', 'alpha', 'epochs', 'seconds', 'out']) assert.ok(k in j, k);
  assert.equal(j['teacherAccuracy'], teacherAccuracy);
  assert.equal(j['teacherParams'], 50_890);
  assert.equal(j['studentParams'], 50_890);
  assert.equal(j['temperature'], 8);
  assert.equal(j['alpha'], 0.7);
  assert.equal(j['steps'], 8);
  assert.equal(j['epochs'], 1);
  assert.equal(j['out'], out);
  const alone = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '8', '--seed', '3', '--json');
  assert.equal(j['studentAloneAccuracy'], alone.json['testAccuracy']);
  assert.equal(evaluateOn(loadModel(out), loadImageData('mnist')).accuracy, j['distilledAccuracy']);
  // progress went to stderr, stdout holds only the JSON line
  assert.equal(r.ctx.stdout.filter((l) => l !== '').length, 1);
  assert.ok(r.ctx.stderr.some((l) => l.includes('distill epoch 1/1')), r.ctx.stderr.join('\n'));
});

test('alpha 0 is training on the labels alone; no --baseline gives studentAloneAccuracy null', async () => {
  const r = await cli('distill', ...base, '--steps', '6', '--alpha', '0');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['studentAloneAccuracy'], null);
  assert.equal(r.json['out'], null);
  const alone = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '6', '--json');
  assert.equal(r.json['distilledAccuracy'], alone.json['testAccuracy'], 'alpha 0: the distilled student is the student trained alone');
});

test('--schedule cosine applies to the distilled student and to --baseline, like train --schedule cosine', async () => {
  const r = await cli('distill', ...base, '--steps', '6', '--alpha', '0', '--schedule', 'cosine', '--baseline');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['schedule'], 'cosine');
  const alone = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '6', '--schedule', 'cosine', '--json');
  assert.equal(r.json['studentAloneAccuracy'], alone.json['testAccuracy']);
  assert.equal(r.json['distilledAccuracy'], alone.json['testAccuracy'], 'alpha 0 with the same schedule is the student alone');
  const constant = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '6', '--json');
  assert.notEqual(constant.json['testLoss'], alone.json['testLoss'], 'the schedule changes training');
});

test('a restarted distill (TENSORSLIM_RESTART_COUNT) resumes from --out and ends bitwise where an uninterrupted run ends; --resume checks the student', async () => {
  // (a constant rate: a schedule's length is the budget's, so a shorter first leg would change it)
  const flags = [...base, '--seed', '3', '--batch-size', '32', '--alpha', '0.7'];
  const whole = await cli('distill', ...flags, '--steps', '6');
  assert.equal(whole.code, 0, whole.ctx.stderr.join('\n'));
  const out = join(dir, 'restarted.safetensors');
  const first = await cli('distill', ...flags, '--steps', '3', '--out', out);
  assert.equal(first.code, 0, first.ctx.stderr.join('\n'));
  assert.equal(first.json['resumedFrom'], null);
  // what a launcher restart sets (TENSORSLIM_RESTART_COUNT > 0): --out is resumed without --resume
  const ctx = captureContext({ ...process.env, TENSORSLIM_RESTART_COUNT: '1' });
  assert.equal(await main(['distill', ...flags, '--steps', '6', '--out', out], ctx), 0, ctx.stderr.join('\n'));
  const again = JSON.parse(ctx.stdout.filter((l) => l !== '').at(-1)!) as Record<string, unknown>;
  assert.equal(again['resumedFrom'], out);
  assert.ok(ctx.stderr.some((l) => l.includes(`resumed from ${out} at step 3`)), ctx.stderr.join('\n'));
  assert.equal(again['steps'], 6);
  assert.equal(again['distilledLoss'], whole.json['distilledLoss']);
  assert.equal(again['distilledAccuracy'], whole.json['distilledAccuracy']);
  const wrong = await cli('distill', ...flags.map((f) => (f === 'mlp-tiny' ? 'mlp-small' : f)), '--steps', '6', '--resume', out);
  assert.equal(wrong.code, 2);
  assert.match(wrong.ctx.stderr.join('\n'), /--resume .*restarted\.safetensors: it holds a mlp-tiny student, not this mlp-small; pass the same --student/);
});

test('bad input: exit 2 with a clear message, before training, nothing written', async () => {
  const fiveClass = join(dir, 'five.safetensors');
  exportWeights(modelFromConfig({ arch: 'mlp', inFeatures: 784, hidden: [8], numClasses: 5, dropout: 0, inputDropout: 0 }), fiveClass);
  const out = join(dir, 'never.safetensors');
  const cases: [string[], RegExp][] = [
    [[...base, '--temperature', '0'], /temperature/],
    [[...base, '--temperature', '-2'], /temperature/],
    [[...base, '--alpha', '1.5'], /alpha/],
    [[...base, '--alpha', '-0.1'], /alpha/],
    [['--teacher', teacher, '--student', 'mlp-huge', '--dataset', 'mnist', '--json'], /unknown --student 'mlp-huge'.*mlp-tiny/],
    [['--teacher', join(dir, 'missing.safetensors'), '--student', 'mlp-tiny', '--dataset', 'mnist', '--json'], /missing\.safetensors: no such file/],
    [['--teacher', fiveClass, '--student', 'mlp-tiny', '--dataset', 'mnist', '--json'], /output sizes differ.*5 outputs.*10/],
    [['--student', 'mlp-tiny', '--dataset', 'mnist', '--json'], /missing --teacher/],
    [[...base, '--epochs', '1', '--steps', '2'], /--epochs or --steps/],
  ];
  for (const [argv, msg] of cases) {
    const r = await cli('distill', ...argv, '--out', out);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.ctx.stderr.join('\n')}`);
    assert.match(r.ctx.stderr.join('\n'), msg, argv.join(' '));
    assert.ok(!r.ctx.stderr.some((l) => l.includes('epoch 1/')), `${argv.join(' ')} started training`);
    assert.equal(r.json['exitCode'], 2);
    assert.ok(!existsSync(out), argv.join(' '));
  }
});
