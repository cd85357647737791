// Collectives on 2 and 3 ranks over loopback: each result is checked against values derived by hand
// from the rank-dependent inputs of workers/collectives.ts; allReduce with Gloo's tuning (small
// segments, bcube), our pipelined ring (every dtype and reduction, odd sizes) and the in-place
// startAllGather (ZeRO-3's gather) are among them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { glooSkip, lastJson, runWorkers } from './helpers.js';

interface Out { rank: number; world: number; sum: number[]; avg64: number[]; max: number[]; min: number[]; bcast: number[]; gatherShape: number[]; gather: number[]; rsShape: number[]; rs: number[]; recv: number[]; tunedRing: number; tunedBcube: number; pipelined: Record<string, number>; badSegment: string; badAlgorithm: string; badDepth: string; gatherInPlace: number[]; badGather: string }

for (const n of [2, 3]) {
  test(`collectives on ${n} ranks give the hand-derived results`, { skip: glooSkip(), timeout: 90_000 }, async () => {
    const res = await runWorkers('collectives', n, { timeoutMs: 80_000 });
    for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
    const tri = (n * (n - 1)) / 2; // sum of ranks 0..n-1
    for (const r of res) {
      const o = lastJson<Out>(r);
      const k = o.rank;
      // sum of [r+1, 10(r+1), -r] over ranks
      assert.deepEqual(o.sum, [tri + n, 10 * (tri + n), -tri]);
      // avg of [r, 2r] over ranks = [(n-1)/2, n-1]
      assert.deepEqual(o.avg64, [(n - 1) / 2, n - 1]);
      assert.deepEqual(o.max, [n - 1, 0]);
      assert.deepEqual(o.min, [0, -(n - 1)]);
      assert.deepEqual(o.bcast, [7, 8, 9]);
      assert.deepEqual(o.gatherShape, [n, 1, 2]);
      assert.deepEqual(o.gather, Array.from({ length: n }, (_, i) => [i, i + 0.5]).flat());
      // row i of the reduceScatter input is i + r; summed over ranks: n*i + tri; rank k keeps rows 2k, 2k+1
      assert.deepEqual(o.rsShape, [2, 1]);
      assert.deepEqual(o.rs, [n * (2 * k) + tri, n * (2 * k + 1) + tri]);
      assert.equal(o.tunedRing, 0, 'allReduce in 1 KiB segments: every element the sum');
      assert.equal(o.tunedBcube, 0, 'allReduce with bcube: every element the sum');
      assert.equal(Object.keys(o.pipelined).length, 40, 'every pipelined case ran');
      for (const [name, bad] of Object.entries(o.pipelined)) assert.equal(bad, 0, `pipelined allReduce ${name}: every element the reduction`);
      assert.match(o.badSegment, /allReduce: segmentBytes must be a non-negative integer/);
      assert.match(o.badAlgorithm, /allReduce: algorithm must be one of 'ring', 'bcube', 'pipelined', got 'tree'/);
      assert.match(o.badDepth, /allReduce: depth must be an integer from 1 to 1024 segments/);
      assert.deepEqual(o.gatherInPlace, Array.from({ length: n }, (_, i) => [i + 0.25, -(i + 1)]).flat());
      assert.match(o.badGather, new RegExp(`startAllGather: the tensor of shape \\(${2 * n + 1}\\) has ${2 * n + 1} elements, not ${n} equal runs`));
      const prev = (k + n - 1) % n;
      assert.deepEqual(o.recv, [prev, prev]);
    }
  });
}

for (const mode of ['idle', 'pending']) {
  test(`ranks that end without destroyProcessGroup exit 0 (${mode} communication thread)`, { skip: glooSkip(), timeout: 90_000 }, async () => {
    const res = await runWorkers('exit', 2, { args: [mode], timeoutMs: 80_000 });
    for (const r of res) {
      assert.equal(r.code, 0, `rank ${r.rank} exited with ${String(r.code)} ${String(r.signal)}:\n${r.stderr}`);
      assert.deepEqual(lastJson<{ sum: number }>(r).sum, 3);
    }
  });
}
