// Weight-only int8 / grouped int4 Linear layers (the GPT's) and bfloat16 weight storage: the
// quantizer's numbers by hand, the kernel against the float matmul of the dequantized weight (and
// a backend's own kernel against the TypeScript twin), a small GPT quantized, saved and loaded bit
// for bit, BF16 bits against torch, and bad input refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  GPT, Linear, Tensor, gptConfig, manualSeed, noGrad, randn, getBackend, randint,
  floatToBfloat16, bfloat16ToFloat, parseSafetensors, serializeSafetensors,
} from '../../src/index.js';
import {
  WeightOnlyLinear, WeightOnlyEmbedding, quantizeWeightOnly, quantizeWeightOnlyTensor, dequantizeWeightOnly, serializeQuantizedGpt, loadQuantizedGpt,
  quantizedLayerStats,
} from '../../src/compress/quant/index.js';
import { weightOnlyLinearPanels } from '../../src/compress/quant/weight_only.js';
import { weightOnlyLinearReference } from '../../src/backend/weight_only.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

function tinyGpt(): GPT {
  manualSeed(3);
  return new GPT(gptConfig('gpt-tiny', { nLayer: 1, nEmbd: 64, nHead: 2, blockSize: 16 }));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('weight-only quantization', () => {
  test('quantizer: symmetric and affine int4 groups by hand', () => {
    // one row, two groups of 4. Symmetric group 0: max|w| = 3 -> scale 3/7, q = round(w * 7/3) + 8.
    const w = Float32Array.of(1, -2, 3, 0.5, 0, 0, 0, 0);
    const s = quantizeWeightOnlyTensor(w, 1, 8, { bits: 4, groupSize: 4 });
    assert.equal(s.scales[0], Math.fround(3 / 7));
    assert.equal(s.scales[1], 1);   // an all-zero group
    assert.deepEqual([...s.zeroPoints], [8, 8]);
    // q = [2, -5, 7, 1] + 8 = [10, 3, 15, 9]; packed low nibble first: 10 | 3 << 4, 15 | 9 << 4, then 8 | 8 << 4 twice
    assert.deepEqual([...s.data], [10 | (3 << 4), 15 | (9 << 4), 0x88, 0x88]);
    // affine group 0: lo = -2, hi = 3, scale = 5/15, zero point = round(0 + 2 / (1/3)) = 6
    const a = quantizeWeightOnlyTensor(w, 1, 8, { bits: 4, groupSize: 4, scheme: 'affine' });
    assert.equal(a.scales[0], Math.fround(5 / 15));
    assert.equal(a.zeroPoints[0], 6);
    const back = dequantizeWeightOnly(a);
    for (let k = 0; k < 4; k++) assert.ok(Math.abs(back[k]! - w[k]!) <= a.scales[0]! / 2 + 1e-6, `k=${k}: ${back[k]} vs ${w[k]}`);
    // int8 per channel: scale = max|w| / 127 per row
    const i8 = quantizeWeightOnlyTensor(Float32Array.of(1, -2, 0.5, 4), 2, 2, { bits: 8 });
    assert.deepEqual([...i8.scales], [Math.fround(2 / 127), Math.fround(4 / 127)]);
    assert.deepEqual([...i8.data], [64, -127, 16, 127]);   // 63.5 rounds to even 64
  });

  test('kernel: equals the float matmul of the dequantized weight; the backend kernel agrees with the twin', () => {
    manualSeed(1);
    const be = getBackend();
    for (const [M, K, N, bits, G, scheme] of [[1, 64, 5, 4, 32, 'symmetric'], [3, 96, 7, 4, 32, 'affine'], [5, 66, 3, 8, 66, 'symmetric'], [2, 128, 9, 8, 64, 'affine'], [4, 130, 6, 4, 2, 'affine'], [9, 64, 520, 4, 64, 'affine']] as const) {
      const wf = randn([N, K]).dataSync() as Float32Array;
      const w = quantizeWeightOnlyTensor(wf, N, K, { bits, groupSize: G, scheme });
      const x = randn([M, K]).dataSync() as Float32Array;
      const bias = randn([N]).dataSync() as Float32Array;
      const dq = dequantizeWeightOnly(w);
      const want = new Float64Array(M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) { let acc = bias[n]!; for (let k = 0; k < K; k++) acc += x[m * K + k]! * dq[n * K + k]!; want[m * N + n] = acc; }
      const ref = weightOnlyLinearReference(x, M, w, bias);
      assert.ok(maxAbsDiff(ref, want) < 1e-5, `reference M${M} K${K} N${N} int${bits} g${G}`);
      const panels = weightOnlyLinearPanels(x, M, w, bias);
      assert.ok(maxAbsDiff(panels, ref) < 1e-4, `panels M${M} K${K} N${N} int${bits} g${G}`);
      if (be.weightOnlyLinear) {
        const got = be.weightOnlyLinear(x, M, w, bias);
        assert.ok(maxAbsDiff(got, ref) < 1e-4, `${be.name} weightOnlyLinear M${M} K${K} N${N} int${bits} g${G} ${scheme}: ${maxAbsDiff(got, ref)}`);
      }
    }
  });

  test('GPT: int8 and int4 logits near float; checkpoint round trip is bit-exact (F32 and BF16 floats)', () => {
    const idx = randint(0, 256, [2, 16], { dtype: 'int32' });
    const float = tinyGpt();
    float.eval();
    const yf = noGrad(() => float.call(idx)).dataSync();
    for (const [bits, groupSize, tol] of [[8, undefined, 0.02], [4, 32, 0.25]] as const) {
      const model = tinyGpt();
      model.eval();
      const swapped = quantizeWeightOnly(model, { bits, groupSize });
      assert.deepEqual(swapped, ['transformer.h.0.attn.c_attn', 'transformer.h.0.attn.c_proj', 'transformer.h.0.mlp.c_fc', 'transformer.h.0.mlp.c_proj']);
      assert.ok(model.lm_head instanceof Linear, 'the tied LM head stays float');
      const yq = noGrad(() => model.call(idx)).dataSync();
      const d = maxAbsDiff(yq, yf);
      assert.ok(d > 0 && d < tol, `int${bits}: max |logit diff| ${d}`);
      for (const floatDType of ['F32', 'BF16'] as const) {
        const bytes = serializeQuantizedGpt(model, { tokenizer: 'byte' }, { floatDType });
        const { model: back, tokenizer } = loadQuantizedGpt(bytes);
        assert.equal(tokenizer, 'byte');
        const yb = noGrad(() => back.call(idx)).dataSync();
        if (floatDType === 'F32') assert.deepEqual(yb, yq);
        else assert.ok(maxAbsDiff(yb, yq) < 0.05, `BF16 floats: ${maxAbsDiff(yb, yq)}`);
        const st = quantizedLayerStats(back);
        assert.equal(st.length, 4);
        assert.match(st[0]!.type, new RegExp(`int${bits}`));
      }
    }
  });

  test('GPT embeddings: dequantize on gather, the tied LM head reads the same table, stored once, tie restored', () => {
    const idx = randint(0, 256, [2, 16], { dtype: 'int32' });
    const float = tinyGpt();
    float.eval();
    const yf = noGrad(() => float.call(idx)).dataSync();
    // float embeddings: the tied matrix is stored once (lm_head.weight names it), and the tie comes back
    const plain = tinyGpt();
    plain.eval();
    quantizeWeightOnly(plain, { bits: 8 });
    const plainBytes = serializeQuantizedGpt(plain);
    assert.ok(!parseSafetensors(plainBytes, { raw: ['I8'] }).tensors.has('lm_head.weight'));
    const plainBack = loadQuantizedGpt(plainBytes).model;
    assert.equal(plainBack.lm_head.weight, plainBack.transformer.wte.weight);
    assert.deepEqual(noGrad(() => plainBack.call(idx)).dataSync(), noGrad(() => plain.call(idx)).dataSync());
    for (const [bits, groupSize, tol] of [[8, undefined, 0.03], [4, 32, 0.4]] as const) {
      const model = tinyGpt();
      model.eval();
      const swapped = quantizeWeightOnly(model, { bits, groupSize, embeddings: true });
      assert.deepEqual(swapped.slice(-3), ['transformer.wte', 'transformer.wpe', 'lm_head']);
      const wte = model.transformer.wte as unknown as WeightOnlyEmbedding;
      assert.ok(wte instanceof WeightOnlyEmbedding);
      assert.equal((model.lm_head as unknown as WeightOnlyLinear).weight, wte.weight, 'one table for the embedding and the head');
      // the gather is the dequantized table's rows
      const table = dequantizeWeightOnly(wte.weight);
      const rows = wte.call(new Tensor(Int32Array.of(5, 0, 255), 'int32', [3])).dataSync();
      assert.deepEqual(rows, Float32Array.from([...table.subarray(5 * 64, 6 * 64), ...table.subarray(0, 64), ...table.subarray(255 * 64, 256 * 64)]));
      assert.throws(() => wte.call(new Tensor(Int32Array.of(256), 'int32', [1])), /index 256 at flat position 0 is out of range \[0, 256\)/);
      const yq = noGrad(() => model.call(idx)).dataSync();
      const d = maxAbsDiff(yq, yf);
      assert.ok(d > 0 && d < tol, `int${bits}: max |logit diff| ${d}`);
      const bytes = serializeQuantizedGpt(model, { tokenizer: 'byte' });
      const names = [...parseSafetensors(bytes, { raw: ['I8'] }).tensors.keys(), ...parseSafetensors(bytes, { raw: ['I8'] }).raw.keys()];
      assert.ok(names.includes('transformer.wte.qweight') && !names.some((n) => n.startsWith('lm_head.')), names.join());
      assert.ok(bytes.length < plainBytes.length, `${bytes.length} < ${plainBytes.length}`);
      const back = loadQuantizedGpt(bytes).model;
      assert.equal((back.lm_head as unknown as WeightOnlyLinear).weight, (back.transformer.wte as unknown as WeightOnlyEmbedding).weight, 'tie restored');
      assert.deepEqual(noGrad(() => back.call(idx)).dataSync(), yq);
      const st = quantizedLayerStats(back);
      assert.match(st.find((r) => r.name === 'lm_head')!.storage, /tied to transformer\.wte/);
      assert.equal(st.find((r) => r.name === 'lm_head')!.bytes, 0);
    }
  });

  test('bad input: group size, corrupt scale, model left unchanged', () => {
    const model = tinyGpt();
    assert.throws(() => quantizeWeightOnly(model, { bits: 4, groupSize: 48 }), /group size 48 must divide the 64 input features/);
    assert.ok(model.namedModules().every(([, m]) => !(m instanceof WeightOnlyLinear)), 'nothing swapped');
    assert.throws(() => quantizeWeightOnly(model, { bits: 3 as 4 }), /bits must be 4 or 8/);
    quantizeWeightOnly(model, { bits: 4, groupSize: 32 });
    const bytes = serializeQuantizedGpt(model);
    const { tensors, metadata, raw } = parseSafetensors(bytes, { raw: ['I8'] });
    const scales = tensors.get('transformer.h.0.mlp.c_fc.scales')!;
    const bad = scales.dataSync().slice() as Float32Array;
    bad[3] = 0;
    const corrupt = new Map<string, Tensor | (typeof raw extends Map<string, infer R> ? R : never)>([...tensors, ...raw]);
    corrupt.set('transformer.h.0.mlp.c_fc.scales', new Tensor(bad, 'float32', scales.shape));
    assert.throws(() => loadQuantizedGpt(serializeSafetensors(corrupt, metadata)), /transformer\.h\.0\.mlp\.c_fc.*scale 0 at group 3/);
    assert.throws(() => new WeightOnlyLinear(quantizeWeightOnlyTensor(new Float32Array(8), 2, 4, { bits: 8 }), null, 'symmetric').call(randn([2, 5])), /input last dimension must be 4/);
  });
});

describe('bfloat16 storage', () => {
  test('float32 -> bfloat16 -> float32 matches torch bit for bit (round to nearest even, NaN, overflow)', () => {
    const fx = JSON.parse(readFileSync(join(FIXTURES, 'bf16.json'), 'utf8')) as { float32Bits: number[]; bfloat16Bits: number[]; float32BackBits: number[] };
    const f = new Float32Array(Uint32Array.from(fx.float32Bits).buffer);
    const h = floatToBfloat16(f);
    for (let i = 0; i < f.length; i++) assert.equal(h[i], fx.bfloat16Bits[i], `value ${i}: float32 bits 0x${fx.float32Bits[i]!.toString(16)}`);
    assert.deepEqual([...new Uint32Array(bfloat16ToFloat(h).buffer)], fx.float32BackBits);
    // through a file: serializeSafetensors(..., { floatDType: 'BF16' }) writes BF16, parseSafetensors upcasts
    const bytes = serializeSafetensors({ w: new Tensor(f, 'float32', [f.length]) }, undefined, { floatDType: 'BF16' });
    const p = parseSafetensors(bytes);
    assert.equal(p.fileDTypes.get('w'), 'BF16');
    assert.deepEqual([...new Uint32Array((p.tensors.get('w')!.dataSync() as Float32Array).slice().buffer)], fx.float32BackBits);
  });
});
