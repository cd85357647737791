// `tensorslim bench infer` and benchInfer: the forward pass of a preset or checkpoint at a batch, in
// eval mode without a graph. Checks the result's fields against the model (parameter count, input
// shape), that the model's mode is restored, that no graph is recorded, and the CLI's errors. No
// timing is asserted beyond being positive and ordered (p10 <= median <= p90).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { benchInfer, inferInput } from '../../src/bench/index.js';
import { createAnyModel, createModel } from '../../src/models/index.js';
import { cli, trainTinyCheckpoint } from '../cli/helpers.js';

test('benchInfer: an image preset at batch 1 and 3, eval mode restored', () => {
  const m = createModel('mlp-tiny');
  m.train();
  for (const batch of [1, 3]) {
    const r = benchInfer(m, { batch, iters: 5, warmup: 1 });
    assert.equal(r.bench, 'infer');
    assert.equal(r.model, 'mlp-tiny');
    assert.deepEqual(r.inputShape, [batch, 784]);
    assert.equal(r.params, m.numParameters());
    assert.equal(r.iters, 5);
    assert.ok(r.p10Ms > 0 && r.p10Ms <= r.medianMs && r.medianMs <= r.p90Ms, JSON.stringify(r));
    assert.ok(Math.abs(r.samplesPerSecond - batch / (r.medianMs / 1000)) < 1e-6 * r.samplesPerSecond);
    assert.equal(r.path, 'plan', 'a Sequential preset is timed through its inference plan');
    assert.ok(r.callMedianMs > 0);
    assert.ok(Number.isFinite(r.cpuMsPerCall) && r.cpuMsPerCall >= 0, `cpuMsPerCall ${r.cpuMsPerCall}`);
  }
  assert.equal(m.training, true, 'training mode restored');
  assert.deepEqual(inferInput(createModel('lenet5'), 2).shape, [2, 1, 28, 28]);
});

test('benchInfer: a GPT takes int32 tokens of the chosen context; a context past the model\'s is refused', () => {
  const g = createAnyModel('gpt-tiny');
  const x = inferInput(g, 2, { context: 16 });
  assert.equal(x.dtype, 'int32');
  assert.deepEqual(x.shape, [2, 16]);
  const r = benchInfer(g, { batch: 1, context: 8, iters: 2, warmup: 1 });
  assert.deepEqual(r.inputShape, [1, 8]);
  assert.equal(r.path, 'call');
  assert.equal(r.callMedianMs, r.medianMs);
  assert.throws(() => inferInput(g, 1, { context: 100000 }), /context must be an integer in \[1, \d+\]/);
});

test('bench infer CLI: preset and checkpoint, --json fields; bad --model and --context refused with exit 2', async () => {
  const r = await cli('bench', 'infer', '--model', 'mlp-tiny', '--steps', '3', '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['bench'], 'infer');
  assert.equal(r.json['batch'], 1);
  assert.equal((r.json['machine'] as Record<string, unknown>)['backend'] !== undefined, true);
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-bench-infer-'));
  try {
    const path = join(dir, 'tiny.safetensors');
    await trainTinyCheckpoint(path);
    const c = await cli('bench', 'infer', '--model', path, '--batch', '4', '--steps', '3');
    assert.equal(c.code, 0, c.ctx.stderr.join('\n'));
    assert.match(c.ctx.stdout.join('\n'), /mlp-tiny \(50,890 params\), input \[4, 784\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const bad = await cli('bench', 'infer', '--model', 'no-such-model');
  assert.equal(bad.code, 2);
  assert.match(bad.ctx.stderr.join('\n'), /neither a file nor a preset/);
  const ctxOnImage = await cli('bench', 'infer', '--model', 'mlp-tiny', '--context', '8');
  assert.equal(ctxOnImage.code, 2);
  assert.match(ctxOnImage.ctx.stderr.join('\n'), /--context applies to GPT models only/);
});
