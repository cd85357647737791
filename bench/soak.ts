// Memory soak of issue 3: runs many training steps (each in a step scope, as the Trainer runs them:
// autograd/tidy.ts) of the `tensorslim bench mlp` workload (MLP
// 784-1200-1200-10, ReLU, cross-entropy, Adam, batch 128, float32) and samples the process's
// memory every `every` steps: resident set size, V8 heap used, external and ArrayBuffer memory.
// With --expose-gc each sample follows a full garbage collection, so it measures what is retained,
// not when the collector last ran. It prints a table as it goes, judges flatness (see judge()) and
// records benchmark 'soak' (bench/README.md; rewritten atomically at every sample, so an interrupted
// soak still leaves its samples, marked "complete": false).
//   usage: node --expose-gc --import tsx bench/soak.ts [steps=20000] [every=500] [modules|fused] [threads=2]
//          (npm run soak)
//          node --import tsx bench/soak.ts --rejudge bench/results/history/soak-<date>.json
//          (recompute the verdict of a saved soak with the current criteria; rewrites the record)
import '../src/backends/native/index.js';
import '../src/index.js';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { relative } from 'node:path';
import { machineInfo, median, mlpTrainer } from '../src/bench/index.js';
import { historyFile, root, writeResult } from './common.js';

const steps = Number(process.argv[2] ?? 20000);
const every = Number(process.argv[3] ?? 500);
const variant = process.argv[4] === 'fused' ? 'fused' : 'modules';
const threads = Number(process.argv[5] ?? 2);
const LIMIT_MIB = 8; // "flat": RSS grows less than this over the last 75% of the steps
const PLATEAU_MIB = 2; // "plateau": more than that, but less than this over the last 50%
const MiB = 2 ** 20;
const gc = (globalThis as { gc?: () => void }).gc;

interface Sample { step: number; rssMiB: number; heapUsedMiB: number; externalMiB: number; arrayBuffersMiB: number; stepMs: number; loss: number; loadavg1: number }

function sample(step: number, stepMs: number, loss: number): Sample {
  gc?.();
  const m = process.memoryUsage();
  return { step, rssMiB: m.rss / MiB, heapUsedMiB: m.heapUsed / MiB, externalMiB: m.external / MiB, arrayBuffersMiB: m.arrayBuffers / MiB, stepMs, loss, loadavg1: os.loadavg()[0]! };
}

// least-squares slope of y over x
function slope(xs: number[], ys: number[]): number {
  const n = xs.length, mx = xs.reduce((a, b) => a + b, 0) / n, my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0, den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i]! - mx) * (ys[i]! - my); den += (xs[i]! - mx) ** 2; }
  return den === 0 ? 0 : num / den;
}

/**
 * The verdict on samples up to step `done`. A leak grows without bound, roughly linearly; the
 * allocator's high-water mark grows in steps (a moment with more buffers alive than before, whose
 * memory glibc then keeps: TENSORSLIM_MALLOC_TUNE sets a 256 MiB trim threshold) and then stays.
 *  - 'flat': RSS grew less than LIMIT_MIB over the last 75% of the steps (and the least-squares
 *    slope over that window projects less than LIMIT_MIB);
 *  - 'plateau': it grew more, but less than PLATEAU_MIB over the last 50% (a step, then flat);
 *  - 'growing': otherwise: look for a leak.
 */
function judge(samples: Sample[], done: number) {
  const window = (frac: number) => {
    const tail = samples.filter((q) => q.step >= done * (1 - frac));
    const first = tail[0]!, last = tail[tail.length - 1]!;
    const growth = (k: keyof Sample): number => (last[k] as number) - (first[k] as number);
    const per1k = (k: keyof Sample): number => (tail.length < 2 ? 0 : slope(tail.map((q) => q.step), tail.map((q) => q[k] as number)) * 1000);
    return {
      fromStep: first.step, toStep: last.step,
      rssGrowthMiB: growth('rssMiB'), rssSlopeMiBPer1kSteps: per1k('rssMiB'),
      heapUsedGrowthMiB: growth('heapUsedMiB'), heapUsedSlopeMiBPer1kSteps: per1k('heapUsedMiB'),
      arrayBuffersGrowthMiB: growth('arrayBuffersMiB'),
    };
  };
  const last75 = window(0.75), last50 = window(0.5);
  let jump = { step: 0, rssMiB: 0 };
  for (let i = 1; i < samples.length; i++) {
    const d = samples[i]!.rssMiB - samples[i - 1]!.rssMiB;
    if (samples[i - 1]!.step >= done * 0.25 && d > jump.rssMiB) jump = { step: samples[i]!.step, rssMiB: d };
  }
  const flat = Math.abs(last75.rssGrowthMiB) < LIMIT_MIB && Math.abs(last75.rssSlopeMiBPer1kSteps) * (last75.toStep - last75.fromStep) / 1000 < LIMIT_MIB;
  const plateau = !flat && Math.abs(last50.rssGrowthMiB) < PLATEAU_MIB;
  return {
    verdict: flat ? 'flat' : plateau ? 'plateau' : 'growing',
    last75, last50,
    largestRssJumpInLast75: jump,
    // after a full GC, what JavaScript holds: the model, its gradients and Adam's state
    arrayBuffersMiBMinMax: [Math.min(...samples.slice(1).map((q) => q.arrayBuffersMiB)), Math.max(...samples.slice(1).map((q) => q.arrayBuffersMiB))],
    peakRssMiB: Math.max(...samples.map((q) => q.rssMiB)),
    limitMiB: LIMIT_MIB, plateauMiB: PLATEAU_MIB,
  };
}

type Verdict = ReturnType<typeof judge>;
const say = (v: Verdict): string => `RSS over steps ${v.last75.fromStep}..${v.last75.toStep}: ${v.last75.rssGrowthMiB >= 0 ? '+' : ''}${v.last75.rssGrowthMiB.toFixed(2)} MiB ` +
  `(slope ${v.last75.rssSlopeMiBPer1kSteps.toFixed(3)} MiB / 1000 steps); over ${v.last50.fromStep}..${v.last50.toStep}: ${v.last50.rssGrowthMiB >= 0 ? '+' : ''}${v.last50.rssGrowthMiB.toFixed(2)} MiB; ` +
  `largest jump +${v.largestRssJumpInLast75.rssMiB.toFixed(1)} MiB at step ${v.largestRssJumpInLast75.step}; heap used ${v.last75.heapUsedGrowthMiB >= 0 ? '+' : ''}${v.last75.heapUsedGrowthMiB.toFixed(2)} MiB; ` +
  `peak RSS ${v.peakRssMiB.toFixed(0)} MiB -> ${v.verdict.toUpperCase()}\n`;

if (process.argv[2] === '--rejudge') {
  const path = process.argv[3]!;
  const saved = JSON.parse(readFileSync(path, 'utf8')) as { date: string; samples: Sample[]; stepsDone?: number; steps: number; verdict: unknown };
  const v = judge(saved.samples, saved.stepsDone ?? saved.steps);
  // the same date names the same history file; the current file changes only if this is its record
  writeResult('soak', { ...saved, verdict: v });
  process.stdout.write(say(v));
  process.exit(0);
}

const t = mlpTrainer({ threads, variant, stepScope: true });   // steps in step scopes, as the Trainer runs them
const started = Date.now();
const samples: Sample[] = [sample(0, NaN, NaN)];
const row = (s: Sample): string => [String(s.step).padStart(6), s.rssMiB.toFixed(1).padStart(8), s.heapUsedMiB.toFixed(1).padStart(9),
  s.externalMiB.toFixed(1).padStart(9), s.arrayBuffersMiB.toFixed(1).padStart(9), (Number.isNaN(s.stepMs) ? '-' : s.stepMs.toFixed(1)).padStart(8),
  (Number.isNaN(s.loss) ? '-' : s.loss.toPrecision(3)).padStart(9), s.loadavg1.toFixed(1).padStart(6)].join(' ');
process.stdout.write(`soak: MLP ${t.sizes.join('-')} batch ${t.batch} (${variant}), Adam, ${steps} steps, sample every ${every}${gc ? ' after a full GC' : ' (run with --expose-gc for GC-settled samples)'}\n`);
process.stdout.write('  step  rss MiB heap MiB  ext MiB   ab MiB  step ms      loss  load1\n');
process.stdout.write(`${row(samples[0]!)}\n`);
const runDate = new Date().toISOString();

// Flatness over the last 75% of the steps done so far; the record is rewritten (atomically) at
// every sample, so an interrupted soak still leaves its samples ("complete": false).
function report(done: number): Verdict {
  const verdict = judge(samples, done);
  const result = {
    date: runDate,
    complete: done === steps,
    workload: `MLP ${t.sizes.join('-')}, ReLU, cross-entropy, Adam (lr 1e-3), batch ${t.batch}, float32, ${variant} variant (as tensorslim bench mlp)`,
    steps, stepsDone: done, every, gcBeforeSample: gc !== undefined, wallSeconds: (Date.now() - started) / 1000,
    machine: { ...machineInfo(), totalMemBytes: os.totalmem(), loadavgAtEnd: os.loadavg() },
    verdict,
    units: { memory: 'MiB (2^20 bytes), process.memoryUsage()', stepMs: 'median ms per step over the sampling window' },
    samples,
  };
  writeResult('soak', result);
  return verdict;
}

let window: number[] = [];
let loss = NaN;
for (let i = 1; i <= steps; i++) {
  const t0 = process.hrtime.bigint();
  loss = t.step();
  window.push(Number(process.hrtime.bigint() - t0) / 1e6);
  if (i % every === 0 || i === steps) {
    const s = sample(i, median(window), loss);
    window = [];
    samples.push(s);
    process.stdout.write(`${row(s)}\n`);
    report(i);
  }
}

const verdict = report(steps);
process.stdout.write(say(verdict));
process.stdout.write(`${JSON.stringify({ file: relative(root, historyFile('soak', runDate)), verdict })}\n`);
