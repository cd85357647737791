#!/usr/bin/env node
// Elementwise memory bandwidth, tensorslim against numpy and PyTorch in one session: runs
// `tensorslim bench elementwise --size N --json` and bench/peer_elementwise.py alternately for
// several rounds, at a large size (2^24 float32, 64 MiB per tensor) and an in-cache one (2^18,
// 1 MiB), and saves per-op medians (GB/s, share of the copy roof), the load average of each round,
// the peer configuration and the machine to bench/results/elementwise-<date>.json (atomically).
//   usage: node bench/run_elementwise.mjs [rounds=3]
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 3);
const threads = String(process.env.BENCH_THREADS ?? 2);
const sizes = [1 << 24, 1 << 18];
const peerEnv = { ...process.env };
delete peerEnv.OPENBLAS_CORETYPE; delete peerEnv.OPENBLAS_L2_SIZE;

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}
// a run on the reference backend (the addon missing, e.g. mid-rebuild on a shared checkout) is retried, never recorded
function ours(n) {
  for (let attempt = 1; ; attempt++) {
    const r = run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', 'elementwise', '--size', String(n), '--threads', threads, '--json'], process.env);
    if (r.machine?.backend === 'native') return r;
    if (attempt >= 10) throw new Error(`bench elementwise ran on the ${r.machine?.backend} backend 10 times; build the addon (node scripts/build-native.mjs)`);
    process.stderr.write(`bench elementwise ran on the ${r.machine?.backend} backend (addon missing?); retrying in 30 s\n`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000);
  }
}
const peer = (n) => run('/usr/bin/python3', ['bench/peer_elementwise.py', String(n), threads], peerEnv);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

// raw[size][lib] = { copyGBs: [], assignGBs: [], ops: { add: { GBs: [], ofCopy: [] }, ... } }
const raw = {};
const loadavg = [];
let machine = null, peerConfig = null;
const push = (size, lib, r) => {
  const slot = ((raw[size] ??= {})[lib] ??= { copyGBs: [], assignGBs: [], ops: {} });
  slot.copyGBs.push(r.copyGBs); slot.assignGBs.push(r.assignGBs);
  for (const o of r.ops) { const s = (slot.ops[o.op] ??= { GBs: [], ofCopy: [] }); s.GBs.push(o.GBs); s.ofCopy.push(o.ofCopy); }
};
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  loadavg.push(os.loadavg());
  for (const n of sizes) {
    const o = ours(n); machine = o.machine; push(n, 'tensorslim', o);
    const p = peer(n); peerConfig = p.peer;
    for (const pr of p.peers) push(n, pr.lib, pr);
  }
}
const summary = Object.fromEntries(Object.entries(raw).map(([size, libs]) => [size, Object.fromEntries(Object.entries(libs).map(([lib, s]) => [lib, {
  copyGBs: median(s.copyGBs), assignGBs: median(s.assignGBs),
  ops: Object.fromEntries(Object.entries(s.ops).map(([op, v]) => [op, { GBs: median(v.GBs), ofCopy: median(v.ofCopy) }])),
}]))]));
const result = {
  bench: 'elementwise',
  date: new Date().toISOString(),
  machine: { ...machine, cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), totalMemBytes: os.totalmem(), loadavgAtEnd: os.loadavg() },
  workload: 'float32, contiguous; every op allocates its output (copy = clone, the roof); assign = copy into an existing tensor',
  threads: Number(threads),
  rounds,
  units: { GBs: '1e9 bytes/s, bytes read + written per call (copy 8n, add/mul 12n, relu/exp/addScalar 8n, sum 4n), median over rounds', ofCopy: 'GB/s over the same library\'s copy GB/s' },
  medians: summary,
  peer: { ...peerConfig, note: 'numpy elementwise loops are single-threaded; torch uses torch.set_num_threads(threads)' },
  loadavg,
  raw,
};
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const file = join(root, 'bench', 'results', `elementwise-${result.date.slice(0, 19).replace(/[:T]/g, '-')}.json`);
writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
renameSync(`${file}.tmp`, file);
process.stdout.write(`${JSON.stringify({ file, medians: summary, loadavg: os.loadavg() })}\n`);
