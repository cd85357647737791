// Per-rank memory of ZeRO stage 1/2 against DDP (issue #13): optimizer state bytes and the gradient
// bytes a rank holds between steps, measured from the live tensors after real steps of the `mlp`
// (LeNet-300-100) and `gpt-tiny` presets with Adam, on 2 and 3 ranks over loopback, plus each
// configuration's mean step time (for orientation only: 2 shared cores, 1 thread per rank), and the
// communication buffers ZeRO keeps across steps (bufferBytes; `zero2-lean`: stage 2 with
// keepBuffers false, which drops them after each step).
//   npx tsx bench/zero_memory.ts            # runs every configuration, writes bench/results/zero-memory.json
// Run as a rank (RANK set by the launcher) it measures one configuration: argv model, mode (ddp|zero1|zero2|zero2-lean).
import os from 'node:os';
import { Adam, Tensor, type AdamOptions, createAnyModel, gptLoss, isGptModel, manualSeed, randint, randn, F, type Optimizer } from '../src/index.js';
import { DistributedDataParallel, ZeroRedundancyOptimizer, destroyProcessGroup, getRank, getWorldSize, initProcessGroup } from '../src/distributed/index.js';
import { machineInfo, writeResult, type Json } from './common.js';
import { rankLines } from './launch_ranks.js';

const STEPS = 3;

function stateBytes(opt: Optimizer): number {
  let b = 0;
  for (const s of opt.state.values()) for (const v of Object.values(s)) if (v instanceof Tensor) b += v.size * (v.dtype === 'float64' ? 8 : 4);
  return b;
}

async function rankMain(modelName: string, mode: string): Promise<void> {
  await initProcessGroup({ backend: 'gloo' });
  manualSeed(1);
  const model = createAnyModel(modelName);
  const params = model.parameters();
  const batch = 8;
  const lossOf = (): Tensor => {
    if (isGptModel(model)) {
      const idx = randint(0, model.config.vocabSize, [batch, 32], { dtype: 'int32' });
      return gptLoss(model.call(idx), randint(0, model.config.vocabSize, [batch, 32], { dtype: 'int32' }));
    }
    return F.crossEntropy(model.call(randn([batch, 784])), randint(0, 10, [batch], { dtype: 'int32' }));
  };
  let opt: Optimizer;
  let step: () => Promise<void>;
  let zero: ZeroRedundancyOptimizer<AdamOptions> | null = null;
  if (mode === 'ddp') {
    const ddp = await DistributedDataParallel.create(model);
    opt = new Adam(params, { lr: 1e-3 });
    step = async () => { opt.zeroGrad(); lossOf().backward(); await ddp.finishGradientSync(); opt.step(); };
  } else {
    const z = new ZeroRedundancyOptimizer(params, Adam, { lr: 1e-3 }, { stage: mode === 'zero1' ? 1 : 2, keepBuffers: mode !== 'zero2-lean' });
    zero = z;
    await z.broadcastParameters();
    opt = z.optimizer;
    step = async () => { z.zeroGrad(); lossOf().backward(); await z.step(); };
  }
  await step(); // warm-up (state created)
  const t0 = performance.now();
  for (let s = 0; s < STEPS; s++) await step();
  const stepMs = (performance.now() - t0) / STEPS;
  const gradBytes = params.reduce((s, p) => s + (p.grad?.size ?? 0) * 4, 0) + (zero === null ? 0 : zero.optimizer.paramGroups.flatMap((g) => g.params).reduce((s, p) => s + (p.grad?.size ?? 0) * 4, 0));
  console.log(JSON.stringify({ rank: getRank(), world: getWorldSize(), model: modelName, mode, paramElements: params.reduce((s, p) => s + p.size, 0), optimizerStateBytes: stateBytes(opt), gradBytesBetweenSteps: gradBytes, bufferBytes: zero?.bufferBytes() ?? 0, stepMs }));
  await destroyProcessGroup();
}

async function driver(): Promise<void> {
  const rows: Json[] = [];
  for (const model of ['mlp', 'gpt-tiny']) {
    for (const world of [2, 3]) {
      for (const mode of ['ddp', 'zero1', 'zero2', 'zero2-lean']) {
        const lines = await rankLines('zero_memory.ts', [model, mode], world);
        const r0 = lines.find((l) => l['rank'] === 0)!;
        rows.push({ model, world, mode, paramElements: r0['paramElements'], optimizerStateBytesPerRank: lines.map((l) => l['optimizerStateBytes']), gradBytesBetweenStepsPerRank: lines.map((l) => l['gradBytesBetweenSteps']), bufferBytesPerRank: lines.map((l) => l['bufferBytes']), stepMsRank0: r0['stepMs'] });
        process.stderr.write(`${model} ${world} ranks ${mode}: state ${String(r0['optimizerStateBytes'])} B/rank, grads ${String(r0['gradBytesBetweenSteps'])} B/rank, buffers ${String(r0['bufferBytes'])} B/rank, step ${Number(r0['stepMs']).toFixed(1)} ms\n`);
      }
    }
  }
  const out = writeResult('zero-memory', { date: new Date().toISOString(), optimizer: 'Adam', threadsPerRank: 1, peer: 'DistributedDataParallel + Adam in the same run (every rank holds the full state)', rows, machine: machineInfo({ loadavgAtStart: os.loadavg() }) });
  process.stderr.write(`wrote ${out.current}\n`);
}

if (process.env['RANK'] !== undefined) await rankMain(process.argv[2] ?? 'mlp', process.argv[3] ?? 'zero1');
else await driver();
