// Where a dynamic int8 Linear's forward pass spends its time, stage by stage, on the best int8 path and
// with the AVX2 paths forced (float32 setCpuPath('avx2'), int8 setInt8Path('avx2')), in one process:
// the activation range (floatRange), the qparams (chooseDynamicQparams), the activation quantization
// (quantizePerTensor, which allocates its output; and the fused range + quantize into a reused
// buffer, quantizeDynamic, where the backend has it), the int8 GEMM alone (int8Linear, float32
// out), the whole DynamicQuantizedLinear layer and the float32 Linear it came from. Each stage is
// timed in many short rounds of 10 calls interleaved with the others: the fastest round's mean wall
// time (the figure a loaded machine disturbs least), the median round's, and the median CPU time
// (process.cpuUsage, all threads), in microseconds per call. Prints one JSON object
// (stdout's last line) and a table (stderr). Nothing is asserted.
//   usage: npx tsx bench/quant_stages.ts [size=1024] [batch=32] [threads=1] [rounds=40]
import os from 'node:os';
import { getBackend } from '../src/backend/registry.js';
import { noGrad } from '../src/core/engine.js';
import { Generator, defaultGenerator } from '../src/core/random.js';
import * as ops from '../src/ops/index.js';
import { Linear } from '../src/nn/index.js';
import { quant } from '../src/compress/index.js';
import { cpuPath, int8Path, setCpuPath, setInt8Path, setNumThreads, supportedCpuPaths } from '../src/backends/native/index.js';
import { machineInfo, median } from '../src/bench/machine.js';

const size = Number(process.argv[2] ?? 1024), batch = Number(process.argv[3] ?? 32);
const threads = Number(process.argv[4] ?? 1), rounds = Number(process.argv[5] ?? 40);
setNumThreads(threads);
const be = getBackend();
const gen = new Generator(0);
const state = defaultGenerator.getState();
const lin = new Linear(size, size);
defaultGenerator.setState(state);
const layer = quant.DynamicQuantizedLinear.fromFloat(lin);
const x = ops.sub(ops.rand([batch, size], { generator: gen }), 0.5);
const xv = x.dataSync() as Float32Array;
const w = { data: layer.weight.data as Int8Array, rows: size, cols: size, scales: layer.weight.scales, zeroPoints: layer.weight.zeroPoints };
const reused = new Uint8Array(xv.length);

/** One stage: what it runs. */
type Stage = { name: string; fn: () => unknown };
/** Per stage, over rounds of 10 calls: the fastest round's mean wall time, the median round's, and the median CPU time per call (us). */
type StageTimes = { minUs: number; wallUs: number; cpuUs: number };

function measure(stages: Stage[]): Record<string, StageTimes> {
  const wall: Record<string, number[]> = {}, cpu: Record<string, number[]> = {};
  for (const s of stages) { wall[s.name] = []; cpu[s.name] = []; for (let i = 0; i < 20; i++) s.fn(); }
  for (let r = 0; r < rounds; r++) {
    for (const s of r % 2 === 0 ? stages : [...stages].reverse()) {
      const per = 10;
      const c0 = process.cpuUsage(), t0 = process.hrtime.bigint();
      for (let i = 0; i < per; i++) s.fn();
      const t = Number(process.hrtime.bigint() - t0) / 1e3 / per, c = process.cpuUsage(c0);
      wall[s.name]!.push(t); cpu[s.name]!.push((c.user + c.system) / per);
    }
  }
  const r1 = (v: number): number => Math.round(v * 10) / 10;
  const out: Record<string, StageTimes> = {};
  for (const s of stages) out[s.name] = { minUs: r1(Math.min(...wall[s.name]!)), wallUs: r1(median(wall[s.name]!)), cpuUs: r1(median(cpu[s.name]!)) };
  return out;
}

function stagesFor(): Stage[] {
  const r = be.floatRange!(xv);
  const { scale, zeroPoint } = quant.chooseDynamicQparams(r.min, r.max, 0, 255);
  const xa = { data: be.quantizePerTensor!(xv, scale, zeroPoint, 'uint8'), rows: batch, cols: size, scale, zeroPoint };
  const list: Stage[] = [
    { name: 'range', fn: () => be.floatRange!(xv) },
    { name: 'qparams', fn: () => quant.chooseDynamicQparams(r.min, r.max, 0, 255) },
    { name: 'quantize (allocating)', fn: () => be.quantizePerTensor!(xv, scale, zeroPoint, 'uint8') },
  ];
  if (be.quantizeDynamic) list.push({ name: 'range + qparams + quantize (quantizeDynamic, reused out)', fn: () => be.quantizeDynamic!(xv, 255, reused) });
  list.push(
    { name: 'int8 GEMM (float32 out)', fn: () => be.int8Linear!(xa, w, layer.bias, { kind: 'float32' }) },
    { name: 'dynamic layer forward', fn: () => noGrad(() => layer.call(x)) },
    { name: 'float32 Linear forward', fn: () => noGrad(() => lin.call(x)) },
  );
  return list;
}

const result: Record<string, unknown> = {};
const paths: [string, 'avx512' | 'avx2', 'auto' | 'avx2'][] = [['best', 'avx512', 'auto'], ['avx2', 'avx2', 'avx2']];
for (const [label, cpu, int8] of paths) {
  if (!supportedCpuPaths().includes(cpu)) continue;
  setCpuPath(cpu);
  setInt8Path(int8);
  const m = measure(stagesFor());
  result[label] = { floatCpuPath: cpuPath(), int8Path: int8Path(), stages: m };
  process.stderr.write(`${label}: float32 ${cpuPath()}, int8 ${int8Path()}, ${threads} thread(s), load ${os.loadavg()[0]!.toFixed(1)}\n`);
  for (const [k, v] of Object.entries(m)) process.stderr.write(`  ${k.padEnd(56)} ${v.minUs.toFixed(1).padStart(8)} us min ${v.wallUs.toFixed(1).padStart(8)} us median ${v.cpuUs.toFixed(1).padStart(8)} us CPU\n`);
}
console.log(JSON.stringify({ bench: 'quant-stages', size, batch, threads, rounds, loadAverage: os.loadavg(), ...result, machine: machineInfo() }));
