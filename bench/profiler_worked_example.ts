// docs/PROFILING.md "Worked example": profile gpt-tiny at batch 4, find its bottleneck (per-call
// costs of small GEMMs: dispatch and the native crossing), change one thing (batch 4 -> 16) and
// show the numbers that move (tokens/s, the dispatch share of the step, the linear kernels'
// GFLOP/s). Each run is a separate `tensorslim profile --json` process; the batches alternate
// (b4, b16, b4, b16, ...) so load drifts hit both. Writes bench/results/profiler-worked-example.json
// (+ history) with the machine description and the load average during the runs.
//   usage: npx tsx bench/profiler_worked_example.ts [rounds=2]
import os from 'node:os';
import '../src/backends/native/index.js';
import { machineInfo as ourMachine } from '../src/bench/machine.js';
import { machineInfo, median, runJson, writeResult, type Json } from './common.js';

const rounds = Number(process.argv[2] ?? 2);
const TOKENS_PER_SAMPLE = 128; // gpt-tiny's context length (every profiled step uses full sequences)
const KERNELS = ['linearBackward', 'linear', 'attentionBackward', 'attentionForward'];

interface Row { batch: number; stepMs: number; tokensPerSecond: number; accountingShare: Record<string, number>; kernels: Record<string, Json> }
const runs: (Row & { order: number; command: string; load1: number })[] = [];
let machine: Json = {};
for (let r = 0; r < rounds; r++) {
  for (const batch of [4, 16]) {
    const args = ['src/cli/main.ts', 'profile', '--model', 'gpt-tiny', '--batch', String(batch), '--steps', '3', '--warmup', '2', '--json'];
    process.stderr.write(`round ${r + 1}/${rounds}: batch ${batch}\n`);
    const load1 = os.loadavg()[0]!;
    const out = runJson(process.execPath, ['--import', 'tsx', ...args]);
    if (out['backend'] !== 'native') throw new Error(`profiler_worked_example: the run got the ${String(out['backend'])} backend; build the addon (node scripts/build-native.mjs)`);
    machine = { ...(ourMachine() as unknown as Json), backend: out['backend'] };
    const b = out['breakdown'] as Record<string, number>;
    const acc = out['accounting'] as Record<string, number>;
    const stepMs = b['stepMs']!;
    const kernels: Record<string, Json> = {};
    for (const k of out['kernels'] as Record<string, number | string>[]) {
      if (KERNELS.includes(k['name'] as string)) kernels[k['name'] as string] = { share: k['share'], gflops: k['gflops'], totalMs: k['totalMs'], nativeMs: k['nativeMs'], dispatchMs: k['dispatchMs'] };
    }
    runs.push({
      order: runs.length + 1, command: `npx tsx ${args.join(' ')}`, load1, batch, stepMs,
      tokensPerSecond: (batch * TOKENS_PER_SAMPLE) / (stepMs / 1000),
      accountingShare: Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, v / stepMs])),
      kernels,
    });
  }
}
const of = (batch: number): typeof runs => runs.filter((x) => x.batch === batch);
const summary = Object.fromEntries([4, 16].map((batch) => [`batch${batch}`, {
  tokensPerSecond: median(of(batch).map((x) => x.tokensPerSecond)),
  dispatchShare: median(of(batch).map((x) => (x.accountingShare['ops'] ?? 0) - (x.accountingShare['opsKernel'] ?? 0))),
  kernelShare: median(of(batch).map((x) => x.accountingShare['opsKernel'] ?? 0)),
  gcShare: median(of(batch).map((x) => x.accountingShare['gc'] ?? 0)),
  linearGflops: median(of(batch).map((x) => Number((x.kernels['linear'] as Record<string, number> | undefined)?.['gflops'] ?? 0))),
}]));
const result = {
  date: new Date().toISOString(), model: 'gpt-tiny', change: 'batch 4 -> 16', rounds,
  note: 'each run a separate CLI process, batches alternating; medians over rounds; see machine.loadavgDuring',
  summary, tokensPerSecondRatio: summary['batch16']!.tokensPerSecond / summary['batch4']!.tokensPerSecond,
  runs, machine: { ...machineInfo(machine), loadavgDuring: runs.map((x) => x.load1) },
};
const files = writeResult('profiler-worked-example', result);
process.stdout.write(`${JSON.stringify({ ...files, summary, tokensPerSecondRatio: result.tokensPerSecondRatio })}\n`);
