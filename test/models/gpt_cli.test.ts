// The GPT through the CLI, with tiny budgets: `train --model gpt-tiny` on a text file (checkpoint,
// exact resume, --json with valLoss and tokensPerSecond), `generate` from that checkpoint
// (streaming text, --json), `bench gpt --json`, and bad input refused with exit code 2 or a clear error.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { captureContext, main } from '../../src/cli/index.js';
import { Tensor } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-gpt-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const corpus = join(dir, 'corpus.txt');
writeFileSync(corpus, 'It was the best of times, it was the worst of times. '.repeat(60));
const ckpt = join(dir, 'gpt.safetensors');
const TRAIN = ['train', '--model', 'gpt-tiny', '--dataset', corpus, '--batch-size', '2', '--context', '16', '--eval-interval', '2', '--threads', '1'];

/** A value with every Tensor replaced by its dtype, shape and values, for a bitwise deepEqual. */
function plain(v: unknown): unknown {
  if (v instanceof Tensor) return { dtype: v.dtype, shape: [...v.shape], data: Array.from(v.dataSync()) };
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Map) return [...v].map(([k, x]) => [k, plain(x)]);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

async function run(argv: string[]): Promise<{ code: number; json: Record<string, unknown> | null; out: string[]; err: string[] }> {
  const ctx = captureContext();
  const code = await main(argv, ctx);
  let json: Record<string, unknown> | null = null;
  try { json = JSON.parse(ctx.stdout.at(-1) ?? '') as Record<string, unknown>; } catch { /* not JSON */ }
  return { code, json, out: ctx.stdout, err: ctx.stderr };
}

test('train --model gpt-tiny on a text file: --json reports valLoss, bits per byte, tokensPerSecond; resume continues', async () => {
  const a = await run([...TRAIN, '--steps', '2', '--out', ckpt, '--json']);
  assert.equal(a.code, 0, a.err.join('\n'));
  const j = a.json!;
  assert.equal(j['model'], 'gpt-tiny');
  assert.equal(j['steps'], 2);
  assert.ok(typeof j['valLoss'] === 'number' && (j['valLoss'] as number) > 0 && (j['valLoss'] as number) < 7);
  // byte tokens: bits per byte = nats per token / ln 2
  assert.ok(Math.abs((j['valBitsPerByte'] as number) - (j['valLoss'] as number) / Math.LN2) < 1e-9);
  assert.ok((j['tokensPerSecond'] as number) > 0 && (j['peakRssBytes'] as number) > 0);
  const b = await run([...TRAIN, '--steps', '4', '--resume', ckpt, '--json']);
  assert.equal(b.code, 0, b.err.join('\n'));
  assert.equal(b.json!['steps'], 4);
  assert.equal(b.json!['resumedFrom'], ckpt);
});

test('train --model gpt-tiny --resume from a mid-run checkpoint ends bit for bit where the uninterrupted run ends', async () => {
  // The uninterrupted run (the library, with the CLI's settings) also keeps its step-2 checkpoint,
  // as a run stopped after step 2 would leave it; the CLI resumes that to step 5. The warmup-cosine
  // schedule spans --steps, so the interrupted run must be the same 5-step run.
  const full = join(dir, 'gpt-full.safetensors');
  const half = join(dir, 'gpt-half.safetensors');
  const resumed = join(dir, 'gpt-resumed.safetensors');
  const { runGptTraining } = await import('../../src/train/index.js');
  const { setNumThreads } = await import('../../src/backends/native/index.js');
  setNumThreads(1);
  const a = await runGptTraining({
    model: 'gpt-tiny', dataset: corpus, batchSize: 2, contextLength: 16, evalInterval: 2, seed: 5, steps: 5, out: full,
    callbacks: [{ onCheckpoint: (t, path) => { if (t.step === 2) copyFileSync(path, half); } }],
  });
  const b = await run([...TRAIN, '--steps', '5', '--resume', half, '--out', resumed, '--json']);
  assert.equal(b.code, 0, b.err.join('\n'));
  assert.equal(b.json!['resumedFrom'], half);
  assert.equal(b.json!['steps'], 5);
  assert.equal(b.json!['valLoss'], a.valLoss);
  const { loadCheckpoint } = await import('../../src/io/index.js');
  const fa = loadCheckpoint(full), fh = loadCheckpoint(half), fb = loadCheckpoint(resumed);
  assert.equal(fh.step, 2);
  assert.equal(fb.step, fa.step);
  assert.deepEqual([...fb.model.keys()].sort(), [...fa.model.keys()].sort());
  // the model tensors (AdamW moments included: they are saved as optimizer.* tensors), bitwise
  for (const [k, t] of fa.model) assert.deepEqual(fb.model.get(k)!.dataSync(), t.dataSync(), k);
  assert.deepEqual(plain(fb.optimizer), plain(fa.optimizer));
  assert.deepEqual(plain(fb.scheduler), plain(fa.scheduler));
  assert.deepEqual(fb.rngState, fa.rngState);
});

test('generate streams a continuation from the checkpoint; --json gives the text and token rate', async () => {
  const a = await run(['generate', '--model', ckpt, '--prompt', 'It was', '--tokens', '12', '--seed', '1']);
  assert.equal(a.code, 0, a.err.join('\n'));
  assert.ok(a.out.join('\n').startsWith('It was'));
  const b = await run(['generate', '--model', ckpt, '--prompt', 'It was', '--tokens', '12', '--temperature', '0', '--json']);
  assert.equal(b.code, 0);
  assert.equal(b.json!['tokens'], 12);
  assert.equal(b.json!['promptTokens'], 6);
  const c = await run(['generate', '--model', ckpt, '--prompt', 'It was', '--tokens', '12', '--temperature', '0', '--no-cache', '--json']);
  assert.equal(c.json!['text'], b.json!['text']);   // greedy: the cache changes nothing
});

test('bad input: missing or wrong flags exit 2; an empty corpus, a too-long context and a non-GPT checkpoint are clear errors', async () => {
  assert.equal((await run(['generate'])).code, 2);
  assert.equal((await run(['generate', '--model', join(dir, 'nope.safetensors')])).code, 2);
  assert.equal((await run([...TRAIN, '--epochs', '1'])).code, 2);
  assert.equal((await run([...TRAIN, '--steps', '1', '--optimizer', 'sgd'])).code, 2);
  const empty = join(dir, 'empty.txt');
  writeFileSync(empty, '');
  const e = await run(['train', '--model', 'gpt-tiny', '--dataset', empty, '--steps', '1', '--json']);
  assert.equal(e.code, 1);
  assert.match(String(e.json!['error']), /empty/);
  const long = await run(['train', '--model', 'gpt-tiny', '--dataset', corpus, '--context', '129', '--steps', '1', '--json']);
  assert.equal(long.code, 1);
  assert.match(String(long.json!['error']), /contextLength 129 must be in \[1, 128\]/);
  const notGpt = join(dir, 'mlp.safetensors');
  assert.equal((await run(['train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '1', '--out', notGpt, '--json'])).code, 0);
  const g = await run(['generate', '--model', notGpt, '--json']);
  assert.equal(g.code, 1);
  assert.match(String(g.json!['error']), /holds no GPT model/);
});

test('bench gpt --json: median step time and tokens per second of a small configuration', async () => {
  // the full benchmark configuration is too slow for a test; bench/run_gpt.ts runs it
  const { benchGpt } = await import('../../src/bench/gpt.js');
  const r = benchGpt({ steps: 1, warmup: 0, batch: 2, model: { nLayer: 1, nEmbd: 32, nHead: 2, blockSize: 16 } });
  assert.equal(r.bench, 'gpt');
  assert.ok(r.stepMs > 0 && r.tokensPerSecond > 0 && r.peakRssBytes > 0 && Number.isFinite(r.finalLoss));
  assert.equal(r.context, 16);
  // the loss as GPT.loss (fused head, the default) or on materialized logits: the same step
  const u = benchGpt({ steps: 1, warmup: 0, batch: 2, model: { nLayer: 1, nEmbd: 32, nHead: 2, blockSize: 16 }, fusedLoss: false });
  assert.deepEqual([r.fusedLoss, u.fusedLoss], [true, false]);
  assert.ok(Math.abs(u.finalLoss - r.finalLoss) < 1e-5, `fused ${r.finalLoss} vs unfused ${u.finalLoss}`);
  // steps in step scopes (the default: storage handed back between steps) or not: the same values
  const n = benchGpt({ steps: 2, warmup: 1, batch: 2, model: { nLayer: 1, nEmbd: 32, nHead: 2, blockSize: 16 }, stepScope: false });
  const s = benchGpt({ steps: 2, warmup: 1, batch: 2, model: { nLayer: 1, nEmbd: 32, nHead: 2, blockSize: 16 } });
  assert.deepEqual([s.stepScope, n.stepScope, s.finalLoss], [true, false, n.finalLoss]);
});

test('bench gpt presets and --generate: the gpt2 shape, generation tokens/s on a small model, bad flags refused', async () => {
  const { benchGptGenerate, gptBenchPreset } = await import('../../src/bench/gpt.js');
  const g2 = gptBenchPreset('gpt2');
  assert.deepEqual([g2.model.nLayer, g2.model.nEmbd, g2.model.nHead, g2.model.blockSize, g2.model.vocabSize, g2.batch], [12, 768, 12, 256, 50257, 4]);
  const tiny = { nLayer: 1, nEmbd: 32, nHead: 2, blockSize: 16, vocabSize: 64 };
  const r = benchGptGenerate({ model: tiny, promptTokens: 3, newTokens: 4, repeats: 1 });
  assert.equal(r.bench, 'gpt-generate');
  assert.equal(r.config.vocabSize, 64);
  assert.ok(r.tokensPerSecond > 0 && r.decodeTokensPerSecond > 0 && r.firstTokenMs > 0 && r.generateMs >= r.firstTokenMs);
  assert.throws(() => benchGptGenerate({ model: tiny, promptTokens: 10, newTokens: 7 }), /exceed the context length 16/);
  for (const bad of [['--preset', 'gpt3'], ['--prompt', '4'], ['--generate', '8', '--checkpointing']]) {
    const e = await run(['bench', 'gpt', ...bad, '--json']);
    assert.equal(e.code, 2, bad.join(' '));
  }
});

test('summary of a GPT checkpoint: parameters (tied matrix once), bytes and FLOPs per token from the formula', async () => {
  const s = await run(['summary', ckpt, '--json']);
  assert.equal(s.code, 0, s.err.join('\n'));
  const j = s.json!;
  // gpt-tiny: V = 256, T = 128, C = 128, L = 4; nanoGPT's count V*C + T*C + L*(12 C^2 + 13 C) + 2 C
  const [V, T, C, L] = [256, 128, 128, 4];
  const params = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C;
  assert.equal(j['preset'], 'gpt-tiny');
  assert.equal(j['params'], params);
  assert.equal(params, 842_496);
  assert.equal(j['bytes'], params * 4);   // float32, lm_head.weight is transformer.wte.weight
  // forward FLOPs per token: per layer 2*(3C^2 + C^2 + 4C^2 + 4C^2) + biases (3C + C + 4C + C), the LM
  // head 2CV, and causal attention 2*C*(T+1) per token per layer (query i reads i + 1 keys, q k^T and P v)
  const perToken = L * (24 * C * C + 9 * C) + 2 * C * V + L * 2 * C * (T + 1);
  assert.equal(j['contextLength'], T);
  assert.equal(j['flopsPerToken'], perToken);
  assert.equal(j['flops'], perToken * T);
  const text = await run(['summary', ckpt]);
  assert.match(text.out.join('\n'), /842,496 parameters \(lm_head tied to transformer\.wte, counted once\).*FLOPs per token/);
  assert.match(text.out.join('\n'), /transformer\.h\.3\.attn\.attention +attention\(causal, 4 heads\)/);
  const preset = await run(['summary', 'gpt-small', '--json']);
  assert.equal(preset.json!['params'], 256 * 256 + 128 * 256 + 4 * (12 * 256 * 256 + 13 * 256) + 2 * 256);
});

test('quantize --mode weight-only: int4 file ~5x smaller, eval reports perplexity, generate runs it', { skip: process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'CLI plumbing: the weight-only kernels are tested in test/compress/quant_weight_only.test.ts on both backends' : false }, async () => {
  const q = join(dir, 'gpt-int4.safetensors');
  const r = await run(['quantize', '--model', ckpt, '--mode', 'weight-only', '--bits', '4', '--group-size', '32', '--dtype', 'bf16', '--dataset', corpus, '--windows', '2', '--out', q, '--json']);
  assert.equal(r.code, 0, r.err.join('\n'));
  const j = r.json!;
  assert.equal((j['quantizedLayers'] as string[]).length, 16);   // 4 blocks x (c_attn, attn.c_proj, c_fc, mlp.c_proj); the tied LM head stays float
  // gpt-tiny: 786,432 block weights at 4 bits + a float32 scale per 32 (4.5 bits) and the rest bf16, vs float32 + optimizer state
  assert.ok((j['compression'] as number) > 5, `compression ${j['compression']}`);
  assert.ok(Math.abs((j['bitsPerByte'] as number) / (j['floatBitsPerByte'] as number) - 1) < 0.05, `${j['bitsPerByte']} vs ${j['floatBitsPerByte']}`);
  const e = await run(['eval', '--model', q, '--dataset', corpus, '--windows', '2', '--json']);
  assert.equal(e.code, 0, e.err.join('\n'));
  assert.equal(e.json!['bitsPerByte'], j['bitsPerByte']);   // the file computes what quantize measured
  assert.match(String(e.json!['quantization']), /WeightOnlyLinear\(int4 g32 symmetric, 128 -> 384\)/);
  const g = await run(['generate', '--model', q, '--prompt', 'It was', '--tokens', '5', '--json']);
  assert.equal(g.code, 0, g.err.join('\n'));
  assert.equal(g.json!['tokens'], 5);
  const bad = await run(['quantize', '--model', ckpt, '--mode', 'weight-only', '--bits', '4', '--group-size', '48', '--json']);
  assert.equal(bad.code, 1);
  assert.match(String(bad.json!['error']), /group size 48 must divide the 128 input features/);
  assert.equal((await run(['quantize', '--model', ckpt, '--mode', 'weight-only', '--bits', '6'])).code, 2);
  // --embeddings quantized: wte / wpe int8 per row, the tied LM head reads the same table (stored once)
  const qe = join(dir, 'gpt-int8-emb.safetensors');
  const re = await run(['quantize', '--model', ckpt, '--mode', 'weight-only', '--bits', '8', '--embeddings', 'quantized', '--out', qe, '--json']);
  assert.equal(re.code, 0, re.err.join('\n'));
  assert.deepEqual((re.json!['quantizedLayers'] as string[]).slice(-3), ['transformer.wte', 'transformer.wpe', 'lm_head']);
  assert.ok((re.json!['compression'] as number) > 3.7, `compression ${re.json!['compression']}`);   // whole file; 4x is the int8 limit
  const ge = await run(['generate', '--model', qe, '--prompt', 'It was', '--tokens', '3', '--json']);
  assert.equal(ge.code, 0, ge.err.join('\n'));
  assert.equal(ge.json!['tokens'], 3);
});

test('image-only commands refuse a GPT with a clear error', async () => {
  const e = await run(['eval', '--model', ckpt, '--dataset', 'mnist', '--json']);
  assert.equal(e.code, 1);
  assert.match(String(e.json!['error']), /'mnist' is an image dataset; a GPT trains on text/);
  const p = await run(['eval', '--model', ckpt, '--preset', 'gpt-tiny', '--dataset', 'mnist', '--json']);
  assert.equal(p.code, 2); // --preset lists the image classifiers only
  assert.match(String(p.json?.['error'] ?? p.err.join('\n')), /gpt-tiny/);
  const pr = await run(['prune', '--model', ckpt, '--dataset', 'mnist', '--json']);
  assert.equal(pr.code, 1);
  assert.match(String(pr.json!['error']), /holds a GPT language model \(gpt-tiny: 4 layers, width 128\), but tensorslim prune works on image classifiers/);
  // distill (owned elsewhere) fails before any work; its message is its own
  assert.notEqual((await run(['distill', '--teacher', join(dir, 'mlp.safetensors'), '--student', 'gpt-tiny', '--dataset', 'mnist', '--steps', '1', '--json'])).code, 0);
});
