#!/usr/bin/env node
// Runs tensorslim and its PyTorch/OpenBLAS peer on the same workloads, interleaved, for several
// rounds in one session, and saves medians, ratios, the peer configuration and the machine
// description to bench/results/<date>.json (written atomically). Usage: node bench/run.mjs [rounds]
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 3);
const peerEnv = { ...process.env };
delete peerEnv.OPENBLAS_CORETYPE; delete peerEnv.OPENBLAS_L2_SIZE;

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}
const ours = (...a) => run(process.execPath, ['--import', 'tsx', 'bench/ours.ts', ...a], { ...process.env, BENCH_THREADS: '2' });
const peer = (...a) => run('/usr/bin/python3', ['bench/peer_torch.py', ...a], peerEnv);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

const raw = { gemm1024: [], gemm2048: [], peerGemm1024: [], peerGemm2048: [], mlpModules: [], mlpFused: [], peerMlp: [] };
let peerConfig = null, machine = null;
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  for (const n of [1024, 2048]) {
    const o = ours('gemm', String(n)); machine = o.machine; raw[`gemm${n}`].push(o.gflops);
    const p = peer('gemm', String(n)); peerConfig = p.peer; raw[`peerGemm${n}`].push(p.numpyGflops);
  }
  raw.mlpModules.push(ours('mlp', 'modules').stepMs);
  raw.mlpFused.push(ours('mlp', 'fused').stepMs);
  raw.peerMlp.push(peer('mlp').stepMs);
}
const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
const result = {
  date: new Date().toISOString(),
  machine: { ...machine, cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), loadavg: os.loadavg() },
  rounds,
  medians: med,
  ratios: {
    gemm1024VsOpenblas: med.gemm1024 / med.peerGemm1024,
    gemm2048VsOpenblas: med.gemm2048 / med.peerGemm2048,
    mlpModulesVsTorch: med.mlpModules / med.peerMlp,
    mlpFusedVsTorch: med.mlpFused / med.peerMlp,
  },
  units: { gemm: 'GFLOP/s (float32, 2 threads; peer: numpy @ on OpenBLAS)', mlp: 'ms per training step (median)' },
  peer: peerConfig,
  raw,
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const file = join(root, 'bench', 'results', `${result.date.slice(0, 19).replace(/[:T]/g, '-')}.json`);
writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
renameSync(`${file}.tmp`, file);
process.stdout.write(`${JSON.stringify({ file, medians: med, ratios: result.ratios, loadavg: os.loadavg() })}\n`);
