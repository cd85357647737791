// Kernel `softmaxCrossEntropy` (src/ops/softmax_cross_entropy.ts): a value by hand, F.crossEntropy's
// common case equal to it, errors, a float64 gradient check, and the active backend against
// primitives only.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { F, gradcheck, grad, randn, softmaxCrossEntropy, softmaxCrossEntropyReference, tensor, Generator, type Tensor } from '../../src/index.js';
import { assertClose, primitivesOnly, withBackend } from './kernel_helpers.js';

const i32 = (xs: number[]): Tensor => tensor(new Int32Array(xs));

test('softmaxCrossEntropy: mean of logsumexp - picked logit, by hand', () => {
  // row 0: logits (0, 0), target 0 -> ln 2; row 1: (ln 3, 0), target 1 -> ln 4 - 0; mean 1.5 ln 2
  const z = tensor([[0, 0], [Math.log(3), 0]], { dtype: 'float64' });
  assert.ok(Math.abs(softmaxCrossEntropy(z, i32([0, 1])).item() - 1.5 * Math.LN2) < 1e-15);
  assert.ok(Math.abs(softmaxCrossEntropyReference(z, i32([0, 1])).item() - 1.5 * Math.LN2) < 1e-15);
  assert.ok(Math.abs(F.crossEntropy(z, i32([0, 1])).item() - 1.5 * Math.LN2) < 1e-15);
});

test('softmaxCrossEntropy: errors name the op', () => {
  const z = tensor([[0, 0]], { dtype: 'float64' });
  assert.throws(() => softmaxCrossEntropy(z, tensor([0])), /softmaxCrossEntropy: target must hold int32 class indices, got float32/);
  assert.throws(() => softmaxCrossEntropy(z, i32([2])), /softmaxCrossEntropy: target 2 at row 0 is out of range for 2 classes/);
  assert.throws(() => softmaxCrossEntropy(z, i32([0, 1])), /expected logits \(N, C\) and target \(N,\), got \(1, 2\) and \(2,\)/);
});

test('softmaxCrossEntropy: float64 gradient check', () => {
  const z = randn([4, 5], { dtype: 'float64', generator: new Generator(2), requiresGrad: true });
  assert.ok(gradcheck((a) => softmaxCrossEntropy(a, i32([0, 4, 2, 2])), [z]).ok);
});

for (const dtype of ['float32', 'float64'] as const) {
  test(`softmaxCrossEntropy: active backend against primitives only, ${dtype}`, () => {
    const run = (): Tensor[] => {
      const z = randn([9, 7], { dtype, generator: new Generator(6), requiresGrad: true });
      const loss = softmaxCrossEntropy(z, i32([0, 1, 2, 3, 4, 5, 6, 0, 1]));
      return [loss, grad([loss], [z])[0]!];
    };
    const got = run(), want = withBackend(primitivesOnly(), run);
    const tol = dtype === 'float32' ? 1e-6 : 1e-13;
    got.forEach((t, i) => assertClose(t, want[i]!, tol, tol, `output ${i}`));
  });
}
