// Kernel `linear` (src/ops/linear.ts): hand-computed values, the shape rule's errors, a float64
// gradient check, and the op on the active backend (fused where it has the kernel) against the same
// op on a backend with primitives only (every step composed), forward and gradients.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { F, Linear, fusedLinear, gradcheck, grad, linearReference, randn, tensor, Generator, type Tensor } from '../../src/index.js';
import { assertClose, primitivesOnly, withBackend } from './kernel_helpers.js';

const x = (): Tensor => tensor([[1, 2], [3, 4]], { dtype: 'float64' });
const w = (): Tensor => tensor([[1, 0], [0, -1], [1, 1]], { dtype: 'float64' });
const b = (): Tensor => tensor([0.5, 0.5, -10], { dtype: 'float64' });

test('linear: x W^T + b and its ReLU, by hand', () => {
  // row 0: [1, -2, 3] + b = [1.5, -1.5, -7]; row 1: [3, -4, 7] + b = [3.5, -3.5, -3]
  assert.deepEqual([...fusedLinear(x(), w(), b()).dataSync()], [1.5, -1.5, -7, 3.5, -3.5, -3]);
  assert.deepEqual([...fusedLinear(x(), w(), b(), { relu: true }).dataSync()], [1.5, 0, 0, 3.5, 0, 0]);
  assert.deepEqual([...linearReference(x(), w(), b(), true).dataSync()], [1.5, 0, 0, 3.5, 0, 0]);
});

test('linear: one shape rule for fusedLinear, F.linear and Linear', () => {
  const bad = tensor([[1, 2, 3]], { dtype: 'float64' });
  assert.throws(() => fusedLinear(bad, w()), /fusedLinear: input last dimension 3 does not match inFeatures 2/);
  assert.throws(() => F.linear(bad, w()), /linear: input last dimension 3 does not match inFeatures 2/);
  assert.throws(() => new Linear(2, 3).call(tensor([[1, 2, 3]])), /Linear\(2, 3\): input last dimension 3 does not match inFeatures 2; .*the layer before must output 2 features/);
  assert.throws(() => fusedLinear(x(), w(), tensor([1, 2], { dtype: 'float64' })), /bias must be \(3,\)/);
});

test('linear: float64 gradient check, with and without ReLU and bias', () => {
  const gen = new Generator(5);
  const R = (s: number[]): Tensor => randn(s, { dtype: 'float64', generator: gen, requiresGrad: true });
  assert.ok(gradcheck((a, c, d) => fusedLinear(a, c, d), [R([3, 4]), R([5, 4]), R([5])]).ok);
  assert.ok(gradcheck((a, c) => fusedLinear(a, c, null), [R([2, 3, 4]), R([2, 4])]).ok);
});

for (const dtype of ['float32', 'float64'] as const) {
  test(`linear: active backend against primitives only, ${dtype}, forward and gradients`, () => {
    const run = (): Tensor[] => {
      const gen = new Generator(11);
      const a = randn([7, 5], { dtype, generator: gen, requiresGrad: true });
      const c = randn([6, 5], { dtype, generator: gen, requiresGrad: true });
      const d = randn([6], { dtype, generator: gen, requiresGrad: true });
      const y = fusedLinear(a, c, d, { relu: true });
      return [y, ...(grad([y.sum()], [a, c, d]) as Tensor[])];
    };
    const got = run();
    const want = withBackend(primitivesOnly(), run);
    const tol = dtype === 'float32' ? 1e-5 : 1e-12;
    got.forEach((t, i) => assertClose(t, want[i]!, tol, tol, `output ${i}`));
  });
}
