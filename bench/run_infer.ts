// Inference latency (issue #17, batch-1 inference): `tensorslim bench infer` against PyTorch
// (bench/peer_infer.py, eval + inference_mode) and ONNX Runtime (bench/peer_ort_infer.ts, our export
// of the same preset) in one session. Every side runs in a fresh process per round with 1 and with 2
// threads and keeps its faster; rounds alternate the sides so load drifts hit all three alike. Records
// the medians of the per-round medians, the ratios and every side's configuration as benchmark
// 'infer' (bench/README.md). Ours is timed through the inference plan (nn compileInference) and,
// interleaved in the same process, through model.call() (callMs, callRatios).
//   usage: npx tsx bench/run_infer.ts [rounds=3] [batch=1] [models=mlp,mlp-large,lenet5]
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult, type Json } from './common.js';

const rounds = Number(process.argv[2] ?? 3);
const batch = String(process.argv[3] ?? 1);
const models = String(process.argv[4] ?? 'mlp,mlp-large,lenet5').split(',');
const THREADS = ['1', '2'];

type Side = 'ours' | 'torch' | 'ort';
const run = (side: Side, model: string, threads: string): Json => {
  if (side === 'ours') return runOursNative(['src/cli/main.ts', 'bench', 'infer', '--model', model, '--batch', batch, '--threads', threads, '--json']);
  if (side === 'torch') return runJson('/usr/bin/python3', ['bench/peer_infer.py', model, batch, threads], peerEnv());
  return runJson(process.execPath, ['--import', 'tsx', 'bench/peer_ort_infer.ts', model, batch, threads]);
};

const rows: Json[] = [];
let machine: Json = {};
const loads: number[] = [];
for (const model of models) {
  const best: Record<Side, number[]> = { ours: [], torch: [], ort: [] };
  const oursCall: number[] = [];
  const cpu: Record<Side, number[]> = { ours: [], torch: [], ort: [] };
  const bestThreads: Record<Side, string[]> = { ours: [], torch: [], ort: [] };
  const configs: Partial<Record<Side, unknown>> = {};
  for (let i = 0; i < rounds; i++) {
    process.stderr.write(`${model} batch ${batch}: round ${i + 1}/${rounds}\n`);
    loads.push(os.loadavg()[0]!);
    for (const side of ['ours', 'torch', 'ort'] as const) {
      let fastest = Infinity, at = '';
      for (const t of THREADS) {
        const r = run(side, model, t);
        if (side === 'ours') machine = r['machine'] as Json; else configs[side] = r['peer'];
        if ((r['medianMs'] as number) < fastest) { fastest = r['medianMs'] as number; at = t; cpu[side][i] = r['cpuMsPerCall'] as number; if (side === 'ours') oursCall[i] = r['callMedianMs'] as number; }
      }
      best[side].push(fastest); bestThreads[side].push(at);
    }
  }
  const m = { ours: median(best.ours), torch: median(best.torch), ort: median(best.ort), call: median(oursCall) };
  rows.push({
    model, batch: Number(batch),
    medianMs: m.ours, torchMs: m.torch, ortMs: m.ort,
    ratios: { vsTorch: m.ours / m.torch, vsOrt: m.ours / m.ort },
    callMs: m.call, callRatios: { vsTorch: m.call / m.torch, vsOrt: m.call / m.ort },
    // process CPU ms per call of each side's fastest configuration (all its threads), and their ratios
    cpuMs: { ours: median(cpu.ours), torch: median(cpu.torch), ort: median(cpu.ort) },
    cpuRatios: { vsTorch: median(cpu.ours) / median(cpu.torch), vsOrt: median(cpu.ours) / median(cpu.ort) },
    threadsChosen: bestThreads, peers: configs, raw: best,
  });
}
const result = {
  date: new Date().toISOString(),
  machine: { ...machineInfo(machine), loadavgDuring: loads },
  workload: `forward pass at batch ${batch}, eval mode, no graph (ours: tensorslim bench infer, through compileInference's plan, and model.call() as callMs; PyTorch: inference_mode; ONNX Runtime: our opset-17 export, CPU provider), random inputs`,
  rounds,
  units: { medianMs: 'ms per forward call: median over rounds of each round\'s median, each side at its faster of 1 and 2 threads', cpuMs: 'process CPU ms per call (all threads) of that fastest configuration, median over rounds' },
  targets: 'issue #17: mlp batch-1 forward <= 0.5x PyTorch and <= 1.0x ONNX Runtime',
  rows,
};
const files = writeResult(`infer-b${batch}`, result);
process.stdout.write(`${JSON.stringify({ ...files, rows: rows.map((r) => ({ model: r['model'], medianMs: r['medianMs'], callMs: r['callMs'], torchMs: r['torchMs'], ortMs: r['ortMs'], ratios: r['ratios'], callRatios: r['callRatios'], cpuMs: r['cpuMs'], cpuRatios: r['cpuRatios'] })) })}\n`);
