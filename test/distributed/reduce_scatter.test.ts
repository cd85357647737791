// The ring reduceScatter (native/src/distributed/dist_addon.cc) against allReduce + slice of the
// same inputs on 2 and 3 ranks: equal row shares, uneven counts (with an empty share), sum, avg,
// max and min, float32/float64/int32, and an 80k-element case. Integer-valued data and max/min must
// match exactly; float sums run in another order than Gloo's allreduce, so they get 1e-5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { glooSkip, lastJson, runWorkers } from './helpers.js';

interface Case { shape: number[]; maxAbsDiff: number; exactMismatches: number; n: number }

// Communication only (no kernel runs): the native pass alone.
const skip = process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'collectives only, no kernel: runs in the native pass' : glooSkip();

for (const n of [2, 3]) {
  test(`reduceScatter on ${n} ranks equals allReduce + slice (even and uneven counts)`, { skip, timeout: 90_000 }, async () => {
    const res = await runWorkers('reduce_scatter', n, { timeoutMs: 80_000 });
    for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
    for (const r of res) {
      const { rank, cases } = lastJson<{ rank: number; cases: Record<string, Case> }>(r);
      assert.deepEqual(cases['f32-sum-rows']!.shape, [2, 3]);
      assert.equal(cases['f64-avg-uneven']!.n, 2 * rank + 1);
      assert.equal(cases['f32-max-uneven-zero']!.n, rank === 1 ? 0 : 4 + rank);
      assert.equal(cases['i32-min-uneven']!.n, 5 - rank);
      assert.equal(cases['f32-sum-large-uneven']!.n, 40_000 + 777 * rank);
      for (const name of ['f32-sum-int-valued', 'f32-max-uneven-zero', 'i32-min-uneven']) {
        assert.equal(cases[name]!.exactMismatches, 0, `rank ${rank} ${name}: ${JSON.stringify(cases[name])}`);
      }
      for (const [name, c] of Object.entries(cases)) {
        assert.ok(c.exactMismatches >= 0, `rank ${rank} ${name}: wrong share size`);
        assert.ok(c.maxAbsDiff <= 1e-5, `rank ${rank} ${name}: differs from allReduce + slice by ${c.maxAbsDiff}`);
      }
    }
  });
}
