// Where the time of one batch-1 forward of the mlp preset (784-300-100-10, ReLU) goes (issue #17):
// process CPU and wall microseconds per call of the inference plan, model.call(), the backend's
// linearChain (one native call for the three layers), three backend.linear calls, three addon.linear
// calls into preallocated outputs, each layer alone, a 1x1 linear (the fixed cost of one N-API
// call) and a small allocation, interleaved in rounds of `reps` calls, medians over the rounds.
// The PyTorch side of the same breakdown: bench/peer_infer_parts.py. Prints one JSON object as its
// last stdout line; records nothing.
//   usage: npx tsx bench/infer_parts.ts [threads=1] [reps=2000] [rounds=15]   (TENSORSLIM_NATIVE_PATH: another addon)
import os from 'node:os';
import type { View } from '../src/backend/backend.js';
import { loadAddon } from '../src/backends/native/addon.js';
import { getNativeBackend } from '../src/backends/native/index.js';
import { packViews } from '../src/backends/native/pack.js';
import { compileInference, createModel, noGrad, rand, Sequential } from '../src/index.js';
import { Linear } from '../src/nn/linear.js';
import { median } from './common.js';

const threads = Number(process.argv[2] ?? 1), reps = Number(process.argv[3] ?? 2000), rounds = Number(process.argv[4] ?? 15);
const be = getNativeBackend(), addon = loadAddon().addon;
if (!be || !addon) throw new Error('infer_parts: the native addon did not load');
be.setThreads(threads);
const net = createModel('mlp').eval();
if (!(net instanceof Sequential)) throw new Error('infer_parts: the mlp preset is not a Sequential');
const plan = compileInference(net);
const x = rand([1, 784]);
const lins = [...net.modules()].filter((m): m is Linear => m instanceof Linear);
const W = lins.map((l) => l.weight.view_()), B = lins.map((l) => l.bias!.view_());
const outs = lins.map((l) => new Float32Array(l.weight.shape[0]!));
const dense = (data: Float32Array, n: number): View => ({ data, shape: [1, n], strides: [n, 1], offset: 0 });
const metas = lins.map((l, i) => Float64Array.from(packViews(i === 0 ? x.view_() : dense(outs[i - 1]!, l.weight.shape[1]!), W[i]!, B[i]!)));
const layers = W.map((w, i) => ({ w, bias: B[i]!, relu: i < 2 }));
const one = new Float32Array(1), oneOut = new Float32Array(1);
const oneMeta = Float64Array.from(packViews(dense(one, 1), dense(one, 1), { data: one, shape: [1], strides: [1], offset: 0 }));
const cases: [string, () => void][] = [
  ['plan.run', () => { plan.run(x); }],
  ['model.call (noGrad)', () => { noGrad(() => net.call(x)); }],
  ['backend.linearChain (3 layers)', () => { be.linearChain(x.view_(), layers); }],
  ['3 x backend.linear', () => { let y = x.view_(); for (let i = 0; i < 3; i++) y = dense(be.linear(y, W[i]!, B[i]!, i < 2) as Float32Array, W[i]!.shape[0]!); }],
  ['3 x addon.linear, preallocated', () => { for (let i = 0; i < 3; i++) addon.linear(i === 0 ? x.data : outs[i - 1]!, W[i]!.data, B[i]!.data, metas[i]!, i < 2, outs[i]!); }],
  ['layer 1 (784 -> 300) alone', () => { addon.linear(x.data, W[0]!.data, B[0]!.data, metas[0]!, true, outs[0]!); }],
  ['layer 2 (300 -> 100) alone', () => { addon.linear(outs[0]!, W[1]!.data, B[1]!.data, metas[1]!, true, outs[1]!); }],
  ['layer 3 (100 -> 10) alone', () => { addon.linear(outs[1]!, W[2]!.data, B[2]!.data, metas[2]!, false, outs[2]!); }],
  ['addon.linear 1x1 (N-API call)', () => { addon.linear(one, one, one, oneMeta, false, oneOut); }],
  ['new Float32Array(300)', () => { new Float32Array(300); }],
];
const cpu: Record<string, number[]> = {}, wall: Record<string, number[]> = {};
for (const [, f] of cases) for (let i = 0; i < 200; i++) f();
for (let r = 0; r < rounds; r++) for (const [n, f] of cases) {
  const c0 = process.cpuUsage(), t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  const c = process.cpuUsage(c0), w = performance.now() - t0;
  (cpu[n] ??= []).push((c.user + c.system) / reps); (wall[n] ??= []).push(w * 1000 / reps);
}
const rows = cases.map(([n]) => ({ part: n, cpuUs: median(cpu[n]!), wallUs: median(wall[n]!) }));
for (const r of rows) process.stderr.write(`${r.part.padEnd(34)} CPU ${r.cpuUs.toFixed(2).padStart(7)} us  wall ${r.wallUs.toFixed(2).padStart(7)} us\n`);
process.stdout.write(`${JSON.stringify({ bench: 'infer-parts', cpuPath: be.cpuPath, threads, reps, rounds, loadavg: os.loadavg(), rows })}\n`);
