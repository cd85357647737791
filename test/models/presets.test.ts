// Model presets: the outside truths are PyTorch (test/fixtures/models.json, written by
// tools/fixtures/models_fixtures.py: state-dict keys, shapes, parameter counts of the equivalent
// torch.nn.Sequential, and torch's outputs for torch-initialized weights) and the parameter-count
// formula sum(in * out + out) over the Linear layers.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { manualSeed, rand, tensor, zeros, type Tensor } from '../../src/index.js';
import { createModel, listModels, modelFromConfig, presetConfig, summarizeModel, validateConfig, type ModelOverrides } from '../../src/models/index.js';

interface Stored { shape: number[]; data: number[] }
interface Fixture {
  presets: Record<string, { keys: string[]; shapes: number[][]; params: number }>;
  forward: { preset: string; overrides: ModelOverrides; state: Record<string, Stored>; x: Stored; y: Stored }[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/models.json', import.meta.url), 'utf8')) as Fixture;
const load = (s: Stored): Tensor => tensor(s.data).reshape(s.shape);

/** Parameters of an MLP in0-h1-...-out: sum of in * out + out over its Linear layers. */
function mlpParams(widths: number[]): number {
  let n = 0;
  for (let i = 1; i < widths.length; i++) n += widths[i - 1]! * widths[i]! + widths[i]!;
  return n;
}

test('parameter counts follow the formula', () => {
  assert.equal(createModel('mlp').numParameters(), mlpParams([784, 300, 100, 10]));
  assert.equal(mlpParams([784, 300, 100, 10]), 266_610);
  assert.equal(createModel('mlp-large').numParameters(), mlpParams([784, 1200, 1200, 10]));
  assert.equal(createModel('mlp-small').numParameters(), mlpParams([784, 800, 800, 10]));
  assert.equal(createModel('mlp-tiny').numParameters(), mlpParams([784, 64, 10]));
  // LeNet-5: conv1 6*1*5*5+6, conv2 16*6*5*5+16, fc 400-120-84-10 (16 channels of 5x5 after two pools)
  assert.equal(createModel('lenet5').numParameters(), (6 * 25 + 6) + (16 * 6 * 25 + 16) + mlpParams([400, 120, 84, 10]));
});

test('state-dict keys and shapes equal those of the equivalent torch.nn.Sequential', () => {
  assert.deepEqual(listModels({ task: 'image-classification' }).map((m) => m.name).sort(), Object.keys(fx.presets).sort());
  for (const [name, want] of Object.entries(fx.presets)) {
    const sd = createModel(name).stateDict();
    assert.deepEqual([...sd.keys()], want.keys, name);
    assert.deepEqual([...sd.values()].map((t) => [...t.shape]), want.shapes, name);
    assert.equal(createModel(name).numParameters(), want.params, name);
  }
});

test("outputs equal torch's for torch's weights (eval mode)", () => {
  for (const f of fx.forward) {
    const model = createModel(f.preset, f.overrides);
    model.loadStateDict(new Map(Object.entries(f.state).map(([k, v]) => [k, load(v)])));
    model.eval();
    const x = load(f.x);
    for (const input of [x, x.reshape([x.shape[0]!, 784])]) {
      const y = model.call(input).dataSync();
      assert.equal(y.length, f.y.data.length);
      for (let i = 0; i < y.length; i++) assert.ok(Math.abs(y[i]! - f.y.data[i]!) < 1e-5, `${f.preset} ${JSON.stringify(f.overrides)} [${i}]: ${y[i]} vs torch ${f.y.data[i]}`);
    }
  }
});

test('a config rebuilds the same architecture; the same seed gives the same weights', () => {
  for (const { name } of listModels()) {
    manualSeed(3);
    const a = createModel(name);
    const b = modelFromConfig(JSON.parse(JSON.stringify(a.config)));
    assert.equal(b.config.preset, name);
    assert.deepEqual([...b.stateDict().keys()], [...a.stateDict().keys()]);
    manualSeed(3);
    const c = createModel(name);
    for (const [k, t] of a.stateDict()) assert.deepEqual(c.stateDict().get(k)!.dataSync(), t.dataSync(), `${name} ${k}`);
  }
});

test('mlp-large has dropout (train mode differs from eval mode), the others do not', () => {
  manualSeed(0);
  const m = createModel('mlp-large');
  const x = rand([4, 784]);
  const y1 = m.call(x).dataSync();
  m.eval();
  const y2 = m.call(x).dataSync();
  assert.notDeepEqual(y1, y2);
  assert.equal(m.config.arch === 'mlp' && m.config.dropout, 0.5);
});

test('bad names, overrides and configs are refused with clear errors', () => {
  assert.throws(() => createModel('resnet50'), /unknown model preset 'resnet50'; presets: mlp, mlp-large/);
  assert.throws(() => createModel('mlp', { channels: [1, 2] }), /preset 'mlp' has no setting 'channels'/);
  assert.throws(() => presetConfig('mlp', { hidden: [300, 0] }), /hidden must be an array of positive integers/);
  assert.throws(() => presetConfig('mlp', { dropout: 1 }), /dropout must be in \[0, 1\)/);
  assert.throws(() => presetConfig('lenet5', { kernelSize: 4 }), /kernelSize must be an odd positive integer/);
  assert.throws(() => presetConfig('lenet5', { inputShape: [1, 8, 8] }), /too small/);
  assert.throws(() => validateConfig({ arch: 'transformer' }), /unknown arch "transformer"/);
  assert.throws(() => validateConfig(null), /expected a config object/);
  assert.throws(() => createModel('lenet5').call(zeros([2, 100])), /ImageView: expected input \(N, 784\) or \(N, 1, 28, 28\), got \(2, 100\)/);
});

test('summary: parameters, bytes, FLOPs and sparsity from the hand formula', () => {
  const m = createModel('mlp');
  const s = summarizeModel(m, [784]);
  assert.equal(s.params, 266_610);
  assert.equal(s.bytes, 266_610 * 4);
  // Linear: 2 * in * out + out (bias) per sample; ReLU: one per element.
  const flops = (2 * 784 * 300 + 300) + 300 + (2 * 300 * 100 + 100) + 100 + (2 * 100 * 10 + 10);
  assert.equal(s.flops, flops);
  assert.deepEqual(s.outputShape, [10]);
  assert.deepEqual(s.layers.map((l) => l.name), ['0', '1', '2', '3', '4', '5']);
  // zero a quarter of the first layer's weights
  const w = m.getParameter('1.weight');
  const d = w.data as Float32Array;
  for (let i = 0; i < d.length / 4; i++) d[i] = 0;
  const s2 = summarizeModel(m, [784]);
  assert.equal(s2.layers[1]!.zeros, 784 * 300 / 4);
  assert.equal(s2.layers[1]!.sparsity, 0.25);
  assert.equal(s2.nonzeroParams, 266_610 - 784 * 300 / 4);
  assert.equal(s2.sparsity, (784 * 300 / 4) / (784 * 300 + 300 * 100 + 100 * 10));
  // lenet5: conv FLOPs = output positions * out channels * (2 * in * k * k + 1)
  const l = summarizeModel(createModel('lenet5'), [1, 28, 28]);
  assert.equal(l.layers[1]!.flops, 28 * 28 * 6 * (2 * 25 + 1));
  assert.equal(l.layers[4]!.flops, 10 * 10 * 16 * (2 * 6 * 25 + 1));
  assert.deepEqual(l.layers[6]!.outputShape, [16, 5, 5]);
});

test('an override that changes the architecture drops the preset name; dropout keeps it', () => {
  assert.equal(presetConfig('mlp-tiny').preset, 'mlp-tiny');
  assert.equal(presetConfig('mlp-tiny', { dropout: 0.2 }).preset, 'mlp-tiny');
  assert.equal(presetConfig('mlp-tiny', { hidden: [64] }).preset, 'mlp-tiny');   // same widths: same model
  const wide = presetConfig('mlp-tiny', { hidden: [128] });
  assert.equal(wide.preset, undefined);
  assert.deepEqual(wide.arch === 'mlp' ? wide.hidden : null, [128]);
  assert.equal(presetConfig('lenet5', { channels: [4, 8] }).preset, undefined);
});
