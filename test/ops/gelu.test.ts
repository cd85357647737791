// Kernel `gelu` (src/ops/gelu.ts): values by hand (x Phi(x) and the tanh form), errors, a float64
// gradient check of both forms, and the active backend against primitives only.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { F, fusedGelu, gelu, geluReference, gradcheck, grad, randn, tensor, Generator, type Tensor } from '../../src/index.js';
import { assertClose, primitivesOnly, withBackend } from './kernel_helpers.js';

test('gelu: x Phi(x) and the tanh form at -1, 0, 1, by hand', () => {
  const x = tensor([-1, 0, 1], { dtype: 'float64' });
  // Phi(1) = (1 + erf(1/sqrt 2)) / 2 = 0.8413447460685429
  assertClose(gelu(x), tensor([-0.15865525393145707, 0, 0.8413447460685429], { dtype: 'float64' }), 1e-15);
  // 0.5 (1 + tanh(sqrt(2/pi) (1 + 0.044715))) = 0.8411919906082768
  assertClose(fusedGelu(x, 'tanh'), tensor([-0.15880800939172324, 0, 0.8411919906082768], { dtype: 'float64' }), 1e-15);
  assertClose(F.gelu(x, { approximate: 'tanh' }), geluReference(x, 'tanh'), 1e-15);
});

test('gelu: errors name the op', () => {
  assert.throws(() => gelu(tensor([1], { dtype: 'int32' })), /gelu: expected a floating-point tensor, got int32/);
  assert.throws(() => fusedGelu(tensor([1]), 'fast' as 'tanh'), /gelu: approximate must be 'none' or 'tanh', got 'fast'/);
});

test('gelu: float64 gradient check of both forms', () => {
  const gen = new Generator(3);
  for (const mode of ['none', 'tanh'] as const) {
    assert.ok(gradcheck((a) => fusedGelu(a, mode), [randn([3, 4], { dtype: 'float64', generator: gen, requiresGrad: true })]).ok, mode);
  }
});

for (const dtype of ['float32', 'float64'] as const) {
  test(`gelu: active backend against primitives only, ${dtype}`, () => {
    const run = (): Tensor[] => {
      const a = randn([5, 9], { dtype, generator: new Generator(8), requiresGrad: true });
      const y = fusedGelu(a, 'tanh');
      return [y, grad([y.sum()], [a])[0]!];
    };
    const got = run(), want = withBackend(primitivesOnly(), run);
    const tol = dtype === 'float32' ? 2e-6 : 1e-12;
    got.forEach((t, i) => assertClose(t, want[i]!, tol, tol, `output ${i}`));
  });
}
