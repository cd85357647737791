// Quantized checkpoints: bit-exact round trip (dynamic and static), torch-style key names, size
// about a quarter of float32, and corrupt or mismatched files refused with the model unchanged.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  Linear, ReLU, Sequential, manualSeed, noGrad, randn, parseSafetensors, serializeSafetensors, fileBytes, saveSafetensors, LayerNorm,
  Conv2d, MaxPool2d, Flatten, type AnyModule,
} from '../../src/index.js';
import {
  DynamicQuantizedLinear, QuantizedLinear, convertStatic, loadQuantized, prepareStatic, quantizeDynamic, saveQuantized,
  serializeQuantized, QUANTIZED_METADATA_KEY, QuantizedConv2d,
} from '../../src/compress/quant/index.js';

function lenet300(): Sequential {
  manualSeed(5);
  return new Sequential(new Linear(784, 300), new ReLU(), new Linear(300, 100), new ReLU(), new Linear(100, 10));
}

describe('quantized checkpoints', () => {
  test('dynamic: round trip is bit-exact, keys follow torch, file ~0.26x of float32', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsq-'));
    try {
      const model = lenet300();
      const floatPath = join(dir, 'f32.safetensors');
      saveSafetensors(floatPath, model.stateDict());
      const x = randn([4, 784]);
      quantizeDynamic(model);
      const y = model.call(x).dataSync();
      const qPath = join(dir, 'int8.safetensors');
      saveQuantized(qPath, model);
      const ratio = fileBytes(qPath) / fileBytes(floatPath);
      assert.ok(ratio > 0.24 && ratio <= 0.27, `size ratio ${ratio}`);
      const parsed = parseSafetensors(serializeQuantized(model));
      assert.equal(parsed.fileDTypes.get('0._packed_params.weight'), 'I8');
      assert.ok(parsed.tensors.has('2._packed_params.bias'));
      assert.ok(QUANTIZED_METADATA_KEY in parsed.metadata);
      const back = loadQuantized(lenet300(), qPath) as Sequential;
      const a = model.getSubmodule('0') as DynamicQuantizedLinear, b = back.getSubmodule('0') as DynamicQuantizedLinear;
      assert.ok(b instanceof DynamicQuantizedLinear);
      assert.deepEqual(b.weight.data, a.weight.data);
      assert.deepEqual(b.weight.scales, a.weight.scales);
      assert.deepEqual(b.bias, a.bias);
      assert.deepEqual(back.call(x).dataSync(), y);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('static with a float layer left over: round trip is bit-exact', () => {
    manualSeed(2);
    const build = (): Sequential => new Sequential(new Linear(8, 6), new ReLU(), new LayerNorm(6), new Linear(6, 3));
    const model = build();
    const x = randn([16, 8]);
    noGrad(() => { for (const p of model.parameters()) p.assign(randn(p.shape)); });
    prepareStatic(model, { observer: 'minmax' });
    noGrad(() => model.call(x));
    convertStatic(model);
    const bytes = serializeQuantized(model);
    const back = loadQuantized(build(), bytes) as Sequential;
    const q = back.getSubmodule('0') as QuantizedLinear;
    assert.ok(q instanceof QuantizedLinear && q.relu);
    // the fused ReLU's slot is an Identity again, as after convertStatic (summary shows no ReLU row)
    assert.equal(back.getSubmodule('1').constructor.name, model.getSubmodule('1').constructor.name);
    assert.equal(back.getSubmodule('1').constructor.name, 'Identity');
    assert.deepEqual(q.input, (model.getSubmodule('0') as QuantizedLinear).input);
    assert.deepEqual(back.call(x).dataSync(), model.call(x).dataSync());
    assert.deepEqual(back.getSubmodule('2').stateDict().get('weight')!.dataSync(), model.getSubmodule('2').stateDict().get('weight')!.dataSync());
  });
  test('corrupt or mismatched files are refused and the model is unchanged', () => {
    const model = lenet300();
    quantizeDynamic(model);
    const bytes = serializeQuantized(model);
    const fresh = lenet300();
    const check = (b: Uint8Array, re: RegExp, target = fresh): void => {
      assert.throws(() => loadQuantized(target, b), re);
      assert.ok(target.getSubmodule('0') instanceof Linear, 'model unchanged');
    };
    check(bytes.subarray(0, bytes.length - 10), /loadQuantized/);
    const garbled = bytes.slice(); garbled[12] = 0x7b; // break the JSON header
    check(garbled, /loadQuantized/);
    check(serializeSafetensors(fresh.stateDict()), /not a quantized checkpoint/);
    check(bytes, /layer '0' is Linear\(784, 200\) in the model but Linear\(784, 300\) in the file/,
      new Sequential(new Linear(784, 200), new ReLU(), new Linear(300, 100), new ReLU(), new Linear(100, 10)));
    assert.throws(() => serializeQuantized(lenet300()), /no quantized layers/);
    // a zero scale in the file (as a corrupt or hand-edited file could hold) is named, not loaded
    const zeroScale = lenet300();
    quantizeDynamic(zeroScale);
    (zeroScale.getSubmodule('2') as DynamicQuantizedLinear).weight.scales[7] = 0;
    check(serializeQuantized(zeroScale), /loadQuantized: layer '2': QuantizedTensor: scale of channel 7 must be a positive finite number, got 0/);
  });

  // test/fixtures/quant_format1.safetensors: written by serializeQuantized at commit a0e188b (format 1,
  // every tensor under its torch-like name) from fixtureModel() with seed 11: static Conv2d+ReLU
  // (symmetric weights), static Linear+ReLU with per-channel affine weights (nonzero zero points),
  // dynamic Linear; calibrated on 3 batches of randn([4, 1, 4, 4]).
  const fixtureModel = (): Sequential => new Sequential(new Conv2d(1, 2, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(8, 4), new ReLU(), new Linear(4, 3));
  const nativeOnly = process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'file format (no kernel): native pass only' : false;
  const layersOf = (m: AnyModule): Record<string, unknown> => Object.fromEntries(m.namedModules()
    .filter(([, l]) => l instanceof QuantizedConv2d || l instanceof QuantizedLinear || l instanceof DynamicQuantizedLinear)
    .map(([p, l]) => {
      const q = l as QuantizedLinear;
      return [p, { w: [...q.weight.data], s: [...q.weight.scales], z: [...q.weight.zeroPoints], b: q.bias === null ? null : [...q.bias], i: q.input ?? null, o: q.output ?? null }];
    }));
  test('format 1 files load bit-exactly; format 4 drops symmetric zero points and input tensors, round trips bit-exactly', { skip: nativeOnly }, () => {
    const old = new Uint8Array(readFileSync(new URL('../fixtures/quant_format1.safetensors', import.meta.url)));
    const f1 = parseSafetensors(old, { raw: ['I8'] });
    assert.equal(JSON.parse(f1.metadata[QUANTIZED_METADATA_KEY]!).format, 1);
    const a = loadQuantized(fixtureModel(), old) as Sequential;
    // every stored value arrives unchanged
    const got = layersOf(a) as Record<string, { w: number[]; s: number[]; z: number[]; b: number[]; i: { scale: number; zeroPoint: number } | null }>;
    for (const p of ['0', '4', '6']) {
      assert.deepEqual(got[p]!.w, [...f1.raw.get(`${p}._packed_params.weight`)!.data], `layer ${p} weight`);
      assert.deepEqual(got[p]!.s, [...f1.tensors.get(`${p}._packed_params.weight_scales`)!.dataSync()]);
      assert.deepEqual(got[p]!.z, [...f1.tensors.get(`${p}._packed_params.weight_zero_points`)!.dataSync()]);
      assert.deepEqual(got[p]!.b, [...f1.tensors.get(`${p}._packed_params.bias`)!.dataSync()]);
    }
    assert.equal(got['4']!.i!.scale, f1.tensors.get('4.input_scale')!.item());
    assert.ok(got['4']!.z.some((z) => z !== 0), 'the fixture has an affine layer');
    const bytes = serializeQuantized(a);
    const f4 = parseSafetensors(bytes, { raw: ['I8'] });
    assert.equal(JSON.parse(f4.metadata[QUANTIZED_METADATA_KEY]!).format, 4);
    assert.ok(!f4.tensors.has('0._packed_params.weight_zero_points') && !f4.tensors.has('6._packed_params.weight_zero_points'), 'symmetric: no zero points');
    assert.ok(f4.tensors.has('4._packed_params.weight_zero_points'), 'affine: zero points kept');
    assert.ok(!f4.tensors.has('4.input_scale') && f4.tensors.has('4.scale') && f4.tensors.has('4.zero_point'));
    assert.ok(bytes.length < old.length, `${bytes.length} < ${old.length}`);
    const b = loadQuantized(fixtureModel(), bytes) as Sequential;
    assert.deepEqual(layersOf(b), layersOf(a));
    const x = randn([2, 1, 4, 4]);
    assert.deepEqual(b.call(x).dataSync(), a.call(x).dataSync());
    assert.deepEqual(serializeQuantized(b), bytes, 'saving the loaded model gives the same bytes');
  });
  test('corrupt format 4 and format 1 files are refused naming the layer, the model unchanged', { skip: nativeOnly }, () => {
    const old = new Uint8Array(readFileSync(new URL('../fixtures/quant_format1.safetensors', import.meta.url)));
    const bytes = serializeQuantized(loadQuantized(fixtureModel(), old));
    const edit = (src: Uint8Array, f: (layers: Record<string, Record<string, unknown>>, t: Map<string, unknown>) => void): Uint8Array => {
      const p = parseSafetensors(src, { raw: ['I8'] });
      const d = JSON.parse(p.metadata[QUANTIZED_METADATA_KEY]!) as { layers: Record<string, Record<string, unknown>> };
      const t = new Map<string, unknown>([...p.tensors, ...p.raw]);
      f(d.layers, t);
      return serializeSafetensors(t as Parameters<typeof serializeSafetensors>[0], { ...p.metadata, [QUANTIZED_METADATA_KEY]: JSON.stringify(d) });
    };
    const check = (b: Uint8Array, re: RegExp): void => {
      const fresh = fixtureModel();
      assert.throws(() => loadQuantized(fresh, b), re);
      assert.ok(fresh.getSubmodule('0') instanceof Conv2d && fresh.getSubmodule('4') instanceof Linear && fresh.getSubmodule('5') instanceof ReLU, 'model unchanged');
    };
    check(edit(bytes, (l) => { l['4']!['input'] = [0, 0]; }), /layer '4': .*input scale must be a positive finite number, got 0/);
    check(edit(bytes, (l) => { l['4']!['input'] = [Number.NaN, 0]; }), /layer '4': the metadata entry's input qparams are \[null,0\]/);
    check(edit(bytes, (l) => { l['0']!['input'] = [0.1, 300]; }), /layer '0': the metadata entry's input qparams .*zero point in 0\.\.255/);
    check(edit(bytes, (l) => { delete l['4']!['input']; }), /layer '4': the metadata entry's input qparams are undefined/);
    check(edit(bytes, (l) => { l['6'] = 7 as unknown as Record<string, unknown>; }), /corrupt or unknown 'tensorslim.quantized' metadata \(a layer entry is not an object\)/);
    check(edit(bytes, (l) => { l['0']!['conv'] = { kernelSize: [3, 3] }; }), /layer '0' is Conv2d in the model but a quantized Conv2d\(1, 2, kernelSize=3x3\) with other geometry/);
    check(edit(bytes, (_l, t) => { t.delete('4._packed_params.weight_zero_points'); }), /layer '4': the file lacks '4._packed_params.weight_zero_points'/);
    check(edit(bytes, (_l, t) => { t.set('0._packed_params.weight_zero_points', t.get('4._packed_params.weight_zero_points')); }), /the file has tensors this model does not: 0._packed_params.weight_zero_points/);
    // a format 1 file must hold every zero-point tensor (absent = 0 only from format 4)
    check(edit(old, (_l, t) => { t.delete('0._packed_params.weight_zero_points'); }), /layer '0': the file lacks '0._packed_params.weight_zero_points'/);
    check(edit(old, (_l, t) => { t.delete('4.input_scale'); }), /layer '4': the file lacks '4.input_scale'/);
  });
});
