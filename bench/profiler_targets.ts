// Issue #15's profiler targets, measured in one run (docs/PROFILING.md "Targets"):
//   1. overhead: an `mlp` training step (batch 128, Adam, random data) with and without the
//      Profiler (kernel timing + native pool timing; and with memory sampling too), interleaved
//      rounds, medians, the ratio;
//   2. coverage: the share of the profiled step spent in backend kernels (JavaScript timer and the
//      pool's native time) and the share in named regions and kernels (what the profiler accounts);
//   3. memory: the estimate made before training against the accounted peak, for mlp-large and
//      gpt-small.
// Writes bench/results/profiler-targets.json (+ history) with the machine description.
//   usage: npx tsx bench/profiler_targets.ts [rounds=7] [threads=2]
import '../src/backends/native/index.js';
import { getBackend } from '../src/backend/registry.js';
import { manualSeed } from '../src/core/random.js';
import { createAnyModel } from '../src/models/index.js';
import { Profiler, profileTraining, trainingStep } from '../src/report/index.js';
import { applyThreads, machineInfo as ourMachine, median } from '../src/bench/machine.js';
import { machineInfo, writeResult } from './common.js';

const rounds = Number(process.argv[2] ?? 7);
const threads = Number(process.argv[3] ?? 2);
applyThreads(threads);
if (getBackend().name !== 'native') throw new Error('profiler_targets: the native backend is required (node scripts/build-native.mjs)');

// 1. overhead, interleaved: plain, profiled (times only), profiled (times + memory) per round
manualSeed(1);
const model = createAnyModel('mlp');
const t = trainingStep(model, 128);
for (let i = 0; i < 3; i++) t.step();
const plain: number[] = [], timed: number[] = [], withMemory: number[] = [];
const PER = 5;
const timeSteps = (out: number[], fn: () => void): void => {
  for (let i = 0; i < PER; i++) { const t0 = performance.now(); fn(); out.push(performance.now() - t0); }
};
let coverage: Record<string, number> = {};
for (let r = 0; r < rounds; r++) {
  timeSteps(plain, () => t.step());
  const p = new Profiler({ memory: false });
  p.start();
  timeSteps(timed, () => p.step(() => t.step(p)));
  const res = await p.stop();
  const stepMs = res.stepMs;
  const kernelMs = res.steps.reduce((a, s) => a + s.kernelMs, 0);
  const nativeMs = res.kernels.reduce((a, k) => a + k.nativeMs, 0);
  const regionSelf = res.regions.filter((x) => x.name !== 'step').reduce((a, x) => a + x.selfMs, 0);
  if (r === rounds - 1) coverage = { stepMs: stepMs / res.steps.length, kernelShare: kernelMs / stepMs, nativeKernelShare: nativeMs / stepMs, accountedShare: (kernelMs + regionSelf) / stepMs };
  const pm = new Profiler({ model, optimizer: t.optimizer });
  pm.start();
  timeSteps(withMemory, () => pm.step(() => t.step(pm)));
  await pm.stop();
}
const overhead = { plainMs: median(plain), profiledMs: median(timed), profiledWithMemoryMs: median(withMemory) };
const ratios = { profiled: overhead.profiledMs / overhead.plainMs, profiledWithMemory: overhead.profiledWithMemoryMs / overhead.plainMs };

// 3. memory estimate vs accounted peak
const memory: Record<string, unknown> = {};
for (const [name, batch] of [['mlp-large', 128], ['gpt-small', 8]] as const) {
  manualSeed(2);
  const r = await profileTraining(createAnyModel(name), { batch, steps: 1, warmup: 1 });
  memory[name] = { batch, estimateBytes: r.estimate.total, peakAccountedBytes: r.profile.memory.peakAccounted, error: r.estimate.total / r.profile.memory.peakAccounted - 1, peakArrayBuffersBytes: r.profile.memory.peakArrayBuffers, peakRssBytes: r.profile.memory.peakRss };
}

const result = {
  date: new Date().toISOString(), rounds, stepsPerRound: PER, model: 'mlp', batch: 128,
  overhead, ratios, coverage, memory, machine: machineInfo(ourMachine() as unknown as Record<string, unknown>),
};
const files = writeResult('profiler-targets', result);
console.log(JSON.stringify({ ...result, files }));
