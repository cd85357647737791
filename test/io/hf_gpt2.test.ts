// Hugging Face GPT-2 checkpoints (src/io/hf_gpt2.ts): a tiny random GPT-2 written in transformers'
// layout by tools/fixtures/hf_gpt2_fixtures.py (plain torch, Conv1D weights (in, out), attn.bias
// buffers, no lm_head.weight) imports into our GPT and its logits match torch's (float64 reference)
// to 1e-4 relative, and so does its ONNX export in ONNX Runtime; written back by exportHfGpt2 it reads back the same; GPT2Model names (no
// `transformer.` prefix), an untied head, a vocabulary of 50257, and the refusals.

import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { manualSeed, noGrad } from '../../src/index.js';
import { getTokenizer } from '../../src/data/index.js';
import * as ops from '../../src/ops/index.js';
import { GPT } from '../../src/models/gpt.js';
import { exportHfGpt2, hfGpt2Config, hfGpt2StateDict, importHfGpt2, isHfGpt2, parseSafetensors, serializeSafetensors } from '../../src/io/index.js';
import { tempDir } from './helpers.js';
import { serializeOnnx } from '../../src/io/onnx/index.js';
import { loadOrt, maxRelError, runOrt } from './onnx_helpers.js';

const FIX = join(import.meta.dirname, '..', 'fixtures');
const FILE = join(FIX, 'hf_gpt2_tiny.safetensors');
const ref = JSON.parse(readFileSync(join(FIX, 'hf_gpt2_tiny.json'), 'utf8')) as { config: { n_head: number; vocab_size: number; n_positions: number }; idx: number[][]; logits: number[]; logitsShape: number[] };

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, s = 0;
  for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i]! - b[i]!)); s = Math.max(s, Math.abs(b[i]!)); }
  return d / s;
}

describe('Hugging Face GPT-2 checkpoints', () => {
  it('imports the torch-made tiny GPT-2 and matches its logits (1e-4 relative); its ONNX export (tanh GELU) runs in ONNX Runtime', async () => {
    const r = importHfGpt2(FILE, { nHead: ref.config.n_head });
    assert.deepEqual(
      { v: r.config.vocabSize, p: r.config.blockSize, c: r.config.nEmbd, l: r.config.nLayer, gelu: r.config.gelu, tied: r.config.tieWeights },
      { v: ref.config.vocab_size, p: ref.config.n_positions, c: 16, l: 2, gelu: 'tanh', tied: true });
    assert.equal(r.prefix, 'transformer.');
    assert.deepEqual(r.ignored, ['transformer.h.0.attn.bias', 'transformer.h.1.attn.bias']);
    assert.equal(r.model.lm_head.weight, r.model.transformer.wte.weight);
    const logits = noGrad(() => r.model.call(ops.tensor(ref.idx, { dtype: 'int32' })));
    assert.deepEqual(logits.shape, ref.logitsShape);
    const e = relErr(logits.dataSync(), ref.logits);
    assert.ok(e <= 1e-4, `max relative error ${e}`);
    const { ort } = await loadOrt();
    if (ort !== null) {
      const ids = ops.tensor(ref.idx, { dtype: 'int32' });
      for (const opset of [17, 20]) {   // Gelu written out (Mul, Pow, Tanh, ...) and as one op with approximate 'tanh'
        const got = await runOrt(ort, serializeOnnx(r.model, ids, { opset }).bytes, 'input_ids', ids, 'logits');
        assert.ok(maxRelError(got.data, logits.dataSync()) <= 1e-4, `opset ${opset}`);
      }
    }
    // the erf GELU would not match: the tanh form is what makes it GPT-2
    const erf = importHfGpt2(FILE, { nHead: ref.config.n_head, gelu: 'none' });
    assert.ok(relErr(noGrad(() => erf.model.call(ops.tensor(ref.idx, { dtype: 'int32' }))).dataSync(), ref.logits) > 1e-4);
  });

  it('n_head from config.json beside the file; export writes the same layout back and it reads back alone; summary and export in the CLI', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const f = join(dir, 'model.safetensors');
      copyFileSync(FILE, f);
      assert.throws(() => importHfGpt2(f), /number of attention heads is not in the tensors.*pass \{ nHead \}/);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(ref.config));
      const r = importHfGpt2(f);
      assert.equal(r.nHeadFrom, join(dir, 'config.json'));
      const out = join(dir, 'copy.safetensors');
      exportHfGpt2(r.model, out);
      const p = parseSafetensors(new Uint8Array(readFileSync(out)));
      assert.ok(isHfGpt2(p.tensors));
      assert.equal(p.metadata['format'], 'pt');
      assert.equal(p.tensors.has('lm_head.weight'), false);
      const orig = parseSafetensors(new Uint8Array(readFileSync(FILE))).tensors;
      for (const [k, t] of orig) {
        if (/\.attn\.bias$/.test(k)) { assert.equal(p.tensors.has(k), false); continue; }
        assert.deepEqual(p.tensors.get(k)!.shape, t.shape, k);
        assert.deepEqual(p.tensors.get(k)!.dataSync(), t.dataSync(), k);
      }
      // the CLI: summary and export read a GPT-2 file (n_head from config.json beside it) as our GPT
      const { cli } = await import('../cli/helpers.js');
      const sm = await cli('summary', f, '--json');
      assert.equal(sm.code, 0, sm.ctx.stderr.join('\n'));
      assert.equal(sm.json['params'], r.model.numParameters());
      assert.equal((sm.json['config'] as { gelu: string }).gelu, 'tanh');
      const ex = await cli('export', '--model', f, '--out', join(dir, 'gpt2.onnx'), '--json');
      assert.equal(ex.code, 0, ex.ctx.stderr.join('\n'));
      assert.equal((ex.json['outputs'] as { name: string }[])[0]!.name, 'logits');
      // generate: greedy, byte tokens (the fixture's vocabulary of 300 is smaller than GPT-2's BPE)
      const gen = await cli('generate', '--model', f, '--tokenizer', 'byte', '--prompt', 'ab', '--tokens', '5', '--temperature', '0', '--json');
      assert.equal(gen.code, 0, gen.ctx.stderr.join('\n'));
      assert.equal(gen.json['tokens'], 5);
      assert.equal(gen.json['preset'], 'hf-gpt2');
      const greedy = noGrad(() => r.model.generate(ops.tensor([[97, 98]], { dtype: 'int32' }), 5, { temperature: 0 }));
      assert.equal(gen.json['text'], getTokenizer('byte').decode(Array.from(greedy.dataSync()).slice(2)));
      // the default for a GPT-2 file is GPT-2's BPE ('!' is token 0, inside the tiny vocabulary)
      const bpe = await cli('generate', '--model', f, '--prompt', '!', '--tokens', '2', '--json');
      assert.equal(bpe.code, 0, bpe.ctx.stderr.join('\n'));
      assert.equal(bpe.json['tokenizer'], 'gpt2');
      const back = importHfGpt2(out);   // n_head from its metadata
      assert.equal(back.nHeadFrom, 'metadata');
      assert.deepEqual(hfGpt2Config(back.config), hfGpt2Config(r.config));
    } finally { cleanup(); }
  });

  it('GPT2Model names (no transformer. prefix), an untied head, vocabulary 50257, and refusals', () => {
    manualSeed(3);
    const g = new GPT({ arch: 'gpt', nLayer: 1, nEmbd: 8, nHead: 2, blockSize: 8, vocabSize: 50257, dropout: 0, bias: true, tieWeights: false, gelu: 'tanh' });
    g.eval();
    const hf = hfGpt2StateDict(g);
    assert.deepEqual(hf.get('transformer.h.0.mlp.c_fc.weight')!.shape, [8, 32]);
    assert.ok(hf.has('lm_head.weight'));
    const bare = new Map([...hf].map(([k, t]) => [k.replace(/^transformer\./, ''), t]));
    const r = importHfGpt2(serializeSafetensors(bare), { nHead: 2 });
    assert.equal(r.prefix, '');
    assert.equal(r.config.vocabSize, 50257);
    assert.equal(r.config.tieWeights, false);
    const idx = ops.tensor([[50256, 0, 17, 4000]], { dtype: 'int32' });
    assert.deepEqual(noGrad(() => r.model.call(idx)).dataSync(), noGrad(() => g.call(idx)).dataSync());
    // refusals name what is wrong (a small vocabulary: each refusal builds the model first)
    const small = hfGpt2StateDict(new GPT({ ...g.config, vocabSize: 16 }));
    const bare16 = new Map([...small].map(([k, t]) => [k.replace(/^transformer\./, ''), t]));
    assert.throws(() => importHfGpt2(serializeSafetensors(new Map([...bare16].filter(([k]) => k !== 'h.0.mlp.c_fc.bias'))), { nHead: 2 }), /do not fit GPT-2 [\s\S]*h\.0\.mlp\.c_fc\.bias/);
    assert.throws(() => importHfGpt2(serializeSafetensors(new Map([...bare16, ['score.weight', ops.zeros([2, 8])]])), { nHead: 2 }), /unexpected keys .*transformer\.score\.weight/);
    assert.throws(() => importHfGpt2(serializeSafetensors(new GPT({ ...g.config, vocabSize: 16 }).stateDict()), { nHead: 2 }), /not GPT-2's Conv1D layout .*load it with loadCheckpoint/);
    assert.throws(() => importHfGpt2(serializeSafetensors(small), { nHead: 3 }), /nHead 3 does not divide nEmbd 8/);
  });
});
