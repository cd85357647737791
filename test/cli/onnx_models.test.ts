// `.onnx` files wherever a command takes a checkpoint (src/cli/runtime.ts loadModelFile): a trained
// mlp-tiny checkpoint exported to ONNX evaluates to the same accuracy and summarizes to the same
// parameters as the checkpoint; prune, train (from its weights) and distill (as the teacher) run on
// it; a LeNet-5 .onnx summarizes as lenet5; a graph that is not a preset layout (hello_deepa.onnx,
// a branching graph) is refused naming what it holds. CLI plumbing: native pass only.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import * as ops from '../../src/ops/index.js';
import { createModel } from '../../src/models/index.js';
import { exportOnnx } from '../../src/io/onnx/index.js';
import { cli, trainTinyCheckpoint } from './helpers.js';
import { tempDir } from '../io/helpers.js';
import { HELLO_DEEPA, requireOrSkip } from '../helpers/requirements.js';

const skip = process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'CLI plumbing, no kernel under test: runs in the native pass only' : false;

test('eval, summary, prune, train and distill take an .onnx classifier like its checkpoint', { skip }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ck = join(dir, 'tiny.safetensors');
    await trainTinyCheckpoint(ck);
    const onnx = join(dir, 'tiny.onnx');
    assert.equal((await cli('export', '--model', ck, '--out', onnx)).code, 0);
    const a = await cli('eval', '--model', ck, '--dataset', 'mnist', '--json');
    const b = await cli('eval', '--model', onnx, '--dataset', 'mnist', '--json');
    assert.equal(b.code, 0, b.ctx.stderr.join('\n'));
    assert.equal(b.json['testAccuracy'], a.json['testAccuracy']);
    assert.equal(b.json['params'], a.json['params']);
    const s = await cli('summary', onnx, '--json');
    assert.equal(s.code, 0, s.ctx.stderr.join('\n'));
    assert.equal(s.json['params'], (await cli('summary', ck, '--json')).json['params']);
    const p = await cli('prune', '--model', onnx, '--dataset', 'mnist', '--finetune-steps', '2', '--amount', '0.5', '--json');
    assert.equal(p.code, 0, p.ctx.stderr.join('\n'));
    assert.ok(Math.abs((p.json['weightSparsity'] as number) - 0.5) < 0.01, `weight sparsity ${p.json['weightSparsity']}`);
    assert.equal(p.json['denseTestAccuracy'], a.json['testAccuracy']);
    const t = await cli('train', '--model', onnx, '--dataset', 'mnist', '--steps', '2', '--json');
    assert.equal(t.code, 0, t.ctx.stderr.join('\n'));
    const d = await cli('distill', '--teacher', onnx, '--student', 'mlp-tiny', '--dataset', 'mnist', '--steps', '2', '--json');
    assert.equal(d.code, 0, d.ctx.stderr.join('\n'));
  } finally { cleanup(); }
});

test('a LeNet-5 .onnx summarizes as lenet5; a non-preset graph is refused naming what it holds', { skip }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const f = join(dir, 'lenet5.onnx');
    exportOnnx(createModel('lenet5'), ops.zeros([1, 1, 28, 28]), f);
    const s = await cli('summary', f, '--json');
    assert.equal(s.code, 0, s.ctx.stderr.join('\n'));
    assert.equal((s.json['config'] as { arch: string }).arch, 'lenet5');
    assert.equal(s.json['params'], createModel('lenet5').numParameters());
    if (requireOrSkip('openwakeword') === false) {
      const r = await cli('eval', '--model', HELLO_DEEPA, '--dataset', 'mnist');
      assert.notEqual(r.code, 0);
      assert.match(r.ctx.stderr.join('\n'), /is a general ONNX graph \(\d+ nodes, ops .*\); tensorslim eval takes image classifiers of the mlp or lenet5 layout/);
    }
  } finally { cleanup(); }
});
