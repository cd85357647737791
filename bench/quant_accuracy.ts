// Quantization accuracy and size experiments of issue #20 (docs/QUANTIZATION.md), run through the CLI
// in-process, so every number is what these commands print:
//
//   tensorslim train --model P --dataset fashion-mnist --epochs E --seed 0 --validation-fraction 0.1 --out P.safetensors
//   tensorslim quantize --model P.safetensors --dataset fashion-mnist --mode dynamic|static|qat [--observer O] [--epochs 1] --json
//   Deep Compression (mlp = LeNet-300-100):
//   tensorslim prune --model mlp.safetensors --dataset fashion-mnist --method global --amount A --schedule gradual --finetune-epochs F --validation-fraction 0.1 --out mlp-pruned.safetensors
//   tensorslim quantize --model mlp-pruned.safetensors --dataset fashion-mnist --mode static [--share-weights K] --out mlp-dc.safetensors --json
//   The validation split (--validation-fraction, same seed) is held out of train, prune and quantize,
//   so the recipe (amount, clusters) chosen on it is chosen on unseen samples; test is only reported.
//
// Targets: static PTQ loses <= 0.5 points, QAT <= 0.2; prune + int8 (+ sharing) >= 30x smaller than
// the dense float32 weights file within 0.5 points. Every choice inside quantize (QAT's epoch) is made
// on a validation split of the training set; the test accuracy is only reported.
//
//   npx tsx bench/quant_accuracy.ts [--models mlp,lenet5] [--epochs mlp=10,lenet5=5] [--amount 0.9[,0.92]] [--validation-fraction 0.1]
//       [--finetune-epochs 10] [--share 16,32] [--qat-epochs 2] [--cache DIR] [--skip-dc] [--out FILE]
//       [--modes dynamic,static-histogram,static-minmax,static-entropy,qat]   (the PTQ/QAT rows to run)
//
// Records benchmark 'quant-accuracy' (bench/results/quant-accuracy.json) with the machine description.

import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { captureContext, main } from '../src/cli/index.js';
import { machineInfo, writeJsonAtomic, writeResult, type Json } from './common.js';

const { values: opts } = parseArgs({
  options: {
    models: { type: 'string', default: 'mlp,lenet5' },
    epochs: { type: 'string', default: 'mlp=10,lenet5=5' },
    amount: { type: 'string', default: '0.9' },
    'finetune-epochs': { type: 'string', default: '10' },
    share: { type: 'string', default: '16,32' },
    'qat-epochs': { type: 'string', default: '2' },
    dataset: { type: 'string', default: 'fashion-mnist' },
    cache: { type: 'string', default: join(tmpdir(), 'tensorslim-quant-accuracy') },
    'skip-dc': { type: 'boolean', default: false },
    'skip-ptq': { type: 'boolean', default: false },
    'validation-fraction': { type: 'string', default: '0.1' },
    modes: { type: 'string', default: 'dynamic,static-histogram,static-minmax,static-entropy,qat' },
    out: { type: 'string' },
  },
});

const commands: string[] = [];
async function run(...argv: string[]): Promise<Json> {
  commands.push(`tensorslim ${argv.join(' ')}`);
  process.stderr.write(`$ tensorslim ${argv.join(' ')}\n`);
  const ctx = captureContext({});
  const t0 = performance.now();
  const code = await main([...argv, '--json'], ctx);
  if (code !== 0) throw new Error(`tensorslim ${argv.join(' ')} exited ${code}: ${ctx.stderr.join('\n')}`);
  const j = JSON.parse(ctx.stdout.filter((l) => l !== '').at(-1)!) as Json;
  process.stderr.write(`  ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
  return j;
}

const pick = (j: Json, keys: string[]): Json => Object.fromEntries(keys.map((k) => [k, j[k]]));
const QKEYS = ['mode', 'observer', 'testAccuracy', 'floatTestAccuracy', 'accuracyDrop', 'validationAccuracy', 'floatValidationAccuracy', 'bytesOnDisk', 'floatBytesOnDisk', 'compression', 'latencyMs', 'floatLatencyMs', 'bestEpoch', 'calibrationSamples', 'seconds'];

const date = new Date().toISOString();
mkdirSync(opts.cache!, { recursive: true });
const data = opts.dataset!;
const vf = opts['validation-fraction']!;   // held out of train and prune too: quantize validates on unseen samples
const epochs = Object.fromEntries(opts.epochs!.split(',').map((s) => s.split('=') as [string, string]));
const results: Json[] = [];
const deep: Json[] = [];
let denseRef = { testAccuracy: NaN, validationAccuracy: NaN };
/** The record so far, written after every command to `<out or cache>/partial.json` (a long run keeps what it measured). */
const partial = (): void => writeJsonAtomic(opts.out !== undefined ? `${opts.out}.partial` : join(opts.cache!, 'partial.json'), { date, ptq: results, deepCompression: deep, commands });
for (const model of opts.models!.split(',')) {
  const ck = join(opts.cache!, `${model}-${data}-e${epochs[model] ?? 5}-v${vf}.safetensors`);
  if (!existsSync(ck)) await run('train', '--model', model, '--dataset', data, '--epochs', String(epochs[model] ?? 5), '--seed', '0', '--validation-fraction', vf, '--out', ck);
  if (!opts['skip-ptq']) {
    const all = { 'dynamic': ['dynamic', []], 'static-histogram': ['static', ['--observer', 'histogram']], 'static-minmax': ['static', ['--observer', 'minmax']],
      'static-entropy': ['static', ['--observer', 'entropy']], 'qat': ['qat', ['--epochs', opts['qat-epochs']!]] } as const;
    for (const key of opts.modes!.split(',')) {
      if (!(key in all)) throw new Error(`--modes: unknown mode '${key}'; choose from ${Object.keys(all).join(', ')}`);
      const [mode, extra] = all[key as keyof typeof all];
      const j = await run('quantize', '--model', ck, '--dataset', data, '--mode', mode, ...extra);
      results.push({ model, ...pick(j, QKEYS) });
      partial();
    }
  }
  if (model === 'mlp' && !opts['skip-dc']) {
    // the dense model's validation accuracy: quantize reports its input's float accuracy on the held-out split
    const dense = await run('quantize', '--model', ck, '--dataset', data, '--mode', 'dynamic', '--validation-fraction', vf);
    denseRef = { testAccuracy: dense['floatTestAccuracy'] as number, validationAccuracy: dense['floatValidationAccuracy'] as number };
    for (const amount of opts.amount!.split(',')) {
      const pruned = join(opts.cache!, `mlp-${data}-pruned-${amount}-ft${opts['finetune-epochs']}-v${vf}.safetensors`);
      let prune: Json | null = null;
      if (!existsSync(pruned)) {
        prune = await run('prune', '--model', ck, '--dataset', data, '--method', 'global', '--amount', amount, '--schedule', 'gradual', '--finetune-epochs', opts['finetune-epochs']!, '--validation-fraction', vf, '--out', pruned);
      }
      for (const k of ['none', ...opts.share!.split(',')]) {
        const j = await run('quantize', '--model', pruned, '--dataset', data, '--mode', 'static', '--validation-fraction', vf, ...(k === 'none' ? [] : ['--share-weights', k]));
        deep.push({
          model, amount: Number(amount), finetuneEpochs: Number(opts['finetune-epochs']), sharedClusters: k === 'none' ? null : Number(k),
          denseTestAccuracy: denseRef.testAccuracy, denseValidationAccuracy: denseRef.validationAccuracy, prunedTestAccuracy: prune?.['testAccuracy'] ?? j['floatTestAccuracy'],
          dropFromDense: denseRef.testAccuracy - (j['testAccuracy'] as number),
          validationDropFromDense: denseRef.validationAccuracy - (j['validationAccuracy'] as number),
          ...pick(j, QKEYS),
          layers: j['layers'],
        });
        partial();
      }
    }
  }
}
// the recipe is chosen on validation (never on test): the smallest file within 0.5 points of the
// dense model's validation accuracy; its test figures are what is reported
const eligible = deep.filter((r) => (r['validationDropFromDense'] as number) <= 0.005);
const chosen = eligible.length === 0 ? null : eligible.reduce((a, b) => ((b['bytesOnDisk'] as number) < (a['bytesOnDisk'] as number) ? b : a));
const record = {
  date, dataset: data, models: opts.models, epochs,
  machine: machineInfo(),
  note: 'int8 kernels: whatever the backend lists (the TypeScript reference until the native int8 kernels land), so latencyMs is not a speed claim',
  validationFraction: Number(vf),
  protocol: 'train, prune and quantize all hold out the same validation split (--validation-fraction, seed 0); the Deep Compression recipe is the smallest file whose validation accuracy is within 0.5 points of the dense model\'s; test accuracy is only reported',
  ptq: results, deepCompression: deep, chosen, commands,
};
if (opts.out !== undefined) writeJsonAtomic(opts.out, record);
else process.stderr.write(`${JSON.stringify(writeResult('quant-accuracy', record))}\n`);
console.log(JSON.stringify(record));
