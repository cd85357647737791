// Issue #15's profiler targets, measured in one run (docs/PROFILING.md "Targets"):
//   1. overhead of the Profiler on an `mlp` training step (batch 128, Adam, random data):
//      a. unit costs, interleaved in one process and in CPU time (steadier than wall time on a
//         loaded machine): per kernel call (a 4-element add, profiled vs not), per region, per
//         memory sample; times the counts of one mlp step = the modelled overhead per step;
//      b. the profiler's own time inside each profiled step as it measures it (median share);
//      c. A/B: plain, profiled (kernels + native pool timing), profiled with memory sampling (the
//         default: RSS read at most every 10 ms) and with memory sampling reading RSS at every
//         sample (processMemoryIntervalMs 0, what sampling cost before), in blocks whose order
//         rotates every round, medians of wall and CPU time per step;
//   2. accounting: the step partition (ops = kernels + dispatch, optimizer, data, gc, comm,
//      unattributed) of `mlp` and `gpt-tiny`; the target is unattributed <= 10% of the step;
//   3. memory: the estimate made before training against the accounted peak, for mlp-large and
//      gpt-small.
// Writes bench/results/profiler-targets.json (+ history) with the machine description.
//   usage: npx tsx bench/profiler_targets.ts [rounds=9] [threads=2]
import os from 'node:os';
import '../src/backends/native/index.js';
import { getBackend } from '../src/backend/registry.js';
import { manualSeed } from '../src/core/random.js';
import * as ops from '../src/ops/index.js';
import { createAnyModel } from '../src/models/index.js';
import { Profiler, profileTraining, trainingStep, type ProfileResult } from '../src/report/index.js';
import { applyThreads, machineInfo as ourMachine, median } from '../src/bench/machine.js';
import { machineInfo, writeResult } from './common.js';

const rounds = Number(process.argv[2] ?? 9);
const threads = Number(process.argv[3] ?? 2);
applyThreads(threads);
if (getBackend().name !== 'native') throw new Error('profiler_targets: the native backend is required (node scripts/build-native.mjs)');
const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

// 1a. unit costs (microseconds of CPU time), interleaved: plain block, profiled block, per round
const a4 = ops.randn([4]), b4 = ops.randn([4]);
const N = 4000;
const perCall = (fn: () => void, n = N): number => { const c0 = cpuMs(); for (let i = 0; i < n; i++) fn(); return (cpuMs() - c0) / n * 1000; };
const unit = { plainAdd: [] as number[], profiledAdd: [] as number[], region: [] as number[], emptyFn: [] as number[], regionWithSamples: [] as number[], regionWithProcessSamples: [] as number[] };
const mlpForSamples = createAnyModel('mlp');
for (let r = 0; r < 3 * rounds; r++) {
  unit.plainAdd.push(perCall(() => ops.add(a4, b4)));
  unit.emptyFn.push(perCall(() => 0));
  const p = new Profiler({ memory: false });
  p.start();
  unit.profiledAdd.push(perCall(() => ops.add(a4, b4)));
  unit.region.push(perCall(() => p.region('x', () => 0)));
  await p.stop();
  const pm = new Profiler({ model: mlpForSamples });
  pm.start();
  unit.regionWithSamples.push(perCall(() => pm.region('x', () => 0), 500));
  await pm.stop();
  const pr = new Profiler({ model: mlpForSamples, processMemoryIntervalMs: 0 });
  pr.start();
  unit.regionWithProcessSamples.push(perCall(() => pr.region('x', () => 0), 500));
  await pr.stop();
}
const units = {
  kernelCallUs: median(unit.profiledAdd) - median(unit.plainAdd),
  regionUs: median(unit.region) - median(unit.emptyFn),
  memorySampleUs: (median(unit.regionWithSamples) - median(unit.region)) / 2, // a region takes two samples
  // the same with RSS read at each (process.memoryUsage()); warm here: right after a phase it costs more
  processSampleUs: (median(unit.regionWithProcessSamples) - median(unit.region)) / 2,
  plainAddUs: median(unit.plainAdd),
};

// 1b. A/B on mlp steps
manualSeed(1);
const model = createAnyModel('mlp');
const t = trainingStep(model, 128);
for (let i = 0; i < 3; i++) t.step();
const PER = 4;
type Kind = 'plain' | 'profiled' | 'withMemory' | 'withMemoryRssEverySample';
const wall: Record<Kind, number[]> = { plain: [], profiled: [], withMemory: [], withMemoryRssEverySample: [] };
const cpu: Record<Kind, number[]> = { plain: [], profiled: [], withMemory: [], withMemoryRssEverySample: [] };
let counts = { kernelCalls: 0, regions: 0, memorySamples: 0, processSamples: 0 };
// the profiler's own time inside each profiled step, as it measured it (region overheadMs: its
// bookkeeping after each kernel call and its memory sampling), over the step's wall time with it
const selfShare: Record<Exclude<Kind, 'plain'>, number[]> = { profiled: [], withMemory: [], withMemoryRssEverySample: [] };
const block = async (kind: Kind): Promise<void> => {
  const p = kind === 'plain' ? null : new Profiler(kind === 'withMemory' ? { model, optimizer: t.optimizer }
    : kind === 'withMemoryRssEverySample' ? { model, optimizer: t.optimizer, processMemoryIntervalMs: 0 } : { memory: false });
  p?.start();
  for (let i = 0; i < PER; i++) {
    const t0 = performance.now(), c0 = cpuMs();
    if (p) p.step(() => t.step(p)); else t.step();
    wall[kind].push(performance.now() - t0); cpu[kind].push(cpuMs() - c0);
  }
  if (p) {
    const res = await p.stop();
    for (const e of res.events) if (e.cat === 'region' && e.name === 'step') selfShare[kind as Exclude<Kind, 'plain'>].push((e.overheadMs ?? 0) / e.dur);
    if (kind === 'withMemory') {
      counts = {
        kernelCalls: res.kernels.reduce((a, k) => a + k.calls, 0) / PER,
        regions: res.regions.reduce((a, x) => a + x.calls, 0) / PER,
        memorySamples: res.memory.timeline.length / PER,
        processSamples: res.memory.timeline.filter((m) => m.processSample).length / PER,
      };
    }
  }
};
const ORDER = ['plain', 'profiled', 'withMemory', 'withMemoryRssEverySample'] as const;
const load0 = os.loadavg();
for (let r = 0; r < rounds; r++) for (let j = 0; j < ORDER.length; j++) await block(ORDER[(r + j) % ORDER.length]!);
const overhead = {
  plainMs: median(wall.plain), profiledMs: median(wall.profiled), profiledWithMemoryMs: median(wall.withMemory), profiledWithMemoryRssEverySampleMs: median(wall.withMemoryRssEverySample),
  plainCpuMs: median(cpu.plain), profiledCpuMs: median(cpu.profiled), profiledWithMemoryCpuMs: median(cpu.withMemory), profiledWithMemoryRssEverySampleCpuMs: median(cpu.withMemoryRssEverySample),
  loadAverageBefore: load0, loadAverageAfter: os.loadavg(),
};
const ratios = {
  profiled: overhead.profiledMs / overhead.plainMs, profiledWithMemory: overhead.profiledWithMemoryMs / overhead.plainMs,
  profiledWithMemoryRssEverySample: overhead.profiledWithMemoryRssEverySampleMs / overhead.plainMs,
  profiledCpu: overhead.profiledCpuMs / overhead.plainCpuMs, profiledWithMemoryCpu: overhead.profiledWithMemoryCpuMs / overhead.plainCpuMs,
  profiledWithMemoryRssEverySampleCpu: overhead.profiledWithMemoryRssEverySampleCpuMs / overhead.plainCpuMs,
};
const measuredSelf = { profiled: median(selfShare.profiled), withMemory: median(selfShare.withMemory), withMemoryRssEverySample: median(selfShare.withMemoryRssEverySample) };
const modelledUs = counts.kernelCalls * units.kernelCallUs + counts.regions * units.regionUs;
const modelled = {
  perStep: counts,
  profiledUs: modelledUs,
  withMemoryUs: modelledUs + (counts.memorySamples - counts.processSamples) * units.memorySampleUs + counts.processSamples * units.processSampleUs,
  profiledShareOfPlainCpuStep: modelledUs / 1000 / overhead.plainCpuMs,
  withMemoryShareOfPlainCpuStep: (modelledUs + (counts.memorySamples - counts.processSamples) * units.memorySampleUs + counts.processSamples * units.processSampleUs) / 1000 / overhead.plainCpuMs,
};

// 2. accounting of the step (means over the profiled steps)
function accounting(res: ProfileResult): Record<string, number> {
  const n = res.steps.length;
  const mean = (f: (s: ProfileResult['steps'][number]) => number): number => res.steps.reduce((a, s) => a + f(s), 0) / n;
  const stepMs = mean((s) => s.totalMs);
  const parts = {
    ops: mean((s) => s.accounting.ops), opsKernel: mean((s) => s.accounting.opsKernel), optimizer: mean((s) => s.accounting.optimizer),
    data: mean((s) => s.accounting.data), gc: mean((s) => s.accounting.gc), comm: mean((s) => s.accounting.comm), unattributed: mean((s) => s.accounting.unattributed),
  };
  return { stepMs, ...parts, unattributedShare: parts.unattributed / stepMs, kernelShare: mean((s) => s.kernelMs) / stepMs, nativeKernelShare: res.kernels.reduce((a, k) => a + k.nativeMs, 0) / n / stepMs };
}
const coverage: Record<string, unknown> = {};
for (const [name, batch] of [['mlp', 128], ['gpt-tiny', 4]] as const) {
  manualSeed(3);
  const r = await profileTraining(createAnyModel(name), { batch, steps: 3, warmup: 2 });
  coverage[name] = { batch, ...accounting(r.profile) };
}

// 3. memory estimate vs accounted peak
const memory: Record<string, unknown> = {};
for (const [name, batch] of [['mlp-large', 128], ['gpt-small', 8]] as const) {
  manualSeed(2);
  const r = await profileTraining(createAnyModel(name), { batch, steps: 1, warmup: 1 });
  memory[name] = { batch, estimateBytes: r.estimate.total, peakAccountedBytes: r.profile.memory.peakAccounted, error: r.estimate.total / r.profile.memory.peakAccounted - 1, peakArrayBuffersBytes: r.profile.memory.peakArrayBuffers, peakRssBytes: r.profile.memory.peakRss };
}

const result = {
  date: new Date().toISOString(), rounds, stepsPerBlock: PER, model: 'mlp', batch: 128,
  units, modelled, measuredSelf, overhead, ratios, coverage, memory, machine: machineInfo(ourMachine() as unknown as Record<string, unknown>),
};
const files = writeResult('profiler-targets', result);
console.log(JSON.stringify({ ...result, files }));
