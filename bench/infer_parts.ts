import { loadAddon } from '../src/backends/native/addon.js';
import { getNativeBackend } from '../src/backends/native/index.js';
import { packViews } from '../src/backends/native/pack.js';
import { createModel, compileInference, noGrad, rand } from '../src/index.js';
import type { Linear } from '../src/nn/linear.js';
const threads = Number(process.argv[2] ?? 1);
const be = getNativeBackend()!; const addon = loadAddon().addon!;
addon.setNumThreads(threads);
const net = createModel('mlp').eval();
const plan = compileInference(net as any);
const x = rand([1, 784]);
const lins = [...(net as any).modules()].filter((m: any) => m.constructor.name === 'Linear') as Linear[];
const W = lins.map((l) => l.weight.view_()), B = lins.map((l) => l.bias!.view_());
const outs = lins.map((l) => new Float32Array(l.weight.shape[0]!));
const metas = lins.map((l, i) => Float64Array.from(packViews(i === 0 ? x.view_() : { data: outs[i - 1]!, shape: [1, l.weight.shape[1]!], strides: [l.weight.shape[1]!, 1], offset: 0 } as any, W[i]!, B[i]!)));
const tiny = { w: new Float32Array(1), x: new Float32Array(1), b: new Float32Array(1), o: new Float32Array(1) };
const tinyMeta = Float64Array.from(packViews({ data: tiny.x, shape: [1, 1], strides: [1, 1], offset: 0 } as any, { data: tiny.w, shape: [1, 1], strides: [1, 1], offset: 0 } as any, { data: tiny.b, shape: [1], strides: [1], offset: 0 } as any));
const layers = W.map((w, i) => ({ w, bias: B[i]!, relu: i < 2 }));
const cases: [string, () => void][] = [
  ['plan.run', () => { plan.run(x); }],
  ['model.call', () => { noGrad(() => net.call(x)); }],
  ['3x backend.linear chain', () => { let y = x.view_(); for (let i = 0; i < 3; i++) { const d = be.linear!(y, W[i]!, B[i]!, i < 2); y = { data: d, shape: [1, W[i]!.shape[0]!], strides: [W[i]!.shape[0]!, 1], offset: 0 } as any; } }],
  ['3x addon.linear prealloc', () => { addon.linear(x.data, W[0]!.data, B[0]!.data, metas[0]!, true, outs[0]!); addon.linear(outs[0]!, W[1]!.data, B[1]!.data, metas[1]!, true, outs[1]!); addon.linear(outs[1]!, W[2]!.data, B[2]!.data, metas[2]!, false, outs[2]!); }],
  ['backend.linearChain', () => { be.linearChain!(x.view_(), layers); }],
  ['noGrad(empty)', () => { noGrad(() => 0); }],
  ['L1 addon prealloc', () => { addon.linear(x.data, W[0]!.data, B[0]!.data, metas[0]!, true, outs[0]!); }],
  ['L2 addon prealloc', () => { addon.linear(outs[0]!, W[1]!.data, B[1]!.data, metas[1]!, true, outs[1]!); }],
  ['L3 addon prealloc', () => { addon.linear(outs[1]!, W[2]!.data, B[2]!.data, metas[2]!, false, outs[2]!); }],
  ['1x1 addon.linear', () => { addon.linear(tiny.x, tiny.w, tiny.b, tinyMeta, false, tiny.o); }],
  ['alloc Float32Array(300)', () => { new Float32Array(300); }],
];
const med = (a: number[]) => a.sort((p, q) => p - q)[a.length >> 1]!;
const res: Record<string, number[]> = {};
const reps = Number(process.argv[3] ?? 2000), rounds = Number(process.argv[4] ?? 15);
for (const [, f] of cases) for (let i = 0; i < 200; i++) f();
for (let r = 0; r < rounds; r++) for (const [n, f] of cases) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let i = 0; i < reps; i++) f();
  const c = process.cpuUsage(c0); const w = performance.now() - t0;
  (res[n] ??= []).push((c.user + c.system) / reps); (res[n + ' wall'] ??= []).push(w * 1000 / reps);
}
for (const [n] of cases) console.log(n.padEnd(28), 'cpu us', med(res[n]!).toFixed(2), ' wall us', med(res[n + ' wall']!).toFixed(2));
