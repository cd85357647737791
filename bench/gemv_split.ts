// Where the batch-1 GEMV (native/src/linear.cc linear_forward_gemv) should start splitting W's rows
// over the pool: x (1, K) W^T for W (N, K) of growing size, at 1 and at 2 threads, interleaved in
// blocks of calls; wall and process CPU microseconds per call (medians of the blocks). The split pays
// where 2 threads' wall time drops below 1 thread's; on a loaded machine the worker is often
// descheduled and the answer is meaningless (the load average is printed: rerun when quiet).
// Prints one JSON object as its last stdout line; records nothing.
//   usage: npx tsx bench/gemv_split.ts [blocks=30] [calls=200]
import os from 'node:os';
import { getNativeBackend, setNumThreads } from '../src/backends/native/index.js';
import { randn } from '../src/index.js';
import { median } from './common.js';

const blocks = Number(process.argv[2] ?? 30), calls = Number(process.argv[3] ?? 200);
const be = getNativeBackend();
if (!be) throw new Error('gemv_split: the native addon did not load');
// (N, K): about 16 K to 1 M multiply-adds, square-ish and the mlp preset's layers
const shapes: [number, number][] = [[100, 300], [128, 256], [192, 384], [256, 512], [300, 784], [512, 512], [768, 768], [1024, 1024]];
const rows = [];
for (const [N, K] of shapes) {
  const x = randn([1, K]).view_(), w = randn([N, K]).view_(), b = randn([N]).view_();
  const wall: Record<number, number[]> = { 1: [], 2: [] }, cpu: Record<number, number[]> = { 1: [], 2: [] };
  for (let r = 0; r < blocks; r++) for (const t of r % 2 ? [1, 2] : [2, 1]) {
    setNumThreads(t);
    for (let i = 0; i < 5; i++) be.linear!(x, w, b, true);
    const c0 = process.cpuUsage(), t0 = performance.now();
    for (let i = 0; i < calls; i++) be.linear!(x, w, b, true);
    const c = process.cpuUsage(c0);
    wall[t]!.push((performance.now() - t0) * 1000 / calls); cpu[t]!.push((c.user + c.system) / calls);
  }
  const row = { N, K, macs: N * K, wallUs1: median(wall[1]!), wallUs2: median(wall[2]!), cpuUs1: median(cpu[1]!), cpuUs2: median(cpu[2]!) };
  rows.push(row);
  process.stderr.write(`${N} x ${K} (${(N * K / 1024).toFixed(0)} K MACs): 1 thread ${row.wallUs1.toFixed(1)} us wall, 2 threads ${row.wallUs2.toFixed(1)} us (${(row.wallUs2 / row.wallUs1).toFixed(2)}x)\n`);
}
process.stdout.write(`${JSON.stringify({ bench: 'gemv-split', cpuPath: be.cpuPath, loadavg: os.loadavg(), blocks, calls, rows })}\n`);
