// Unit tests for ops/matmul.ts: torch.matmul semantics for 1-D, 2-D, batched and broadcast batch
// shapes. Small cases are multiplied out by hand; larger ones against a plain triple loop.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { matmul, reshape, arange, tensor, transpose, full, zeros } from '../../src/index.js';
import { beginScope, endScope, poolStats } from '../../src/backend/pool.js';
import { assertClose, tabulate, vals } from '../core/helpers.js';

test('2-D @ 2-D', () => {
  // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[1*5 + 2*7, 1*6 + 2*8], [3*5 + 4*7, 3*6 + 4*8]] = [[19, 22], [43, 50]]
  const r = matmul(tensor([[1, 2], [3, 4]]), tensor([[5, 6], [7, 8]]));
  assert.deepEqual(r.shape, [2, 2]);
  assert.deepEqual(r.toArray(), [[19, 22], [43, 50]]);
  // (2, 3) @ (3, 1): [[1, 2, 3], [4, 5, 6]] @ [1, 0, -1]^T = [[-2], [-2]]
  assert.deepEqual(matmul(tensor([[1, 2, 3], [4, 5, 6]]), tensor([[1], [0], [-1]])).toArray(), [[-2], [-2]]);
});

test('1-D @ 1-D is a 0-d dot product', () => {
  const r = matmul(tensor([1, 2, 3]), tensor([4, 5, 6])); // 4 + 10 + 18 = 32
  assert.deepEqual(r.shape, []);
  assert.equal(r.item(), 32);
});

test('2-D @ 1-D and 1-D @ 2-D drop the added axis', () => {
  const m = tensor([[1, 2], [3, 4]]);
  const mv = matmul(m, tensor([1, 1])); // row sums
  assert.deepEqual(mv.shape, [2]);
  assert.deepEqual(vals(mv), [3, 7]);
  const vm = matmul(tensor([1, 1]), m); // column sums
  assert.deepEqual(vm.shape, [2]);
  assert.deepEqual(vals(vm), [4, 6]);
});

test('batched (2, 2, 2) @ (2, 2, 2)', () => {
  // batch 0: I @ [[1, 2], [3, 4]] = [[1, 2], [3, 4]]; batch 1: 2I @ [[0, 1], [1, 0]] = [[0, 2], [2, 0]]
  const a = tensor([[[1, 0], [0, 1]], [[2, 0], [0, 2]]]);
  const b = tensor([[[1, 2], [3, 4]], [[0, 1], [1, 0]]]);
  const r = matmul(a, b);
  assert.deepEqual(r.shape, [2, 2, 2]);
  assert.deepEqual(r.toArray(), [[[1, 2], [3, 4]], [[0, 2], [2, 0]]]);
});

test('broadcast batch shapes: (2, 1, 2, 3) @ (3, 3, 2) -> (2, 3, 2, 2)', () => {
  // a[p][0][i][k] = p + i - k, b[q][k][j] = q * k + j + 1; out[p][q][i][j] = sum_k a[p][0][i][k] * b[q][k][j]
  const av = (p: number, i: number, k: number): number => p + i - k;
  const bv = (q: number, k: number, j: number): number => q * k + j + 1;
  const a = reshape(tensor(tabulate([2, 1, 2, 3], (p, _z, i, k) => av(p, i, k))), [2, 1, 2, 3]);
  const b = reshape(tensor(tabulate([3, 3, 2], bv)), [3, 3, 2]);
  const r = matmul(a, b);
  assert.deepEqual(r.shape, [2, 3, 2, 2]);
  const expected = tabulate([2, 3, 2, 2], (p, q, i, j) => {
    let s = 0;
    for (let k = 0; k < 3; k++) s += av(p, i, k) * bv(q, k, j);
    return s;
  });
  assert.deepEqual(vals(r), expected);
  // a 2-D operand broadcasts against a batch
  const r2 = matmul(tensor([[1, 0, 0], [0, 0, 1]]), b); // picks rows 0 and 2 of every b[q]
  assert.deepEqual(r2.shape, [3, 2, 2]);
  assert.deepEqual(vals(r2), tabulate([3, 2, 2], (q, i, j) => bv(q, i === 0 ? 0 : 2, j)));
});

test('1-D @ 3-D and 3-D @ 1-D', () => {
  // b = arange(12).reshape(2, 3, 2): b[q][k][j] = 6q + 2k + j
  const b = reshape(arange(0, 12, 1, { dtype: 'float32' }), [2, 3, 2]);
  const v = tensor([1, 1, 1]);
  const r = matmul(v, b); // sum over k of 6q + 2k + j = 18q + 6 + 3j
  assert.deepEqual(r.shape, [2, 2]);
  assert.deepEqual(r.toArray(), [[6, 9], [24, 27]]);
  const s = matmul(b, tensor([1, -1])); // b[q][k][0] - b[q][k][1] = -1
  assert.deepEqual(s.shape, [2, 3]);
  assert.deepEqual(vals(s), [-1, -1, -1, -1, -1, -1]);
});

test('non-contiguous operands', () => {
  // a^T with a = [[1, 3], [2, 4]] is [[1, 2], [3, 4]]; times [[5, 6], [7, 8]] -> [[19, 22], [43, 50]]
  const at = transpose(tensor([[1, 3], [2, 4]]), 0, 1);
  const bt = transpose(tensor([[5, 7], [6, 8]]), 0, 1);
  assert.deepEqual(matmul(at, bt).toArray(), [[19, 22], [43, 50]]);
  assert.deepEqual(at.matmul(bt).toArray(), [[19, 22], [43, 50]]);
});

test('dtypes: int32 stays int32; float32 with float64 -> float64', () => {
  const i = matmul(tensor([[1, 2]], { dtype: 'int32' }), tensor([[3], [4]], { dtype: 'int32' }));
  assert.equal(i.dtype, 'int32');
  assert.deepEqual(vals(i), [11]);
  const f = matmul(tensor([[0.1]], { dtype: 'float64' }), tensor([[3]]));
  assert.equal(f.dtype, 'float64');
  assertClose(f, [0.30000000000000004], 'f64', 0, 0); // 0.1 * 3 in doubles, not rounded to float32
});

test('the product overwrites reused storage: an empty inner dimension gives zeros, a full one no stale sums', () => {
  // Outputs come from the storage pool uninitialized (native: C = A B, never C += A B), so a buffer
  // released with other values in it must not leak into the next product.
  const stale = (rows: number, cols: number): void => {
    beginScope();
    const t = matmul(full([rows, 3], 7), full([3, cols], 7)); // every element 147
    assert.equal(vals(t)[0], 147);
    endScope(new Set()); // hands t's buffer back to the free lists
  };
  stale(64, 96);
  beginScope();
  const before = poolStats().reused;
  const z = matmul(zeros([64, 0]), zeros([0, 96])); // (64, 0) @ (0, 96): all zeros
  const reused = poolStats().reused - before;
  const p = matmul(full([64, 5], 1), full([5, 96], 2)); // every element 10, not 147 + 10
  endScope();
  assert.deepEqual(z.shape, [64, 96]);
  assert.ok(vals(z).every((v) => v === 0), 'empty sum must be zeros');
  assert.ok(vals(p).every((v) => v === 10), 'product must not add to stale storage');
  // 192 x 192 x 192 takes the parallel tile path of the native GEMM (and batched (3, ...) the per-batch one)
  stale(192, 192);
  beginScope();
  const big = matmul(full([192, 192], 1), full([192, 192], 0.5));
  const bat = matmul(full([3, 8, 4], 1), full([3, 4, 8], 0.25));
  endScope();
  assert.ok(vals(big).every((v) => v === 96));
  assert.ok(vals(bat).every((v) => v === 1));
  // edge tiles (rows and columns not multiples of the micro-tile) and several K blocks, where only the
  // first K block writes C: the parallel path (200 x 400 x 200) and the serial one (50 x 500 x 70)
  stale(200, 200);
  beginScope();
  const edges = matmul(full([200, 400], 1), full([400, 200], 0.25));
  endScope();
  stale(50, 70);
  beginScope();
  const edgesSerial = matmul(full([50, 500], 1), full([500, 70], 0.5));
  endScope();
  assert.ok(vals(edges).every((v) => v === 100), 'parallel edge tiles must not add to stale storage');
  assert.ok(vals(edgesSerial).every((v) => v === 250), 'serial edge tiles must not add to stale storage');
  // the native backend takes matmul outputs from the pool (the reference one allocates zeroed arrays)
  if (process.env.TENSORSLIM_BACKEND !== 'reference' && process.env.TENSORSLIM_POOL_MB !== '0') assert.ok(reused >= 1, 'the empty product was served from the pool');
});
