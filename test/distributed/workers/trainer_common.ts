// The Trainer run shared by workers/trainer.ts (N ranks) and the single-process reference in
// ddp.test.ts: a 6-8-3 classifier, 12 labelled samples, 2 epochs, global batch 6, SGD with momentum.
import { SGD, TensorDataset, Trainer, manualSeed, randn, randint } from '../../../src/index.js';
import { DistributedLoader, distributedCallback, type DistributedDataParallel } from '../../../src/distributed/index.js';
import { buildModel, params } from './ddp_common.js';

export function dataset(): TensorDataset {
  manualSeed(7);
  return new TensorDataset(randn([12, 6]), randint(0, 3, [12], { dtype: 'int32' }));
}

/** Trains with `replicas` ranks (this one is `rank`); `ddp` wraps the model when replicas > 1. */
export async function trainRun(rank: number, replicas: number, wrap: (m: ReturnType<typeof buildModel>) => Promise<DistributedDataParallel | null>): Promise<number[][]> {
  const model = buildModel(1000 + rank);
  const ddp = await wrap(model);
  const loader = new DistributedLoader(dataset(), { batchSize: 6 / replicas }, { numReplicas: replicas, rank, seed: 3 });
  const trainer = new Trainer({
    model, optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }), trainLoader: loader, epochs: 2,
    callbacks: ddp === null ? [distributedCallbackless(loader)] : [distributedCallback(ddp, loader)],
  });
  await trainer.fit();
  return params(model);
}

// The single process still needs the per-epoch reshuffle of its (one-replica) loader.
function distributedCallbackless(loader: { setEpoch(e: number): void }): { onEpochBegin(t: { epoch: number }): void } {
  return { onEpochBegin: (t) => loader.setEpoch(t.epoch) };
}
