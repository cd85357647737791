// Unit tests for data/dataloader.ts: batching, len, dropLast, seeded shuffling, collate, state
// save/restore (resume mid-epoch and at epoch boundaries gives the batches of an uninterrupted run),
// and that batches are gathered without touching the samples one by one.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { Generator, tensor, type Tensor } from '../../src/index.js';
import { DataLoader, TensorDataset, type Dataset } from '../../src/data/index.js';

// 10 samples: x row i = [i, 100 + i], y = i
function data(n = 10): TensorDataset {
  return new TensorDataset(
    tensor(Array.from({ length: n }, (_, i) => [i, 100 + i])),
    tensor(Array.from({ length: n }, (_, i) => i), { dtype: 'int32' }),
  );
}
const labels = (batches: Iterable<Tensor[]>): number[][] => Array.from(batches, (b) => Array.from(b[1]!.data));

describe('DataLoader batching', () => {
  test('in order: batch sizes, contents, length', () => {
    const loader = new DataLoader(data(), { batchSize: 4 });
    assert.equal(loader.length, 3); // ceil(10 / 4)
    const batches = Array.from(loader);
    assert.deepEqual(batches.map((b) => b[0]!.shape), [[4, 2], [4, 2], [2, 2]]);
    assert.deepEqual(batches[2]![0]!.toArray(), [[8, 108], [9, 109]]);
    assert.deepEqual(labels(batches), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });

  test('dropLast drops the short last batch; length counts full batches only', () => {
    const loader = new DataLoader(data(), { batchSize: 4, dropLast: true });
    assert.equal(loader.length, 2);
    assert.deepEqual(labels(loader), [[0, 1, 2, 3], [4, 5, 6, 7]]);
    assert.equal(new DataLoader(data(3), { batchSize: 4, dropLast: true }).length, 0);
    assert.deepEqual(labels(new DataLoader(data(3), { batchSize: 4, dropLast: true })), []);
    assert.equal(new DataLoader(data(8), { batchSize: 4 }).length, 2);
  });

  test('gathers batches with getBatch and never calls get on a TensorDataset', () => {
    const ds = data();
    let gets = 0;
    const orig = ds.get.bind(ds);
    ds.get = (i: number): Tensor[] => { gets++; return orig(i); };
    for (const [xb] of new DataLoader(ds, { batchSize: 3, shuffle: true })) assert.ok(xb!.data.length <= 3 * 2);
    assert.equal(gets, 0);
  });

  test('datasets without getBatch are collated sample by sample; custom collate', () => {
    const ds: Dataset<{ v: number; t: Tensor }> = { length: 3, get: (i) => ({ v: i * 10, t: tensor([i, -i]) }) };
    const batches = Array.from(new DataLoader(ds, { batchSize: 2 }));
    assert.deepEqual(batches[0]!.v.toArray(), [0, 10]);
    assert.deepEqual(batches[0]!.t.toArray(), [[0, -0], [1, -1]]);
    assert.deepEqual(batches[1]!.t.shape, [1, 2]);
    const sums = Array.from(new DataLoader(ds, { batchSize: 2, collate: (s) => s.reduce((a, b) => a + b.v, 0) }));
    assert.deepEqual(sums, [10, 20]);
  });

  test('bad options are refused', () => {
    assert.throws(() => new DataLoader(data(), { batchSize: 0 }), /DataLoader: batchSize must be a positive integer, got 0/);
    assert.throws(() => new DataLoader(data(), { batchSize: 2.5 }), /positive integer/);
  });
});

describe('DataLoader shuffling', () => {
  test('each epoch is a permutation; epochs differ; the same seed repeats exactly', () => {
    const run = (seed: number): number[][] => {
      const loader = new DataLoader(data(), { batchSize: 3, shuffle: true, generator: new Generator(seed) });
      const out: number[][] = [];
      for (let e = 0; e < 3; e++) out.push(labels(loader).flat());
      return out;
    };
    const a = run(7);
    for (const epoch of a) assert.deepEqual([...epoch].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(a[0], a[1]);
    assert.notDeepEqual(a[1], a[2]);
    assert.deepEqual(run(7), a);
    assert.notDeepEqual(run(8), a);
    // seed option == an explicit generator with that seed
    const viaSeed = new DataLoader(data(), { batchSize: 3, shuffle: true, seed: 7 });
    assert.deepEqual(labels(viaSeed).flat(), a[0]);
  });

  test('without shuffle the generator is not used', () => {
    const g = new Generator(1);
    const before = g.getState();
    Array.from(new DataLoader(data(), { batchSize: 3, generator: g }));
    assert.deepEqual(g.getState(), before);
  });
});

describe('DataLoader state: resume continues exactly', () => {
  const make = (): DataLoader<Tensor[]> => new DataLoader(data(), { batchSize: 3, shuffle: true, seed: 42 });
  // an uninterrupted run of 3 epochs, 4 batches each
  const reference = (): number[][] => { const l = make(); return [...labels(l), ...labels(l), ...labels(l)]; };

  test('mid-epoch: save after k batches, restore into a fresh loader, continue', () => {
    const ref = reference();
    // epoch 0 complete, then k batches of epoch 1
    for (const k of [0, 1, 2, 3]) {
      const first = make();
      const seen = labels(first);
      let state = first.stateDict();
      let i = 0;
      for (const b of first) {
        if (i === k) break;
        seen.push(Array.from(b[1]!.data)); i++;
        state = first.stateDict();
      }
      const json = JSON.parse(JSON.stringify(state)); // survives a checkpoint's JSON metadata
      const resumed = make();
      resumed.loadStateDict(json);
      assert.equal(resumed.epoch, 1);
      seen.push(...labels(resumed), ...labels(resumed));
      assert.deepEqual(seen, ref, `resume after epoch 0 + ${k} batches`);
    }
  });

  test('state taken after the last batch of an epoch resumes at the next epoch', () => {
    const ref = reference();
    const first = make();
    const seen: number[][] = [];
    let state = first.stateDict();
    for (const b of first) { seen.push(Array.from(b[1]!.data)); state = first.stateDict(); }
    assert.equal(state.position, 0);
    assert.equal(state.epoch, 1);
    const resumed = make();
    resumed.loadStateDict(state);
    seen.push(...labels(resumed), ...labels(resumed));
    assert.deepEqual(seen, ref);
  });

  test('an abandoned pass is not resumed: the next for..of starts a new epoch, like PyTorch', () => {
    const l = make();
    for (const _ of l) break;
    assert.equal(l.epoch, 1);
    assert.equal(labels(l).flat().length, 10);
    assert.equal(l.epoch, 2);
    assert.equal(l.stateDict().position, 0);
  });

  test('stateDict after leaving a for..of early reports the batches actually handed out', () => {
    const ref = reference();
    for (const k of [1, 2, 3]) {
      const first = make();
      const seen = labels(first);
      let i = 0;
      for (const b of first) { seen.push(Array.from(b[1]!.data)); if (++i === k) break; } // state taken after the loop
      const state = first.stateDict();
      assert.deepEqual([state.epoch, state.position], [1, k]);
      const resumed = make();
      resumed.loadStateDict(JSON.parse(JSON.stringify(state)));
      seen.push(...labels(resumed), ...labels(resumed));
      assert.deepEqual(seen, ref, `left epoch 1 after ${k} batches`);
    }
    // a throw inside the loop body: the batch it was handed counts as handed out
    const l = make();
    assert.throws(() => { for (const _ of l) throw new Error('boom'); }, /boom/);
    assert.deepEqual([l.stateDict().epoch, l.stateDict().position], [0, 1]);
  });

  test('restoring a state for other data or batch size is refused and changes nothing', () => {
    const l = make();
    const s = l.stateDict();
    const other = new DataLoader(data(12), { batchSize: 3, shuffle: true, seed: 1 });
    const before = other.generator.getState();
    assert.throws(() => other.loadStateDict(s), /saved for a dataset of 10 samples in batches of 3, but this loader has 12 samples/);
    assert.deepEqual(other.generator.getState(), before);
    assert.throws(() => make().loadStateDict({ ...s, position: 4 }), /position must be an integer in \[0, 3\]/);
  });
});
