// The GPT model beyond PyTorch parity (gpt_parity.test.ts): presets and their parameter counts
// (hand-derived formula), nanoGPT's init scales, bad input refused before any work, the key/value
// cache (same logits as the full forward), sampling (greedy, top-k support, temperature),
// gradient accumulation and activation checkpointing (same gradients as the plain step).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Generator, manualSeed } from '../../src/core/random.js';
import { noGrad } from '../../src/core/engine.js';
import { Tensor } from '../../src/core/tensor.js';
import * as ops from '../../src/ops/index.js';
import {
  GPT, GPT_PRESETS, KVCache, createGpt, gptConfig, gptLoss, gptParamGroups, lmLossFn, sampleToken, validateGptConfig, type GptConfig,
} from '../../src/models/gpt.js';

const ids = (rows: number[][]): Tensor => new Tensor(Int32Array.from(rows.flat()), 'int32', [rows.length, rows[0]!.length]);

function maxDiff(a: Tensor, b: Tensor): number {
  const x = a.dataSync(), y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

const small: GptConfig = { arch: 'gpt', nLayer: 2, nEmbd: 16, nHead: 4, blockSize: 12, vocabSize: 11, dropout: 0, bias: true, tieWeights: true };

test('presets: parameter counts follow L (12 C^2 + 13 C) + V C + blockSize C + 2 C (tied head counted once)', () => {
  for (const p of GPT_PRESETS) {
    const c = p.config;
    manualSeed(0);
    const m = new GPT(c);
    const C = c.nEmbd;
    assert.equal(m.countParameters(false), c.nLayer * (12 * C * C + 13 * C) + c.vocabSize * C + c.blockSize * C + 2 * C, p.name);
    assert.equal(m.config.preset, p.name);
  }
  assert.equal(gptConfig('gpt-small').nEmbd, 256);   // the benchmark configuration of issue 7
  // without biases: matrices and the LayerNorm weights only, L (12 C^2 + 2 C) + V C + blockSize C + C
  assert.equal(createGpt('gpt-tiny', { bias: false }).countParameters(false), 4 * (12 * 128 * 128 + 2 * 128) + 256 * 128 + 128 * 128 + 128);
});

test('init: weights N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 nLayer)), biases 0, tied head is the embedding', () => {
  manualSeed(5);
  const m = createGpt('gpt-tiny');
  const std = (t: Tensor): number => { const d = t.dataSync(); let s = 0; for (const v of d) s += v * v; return Math.sqrt(s / d.length); };
  const sd = m.stateDict();
  assert.ok(Math.abs(std(sd.get('transformer.h.0.attn.c_attn.weight')!) - 0.02) < 0.001);
  assert.ok(Math.abs(std(sd.get('transformer.h.0.mlp.c_proj.weight')!) - 0.02 / Math.sqrt(8)) < 0.0005);
  assert.ok(Math.abs(std(sd.get('transformer.h.3.attn.c_proj.weight')!) - 0.02 / Math.sqrt(8)) < 0.0005);
  assert.equal(std(sd.get('transformer.h.1.mlp.c_fc.bias')!), 0);
  assert.equal(m.lm_head.weight, m.transformer.wte.weight);
  assert.ok(!m.namedParameters().some(([n]) => n === 'lm_head.weight'));
  assert.ok(sd.has('lm_head.weight'));
  assert.notEqual(createGpt('gpt-tiny', { tieWeights: false }).lm_head.weight, m.transformer.wte.weight);
});

test('bad input is refused before any work: long context, out-of-vocabulary ids, heads not dividing, dtype', () => {
  const m = new GPT(small);
  assert.throws(() => m.call(ids([Array(13).fill(1)])), /the sequence has 13 tokens but the model's context length \(blockSize\) is 12; crop it/);
  assert.throws(() => m.call(ids([[1, 11, 2]])), /token id 11 at \(0, 1\) is outside the vocabulary \[0, 11\)/);
  assert.throws(() => m.call(ids([[1, -1]])), /token id -1/);
  assert.throws(() => m.call(ops.zeros([1, 3])), /a GPT reads int32 token ids \(batch, time\), got float32 \(1, 3\): images or features do not fit/);
  assert.throws(() => m.call(new Tensor(new Int32Array(0), 'int32', [1, 0])), /time >= 1/);
  assert.throws(() => new GPT({ ...small, nHead: 3 }), /nHead 3 does not divide nEmbd 16/);
  assert.throws(() => validateGptConfig({ ...small, dropout: 1 }), /dropout must be in \[0, 1\)/);
  assert.throws(() => gptConfig('gpt-huge'), /unknown GPT preset 'gpt-huge'; presets: gpt-tiny, gpt-small/);
  assert.throws(() => gptConfig('gpt-tiny', { nLayers: 3 } as never), /GPT has no setting 'nLayers'/);
  const cache = new KVCache(m, 1);
  noGrad(() => m.call(ids([Array(10).fill(1)]), cache));
  assert.throws(() => noGrad(() => m.call(ids([[1, 2, 3]]), cache)), /10 cached \+ 3 new tokens exceed the context length blockSize 12/);
});

test('KV cache: a prompt then one token at a time gives the logits of the full forward', () => {
  manualSeed(2);
  const m = new GPT(small, { dtype: 'float64' });
  m.eval();
  const seq = [[3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8], [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5]];
  noGrad(() => {
    const full = m.call(ids(seq));
    const cache = new KVCache(m, 2);
    const prompt = m.call(ids(seq.map((r) => r.slice(0, 4))), cache);
    assert.ok(maxDiff(prompt, ops.narrow(full, 1, 0, 4)) < 1e-12);
    for (let t = 4; t < 12; t++) {
      const y = m.call(ids(seq.map((r) => [r[t]!])), cache);
      assert.ok(maxDiff(y, ops.narrow(full, 1, t, 1)) < 1e-12, `position ${t}`);
    }
  });
});

test('generate: greedy decoding is the same with and without the cache, and past the context length', () => {
  manualSeed(4);
  const m = new GPT(small);
  const prompt = ids([[1, 2, 3], [4, 5, 6]]);
  const a = m.generate(prompt, 8, { temperature: 0 });
  const b = m.generate(prompt, 8, { temperature: 0, useCache: false });
  assert.deepEqual([...a.shape], [2, 11]);
  assert.deepEqual([...a.dataSync()], [...b.dataSync()]);           // 11 <= blockSize: identical
  assert.deepEqual([...a.dataSync()].slice(0, 3), [1, 2, 3]);
  const seen: number[][] = [];
  const long = m.generate(prompt, 20, { temperature: 0.8, topK: 3, generator: new Generator(1), onToken: (t) => seen.push([...t]) });
  assert.deepEqual([...long.shape], [2, 23]);
  assert.equal(seen.length, 20);
  assert.deepEqual(seen.map((s) => s[0]), [...long.dataSync()].slice(3, 23));
  assert.equal(m.training, true);                                   // generate restores the mode
});

test('sampleToken: temperature 0 and top-1 are argmax; top-k never leaves the k best; low temperature sharpens', () => {
  const logits = [0.1, 2, -1, 1.5, 0.3];
  assert.equal(sampleToken(logits, 0), 1);
  assert.equal(sampleToken(logits, 5, 1), 1);
  const g = new Generator(9);
  const counts = [0, 0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[sampleToken(logits, 1, 2, g)]!++;
  assert.equal(counts[0]! + counts[2]! + counts[4]!, 0);
  // top-2 at T = 1: p(1) = e^2 / (e^2 + e^1.5) = 0.6225
  assert.ok(Math.abs(counts[1]! / 4000 - 0.6225) < 0.03, `p(1) ${counts[1]! / 4000}`);
  let hot = 0;
  for (let i = 0; i < 2000; i++) if (sampleToken(logits, 0.1, undefined, g) === 1) hot++;
  assert.ok(hot / 2000 > 0.98);
});

test('gradient accumulation: 4 micro-batches give the full batch\'s loss and gradients', () => {
  manualSeed(6);
  const m = new GPT(small, { dtype: 'float64' });
  const x = ops.randint(0, 11, [8, 12], { dtype: 'int32', generator: new Generator(1) });
  const y = ops.randint(0, 11, [8, 12], { dtype: 'int32', generator: new Generator(2) });
  const full = gptLoss(m.call(x), y);
  full.backward();
  const want = m.parameters().map((p) => ops.clone(p.grad!));
  m.zeroGrad();
  const acc = lmLossFn({ accumulationSteps: 4 })(m, [x, y]);
  assert.ok(Math.abs(acc.item() - full.item()) < 1e-12);
  acc.backward();
  m.parameters().forEach((p, i) => assert.ok(maxDiff(p.grad!, want[i]!) < 1e-12, `param ${i}`));
  assert.throws(() => lmLossFn({ accumulationSteps: 3 })(m, [x, y]), /batch size 8 is not divisible by accumulationSteps 3/);
});

test('activation checkpointing: same loss and gradients as the plain forward, with dropout', () => {
  const grads = (checkpointing: boolean): [number, Tensor[]] => {
    manualSeed(8);
    const m = new GPT({ ...small, dropout: 0.1, checkpointing }, { dtype: 'float64' });
    const x = ops.randint(0, 11, [2, 12], { dtype: 'int32', generator: new Generator(3) });
    manualSeed(9);
    const loss = gptLoss(m.call(x), x);
    loss.backward();
    return [loss.item(), m.parameters().map((p) => p.grad!)];
  };
  const [l0, g0] = grads(false), [l1, g1] = grads(true);
  assert.ok(Math.abs(l0 - l1) < 1e-13);
  g0.forEach((g, i) => assert.ok(maxDiff(g, g1[i]!) < 1e-12, `param ${i}`));
});

test('AdamW groups: decay on matrices (2-D), none on biases and LayerNorm parameters', () => {
  const m = new GPT(small);
  const [decay, none] = gptParamGroups(m, 0.1);
  assert.equal(decay.weightDecay, 0.1);
  assert.equal(none.weightDecay, 0);
  assert.ok(decay.params.every((p) => p.ndim === 2) && none.params.every((p) => p.ndim === 1));
  assert.equal(decay.params.length + none.params.length, m.parameters().length);
  assert.equal(decay.params.length, 2 + 4 * 2);   // wte (tied head), wpe, and 4 matrices per block
});
