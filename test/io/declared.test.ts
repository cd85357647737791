// Declared sizes are checked against the file before anything is allocated (issue 14, defect 7):
// a checkpoint whose config says hidden [12000, 12000] (1.3 GB of float32) or [1e8, 1e8] next to
// mlp-tiny's 50,890 stored values is refused naming both counts, instead of building the model first
// (and failing on a shape, or with V8's bare "Invalid typed array length"); a gzip IDX file that
// inflates beyond what its header declares is refused at the declared size. configParameterCount is
// checked against counts derived by hand: mlp 784-300-100-10 has 784*300+300 + 300*100+100 +
// 100*10+10 = 266,610; lenet5 (1x28x28, channels 6/16, k 5, fc 120/84) has 6*25+6 + 6*16*25+16 +
// (16*5*5)*120+120 + 120*84+84 + 84*10+10 = 61,706.

import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';

import { configParameterCount, gptValuesLowerBound, loadCheckpoint, modelFromCheckpoint, parseSafetensors, saveCheckpoint, serializeSafetensors } from '../../src/io/index.js';
import { createGpt, createModel, listModels } from '../../src/models/index.js';
import { loadGptCheckpoint } from '../../src/train/lm.js';
import { parseIdx } from '../../src/data/idx.js';
import { defaultGenerator } from '../../src/core/random.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('configParameterCount matches hand-derived counts and every preset built for real', () => {
  const cfg = (name: string) => listModels().find((m) => m.name === name)!.config;
  assert.equal(configParameterCount({ arch: 'mlp', inFeatures: 784, hidden: [300, 100], numClasses: 10, dropout: 0, inputDropout: 0 }), 266_610);
  assert.equal(configParameterCount({ arch: 'lenet5', inputShape: [1, 28, 28], channels: [6, 16], kernelSize: 5, fc: [120, 84], numClasses: 10 }), 61_706);
  for (const m of listModels({ task: 'image-classification' })) {
    assert.equal(configParameterCount(cfg(m.name) as Parameters<typeof configParameterCount>[0]), createModel(m.name).numParameters(), m.name);
  }
});

test('a checkpoint whose config declares far more parameters than it stores is refused before allocation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-declared-'));
  try {
    const path = join(dir, 'tiny.safetensors');
    const model = createModel('mlp-tiny');
    saveCheckpoint(path, { model, step: 0, epoch: 0, config: model.config, rngState: defaultGenerator.getState() });
    for (const hidden of [[12000, 12000], [1e8, 1e8]]) {
      const parsed = parseSafetensors(readFileSync(path));
      const meta = { ...parsed.metadata };
      meta['tensorslim.config'] = JSON.stringify({ ...model.config, hidden });
      const edited = join(dir, `edited-${hidden[0]}.safetensors`);
      writeFileSync(edited, serializeSafetensors(parsed.tensors, meta));
      assert.throws(() => modelFromCheckpoint(loadCheckpoint(edited)), /declares [\d,]+ parameters but the file stores 50,890 values/, `hidden ${hidden}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a gzip IDX file that inflates beyond its header is refused at the declared size', () => {
  // header: uint8 (0x08), 1 dimension of 10 -> 4 + 4 + 10 = 18 bytes declared; then 32 MiB of zeros
  const header = Uint8Array.from([0, 0, 0x08, 1, 0, 0, 0, 10]);
  const bomb = new Uint8Array(header.length + 10 + 32 * 2 ** 20);
  bomb.set(header);
  assert.throws(() => parseIdx(gzipSync(bomb), 'bomb.gz'), /beyond the 18 bytes its header declares/);
  const ok = new Uint8Array(18);
  ok.set(header);
  ok.fill(7, 8);
  assert.deepEqual(Array.from(parseIdx(gzipSync(ok)).data), new Array(10).fill(7));
});

test('a GPT checkpoint whose config needs far more values than the file stores is refused before allocation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-declared-gpt-'));
  try {
    const model = createGpt('gpt-tiny');
    const c = model.config;
    // the bound never exceeds what the real model holds (else honest files would be refused)
    assert.ok(gptValuesLowerBound(c) <= model.numParameters(), `bound ${gptValuesLowerBound(c)} > ${model.numParameters()} parameters`);
    const path = join(dir, 'gpt.safetensors');
    saveCheckpoint(path, { model, step: 0, epoch: 0, config: null, rngState: defaultGenerator.getState(), extra: { gpt: { ...c }, tokenizer: 'byte' } });
    assert.equal(loadGptCheckpoint(path).model.numParameters(), model.numParameters());
    const parsed = parseSafetensors(readFileSync(path));
    const meta = { ...parsed.metadata };
    // GPT-3-sized numbers beside gpt-tiny's weights: building it first would need about 700 GB
    meta['tensorslim.extra'] = JSON.stringify({ gpt: { ...c, nLayer: 96, nEmbd: 12288, nHead: 96 }, tokenizer: 'byte' });
    const edited = join(dir, 'edited.safetensors');
    writeFileSync(edited, serializeSafetensors(parsed.tensors, meta));
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => loadGptCheckpoint(edited), /GPT config .*96 layers, width 12288.* needs at least [\d,]+ values but the file stores [\d,]+/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20, 'the refusal allocated the model first');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

