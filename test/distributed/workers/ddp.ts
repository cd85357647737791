// Worker: DDP training of workers/ddp_common.ts. Each rank builds its model from a different seed
// (the start-up broadcast must make them equal) and trains on its contiguous share of the batch.
// argv[2] === 'accumulate': each rank splits its share in two micro-batches, the first under noSync.
// argv[2] === 'mismatch': rank 1 builds a different model (the cross-rank check must refuse it).
import { Linear } from '../../../src/index.js';
import { DistributedDataParallel, destroyProcessGroup, getRank, getWorldSize, initProcessGroup } from '../../../src/distributed/index.js';
import { BATCH, STEPS, buildModel, data, loss, optimizer, params } from './ddp_common.js';

const mode = process.argv[2] ?? 'plain';
try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  const share = BATCH / getWorldSize();
  const model = buildModel(1000 + rank);
  if (mode === 'mismatch' && rank === 1) model.registerModule('extra', new Linear(3, 3));
  // A 256-byte cap (64 floats) splits the 6-8-3 MLP's 4 parameters (48 + 8 + 24 + 3 floats) into 2 buckets.
  const ddp = await DistributedDataParallel.create(model, { bucketCapMB: 1 / 1024 / 4 });
  const opt = optimizer(model);
  const [x, y] = data();
  const from = rank * share;
  for (let s = 0; s < STEPS; s++) {
    opt.zeroGrad();
    if (mode === 'accumulate') {
      const half = share / 2;
      ddp.noSync(() => loss(model, x, y, from, from + half, 0.5).backward());
      loss(model, x, y, from + half, from + share, 0.5).backward();
    } else {
      loss(model, x, y, from, from + share).backward();
    }
    await ddp.finishGradientSync();
    opt.step();
  }
  console.log(JSON.stringify({ rank, buckets: ddp.bucketSizes, params: params(model) }));
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).message}`);
  process.exit(1);
}
