// The weight-only kernel at generation shapes (one token per call, x is (1, K)): int8 per channel and
// int4 g64 (symmetric) weightOnlyLinear against the float32 linear of the same shape, on each CPU path
// this machine has (setCpuPath: avx512 and avx2 run the SIMD weight-only kernel, generic the
// portable one; the float32 linear follows the same path). Process CPU ms per call (all threads) and
// wall ms, medians of rounds; formats interleaved inside each round. Shapes: the GPT-2-sized model's
// (K, N) = c_attn, attn c_proj, mlp c_fc, mlp c_proj, the tied LM head.
//   npx tsx bench/weight_only_gemv.ts [calls=20] [rounds=5]       (BENCH_THREADS, default 1)
// Records benchmark 'weight-only-gemv' (bench/results/weight-only-gemv.json) with the machine and load.
import os from 'node:os';
import { getNativeBackend, nativeStatus, setCpuPath, setNumThreads, supportedCpuPaths } from '../src/backends/native/index.js';
import { quantizeWeightOnlyTensor } from '../src/compress/quant/weight_only.js';
import { machineInfo, median, writeResult } from './common.js';

const calls = Number(process.argv[2] ?? 20), rounds = Number(process.argv[3] ?? 5);
const nat = getNativeBackend();
if (!nat?.linear || !nat.weightOnlyLinear) throw new Error('weight_only_gemv: the native addon with linear and weightOnlyLinear kernels is needed (node scripts/build-native.mjs)');
const threads = Number(process.env['BENCH_THREADS'] ?? 1);
setNumThreads(threads);
const shapes: [string, number, number][] = [['c_attn', 768, 2304], ['attn.c_proj', 768, 768], ['c_fc', 768, 3072], ['mlp.c_proj', 3072, 768], ['lm_head', 768, 50257]];
const fill = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 20000 - 0.025);
const load0 = os.loadavg()[0];
type Cell = { cpuMs: number; wallMs: number };
const out: Record<string, Record<string, Record<string, Cell>>> = {};
const operands = shapes.map(([name, k, n]) => {
  const wf = fill(n * k), xf = fill(k);
  return {
    name, xf, x: { data: xf, shape: [1, k], strides: [k, 1], offset: 0 }, w: { data: wf, shape: [n, k], strides: [k, 1], offset: 0 },
    q8: quantizeWeightOnlyTensor(wf, n, k, { bits: 8 }), q4: quantizeWeightOnlyTensor(wf, n, k, { bits: 4, groupSize: 64 }),
  };
});
for (const path of supportedCpuPaths() as ('avx512' | 'avx2' | 'generic')[]) {
  setCpuPath(path);
  out[path] = {};
  for (const { name, xf, x, w, q8, q4 } of operands) {
    const runs: Record<string, () => void> = {
      float32: () => { nat.linear!(x, w, null, false); },
      int8: () => { nat.weightOnlyLinear!(xf, 1, q8, null); },
      'int4 g64': () => { nat.weightOnlyLinear!(xf, 1, q4, null); },
    };
    const cpu: Record<string, number[]> = {}, wall: Record<string, number[]> = {};
    for (const f of Object.values(runs)) f();
    for (let r = 0; r < rounds; r++) {
      for (const [fmt, f] of Object.entries(runs)) {
        const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
        for (let i = 0; i < calls; i++) f();
        const c = process.cpuUsage(c0);
        (wall[fmt] ??= []).push(Number(process.hrtime.bigint() - t0) / 1e6 / calls);
        (cpu[fmt] ??= []).push((c.user + c.system) / 1000 / calls);
      }
    }
    out[path]![name] = Object.fromEntries(Object.keys(runs).map((fmt) => [fmt, { cpuMs: median(cpu[fmt]!), wallMs: median(wall[fmt]!) }]));
  }
}
const ratios = Object.fromEntries(Object.entries(out).map(([path, byShape]) => [path, Object.fromEntries(Object.entries(byShape).map(([shape, c]) => [shape, {
  int8VsFloat32: c['float32']!.cpuMs / c['int8']!.cpuMs, int4VsFloat32: c['float32']!.cpuMs / c['int4 g64']!.cpuMs,
}]))]));
const result = {
  date: new Date().toISOString(), machine: machineInfo({ backend: 'native', threads }),
  workload: 'y = x (1, K) W^T, W (N, K): float32 linear vs weight-only int8 per channel and int4 g64 symmetric (dequantized inside the matmul), one call = one token of generation',
  addon: nativeStatus().path, callsPerRound: calls, rounds, loadavgAtStart: load0,
  units: { cpuMs: 'process CPU ms per call (all threads), median of rounds', wallMs: 'wall ms per call, median of rounds', ratios: 'float32 CPU ms / weight-only CPU ms (> 1: weight-only faster)' },
  perPath: out, ratios,
};
const files = writeResult('weight-only-gemv', result);
process.stdout.write(`${JSON.stringify({ ...files, perPath: out, ratios })}\n`);
