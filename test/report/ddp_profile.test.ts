// Communication in the step breakdown: two DDP ranks each profile two training steps with the
// gradient sync timed as the 'comm' phase; the breakdown's comm time is DDP's own wait
// (commStats().waitMs of that step, the profiler's comm source), the accounting's parts still sum
// to the step, and the Chrome trace shows the comm slices. Native pass only (it tests
// the profiler's bookkeeping around collectives, not a kernel).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { glooSkip, lastJson, runWorkers } from '../distributed/helpers.js';
import type { StepBreakdown } from '../../src/report/profiler.js';

test('profiler: DDP gradient sync lands in the comm phase of the step breakdown (2 ranks)', { skip: glooSkip(), timeout: 60_000 }, async () => {
  const res = await runWorkers('profile_ddp', 2, { timeoutMs: 50_000 });
  for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
  for (const r of res) {
    const o = lastJson<{ rank: number; steps: StepBreakdown[]; ddpStats: { waitMs: number; overlapMs: number }[]; commSlices: number; commRegion: { calls: number; totalMs: number } | null }>(r);
    assert.equal(o.steps.length, 2);
    assert.equal(o.commRegion?.calls, 2, 'one comm region per step');
    assert.equal(o.commSlices, 2, 'the trace shows each comm region');
    o.steps.forEach((s, i) => {
      assert.equal(s.commSource, 'ddp');
      assert.equal(s.commMs, o.ddpStats[i]!.waitMs, `rank ${o.rank} step ${i}: the comm phase is DDP's own wait`);
      assert.equal(s.commOverlapMs, o.ddpStats[i]!.overlapMs);
      assert.ok(s.commMs > 0, `rank ${o.rank}: comm ${s.commMs} ms`);
      const a = s.accounting;
      assert.ok(a.comm <= s.commMs + 1e-9, `accounted comm ${a.comm} ms is the comm phase less GC (${s.commMs} ms)`);
      const sum = a.ops + a.optimizer + a.data + a.gc + a.comm + a.unattributed;
      assert.ok(Math.abs(sum - s.totalMs) < 1e-6, `parts sum to ${sum}, step ${s.totalMs}`);
    });
  }
});
