// Runs tensorslim and its PyTorch/OpenBLAS peer on the same workloads, interleaved, for several
// rounds in one session: GEMM 1024^3 and 2048^3 against numpy @ (OpenBLAS), and one training step
// of the MLP 784-1200-1200-10 (both model variants) against PyTorch. Records medians, ratios, the
// peer configuration and the machine as benchmark 'gemm-mlp' (with "gemm": GEMM only, as 'gemm');
// see bench/README.md for where results go.
//   usage: npx tsx bench/run_gemm_mlp.ts [rounds=3] [gemm]      (npm run bench)
// BENCH_THREADS (default 2) sets both sides' threads for the GEMM rows (ours --threads, the peer
// OPENBLAS_NUM_THREADS) and names the record 'gemm-t<threads>' when not 2; with TENSORSLIM_CPU=avx2
// the GEMM peer runs OpenBLAS's AVX2 kernel (OPENBLAS_CORETYPE=Haswell, stated in the record's peer)
// and the record is '<name>-avx2'.
// Each round records the load average: the machine is shared, so wall-clock numbers carry the
// other processes' load; the GEMM rows also record GFLOP per CPU-second, which does not.
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult, type Json } from './common.js';

const rounds = Number(process.argv[2] ?? 3);
const gemmOnly = process.argv[3] === 'gemm';
// ours: `tensorslim bench gemm|mlp --json` in a fresh process; the peer: bench/peer_gemm_mlp.py
const threads = String(process.env['BENCH_THREADS'] ?? 2);
const cpuPath = process.env['TENSORSLIM_CPU'];
const ours = (...a: string[]): Json => runOursNative(['src/cli/main.ts', 'bench', ...a, '--threads', a[0] === 'gemm' ? threads : '2', '--json']);
const peer = (...a: string[]): Json => {
  const env = peerEnv();
  if (a[0] === 'gemm') {
    env['OPENBLAS_NUM_THREADS'] = threads;
    if (cpuPath === 'avx2') env['OPENBLAS_CORETYPE'] = 'Haswell';  // the AVX2 row against OpenBLAS's AVX2 kernel
  }
  return runJson('/usr/bin/python3', ['bench/peer_gemm_mlp.py', ...a], env);
};
const num = (r: Json, key: string): number => r[key] as number;

const raw: Record<string, number[]> = {
  gemm1024: [], gemm2048: [], peerGemm1024: [], peerGemm2048: [],
  // GFLOP per CPU-second (process CPU time, all threads): robust to other processes' load
  gemmCpu1024: [], gemmCpu2048: [], peerGemmCpu1024: [], peerGemmCpu2048: [],
  ...(gemmOnly ? {} : { mlpModules: [], mlpFused: [], peerMlp: [] }),
};
const loadavg: number[][] = [];
let peerConfig: unknown = null, machine: Json = {};
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  loadavg.push(os.loadavg());
  for (const n of [1024, 2048]) {
    // alternate which side goes first, so a load burst does not always hit the same one
    for (const side of i % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours']) {
      if (side === 'ours') {
        const o = ours('gemm', '--size', String(n)); machine = o['machine'] as Json;
        raw[`gemm${n}`]!.push(num(o, 'gflops')); raw[`gemmCpu${n}`]!.push(num(o, 'cpuGflops'));
      } else {
        const p = peer('gemm', String(n)); peerConfig = p['peer'];
        raw[`peerGemm${n}`]!.push(num(p, 'numpyGflops')); raw[`peerGemmCpu${n}`]!.push(num(p, 'numpyCpuGflops'));
      }
    }
  }
  if (gemmOnly) continue;
  raw['mlpModules']!.push(num(ours('mlp'), 'stepMs'));
  raw['mlpFused']!.push(num(ours('mlp', '--fused'), 'stepMs'));
  raw['peerMlp']!.push(num(peer('mlp'), 'stepMs'));
}
const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
const m = (k: string): number => med[k]!;
// The median of the per-round ratios (ours over the peer, the two run back to back in each round):
// at this load a side's rounds differ by up to 1.5x, and the ratio of the two medians can pair a slow
// round of one side with a fast round of the other (the quiet AVX2 1024 record of session 6: per-round
// ratios 1.00, 0.67, 1.10, ratio of medians 0.77x).
const paired = (ours: string, peer: string): number => median(raw[ours]!.map((v, i) => v / raw[peer]![i]!));
const result = {
  date: new Date().toISOString(),
  machine: machineInfo(machine),
  rounds,
  medians: med,
  ratios: {
    gemm1024VsOpenblas: m('gemm1024') / m('peerGemm1024'),
    gemm2048VsOpenblas: m('gemm2048') / m('peerGemm2048'),
    gemmCpu1024VsOpenblas: m('gemmCpu1024') / m('peerGemmCpu1024'),
    gemmCpu2048VsOpenblas: m('gemmCpu2048') / m('peerGemmCpu2048'),
    gemm1024PairedVsOpenblas: paired('gemm1024', 'peerGemm1024'),
    gemm2048PairedVsOpenblas: paired('gemm2048', 'peerGemm2048'),
    gemmCpu1024PairedVsOpenblas: paired('gemmCpu1024', 'peerGemmCpu1024'),
    gemmCpu2048PairedVsOpenblas: paired('gemmCpu2048', 'peerGemmCpu2048'),
    ...(gemmOnly ? {} : { mlpModulesVsTorch: m('mlpModules') / m('peerMlp'), mlpFusedVsTorch: m('mlpFused') / m('peerMlp') }),
  },
  units: {
    gemm: `GFLOP/s (float32, ${threads} thread(s) both sides; peer: numpy @ on OpenBLAS), median of the round medians`,
    gemmCpu: 'GFLOP per CPU-second of the process (all threads), same runs: the per-core efficiency, robust to other load',
    ...(gemmOnly ? {} : { mlp: 'ms per training step (median)' }),
  },
  loadavg,
  peer: peerConfig,
  raw,
};
const name = (gemmOnly ? 'gemm' : 'gemm-mlp') + (threads !== '2' ? `-t${threads}` : '') + (cpuPath ? `-${cpuPath}` : '');
const files = writeResult(name, result);
process.stdout.write(`${JSON.stringify({ ...files, medians: med, ratios: result.ratios, loadavg: os.loadavg() })}\n`);
