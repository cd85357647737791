// Sub-groups (newGroup) on 4 ranks: 2-way tensor parallelism x 2-way data parallelism (DDP over the
// data-parallel sub-group) and 2 pipeline stages x 2-way data parallelism (ZeRO-1 over it) on a small
// GPT equal one process on the full batch: the averaged loss and, for TP x DP, every gradient (or its
// slice) and the loss after an SGD step; for PP x DP the parameters after the step. Float32, sums in
// another order: 1e-5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOW_MACHINE_TIMEOUT_MS, glooSkip, lastJson, runWorkers } from './helpers.js';

interface Out { rank: number; mp: number[]; dp: number[]; notMember: number | null; tpLossDiff: number; tpGrad: number; tpLossAfterDiff: number; ppLossDiff: number; ppParam: number; stages: number[] }

test('sub-groups: 2 TP x 2 DP and 2 PP x 2 DP on 4 ranks equal one process on the batch', { skip: glooSkip(), timeout: 200_000 }, async () => {
  const res = await runWorkers('groups', 4, { timeoutMs: 180_000, perRank: () => ({ TENSORSLIM_DIST_TIMEOUT_MS: String(SLOW_MACHINE_TIMEOUT_MS) }) });
  for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
  const outs = res.map((r) => lastJson<Out>(r));
  // [rank in group, group size, ...the group's ranks of the default group]
  assert.deepEqual(outs.map((o) => o.mp), [[0, 2, 0, 1], [1, 2, 0, 1], [0, 2, 2, 3], [1, 2, 2, 3]]);
  assert.deepEqual(outs.map((o) => o.dp), [[0, 2, 0, 2], [0, 2, 1, 3], [1, 2, 0, 2], [1, 2, 1, 3]]);
  assert.deepEqual(outs.map((o) => o.notMember), [null, 0, 1, null]);
  assert.deepEqual(outs.map((o) => o.stages), [[0, 1], [1, 2], [0, 1], [1, 2]]);
  for (const o of outs) {
    for (const key of ['tpLossDiff', 'tpGrad', 'tpLossAfterDiff', 'ppLossDiff', 'ppParam'] as const) {
      assert.ok(Number.isFinite(o[key]) && o[key] <= 1e-5, `rank ${o.rank}: ${key} = ${o[key]}`);
    }
  }
});

test('newGroup in one process: a group of rank 0 works; bad rank lists and sub-groups of sub-groups are refused', { skip: glooSkip() }, async () => {
  const { initProcessGroup, newGroup, destroyProcessGroup } = await import('../../src/distributed/index.js');
  const { tensor } = await import('../../src/index.js');
  const pg = await initProcessGroup({ backend: 'gloo', rank: 0, worldSize: 1, env: {}, token: 'groups-test' });
  try {
    const g = (await newGroup([0]))!;
    assert.deepEqual([g.rank, g.worldSize, ...g.ranks], [0, 1, 0]);
    assert.deepEqual(Array.from((await g.allReduce(tensor([1, 2]), 'sum')).data), [1, 2]);
    await assert.rejects(newGroup([1]), /newGroup\(\[1\]\) \(rank 0 of 1\): ranks must be distinct integers in 0\.\.0/);
    await assert.rejects(pg.newGroup([0, 0]), /ranks must be distinct integers/);
    await assert.rejects(g.newGroup([0]), /sub-groups are made from the default group/);
  } finally {
    await destroyProcessGroup();
  }
});
