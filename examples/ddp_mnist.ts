// Data-parallel training of a small MLP on the embedded MNIST digits: every rank trains on its
// DistributedSampler share of each epoch, DDP averages the gradients, rank 0 reports.
//
//   npx tsx src/cli/main.ts launch --nproc-per-node 2 examples/ddp_mnist.ts --epochs 2
//   torchrun --nproc_per_node 2 --rdzv_backend=c10d --rdzv_endpoint=127.0.0.1:29400 --no_python \
//     --redirects=2 --tee=1 --log_dir=/tmp/tr node --import tsx examples/ddp_mnist.ts
//   npx tsx examples/ddp_mnist.ts            # also runs alone, as a world of one
//
// The global batch is 64: each of N ranks takes 64 / N samples per step, so N ranks follow the same
// optimization path as one process (up to float32 rounding and the padded epoch tail).

import { CrossEntropyLoss, DataLoader, Linear, ReLU, SGD, Sequential, Subset, distributed, loadMnistDigits, manualSeed, noGrad, tensor } from '../src/index.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const epochs = arg('epochs', 1);
const limit = arg('limit', 8000); // training samples used (a smaller number makes a quick check)

await distributed.initProcessGroup({ backend: 'gloo' });
const rank = distributed.getRank();
const world = distributed.getWorldSize();
const say = (s: string): void => { if (rank === 0) console.log(s); };

const { train, test } = loadMnistDigits({ flat: true });
const trainSet = new Subset(train, Array.from({ length: Math.min(limit, train.length) }, (_, i) => i));
manualSeed(1 + rank); // different on purpose: DDP starts every rank from rank 0's parameters
const model = new Sequential(new Linear(784, 128), new ReLU(), new Linear(128, 10));
const ddp = await distributed.DistributedDataParallel.create(model);
const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
const lossFn = new CrossEntropyLoss();
const sampler = new distributed.DistributedSampler(trainSet.length, { seed: 7 });
const perRank = Math.max(1, Math.floor(64 / world));

for (let epoch = 0; epoch < epochs; epoch++) {
  sampler.setEpoch(epoch);
  let sum = 0;
  let steps = 0;
  for (const [x, y] of new DataLoader(sampler.subset(trainSet), { batchSize: perRank })) {
    opt.zeroGrad();
    const loss = lossFn.call(model.call(x!), y!);
    loss.backward();
    await ddp.finishGradientSync();
    opt.step();
    sum += loss.item();
    steps++;
  }
  say(`epoch ${epoch + 1}: mean loss ${(sum / steps).toFixed(4)} (rank 0's shard, ${steps} steps)`);
}

const [tx, ty] = test.tensors;
const acc = noGrad(() => model.call(tx!).argmax(1).eq(ty!).to('float32').mean().item());
// Replicas must agree: all-gather a checksum of the parameters.
const check = model.parameters().reduce((s, p) => s + Array.from(p.data).reduce((a, v, i) => a + v * ((i % 7) + 1), 0), 0);
const all = await distributed.allGather(tensor([check], { dtype: 'float64' }));
const spread = Math.max(...Array.from(all.data)) - Math.min(...Array.from(all.data));
say(`test accuracy ${(acc * 100).toFixed(2)}% on ${world} rank(s); parameter checksum spread across ranks ${spread.toExponential(2)}`);
await distributed.destroyProcessGroup();
