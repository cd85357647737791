// `tensorslim quantize` end to end on a small model (mlp-tiny, 20 training steps on the embedded
// digits): the report's fields, the written checkpoint read back by eval and summary with the same
// accuracy, Deep Compression (pruned CSR file -> coded int8, k-means sharing) and the errors.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createAnyModel, defaultGenerator, fileBytes, saveCheckpoint } from '../../src/index.js';
import { cli, trainTinyCheckpoint } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-quantize-'));
const dense = join(dir, 'tiny.safetensors');
after(() => rmSync(dir, { recursive: true, force: true }));
before(async () => { await trainTinyCheckpoint(dense); });

describe('tensorslim quantize', () => {
  test('static: float vs int8 accuracy, sizes, latency; eval and summary read the file back', async () => {
    const out = join(dir, 'tiny-int8.safetensors');
    const r = await cli('quantize', '--model', dense, '--dataset', 'mnist', '--mode', 'static', '--observer', 'minmax', '--calibration-batches', '4', '--out', out, '--json');
    assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
    const j = r.json as Record<string, number> & { quantizedLayers: { name: string; type: string }[]; mode: string };
    assert.equal(j.mode, 'static');
    assert.deepEqual(j.quantizedLayers.map((l) => l.type), ['QuantizedLinear', 'QuantizedLinear']);
    assert.equal(j['calibrationSamples'], 4 * 64);
    assert.ok(Math.abs(j['testAccuracy']! - j['floatTestAccuracy']!) < 0.05, `int8 ${j['testAccuracy']} vs float ${j['floatTestAccuracy']}`);
    assert.ok(j['validationAccuracy']! > 0.5 && j['floatValidationAccuracy']! > 0.5);
    assert.equal(j['bytesOnDisk'], fileBytes(out));
    // 50,816 int8 weights + 8 bytes per output channel + float32 biases, vs 4 bytes per float32 parameter
    assert.ok(j['bytesOnDisk']! / j['floatBytesOnDisk']! < 0.27, `ratio ${j['bytesOnDisk']! / j['floatBytesOnDisk']!}`);
    assert.ok(j['latencyMs']! > 0 && j['floatLatencyMs']! > 0);

    const ev = await cli('eval', '--model', out, '--dataset', 'mnist', '--json');
    assert.equal(ev.code, 0, ev.ctx.stderr.join('\n'));
    assert.equal(ev.json['testAccuracy'], j['testAccuracy']);
    assert.equal(ev.json['params'], 50_890);
    assert.deepEqual(ev.json['int8Layers'], ['1', '3']);

    const s = await cli('summary', out, '--json');
    assert.equal(s.code, 0, s.ctx.stderr.join('\n'));
    const sj = s.json as { params: number; bytes: number; layers: { name: string; type: string; params: number; bytes: number }[]; int8Layers: { name: string; storage: string; weightScale: number[]; input: { scale: number } }[] };
    assert.equal(sj.params, 50_890);
    assert.deepEqual(sj.layers.filter((l) => /int8/.test(l.type)).map((l) => [l.name, l.type, l.params, l.bytes]), [
      // int8 weights, a float32 scale per row (symmetric: no zero points), float32 biases
      ['1', 'QuantizedLinear(int8, 784 -> 64) + ReLU', 784 * 64 + 64, 784 * 64 + 4 * 64 + 4 * 64],
      ['3', 'QuantizedLinear(int8, 64 -> 10)', 640 + 10, 640 + 4 * 10 + 4 * 10],
    ]);
    assert.deepEqual(sj.int8Layers.map((l) => l.storage), ['int8', 'int8']);
    assert.ok(sj.int8Layers.every((l) => l.weightScale[0]! > 0 && l.input.scale > 0));
    const text = await cli('summary', out);
    assert.match(text.ctx.stdout.join('\n'), /int8 storage, scales/);
  });

  test('dynamic and qat run; qat keeps the epoch with the best validation accuracy', async () => {
    const d = await cli('quantize', '--model', dense, '--dataset', 'mnist', '--mode', 'dynamic', '--json');
    assert.equal(d.code, 0, d.ctx.stderr.join('\n'));
    assert.deepEqual((d.json['quantizedLayers'] as { type: string }[]).map((l) => l.type), ['DynamicQuantizedLinear', 'DynamicQuantizedLinear']);
    assert.equal(d.json['calibrationSamples'], 0);
    const q = await cli('quantize', '--model', dense, '--dataset', 'mnist', '--mode', 'qat', '--epochs', '1', '--calibration-batches', '2', '--validation-fraction', '0.05', '--json');
    assert.equal(q.code, 0, q.ctx.stderr.join('\n'));
    assert.ok(q.json['bestEpoch'] === 0 || q.json['bestEpoch'] === 1);
    assert.match(q.ctx.stderr.join('\n'), /qat epoch 1: validation accuracy/);
  });

  test('Deep Compression: a pruned file quantizes to coded int8, and --share-weights stores a codebook; eval runs both', async () => {
    const pruned = join(dir, 'tiny-90.safetensors');
    const p = await cli('prune', '--model', dense, '--dataset', 'mnist', '--method', 'global', '--amount', '0.9', '--finetune-steps', '0', '--out', pruned, '--json');
    assert.equal(p.code, 0, p.ctx.stderr.join('\n'));
    const coded = join(dir, 'tiny-90-int8.safetensors'), shared = join(dir, 'tiny-90-k8.safetensors');
    const a = await cli('quantize', '--model', pruned, '--dataset', 'mnist', '--mode', 'dynamic', '--out', coded, '--json');
    assert.equal(a.code, 0, a.ctx.stderr.join('\n'));
    assert.equal(a.json['densifiedLayers'], 1);
    const b = await cli('quantize', '--model', pruned, '--dataset', 'mnist', '--mode', 'dynamic', '--share-weights', '8', '--out', shared, '--json');
    assert.equal(b.code, 0, b.ctx.stderr.join('\n'));
    const layers = (j: Record<string, unknown>): string[] => (j['layers'] as { storage: string }[]).map((l) => l.storage);
    assert.equal(layers(a.json)[0], 'int8 coded');
    assert.deepEqual(layers(b.json), ['shared 8', 'shared 8']);
    // 10% of 50,816 weights kept: coded int8 is far below 1 byte per weight, shared (3-bit codes) below that
    const floatBytes = a.json['floatBytesOnDisk'] as number;
    assert.ok((a.json['bytesOnDisk'] as number) < floatBytes / 15, `coded ${String(a.json['bytesOnDisk'])} vs float ${floatBytes}`);
    assert.ok((b.json['bytesOnDisk'] as number) < (a.json['bytesOnDisk'] as number));
    for (const [file, j] of [[coded, a.json], [shared, b.json]] as const) {
      const ev = await cli('eval', '--model', file, '--dataset', 'mnist', '--json');
      assert.equal(ev.code, 0, ev.ctx.stderr.join('\n'));
      assert.equal(ev.json['testAccuracy'], j['testAccuracy']);
      assert.equal(ev.json['nonzeroParams'], p.json['nonzeros']);
    }
    const s = await cli('summary', shared);
    assert.match(s.ctx.stdout.join('\n'), /shared 8; w /);
  });

  test('bad flags exit 2; uncalibrated, unsupported layer, GPT and quantized inputs fail clearly', async () => {
    const usage = async (re: RegExp, ...argv: string[]): Promise<void> => {
      const r = await cli('quantize', ...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.ctx.stderr.join('\n')}`);
      assert.match(r.ctx.stderr.join('\n'), re);
    };
    const base = ['--model', dense, '--dataset', 'mnist'];
    await usage(/missing --model/, '--dataset', 'mnist');
    await usage(/--bits 4: image classifiers quantize to 8 bits/, ...base, '--bits', '4');
    await usage(/--mode/, ...base, '--mode', 'int4');
    await usage(/--observer chooses the activation observer of --mode static/, ...base, '--mode', 'dynamic', '--observer', 'entropy');
    await usage(/--epochs and --lr are for --mode qat/, ...base, '--mode', 'static', '--epochs', '2');
    await usage(/--share-weights/, ...base, '--share-weights', '1');
    await usage(/--out .*--model/, ...base, '--out', dense);
    const before = readFileSync(dense);

    const fails = async (re: RegExp, ...argv: string[]): Promise<void> => {
      const r = await cli('quantize', ...argv);
      assert.equal(r.code, 1, `${argv.join(' ')}: ${r.ctx.stderr.join('\n')}`);
      assert.match(r.ctx.stderr.join('\n'), re);
    };
    await fails(/layer '1' \(Linear\(784, 64\)\) has not been calibrated; calibrate first/, ...base, '--mode', 'static', '--calibration-batches', '0');
    await fails(/unsupported layer '0' \(Flatten\)/, ...base, '--mode', 'static', '--layers', '0,1');
    assert.deepEqual(readFileSync(dense), before, 'input unchanged');

    const q = join(dir, 'q.safetensors');
    assert.equal((await cli('quantize', ...base, '--mode', 'dynamic', '--out', q)).code, 0);
    await fails(/already quantized/, '--model', q, '--dataset', 'mnist');
    // export takes it now (a QDQ graph; test/cli/export.test.ts runs it in ONNX Runtime), but not below opset 13
    const ex = await cli('export', '--model', q, '--out', join(dir, 'q.onnx'), '--opset', '11');
    assert.equal(ex.code, 2);
    assert.match(ex.ctx.stderr.join('\n'), /quantized \(int8\) checkpoint: its QDQ graph needs .*opset >= 13/);

    const gptPath = join(dir, 'gpt.safetensors');
    const gpt = createAnyModel('gpt-tiny');
    saveCheckpoint(gptPath, { model: gpt, step: 0, epoch: 0, config: null, rngState: defaultGenerator.getState(), extra: { gpt: JSON.parse(JSON.stringify(gpt.config)) as Record<string, never> } });
    await fails(/GPT language model .* quantize it with --mode weight-only/, '--model', gptPath, '--dataset', 'mnist');
  });
});
