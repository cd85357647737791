// CPU time of one fused attention forward + backward at the GPT L4 bench's shape (issue 17): q, k, v
// (16, 4, 128, 64) float32, causal, no dropout, one thread, through the native backend's kernels.
// Run it with TENSORSLIM_NATIVE_PATH pointing at two addons (say, before and after a change to
// native/src/attention.cc), alternating, to compare them in one session; prints one JSON line.
//   usage: npx tsx bench/attention_causal.ts [pairs per round=40] [rounds=7] [T=128]
import '../src/backends/native/index.js';
import { getBackend } from '../src/backend/registry.js';
import { machineInfo, median } from '../src/bench/machine.js';
import type { View } from '../src/backend/backend.js';
import { Generator } from '../src/core/random.js';
import * as ops from '../src/ops/index.js';

const pairs = Number(process.argv[2] ?? 40), rounds = Number(process.argv[3] ?? 7), T = Number(process.argv[4] ?? 128);
const be = getBackend();
if (be.attentionForward === undefined || be.attentionBackward === undefined) throw new Error('bench/attention_causal: the active backend has no fused attention (build the native addon)');
be.setThreads?.(1);
const gen = new Generator(3);
const shape = [16, 4, T, 64];
const view = (): View => {
  const t = ops.randn(shape, { generator: gen });
  return { data: t.data, shape, strides: [4 * T * 64, T * 64, 64, 1], offset: 0 } as View;
};
const q = view(), k = view(), v = view(), dOut = view();
const p = { scale: 1 / 8, causal: true, dropout: 0, seed: 0 };
const once = (): void => {
  const f = be.attentionForward!(q, k, v, p);
  const out: View = { data: f.out, shape, strides: q.strides, offset: 0 } as View;
  const lse: View = { data: f.lse, shape: [16, 4, T], strides: [4 * T, T, 1], offset: 0 } as View;
  be.attentionBackward!(q, k, v, out, dOut, lse, p);
};
for (let i = 0; i < 5; i++) once();
const cpuMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < pairs; i++) once();
  const c = process.cpuUsage(c0);
  cpuMs.push((c.user + c.system) / 1e3 / pairs);
}
process.stdout.write(`${JSON.stringify({ bench: 'attention-causal', shape, causal: true, threads: 1, addon: process.env['TENSORSLIM_NATIVE_PATH'] ?? 'native/build', cpuMsPerPair: median(cpuMs), rounds: cpuMs, machine: machineInfo() })}\n`);
