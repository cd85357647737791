// `tensorslim export`: a trained checkpoint written as ONNX (file decoded back, and run in ONNX Runtime
// against our outputs when it loads), a GPT preset, --json, usage errors with exit code 2, and
// quantized (int8) checkpoints as QDQ graphs run in ONNX Runtime against our int8 model.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import onnxProto from 'onnx-proto';
import * as ops from '../../src/ops/index.js';
import { manualSeed, noGrad } from '../../src/index.js';
import { createModel, type PresetModel } from '../../src/models/index.js';
import { quant } from '../../src/compress/index.js';
import { loadCheckpoint } from '../../src/io/index.js';
import { modelFromAnyCheckpoint } from '../../src/cli/runtime.js';
import { cli, trainTinyCheckpoint } from './helpers.js';
import { tempDir } from '../io/helpers.js';
import { loadOrt, maxRelError, runOrt } from '../io/onnx_helpers.js';

test('export a trained checkpoint to ONNX (--json), and it runs in ONNX Runtime with our outputs', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const ck = join(dir, 'tiny.safetensors');
    await trainTinyCheckpoint(ck);
    const out = join(dir, 'tiny.onnx');
    const r = await cli('export', '--model', ck, '--format', 'onnx', '--out', out, '--opset', '13', '--json');
    assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
    assert.equal(r.json['opset'], 13);
    assert.deepEqual(r.json['ops'], { Flatten: 1, Gemm: 2, Relu: 1 });
    const bytes = new Uint8Array(readFileSync(out));
    assert.equal(r.json['bytes'], bytes.length);
    assert.equal(onnxProto.onnx.ModelProto.decode(bytes).opsetImport[0]!.version.toString(), '13');
    const { ort } = await loadOrt();
    if (ort !== null) {
      const model = modelFromAnyCheckpoint(loadCheckpoint(ck));
      model.eval();
      const x = ops.rand([4, 784]);
      const got = await runOrt(ort, bytes, 'input', x, 'output');
      assert.ok(maxRelError(got.data, noGrad(() => model.call(x)).dataSync()) <= 1e-4);
    }
  } finally { cleanup(); }
});

test('export a GPT preset prints a readable line', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const r = await cli('export', '--model', 'gpt-tiny', '--out', join(dir, 'g.onnx'));
    assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
    assert.match(r.ctx.stdout.join('\n'), /ONNX opset 17, .*input input_ids int32 \(batch, sequence\) -> output logits float32 \(batch, sequence, 256\)/);
  } finally { cleanup(); }
});

test('export usage errors exit 2', async () => {
  for (const [argv, re] of [
    [['export', '--out', 'x.onnx'], /missing --model/],
    [['export', '--model', 'mlp'], /missing --out/],
    [['export', '--model', 'nope', '--out', 'x.onnx'], /'nope' is neither a file nor a preset/],
    [['export', '--model', 'mlp', '--out', 'x.onnx', '--format', 'tflite'], /onnx/],
    [['export', '--model', 'mlp', '--out', 'x.onnx', '--opset', '7'], /opset/],
  ] as const) {
    const r = await cli(...argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.ctx.stderr.join('\n')}`);
    assert.match(r.ctx.stderr.join('\n'), re);
  }
});

function argmaxRows(d: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < d.length / cols; r++) { let b = 0; for (let c = 1; c < cols; c++) if (d[r * cols + c]! > d[r * cols + b]!) b = c; out.push(b); }
  return out;
}

test('export quantized checkpoints (dynamic and static int8) as QDQ graphs that ONNX Runtime runs with our classes', async () => {
  const { dir, cleanup } = tempDir();
  try {
    manualSeed(31);
    const dyn = join(dir, 'dyn.safetensors'), sta = join(dir, 'static.safetensors');
    quant.saveQuantizedCheckpoint(dyn, quant.quantizeDynamic(createModel('mlp-tiny')) as PresetModel, { mode: 'dynamic' });
    const f = createModel('mlp-tiny');
    f.eval();
    const p = quant.prepareStatic(f);
    for (let i = 0; i < 3; i++) noGrad(() => p.call(ops.rand([16, 784])));
    quant.saveQuantizedCheckpoint(sta, quant.convertStatic(p) as PresetModel, { mode: 'static' });
    const x = ops.rand([24, 784]);
    const { ort } = await loadOrt();
    for (const ck of [dyn, sta]) {
      const out = ck.replace('.safetensors', '.onnx');
      const r = await cli('export', '--model', ck, '--out', out, '--json');
      assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
      const opsUsed = r.json['ops'] as Record<string, number>;
      assert.equal(opsUsed['Gemm'], 2, JSON.stringify(opsUsed));
      assert.ok(opsUsed['DequantizeLinear']! >= 4, JSON.stringify(opsUsed));
      assert.ok(ck === dyn ? opsUsed['DynamicQuantizeLinear'] === 2 : opsUsed['QuantizeLinear']! >= 4, JSON.stringify(opsUsed));
      if (ort === null) continue;
      const { model } = quant.loadQuantizedCheckpoint(ck);
      const ours = noGrad(() => model.call(x)).dataSync();
      const got = await runOrt(ort, new Uint8Array(readFileSync(out)), 'input', x, 'output');
      assert.deepEqual(argmaxRows(got.data, 10), argmaxRows(ours, 10), ck);
      let worst = 0, spread = 0;
      for (let i = 0; i < ours.length; i++) { worst = Math.max(worst, Math.abs(ours[i]! - got.data[i]!)); spread = Math.max(spread, Math.abs(ours[i]!)); }
      // ONNX Runtime rounds and accumulates its own way: a few output steps (static) or 2% of the range (dynamic)
      const bound = ck === dyn ? 0.02 * spread : 2 * (model.modules().filter((l) => l instanceof quant.QuantizedLinear).pop() as quant.QuantizedLinear).output.scale;
      assert.ok(worst <= bound, `${ck}: max abs difference ${worst} > ${bound}`);
    }
    const low = await cli('export', '--model', sta, '--out', join(dir, 'x.onnx'), '--opset', '12');
    assert.equal(low.code, 2);
    assert.match(low.ctx.stderr.join('\n'), /quantized \(int8\) checkpoint: .*opset >= 13; pass --opset 13/);
  } finally { cleanup(); }
});
