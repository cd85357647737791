// LeNet-5 inference, float32 vs static int8 (int8 codes flowing between the layers) and dynamic int8
// (Linear and Conv2d quantized per batch, float between the layers), at several
// batch sizes, on the best CPU path and with the AVX2 path forced (TENSORSLIM_CPU=avx2: float32 and
// int8 kernels both on AVX2), with its PyTorch peer (bench/peer_quant_lenet.py: eager-mode static
// quantization on the onednn and qnnpack engines; Debian's torch has no FBGEMM), interleaved for
// several rounds in one session. Ours runs `tensorslim bench quant --model lenet5 --batch B --threads 1`
// and `--threads 2`; each side keeps the faster wall-clock per round, and also reports its
// single-thread CPU time (process.cpuUsage / time.process_time), the figure that a loaded machine
// disturbs least. Records medians, ratios, load averages and the machine as benchmark 'quant-lenet5'
// (bench/results/quant-lenet5.json).
//   usage: npx tsx bench/run_quant_lenet.ts [rounds=3] [batches=1,32,256]
// Targets (issue #20 follow-up): static int8 LeNet-5 >= 1.5x our float32 at batch 32+ on VNNI and
// >= 1.0x on AVX2; dynamic not slower than float32; reported, not asserted.
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult, type Json } from './common.js';

const rounds = Number(process.argv[2] ?? 3);
const batches = (process.argv[3] ?? '1,32,256').split(',').map(Number);
const lenet = (r: Json): Json => r['lenet5'] as Json;
const num = (r: Json, k: string): number => r[k] as number;
const ours = (env: NodeJS.ProcessEnv, batch: number): Json => {
  const run = (threads: string): Json => runOursNative(['src/cli/main.ts', 'bench', 'quant', '--model', 'lenet5', '--batch', String(batch), '--threads', threads, '--json'], env);
  const [a, b] = [run('1'), run('2')];
  const la = lenet(a), lb = lenet(b);
  return {
    float32Ms: Math.min(num(la, 'float32Ms'), num(lb, 'float32Ms')), int8Ms: Math.min(num(la, 'int8Ms'), num(lb, 'int8Ms')),
    float32CpuMs: num(la, 'float32CpuMs'), int8CpuMs: num(la, 'int8CpuMs'),
    dynamicMs: Math.min(num(la, 'dynamicMs'), num(lb, 'dynamicMs')), dynamicCpuMs: num(la, 'dynamicCpuMs'), path: `int8 ${String(a['cpuPath'])}, float32 ${String(a['floatCpuPath'])}`,
    machine: a['machine'] as Json,
  };
};
const peer = (env: NodeJS.ProcessEnv = {}): Json => runJson('/usr/bin/python3', ['bench/peer_quant_lenet.py', ...batches.map(String)], { ...peerEnv(), ...env });
const peerAvx2Env = { DNNL_MAX_CPU_ISA: 'AVX2', ONEDNN_MAX_CPU_ISA: 'AVX2' };
const sides: Record<string, NodeJS.ProcessEnv> = {
  best: { ...process.env, TENSORSLIM_CPU: '', TENSORSLIM_INT8: '' },
  avx2: { ...process.env, TENSORSLIM_CPU: 'avx2', TENSORSLIM_INT8: '' },
};
const raw: Record<string, number[]> = {};
const push = (k: string, v: number): void => { (raw[k] ??= []).push(v); };
const loadavg: number[][] = [];
const paths: Record<string, string> = {};
const peerRuns: Json[] = [];
let peerConfig: unknown = null, machine: Json = {};
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  loadavg.push(os.loadavg());
  const order = ['best', 'avx2', 'peer', 'peerAvx2'];
  for (const side of i % 2 === 0 ? order : [...order].reverse()) {
    if (side === 'peer' || side === 'peerAvx2') {
      const p = side === 'peer' ? peer() : peer(peerAvx2Env);
      if (side === 'peer') peerConfig = p['peer'];
      for (const row of p['rows'] as Json[]) {
        const b = num(row, 'batch');
        push(`${side}Float32Ms@${b}`, num(row, 'float32Ms')); push(`${side}Int8Ms@${b}`, num(row, 'int8Ms'));
        push(`${side}Float32CpuMs@${b}`, num(row, 'float32CpuMs')); push(`${side}Int8CpuMs@${b}`, num(row, 'int8CpuMs'));
        peerRuns.push({ side, round: i + 1, batch: b, int8Engine: row['int8Engine'], int8CpuEngine: row['int8CpuEngine'], runs: row['runs'] });
      }
      continue;
    }
    for (const b of batches) {
      const o = ours(sides[side]!, b);
      for (const k of ['float32Ms', 'int8Ms', 'float32CpuMs', 'int8CpuMs', 'dynamicMs', 'dynamicCpuMs']) push(`${side}${k[0]!.toUpperCase()}${k.slice(1)}@${b}`, num(o, k));
      paths[side] = String(o['path']);
      if (side === 'best') machine = o['machine'] as Json;
    }
  }
}
const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
const m = (k: string): number => med[k]!;
const ratios: Record<string, number> = {};
for (const b of batches) {
  for (const side of ['best', 'avx2']) {
    ratios[`${side}Int8VsFloat32@${b}`] = m(`${side}Float32Ms@${b}`) / m(`${side}Int8Ms@${b}`);
    ratios[`${side}Int8VsFloat32Cpu@${b}`] = m(`${side}Float32CpuMs@${b}`) / m(`${side}Int8CpuMs@${b}`);
    ratios[`${side}DynamicVsFloat32@${b}`] = m(`${side}Float32Ms@${b}`) / m(`${side}DynamicMs@${b}`);
    ratios[`${side}DynamicVsFloat32Cpu@${b}`] = m(`${side}Float32CpuMs@${b}`) / m(`${side}DynamicCpuMs@${b}`);
  }
  ratios[`bestInt8VsTorchInt8@${b}`] = m(`peerInt8Ms@${b}`) / m(`bestInt8Ms@${b}`);
  ratios[`bestInt8VsTorchInt8Cpu@${b}`] = m(`peerInt8CpuMs@${b}`) / m(`bestInt8CpuMs@${b}`);
  ratios[`avx2Int8VsTorchInt8Avx2@${b}`] = m(`peerAvx2Int8Ms@${b}`) / m(`avx2Int8Ms@${b}`);
  ratios[`avx2Int8VsTorchInt8Avx2Cpu@${b}`] = m(`peerAvx2Int8CpuMs@${b}`) / m(`avx2Int8CpuMs@${b}`);
  ratios[`torchInt8VsTorchFloat32@${b}`] = m(`peerFloat32Ms@${b}`) / m(`peerInt8Ms@${b}`);
}
const result = {
  date: new Date().toISOString(), machine: machineInfo(machine), batches, rounds, paths, medians: med, ratios,
  units: {
    ms: 'median ms of one forward pass, float in and out (wall clock: the faster of 1 and 2 threads per round; CpuMs: CPU time of the single-thread run)',
    ratios: 'speedups: > 1 means the int8 side (or ours) is faster',
    model: 'the lenet5 preset, random weights, prepareStatic (min-max) + 4 calibration batches + convertStatic; dynamic: quantizeDynamic with Linear and Conv2d; peer: the same architecture, eager-mode static quantization',
  },
  loadavg, peer: { config: peerConfig, avx2Env: peerAvx2Env, perRound: peerRuns }, raw,
};
const files = writeResult('quant-lenet5', result);
process.stdout.write(`${JSON.stringify({ ...files, paths, ratios, loadavg: os.loadavg() })}\n`);
