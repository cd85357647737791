// Static int8 Conv2d: the integer im2col + GEMM agrees with float64 convolution of the dequantized
// operands to within one output level, padding reads the zero point, Conv2d+ReLU fuses, a small
// LeNet-style model stays close to float (static and QAT), and the checkpoint round trip is bit-exact.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, Identity, manualSeed, noGrad, randn, sub, abs, mean, tensor, parseSafetensors,
} from '../../src/index.js';
import {
  ObservedConv2d, QatConv2d, QuantizedConv2d, QuantizedLinear, convertQat, prepareQat, convertStatic, dequantize, loadQuantized, prepareStatic, quantizePerChannel,
  quantizePerTensor, serializeQuantized, QuantizedMaxPool2d, QuantizedTensor, int8MaxPool2d, linkInt8Layers,
  DynamicQuantizedConv2d, DynamicQuantizedLinear, quantizeDynamic, QUANTIZED_METADATA_KEY,
} from '../../src/compress/quant/index.js';
import { maxPool2d, conv2dGeometry } from '../../src/ops/index.js';
import { Tensor } from '../../src/core/tensor.js';
import { trainMse } from './quant_helpers.js';

function lenetish(): Sequential {
  manualSeed(9);
  return new Sequential(new Conv2d(2, 4, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Conv2d(4, 3, [2, 3], { stride: [1, 2], dilation: [2, 1] }),
    new Flatten(), new Linear(3 * 2 * 1, 5));
}

describe('static int8 Conv2d', () => {
  test('int8 conv = float64 conv of the dequantized operands, within one output level', () => {
    manualSeed(4);
    const x = randn([2, 3, 7, 6]);
    const wf = randn([5, 3, 3, 2]);
    const qx = quantizePerTensor(x, 0.03, 120, 'quint8');
    const qw = quantizePerChannel(wf, [0.02, 0.03, 0.01, 0.05, 0.02], [0, 0, 0, 0, 0], 0, 'qint8');
    const conv = { inChannels: 3, outChannels: 5, kernelSize: [3, 2] as [number, number], stride: [2, 1] as [number, number], padding: [1, 1] as [number, number], dilation: [1, 2] as [number, number] };
    const bias = Float32Array.of(0.1, -0.2, 0, 0.3, 0.05);
    const out = { dtype: 'quint8' as const, scale: 0.1, zeroPoint: 100 };
    const m = new QuantizedConv2d(conv, qw, bias, { dtype: 'quint8', scale: 0.03, zeroPoint: 120 }, out, false);
    const y = m.forwardQuantized(qx);
    // float64 reference on dequantized values, zero padding (= the zero point in int8)
    const xd = dequantize(qx).dataSync(), wd = dequantize(qw).dataSync();
    const [N, C, H, W] = [2, 3, 7, 6], OH = Math.floor((H + 2 - 2 - 1) / 2) + 1, OW = Math.floor((W + 2 - 2 - 1) / 1) + 1;
    assert.deepEqual(y.shape, [N, 5, OH, OW]);
    for (let n = 0; n < N; n++) for (let o = 0; o < 5; o++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      let acc = bias[o]!;
      for (let c = 0; c < C; c++) for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) {
        const h = oh * 2 - 1 + i, w = ow - 1 + j * 2;
        if (h >= 0 && h < H && w >= 0 && w < W) acc += xd[((n * C + c) * H + h) * W + w]! * wd[((o * C + c) * 3 + i) * 2 + j]!;
      }
      const want = Math.min(255, Math.max(0, Math.round(acc / 0.1) + 100));
      const got = y.data[((n * 5 + o) * OH + oh) * OW + ow]!;
      assert.ok(Math.abs(got - want) <= 1, `(${n}, ${o}, ${oh}, ${ow}): ${got} vs ${want}`);
    }
  });
  test('prepare / calibrate / convert a small conv net; checkpoint round trip', () => {
    const model = lenetish();
    const x = randn([6, 2, 8, 8]);
    const ref = model.call(x);
    prepareStatic(model, { observer: 'minmax' });
    assert.ok(model.getSubmodule('0') instanceof ObservedConv2d && model.getSubmodule('1') instanceof Identity);
    noGrad(() => model.call(x));
    convertStatic(model);
    const q0 = model.getSubmodule('0') as QuantizedConv2d;
    assert.ok(q0 instanceof QuantizedConv2d && q0.relu);
    assert.ok(model.getSubmodule('3') instanceof QuantizedConv2d && model.getSubmodule('5') instanceof QuantizedLinear);
    const y = model.call(x);
    const err = mean(abs(sub(y, ref))).item(), mag = mean(abs(ref)).item();
    assert.ok(err < 0.05 * mag, `mean error ${err} vs ${mag}`);
    const back = loadQuantized(lenetish(), serializeQuantized(model)) as Sequential;
    assert.ok(back.getSubmodule('3') instanceof QuantizedConv2d);
    assert.deepEqual(back.call(x).dataSync(), y.dataSync());
  });
  test('dynamic int8 Conv2d (types Linear + Conv2d): close to float, checkpoint round trip bit-exact, NaN named', () => {
    const x = randn([6, 2, 8, 8]);
    const plain = quantizeDynamic(lenetish()) as Sequential;   // torch's default: Conv2d stays float
    assert.ok(plain.getSubmodule('0') instanceof Conv2d && plain.getSubmodule('5') instanceof DynamicQuantizedLinear);
    const model = lenetish();
    const ref = model.call(x);
    quantizeDynamic(model, { types: ['Linear', 'Conv2d'] });
    const q = model.getSubmodule('3') as DynamicQuantizedConv2d;
    assert.ok(model.getSubmodule('0') instanceof DynamicQuantizedConv2d && q instanceof DynamicQuantizedConv2d && model.getSubmodule('1') instanceof ReLU);
    const y = model.call(x);
    const err = mean(abs(sub(y, ref))).item(), mag = mean(abs(ref)).item();
    assert.ok(err < 0.05 * mag, `mean error ${err} vs ${mag}`);
    assert.deepEqual(q.call(randn([4, 4, 4])).shape, [3, 2, 1], 'a (C, H, W) input gives (O, OH, OW)');
    const bytes = serializeQuantized(model);
    assert.equal(JSON.parse(parseSafetensors(bytes).metadata[QUANTIZED_METADATA_KEY]!).layers['3'].kind, 'dynamicConv');
    const back = loadQuantized(lenetish(), bytes) as Sequential;
    assert.ok(back.getSubmodule('3') instanceof DynamicQuantizedConv2d);
    assert.deepEqual(back.call(x).dataSync(), y.dataSync());
    const bad = Array.from(x.dataSync()); bad[7] = Number.NaN;
    assert.throws(() => model.call(tensor(bad, { shape: [6, 2, 8, 8] })), /DynamicQuantizedConv2d\(2, 4, kernelSize=3x3\): input holds NaN at flat index 7/);
    assert.throws(() => quantizeDynamic(lenetish(), { layers: ['0'] }), /unsupported layer '0' \(Conv2d\): quantizeDynamic handles Linear layers \(Conv2d too with types/);
  });
  test('QAT of a conv net: trains, converts to int8 convs close to the fake-quantized model', () => {
    const model = lenetish();
    const params = model.parameters();
    prepareQat(model);
    assert.ok(model.getSubmodule('0') instanceof QatConv2d && model.getSubmodule('1') instanceof Identity);
    assert.equal(model.parameters().filter((p) => params.includes(p)).length, params.length);
    manualSeed(12);
    const x = randn([8, 2, 8, 8]), target = randn([8, 5]);
    const { first, last } = trainMse(model, x, target, 15);
    assert.ok(last < first, `QAT loss ${first} -> ${last}`);
    const fake = noGrad(() => model.call(x));
    convertQat(model);
    assert.ok(model.getSubmodule('0') instanceof QuantizedConv2d && model.getSubmodule('3') instanceof QuantizedConv2d);
    const err = mean(abs(sub(model.call(x), fake))).item(), mag = mean(abs(fake)).item();
    assert.ok(err < 0.05 * mag, `int8 vs fake-quant mean error ${err} (magnitude ${mag})`);
  });
  test('int8 end to end: linked layers pass codes through pooling and flatten, bit for bit the int8 composition', () => {
    const model = lenetish();
    const names = model.namedChildren().map(([n]) => n);
    const x = randn([3, 2, 8, 8]);
    prepareStatic(model, { observer: 'minmax' });
    noGrad(() => model.call(x));
    convertStatic(model);
    assert.deepEqual(model.namedChildren().map(([n]) => n), names);
    const c0 = model.getSubmodule('0') as QuantizedConv2d, c3 = model.getSubmodule('3') as QuantizedConv2d, l5 = model.getSubmodule('5') as QuantizedLinear;
    assert.ok(model.getSubmodule('2') instanceof QuantizedMaxPool2d);
    assert.deepEqual([c0.link.codesOut, c0.link.input, c3.link.codesOut, c3.link.input, l5.link.codesOut], [true, null, true, c0.output, false]);
    assert.equal(l5.link.input, c3.output);
    // the same run, composed by hand from the int8 pieces
    let q = c0.forwardQuantized(quantizePerTensor(x, c0.input.scale, c0.input.zeroPoint, 'quint8'));
    const g = conv2dGeometry('test', q.shape, [2, 2], [2, 2], [0, 0], [1, 1]);
    const pooled = int8MaxPool2d(q.data as Uint8Array, g);
    q = c3.forwardQuantized(new QuantizedTensor({ dtype: 'quint8', shape: [g.n, g.c, g.oh, g.ow], data: pooled, scales: q.scales, zeroPoints: q.zeroPoints, axis: null }));
    const flat = new QuantizedTensor({ dtype: 'quint8', shape: [3, q.size / 3], data: q.data, scales: q.scales, zeroPoints: q.zeroPoints, axis: null });
    const want = dequantize(l5.forwardQuantized(flat)).dataSync();
    assert.deepEqual(noGrad(() => model.call(x)).dataSync(), want);
    // a linked consumer still takes float input; an unlinked layer refuses codes
    assert.equal(c3.call(dequantize(c0.forwardQuantized(quantizePerTensor(x, c0.input.scale, c0.input.zeroPoint, 'quint8')))).dtype, 'uint8');
    linkInt8Layers(new Sequential(c3));
    assert.throws(() => c3.call(new Tensor(new Uint8Array(3 * 4 * 4 * 4), 'uint8', [3, 4, 4, 4])), /not linked to an int8 producer/);
  });
  test('int8 max pooling of codes = float max pooling of the dequantized values (padding, stride, dilation)', () => {
    manualSeed(5);
    for (const [k, s, p, d] of [[2, 2, 0, 1], [3, 2, 1, 1], [3, 1, 1, 2], [2, 1, 1, 1]] as const) {
      const qx = quantizePerTensor(randn([2, 3, 7, 5]), 0.05, 7, 'quint8');
      const g = conv2dGeometry('test', qx.shape, [k, k], [s, s], [p, p], [d, d]);
      const want = maxPool2d(dequantize(qx), [k, k], { stride: [s, s], padding: [p, p], dilation: [d, d] });
      const got = dequantize(new QuantizedTensor({ dtype: 'quint8', shape: want.shape, data: int8MaxPool2d(qx.data as Uint8Array, g), scales: qx.scales, zeroPoints: qx.zeroPoints, axis: null }));
      assert.deepEqual(got.dataSync(), want.dataSync(), `kernel ${k} stride ${s} padding ${p} dilation ${d}`);
    }
  });
  test('uncalibrated conv: calibrate first', () => {
    const model = lenetish();
    prepareStatic(model);
    assert.throws(() => convertStatic(model), /layer '0' \(Conv2d\(2, 4, kernelSize=3x3\)\) has not been calibrated; calibrate first/);
  });
  test('a grouped (depthwise) Conv2d is refused naming the layer and the fix; listing the other layers keeps it float', () => {
    manualSeed(10);
    const model = new Sequential(new Conv2d(2, 4, 3, { padding: 1 }), new ReLU(), new Conv2d(4, 4, 3, { groups: 4 }), new Flatten(), new Linear(4, 3));
    for (const prep of [prepareStatic, prepareQat]) {
      assert.throws(() => prep(model), /layer '2' is a grouped Conv2d \(groups=4, weight \[4, 1, 3, 3\]\); int8 convolution supports groups=1 only: list the other layers in 'layers' to keep this one float/);
      assert.ok(model.at(0) instanceof Conv2d && model.at(2) instanceof Conv2d, 'a refused prepare changes nothing');
    }
    prepareStatic(model, { layers: ['0', '4'] });
    assert.ok(model.at(0) instanceof ObservedConv2d && model.at(2) instanceof Conv2d);
  });
});
