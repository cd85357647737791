// Deep Compression storage of int8 weights: the coded stream (relative positions with fillers, then
// codes) round-trips exactly and refuses corrupt streams; k-means weight sharing keeps K values per
// layer, survives saveQuantized / loadQuantized bit for bit and makes the file smaller.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Linear, ReLU, Sequential, manualSeed, noGrad, randn, parseSafetensors, serializeSafetensors, Tensor, defaultGenerator } from '../../src/index.js';
import {
  decodeWeight, encodeInt8Weight, encodeWeight, kmeans1d, loadQuantized, quantizeDynamic, serializeQuantized, shareWeights,
  sharedWeightOf, weightFromCodes, DynamicQuantizedLinear, prepareStatic, convertStatic, QuantizedLinear, QUANTIZED_METADATA_KEY,
} from '../../src/compress/quant/index.js';
import { decodeWeightHuffman, encodeWeightHuffman, huffmanLengths } from '../../src/compress/quant/huffman.js';

/** A model whose first layer keeps ~`keep` of its weights (the rest exactly 0, as after pruning). */
function prunedModel(keep: number, inF = 64, hidden = 48, bell = false): Sequential {
  manualSeed(11);
  const m = new Sequential(new Linear(inF, hidden), new ReLU(), new Linear(hidden, 10));
  noGrad(() => {
    const w = (m.getSubmodule('0') as Linear).weight;
    const mask = new Float32Array(w.size).map(() => (defaultGenerator.uniform() < keep ? 1 : 0));
    // skewed: 80% of the kept weights at +-0.05, the rest at +-0.3 (as trained weights cluster near 0)
    const skewed = (): Tensor => new Tensor(new Float32Array(w.size).map(() => { const u = defaultGenerator.uniform(); return u < 0.4 ? 0.05 : u < 0.8 ? -0.05 : u < 0.9 ? 0.3 : -0.3; }), 'float32', w.shape);
    w.assign((bell ? skewed() : w).mul(new Tensor(mask, 'float32', w.shape)));
  });
  return m;
}

describe('coded int8 weights', () => {
  test('encode/decode round trip: empty, full, long gaps (fillers), every gap width', () => {
    const cases: number[][] = [[], [0], [5], Array.from({ length: 50 }, (_, i) => i), [0, 1, 2, 300, 301, 70_000, 70_001, 199_999]];
    for (const positions of cases) {
      const codes = positions.map((p) => (p * 7) % 256);
      const c = encodeWeight(positions, codes, 8);
      const d = decodeWeight(c, 200_000);
      assert.deepEqual([...d.positions], positions);
      assert.deepEqual([...d.codes], codes);
    }
    // the chosen gap width is the smallest stream: 1 bit for a dense run, more for sparse positions
    assert.equal(encodeWeight(Array.from({ length: 50 }, (_, i) => i), new Array(50).fill(1), 2).gapBits, 1);
    assert.ok(encodeWeight([0, 1000, 2000, 3000], [1, 1, 1, 1], 2).gapBits >= 9);
  });

  test('an int8 weight with 90% zero points is coded in well under 1 byte per weight, and rebuilt exactly', () => {
    const rows = 40, cols = 100;
    const data = new Int8Array(rows * cols);
    const zps = Int32Array.from({ length: rows }, (_, r) => (r % 3) - 1);   // affine rows too
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) data[r * cols + k] = (r * 31 + k * 17) % 10 === 0 ? ((r + k) % 200) - 100 : zps[r]!;
    const c = encodeInt8Weight(data, rows, zps);
    assert.ok(c.stream.length < 0.25 * data.length, `${c.stream.length} bytes`);
    const back = weightFromCodes(decodeWeight(c, data.length), { rows, cols, scales: new Float32Array(rows).fill(0.1), zeroPoints: zps }, null);
    assert.deepEqual(back, data);
  });

  test('corrupt streams are refused with the reason', () => {
    const c = encodeWeight([3, 9, 40], [1, 2, 3], 4);
    assert.throws(() => decodeWeight({ ...c, stream: c.stream.subarray(0, 1) }, 100), /corrupt coded weight \(the stream ends inside/);
    assert.throws(() => decodeWeight(c, 20), /corrupt coded weight \(position 40 is outside the 20 entries\)/);
    assert.throws(() => decodeWeight({ ...c, count: 2 }, 100), /bits follow the last entry|non-zero padding/);
    assert.throws(() => decodeWeight({ ...c, gapBits: 0 }, 100), /gapBits 0/);
    assert.throws(() => weightFromCodes(decodeWeight(c, 100), { rows: 1, cols: 100, scales: Float32Array.of(1), zeroPoints: Int32Array.of(0) }, Float32Array.of(0.5)), /code 1 at position 3, but the codebook has 1 entries/);
  });

  test('a pruned quantized model saves coded (smaller than dense I8) and loads bit for bit', () => {
    const model = prunedModel(0.1);
    const x = randn([5, 64]);
    quantizeDynamic(model);
    const y = model.call(x).dataSync();
    const bytes = serializeQuantized(model);
    const parsed = parseSafetensors(bytes);
    assert.equal(parsed.fileDTypes.get('0._packed_params.weight_codes'), 'U8');
    assert.ok(!parsed.tensors.has('0._packed_params.weight'));
    assert.equal(parsed.fileDTypes.get('2._packed_params.weight'), 'I8', 'the dense last layer stays dense');
    assert.equal(JSON.parse(parsed.metadata[QUANTIZED_METADATA_KEY]!).format, 4);
    const back = loadQuantized(prunedModel(0.1), bytes) as Sequential;
    assert.deepEqual((back.getSubmodule('0') as DynamicQuantizedLinear).weight.data, (model.getSubmodule('0') as DynamicQuantizedLinear).weight.data);
    assert.deepEqual(back.call(x).dataSync(), y);
  });
});

describe('Huffman-coded weights (Deep Compression stage 3)', () => {
  test('code lengths by hand; round trip of skewed gaps and codes; shorter than fixed width', () => {
    // frequencies 5, 1, 1: merge 1+1 -> 2, then 2+5: lengths 1, 2, 2 (unused symbol 0)
    assert.deepEqual([...huffmanLengths([5, 1, 1, 0])], [1, 2, 2, 0]);
    assert.deepEqual([...huffmanLengths([0, 9, 0])], [0, 1, 0]);
    // geometric-ish positions (90% pruned) and a skewed code histogram, as after k-means sharing
    manualSeed(2);
    const positions: number[] = [], codes: number[] = [];
    for (let p = 0; p < 20_000; p++) {
      if (defaultGenerator.uniform() < 0.1) { positions.push(p); const u = defaultGenerator.uniform(); codes.push(u < 0.5 ? 7 : u < 0.8 ? 8 : Math.floor(u * 16)); }
    }
    const h = encodeWeightHuffman(positions, codes, 4);
    const d = decodeWeightHuffman(h, 20_000);
    assert.deepEqual([...d.positions], positions);
    assert.deepEqual([...d.codes], codes);
    const fixed = encodeWeight(positions, codes, 4);
    assert.ok(h.stream.length + h.gapLengths.length + h.codeLengths.length < 0.9 * fixed.stream.length, `${h.stream.length} vs ${fixed.stream.length}`);
    for (const [p, c] of [[[], []], [[0], [3]], [[5, 400, 401], [1, 1, 1]]] as const) {
      const r = decodeWeightHuffman(encodeWeightHuffman(p, c, 2), 1000);
      assert.deepEqual([...r.positions], p);
      assert.deepEqual([...r.codes], c);
    }
  });

  test('corrupt tables and streams are refused', () => {
    const h = encodeWeightHuffman([3, 9, 40, 41], [1, 2, 1, 1], 2);
    assert.throws(() => decodeWeightHuffman({ ...h, stream: h.stream.subarray(0, 1) }, 100), /corrupt Huffman-coded weight \(the stream ends inside an entry\)/);
    assert.throws(() => decodeWeightHuffman({ ...h, codeLengths: Uint8Array.of(1, 1, 1, 0) }, 100), /over-full/);
    assert.throws(() => decodeWeightHuffman(h, 20), /(position 40 is outside|fillers run past) the 20 entries/);
    assert.throws(() => decodeWeightHuffman({ ...h, gapLengths: h.gapLengths.subarray(1) }, 100), /tables of/);
  });

  test('a pruned, shared model saves Huffman-coded when smaller and loads bit for bit', () => {
    // 3,300 stored weights, shared indices with a skewed histogram (~1.7 bits of entropy, not 4)
    const model = prunedModel(0.1, 256, 128, true);
    const x = randn([5, 256]);
    quantizeDynamic(model);
    shareWeights(model, { clusters: 16 });
    const y = model.call(x).dataSync();
    const bytes = serializeQuantized(model);
    const parsed = parseSafetensors(bytes);
    const info = JSON.parse(parsed.metadata[QUANTIZED_METADATA_KEY]!).layers as Record<string, { weight?: { entropy?: string } }>;
    assert.equal(info['0']!.weight!.entropy, 'huffman', JSON.stringify(info));
    assert.equal(parsed.fileDTypes.get('0._packed_params.weight_gap_lengths'), 'U8');
    const back = loadQuantized(prunedModel(0.1, 256, 128, true), bytes) as Sequential;
    assert.deepEqual(back.call(x).dataSync(), y);
    assert.deepEqual(serializeQuantized(back), bytes);
  });
});

describe('weight sharing', () => {
  test('kmeans1d: linear initialization, converges to the cluster means', () => {
    const v = Float32Array.of(0, 0.1, 0.2, 5, 5.1, 5.2, 10, 10.2);
    const { centroids, assignment } = kmeans1d(v, 3);
    assert.deepEqual([...assignment], [0, 0, 0, 1, 1, 1, 2, 2]);
    assert.ok(Math.abs(centroids[0]! - 0.1) < 1e-6 && Math.abs(centroids[1]! - 5.1) < 1e-6 && Math.abs(centroids[2]! - 10.1) < 1e-6);
  });

  test('shareWeights: K values per layer, codebook stored, round trip bit-exact, smaller file', () => {
    const model = prunedModel(0.3);
    const x = randn([6, 64]);
    prepareStatic(model, { observer: 'minmax' });
    noGrad(() => model.call(x));
    convertStatic(model);
    const plain = serializeQuantized(model).length;
    const reports = shareWeights(model, { clusters: 4 });
    assert.deepEqual(reports.map((r) => [r.layer, r.clusters]), [['0', 4], ['2', 4]]);
    const q0 = model.getSubmodule('0') as QuantizedLinear;
    assert.ok(q0 instanceof QuantizedLinear && q0.relu);
    // every stored weight's real value is within rounding of its centroid (or clamped at the row's int8 range)
    const shared = sharedWeightOf(q0)!;
    assert.equal(shared.codebook.length, 4);
    const cols = 64;
    for (let i = 0; i < shared.positions.length; i++) {
      const p = shared.positions[i]!, r = Math.floor(p / cols);
      const real = q0.weight.data[p]! * q0.weight.scales[r]!;
      const q = q0.weight.data[p]!;
      if (q === 127 || q === -128) continue;
      assert.ok(Math.abs(real - shared.codebook[shared.codes[i]!]!) <= q0.weight.scales[r]! / 2 + 1e-7, `weight ${p}`);
    }
    const y = model.call(x).dataSync();
    const bytes = serializeQuantized(model);
    assert.ok(bytes.length < plain, `${bytes.length} vs ${plain}`);
    assert.equal(parseSafetensors(bytes).tensors.get('0._packed_params.weight_codebook')!.size, 4);
    const back = loadQuantized(prunedModel(0.3), bytes) as Sequential;
    assert.deepEqual(back.call(x).dataSync(), y);
    assert.deepEqual(sharedWeightOf(back.getSubmodule('0') as QuantizedLinear)!.codebook, shared.codebook);
    assert.deepEqual(serializeQuantized(back), bytes, 're-saving a loaded shared model gives the same bytes');
    assert.throws(() => shareWeights(model, { clusters: 1 }), /clusters must be an integer in \[2, 256\]/);
    assert.throws(() => shareWeights(prunedModel(0.3), { clusters: 4 }), /no quantized layers; quantize it first/);
  });

  test('a corrupt codebook or stream is refused and the model unchanged', () => {
    const model = prunedModel(0.2);
    quantizeDynamic(model);
    shareWeights(model, { clusters: 8 });
    const bytes = serializeQuantized(model);
    const { tensors, metadata, raw } = parseSafetensors(bytes, { raw: ['I8'] });
    const bad = new Map<string, Tensor | (typeof raw extends Map<string, infer R> ? R : never)>([...tensors, ...raw]);
    bad.set('0._packed_params.weight_codebook', new Tensor(Float32Array.of(0, 1), 'float32', [2]));
    const fresh = prunedModel(0.2);
    assert.throws(() => loadQuantized(fresh, serializeSafetensors(bad, metadata)), /layer '0'.*codebook has 2 entries/);
    assert.ok(fresh.getSubmodule('0') instanceof Linear);
  });
});

describe('safetensors raw integer tensors', () => {
  test('I8 / U8 / I32 RawTensors write as their dtype and read back raw, or widened by default', () => {
    const w = Int8Array.of(-128, -1, 0, 1, 127, 5);
    const bytes = serializeSafetensors({
      w: { dtype: 'I8', shape: [2, 3], data: w }, s: { dtype: 'U8', shape: [2], data: Uint8Array.of(0, 255) },
      i: { dtype: 'I32', shape: [1], data: Int32Array.of(-7) }, f: new Tensor(Float32Array.of(1.5), 'float32', [1]),
    });
    const raw = parseSafetensors(bytes, { raw: ['I8', 'I32'] });
    assert.deepEqual(raw.raw.get('w'), { dtype: 'I8', shape: [2, 3], data: w });
    assert.deepEqual(raw.raw.get('i')!.data, Int32Array.of(-7));
    assert.ok(!raw.tensors.has('w') && raw.tensors.get('s')!.dtype === 'uint8');
    const plain = parseSafetensors(bytes);
    assert.equal(plain.fileDTypes.get('w'), 'I8');
    assert.deepEqual(plain.tensors.get('w')!.toArray(), [[-128, -1, 0], [1, 127, 5]]);
    assert.equal(plain.raw.size, 0);
    assert.throws(() => serializeSafetensors({ w: { dtype: 'I8', shape: [4], data: w } }), /shape \(4,\) holds 4 elements but the I8 data has 6/);
    assert.throws(() => serializeSafetensors({ w: { dtype: 'I8', shape: [6], data: Uint8Array.from(w) } }), /a raw I8 tensor needs a Int8Array/);
  });
});
