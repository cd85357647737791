// The GPT-2-sized model's linear products at batch 1 (generation: one token per call), timed on the
// loaded addon: process CPU ms per call (all threads; less distorted by other load than wall time)
// and wall ms, median of rounds, on each CPU path this machine has. Compare two addons (the
// in-place sgemv_f32 path and a build before it) by running this twice, once with
// TENSORSLIM_NATIVE_PATH=<old tensorslim.node>. Each run is recorded as benchmark 'gemv-shapes'
// (bench/README.md) with the addon's path, the machine and the load average:
//   npx tsx bench/gemv_shapes.ts [calls=20] [rounds=5]       (BENCH_THREADS, default 2)
import { getNativeBackend, nativeStatus, setCpuPath, setNumThreads, supportedCpuPaths } from '../src/backends/native/index.js';
import os from 'node:os';
import { machineInfo, median, writeResult } from './common.js';

const calls = Number(process.argv[2] ?? 20), rounds = Number(process.argv[3] ?? 5);
const nat = getNativeBackend();
if (!nat?.linear) throw new Error('gemv_shapes: the native addon with a linear kernel is needed (node scripts/build-native.mjs)');
setNumThreads(Number(process.env['BENCH_THREADS'] ?? 2));
// (K, N): c_attn, attn c_proj, mlp c_fc, mlp c_proj, the tied LM head
const shapes: [string, number, number][] = [['c_attn', 768, 2304], ['attn.c_proj', 768, 768], ['c_fc', 768, 3072], ['mlp.c_proj', 3072, 768], ['lm_head', 768, 50257]];
const view = (rows: number, cols: number): { data: Float32Array; shape: number[]; strides: number[]; offset: number } =>
  ({ data: Float32Array.from({ length: rows * cols }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), shape: [rows, cols], strides: [cols, 1], offset: 0 });
const load0 = os.loadavg()[0];
const out: Record<string, Record<string, { cpuMs: number; wallMs: number }>> = {};
for (const path of supportedCpuPaths() as ('avx512' | 'avx2' | 'generic')[]) {
  if (path === 'generic') continue;
  setCpuPath(path);
  out[path] = {};
  for (const [name, k, n] of shapes) {
    const x = view(1, k), w = view(n, k), b = name === 'lm_head' ? null : view(1, n);
    const bias = b ? { ...b, shape: [n], strides: [1] } : null;
    nat.linear(x, w, bias, false);
    const cpu: number[] = [], wall: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
      for (let i = 0; i < calls; i++) nat.linear(x, w, bias, false);
      const c = process.cpuUsage(c0);
      wall.push(Number(process.hrtime.bigint() - t0) / 1e6 / calls); cpu.push((c.user + c.system) / 1000 / calls);
    }
    out[path]![name] = { cpuMs: median(cpu), wallMs: median(wall) };
  }
}
const result = {
  date: new Date().toISOString(), machine: machineInfo({ backend: 'native', threads: Number(process.env['BENCH_THREADS'] ?? 2) }),
  workload: 'float32 linear x (1, K) W^T (N, K) (+ bias except lm_head) at the GPT-2-sized model\'s shapes, one call = one token of generation',
  addon: nativeStatus().path, callsPerRound: calls, rounds, loadavgAtStart: load0,
  units: { cpuMs: 'process CPU ms per call (all threads), median of rounds', wallMs: 'wall ms per call, median of rounds' },
  perPath: out,
};
const files = writeResult('gemv-shapes', result);
process.stdout.write(`${JSON.stringify({ ...files, addon: result.addon, perPath: out })}\n`);
