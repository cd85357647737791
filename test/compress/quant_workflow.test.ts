// The three workflows: dynamic (against torch's quantize_dynamic fixture), static PTQ and QAT
// (against the float model they came from), fusion, and bad input leaving the model unchanged.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Linear, ReLU, Sequential, Identity, Conv2d, Module, Tensor, manualSeed, noGrad, randn, tensor, sub, abs, max, mean, createModel, randint, type GPT,
} from '../../src/index.js';
import {
  DynamicQuantizedLinear, ObservedLinear, QatLinear, QuantizedLinear, convertQat, convertStatic, prepareQat, prepareStatic,
  quantizeDynamic, dequantize, quantizePerTensor,
} from '../../src/compress/quant/index.js';
import { activationKernels } from '../../src/compress/quant/kernels.js';
import { quantizeDynamicValues } from '../../src/backend/quantized.js';
import { fx, mismatches, trainMse, type Json } from './quant_helpers.js';

function linearFrom(c: Json): Sequential {
  const lin = new Linear(c.in, c.out);
  noGrad(() => {
    lin.weight.assign(tensor(new Float32Array(c.weight), { shape: [c.out, c.in] }));
    lin.bias!.assign(tensor(new Float32Array(c.bias)));
  });
  return new Sequential(lin);
}

const maxAbs = (a: Tensor, b: Tensor): number => max(abs(sub(a, b))).item();

function mlp(): Sequential {
  manualSeed(7);
  return new Sequential(new Linear(12, 16), new ReLU(), new Linear(16, 8), new ReLU(), new Linear(8, 4));
}

describe('quantizeDynamic', () => {
  for (const c of fx.dynamic as Json[]) {
    test(`matches torch quantize_dynamic (${c.engine}, Linear(${c.in}, ${c.out}))`, () => {
      const model = linearFrom(c);
      const x = tensor(new Float32Array(c.x), { shape: [c.batch, c.in] });
      quantizeDynamic(model);
      const q = model.getSubmodule('0') as DynamicQuantizedLinear;
      assert.ok(q instanceof DynamicQuantizedLinear);
      // the int8 weights and their per-channel scales are torch's exactly
      assert.deepEqual(Array.from(q.weight.data), c.weightInt);
      assert.deepEqual(Array.from(q.weight.scales), c.weightScales);
      assert.deepEqual(Array.from(q.weight.zeroPoints), c.weightZeroPoints);
      // the output: engines quantize activations slightly differently (onednn and qnnpack differ
      // from each other too), so allow a few activation quantization steps of error:
      // |dy| <= sum_k |w[n, k]| * xScale, bounded by K * max|w| * (range(x) / 255) * 2
      const y = model.call(x).dataSync();
      let range = 0, wmax = 0;
      for (const v of c.x) range = Math.max(range, Math.abs(v));
      for (const v of c.weight) wmax = Math.max(wmax, Math.abs(v));
      const tol = c.in * wmax * (2 * range / 255);
      const bad = mismatches(y, c.yDynamic, tol);
      assert.equal(bad.length, 0, `tolerance ${tol}: ${bad.slice(0, 3).map((i) => `${y[i]} vs ${c.yDynamic[i]}`)}`);
      // and it is closer to torch's int8 result than to nothing: error well below the float output's scale
      let err = 0, mag = 0;
      for (let i = 0; i < y.length; i++) { err = Math.max(err, Math.abs(y[i]! - c.yDynamic[i])); mag = Math.max(mag, Math.abs(c.yFloat[i])); }
      assert.ok(err < 0.02 * mag, `max error ${err} vs output magnitude ${mag}`);
    });
  }
  test('the model itself may be a Linear; batch dimensions are kept', () => {
    manualSeed(1);
    const lin = new Linear(6, 3);
    const x = randn([2, 5, 6]);
    const ref = lin.call(x);
    const q = quantizeDynamic(lin);
    assert.ok(q instanceof DynamicQuantizedLinear);
    const y = q.call(x);
    assert.deepEqual(y.shape, [2, 5, 3]);
    assert.ok(maxAbs(y, ref) < 0.05, `error ${maxAbs(y, ref)}`);
  });
  test("the GPT's linears (gpt-tiny): logits stay close to float", () => {
    manualSeed(3);
    const g = createModel('gpt-tiny') as GPT;
    const idx = randint(0, 64, [1, 16]);
    const ref = noGrad(() => g.call(idx));
    quantizeDynamic(g);
    assert.equal(g.namedModules().filter(([, m]) => m instanceof DynamicQuantizedLinear).length, 17);
    const y = noGrad(() => g.call(idx));
    assert.ok(maxAbs(y, ref) < 0.05 * max(abs(ref)).item(), `logit error ${maxAbs(y, ref)}`);
  });
  test("per-batch activation qparams and codes: torch's (_choose_qparams_per_tensor, quantize_per_tensor)", () => {
    // the active backend's quantizeDynamic (native: one call, into a reused buffer) and its TypeScript
    // twin; torch reports the scale in double, the layers use it as float32 (as torch's quantizer does)
    const kernels = [['backend', activationKernels().quantizeDynamic], ['twin', quantizeDynamicValues]] as const;
    for (const c of fx.dynamicQparams as Json[]) {
      const x = new Float32Array(c.x);
      for (const [name, qd] of kernels) {
        const out = new Uint8Array(x.length).fill(7);
        const got = qd!(x, c.reduceRange ? 127 : 255, out);
        const what = `${name}, ${c.what}, reduceRange ${c.reduceRange}`;
        assert.deepEqual(got, { scale: Math.fround(c.scale), zeroPoint: c.zeroPoint, nonFinite: -1 }, what);
        assert.deepEqual(mismatches(out, c.codes), [], what);
      }
    }
  });
  test('a NaN or infinite input is refused naming the layer and the index; the buffer is reused across batches', () => {
    const q = DynamicQuantizedLinear.fromFloat(new Linear(5, 3));
    const x = randn([4, 5]);
    const y = q.call(x).dataSync().slice();
    for (const bad of [NaN, Infinity, -Infinity]) {
      const d = x.dataSync().slice(); d[13] = bad;
      assert.throws(() => q.call(tensor(d, { shape: [4, 5] })), new RegExp(`DynamicQuantizedLinear\\(5, 3\\): input holds ${bad} at flat index 13; int8 layers need finite inputs`));
    }
    assert.deepEqual(q.call(randn([1, 5])).shape, [1, 3]);  // a smaller batch in between
    assert.deepEqual(Array.from(q.call(x).dataSync()), Array.from(y));
  });
  test('unsupported layer: error names it, model unchanged', () => {
    const model = new Sequential(new Conv2d(1, 2, 3), new Linear(4, 2));
    assert.throws(() => quantizeDynamic(model, { layers: ['1', '0'] }), /quantizeDynamic: unsupported layer '0' \(Conv2d\): quantizeDynamic handles Linear layers/);
    assert.ok(model.getSubmodule('1') instanceof Linear);
    assert.throws(() => quantizeDynamic(new Sequential(new ReLU())), /has no layer this workflow handles/);
  });
});

describe('static post-training quantization', () => {
  test('prepare fuses Linear+ReLU, calibration, convert: int8 model close to float', () => {
    const model = mlp();
    const keysBefore = [...model.stateDict().keys()];
    const calib = randn([64, 12]);
    const ref = model.call(calib);
    prepareStatic(model, { observer: 'minmax' });
    assert.ok(model.getSubmodule('0') instanceof ObservedLinear);
    assert.ok(model.getSubmodule('1') instanceof Identity);
    assert.ok(model.getSubmodule('4') instanceof ObservedLinear);
    // parameters keep their names
    for (const k of keysBefore) assert.ok(model.stateDict().has(k), k);
    noGrad(() => model.call(calib));
    convertStatic(model);
    const q0 = model.getSubmodule('0') as QuantizedLinear;
    assert.ok(q0 instanceof QuantizedLinear && q0.relu);
    assert.equal((model.getSubmodule('4') as QuantizedLinear).relu, false);
    const y = model.call(calib);
    const err = maxAbs(y, ref), mag = max(abs(ref)).item();
    assert.ok(err < 0.05 * mag, `int8 error ${err} vs magnitude ${mag}`);
    // fused ReLU: the first layer's int8 output never goes below its zero point
    const h = q0.forwardQuantized(quantizePerTensor(calib, q0.input.scale, q0.input.zeroPoint, 'quint8'));
    assert.ok(Math.min(...dequantize(h).dataSync()) >= 0);
  });
  for (const observer of ['histogram', 'entropy'] as const) {
    test(`calibration with the ${observer} observer`, () => {
      const model = mlp();
      const x = randn([32, 12]);
      const ref = model.call(x);
      prepareStatic(model, { observer });
      noGrad(() => model.call(x));
      convertStatic(model);
      // clipping observers trade the extremes for resolution: judge the mean error, not the max
      const err = mean(abs(sub(model.call(x), ref))).item(), mag = mean(abs(ref)).item();
      assert.ok(err < 0.1 * mag, `${observer}: mean error ${err} vs mean magnitude ${mag}`);
    });
  }
  test('uncalibrated: "calibrate first", naming the layer, model unchanged', () => {
    const model = mlp();
    prepareStatic(model);
    assert.throws(() => convertStatic(model), /convertStatic: layer '0' \(Linear\(12, 16\)\) has not been calibrated; calibrate first/);
    assert.ok(model.getSubmodule('0') instanceof ObservedLinear);
    assert.throws(() => convertStatic(mlp()), /no prepared layers; call prepareStatic\(model\), calibrate first/);
  });
  test('a NaN during calibration names the layer and records nothing', () => {
    const model = mlp();
    prepareStatic(model, { observer: 'minmax' });
    const x = randn([3, 12]).dataSync().slice(); x[13] = Number.POSITIVE_INFINITY;
    assert.throws(() => noGrad(() => model.call(tensor(Array.from(x), { shape: [3, 12] }))), /layer '0' \(ObservedLinear\): input: MinMaxObserver.forward: input holds Infinity at flat index 13/);
    assert.throws(() => convertStatic(model), /layer '0' \(Linear\(12, 16\)\) has not been calibrated/);
    assert.ok(model.getSubmodule('0') instanceof ObservedLinear);
  });
  test('values beyond the calibrated input range saturate (as in torch), they are no error', () => {
    const model = new Sequential(new Linear(12, 4));
    prepareStatic(model, { observer: 'minmax' });
    noGrad(() => model.call(randn([16, 12])));
    convertStatic(model);
    const q = model.getSubmodule('0') as QuantizedLinear;
    const lo = (0 - q.input.zeroPoint) * q.input.scale, hi = (255 - q.input.zeroPoint) * q.input.scale;
    const big = Array.from(randn([2, 12]).dataSync(), (v) => v * 100);
    const clamped = big.map((v) => Math.min(hi, Math.max(lo, v)));
    assert.ok(big.some((v, i) => v !== clamped[i]), 'some inputs lie outside the range');
    assert.deepEqual(model.call(tensor(big, { shape: [2, 12] })).dataSync(), model.call(tensor(clamped, { shape: [2, 12] })).dataSync());
  });
  test('a constant-zero layer output still gets a valid scale', () => {
    const model = new Sequential(new Linear(3, 2));
    noGrad(() => { (model.getSubmodule('0') as Linear).weight.zero_(); (model.getSubmodule('0') as Linear).bias!.zero_(); });
    prepareStatic(model, { observer: 'minmax' });
    noGrad(() => model.call(randn([4, 3])));
    convertStatic(model);
    assert.deepEqual(Array.from(model.call(randn([2, 3])).dataSync()), [0, 0, 0, 0]);
  });
});

describe('quantization-aware training', () => {
  for (const learnableScale of [false, true]) {
    test(`train with fake quantization, then convert (learnableScale ${learnableScale})`, () => {
      const model = mlp();
      const params = model.parameters();
      prepareQat(model, { learnableScale });
      assert.ok(model.getSubmodule('0') instanceof QatLinear);
      // same Parameter objects: an optimizer built before the swap still trains the model
      assert.ok(model.parameters().filter((p) => params.includes(p)).length === params.length);
      manualSeed(11);
      const x = randn([32, 12]);
      const target = randn([32, 4]);
      const { first, last } = trainMse(model, x, target, 30);
      assert.ok(last < first, `QAT loss ${first} -> ${last}`);
      model.eval();
      const fake = noGrad(() => model.call(x));
      convertQat(model);
      assert.ok(model.getSubmodule('0') instanceof QuantizedLinear);
      const y = model.call(x);
      const err = maxAbs(y, fake), mag = max(abs(fake)).item();
      assert.ok(err < 0.05 * mag + 1e-3, `int8 vs fake-quant error ${err} (magnitude ${mag})`);
    });
  }
  test('convertQat before any forward refuses, naming the layer', () => {
    const model = mlp();
    prepareQat(model);
    assert.throws(() => convertQat(model), /convertQat: layer '0' \(Linear\(12, 16\)\) has never run/);
    assert.ok(model.getSubmodule('0') instanceof QatLinear);
    // a NaN in training input: the fake quantizer's observer refuses it, naming the layer
    const bad = Array.from(randn([2, 12]).dataSync()); bad[5] = Number.NaN;
    assert.throws(() => model.call(tensor(bad, { shape: [2, 12] })), /layer '0' \(QatLinear\): input: MovingAverageMinMaxObserver.forward: input holds NaN at flat index 5/);
  });
  test('a pruned Linear must be made permanent first', () => {
    class M extends Module { fc = new Linear(2, 2); forward(x: Tensor): Tensor { return this.fc.call(x); } }
    const m = new M();
    const w = m.fc.deleteParameter('weight')!;
    m.fc.registerParameter('weight_orig', w);
    (m.fc as unknown as { weight: Tensor }).weight = tensor([[1, 0], [0, 1]]);
    assert.throws(() => prepareQat(m), /layer 'fc' has a computed weight \(pruned/);
  });
});
