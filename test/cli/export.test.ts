// `tensorslim export`: a trained checkpoint written as ONNX (file decoded back, and run in ONNX Runtime
// against our outputs when it loads), a GPT preset, --json, and usage errors with exit code 2.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import onnxProto from 'onnx-proto';
import * as ops from '../../src/ops/index.js';
import { noGrad } from '../../src/index.js';
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
