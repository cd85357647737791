// Unit tests for data/dataset.ts and data/collate.ts: TensorDataset, Subset, randomSplit, randperm,
// defaultCollate. Expected values are written out by hand from the inputs.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Generator, tensor, transpose } from '../../src/index.js';
import { defaultCollate, randomSplit, randperm, Subset, TensorDataset, validationSplitIndices, withoutValidation, type Dataset, type ImageClassificationData } from '../../src/data/index.js';

// x row i = [10i, 10i + 1, 10i + 2], y = [0, 1, 2, 3, 4]
const x = (): ReturnType<typeof tensor> => tensor([[0, 1, 2], [10, 11, 12], [20, 21, 22], [30, 31, 32], [40, 41, 42]]);
const y = (): ReturnType<typeof tensor> => tensor([0, 1, 2, 3, 4], { dtype: 'int32' });

describe('TensorDataset', () => {
  test('length, get(i) returns views of row i', () => {
    const xs = x();
    const ds = new TensorDataset(xs, y());
    assert.equal(ds.length, 5);
    const [xi, yi] = ds.get(3);
    assert.deepEqual(xi!.shape, [3]);
    assert.deepEqual(xi!.toArray(), [30, 31, 32]);
    assert.deepEqual(yi!.shape, []);
    assert.equal(yi!.item(), 3);
    assert.equal(xi!.data, xs.data, 'get returns a view sharing storage, not a copy');
  });

  test('getBatch gathers exactly the B requested rows into fresh (B, ...) tensors', () => {
    const xs = x();
    const [xb, yb] = new TensorDataset(xs, y()).getBatch([4, 0, 4]);
    assert.deepEqual(xb!.shape, [3, 3]);
    assert.deepEqual(xb!.toArray(), [[40, 41, 42], [0, 1, 2], [40, 41, 42]]);
    assert.equal(xb!.dtype, 'float32');
    assert.deepEqual(yb!.toArray(), [4, 0, 4]);
    assert.equal(yb!.dtype, 'int32');
    assert.equal(xb!.data.length, 9, 'only the batch is allocated');
    assert.notEqual(xb!.data, xs.data);
  });

  test('getBatch from non-contiguous and offset tensors', () => {
    // transpose of a (3, 5) tensor: row i of the (5, 3) view = column i = [i, 10 + i, 20 + i]
    const base = tensor([[0, 1, 2, 3, 4], [10, 11, 12, 13, 14], [20, 21, 22, 23, 24]]);
    const [b] = new TensorDataset(transpose(base, 0, 1)).getBatch([2, 0]);
    assert.deepEqual(b!.toArray(), [[2, 12, 22], [0, 10, 20]]);
    // a view starting at row 1: rows of x()[1:] ; batch [0, 3] = rows 1 and 4 of x
    const tail = new TensorDataset(x().slice(0, 1));
    assert.deepEqual(tail.getBatch([0, 3])[0]!.toArray(), [[10, 11, 12], [40, 41, 42]]);
  });

  test('refuses mismatched lengths, scalars and out-of-range indices', () => {
    assert.throws(() => new TensorDataset(x(), tensor([1, 2, 3])), /TensorDataset: all tensors must have the same size along axis 0, got \(5, 3\), \(3,\)/);
    assert.throws(() => new TensorDataset(tensor(3)), /at least one axis/);
    assert.throws(() => new TensorDataset(), /at least one tensor/);
    const ds = new TensorDataset(x());
    assert.throws(() => ds.get(5), /index 5 is out of range for a dataset of length 5/);
    assert.throws(() => ds.get(-1), /out of range/);
    assert.throws(() => ds.getBatch([0, 1.5]), /index 1.5 is out of range/);
  });
});

describe('Subset', () => {
  test('maps indices and forwards batch gathering', () => {
    const sub = new Subset(new TensorDataset(x(), y()), [3, 1]);
    assert.equal(sub.length, 2);
    assert.deepEqual(sub.get(0)[0]!.toArray(), [30, 31, 32]);
    const [xb, yb] = sub.getBatch([1, 0]);
    assert.deepEqual(xb!.toArray(), [[10, 11, 12], [30, 31, 32]]);
    assert.deepEqual(yb!.toArray(), [1, 3]);
    assert.throws(() => new Subset(new TensorDataset(x()), [0, 7]), /Subset: index 7 is out of range for a dataset of length 5/);
  });

  test('collates samples when the base dataset has no getBatch', () => {
    const squares: Dataset<number> = { length: 4, get: (i) => i * i };
    const b = new Subset(squares, [3, 2]).getBatch([0, 1]);
    assert.equal(b.dtype, 'int32');
    assert.deepEqual(b.toArray(), [9, 4]);
  });
});

describe('randperm and randomSplit', () => {
  test('randperm is a permutation, repeatable from the seed', () => {
    const p = randperm(50, new Generator(3));
    assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(randperm(50, new Generator(3)), p);
    assert.notDeepEqual(randperm(50, new Generator(4)), p);
    assert.equal(randperm(0, new Generator(1)).length, 0);
  });

  test('randperm is uniform: each value lands in position 0 about n_trials / n times', () => {
    // 3! = 6 permutations; over 6000 draws each should appear ~1000 times (sd ~29); allow 5 sd
    const g = new Generator(11);
    const counts = new Map<string, number>();
    for (let t = 0; t < 6000; t++) { const k = randperm(3, g).join(); counts.set(k, (counts.get(k) ?? 0) + 1); }
    assert.equal(counts.size, 6);
    for (const c of counts.values()) assert.ok(Math.abs(c - 1000) < 150, `count ${c}`);
  });

  test('counts: disjoint subsets covering the dataset', () => {
    const ds: Dataset<number> = { length: 10, get: (i) => i };
    const parts = randomSplit(ds, [7, 3], new Generator(0));
    assert.deepEqual(parts.map((p) => p.length), [7, 3]);
    const all = parts.flatMap((p) => Array.from({ length: p.length }, (_, i) => p.get(i)));
    assert.deepEqual(all.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const again = randomSplit(ds, [7, 3], new Generator(0));
    assert.deepEqual([...again[0]!.indices], [...parts[0]!.indices]);
  });

  test('fractions: floor each part, deal the remainder to the first parts (PyTorch rule)', () => {
    const ds: Dataset<number> = { length: 11, get: (i) => i };
    // 11 * [0.5, 0.3, 0.2] = 5.5, 3.3, 2.2 -> 5, 3, 2 (sum 10) -> remainder 1 to the first: 6, 3, 2
    assert.deepEqual(randomSplit(ds, [0.5, 0.3, 0.2], new Generator(1)).map((p) => p.length), [6, 3, 2]);
    assert.throws(() => randomSplit(ds, [5, 5]), /must be integers summing to the dataset length 11 or fractions summing to 1/);
    assert.throws(() => randomSplit(ds, [-1, 12]), /non-negative/);
  });
});

describe('defaultCollate', () => {
  test('tensors stack, integers -> int32, floats -> float32, nested arrays and objects', () => {
    const batch = defaultCollate([
      { img: tensor([1, 2]), label: 3, w: 0.5, pair: [tensor([[1]]), true] as [ReturnType<typeof tensor>, boolean] },
      { img: tensor([3, 4]), label: 7, w: 1, pair: [tensor([[2]]), false] as [ReturnType<typeof tensor>, boolean] },
    ]);
    assert.deepEqual(batch.img.toArray(), [[1, 2], [3, 4]]);
    assert.equal(batch.label.dtype, 'int32');
    assert.deepEqual(batch.label.toArray(), [3, 7]);
    assert.equal(batch.w.dtype, 'float32');
    assert.deepEqual(batch.w.toArray(), [0.5, 1]);
    assert.deepEqual(batch.pair[0].shape, [2, 1, 1]);
    assert.deepEqual(batch.pair[1].toArray(), [true, false]);
  });

  test('refuses ragged or mixed samples with the path of the field at fault', () => {
    assert.throws(() => defaultCollate([[tensor([1, 2])], [tensor([1, 2, 3])]]), /collate: sample\[0\]: all samples must have the same shape and dtype to be stacked, got \(2,\) float32 and \(3,\) float32/);
    assert.throws(() => defaultCollate([1, 'a' as unknown as number]), /mixes number with string/);
    assert.throws(() => defaultCollate([]), /empty list/);
  });
});

describe('validation hold-out (validationSplitIndices, withoutValidation)', () => {
  test('a seeded split: disjoint, complete, repeatable; the training set without it keeps the fit rows', () => {
    const a = validationSplitIndices(50, 0.1, 0), b = validationSplitIndices(50, 0.1, 0), c = validationSplitIndices(50, 0.1, 1);
    assert.equal(a.validation.length, 5);
    assert.deepEqual([...a.fit, ...a.validation].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(a.validation, b.validation);
    assert.notDeepEqual(a.validation, c.validation);
    const x = tensor(Array.from({ length: 50 }, (_, i) => [i, -i]), { dtype: 'float32' });
    const y = tensor(Array.from({ length: 50 }, (_, i) => i % 10), { dtype: 'int32' });
    const data = { kind: 'image', train: new TensorDataset(x, y), test: new TensorDataset(x, y), info: { trainSize: 50 } } as unknown as ImageClassificationData;
    const held = withoutValidation(data, 0.1, 0);
    assert.equal(held.train.length, 45);
    assert.equal(held.info.trainSize, 45);
    assert.equal(held.test, data.test);
    const kept = held.train.getBatch(Array.from({ length: 45 }, (_, i) => i))[0]!.dataSync();
    assert.deepEqual(Array.from({ length: 45 }, (_, i) => kept[2 * i]), [...a.fit]);
    assert.throws(() => validationSplitIndices(50, 1.5, 0), /fraction must be in \(0, 1\)/);
  });
});
