// CPU time of the GPT L4 bench's fused kernels one at a time (issue 17), at its shapes, float32, one
// thread, through the native backend: `attention` (forward + backward, q, k, v (16, 4, 128, 64),
// causal, no dropout) and `layernorm` (forward + backward of (2048, 256) with weight and bias).
// Run it with TENSORSLIM_NATIVE_PATH pointing at two addons (before and after a change to
// native/src), alternating, to compare them in one session; prints one JSON line.
//   usage: npx tsx bench/gpt_kernels.ts attention|layernorm [calls per round=40] [rounds=7]
import '../src/backends/native/index.js';
import { getBackend } from '../src/backend/registry.js';
import { machineInfo, median } from '../src/bench/machine.js';
import type { View } from '../src/backend/backend.js';
import { Generator } from '../src/core/random.js';
import * as ops from '../src/ops/index.js';

const which = process.argv[2];
const calls = Number(process.argv[3] ?? 40), rounds = Number(process.argv[4] ?? 7);
const be = getBackend();
be.setThreads?.(1);
const gen = new Generator(3);
const dense = (shape: number[]): View => {
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return { data: ops.randn(shape, { generator: gen }).data, shape, strides, offset: 0 } as View;
};

function attention(): () => void {
  const fwd = be.attentionForward, bwd = be.attentionBackward;
  if (fwd === undefined || bwd === undefined) throw new Error('bench/gpt_kernels: the active backend has no fused attention (build the native addon)');
  const shape = [16, 4, 128, 64];
  const q = dense(shape), k = dense(shape), v = dense(shape), dOut = dense(shape);
  const p = { scale: 1 / 8, causal: true, dropout: 0, seed: 0 };
  return () => {
    const f = fwd(q, k, v, p);
    bwd(q, k, v, { ...q, data: f.out }, dOut, { data: f.lse, shape: [16, 4, 128], strides: [512, 128, 1], offset: 0 } as View, p);
  };
}

function layerNorm(): () => void {
  const fwd = be.layerNormForward, bwd = be.layerNormBackward;
  if (fwd === undefined || bwd === undefined) throw new Error('bench/gpt_kernels: the active backend has no fused LayerNorm (build the native addon)');
  const x = dense([2048, 256]), dy = dense([2048, 256]), w = dense([256]), b = dense([256]);
  return () => {
    const f = fwd(x, w, b, 1e-5);
    const row = (data: View['data']): View => ({ data, shape: [2048], strides: [1], offset: 0 } as View);
    bwd(dy, x, w, row(f.mean), row(f.rstd), [true, true, true]);
  };
}

if (which !== 'attention' && which !== 'layernorm') throw new Error(`bench/gpt_kernels: first argument must be attention or layernorm, got '${String(which)}'`);
const once = which === 'attention' ? attention() : layerNorm();
for (let i = 0; i < 5; i++) once();
const cpuMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) once();
  const c = process.cpuUsage(c0);
  cpuMs.push((c.user + c.system) / 1e3 / calls);
}
process.stdout.write(`${JSON.stringify({ bench: `gpt-kernels-${which}`, threads: 1, addon: process.env['TENSORSLIM_NATIVE_PATH'] ?? 'native/build', cpuMsPerCall: median(cpuMs), rounds: cpuMs, machine: machineInfo() })}\n`);
