// int8 export as QDQ graphs (src/compress/quant/onnx.ts): a dynamically quantized MLP (and LeNet-5 with
// dynamic int8 convolutions) and a
// statically quantized LeNet-5 (calibrated, Linear/Conv + ReLU fused) exported at opset 13, run in
// ONNX Runtime: the same classes as our int8 model on every sample, and outputs within a few
// quantization steps (ONNX Runtime rounds and accumulates its own way); below opset 13 refused.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { manualSeed, noGrad, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { createModel } from '../../src/models/index.js';
import { quant } from '../../src/compress/index.js';
import { serializeOnnx } from '../../src/io/onnx/index.js';
import { loadOrt, runOrt } from './onnx_helpers.js';

const { ort, why } = await loadOrt();

function argmaxRows(d: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < d.length / cols; r++) { let b = 0; for (let c = 1; c < cols; c++) if (d[r * cols + c]! > d[r * cols + b]!) b = c; out.push(b); }
  return out;
}

async function compare(model: { call(x: Tensor): Tensor }, x: Tensor, step: number): Promise<void> {
  const ours = noGrad(() => model.call(x));
  const bytes = serializeOnnx(model as never, x, { opset: 13 }).bytes;
  const ref = await runOrt(ort!, bytes, 'input', x, 'output');
  assert.deepEqual(ref.dims, ours.shape);
  const a = ours.dataSync(), b = ref.data;
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  assert.ok(worst <= step, `max abs difference ${worst} > ${step}`);
  assert.deepEqual(argmaxRows(b, ours.shape[1]!), argmaxRows(a, ours.shape[1]!));
}

describe('exportOnnx: int8 models as QDQ graphs, checked in ONNX Runtime', { skip: ort === null ? why! : false }, () => {
  it('dynamic int8 MLP (DynamicQuantizeLinear, per-channel int8 weights)', async () => {
    manualSeed(21);
    const q = quant.quantizeDynamic(createModel('mlp-tiny'));
    q.eval();
    const x = ops.rand([16, 784]);
    const ours = noGrad(() => q.call(x));
    const spread = Math.max(...Array.from(ours.dataSync(), Math.abs));
    await compare(q, x, 0.02 * spread);
    assert.throws(() => serializeOnnx(q, x, { opset: 12 }), /opset >= 13/);
  });

  it('dynamic int8 LeNet-5 with Conv2d too (DynamicQuantizeLinear before Conv and Gemm)', async () => {
    manualSeed(23);
    const q = quant.quantizeDynamic(createModel('lenet5'), { types: ['Linear', 'Conv2d'] });
    q.eval();
    assert.ok(q.modules().some((l) => l instanceof quant.DynamicQuantizedConv2d));
    const x = ops.rand([8, 1, 28, 28]);
    const spread = Math.max(...Array.from(noGrad(() => q.call(x)).dataSync(), Math.abs));
    await compare(q as never, x, 0.02 * spread);
  });

  it('static int8 LeNet-5 (calibrated; QuantizeLinear/DequantizeLinear around Conv and Gemm, fused ReLU)', async () => {
    manualSeed(22);
    const m = createModel('lenet5');
    m.eval();
    const p = quant.prepareStatic(m);
    for (let i = 0; i < 4; i++) noGrad(() => p.call(ops.rand([8, 1, 28, 28])));
    const q = quant.convertStatic(p);
    q.eval();
    const x = ops.rand([16, 1, 28, 28]);
    const outScale = (q.modules().filter((l) => l instanceof quant.QuantizedLinear).pop() as quant.QuantizedLinear).output.scale;
    await compare(q as never, x, 2 * outScale);
  });
});
