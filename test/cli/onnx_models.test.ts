// `.onnx` files wherever a command takes a checkpoint (src/cli/runtime.ts loadModelFile): a trained
// mlp-tiny checkpoint exported to ONNX evaluates to the same accuracy and summarizes to the same
// parameters as the checkpoint; prune, train (from its weights) and distill (as the teacher) run on
// it; a LeNet-5 .onnx summarizes as lenet5; a graph that is not a preset layout (an MLP with a
// decomposed LayerNorm, an OnnxGraph) is summarized, evaluated, pruned into an .onnx and exported
// again (ONNX Runtime agrees with our pruned model); hello_deepa.onnx (input (1, 25, 96)) is refused
// by eval and train naming what the dataset lacks; that graph is fine-tuned by train (checkpoints
// carrying the graph, exact resume), quantized into a QDQ .onnx that eval and ONNX Runtime read back,
// and distilled from. CLI plumbing: native pass only.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import * as ops from '../../src/ops/index.js';
import { createModel } from '../../src/models/index.js';
import { exportOnnx, importOnnx, OnnxGraph } from '../../src/io/onnx/index.js';
import { LayerNorm, Linear, ReLU, Sequential, Flatten } from '../../src/nn/index.js';
import { manualSeed, noGrad } from '../../src/index.js';
import { loadOrt, maxRelError, runOrt } from '../io/onnx_helpers.js';
import { readFileSync } from 'node:fs';
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

test('a LeNet-5 .onnx summarizes as lenet5; hello_deepa.onnx summarizes, and eval names what mnist lacks for its input', { skip }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const f = join(dir, 'lenet5.onnx');
    exportOnnx(createModel('lenet5'), ops.zeros([1, 1, 28, 28]), f);
    const s = await cli('summary', f, '--json');
    assert.equal(s.code, 0, s.ctx.stderr.join('\n'));
    assert.equal((s.json['config'] as { arch: string }).arch, 'lenet5');
    assert.equal(s.json['params'], createModel('lenet5').numParameters());
    if (requireOrSkip('openwakeword') === false) {
      // any graph loads; the dataset does not fit its input, and the error says what the graph takes
      const r = await cli('eval', '--model', HELLO_DEEPA, '--dataset', 'mnist');
      assert.notEqual(r.code, 0);
      assert.match(r.ctx.stderr.join('\n'), /input '.*' takes \(25, 96\) = 2400 values per sample, but dataset mnist has samples of shape \(.*\) = 784/);
      const t = await cli('train', '--model', HELLO_DEEPA, '--dataset', 'mnist', '--steps', '1');
      assert.match(t.ctx.stderr.join('\n'), /input '.*' takes \(25, 96\) = 2400 values per sample, but dataset mnist has samples/);
      const s2 = await cli('summary', HELLO_DEEPA, '--json');
      assert.equal(s2.code, 0, s2.ctx.stderr.join('\n'));
      assert.equal(s2.json['params'], 78_049);
      assert.deepEqual((s2.json['imported'] as { inputShape: unknown[] }).inputShape.slice(1), [25, 96]);
    }
  } finally { cleanup(); }
});

test('any ONNX graph: summary, eval (dataset reshaped to its input), prune --out x.onnx, export --model x.onnx', { skip }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    manualSeed(5);
    // LayerNorm at opset 13 is written out (ReduceMean, Sub, ...): not a preset chain, an OnnxGraph; input (N, 28, 28)
    const f = join(dir, 'ln.onnx');
    exportOnnx(new Sequential(new Flatten(), new Linear(784, 32), new LayerNorm(32), new ReLU(), new Linear(32, 10)), ops.zeros([1, 28, 28]), f, { opset: 13 });
    assert.ok(importOnnx(f).model instanceof OnnxGraph);
    const s = await cli('summary', f, '--json');
    assert.equal(s.code, 0, s.ctx.stderr.join('\n'));
    assert.equal(s.json['preset'], 'onnx');
    assert.equal(s.json['params'], 784 * 32 + 32 + 64 + 32 * 10 + 10);
    const e = await cli('eval', '--model', f, '--dataset', 'mnist', '--json');
    assert.equal(e.code, 0, e.ctx.stderr.join('\n'));
    assert.equal(e.json['samples'], 2000);
    assert.match(String(e.json['preset']), /^onnx graph \(opset 13, /);
    const pruned = join(dir, 'ln.pruned.onnx');
    const p = await cli('prune', '--model', f, '--dataset', 'mnist', '--amount', '0.5', '--finetune-steps', '2', '--out', pruned, '--json');
    assert.equal(p.code, 0, p.ctx.stderr.join('\n'));
    assert.equal(p.json['format'], 'onnx (dense zeros)');
    assert.ok(Math.abs((p.json['weightSparsity'] as number) - 0.5) < 0.01, `weight sparsity ${p.json['weightSparsity']}`);
    const ev = await cli('eval', '--model', pruned, '--dataset', 'mnist', '--json');
    assert.equal(ev.json['testAccuracy'], p.json['testAccuracy']);
    const bad = await cli('prune', '--model', f, '--dataset', 'mnist', '--out', join(dir, 'x.safetensors'));
    assert.equal(bad.code, 2);
    assert.match(bad.ctx.stderr.join('\n'), /is an imported onnx model \(not a preset\), so the pruned model is written as ONNX: give --out <file>.onnx/);
    const again = join(dir, 'again.onnx');
    const x = await cli('export', '--model', pruned, '--out', again, '--json');
    assert.equal(x.code, 0, x.ctx.stderr.join('\n'));
    assert.equal(x.json['opset'], 13);   // its own opset when --opset is not given
    assert.equal((x.json['inputs'] as { shape: unknown[] }[])[0]!.shape.length, 3);
    const back = importOnnx(again).model;
    back.eval();
    assert.ok(back.namedParameters().some(([, t]) => t.dataSync().filter((v) => v === 0).length > t.size / 3), 'the pruned zeros were exported');
    const { ort } = await loadOrt();
    if (ort !== null) {
      const input = ops.rand([3, 28, 28]);
      const got = await runOrt(ort, new Uint8Array(readFileSync(again)), (x.json['inputs'] as { name: string }[])[0]!.name, input, (x.json['outputs'] as { name: string }[])[0]!.name);
      assert.ok(maxRelError(got.data, noGrad(() => back.call(input)).dataSync()) <= 1e-4);
    }
  } finally { cleanup(); }
});

test('any ONNX graph: train (checkpoint carries the graph, exact resume), quantize to QDQ .onnx (eval and ONNX Runtime read it), distill from it', { skip }, async () => {
  const { dir, cleanup } = tempDir();
  try {
    manualSeed(7);
    const f = join(dir, 'ln.onnx');
    exportOnnx(new Sequential(new Flatten(), new Linear(784, 16), new LayerNorm(16), new ReLU(), new Linear(16, 10)), ops.zeros([1, 28, 28]), f, { opset: 13 });
    const ck = join(dir, 'ft.safetensors');
    const t1 = await cli('train', '--model', f, '--dataset', 'mnist', '--steps', '6', '--out', ck, '--json');
    assert.equal(t1.code, 0, t1.ctx.stderr.join('\n'));
    assert.equal(t1.json['format'], 'checkpoint (carries the graph)');
    const t2 = await cli('train', '--resume', ck, '--dataset', 'mnist', '--steps', '12', '--out', ck, '--json');
    assert.equal(t2.code, 0, t2.ctx.stderr.join('\n'));
    const straight = await cli('train', '--model', f, '--dataset', 'mnist', '--steps', '12', '--json');
    assert.equal(t2.json['testLoss'], straight.json['testLoss'], 'resumed run = uninterrupted run');
    const e = await cli('eval', '--model', ck, '--dataset', 'mnist', '--json');
    assert.equal(e.code, 0, e.ctx.stderr.join('\n'));
    assert.equal(e.json['testLoss'], t2.json['testLoss']);
    const ptrain = await cli('train', '--model', f, '--dataset', 'mnist', '--steps', '1', '--out', join(dir, 'x.pt'));
    assert.equal(ptrain.code, 2);
    assert.match(ptrain.ctx.stderr.join('\n'), /trains into a checkpoint that carries it \(\.safetensors\) or into an \.onnx file/);
    // quantize: static (calibrated) into a QDQ .onnx; eval computes what quantize reported
    const q = join(dir, 'q.onnx');
    const qs = await cli('quantize', '--model', ck, '--dataset', 'mnist', '--mode', 'static', '--calibration-batches', '2', '--out', q, '--json');
    assert.equal(qs.code, 0, qs.ctx.stderr.join('\n'));
    assert.equal(qs.json['format'], 'onnx (QDQ, opset 13)');
    assert.equal((qs.json['quantizedLayers'] as unknown[]).length, 2);
    assert.ok((qs.json['bytesOnDisk'] as number) < (qs.json['floatBytesOnDisk'] as number) / 3, `QDQ ${qs.json['bytesOnDisk']} vs float ${qs.json['floatBytesOnDisk']} bytes`);
    const eq = await cli('eval', '--model', q, '--dataset', 'mnist', '--json');
    assert.equal(eq.code, 0, eq.ctx.stderr.join('\n'));
    assert.equal(eq.json['testAccuracy'], qs.json['testAccuracy']);
    assert.ok(Math.abs((eq.json['testLoss'] as number) - (qs.json['testLoss'] as number)) < 1e-3, `eval loss ${eq.json['testLoss']} vs quantize ${qs.json['testLoss']}`);
    const { ort } = await loadOrt();
    if (ort !== null) {
      const back = importOnnx(q).model;
      back.eval();
      const input = ops.rand([4, 28, 28]);
      const got = await runOrt(ort, new Uint8Array(readFileSync(q)), 'input', input, 'output');
      const ours = noGrad(() => back.call(input)).dataSync();
      // ONNX Runtime runs the QDQ pattern as integer kernels (its own rounding): a few output quantization steps (1/255 of the range each), same classes
      assert.ok(maxRelError(got.data, ours) <= 0.03, `ONNX Runtime vs our QDQ evaluation: ${maxRelError(got.data, ours)}`);
      const argmax = (d: ArrayLike<number>, r: number): number => { let b = 0; for (let k = 1; k < 10; k++) if (d[r * 10 + k]! > d[r * 10 + b]!) b = k; return b; };
      for (let r = 0; r < 4; r++) assert.equal(argmax(got.data, r), argmax(ours, r), `class of sample ${r}`);
    }
    const again = await cli('quantize', '--model', q, '--dataset', 'mnist');
    assert.match(again.ctx.stderr.join('\n'), /already quantized \(QDQ nodes .*QuantizeLinear/);
    const qd = await cli('quantize', '--model', f, '--dataset', 'mnist', '--mode', 'dynamic', '--out', join(dir, 'qd.onnx'), '--json');
    assert.equal(qd.code, 0, qd.ctx.stderr.join('\n'));
    const bad = await cli('quantize', '--model', f, '--dataset', 'mnist', '--mode', 'dynamic', '--out', join(dir, 'q.safetensors'));
    assert.equal(bad.code, 2);
    assert.match(bad.ctx.stderr.join('\n'), /written as a QDQ ONNX graph: give --out <file>\.onnx/);
    const wo = await cli('quantize', '--model', f, '--mode', 'weight-only', '--bits', '4');
    assert.equal(wo.code, 2);
    assert.match(wo.ctx.stderr.join('\n'), /--mode weight-only takes a GPT checkpoint .*--mode dynamic, static or qat/);
    const d = await cli('distill', '--teacher', ck, '--student', 'mlp-tiny', '--dataset', 'mnist', '--steps', '2', '--json');
    assert.equal(d.code, 0, d.ctx.stderr.join('\n'));
    assert.match(String(d.json['teacherModel']), /^onnx graph \(opset 13/);
    // the graph as the student (checkpoints carry it; a run resumed from one equals the uninterrupted run)
    const dck = join(dir, 'student.safetensors');
    const d1 = await cli('distill', '--teacher', ck, '--student', f, '--dataset', 'mnist', '--steps', '2', '--out', dck, '--json');
    assert.equal(d1.code, 0, d1.ctx.stderr.join('\n'));
    const d2 = await cli('distill', '--teacher', ck, '--student', f, '--dataset', 'mnist', '--steps', '4', '--resume', dck, '--out', dck, '--json');
    const d4 = await cli('distill', '--teacher', ck, '--student', f, '--dataset', 'mnist', '--steps', '4', '--json');
    assert.equal(d2.json['distilledLoss'], d4.json['distilledLoss']);
    assert.equal((await cli('eval', '--model', dck, '--dataset', 'mnist', '--json')).json['testLoss'], d2.json['distilledLoss']);
  } finally { cleanup(); }
});
