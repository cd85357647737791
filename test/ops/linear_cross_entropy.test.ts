// Kernel `linearCrossEntropy` (src/ops/linear_cross_entropy.ts): the LM head fused with its mean
// cross-entropy, against softmaxCrossEntropy(fusedLinear(x, W)) on a backend without fused kernels,
// over several row chunks, strided and 3-D inputs, an upstream gradient other than 1, gradients for
// x only or W only, a retained graph backpropagated twice, a tied weight (also the embedding), and errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Generator, backward, embeddingRows, fusedLinear, grad, linearCrossEntropy, linearCrossEntropyReference, mul, randint, randn, softmaxCrossEntropy,
  tanh, tensor, transpose, type Tensor,
} from '../../src/index.js';
import { assertClose, primitivesOnly, withBackend } from './kernel_helpers.js';

const i32 = (xs: number[], shape?: number[]): Tensor => tensor(new Int32Array(xs), shape ? { shape } : {});

test('linearCrossEntropy: equals the cross-entropy of the linear layer, by hand', () => {
  // x W^T = [[0, 0], [ln 3, 0]] -> (ln 2 + ln 4) / 2 = 1.5 ln 2
  const x = tensor([[0, 1], [Math.log(3), 0]], { dtype: 'float64' });
  const w = tensor([[1, 0], [0, 0]], { dtype: 'float64' });
  assert.ok(Math.abs(linearCrossEntropy(x, w, i32([0, 1])).item() - 1.5 * Math.LN2) < 1e-15);
  assert.ok(Math.abs(linearCrossEntropyReference(x, w, i32([0, 1])).item() - 1.5 * Math.LN2) < 1e-15);
});

for (const dtype of ['float32', 'float64'] as const) {
  test(`linearCrossEntropy: active backend against primitives only, ${dtype} (5 chunks, strided, 3-D, dy = 2.5)`, () => {
    const run = (chunkElements: number): Tensor[] => {
      const gen = new Generator(11);
      const xt = randn([6, 3, 2], { dtype, generator: gen });            // x = its (2, 3, 6) transpose view: strided
      const x = transpose(xt, 0, 2).requiresGrad_();
      const w = randn([7, 6], { dtype, generator: gen, requiresGrad: true });
      const t = randint(0, 7, [2, 3], { dtype: 'int32', generator: gen });
      const loss = mul(linearCrossEntropy(x, w, t, { chunkElements }), 2.5);
      return [loss, ...grad([loss], [x, w]).map((g) => g!)];
    };
    const want = withBackend(primitivesOnly(), () => run(15));
    const tol = dtype === 'float32' ? 2e-6 : 1e-13;
    for (const chunk of [15, 1, 2 ** 24]) {   // 2 rows per chunk; 1 row; all rows at once
      run(chunk).forEach((t, i) => assertClose(t, want[i]!, tol, tol, `chunkElements ${chunk}, output ${i}`));
    }
    // the composed pair of kernels gives the same
    const gen = new Generator(11);
    const x = transpose(randn([6, 3, 2], { dtype, generator: gen }), 0, 2).requiresGrad_();
    const w = randn([7, 6], { dtype, generator: gen, requiresGrad: true });
    const t = randint(0, 7, [2, 3], { dtype: 'int32', generator: gen });
    const two = mul(softmaxCrossEntropy(fusedLinear(x, w).reshape([-1, 7]), t.reshape([-1])), 2.5);
    assertClose(two, want[0]!, tol, tol, 'two kernels');
  });
}

test('linearCrossEntropy: gradients for x only or W only, and a retained graph backpropagated twice', () => {
  const gen = new Generator(3);
  const x0 = randn([5, 4], { dtype: 'float64', generator: gen }), w0 = randn([9, 4], { dtype: 'float64', generator: gen });
  const t = randint(0, 9, [5], { dtype: 'int32', generator: gen });
  const ref = (() => {
    const x = x0.clone().requiresGrad_(), w = w0.clone().requiresGrad_();
    return grad([linearCrossEntropyReference(x, w, t)], [x, w]).map((g) => g!);
  })();
  const xOnly = x0.clone().requiresGrad_();
  assertClose(grad([linearCrossEntropy(xOnly, w0, t, { chunkElements: 20 })], [xOnly])[0]!, ref[0]!, 1e-13, 1e-13, 'dx alone');
  const wOnly = w0.clone().requiresGrad_();
  assertClose(grad([linearCrossEntropy(x0, wOnly, t, { chunkElements: 20 })], [wOnly])[0]!, ref[1]!, 1e-13, 1e-13, 'dW alone');
  const x = x0.clone().requiresGrad_(), w = w0.clone().requiresGrad_();
  const loss = linearCrossEntropy(x, w, t, { chunkElements: 20 });
  backward(loss, undefined, { retainGraph: true });
  w.grad!.data.fill(0);                          // whatever the first pass handed out may be changed by its owner
  x.grad = null; w.grad = null;
  backward(loss);                                // the second pass recomputes from the saved inputs
  assertClose(x.grad!, ref[0]!, 1e-13, 1e-13, 'dx, second backward');
  assertClose(w.grad!, ref[1]!, 1e-13, 1e-13, 'dW, second backward');
});

test('linearCrossEntropy: a weight that is also the input embedding (tied) gets both contributions', () => {
  const run = (): Tensor[] => {
    const gen = new Generator(5);
    const w = randn([6, 4], { dtype: 'float64', generator: gen, requiresGrad: true });
    const ids = randint(0, 6, [5], { dtype: 'int32', generator: gen }), t = randint(0, 6, [5], { dtype: 'int32', generator: gen });
    const loss = linearCrossEntropy(tanh(embeddingRows(w, ids)), w, t, { chunkElements: 12 });
    backward(loss);
    return [loss, w.grad!];
  };
  const want = withBackend(primitivesOnly(), run);
  run().forEach((t, i) => assertClose(t, want[i]!, 1e-13, 1e-13, `output ${i}`));
});

test('linearCrossEntropy: errors name the op', () => {
  const x = tensor([[0, 1]], { dtype: 'float64' }), w = tensor([[1, 0], [0, 1], [1, 1]], { dtype: 'float64' });
  assert.throws(() => linearCrossEntropy(x, w, i32([3])), /linearCrossEntropy: target 3 at row 0 is out of range for 3 classes/);
  assert.throws(() => linearCrossEntropy(x, w, tensor([0])), /linearCrossEntropy: target must hold int32 class indices, got float32/);
  assert.throws(() => linearCrossEntropy(x, transpose(w, 0, 1), i32([0])), /expected x \(\.\.\., 3\) and target \(\.\.\.\) with the same leading shape/);
  assert.throws(() => linearCrossEntropy(x, w, i32([0, 1])), /got x \(1, 2\) and target \(2,\)/);
  assert.throws(() => linearCrossEntropy(x, tensor([[1, 0]]), i32([0])), /x and weight must share one dtype, got float64 and float32/);
});
