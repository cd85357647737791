// lenet5's convolution and pooling kernels at batch 128 (and two general pooling windows), each called alone: process CPU ms per call
// (user + system, all threads) and wall ms, median of `rounds` rounds of `reps` calls. With
// `--before OLD.node` it runs this addon and an older build (loaded through TENSORSLIM_NATIVE_PATH)
// alternately, each in a fresh process, and prints both sides and their ratio per kernel. Prints one
// JSON object as its last stdout line; records nothing (the step against PyTorch is bench/run_cnn.ts).
// Outputs are freshly allocated per call, so large outputs include their page faults here, which the
// training step's storage pool mostly avoids.
//   usage: npx tsx bench/cnn_kernels.ts [rounds=3] [reps=30] [--before OLD.node]   (TENSORSLIM_NUM_THREADS, TENSORSLIM_CPU)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Conv2dGeometry, View } from '../src/backend/backend.js';
import { getNativeBackend } from '../src/backends/native/index.js';
import { randn } from '../src/index.js';
import { median } from './common.js';

const args = process.argv.slice(2);
const beforeAt = args.indexOf('--before');
const before = beforeAt >= 0 ? args.splice(beforeAt, 2)[1] : undefined;
const rounds = Number(args[0] ?? 3), reps = Number(args[1] ?? 30);

/** One process: every kernel's CPU and wall ms per call, median over the rounds. */
function measure(): Record<string, { cpuMs: number; wallMs: number }> {
  const be = getNativeBackend();
  if (!be) throw new Error('cnn_kernels: the native addon did not load');
  const geo = (n: number, c: number, h: number, w: number, k: number, s: number, pad: number): Conv2dGeometry => {
    const oh = Math.floor((h + 2 * pad - k) / s) + 1, ow = Math.floor((w + 2 * pad - k) / s) + 1;
    return { n, c, h, w, kh: k, kw: k, strideH: s, strideW: s, padH: pad, padW: pad, dilationH: 1, dilationW: 1, oh, ow };
  };
  const v = (shape: number[]): View => randn(shape).view_();
  const x1 = v([128, 1, 28, 28]), w1 = v([6, 1, 5, 5]), b1 = v([6]), y1 = v([128, 6, 28, 28]), g1 = geo(128, 1, 28, 28, 5, 1, 2);
  const x2 = v([128, 6, 14, 14]), w2 = v([16, 6, 5, 5]), b2 = v([16]), y2 = v([128, 16, 10, 10]), g2 = geo(128, 6, 14, 14, 5, 1, 0);
  const p1 = geo(128, 6, 28, 28, 2, 2, 0), p2 = geo(128, 16, 10, 10, 2, 2, 0);
  const a1 = be.maxPool2dForward!(y1, p1).argmax, a2 = be.maxPool2dForward!(y2, p2).argmax;
  const d1 = v([128, 6, 14, 14]), d2 = v([128, 16, 5, 5]);
  // general windows (not lenet5's): 3x3 of stride 2 and of stride 1, padding 1, at batch 32
  const y3 = v([32, 16, 28, 28]), p3s2 = geo(32, 16, 28, 28, 3, 2, 1), p3s1 = geo(32, 16, 28, 28, 3, 1, 1);
  const kernels: [string, () => unknown][] = [
    ['conv1 forward (1->6, 28x28, pad 2)', () => be.conv2dForward!(x1, w1, b1, g1)],
    ['conv2 forward (6->16, 14x14)', () => be.conv2dForward!(x2, w2, b2, g2)],
    ['conv1 backward dW, db', () => be.conv2dBackward!(y1, x1, w1, g1, [false, true, true])],
    ['conv2 backward dx', () => be.conv2dBackward!(y2, x2, w2, g2, [true, false, false])],
    ['conv2 backward dW, db', () => be.conv2dBackward!(y2, x2, w2, g2, [false, true, true])],
    ['conv2 backward dx, dW, db', () => be.conv2dBackward!(y2, x2, w2, g2, [true, true, true])],
    ['pool1 forward (6x28x28)', () => be.maxPool2dForward!(y1, p1)],
    ['pool2 forward (16x10x10)', () => be.maxPool2dForward!(y2, p2)],
    ['pool 3x3 s2 p1 forward (32x16x28x28)', () => be.maxPool2dForward!(y3, p3s2)],
    ['pool 3x3 s1 p1 forward (32x16x28x28)', () => be.maxPool2dForward!(y3, p3s1)],
    ['pool1 backward', () => be.maxPool2dBackward!(d1, a1, p1)],
    ['pool2 backward', () => be.maxPool2dBackward!(d2, a2, p2)],
  ];
  const out: Record<string, { cpuMs: number; wallMs: number }> = {};
  for (const [name, f] of kernels) {
    for (let i = 0; i < 3; i++) f();
    const cpu: number[] = [], wall: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const c0 = process.cpuUsage(), t0 = performance.now();
      for (let i = 0; i < reps; i++) f();
      const c = process.cpuUsage(c0);
      wall.push((performance.now() - t0) / reps); cpu.push((c.user + c.system) / 1000 / reps);
    }
    out[name] = { cpuMs: median(cpu), wallMs: median(wall) };
  }
  return out;
}

if (before === undefined || process.env['CNN_KERNELS_CHILD'] === '1') {
  process.stdout.write(`${JSON.stringify({ bench: 'cnn-kernels', cpuPath: process.env['TENSORSLIM_CPU'] ?? 'best', kernels: measure() })}\n`);
} else {
  // alternate the two builds in fresh processes, the first side alternating by round
  const self = fileURLToPath(import.meta.url);
  const run = (addon: string | undefined): Record<string, { cpuMs: number; wallMs: number }> => {
    const env: NodeJS.ProcessEnv = { ...process.env, CNN_KERNELS_CHILD: '1' };
    if (addon) env['TENSORSLIM_NATIVE_PATH'] = addon; else delete env['TENSORSLIM_NATIVE_PATH'];
    const r = spawnSync(process.execPath, ['--import', 'tsx', self, '1', String(reps), '--before', '-'], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cnn_kernels: child failed: ${r.stderr}`);
    return (JSON.parse(r.stdout.trim().split('\n').pop()!) as { kernels: Record<string, { cpuMs: number; wallMs: number }> }).kernels;
  };
  const now: Record<string, number[]> = {}, old: Record<string, number[]> = {};
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? [undefined, before] : [before, undefined];
    for (const addon of order) {
      for (const [k, m] of Object.entries(run(addon))) ((addon ? old : now)[k] ??= []).push(m.cpuMs);
    }
  }
  const rows = Object.keys(now).map((k) => ({ kernel: k, cpuMs: median(now[k]!), beforeCpuMs: median(old[k]!), ratio: median(now[k]!) / median(old[k]!) }));
  for (const r of rows) process.stderr.write(`${r.kernel.padEnd(30)} ${r.cpuMs.toFixed(3)} ms CPU (before ${r.beforeCpuMs.toFixed(3)}): ${r.ratio.toFixed(2)}x\n`);
  process.stdout.write(`${JSON.stringify({ bench: 'cnn-kernels', cpuPath: process.env['TENSORSLIM_CPU'] ?? 'best', before, rounds, reps, rows })}\n`);
}
