// ShardedLoader: each rank's slice of every global batch, its gradient weight (W n_r / n, so the
// DDP average is the gradient of the global mean), the empty-share case, and the delegated state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataLoader, TensorDataset, arange } from '../../src/index.js';
import { ShardedLoader } from '../../src/distributed/index.js';

function loader(): DataLoader<unknown> {
  // 7 samples in batches of 5: [5, 2]
  return new DataLoader(new TensorDataset(arange(0, 7).to('float32'), arange(10, 17).to('float32')), { batchSize: 5, shuffle: true, seed: 3 }) as DataLoader<unknown>;
}

test('ShardedLoader gives every rank its rows of the same global batches and their weights', () => {
  const whole = [...loader()].map((b) => (b as { dataSync(): ArrayLike<number> }[]).map((t) => Array.from(t.dataSync())));
  for (const world of [2, 3]) {
    const got: number[][][][] = [];
    const weights: number[][] = [];
    for (let rank = 0; rank < world; rank++) {
      const w: number[] = [];
      const s = new ShardedLoader(loader(), rank, world, (x) => w.push(x));
      assert.equal(s.length, 2);
      got.push([...s].map((b) => (b as { dataSync(): ArrayLike<number> }[]).map((t) => Array.from(t.dataSync()))));
      weights.push(w);
    }
    for (let b = 0; b < whole.length; b++) {
      const n = whole[b]![0]!.length;
      // the slices, in rank order, are the global batch (an empty share gets row 0 with weight 0)
      const rows = got.flatMap((g, r) => (weights[r]![b] === 0 ? [] : g[b]![0]!));
      assert.deepEqual(rows, whole[b]![0], `world ${world}, batch ${b}`);
      assert.deepEqual(got.flatMap((g, r) => (weights[r]![b] === 0 ? [] : g[b]![1]!)), whole[b]![1]);
      const sum = weights.reduce((s, w) => s + w[b]!, 0);
      assert.ok(Math.abs(sum - world) < 1e-12, `weights average to 1 (world ${world}, batch ${b}, n ${n})`);
    }
  }
  // world 3, last batch of 2: rank 0 gets nothing -> weight 0, row 0 as a placeholder
  const w: number[] = [];
  const last = [...new ShardedLoader(loader(), 0, 3, (x) => w.push(x))][1] as { shape: number[] }[];
  assert.deepEqual([w[1], last[0]!.shape[0]], [0, 1]);
  assert.throws(() => new ShardedLoader(loader(), 2, 2), /rank 2 is out of range for world size 2/);
});

test('ShardedLoader hands the inner loader\'s state through (rank 0\'s checkpoint resumes every rank)', () => {
  const a = new ShardedLoader(loader(), 1, 2);
  const it = a[Symbol.iterator]();
  it.next();
  const state = a.stateDict!();
  assert.equal(state.position, 1);
  const b = new ShardedLoader(loader(), 1, 2);
  b.loadStateDict!(state);
  const rest = (it.next().value as { dataSync(): ArrayLike<number> }[])[0]!.dataSync();
  const resumed = ([...b][0] as { dataSync(): ArrayLike<number> }[])[0]!.dataSync();
  assert.deepEqual(Array.from(resumed), Array.from(rest));
});
