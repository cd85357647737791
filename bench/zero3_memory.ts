// Per-rank memory of ZeRO stage 3 against DDP and ZeRO-2 (issue #13): the parameter, gradient and
// optimizer-state bytes a rank holds between steps, measured from the live tensors after real Adam
// steps of the `mlp` (LeNet-300-100) and `mlp-large` (784-1200-1200-10, dropout off) presets on 2 and
// 3 ranks over loopback; for ZeRO-3 also the most bytes of gathered full parameters alive at once
// during a step, the peak RSS and each mode's median step and CPU time (process.cpuUsage: all threads;
// 2 shared cores, 1 thread per rank). Two ZeRO-3s: `fsdp` (FullyShardedDataParallel: async gathers
// with one unit of prefetch, each unit's forward recomputed in backward) and `zero3` (Zero3, what the
// Trainer and `train --zero 3` run: per-unit in-place all-gathers from forward pre-hooks, the next
// unit's gather started while a unit computes, the unit freed after its forward and gathered again
// for its backward, no recomputation); `zero3-noprefetch` is Zero3 with `prefetch = false`. All
// modes in the same run, BENCH_ROUNDS rounds of every mode (timings: medians over rounds).
//   npx tsx bench/zero3_memory.ts            # writes bench/results/zero3-memory.json
//   BENCH_MODELS=mlp-large BENCH_WORLDS=2 BENCH_ROUNDS=3 BENCH_STEPS=10 npx tsx bench/zero3_memory.ts   # the step-time ratio: bench/results/zero3-time.json
// Run as a rank (RANK set by the launcher) it measures one configuration: argv model, mode (ddp|zero2|fsdp|zero3|zero3-noprefetch).
import os from 'node:os';
import { Adam, F, Tensor, createAnyModel, manualSeed, randint, randn, type Optimizer } from '../src/index.js';
import { DistributedDataParallel, FullyShardedDataParallel, ZeroRedundancyOptimizer, Zero3, defaultGroup, destroyProcessGroup, getRank, getWorldSize, initProcessGroup } from '../src/distributed/index.js';
import { machineInfo, median, writeResult, type Json } from './common.js';
import { rankLines, timedRuns } from './launch_ranks.js';

const STEPS = Number(process.env['BENCH_STEPS'] ?? 5);
const BATCH = 16;
const MODES = ['ddp', 'zero2', 'fsdp', 'zero3', 'zero3-noprefetch'];

const bytes = (ts: Iterable<Tensor | null>): number => { let b = 0; for (const t of ts) if (t !== null) b += t.size * (t.dtype === 'float64' ? 8 : 4); return b; };
function stateBytes(opt: Optimizer): number {
  let b = 0;
  for (const s of opt.state.values()) b += bytes(Object.values(s).filter((v): v is Tensor => v instanceof Tensor));
  return b;
}

async function rankMain(modelName: string, mode: string): Promise<void> {
  await initProcessGroup({ backend: 'gloo' });
  manualSeed(1);
  const model = createAnyModel(modelName, { dropout: 0 });
  const elements = model.parameters().reduce((s, p) => s + p.size, 0);
  const x = randn([BATCH, 784]);
  const y = randint(0, 10, [BATCH], { dtype: 'int32' });
  let step: () => Promise<void>;
  let held: () => { parameterBytes: number; gradientBytes: number; optimizerStateBytes: number; peakGatheredBytes: number };
  if (mode === 'ddp') {
    const ddp = await DistributedDataParallel.create(model);
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    step = async () => { opt.zeroGrad(); F.crossEntropy(model.call(x) as Tensor, y).backward(); await ddp.finishGradientSync(); opt.step(); };
    held = () => ({ parameterBytes: bytes(model.parameters()), gradientBytes: bytes(model.parameters().map((p) => p.grad)), optimizerStateBytes: stateBytes(opt), peakGatheredBytes: 0 });
  } else if (mode === 'zero2') {
    const z = new ZeroRedundancyOptimizer(model.parameters(), Adam, { lr: 1e-3 }, { stage: 2 });
    await z.broadcastParameters();
    step = async () => { z.zeroGrad(); F.crossEntropy(model.call(x) as Tensor, y).backward(); await z.step(); };
    held = () => ({ parameterBytes: bytes(model.parameters()), gradientBytes: bytes(model.parameters().map((p) => p.grad)) + bytes(z.optimizer.paramGroups.flatMap((g) => g.params).map((p) => p.grad)), optimizerStateBytes: z.stateBytes(), peakGatheredBytes: 0 });
  } else if (mode === 'zero3' || mode === 'zero3-noprefetch') {
    // ZeRO-3 as the Trainer runs it (train --zero 3): per-unit gather in forward pre-hooks, the unit
    // freed after forward and gathered again for its backward (no recomputation).
    for (const p of model.parameters()) await defaultGroup('zero3_memory').broadcast(p, 0);
    const opt = new Adam(model.parameters(), { lr: 1e-3 });
    const z = new Zero3(model, opt, defaultGroup('zero3_memory'));
    z.prefetch = mode === 'zero3';
    step = async () => { z.beginStep(); F.crossEntropy(model.call(x) as Tensor, y).backward(); await z.finishBackward(); await z.step(null); };
    held = () => z.memory();
  } else {
    const fsdp = await FullyShardedDataParallel.create(model);
    const opt = new Adam(fsdp.parameters(), { lr: 1e-3 });
    step = async () => { opt.zeroGrad(); await fsdp.backward(F.crossEntropy(await fsdp.forward(x), y)); opt.step(); };
    held = () => { const m = fsdp.memory(); return { parameterBytes: m.parameterBytes + bytes(model.parameters()), gradientBytes: m.gradientBytes, optimizerStateBytes: stateBytes(opt), peakGatheredBytes: m.peakGatheredBytes }; };
  }
  await step(); // warm-up (state created)
  const { wall: times, cpu } = await timedRuns(STEPS, step);
  const stepMs = median(times);
  const cpuMs = median(cpu);
  console.log(JSON.stringify({ rank: getRank(), world: getWorldSize(), model: modelName, mode, paramElements: elements, ...held(), peakRssBytes: process.resourceUsage().maxRSS * 1024, stepMs, cpuMs }));
  await destroyProcessGroup();
}

async function driver(): Promise<void> {
  const loadavgAtStart = os.loadavg();
  const models = (process.env['BENCH_MODELS'] ?? 'mlp,mlp-large').split(',');
  const worlds = (process.env['BENCH_WORLDS'] ?? '2,3').split(',').map(Number);
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 1);
  const rows: Json[] = [];
  const timing: Json[] = [];
  for (const model of models) {
    for (const world of worlds) {
      // Rounds: every mode once per round, so load drifts hit them alike; timings are medians over rounds.
      const byMode = new Map<string, Json[][]>();
      for (let r = 0; r < rounds; r++) {
        for (const mode of MODES) {
          const lines = await rankLines('zero3_memory.ts', [model, mode], world);
          const r0 = lines[0]!;
          if (r === 0) rows.push({ model, world, mode, paramElements: r0['paramElements'], ranks: lines });
          byMode.set(mode, [...(byMode.get(mode) ?? []), lines]);
          process.stderr.write(`${model} ${world} ranks ${mode}: params ${String(r0['parameterBytes'])} B, grads ${String(r0['gradientBytes'])} B, state ${String(r0['optimizerStateBytes'])} B, gathered peak ${String(r0['peakGatheredBytes'])} B, step ${Number(r0['stepMs']).toFixed(1)} ms, CPU ${Number(r0['cpuMs']).toFixed(1)} ms (load ${os.loadavg()[0]!.toFixed(1)})\n`);
        }
      }
      const med = (mode: string, k: string): number => median(byMode.get(mode)!.map((ls) => ls[0]![k] as number));
      const row: Json = { model, world, rounds };
      for (const mode of MODES) row[mode] = { stepMs: med(mode, 'stepMs'), cpuMs: med(mode, 'cpuMs'), stepRuns: byMode.get(mode)!.map((ls) => ls[0]!['stepMs']) };
      row['zero3OverDdpStep'] = med('zero3', 'stepMs') / med('ddp', 'stepMs');
      row['zero3NoPrefetchOverDdpStep'] = med('zero3-noprefetch', 'stepMs') / med('ddp', 'stepMs');
      row['zero3OverDdpCpu'] = med('zero3', 'cpuMs') / med('ddp', 'cpuMs');
      timing.push(row);
      process.stderr.write(`${model} ${world} ranks: Zero3 / DDP step ${(row['zero3OverDdpStep'] as number).toFixed(2)} (without prefetch ${(row['zero3NoPrefetchOverDdpStep'] as number).toFixed(2)}), CPU ${(row['zero3OverDdpCpu'] as number).toFixed(2)}\n`);
    }
  }
  // A subset (BENCH_MODELS / BENCH_WORLDS) is a timing run: its own record, so the full memory table's stays.
  const partial = process.env['BENCH_MODELS'] !== undefined || process.env['BENCH_WORLDS'] !== undefined;
  const out = writeResult(partial ? 'zero3-time' : 'zero3-memory', {
    date: new Date().toISOString(), optimizer: 'Adam', batchPerRank: BATCH, threadsPerRank: 1, stepsTimed: STEPS,
    peer: 'DistributedDataParallel + Adam, ZeroRedundancyOptimizer stage 2 + Adam and FullyShardedDataParallel + Adam in the same run', rows, timing,
    machine: machineInfo({ loadavgAtStart, loadavgAtEnd: os.loadavg() }),
  });
  process.stderr.write(`wrote ${out.current}\n`);
}

if (process.env['RANK'] !== undefined) await rankMain(process.argv[2] ?? 'mlp', process.argv[3] ?? 'zero3');
else await driver();
