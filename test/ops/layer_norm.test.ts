// Kernel `layerNorm` (src/ops/layer_norm.ts): a row normalized by hand, F.layerNorm over two axes
// (the composed form), errors, a float64 gradient check, and the active backend against
// primitives only.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { F, fusedLayerNorm, gradcheck, grad, layerNormReference, randn, tensor, Generator, type Tensor } from '../../src/index.js';
import { assertClose, primitivesOnly, withBackend } from './kernel_helpers.js';

test('layerNorm: [1, 2, 3, 4] by hand (mean 2.5, biased variance 1.25)', () => {
  const x = tensor([[1, 2, 3, 4]], { dtype: 'float64' });
  const s = Math.sqrt(1.25);
  const w = tensor([1, 1, 2, 2], { dtype: 'float64' }), b = tensor([0, 0, 0, 1], { dtype: 'float64' });
  const want = tensor([[-1.5 / s, -0.5 / s, 2 * 0.5 / s, 2 * 1.5 / s + 1]], { dtype: 'float64' });
  assertClose(fusedLayerNorm(x, w, b, 0), want, 1e-14);
  assertClose(layerNormReference(x, w, b, 0), want, 1e-14);
  // over the last two axes: the same four numbers as one (2, 2) block
  assertClose(F.layerNorm(tensor([[[1, 2], [3, 4]]], { dtype: 'float64' }), [2, 2], null, null, 0),
    tensor([[[-1.5 / s, -0.5 / s], [0.5 / s, 1.5 / s]]], { dtype: 'float64' }), 1e-14);
});

test('layerNorm: errors name the op and the shapes', () => {
  assert.throws(() => fusedLayerNorm(tensor([[1, 2, 3]]), tensor([1, 2])), /fusedLayerNorm: weight must have shape \(3,\) to match x \(1, 3\), got \(2,\)/);
  assert.throws(() => fusedLayerNorm(tensor(1)), /fusedLayerNorm: x must have at least one dimension/);
  assert.throws(() => fusedLayerNorm(tensor([[1, 2]]), null, null, -1), /fusedLayerNorm: eps must be finite and >= 0, got -1/);
});

test('layerNorm: float64 gradient check, affine and not', () => {
  const gen = new Generator(4);
  const R = (s: number[]): Tensor => randn(s, { dtype: 'float64', generator: gen, requiresGrad: true });
  assert.ok(gradcheck((a, c, d) => fusedLayerNorm(a, c, d), [R([2, 3, 5]), R([5]), R([5])]).ok);
  assert.ok(gradcheck((a) => fusedLayerNorm(a, null, null, 1e-3), [R([4, 3])]).ok);
});

for (const dtype of ['float32', 'float64'] as const) {
  test(`layerNorm: active backend against primitives only, ${dtype}`, () => {
    const run = (): Tensor[] => {
      const gen = new Generator(21);
      const a = randn([6, 10], { dtype, generator: gen, requiresGrad: true });
      const c = randn([10], { dtype, generator: gen, requiresGrad: true });
      const d = randn([10], { dtype, generator: gen, requiresGrad: true });
      const y = fusedLayerNorm(a, c, d);
      return [y, ...(grad([y.mul(y).sum()], [a, c, d]) as Tensor[])];
    };
    const got = run(), want = withBackend(primitivesOnly(), run);
    const tol = dtype === 'float32' ? 1e-4 : 1e-10;
    got.forEach((t, i) => assertClose(t, want[i]!, tol, tol, `output ${i}`));
  });
}
