// Consistency of the CLI's answers (issue 14, item 9): usage errors exit 2 and runtime errors 1 on
// every command, --json always ends stdout with a JSON line (error lines included), messages name the
// real problem, and a too-large tensor shape is a TensorslimError that names the shape.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { cli, trainTinyCheckpoint } from './helpers.js';
import { empty, getBackend, setBackend, zeros } from '../../src/index.js';
import { TensorslimError } from '../../src/core/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-consistency-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ckpt = join(dir, 'tiny.safetensors');
before(async () => { await trainTinyCheckpoint(ckpt); });

const err = (r: Awaited<ReturnType<typeof cli>>): string => r.ctx.stderr.join('\n');
const tiny = ['train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '1'];

test('bad values are usage errors (exit 2) before any work: --threads 100000, --lr 0x10, --student-hidden on lenet5, --tokenizer on an image model', async () => {
  const threads = await cli(...tiny, '--threads', '100000');
  assert.equal(threads.code, 2, err(threads));
  assert.match(err(threads), /--threads must be <= 1024/);
  for (const lr of ['0x10', '0b1', 'Infinity', '1e']) {
    const r = await cli(...tiny, '--lr', lr);
    assert.equal(r.code, 2, `--lr ${lr}: ${err(r)}`);
    assert.match(err(r), /--lr must be a number/);
  }
  assert.equal((await cli(...tiny, '--lr', '1e-3', '--json')).code, 0);
  const hidden = await cli('distill', '--teacher', ckpt, '--student', 'lenet5', '--dataset', 'mnist', '--steps', '1', '--student-hidden', '12');
  assert.equal(hidden.code, 2, err(hidden));
  assert.match(err(hidden), /--student-hidden applies to MLP students; lenet5 is a lenet5/);
  const tok = await cli(...tiny, '--tokenizer', 'byte', '--context', '8');
  assert.equal(tok.code, 2, err(tok));
  assert.match(err(tok), /--tokenizer, --context apply to GPT presets only/);
  const missing = await cli('prune', '--dataset', 'mnist');
  assert.equal(missing.code, 2);
});

test('--json before a command or after an unknown one still ends stdout with a JSON error line', async () => {
  for (const argv of [['--json'], ['bogus', '--json']]) {
    const r = await cli(...argv);
    assert.equal(r.code, 2);
    const last = JSON.parse(r.ctx.stdout.at(-1)!) as { error: string; exitCode: number };
    assert.equal(last.exitCode, 2);
    assert.match(last.error, /unknown (option|command)/);
  }
  const info = await cli('info', '--json');
  assert.equal(info.json['command'], 'info');
});

test('messages name the real problem: a checkpoint as --dataset, --data without the digits, a resume with nothing left, "1 epoch"', async () => {
  const ds = await cli('train', '--model', 'mlp-tiny', '--dataset', ckpt, '--steps', '1');
  assert.equal(ds.code, 1);
  assert.match(err(ds), /is a checkpoint, not a dataset/);
  assert.doesNotMatch(err(ds), /text corpus/);
  const data = await cli(...tiny, '--data', join(dir, 'nothing-here'));
  assert.equal(data.code, 1);
  assert.match(err(data), /does not hold the embedded digits.*drop --data/);
  assert.doesNotMatch(err(data), /reinstall/);
  const resume = await cli('train', '--dataset', 'mnist', '--steps', '20', '--resume', ckpt);
  assert.equal(resume.code, 0, err(resume));
  assert.match(err(resume), /nothing to do: .* is already at step 20/);
  const one = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--epochs', '1', '--batch-size', '8192');
  assert.match(one.ctx.stdout.join('\n'), /: 1 epoch, batch/);
});

test('setBackend of an unknown name throws a TensorslimError naming it and the registered ones', () => {
  const prev = getBackend().name;
  assert.throws(() => setBackend('bogus'), (e: unknown) => e instanceof TensorslimError && /no backend named 'bogus'; registered: .*reference/.test((e as Error).message));
  assert.equal(getBackend().name, prev);
});

test('zeros/empty of a shape no tensor can hold throw a TensorslimError naming the shape', () => {
  for (const f of [zeros, empty]) {
    assert.throws(() => f([1e6, 1e6]), (e: unknown) => e instanceof TensorslimError && /\(1000000, 1000000\).*at most 2\^32/.test((e as Error).message));
  }
});
