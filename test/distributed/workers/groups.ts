// Worker: sub-groups on 4 ranks, model parallelism combined with data parallelism, against one
// process on the full batch (computed in the same process). Ranks 0,1 and 2,3 form the model-parallel
// groups (tensor-parallel, then pipeline stages), ranks 0,2 and 1,3 the data-parallel groups; data
// replica d = floor(rank / 2) trains on rows [2d, 2d + 2) of a 4-row batch.
// - 2 TP x 2 DP: parallelizeTransformer over the TP group, DDP over the DP group: the averaged
//   gradient of every parameter equals (its slice of) the full-batch gradient, and after one SGD step
//   the model's full-batch loss equals the reference's.
// - 2 PP x 2 DP: GPipeGPT over the pipeline group, ZeRO-1 (gradient all-reduce) over the DP group:
//   the stage's parameters after one SGD step equal the reference's.
// Prints the largest absolute differences.
import { SGD, createGpt, gptLoss, manualSeed, narrow, randint, tensor, type Tensor } from '../../../src/index.js';
import {
  DistributedDataParallel, GPipeGPT, ZeroRedundancyOptimizer, destroyProcessGroup, getRank, initProcessGroup, newGroup, parallelizeTransformer,
} from '../../../src/distributed/index.js';

const CFG = { nLayer: 2, nEmbd: 32, nHead: 4, blockSize: 16, dropout: 0 } as const;
try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  // Every rank makes every group, in the same order.
  const mp = [await newGroup([0, 1]), await newGroup([2, 3])].find((g) => g !== null)!;
  const dp = [await newGroup([0, 2]), await newGroup([1, 3])].find((g) => g !== null)!;
  const notMember = await newGroup([1, 2]); // rank 0 and 3 get null
  manualSeed(5);
  const idx = randint(0, 256, [4, 12], { dtype: 'int32' });
  const tgt = randint(0, 256, [4, 12], { dtype: 'int32' });
  const d = Math.floor(rank / 2); // data replica: which model-parallel group
  const myIdx = narrow(idx, 0, 2 * d, 2).contiguous();
  const myTgt = narrow(tgt, 0, 2 * d, 2).contiguous();
  const build = (): ReturnType<typeof createGpt> => { manualSeed(11); return createGpt('gpt-tiny', CFG); };
  const values = (t: Tensor): number[] => { const u = t.contiguous(); return Array.from(u.data.subarray(u.offset, u.offset + u.size), Number); };
  const diff = (a: Tensor, y: number[]): number => {
    const x = values(a);
    if (x.length !== y.length) return Infinity;
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
    return m;
  };
  const ref = build();
  const refLoss = gptLoss(ref.call(idx), tgt);
  refLoss.backward();
  const refGrads = new Map(ref.namedParameters().map(([n, p]) => [n, p.grad!]));
  new SGD(ref.parameters(), { lr: 0.5 }).step();
  const refParams = new Map(ref.namedParameters());
  const refLossAfter = gptLoss(ref.call(idx), tgt).item();

  // 2 TP x 2 DP.
  const c = CFG.nEmbd;
  const k = c / 2;
  const t = mp.rank;
  const sliceOf = (name: string, g: Tensor): number[] => {
    if (name.endsWith('attn.c_attn.weight') || name.endsWith('attn.c_attn.bias')) return [0, 1, 2].flatMap((p) => values(narrow(g, 0, p * c + t * k, k)));
    if (name.endsWith('mlp.c_fc.weight') || name.endsWith('mlp.c_fc.bias')) return values(narrow(g, 0, t * 2 * c, 2 * c));
    if (name.endsWith('c_proj.weight')) return values(narrow(g, 1, t * (g.shape[1]! / 2), g.shape[1]! / 2));
    return values(g);
  };
  const tp = build();
  parallelizeTransformer(tp, { group: mp });
  const ddp = await DistributedDataParallel.create(tp, { group: dp });
  const loss = gptLoss(tp.call(myIdx), myTgt);
  loss.backward();
  await ddp.finishGradientSync();
  const meanLoss = (await dp.allReduce(tensor([loss.item()]), 'avg')).item();
  let tpGrad = 0;
  for (const [name, p] of tp.namedParameters()) tpGrad = Math.max(tpGrad, diff(p.grad!, sliceOf(name, refGrads.get(name)!)));
  new SGD(tp.parameters(), { lr: 0.5 }).step();
  const tpLossAfter = gptLoss(tp.call(idx), tgt).item();

  // 2 PP x 2 DP.
  const model = build();
  const pipe = new GPipeGPT(model, { microBatches: 2, group: mp });
  const zero = new ZeroRedundancyOptimizer(pipe.parameters(), SGD, { lr: 0.5 }, { stage: 1, group: dp });
  zero.zeroGrad();
  const ppLoss = await pipe.trainStep(myIdx, myTgt);
  const ppMean = (await dp.allReduce(tensor([ppLoss]), 'avg')).item();
  await zero.step();
  let ppParam = 0;
  const mine = new Set(pipe.parameters());
  for (const [name, p] of model.namedParameters()) if (mine.has(p)) ppParam = Math.max(ppParam, diff(p, values(refParams.get(name)!)));

  console.log(JSON.stringify({
    rank, mp: [mp.rank, mp.worldSize, ...mp.ranks], dp: [dp.rank, dp.worldSize, ...dp.ranks], notMember: notMember === null ? null : notMember.rank,
    tpLossDiff: Math.abs(meanLoss - refLoss.item()), tpGrad, tpLossAfterDiff: Math.abs(tpLossAfter - refLossAfter),
    ppLossDiff: Math.abs(ppMean - refLoss.item()), ppParam, stages: [pipe.first, pipe.end],
  }));
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).stack}`);
  process.exit(1);
}
