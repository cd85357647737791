// `tensorslim train --augment`: validation (exit 2 naming the flag and the accepted forms), help
// text, the plan line, and a 30-step run on the embedded MNIST digits that learns well above chance
// and trains on other inputs than the same run without augmentation.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { captureContext, main } from '../../src/cli/index.js';

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const ctx = captureContext({});
  const code = await main(argv, ctx);
  return { code, stdout: ctx.stdout.join('\n'), stderr: ctx.stderr.join('\n') };
}

test('--augment: help, bad values refused with exit 2, GPT presets refuse it', async () => {
  const h = await cli('train', '--help');
  assert.match(h.stdout, /--augment SPEC\s+training-data augmentation: none, shift/);
  for (const bad of ['rotate', 'shift:9', 'shift:-1', 'shift:x']) {
    const r = await cli('train', '--model', 'mlp', '--dataset', 'mnist', '--augment', bad, '--steps', '1');
    assert.equal(r.code, 2, `--augment ${bad}: exit ${r.code}`);
    assert.match(r.stderr, new RegExp(`bad --augment '${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'; use none, shift \\(up to 2 pixels\\) or shift:N`));
  }
  const g = await cli('train', '--model', 'gpt-tiny', '--dataset', 'sotu', '--augment', 'shift', '--steps', '1');
  assert.equal(g.code, 2);
  assert.match(g.stderr, /GPT presets train on text, drop --augment/);
});

test('--augment shift:2 trains well above chance, says so in the plan line, and changes the training inputs', async () => {
  // 30 steps of mlp-tiny on the embedded digits: about 0.77 test accuracy without augmentation and
  // 0.71 with shift:2 (chance is 0.1; the 2,000 test digits give a standard error of about 0.01)
  const r = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--augment', 'shift:2', '--steps', '30', '--json');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /augment shift:2, seed 0/);
  const j = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(j['steps'], 30);
  assert.equal(j['augment'], 'shift:2');
  assert.ok(typeof j['testAccuracy'] === 'number' && j['testAccuracy'] > 0.6, `test accuracy ${String(j['testAccuracy'])}`);
  // the same run without augmentation (same seed: same weights and batch order) sees other inputs
  const plain = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '30', '--json');
  assert.equal(plain.code, 0, plain.stderr);
  const p = JSON.parse(plain.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(p['augment'], 'none');
  assert.ok(p['testAccuracy'] as number > 0.6, `test accuracy without augmentation ${String(p['testAccuracy'])}`);
  assert.notEqual(j['trainLoss'], p['trainLoss'], 'shift:2 trained on the same inputs as no augmentation');
});
