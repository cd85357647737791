// GPT presets as first-class presets of src/models/presets.ts: listed by listModels, built by
// createModel / createAnyModel, rebuilt from a config (JSON round trip) and from a checkpoint
// (metadata extra.gpt, as `train --model gpt-*` writes it, so files written before stay readable),
// summarized (parameter count and FLOPs from the formulas), and refused where a classifier is needed.
// Outside truths: nanoGPT's parameter-count formula and hand-counted FLOPs.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { defaultGenerator, manualSeed } from '../../src/core/random.js';
import { Tensor } from '../../src/core/tensor.js';
import { loadCheckpoint, saveCheckpoint, type JsonObject } from '../../src/io/index.js';
import {
  GPT, PresetModel, createAnyModel, createModel, isGptConfig, isGptModel, isGptPreset, listModels, modelFromConfig, modelTask,
  presetConfig, summarizeModel, validateAnyConfig, validateConfig,
} from '../../src/models/index.js';
import { anyModelFromCheckpoint, modelFromAnyCheckpoint } from '../../src/cli/runtime.js';
import { loadGptCheckpoint } from '../../src/train/lm.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-gpt-presets-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** nanoGPT's parameter count with biases and tied weights: V C + T C + L (12 C^2 + 13 C) + 2 C. */
const gptParams = (V: number, T: number, C: number, L: number): number => V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C;
const ids = (rows: number[][]): Tensor => new Tensor(Int32Array.from(rows.flat()), 'int32', [rows.length, rows[0]!.length]);
const SMALL = { nLayer: 2, nEmbd: 16, nHead: 2, blockSize: 8, vocabSize: 32 };

test('listModels lists the GPT presets with their task and description; task filters', () => {
  const all = listModels();
  assert.deepEqual(all.map((m) => m.name), ['mlp', 'mlp-large', 'mlp-small', 'mlp-tiny', 'lenet5', 'gpt-tiny', 'gpt-small']);
  const tiny = all.find((m) => m.name === 'gpt-tiny')!;
  assert.equal(tiny.task, 'language-modeling');
  assert.match(tiny.description, /4 layers, width 128, 4 heads, context 128, byte vocabulary/);
  assert.equal(tiny.config.arch, 'gpt');
  assert.deepEqual(listModels({ task: 'image-classification' }).map((m) => m.name), ['mlp', 'mlp-large', 'mlp-small', 'mlp-tiny', 'lenet5']);
  assert.deepEqual(listModels({ task: 'language-modeling' }).map((m) => m.name), ['gpt-tiny', 'gpt-small']);
  assert.ok(isGptPreset('gpt-small') && !isGptPreset('mlp'));
  assert.throws(() => listModels({ task: 'speech' as never }), /task must be 'image-classification' or 'language-modeling'/);
});

test('createModel builds a GPT from a GPT preset name (with overrides); parameters follow the formula', () => {
  manualSeed(0);
  const tiny = createModel('gpt-tiny');
  assert.ok(tiny instanceof GPT);
  assert.equal(tiny.config.preset, 'gpt-tiny');
  assert.equal(tiny.numParameters(), gptParams(256, 128, 128, 4));
  assert.equal(tiny.numParameters(), 842_496);
  const small = createModel('gpt-tiny', SMALL);
  assert.equal(small.numParameters(), gptParams(32, 8, 16, 2));
  assert.equal(small.call(ids([[1, 2, 3]])).shape.join(','), '1,3,32');
  const name: string = 'gpt-small';
  const any = createAnyModel(name);
  assert.ok(isGptModel(any) && any.numParameters() === gptParams(256, 128, 256, 4));
  assert.equal(modelTask(any), 'language-modeling');
  assert.equal(modelTask(createModel('mlp')), 'image-classification');
  assert.ok(createAnyModel('mlp-tiny') instanceof PresetModel);
  assert.equal(presetConfig('gpt-tiny', { nLayer: 2 }).nLayer, 2);
});

test('bad GPT settings are refused before building, naming the field', () => {
  assert.throws(() => createModel('gpt-tiny', { nHead: 5 }), /nHead 5 does not divide nEmbd 128/);
  assert.throws(() => createModel('gpt-tiny', { hidden: [3] } as never), /GPT has no setting 'hidden'/);
  assert.throws(() => createModel('gpt-huge' as never), /unknown model preset 'gpt-huge'; presets: mlp, .*, gpt-tiny, gpt-small/);
  assert.throws(() => validateConfig(createModel('gpt-tiny', SMALL).config), /arch 'gpt' is a GPT language model's config, not an image classifier's; check it with validateAnyConfig/);
  assert.throws(() => validateAnyConfig({ ...createModel('gpt-tiny', SMALL).config, vocabSize: 0 }), /vocabSize must be a positive integer/);
  validateAnyConfig(createModel('gpt-tiny', SMALL).config);
  validateAnyConfig(createModel('mlp').config);
});

test('a GPT config round-trips through JSON and modelFromConfig: same keys, same logits after loading the weights', () => {
  manualSeed(1);
  const a = createModel('gpt-tiny', { ...SMALL, dropout: 0.1 });
  const config = JSON.parse(JSON.stringify(a.config)) as unknown;
  validateAnyConfig(config);
  assert.ok(isGptConfig(config));
  const b = modelFromConfig(config);
  assert.ok(b instanceof GPT);
  assert.deepEqual(b.config, a.config);
  assert.deepEqual([...b.stateDict().keys()], [...a.stateDict().keys()]);
  b.loadStateDict(a.stateDict());
  a.eval(); b.eval();
  const x = ids([[0, 5, 31, 7], [3, 3, 3, 3]]);
  assert.deepEqual(b.call(x).dataSync(), a.call(x).dataSync());
  // the tie survives: one tensor, counted once
  assert.equal(b.lm_head.weight, b.transformer.wte.weight);
});

test('a GPT checkpoint (config in extra.gpt, as train writes it, and as files written before keep it) rebuilds the model', () => {
  manualSeed(2);
  const a = createModel('gpt-tiny', SMALL);
  const path = join(dir, 'gpt.safetensors');
  saveCheckpoint(path, { model: a, step: 3, epoch: 0, config: null, rngState: defaultGenerator.getState(), extra: { gpt: a.config as unknown as JsonObject, tokenizer: 'byte' } });
  const ck = loadCheckpoint(path);
  const b = anyModelFromCheckpoint(ck);
  assert.ok(isGptModel(b));
  assert.deepEqual(b.config, a.config);
  const x = ids([[1, 2, 3, 4, 5, 6, 7, 8]]);
  a.eval(); b.eval();
  assert.deepEqual(b.call(x).dataSync(), a.call(x).dataSync());
  assert.deepEqual(loadGptCheckpoint(ck).model.call(x).dataSync(), a.call(x).dataSync());
  // image-only loaders refuse it with the commands that take a GPT
  assert.throws(() => modelFromAnyCheckpoint(ck, { command: 'prune', path }),
    /prune: '.*gpt\.safetensors' holds a GPT language model \(gpt-tiny: 2 layers, width 16\), but tensorslim prune works on image classifiers \(mlp, mlp-large, mlp-small, mlp-tiny, lenet5\); for a GPT use tensorslim summary, tensorslim generate, or tensorslim train --resume/);
  // a classifier checkpoint still comes back as a PresetModel
  const mlpPath = join(dir, 'mlp.safetensors');
  const m = createModel('mlp', { inFeatures: 6, hidden: [5], numClasses: 3 });
  saveCheckpoint(mlpPath, { model: m, step: 0, epoch: 0, config: m.config, rngState: defaultGenerator.getState() });
  assert.ok(anyModelFromCheckpoint(loadCheckpoint(mlpPath)) instanceof PresetModel);
});

test('summarizeModel of a GPT: tied matrix counted once, FLOPs per sequence from the formula, attention rows', () => {
  const m = createModel('gpt-tiny', SMALL);
  const [V, T, C, L] = [32, 8, 16, 2];
  const s = summarizeModel(m, [T], { dtype: 'int32' });
  assert.equal(s.params, gptParams(V, T, C, L));
  assert.equal(s.bytes, 4 * gptParams(V, T, C, L));
  assert.deepEqual(s.outputShape, [T, V]);
  // per token: Linear layers 2 * in * out + out, the LM head 2 C V; attention 2 C (T + 1) per token per layer (causal)
  assert.equal(s.flops, T * (L * (24 * C * C + 9 * C) + 2 * C * V) + L * 2 * C * T * (T + 1));
  const rows = s.layers.filter((l) => l.type.startsWith('attention('));
  assert.deepEqual(rows.map((l) => l.name), ['transformer.h.0.attn.attention', 'transformer.h.1.attn.attention']);
  assert.equal(rows[0]!.flops, 2 * C * T * (T + 1));
  // each attention row sits right after its block's attention leaves
  const at = s.layers.findIndex((l) => l.name === 'transformer.h.0.attn.attention');
  assert.ok(s.layers[at - 1]!.name.startsWith('transformer.h.0.attn.'));
  assert.equal(s.layers[at + 1]!.name, 'transformer.h.0.ln_2');
  // float input is refused with a message for image data
  assert.throws(() => summarizeModel(m, [T]), /a GPT reads int32 token ids/);
});
