// ZeRO-3 failure paths, in one process over a stand-in group (no Gloo): when a unit's forward throws
// while the next unit's all-gather is in flight and that gather then fails too (as it does once the
// group breaks), forward rejects with the unit's error and the abandoned gather surfaces nowhere
// (no unhandled rejection); the model's slots are empty again and a later forward works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Linear, Sequential, manualSeed, randn, type Tensor } from '../../src/index.js';
import { fromBuffer } from '../../src/core/tensor.js';
import { FullyShardedDataParallel, type ProcessGroup } from '../../src/distributed/index.js';
import { nativePassOnly } from '../helpers/requirements.js';

// One rank: all-gather copies the shard; calls listed in `failing` reject a tick later.
function standIn(failing: Set<number>): ProcessGroup {
  let calls = 0;
  const g = {
    rank: 0, worldSize: 1,
    allGather: (t: Tensor): Promise<Tensor> => {
      const k = calls++;
      const copy = fromBuffer((t.data as Float32Array).slice(t.offset, t.offset + t.size), 'float32', [1, ...t.shape]);
      return new Promise((resolve, reject) => setTimeout(() => (failing.has(k) ? reject(new Error('allGather: connection closed')) : resolve(copy)), 5));
    },
  };
  return g as unknown as ProcessGroup;
}

test('ZeRO-3: a failed prefetched all-gather after a unit error is no unhandled rejection', { skip: nativePassOnly('ZeRO-3 error paths (no kernel under test)') }, async () => {
  const seen: unknown[] = [];
  const onUnhandled = (e: unknown): void => { seen.push(e); };
  process.on('unhandledRejection', onUnhandled);
  try {
    manualSeed(1);
    const model = new Sequential(new Linear(4, 3), new Linear(3, 2), new Linear(2, 2));
    const fsdp = new FullyShardedDataParallel(model, { group: standIn(new Set([1])) }); // unit 1's gather fails
    await assert.rejects(fsdp.forward(randn([2, 5])), /Linear|shape|5/); // unit 0 refuses 5 features, unit 1's gather in flight
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(seen, [], 'the abandoned gather surfaced as an unhandled rejection');
    assert.equal(model.parameters().length, 0, 'the slots are empty again');
    const ok = new FullyShardedDataParallel(new Sequential(new Linear(4, 3), new Linear(3, 2)), { group: standIn(new Set()) });
    const out = await ok.forward(randn([2, 4]));
    assert.deepEqual(out.shape, [2, 2]);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});
