// DDP invariant: N ranks, each on 1/N of the batch with gradients averaged, end with the parameters
// of one process trained on the full batch (mean loss over equal shares averages to the full mean).
// Tolerance: float32 sums in a different order, over 4 SGD steps: 1e-5 absolute + 1e-5 relative.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DistributedSampler } from '../../src/distributed/index.js';
import { glooSkip, lastJson, runWorkers } from './helpers.js';
import { BATCH, STEPS, buildModel, data, loss, optimizer, params } from './workers/ddp_common.js';

function reference(): number[][] {
  const model = buildModel(1000); // rank 0's seed: DDP broadcasts rank 0's parameters
  const opt = optimizer(model);
  const [x, y] = data();
  for (let s = 0; s < STEPS; s++) {
    opt.zeroGrad();
    loss(model, x, y, 0, BATCH).backward();
    opt.step();
  }
  return params(model);
}

function assertClose(got: number[][], want: number[][], what: string): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    for (let j = 0; j < want[i]!.length; j++) {
      const g = got[i]![j]!;
      const w = want[i]![j]!;
      assert.ok(Math.abs(g - w) <= 1e-5 + 1e-5 * Math.abs(w), `${what}: parameter ${i}[${j}] = ${g}, single process ${w}`);
    }
  }
}

for (const [n, mode] of [[2, 'plain'], [3, 'plain'], [2, 'accumulate']] as const) {
  test(`DDP on ${n} ranks (${mode}) matches one process on the full batch`, { skip: glooSkip(), timeout: 120_000 }, async () => {
    const want = reference();
    const res = await runWorkers('ddp', n, { args: [mode], timeoutMs: 100_000 });
    for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
    for (const r of res) {
      const o = lastJson<{ buckets: number[]; params: number[][]; identical: boolean; launched: number[]; stats: { steps: number; bytes: number; waitMs: number; overlapMs: number; totalWaitMs: number };
        pieceBuckets: number[]; piecesIdentical: boolean; pieceParams: number[][]; fromRows: number[]; views: { plain: number[][]; pieces: number[][] } }>(r);
      // cap 64 floats, reverse order: fc2.bias 3 + fc2.weight 24 + fc1.bias 8 = 35; fc1.weight 48 would pass 64
      assert.deepEqual(o.buckets, [35, 48]);
      assertClose(o.params, want, `rank ${r.rank}`);
      // buckets launched during backward give the end-of-backward path's parameters bit for bit
      assert.equal(o.identical, true, `rank ${r.rank}: overlapped and end-of-backward reductions differ`);
      assert.deepEqual(o.launched, Array(4).fill(2), 'both buckets start during the synced backward');
      assert.equal(o.stats.steps, 4);
      assert.equal(o.stats.bytes, 4 * 83);
      assert.ok(o.stats.waitMs >= 0 && o.stats.overlapMs >= 0 && o.stats.totalWaitMs >= o.stats.waitMs);
      // fc1.weight in row pieces: each started from the rows linear's rule hands out (not when the
      // whole gradient is a sum over micro-batches: then as one). The gradients are the same bit for
      // bit; the all-reduce sums each element in an order that depends on where it sits in its
      // bucket, so on 2 ranks (a + b) the parameters are the same bit for bit, on 3 within the tolerance.
      assert.deepEqual(o.pieceBuckets, [27, 18, 18, 12, 8]); // fc1.bias (8) after the pieces: final with the whole weight gradient
      assert.deepEqual(o.fromRows, Array(4).fill(mode === 'plain' ? 3 : 0));
      if (n === 2) assert.equal(o.piecesIdentical, true, `rank ${r.rank}: row pieces change the parameters on 2 ranks`);
      assertClose(o.pieceParams, want, `rank ${r.rank}, row pieces`);
      // .grad is a view of its bucket, the same storage every step (parameters fc1.weight, fc1.bias,
      // fc2.weight, fc2.bias): fc1.weight alone, the rest in the first bucket; with row pieces
      // fc1.weight is one view over its pieces' buckets, fc1.bias a bucket of its own
      assert.deepEqual(o.views.plain, Array(4).fill([0, 1, 1, 1]));
      assert.deepEqual(o.views.pieces, Array(4).fill([2, 3, 4, 4]));
    }
  });
}

test('DDP overlap: bf16 hook bit-identical, unused parameters refused or found, a second backward refused, checkpoint() recomputation', { skip: glooSkip(), timeout: 120_000 }, async () => {
  const res = await runWorkers('ddp', 2, { args: ['extras'], timeoutMs: 100_000 });
  for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
  for (const r of res) {
    const o = lastJson<{ bf16Identical: boolean; unusedError: string; spareGrad: number[]; findUnusedLaunched: number; buckets: number[]; secondError: string; checkpointIdentical: boolean; defaultBuckets: number[] }>(r);
    assert.equal(o.bf16Identical, true, `rank ${r.rank}: the bf16 hook with overlap differs from the end-of-backward path`);
    assert.match(o.unusedError, new RegExp(`rank ${r.rank}: backward gave no gradient to spare; .*findUnusedParameters: true`));
    assert.deepEqual(o.buckets, [35, 57]); // own parameters come first, so spare (9) is last in reverse order, with fc1.weight (48)
    assert.deepEqual(o.spareGrad, Array(9).fill(0), 'an unused parameter contributes zeros');
    assert.equal(o.findUnusedLaunched, 2, 'with findUnusedParameters the bucket holding the unused parameter still starts during backward');
    assert.match(o.secondError, /a second backward\(\) before finishGradientSync\(\).*noSync/);
    assert.equal(o.checkpointIdentical, true, 'with checkpoint() and findUnusedParameters the averaged gradients equal the plain run\'s');
    assert.deepEqual(o.defaultBuckets, [83], 'a model with under 2 MiB of gradients gets one bucket by default');
  }
});

test('DDP refuses models that differ across ranks, on every rank', { skip: glooSkip(), timeout: 120_000 }, async () => {
  const res = await runWorkers('ddp', 2, { args: ['mismatch'], timeoutMs: 100_000 });
  for (const r of res) {
    assert.equal(r.code, 1, `rank ${r.rank}:\n${r.stderr}`);
    assert.match(r.stderr, /DistributedDataParallel: the model differs across ranks \(rank 0: 4 parameters, 83 elements; rank 1: 6 parameters, 95 elements/);
  }
});

test('DistributedSampler: disjoint equal shares padded from the head, reshuffled per epoch', () => {
  // 10 samples over 4 ranks: 3 each, 2 padded from the head of the (unshuffled) order.
  const plain = [0, 1, 2, 3].map((rank) => new DistributedSampler(10, { numReplicas: 4, rank, shuffle: false }).indices());
  assert.deepEqual(plain, [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]);
  const dropped = [0, 1, 2, 3].map((rank) => new DistributedSampler(10, { numReplicas: 4, rank, shuffle: false, dropLast: true }).indices());
  assert.deepEqual(dropped, [[0, 4], [1, 5], [2, 6], [3, 7]]);
  const s = [0, 1].map((rank) => new DistributedSampler(9, { numReplicas: 2, rank, seed: 3 }));
  const e0 = s.map((x) => x.indices());
  assert.deepEqual(new Set([...e0[0]!, ...e0[1]!]).size, 9, 'every sample is seen in an epoch');
  for (const x of s) x.setEpoch(1);
  const e1 = s.map((x) => x.indices());
  assert.notDeepEqual(e1, e0, 'a new epoch reshuffles');
  for (const x of s) x.setEpoch(0);
  assert.deepEqual(s.map((x) => x.indices()), e0, 'the same epoch gives the same order');
  assert.throws(() => new DistributedSampler(5, { numReplicas: 2, rank: 2 }), /rank 2 is out of range for 2 replicas/);
});

test('the Trainer with DistributedLoader + distributedCallback on 2 ranks matches one process', { skip: glooSkip(), timeout: 120_000 }, async () => {
  // One replica with batch 6 sees, at every step, the union of the two ranks' batches of 3
  // (rank r takes every 2nd index of the same permutation), so the averaged gradients are equal.
  const { trainRun } = await import('./workers/trainer_common.js');
  const want = await trainRun(0, 1, () => Promise.resolve(null));
  const res = await runWorkers('trainer', 2, { timeoutMs: 100_000 });
  for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
  for (const r of res) assertClose(lastJson<{ params: number[][] }>(r).params, want, `rank ${r.rank}`);
});
