// Choose the mnist mlp recipe without looking at the test split: hold out 1,000 of the 8,000
// training digits (a fixed random split, seed 1234), train on the other 7,000 with each candidate
// recipe, and compare accuracy on the held-out 1,000. The test split is not loaded into any decision.
// Usage: npx tsx tools/train_mnist_validate.ts [--epochs 30] [--seeds 0,1] [--candidates none,shift:1,shift:2,shift:3]
// Prints one JSON line per (candidate, seed) and a summary line (mean validation accuracy per candidate).

import { Generator } from '../src/core/random.js';
import { randperm, TensorDataset, type ImageClassificationData } from '../src/data/index.js';
import { loadImageData, runTraining } from '../src/train/index.js';

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
};
const epochs = Number(arg('epochs', '30'));
const seeds = arg('seeds', '0,1').split(',').map(Number);
const candidates = arg('candidates', 'none,shift:1,shift:2,shift:3').split(',');
const schedule = arg('schedule', 'cosine');

const full = loadImageData('mnist');
const order = randperm(full.train.length, new Generator(1234));
const val = Array.from(order.subarray(0, 1000));
const fit = Array.from(order.subarray(1000));
const data: ImageClassificationData = {
  kind: 'image',
  train: new TensorDataset(...full.train.getBatch(fit)),
  test: new TensorDataset(...full.train.getBatch(val)), // the held-out training digits, not the test split
  info: { ...full.info, name: 'mnist-train-7000/val-1000', trainSize: fit.length, testSize: val.length, split: 'random 7,000 / 1,000 of the 8,000 training digits (Generator(1234))' },
};

const summary: Record<string, number[]> = {};
for (const augment of candidates) {
  for (const seed of seeds) {
    const r = await runTraining({ model: 'mlp', dataset: data, epochs, schedule, augment, seed });
    (summary[augment] ??= []).push(r.test.accuracy);
    console.log(JSON.stringify({ augment, seed, epochs, schedule, valAccuracy: r.test.accuracy, valLoss: r.test.loss, seconds: r.fit.seconds }));
  }
}
console.log(JSON.stringify({ summary: Object.fromEntries(Object.entries(summary).map(([k, v]) => [k, { valAccuracies: v, mean: v.reduce((a, b) => a + b, 0) / v.length }])) }));
