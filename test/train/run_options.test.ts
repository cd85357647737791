// runTraining's `augment` and `extraParameters` options. Outside truths: hand-derived SGD updates of
// an extra parameter, and invariants: with augmentation, 1 epoch + resume 1 == 2 epochs bitwise;
// augmentation changes what the model sees (and only the training split); bad specs are refused
// before anything is written.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

import { manualSeed, rand, randint, Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { Parameter } from '../../src/nn/index.js';
import { TensorDataset, type ImageClassificationData } from '../../src/data/index.js';
import { classificationLoss, runTraining, type LossFn } from '../../src/train/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-run-options-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** 48 random 28x28 "images" (train) and 16 (test), 10 classes, fixed by seed 7. */
function data(): ImageClassificationData {
  manualSeed(7);
  const mk = (n: number): TensorDataset => new TensorDataset(rand([n, 1, 28, 28]), randint(0, 10, [n], { dtype: 'int32' }));
  const train = mk(48), test = mk(16);
  return {
    kind: 'image', train, test,
    info: { kind: 'image', name: 'synthetic', numClasses: 10, inputShape: [1, 28, 28], classNames: [...'0123456789'], trainSize: 48, testSize: 16, source: 'test', split: 'random' },
  };
}
const params = (m: { parameters(): Iterable<Tensor> }): number[] => [...m.parameters()].flatMap((p) => Array.from(p.dataSync()));

describe('runTraining augment', () => {
  test('with shift augmentation, 1 epoch + resume to 2 == 2 epochs, bitwise; it changes training', async () => {
    const d = data();
    const base = { model: 'mlp-tiny', dataset: d, batchSize: 16, seed: 3, augment: 'shift:2' } as const;
    const full = await runTraining({ ...base, epochs: 2 });
    const ckpt = join(dir, 'aug.safetensors');
    await runTraining({ ...base, epochs: 1, out: ckpt });
    const resumed = await runTraining({ ...base, epochs: 2, resume: ckpt });
    assert.deepEqual(params(resumed.model), params(full.model));
    const plain = await runTraining({ ...base, augment: 'none', epochs: 2 });
    assert.notDeepEqual(params(plain.model), params(full.model));
    // resuming with another augmentation is refused, naming the one to pass
    await assert.rejects(runTraining({ ...base, augment: 'shift:1', epochs: 2, resume: ckpt }), /resume: .*was trained with augmentation shift:2, this run has shift:1; pass --augment shift:2/);
    // shift:0 is no augmentation
    const zero = await runTraining({ ...base, augment: 'shift:0', epochs: 2 });
    assert.deepEqual(params(zero.model), params(plain.model));
  });

  test('a bad spec is refused before training or writing', async () => {
    const out = join(dir, 'never.safetensors');
    await assert.rejects(runTraining({ model: 'mlp-tiny', dataset: data(), augment: 'rotate', out }), /augment: unknown augmentation 'rotate'/);
    assert.equal(existsSync(out), false);
  });
});

describe('runTraining extraParameters', () => {
  // loss = cross-entropy + sum(p^2): d/dp = 2p, independent of the model
  const withPenalty = (p: Parameter): LossFn<Tensor[]> => (model, batch) => {
    const out = classificationLoss(model, batch);
    return { ...out, loss: ops.add(out.loss, ops.sum(ops.mul(p, p))) };
  };

  test('are updated by the same optimizer: SGD (momentum 0.9) steps by hand', async () => {
    const p = new Parameter(ops.tensor([1, -2, 0.5]));
    const lr = 0.1;
    await runTraining({ model: 'mlp-tiny', dataset: data(), batchSize: 16, steps: 2, optimizer: 'sgd', lr, extraParameters: [p], lossFn: withPenalty(p) });
    // step 1: g = 2 p0, buf = g, p1 = p0 - lr g = 0.8 p0
    // step 2: g = 2 p1 = 1.6 p0, buf = 0.9 * 2 p0 + 1.6 p0 = 3.4 p0, p2 = 0.8 p0 - 0.34 p0 = 0.46 p0
    const got = Array.from(p.dataSync());
    [1, -2, 0.5].forEach((v, i) => assert.ok(Math.abs(got[i]! - 0.46 * v) < 1e-6, `p[${i}] = ${got[i]}, expected ${0.46 * v}`));
  });

  test('duplicates and frozen tensors are refused', async () => {
    const p = new Parameter(ops.tensor([1]));
    await assert.rejects(runTraining({ model: 'mlp-tiny', dataset: data(), extraParameters: [p, p] }), /extraParameters\[1\] appears twice/);
    await assert.rejects(runTraining({ model: 'mlp-tiny', dataset: data(), extraParameters: [new Parameter(ops.tensor([1]), false)] }), /extraParameters\[0\] is not a trainable parameter/);
  });
});
