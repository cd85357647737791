#!/usr/bin/env node
// Runs tensorslim and its PyTorch/OpenBLAS peer on the same workloads, interleaved, for several
// rounds in one session, and saves medians, ratios, the peer configuration and the machine
// description to bench/results/<date>.json (written atomically). Usage: node bench/run.mjs [rounds] [gemm]
// (with "gemm", only the GEMM workloads). Each round records the load average: the machine is
// shared, so wall-clock numbers carry the other processes' load; the GEMM rows also record GFLOP
// per CPU-second, which does not.
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult } from './common.mjs';

const rounds = Number(process.argv[2] ?? 3);
const gemmOnly = process.argv[3] === 'gemm';
const ours = (...a) => runOursNative(['bench/ours.ts', ...a], { ...process.env, BENCH_THREADS: '2' });
const peer = (...a) => runJson('/usr/bin/python3', ['bench/peer_torch.py', ...a], peerEnv());

const raw = {
  gemm1024: [], gemm2048: [], peerGemm1024: [], peerGemm2048: [], mlpModules: [], mlpFused: [], peerMlp: [],
  // GFLOP per CPU-second (process CPU time, all threads): robust to other processes' load
  gemmCpu1024: [], gemmCpu2048: [], peerGemmCpu1024: [], peerGemmCpu2048: [],
};
const loadavg = [];
let peerConfig = null, machine = null;
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  loadavg.push(os.loadavg());
  for (const n of [1024, 2048]) {
    // alternate which side goes first, so a load burst does not always hit the same one
    const first = i % 2 === 0 ? 'ours' : 'peer';
    for (const side of first === 'ours' ? ['ours', 'peer'] : ['peer', 'ours']) {
      if (side === 'ours') { const o = ours('gemm', String(n)); machine = o.machine; raw[`gemm${n}`].push(o.gflops); raw[`gemmCpu${n}`].push(o.cpuGflops); }
      else { const p = peer('gemm', String(n)); peerConfig = p.peer; raw[`peerGemm${n}`].push(p.numpyGflops); raw[`peerGemmCpu${n}`].push(p.numpyCpuGflops); }
    }
  }
  if (gemmOnly) continue;
  raw.mlpModules.push(ours('mlp', 'modules').stepMs);
  raw.mlpFused.push(ours('mlp', 'fused').stepMs);
  raw.peerMlp.push(peer('mlp').stepMs);
}
const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
const result = {
  date: new Date().toISOString(),
  machine: machineInfo(machine),
  rounds,
  medians: med,
  ratios: {
    gemm1024VsOpenblas: med.gemm1024 / med.peerGemm1024,
    gemm2048VsOpenblas: med.gemm2048 / med.peerGemm2048,
    gemmCpu1024VsOpenblas: med.gemmCpu1024 / med.peerGemmCpu1024,
    gemmCpu2048VsOpenblas: med.gemmCpu2048 / med.peerGemmCpu2048,
    mlpModulesVsTorch: med.mlpModules / med.peerMlp,
    mlpFusedVsTorch: med.mlpFused / med.peerMlp,
  },
  units: {
    gemm: 'GFLOP/s (float32, 2 threads; peer: numpy @ on OpenBLAS), median of the round medians',
    gemmCpu: 'GFLOP per CPU-second of the process (all threads), same runs: the per-core efficiency, robust to other load',
    mlp: 'ms per training step (median)',
  },
  loadavg,
  peer: peerConfig,
  raw,
};
const file = writeResult('', result, result.date);
process.stdout.write(`${JSON.stringify({ file, medians: med, ratios: result.ratios, loadavg: os.loadavg() })}\n`);
