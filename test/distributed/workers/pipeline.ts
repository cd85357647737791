// Worker: GPipeGPT against the unsplit model, in the same process. Every rank builds the same small
// GPT (one seed, tied embeddings) and computes the full-batch loss and gradients unsplit (the
// reference); then, for each `schedule:microBatches` run of argv[2] (comma-separated), builds it
// again, runs GPipeGPT.trainStep on the same batch and compares the loss and the gradient of every
// parameter of its stage; then one SGD step on both and the stage's parameters again. Prints, per
// run, the largest absolute differences and the peak number of stashed micro-batches.
import { SGD, createGpt, gptLoss, manualSeed, randint, type Tensor } from '../../../src/index.js';
import { GPipeGPT, destroyProcessGroup, getRank, initProcessGroup, type PipelineSchedule } from '../../../src/distributed/index.js';

const runs = (process.argv[2] ?? 'gpipe:2').split(',').map((r) => { const [s, m] = r.split(':'); return { schedule: s as PipelineSchedule, micro: Number(m) }; });
try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  manualSeed(7);
  const idx = randint(0, 256, [4, 10], { dtype: 'int32' });
  const tgt = randint(0, 256, [4, 10], { dtype: 'int32' });
  const build = (): ReturnType<typeof createGpt> => { manualSeed(13); return createGpt('gpt-tiny', { nLayer: 3, nEmbd: 32, nHead: 4, blockSize: 16, dropout: 0 }); };
  const diff = (a: Tensor, b: Tensor): number => {
    const x = a.contiguous().data, y = b.contiguous().data;
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])));
    return x.length === y.length ? m : Infinity;
  };
  const out = [];
  for (const { schedule, micro } of runs) {
    const ref = build();
    const refLoss = gptLoss(ref.call(idx), tgt);
    refLoss.backward();
    const model = build();
    const pipe = new GPipeGPT(model, { microBatches: micro, schedule });
    const loss = await pipe.trainStep(idx, tgt);
    const refParams = new Map(model.namedParameters().map(([, p], i) => [p, ref.namedParameters()[i]![1]] as const));
    let grad = 0;
    const mine = pipe.parameters();
    for (const p of mine) grad = Math.max(grad, diff(p.grad!, refParams.get(p)!.grad!));
    new SGD(mine, { lr: 0.5 }).step();
    new SGD(ref.parameters(), { lr: 0.5 }).step();
    let param = 0;
    for (const p of mine) param = Math.max(param, diff(p, refParams.get(p)!));
    const names = model.namedParameters().filter(([, p]) => mine.includes(p)).map(([n]) => n);
    out.push({ schedule, micro, blocks: [pipe.first, pipe.end], loss, refLoss: refLoss.item(), grad, param, params: mine.length, peakStashed: pipe.peakStashed, names: names.filter((n) => !n.startsWith('transformer.h.')) });
  }
  console.log(JSON.stringify({ rank, runs: out }));
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).stack}`);
  process.exit(1);
}
