// Kernel `embedding` (src/ops/embedding.ts): rows picked by hand, repeated indices summing their
// gradients, errors, and the active backend against primitives only.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { embeddingRows, grad, indexSelect, randn, tensor, Generator, type Tensor } from '../../src/index.js';
import { assertClose, primitivesOnly, withBackend } from './kernel_helpers.js';

const i32 = (xs: number[]): Tensor => tensor(new Int32Array(xs));

test('embedding: rows by hand; a repeated index sums its gradient rows', () => {
  const table = tensor([[1, 2], [3, 4], [5, 6]], { dtype: 'float64', requiresGrad: true });
  const rows = indexSelect(table, 0, i32([2, 0, 2]));
  assert.deepEqual([...rows.dataSync()], [5, 6, 1, 2, 5, 6]);
  assert.deepEqual([...embeddingRows(table, i32([1])).dataSync()], [3, 4]);
  // d sum(rows * [[1, 1], [10, 10], [100, 100]]) / d table: row 0 gets 10, row 2 gets 1 + 100
  const g = grad([rows.mul(tensor([[1, 1], [10, 10], [100, 100]], { dtype: 'float64' })).sum()], [table])[0]!;
  assert.deepEqual([...g.dataSync()], [10, 10, 0, 0, 101, 101]);
});

test('embedding: indexSelect errors name the op', () => {
  assert.throws(() => indexSelect(tensor([[1, 2]]), 0, i32([1])), /indexSelect: index 1 is out of range for dimension 0 of size 1/);
  assert.throws(() => indexSelect(tensor([[1, 2]]), 0, tensor([0])), /indexSelect: index must be an int32 tensor, got float32/);
});

for (const dtype of ['float32', 'float64'] as const) {
  test(`embedding: active backend against primitives only, ${dtype}`, () => {
    const run = (): Tensor[] => {
      const table = randn([11, 6], { dtype, generator: new Generator(9), requiresGrad: true });
      const y = indexSelect(table, 0, i32([3, 10, 3, 0, 7]));
      return [y, grad([y.mul(y).sum()], [table])[0]!];
    };
    const got = run(), want = withBackend(primitivesOnly(), run);
    got.forEach((t, i) => assertClose(t, want[i]!, 0, dtype === 'float32' ? 1e-6 : 1e-14, `output ${i}`));
  });
}
