// Elementwise memory bandwidth, tensorslim against numpy and PyTorch in one session: runs
// `tensorslim bench elementwise --size N --json` and bench/peer_elementwise.py alternately for
// several rounds, at a large size (2^24 float32, 64 MiB per tensor) and an in-cache one (2^18,
// 1 MiB), and saves per-op medians (GB/s; share of the roof, a copy into an existing tensor, and of
// the same library's allocating copy) for the allocating, out= and in-place forms, the load average
// of each round, the peer configuration and the machine as benchmark 'elementwise' (bench/README.md).
//   usage: npx tsx bench/run_elementwise.ts [rounds=3]      (BENCH_THREADS, default 2)
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult, type Json } from './common.js';

/** What one side prints per library: copy and assign bandwidth and each op's row. */
interface OpRow { op: string; form?: string; GBs: number; ofCopy: number; ofRoof?: number }
interface LibRow { copyGBs: number; assignGBs: number; ops: OpRow[] }
/** The same, collected over rounds. */
interface OpSeries { form: string; GBs: number[]; ofCopy: number[]; ofRoof: number[] }
interface LibSeries { copyGBs: number[]; assignGBs: number[]; ops: Record<string, OpSeries> }

const rounds = Number(process.argv[2] ?? 3);
const threads = String(process.env['BENCH_THREADS'] ?? 2);
const sizes = [1 << 24, 1 << 18];
const ours = (n: number): LibRow & { machine: Json } => runOursNative<LibRow>(['src/cli/main.ts', 'bench', 'elementwise', '--size', String(n), '--threads', threads, '--json']);
const peer = (n: number): { peer: Json; peers: Array<LibRow & { lib: string }> } => runJson('/usr/bin/python3', ['bench/peer_elementwise.py', String(n), threads], peerEnv());

// raw[size][lib] = { copyGBs: [], assignGBs: [], ops: { add: { GBs: [], ofCopy: [] }, ... } }
const raw: Record<string, Record<string, LibSeries>> = {};
const loadavg: number[][] = [];
let machine: Json = {}, peerConfig: unknown = null;
const push = (size: number, lib: string, r: LibRow): void => {
  const slot = ((raw[size] ??= {})[lib] ??= { copyGBs: [], assignGBs: [], ops: {} });
  slot.copyGBs.push(r.copyGBs); slot.assignGBs.push(r.assignGBs);
  for (const o of r.ops) {
    const s = (slot.ops[o.op] ??= { form: o.form ?? 'alloc', GBs: [], ofCopy: [], ofRoof: [] });
    s.GBs.push(o.GBs); s.ofCopy.push(o.ofCopy); s.ofRoof.push(o.ofRoof ?? o.GBs / r.assignGBs);
  }
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
  ops: Object.fromEntries(Object.entries(s.ops).map(([op, v]) => [op, { form: v.form, GBs: median(v.GBs), ofRoof: median(v.ofRoof), ofCopy: median(v.ofCopy) }])),
}]))]));
const result = {
  date: new Date().toISOString(),
  machine: machineInfo(machine),
  workload: 'float32, contiguous; each op allocating its output (add), into an existing tensor (add(out): numpy/torch out=) and in place (add_: numpy out=self, torch add_); assign = copy into an existing tensor (the roof); copy = clone (an allocating copy)',
  threads: Number(threads),
  rounds,
  units: { GBs: '1e9 bytes/s, bytes read + written per call (copy 8n, add/mul 12n, relu/exp/addScalar 8n, sum 4n), median over rounds', ofRoof: 'GB/s over the same library\'s assign GB/s (the roof)', ofCopy: 'GB/s over the same library\'s clone GB/s' },
  medians: summary,
  peer: { ...(peerConfig as Json), note: 'numpy elementwise loops are single-threaded; torch uses torch.set_num_threads(threads)' },
  loadavg,
  raw,
};
const files = writeResult('elementwise', result);
process.stdout.write(`${JSON.stringify({ ...files, medians: summary, loadavg: os.loadavg() })}\n`);
