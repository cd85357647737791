// Quantized checkpoints: bit-exact round trip (dynamic and static), torch-style key names, size
// about a quarter of float32, and corrupt or mismatched files refused with the model unchanged.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  Linear, ReLU, Sequential, manualSeed, noGrad, randn, parseSafetensors, serializeSafetensors, fileBytes, saveSafetensors, LayerNorm,
} from '../../src/index.js';
import {
  DynamicQuantizedLinear, QuantizedLinear, convertStatic, loadQuantized, prepareStatic, quantizeDynamic, saveQuantized,
  serializeQuantized, QUANTIZED_METADATA_KEY,
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
});
