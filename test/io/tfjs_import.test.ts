// TF.js layers-model import (issue #16), checked against TensorFlow.js itself: each model is built
// and run by TF.js (npm @tensorflow/tfjs-layers on the pure-JS CPU backend, a dev dependency), saved
// as TF.js saves it (model.json + a weights shard, or in memory), imported, and run by us on the same
// NHWC input: outputs agree to float32 rounding. Covers Dense/Conv2D ('same' with the odd pixel
// after, strides, dilation)/pooling/BatchNormalization/ZeroPadding2D/Reshape/global pooling/
// activations, DepthwiseConv2D/SeparableConv2D (grouped Conv2d), a functional chain, a branched
// functional model (merges) as a TfjsGraph, the converter's uint8/uint16/float16 weight quantization, the
// round trip to ONNX Runtime, training of the imported model, and the refusals (unsupported layer,
// graph model, a shard outside the folder, sizes that do not match, a missing weight).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tl from '@tensorflow/tfjs-layers';

import { importTfjs, importTfjsArtifacts, TfjsGraph, type TfjsWeightSpec } from '../../src/io/tfjs/index.js';
import { Conv2d } from '../../src/nn/index.js';
import { serializeOnnx } from '../../src/io/onnx/index.js';
import { noGrad, tensor, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { SGD } from '../../src/optim/index.js';
import { loadOrt, maxRelError, runOrt } from './onnx_helpers.js';
import { NSFWJS_DIR, requireOrSkip } from '../helpers/requirements.js';
import { FIXTURES } from './helpers.js';

interface Artifacts { modelTopology: unknown; weightSpecs: TfjsWeightSpec[]; weightData: Uint8Array }

/** What TF.js's model.save hands a save handler. */
async function save(m: tl.LayersModel): Promise<Artifacts> {
  let got: Artifacts | null = null;
  await m.save(tf.io.withSaveHandler(async (a) => {
    const wd = a.weightData as ArrayBuffer;
    got = { modelTopology: a.modelTopology, weightSpecs: a.weightSpecs as TfjsWeightSpec[], weightData: new Uint8Array(wd.slice(0)) };
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  return got!;
}

/** Deterministic inputs in [-1, 1). */
function input(shape: number[], seed: number): { ours: Tensor; theirs: tf.Tensor } {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Float32Array.from({ length: n }, (_, i) => (((i * 7919 + seed * 104729) % 2000) / 1000) - 1);
  return { ours: tensor(v, { shape }), theirs: tf.tensor(v, shape) };
}

function close(ours: Tensor, theirs: tf.Tensor, what: string, tol = 1e-5): void {
  assert.deepEqual([...ours.shape], theirs.shape, `${what}: shape`);
  const a = ours.contiguous().dataSync() as Float32Array, b = theirs.dataSync() as Float32Array;
  const err = maxRelError(a, b);
  assert.ok(err <= tol, `${what}: max relative error ${err} > ${tol}`);
}

/** Randomize every weight (BatchNorm variances positive) so nothing hides behind a default init. */
function randomize(m: tl.LayersModel, seed: number): void {
  for (const layer of m.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    layer.setWeights(ws.map((w, k) => {
      const r = tf.randomUniform(w.shape, -0.5, 0.5, 'float32', seed * 31 + k);
      return layer.getClassName() === 'BatchNormalization' && k === 3 ? tf.add(tf.abs(r), 0.5) : r;
    }));
  }
}

const { ort: ortOrNull, why: ortWhy } = await loadOrt();

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-tfjs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Writes artifacts as TF.js's file layout: model.json + one shard. */
function writeFolder(name: string, a: Artifacts, extra: Partial<{ format: string; paths: string[] }> = {}): string {
  const folder = join(dir, name);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'group1-shard1of1.bin'), a.weightData);
  const json = { format: extra.format ?? 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0', convertedBy: null, modelTopology: a.modelTopology, weightsManifest: [{ paths: extra.paths ?? ['group1-shard1of1.bin'], weights: a.weightSpecs }] };
  writeFileSync(join(folder, 'model.json'), JSON.stringify(json));
  return join(folder, 'model.json');
}

function cnn(): tl.Sequential {
  return tl.sequential({
    layers: [
      tl.layers.conv2d({ inputShape: [12, 12, 3], filters: 5, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same' }),   // 12 -> 6, total pad 1: the odd pixel after
      tl.layers.batchNormalization({}),
      tl.layers.activation({ activation: 'relu' }),
      tl.layers.conv2d({ filters: 4, kernelSize: 2, dilationRate: 2, padding: 'valid', activation: 'tanh' }),   // 6 -> 4
      tl.layers.maxPooling2d({ poolSize: 2 }),
      tl.layers.flatten(),
      tl.layers.dense({ units: 7, activation: 'sigmoid' }),
      tl.layers.dropout({ rate: 0.3 }),
      tl.layers.dense({ units: 3, activation: 'softmax' }),
    ],
  });
}

describe('TF.js layers-model import matches TensorFlow.js', () => {
  test('MLP (Dense, Dropout, ReLU layer, softmax), from a model.json folder', async () => {
    const m = tl.sequential({ layers: [tl.layers.dense({ inputShape: [8], units: 16, activation: 'relu' }), tl.layers.dropout({ rate: 0.5 }), tl.layers.dense({ units: 6 }), tl.layers.reLU(), tl.layers.dense({ units: 4, activation: 'softmax' })] });
    randomize(m, 1);
    const path = writeFolder('mlp', await save(m));
    const r = importTfjs(path);
    assert.deepEqual(r.inputShape, [8]);
    assert.deepEqual(r.layers, ['Dense', 'Dropout', 'Dense', 'ReLU', 'Dense']);
    assert.deepEqual(r.unusedWeights, []);
    assert.equal(r.model.numParameters(), m.countParams());
    r.model.eval();
    const x = input([5, 8], 2);
    close(noGrad(() => r.model.call(x.ours)), m.predict(x.theirs) as tf.Tensor, 'mlp');
  });

  test('CNN (Conv2D same with stride 2 and dilation, BatchNormalization, pooling, Flatten in NHWC order)', async () => {
    const m = cnn();
    randomize(m, 3);
    const r = importTfjs(writeFolder('cnn', await save(m)));
    assert.deepEqual(r.inputShape, [12, 12, 3]);
    r.model.eval();
    const x = input([2, 12, 12, 3], 4);
    close(noGrad(() => r.model.call(x.ours)), m.predict(x.theirs) as tf.Tensor, 'cnn');
    assert.equal(r.sources.size > 0 && [...r.sources.values()].some((s) => s.endsWith('/moving_variance')), true);
  });

  test('ZeroPadding2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Reshape, Softmax layer', async () => {
    const a = tl.sequential({ layers: [
      tl.layers.reshape({ inputShape: [48], targetShape: [4, 4, 3] }),
      tl.layers.zeroPadding2d({ padding: [[1, 0], [2, 1]] }),
      tl.layers.conv2d({ filters: 4, kernelSize: 2, activation: 'relu' }),
      tl.layers.averagePooling2d({ poolSize: 2, strides: 1 }),
      tl.layers.globalAveragePooling2d({}),
      tl.layers.dense({ units: 3 }),
      tl.layers.softmax(),
    ] });
    randomize(a, 5);
    const ra = importTfjsArtifacts((await save(a)).modelTopology, (await save(a)).weightSpecs, (await save(a)).weightData);
    ra.model.eval();
    const xa = input([3, 48], 6);
    close(noGrad(() => ra.model.call(xa.ours)), a.predict(xa.theirs) as tf.Tensor, 'padding/pooling/reshape');
    const b = tl.sequential({ layers: [tl.layers.conv2d({ inputShape: [7, 7, 2], filters: 3, kernelSize: 3 }), tl.layers.globalMaxPooling2d({})] });
    randomize(b, 7);
    const sb = await save(b);
    const rb = importTfjsArtifacts(sb.modelTopology, sb.weightSpecs, sb.weightData);
    const xb = input([2, 7, 7, 2], 8);
    close(noGrad(() => rb.model.call(xb.ours)), b.predict(xb.theirs) as tf.Tensor, 'global max pooling');
  });

  test('a functional model whose layers form a chain is a Sequential; a shared layer is refused', async () => {
    const inp = tl.input({ shape: [6] });
    const h = tl.layers.dense({ units: 5, activation: 'tanh' }).apply(inp) as tl.SymbolicTensor;
    const out = tl.layers.dense({ units: 2 }).apply(h) as tl.SymbolicTensor;
    const m = tl.model({ inputs: inp, outputs: out });
    randomize(m, 9);
    const s = await save(m);
    const r = importTfjsArtifacts(s.modelTopology, s.weightSpecs, s.weightData);
    const x = input([4, 6], 10);
    close(noGrad(() => r.model.call(x.ours)), m.predict(x.theirs) as tf.Tensor, 'functional chain');

    // a layer applied twice (shared weights) is refused naming it
    const i2 = tl.input({ shape: [6] });
    const shared = tl.layers.dense({ units: 6, name: 'shared' });
    const twice = shared.apply(shared.apply(i2)) as tl.SymbolicTensor;
    const s2 = await save(tl.model({ inputs: i2, outputs: twice }));
    assert.throws(() => importTfjsArtifacts(s2.modelTopology, s2.weightSpecs, s2.weightData), /layer 'shared' is applied 2 times \(a shared layer\); only layers used once import/);
  });

  test('DepthwiseConv2D (channel multiplier 2, stride 2, same with the odd pixel after) and SeparableConv2D become grouped Conv2d layers', async () => {
    const m = tl.sequential({ layers: [
      tl.layers.depthwiseConv2d({ inputShape: [9, 8, 3], kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu' }),
      tl.layers.separableConv2d({ filters: 5, kernelSize: [3, 2], padding: 'same', activation: 'tanh' }),
      tl.layers.separableConv2d({ filters: 4, kernelSize: 2, depthMultiplier: 3, dilationRate: 2, useBias: false }),
      tl.layers.depthwiseConv2d({ kernelSize: 1, useBias: false }),
      tl.layers.flatten(),
      tl.layers.dense({ units: 3 }),
    ] });
    randomize(m, 21);
    const r = importTfjs(writeFolder('depthwise', await save(m)));
    assert.deepEqual(r.unusedWeights, []);
    assert.equal(r.model.numParameters(), m.countParams());
    const convs = r.model.modules().filter((c): c is Conv2d => c instanceof Conv2d);
    assert.deepEqual(convs.map((c) => [c.groups, ...c.weight.shape]), [
      [3, 6, 1, 3, 3], [6, 6, 1, 3, 2], [1, 5, 6, 1, 1], [5, 15, 1, 2, 2], [1, 4, 15, 1, 1], [4, 4, 1, 1, 1],
    ]);
    r.model.eval();
    const x = input([2, 9, 8, 3], 22);
    close(noGrad(() => r.model.call(x.ours)), m.predict(x.theirs) as tf.Tensor, 'depthwise/separable');
  });

  test('a branched functional model (ReLU max_value, residual Add, Concatenate, Multiply, Average, Maximum, Minimum) is a TfjsGraph that matches TF.js, trains and exports', async () => {
    const inp = tl.input({ shape: [6, 6, 4] });
    const stem = tl.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'stem' }).apply(inp) as tl.SymbolicTensor;
    const dw = tl.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }).apply(stem) as tl.SymbolicTensor;
    const relu6 = tl.layers.reLU({ maxValue: 0.2, name: 'relu6' }).apply(dw) as tl.SymbolicTensor;   // a low cap, so it clips
    const res = tl.layers.add({ name: 'res' }).apply([stem, relu6]) as tl.SymbolicTensor;
    const a = tl.layers.conv2d({ filters: 3, kernelSize: 1, name: 'a' }).apply(res) as tl.SymbolicTensor;
    const b = tl.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'sigmoid', name: 'b' }).apply(res) as tl.SymbolicTensor;
    const gate = tl.layers.multiply({ name: 'gate' }).apply([a, b]) as tl.SymbolicTensor;
    const avg = tl.layers.average({ name: 'avg' }).apply([a, b, gate]) as tl.SymbolicTensor;
    const diff = tl.layers.maximum({ name: 'mx' }).apply([tl.layers.minimum({ name: 'mn' }).apply([a, gate]) as tl.SymbolicTensor, avg]) as tl.SymbolicTensor;
    const cat = tl.layers.concatenate({ name: 'cat' }).apply([res, gate, diff]) as tl.SymbolicTensor;
    const pooled = tl.layers.globalAveragePooling2d({ name: 'pool' }).apply(cat) as tl.SymbolicTensor;
    const out = tl.layers.dense({ units: 2, name: 'head' }).apply(pooled) as tl.SymbolicTensor;
    const m = tl.model({ inputs: inp, outputs: out });
    randomize(m, 23);
    const r = importTfjs(writeFolder('branched', await save(m)));
    assert.ok(r.model instanceof TfjsGraph);
    assert.deepEqual(r.unusedWeights, []);
    assert.equal(r.model.numParameters(), m.countParams());
    assert.ok([...r.sources.keys()].includes('dw.0.weight') && r.sources.get('dw.0.weight') === 'dw/depthwise_kernel');
    r.model.eval();
    const x = input([2, 6, 6, 4], 24);
    close(noGrad(() => r.model.call(x.ours)), m.predict(x.theirs) as tf.Tensor, 'branched');
    if (ortOrNull !== null) {
      const { bytes, result } = serializeOnnx(r.model, x.ours);
      const y = await runOrt(ortOrNull, bytes, result.inputs[0]!.name, x.ours, result.outputs[0]!.name);
      assert.ok(maxRelError(y.data, (m.predict(x.theirs) as tf.Tensor).dataSync() as Float32Array) <= 1e-5, 'ONNX Runtime vs TF.js');
    }
    r.model.train();
    const loss = ops.sum(ops.mul(r.model.call(x.ours), r.model.call(x.ours)));
    loss.backward();
    for (const [name, p] of r.model.namedParameters()) assert.ok(p.grad !== null, `${name} got no gradient`);
  });

  test('converter-quantized weights (uint8, uint16 affine; float16) decode as TF.js decodes them', async () => {
    const m = tl.sequential({ layers: [tl.layers.dense({ inputShape: [10], units: 12, activation: 'relu' }), tl.layers.dense({ units: 3 })] });
    randomize(m, 11);
    const s = await save(m);
    const floats = new Float32Array(s.weightData.buffer.slice(s.weightData.byteOffset, s.weightData.byteOffset + s.weightData.byteLength));
    for (const kind of ['uint8', 'uint16', 'float16'] as const) {
      // quantize each weight as tensorflowjs_converter does: affine over [min, max] for the integers, IEEE half otherwise
      const specs: TfjsWeightSpec[] = [];
      const parts: Uint8Array[] = [];
      let off = 0;
      for (const w of s.weightSpecs) {
        const n = w.shape.reduce((a, b) => a * b, 1);
        const v = floats.subarray(off, off + n); off += n;
        if (kind === 'float16') {
          const h = new Uint16Array(n);
          for (let i = 0; i < n; i++) h[i] = toHalf(v[i]!);
          parts.push(new Uint8Array(h.buffer));
          specs.push({ ...w, quantization: { dtype: 'float16' } });
        } else {
          const levels = kind === 'uint8' ? 255 : 65535;
          let lo = Infinity, hi = -Infinity;
          for (const x of v) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
          const scale = (hi - lo) / levels || 1;
          const q = kind === 'uint8' ? new Uint8Array(n) : new Uint16Array(n);
          for (let i = 0; i < n; i++) q[i] = Math.round((v[i]! - lo) / scale);
          parts.push(new Uint8Array(q.buffer));
          specs.push({ ...w, quantization: { dtype: kind, scale, min: lo } });
        }
      }
      const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
      let at = 0;
      for (const p of parts) { data.set(p, at); at += p.length; }
      const theirs = await tl.loadLayersModel(tf.io.fromMemory({ modelTopology: s.modelTopology as object, weightSpecs: specs as tf.io.WeightsManifestEntry[], weightData: data.buffer }));
      const r = importTfjs(writeFolder(`quant-${kind}`, { modelTopology: s.modelTopology, weightSpecs: specs, weightData: data }));
      assert.deepEqual(r.storage, { [kind]: 4 });
      const x = input([3, 10], 12);
      close(noGrad(() => r.model.call(x.ours)), theirs.predict(x.theirs) as tf.Tensor, `${kind} weights`);
    }
  });
});

/** float32 -> IEEE half, round to nearest even (what the converter writes). */
function toHalf(f: number): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, f);
  const x = b.getUint32(0);
  const sign = (x >>> 16) & 0x8000, e = ((x >>> 23) & 0xff) - 127 + 15, m = x & 0x7fffff;
  if (e <= 0) return sign;   // the test's weights are never this small
  const half = sign | (e << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  return rest > 0x1000 || (rest === 0x1000 && (half & 1)) ? half + 1 : half;
}

describe('an imported TF.js model is a tensorslim model', () => {
  test('exports to ONNX and runs in ONNX Runtime with TF.js\'s outputs', { skip: ortWhy ?? false }, async () => {
    const m = cnn();
    randomize(m, 13);
    const r = importTfjs(writeFolder('cnn-onnx', await save(m)));
    r.model.eval();
    const x = input([2, 12, 12, 3], 14);
    const { bytes, result } = serializeOnnx(r.model, x.ours);
    const y = await runOrt(ortOrNull!, bytes, result.inputs[0]!.name, x.ours, result.outputs[0]!.name);
    const want = (m.predict(x.theirs) as tf.Tensor).dataSync() as Float32Array;
    assert.ok(maxRelError(y.data, want) <= 1e-5, `ONNX Runtime vs TF.js: ${maxRelError(y.data, want)}`);
  });

  test('trains: gradients reach every parameter and a step lowers the loss', async () => {
    const m = tl.sequential({ layers: [tl.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: 'relu' }), tl.layers.flatten(), tl.layers.dense({ units: 2 })] });
    randomize(m, 15);
    const s = await save(m);
    const { model } = importTfjsArtifacts(s.modelTopology, s.weightSpecs, s.weightData);
    const x = input([4, 6, 6, 1], 16).ours;
    const target = ops.zeros([4, 2]);
    const lossOf = (): Tensor => ops.mean(ops.mul(ops.sub(model.call(x), target), ops.sub(model.call(x), target)));
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    const before = lossOf();
    before.backward();
    for (const [name, p] of model.namedParameters()) assert.ok(p.grad !== null, `${name} got no gradient`);
    opt.step();
    assert.ok(noGrad(lossOf).item() < before.item(), 'one SGD step did not lower the loss');
  });
});

describe('a real shipped TF.js layers model: npm nsfwjs\'s MobileNetV2', () => {
  // Keras 2.2.4 functional model (2.6M parameters, uint8-quantized weights): DepthwiseConv2D,
  // ReLU(max_value 6), residual Adds, ZeroPadding2D, BatchNormalization. TF.js's own outputs on two
  // deterministic images come from tools/fixtures/tfjs_nsfwjs_fixture.ts (TF.js takes ~30 s per image here).
  const skip = process.env['TENSORSLIM_BACKEND'] === 'reference'
    ? 'a 300 MFLOP MobileNetV2: too slow on the reference backend; grouped/depthwise conv is covered there by test/ops and test/parity'
    : requireOrSkip('nsfwjs');
  test('imports as a TfjsGraph and predicts what TF.js predicts', { skip }, () => {
    const dirOf = join(NSFWJS_DIR, 'dist', 'models', 'mobilenet_v2');
    const req = createRequire(import.meta.url);
    // shipped as browserify bundles: the model.json object, and the weight shard's bytes in base64
    const mj = req(join(dirOf, 'model.min.js')) as { modelTopology: unknown; weightsManifest: { weights: TfjsWeightSpec[] }[] };
    const bytes = new Uint8Array(Buffer.from(String(req(join(dirOf, 'group1-shard1of1.min.js'))), 'base64'));
    const r = importTfjsArtifacts(mj.modelTopology, mj.weightsManifest.flatMap((g) => g.weights), bytes);
    assert.ok(r.model instanceof TfjsGraph);
    assert.deepEqual(r.inputShape, [224, 224, 3]);
    assert.deepEqual(r.storage, { uint8: 266 });
    assert.deepEqual(r.unusedWeights, []);
    assert.equal(r.layers.filter((l) => l === 'DepthwiseConv2D').length, 17);
    assert.equal(r.layers.filter((l) => l === 'Add').length, 10);
    const fx = JSON.parse(readFileSync(join(FIXTURES, 'tfjs_nsfwjs.json'), 'utf8')) as { shape: number[]; output: number[] };
    // the fixture's first image (ONNX export of this model is checked by hand, see docs/INTEROP.md: 3.6 s to serialize here)
    const n = 224 * 224 * 3;
    const x = tensor(Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 2000) / 2000), { shape: [1, 224, 224, 3] });
    r.model.eval();
    const y = noGrad(() => r.model.call(x));
    assert.deepEqual([...y.shape], [1, fx.shape[1]]);
    const err = maxRelError(y.dataSync() as Float32Array, Float32Array.from(fx.output.slice(0, fx.shape[1]!)));
    assert.ok(err <= 1e-4, `ours vs TF.js: max relative error ${err}`);
  });
});

describe('refusals', () => {
  test('an unsupported layer is named with its class; a graph model is refused with what to do', async () => {
    const m = tl.sequential({ layers: [tl.layers.dense({ inputShape: [4], units: 3 }), tl.layers.leakyReLU({})] });
    const s = await save(m);
    assert.throws(() => importTfjsArtifacts(s.modelTopology, s.weightSpecs, s.weightData), /layer 'leaky_re_lu\w*' is a LeakyReLU, which is not supported; supported layers: InputLayer, Dense/);
    assert.throws(() => importTfjs(writeFolder('graph', s, { format: 'graph-model' })), /only TF.js layers models import/);
  });

  test('a shard path outside the folder, a size mismatch and a missing weight are refused before use', async () => {
    const m = tl.sequential({ layers: [tl.layers.dense({ inputShape: [4], units: 3 })] });
    const s = await save(m);
    writeFileSync(join(dir, 'outside.bin'), s.weightData);
    assert.throws(() => importTfjs(writeFolder('escape', s, { paths: ['../outside.bin'] })), /resolves outside the model's folder/);
    assert.throws(() => importTfjs(writeFolder('absolute', s, { paths: [join(dir, 'outside.bin')] })), /not a path relative to the model.json's folder/);
    const big = { ...s, weightSpecs: s.weightSpecs.map((w, i) => (i === 0 ? { ...w, shape: [4000, 3000] } : w)) };
    assert.throws(() => importTfjs(writeFolder('sizes', { ...big, weightData: s.weightData })), /declares [\d,]+ bytes of weights but the shards hold 60/);
    const renamed = { ...s, weightSpecs: s.weightSpecs.map((w) => ({ ...w, name: w.name.replace('kernel', 'kern') })) };
    assert.throws(() => importTfjsArtifacts(renamed.modelTopology, renamed.weightSpecs, renamed.weightData), /its weight '.*\/kernel' is not in the weights manifest/);
    assert.throws(() => importTfjs(join(dir, 'no-such', 'model.json')), /cannot read/);
  });
});

describe('TF.js model.json in the CLI (eval, summary, export, train, quantize)', { skip: process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'CLI plumbing, no kernel under test: runs in the native pass only' : false }, () => {
  test('a 28x28x1 CNN: summary, eval on mnist (images reshaped to NHWC), export to ONNX that agrees with TF.js', async () => {
    const { cli } = await import('../cli/helpers.js');
    const m = tl.sequential({
      layers: [
        tl.layers.conv2d({ inputShape: [28, 28, 1], filters: 3, kernelSize: 3, strides: 2, activation: 'relu' }),
        tl.layers.globalAveragePooling2d({}),
        tl.layers.dense({ units: 10, activation: 'softmax' }),
      ],
    });
    randomize(m, 9);
    const f = writeFolder('cli-cnn', await save(m));
    const s = await cli('summary', f, '--json');
    assert.equal(s.code, 0, s.ctx.stderr.join('\n'));
    assert.equal(s.json['preset'], 'tfjs');
    assert.equal(s.json['params'], 3 * 9 + 3 + 3 * 10 + 10);
    const e = await cli('eval', '--model', f, '--dataset', 'mnist', '--json');
    assert.equal(e.code, 0, e.ctx.stderr.join('\n'));
    assert.equal(e.json['samples'], 2000);
    assert.match(String(e.json['preset']), /^tfjs layers model \(3 layers: Conv2D, GlobalAveragePooling2D, Dense\)/);
    const out = join(dir, 'cli-cnn.onnx');
    const x = await cli('export', '--model', f, '--out', out, '--json');
    assert.equal(x.code, 0, x.ctx.stderr.join('\n'));
    assert.deepEqual((x.json['inputs'] as { shape: unknown[] }[])[0]!.shape, ['batch', 28, 28, 1]);
    if (ortOrNull !== null) {
      const { ours, theirs } = input([2, 28, 28, 1], 4);
      const got = await runOrt(ortOrNull, new Uint8Array(readFileSync(out)), 'input', ours, 'output');
      const want = m.predict(theirs) as tf.Tensor;
      assert.ok(maxRelError(got.data, want.dataSync() as Float32Array) <= 1e-5);
    }
    // fine-tuned (a checkpoint carrying the model converted to ONNX) and quantized into a QDQ .onnx; eval reads both
    const ck = join(dir, 'cli-cnn.ft.safetensors');
    const t = await cli('train', '--model', f, '--dataset', 'mnist', '--steps', '3', '--out', ck, '--json');
    assert.equal(t.code, 0, t.ctx.stderr.join('\n'));
    const et = await cli('eval', '--model', ck, '--dataset', 'mnist', '--json');
    assert.equal(et.json['testLoss'], t.json['testLoss']);
    const q = join(dir, 'cli-cnn.int8.onnx');
    const qs = await cli('quantize', '--model', f, '--dataset', 'mnist', '--mode', 'static', '--calibration-batches', '1', '--out', q, '--json');
    assert.equal(qs.code, 0, qs.ctx.stderr.join('\n'));
    assert.deepEqual((qs.json['quantizedLayers'] as { type: string }[]).map((l) => l.type), ['QuantizedConv2d', 'QuantizedLinear']);
    const eq = await cli('eval', '--model', q, '--dataset', 'mnist', '--json');
    assert.equal(eq.json['testAccuracy'], qs.json['testAccuracy']);
    const bad = await cli('eval', '--model', writeFolder('cli-wide', await save(tl.sequential({ layers: [tl.layers.dense({ inputShape: [30], units: 10 })] }))), '--dataset', 'mnist');
    assert.notEqual(bad.code, 0);
    assert.match(bad.ctx.stderr.join('\n'), /input 'input' takes \(30\) = 30 values per sample, but dataset mnist has samples of shape \(1, 28, 28\) = 784/);
  });
});
