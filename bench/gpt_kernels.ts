// Time of the GPT L4 bench's kernels one at a time (issue 17), at its shapes (B 16, T 128, d_model
// 256, 4 heads, MLP 1024, vocabulary 256: 2048 rows), float32, through the native backend:
//   attention    forward + backward, q, k, v (16, 4, 128, 64), causal, no dropout
//   layernorm    forward + backward of (2048, 256) with weight and bias
//   gelu         forward + backward of (2048, 1024), erf form
//   linear       forward of the block's four products with bias: 256->768, 256->256, 256->1024, 1024->256
//   linearback   linearBackward (dx, dW, db) of the same four products
//   lmhead       linearCrossEntropy of (2048, 256) against the (256, 256) head, dx and dW
//   add          one residual add (2048, 256) + (2048, 256)
//   adam         one AdamW step over the model's 52 parameter tensors (3.26 M values)
//   all          each of the above
// For each thread count asked for, the CPU time (process.cpuUsage) and the wall time per call
// (medians of the rounds); with two thread counts, the speedup of the second over the first
// (wall time); one JSON line. With --ab A,B it compares two addons (before and after a change to
// native/src, via TENSORSLIM_NATIVE_PATH) in fresh processes, alternating, and records the medians
// and ratios as benchmark 'gpt-kernels' (bench/results/).
//   usage: npx tsx bench/gpt_kernels.ts <kernel>|all [calls per round=40] [rounds=7] [threads=1, e.g. 1,2]
//          npx tsx bench/gpt_kernels.ts all 10 5 1,2 --ab /tmp/main.node,native/build/Release/tensorslim.node 3
import os from 'node:os';
import '../src/backends/native/index.js';
import { getBackend } from '../src/backend/registry.js';
import { machineInfo, median } from '../src/bench/machine.js';
import { machineInfo as benchMachine, runOursNative, writeResult, type Json } from './common.js';
import type { AdamHyper, View } from '../src/backend/backend.js';
import { Generator } from '../src/core/random.js';
import * as ops from '../src/ops/index.js';

const KERNELS = ['attention', 'layernorm', 'gelu', 'linear', 'linearback', 'lmhead', 'add', 'adam'] as const;
type Kernel = typeof KERNELS[number];

const abAt = process.argv.indexOf('--ab');
const pos = process.argv.slice(2, abAt >= 0 ? abAt : undefined);
const which = pos[0];
const calls = Number(pos[1] ?? 40), rounds = Number(pos[2] ?? 7);
const threadCounts = (pos[3] ?? '1').split(',').map(Number);
if (threadCounts.some((t) => !Number.isInteger(t) || t < 1)) throw new Error(`bench/gpt_kernels: threads must be a list of positive integers like 1,2, got '${pos[3]}'`);
const be = getBackend();
const gen = new Generator(3);
const contiguous = (shape: number[]): number[] => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
const dense = (shape: number[]): View => ({ data: ops.randn(shape, { generator: gen }).data, shape, strides: contiguous(shape), offset: 0 } as View);
const need = <T>(f: T | undefined, what: string): T => {
  if (f === undefined) throw new Error(`bench/gpt_kernels: the active backend has no ${what} (build the native addon)`);
  return f;
};
const ROWS = 2048, C = 256;
const SHAPES: [number, number][] = [[256, 768], [256, 256], [256, 1024], [1024, 256]];  // (in, out) of the block's linears

function attention(): () => void {
  const fwd = need(be.attentionForward, 'fused attention'), bwd = need(be.attentionBackward, 'fused attention');
  const shape = [16, 4, 128, 64];
  const q = dense(shape), k = dense(shape), v = dense(shape), dOut = dense(shape);
  const p = { scale: 1 / 8, causal: true, dropout: 0, seed: 0 };
  return () => {
    const f = fwd(q, k, v, p);
    bwd(q, k, v, { ...q, data: f.out }, dOut, { data: f.lse, shape: [16, 4, 128], strides: [512, 128, 1], offset: 0 } as View, p);
  };
}

function layerNorm(): () => void {
  const fwd = need(be.layerNormForward, 'fused LayerNorm'), bwd = need(be.layerNormBackward, 'fused LayerNorm');
  const x = dense([ROWS, C]), dy = dense([ROWS, C]), w = dense([C]), b = dense([C]);
  const row = (data: View['data']): View => ({ data, shape: [ROWS], strides: [1], offset: 0 } as View);
  return () => {
    const f = fwd(x, w, b, 1e-5);
    bwd(dy, x, w, row(f.mean), row(f.rstd), [true, true, true]);
  };
}

function gelu(): () => void {
  const fwd = need(be.geluForward, 'fused GELU'), bwd = need(be.geluBackward, 'fused GELU');
  const x = dense([ROWS, 4 * C]), dy = dense([ROWS, 4 * C]);
  return () => { fwd(x, 'none'); bwd(dy, x, 'none'); };
}

function linear(): () => void {
  const f = need(be.linear, 'fused linear');
  const sets = SHAPES.map(([k, n]) => ({ x: dense([ROWS, k]), w: dense([n, k]), b: dense([n]) }));
  return () => { for (const s of sets) f(s.x, s.w, s.b, false); };
}

function linearBack(): () => void {
  const f = need(be.linearBackward, 'fused linear backward');
  const sets = SHAPES.map(([k, n]) => ({ x: dense([ROWS, k]), w: dense([n, k]), dy: dense([ROWS, n]) }));
  return () => { for (const s of sets) f(s.dy, null, s.x, s.w, [true, true, true]); };
}

function lmHead(): () => void {
  const f = need(be.linearCrossEntropy, 'fused linear cross-entropy');
  // logits of unit scale, as a trained model's (raw N(0, 1) x and W give logits of standard deviation
  // 16, whose softmax gradients are float32 subnormals that slow the GEMM several times over)
  const x = dense([ROWS, C]), w = dense([256, C]);
  for (let i = 0; i < w.data.length; i++) w.data[i] = (w.data[i] as number) / 16;
  const t = Int32Array.from({ length: ROWS }, (_, i) => (i * 37) % 256);
  const target: View = { data: t, shape: [ROWS], strides: [1], offset: 0 };
  return () => { f(x, w, target, [true, true], 1 << 20); };
}

function add(): () => void {
  const a = dense([ROWS, C]), b = dense([ROWS, C]);
  return () => { be.binary('add', a, b, 'float32'); };
}

function adam(): () => void {
  const f = need(be.adamUpdate, 'fused Adam step');
  const perLayer = [768 * C, 768, C * C, C, 4 * C * C, 4 * C, 4 * C * C, C, C, C, C, C];
  const sizes = [256 * C, 128 * C, ...perLayer, ...perLayer, ...perLayer, ...perLayer, C, C];
  const ts = sizes.map((n) => ({ p: dense([n]).data, g: dense([n]).data, m: new Float32Array(n), v: new Float32Array(n) }));
  let step = 0;
  return () => {
    step++;
    const h: AdamHyper = { lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, amsgrad: false, maximize: false, decoupled: true, step };
    for (const t of ts) f(t.p, t.g, t.m, t.v, null, h);
  };
}

const MAKE: Record<Kernel, () => () => void> = { attention, layernorm: layerNorm, gelu, linear, linearback: linearBack, lmhead: lmHead, add, adam };

function measure(once: () => void): { cpuMs: number; wallMs: number } {
  for (let i = 0; i < 5; i++) once();
  const cpu: number[] = [], wall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    for (let i = 0; i < calls; i++) once();
    const t = performance.now() - t0, c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e3 / calls);
    wall.push(t / calls);
  }
  return { cpuMs: median(cpu), wallMs: median(wall) };
}

/** One process: every kernel asked for, at every thread count; one JSON line. */
function runHere(): Json {
  const kernels: Record<string, { threads: Record<string, { cpuMs: number; wallMs: number }>; speedup?: number }> = {};
  for (const k of which === 'all' ? KERNELS : [which as Kernel]) {
    const once = MAKE[k]();
    const byThreads: Record<string, { cpuMs: number; wallMs: number }> = {};
    for (const t of threadCounts) {
      be.setThreads?.(t);
      byThreads[String(t)] = measure(once);
    }
    const first = byThreads[String(threadCounts[0])]!, last = byThreads[String(threadCounts[threadCounts.length - 1])]!;
    kernels[k] = { threads: byThreads, ...(threadCounts.length > 1 ? { speedup: Number((first.wallMs / last.wallMs).toFixed(3)) } : {}) };
  }
  return { bench: 'gpt-kernels', addon: process.env['TENSORSLIM_NATIVE_PATH'] ?? 'native/build', kernels, loadavg: os.loadavg()[0], machine: machineInfo() };
}

/**
 * --ab A,B [alternations=3]: this benchmark in fresh processes on addon A, then B (TENSORSLIM_NATIVE_PATH),
 * alternating; medians per kernel and thread count, the ratio B / A of CPU and wall time, written
 * as benchmark 'gpt-kernels' (bench/results/gpt-kernels.json and history/).
 */
function runAb(addons: string[], alternations: number): void {
  if (addons.length !== 2) throw new Error(`bench/gpt_kernels: --ab needs two addon paths A,B, got '${addons.join(',')}'`);
  const args = ['--import', 'tsx', 'bench/gpt_kernels.ts', String(which), String(calls), String(rounds), threadCounts.join(',')];
  const raw: Record<string, number[]> = { loadavg: [] };
  const push = (k: string, v: number): void => { (raw[k] ??= []).push(v); };
  let machine: Json = {};
  for (let i = 0; i < alternations; i++) {
    for (const [side, addon] of [['A', addons[0]!], ['B', addons[1]!]] as const) {
      process.stderr.write(`alternation ${i + 1}/${alternations}: ${side} ${addon}\n`);
      const r = runOursNative<{ kernels: Record<string, { threads: Record<string, { cpuMs: number; wallMs: number }> }>; loadavg: number }>(args, { ...process.env, TENSORSLIM_NATIVE_PATH: addon });
      machine = r.machine;
      push('loadavg', r.loadavg);
      for (const [k, v] of Object.entries(r.kernels)) for (const [t, m] of Object.entries(v.threads)) {
        push(`${k}.t${t}.${side}.cpuMs`, m.cpuMs);
        push(`${k}.t${t}.${side}.wallMs`, m.wallMs);
      }
    }
  }
  const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
  const ratios: Record<string, number> = {};
  for (const k of Object.keys(med)) {
    if (!k.includes('.A.')) continue;
    const b = med[k.replace('.A.', '.B.')];
    if (b !== undefined) ratios[k.replace('.A.', '.BoverA.')] = Number((b / med[k]!).toFixed(3));
  }
  const result = {
    bench: 'gpt-kernels', date: new Date().toISOString(), machine: benchMachine(machine),
    workload: `GPT L4 bench kernels at its shapes (${which}), float32, ${calls} calls x ${rounds} rounds per process, threads ${threadCounts.join(',')}`,
    addons: { A: addons[0], B: addons[1] }, alternations, medians: med, ratios,
    units: { cpuMs: 'process CPU ms per call (all threads)', wallMs: 'wall ms per call', loadavg: '1-minute load average at the end of each process' },
    raw,
  };
  const files = writeResult('gpt-kernels', result);
  process.stdout.write(`${JSON.stringify({ ...files, ratios })}\n`);
}

if (which !== 'all' && !(KERNELS as readonly string[]).includes(which ?? '')) {
  throw new Error(`bench/gpt_kernels: first argument must be one of ${KERNELS.join(', ')} or all, got '${String(which)}'`);
}
if (abAt >= 0) runAb((process.argv[abAt + 1] ?? '').split(','), Number(process.argv[abAt + 2] ?? 3));
else process.stdout.write(`${JSON.stringify(runHere())}\n`);
