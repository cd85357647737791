// Worker: ZeRO stage 3 (FullyShardedDataParallel) training of the `mlp` preset (LeNet-300-100)
// against one process on the full batch, in the same process. Each rank builds its model from its
// own seed (create() broadcasts rank 0's), trains STEPS steps of SGD with momentum on its contiguous share of a
// 12-sample batch, and compares the gathered full parameters with the reference (rank 0's seed, the
// whole batch, the same optimizer). Also records what a rank holds: the model's parameter slots
// between uses, the shard layout, shard parameter/gradient bytes and the peak of gathered bytes.
import { SGD, Dropout, clipGradNorm, F, Linear, Sequential, createAnyModel, createGpt, gptLoss, manualSeed, randint, randn, Tensor } from '../../../src/index.js';
import { FullyShardedDataParallel, Zero3, defaultGroup, destroyProcessGroup, getRank, getWorldSize, initProcessGroup } from '../../../src/distributed/index.js';

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
  // Zero3 (the Trainer's ZeRO-3, train --zero 3): the same GPT with SGD-momentum in two parameter
  // groups (weight decay on the matrices only, another learning rate for the rest), the loss through GPT.loss (the tied head fused into the
  // loss, read from the root unit), clipping at 0.5, 2 steps against one process; then the full
  // optimizer state consolidated on rank 0 against the reference's, and finish() hands the model
  // back whole in ordinary arrays.
  const groupsOf = (m: ReturnType<typeof createGpt>): { params: Tensor[]; weightDecay: number; lr?: number }[] => [
    { params: m.parameters().filter((p) => p.ndim === 2), weightDecay: 0.1 }, { params: m.parameters().filter((p) => p.ndim !== 2), weightDecay: 0, lr: 0.02 }];
  const zRef = buildGpt(55);
  const zRefOpt = new SGD(groupsOf(zRef), OPTS);
  const zModel = buildGpt(55);
  const zOpt = new SGD(groupsOf(zModel), OPTS);
  const z3 = new Zero3(zModel, zOpt, defaultGroup('fsdp worker'));
  const z3Losses: number[] = [];
  const z3RefLosses: number[] = [];
  let z3Empty = true;
  for (let s = 0; s < 2; s++) {
    zRefOpt.zeroGrad();
    const rl = zRef.loss(idx, tgt);
    z3RefLosses.push(rl.item());
    rl.backward();
    clipGradNorm(zRef.parameters(), 0.5);
    zRefOpt.step();
    z3.beginStep();
    const l = zModel.loss(idx.slice(0, 2 * rank, 2 * rank + 2), tgt.slice(0, 2 * rank, 2 * rank + 2));
    z3Losses.push(l.item());
    l.backward();
    await z3.finishBackward();
    await z3.step(0.5);
    z3Empty &&= z3.memory().gatheredBytes === 0 && zModel.parameters().every((p) => p.data.length === 0);
  }
  const z3Mem = z3.memory();
  z3.materialize();
  let z3Param = 0;
  const zp = zModel.parameters();
  zRef.parameters().forEach((p, i) => { const a = zp[i]!.data, b = p.data; for (let j = 0; j < b.length; j++) z3Param = Math.max(z3Param, Math.abs(Number(a[j]) - Number(b[j]))); });
  for (const o of [zRefOpt, zOpt]) o.paramGroups[0]!.lr = 0.03; // a schedule's step after the last optimizer step
  const zsd = await z3.consolidateStateDict(0);
  let z3State = rank === 0 ? 0 : NaN;
  let z3Groups = true;
  if (zsd !== null) {
    const want = zRefOpt.stateDict();
    z3Groups = JSON.stringify(zsd.paramGroups) === JSON.stringify(want.paramGroups);
    for (const [id, st] of Object.entries(want.state)) {
      for (const [k, v] of Object.entries(st)) {
        const got = zsd.state[Number(id)]?.[k];
        if (!(v instanceof Tensor)) { if (got !== v) z3State = Infinity; continue; }
        if (!(got instanceof Tensor)) { z3State = Infinity; continue; }
        for (let j = 0; j < v.size; j++) z3State = Math.max(z3State, Math.abs(Number(got.data[j]) - Number(v.data[j])));
      }
    }
  }
  z3.finish();
  const zero3 = { losses: z3Losses, refLosses: z3RefLosses, param: z3Param, state: z3State, groups: z3Groups, emptyBetweenSteps: z3Empty, memory: z3Mem,
    plainAfterFinish: zModel.parameters().every((p) => !(p.data.buffer as ArrayBuffer & { resizable?: boolean }).resizable && p.data.length === p.size) };
  const mem = fsdp.memory();
  console.log(JSON.stringify({ rank, zero3, gpt: gpt3, losses, refLosses, param, names: [...full.keys()], refNames: names, slotsEmpty, layout: mem.layout, parameterBytes: mem.parameterBytes, gradientBytes: gradBytes, peakGatheredBytes: mem.peakGatheredBytes, stateBytes: [...opt.state.values()].reduce((s, st) => s + Object.values(st).reduce((t: number, v) => t + (v instanceof Tensor ? v.size * 4 : 0), 0), 0), errors }));
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).stack}`);
  process.exit(1);
}
