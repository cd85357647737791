// Worker: the ring reduceScatter against allReduce + slice of the same input, for equal and uneven
// counts (a zero count included), every reduction and dtype; prints the largest differences.
import { fromBuffer } from '../../../src/core/tensor.js';
import { allReduce, destroyProcessGroup, getRank, getWorldSize, initProcessGroup, reduceScatter } from '../../../src/distributed/index.js';
import type { ReduceOp } from '../../../src/distributed/index.js';

await initProcessGroup({ backend: 'gloo' });
const r = getRank();
const w = getWorldSize();
// A small deterministic generator per (rank, case), so every rank's input differs.
function values(n: number, seed: number, integers: boolean): number[] {
  let s = (seed * 2654435761) >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u = s / 2 ** 32 - 0.5;
    return integers ? Math.round(u * 200) : u * 3;
  });
}
type Case = { name: string; dtype: 'float32' | 'float64' | 'int32'; op: ReduceOp; counts: number[] | null; shape: number[]; integers: boolean };
const even = 3 * w;
const cases: Case[] = [
  { name: 'f32-sum-rows', dtype: 'float32', op: 'sum', counts: null, shape: [2 * w, 3], integers: false },
  { name: 'f32-sum-int-valued', dtype: 'float32', op: 'sum', counts: null, shape: [even], integers: true },
  { name: 'f64-avg-uneven', dtype: 'float64', op: 'avg', counts: Array.from({ length: w }, (_, k) => 2 * k + 1), shape: [w * w], integers: false },
  { name: 'f32-max-uneven-zero', dtype: 'float32', op: 'max', counts: Array.from({ length: w }, (_, k) => (k === 1 ? 0 : 4 + k)), shape: [0], integers: false },
  { name: 'i32-min-uneven', dtype: 'int32', op: 'min', counts: Array.from({ length: w }, (_, k) => 5 - k), shape: [0], integers: true },
  { name: 'f32-sum-large-uneven', dtype: 'float32', op: 'sum', counts: Array.from({ length: w }, (_, k) => 40_000 + 777 * k), shape: [0], integers: false },
];
const out: Record<string, { shape: number[]; maxAbsDiff: number; exactMismatches: number; n: number }> = {};
for (const [ci, c] of cases.entries()) {
  const shape = c.counts === null ? c.shape : [c.counts.reduce((a, b) => a + b, 0)];
  const size = shape.reduce((a, b) => a * b, 1);
  const vals = values(size, 1000 * ci + r + 1, c.integers);
  const Arr = c.dtype === 'float32' ? Float32Array : c.dtype === 'float64' ? Float64Array : Int32Array;
  const input = fromBuffer(Arr.from(vals), c.dtype, shape);
  const mine = await reduceScatter(input, c.op, c.counts ?? undefined);
  const full = await allReduce(fromBuffer(Arr.from(vals), c.dtype, shape), c.op);
  const counts = c.counts ?? Array.from({ length: w }, () => size / w);
  const start = counts.slice(0, r).reduce((a, b) => a + b, 0);
  const want = full.data.subarray(start, start + counts[r]!);
  let maxAbsDiff = 0;
  let exactMismatches = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(Number(mine.data[i]) - Number(want[i]));
    maxAbsDiff = Math.max(maxAbsDiff, d);
    if (d !== 0) exactMismatches++;
  }
  if (mine.size !== want.length) exactMismatches = -1;
  out[c.name] = { shape: mine.shape as number[], maxAbsDiff, exactMismatches, n: mine.size };
}
await destroyProcessGroup();
console.log(JSON.stringify({ rank: r, world: w, cases: out }));
