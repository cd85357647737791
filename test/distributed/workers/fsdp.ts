// Worker: ZeRO stage 3 (FullyShardedDataParallel) training of the `mlp` preset (LeNet-300-100)
// against one process on the full batch, in the same process. Each rank builds its model from its
// own seed (create() broadcasts rank 0's), trains STEPS steps of SGD with momentum on its contiguous share of a
// 12-sample batch, and compares the gathered full parameters with the reference (rank 0's seed, the
// whole batch, the same optimizer). Also records what a rank holds: the model's parameter slots
// between uses, the shard layout, shard parameter/gradient bytes and the peak of gathered bytes.
import { SGD, Dropout, F, Linear, Sequential, createAnyModel, createGpt, gptLoss, manualSeed, randint, randn, Tensor } from '../../../src/index.js';
import { FullyShardedDataParallel, destroyProcessGroup, getRank, getWorldSize, initProcessGroup } from '../../../src/distributed/index.js';

const STEPS = 3;
const BATCH = 12;
const OPTS = { lr: 0.05, momentum: 0.9, weightDecay: 0.01 };
try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  const n = getWorldSize();
  manualSeed(42);
  const x = randn([BATCH, 784]);
  const y = randint(0, 10, [BATCH], { dtype: 'int32' });
  const build = (seed: number): ReturnType<typeof createAnyModel> => { manualSeed(seed); return createAnyModel('mlp'); };
  // The reference: one process, the whole batch.
  const ref = build(1000);
  const refOpt = new SGD(ref.parameters(), OPTS);
  const refLosses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    refOpt.zeroGrad();
    const l = F.crossEntropy(ref.call(x) as Tensor, y);
    refLosses.push(l.item());
    l.backward();
    refOpt.step();
  }
  const model = build(1000 + rank);
  const fsdp = await FullyShardedDataParallel.create(model);
  const opt = new SGD(fsdp.parameters(), OPTS);
  const share = BATCH / n;
  const from = rank * share;
  const losses: number[] = [];
  let slotsEmpty = true;
  let gradBytes = 0;
  for (let s = 0; s < STEPS; s++) {
    opt.zeroGrad();
    const out = await fsdp.forward(x.slice(0, from, from + share));
    const l = F.crossEntropy(out, y.slice(0, from, from + share));
    await fsdp.backward(l);
    losses.push(l.item()); // the mean over ranks of the shares' mean losses is the batch's mean loss
    gradBytes = fsdp.memory().gradientBytes;
    opt.step();
    slotsEmpty &&= model.parameters().length === 0;
  }
  const full = await fsdp.fullParameters();
  let param = 0;
  const names: string[] = [];
  for (const [name, p] of ref.namedParameters()) {
    const got = full.get(name);
    names.push(name);
    if (got === undefined) { param = Infinity; continue; }
    const a = got.data, b = p.contiguous().data;
    for (let i = 0; i < b.length; i++) param = Math.max(param, Math.abs(Number(a[i]) - Number(b[i])));
  }
  // Bad input: a unit that would redraw a dropout mask, and a model that is not a chain.
  const errors: string[] = [];
  for (const bad of [() => new FullyShardedDataParallel(new Sequential(new Linear(2, 2), new Dropout(0.5))), () => new FullyShardedDataParallel(new Linear(2, 2))]) {
    try { bad(); errors.push('no error'); } catch (e) { errors.push((e as Error).message); }
  }
  // A GPT (tied embeddings: the matrix is in the root unit), 2 steps of SGD with momentum, batch of
  // 2 rows per rank against one process on the 2n rows.
  const gptCfg = { nLayer: 2, nEmbd: 32, nHead: 4, blockSize: 16, dropout: 0 } as const;
  manualSeed(9);
  const idx = randint(0, 256, [2 * n, 10], { dtype: 'int32' });
  const tgt = randint(0, 256, [2 * n, 10], { dtype: 'int32' });
  const buildGpt = (seed: number): ReturnType<typeof createGpt> => { manualSeed(seed); return createGpt('gpt-tiny', gptCfg); };
  const gRef = buildGpt(77);
  const gRefOpt = new SGD(gRef.parameters(), OPTS);
  const gpt = buildGpt(77 + rank);
  const gFsdp = await FullyShardedDataParallel.create(gpt);
  const gOpt = new SGD(gFsdp.parameters(), OPTS);
  const gptLosses: number[] = [];
  const gptRefLosses: number[] = [];
  for (let s = 0; s < 2; s++) {
    gRefOpt.zeroGrad();
    const rl = gptLoss(gRef.call(idx), tgt);
    gptRefLosses.push(rl.item());
    rl.backward();
    gRefOpt.step();
    gOpt.zeroGrad();
    const l = gptLoss(await gFsdp.forward(idx.slice(0, 2 * rank, 2 * rank + 2)), tgt.slice(0, 2 * rank, 2 * rank + 2));
    await gFsdp.backward(l);
    gptLosses.push(l.item());
    gOpt.step();
  }
  const gFull = await gFsdp.fullParameters();
  let gptParam = 0;
  const gptNames: string[] = [];
  for (const [name, p] of gRef.namedParameters()) {
    gptNames.push(name);
    const got = gFull.get(name);
    if (got === undefined) { gptParam = Infinity; continue; }
    const a = got.data, b = p.contiguous().data;
    for (let i = 0; i < b.length; i++) gptParam = Math.max(gptParam, Math.abs(Number(a[i]) - Number(b[i])));
  }
  const gMem = gFsdp.memory();
  const gpt3 = { losses: gptLosses, refLosses: gptRefLosses, param: gptParam, names: [...gFull.keys()], refNames: gptNames, units: gMem.layout.map((u) => u.elements), root: gMem.root.elements, slotsEmpty: gpt.parameters().length === 0 };
  const mem = fsdp.memory();
  console.log(JSON.stringify({ rank, gpt: gpt3, losses, refLosses, param, names: [...full.keys()], refNames: names, slotsEmpty, layout: mem.layout, parameterBytes: mem.parameterBytes, gradientBytes: gradBytes, peakGatheredBytes: mem.peakGatheredBytes, stateBytes: [...opt.state.values()].reduce((s, st) => s + Object.values(st).reduce((t: number, v) => t + (v instanceof Tensor ? v.size * 4 : 0), 0), 0), errors }));
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).stack}`);
  process.exit(1);
}
