// Profile one training step per kernel: wraps every method of the active backend with a timer that,
// while enabled, accumulates calls and milliseconds per kernel, op and operand shapes and dtypes,
// then reports them per step; the rest of the step is JS (ops, tape, optimizer). Wall-clock
// timings: on a shared machine compare shares, not milliseconds. PROFILE_KERNELS=0 times the step
// without the wrappers' bookkeeping. PROFILE_CLOCK=cpu times each kernel in process CPU time (all
// threads) instead: robust to other processes' load, best read with 1 thread.
//   usage: npx tsx bench/profile.ts gpt [threads=2] [steps=20]      (src/bench/gpt.ts, issue 7's GPT)
//          npx tsx bench/profile.ts mlp [modules|fused] [threads=2] [steps=20]   (src/bench/mlp.ts)
//          npx tsx bench/profile.ts cnn [threads=2] [steps=20]      (src/bench/cnn.ts, lenet5; training steps only)
import '../src/backends/native/index.js';
import '../src/index.js';
import { getBackend } from '../src/backend/registry.js';
import { benchCnn, benchGpt, benchMlp } from '../src/bench/index.js';

/** Calls and total milliseconds of one kernel signature. */
interface KernelStat { calls: number; ms: number }

/** A description of one argument for the profile key: a view's shape or its element type. */
function describe(args: unknown[]): { shapes: string; dtypes: string } {
  const views = args.filter((a): a is { shape?: number[]; data?: { constructor: { name: string } } } => typeof a === 'object' && a !== null);
  return {
    shapes: views.filter((v) => Array.isArray(v.shape)).map((v) => `(${v.shape!.join('x')})`).join(','),
    dtypes: views.filter((v) => v.data !== undefined).map((v) => v.data!.constructor.name.replace('Array', '')).join(','),
  };
}

const cpuClock = process.env['PROFILE_CLOCK'] === 'cpu';

/** Wraps the backend's methods once; `setEnabled` switches timing on and off; `stats` holds the totals. */
function profileBackend(): { stats: Map<string, KernelStat>; setEnabled(on: boolean): void } {
  // the backend is a plain object of kernels; replacing its methods in place is the point here
  const be = getBackend() as unknown as Record<string, unknown>;
  const stats = new Map<string, KernelStat>();
  let on = false;
  for (const k of Object.keys(be)) {
    const f = be[k];
    if (typeof f !== 'function' || k === 'setThreads') continue;
    const call = f as (...a: unknown[]) => unknown;
    be[k] = (...args: unknown[]) => {
      if (!on) return call(...args);
      const t0 = cpuClock ? 0n : process.hrtime.bigint(), c0 = cpuClock ? process.cpuUsage() : null;
      const r = call(...args);
      const c = c0 ? process.cpuUsage(c0) : null;
      const dt = c ? (c.user + c.system) / 1e3 : Number(process.hrtime.bigint() - t0) / 1e6;
      const { shapes, dtypes } = describe(args);
      const key = `${k}${typeof args[0] === 'string' ? `:${args[0]}` : ''} ${shapes} [${dtypes}]`;
      const s = stats.get(key) ?? { calls: 0, ms: 0 };
      s.calls++; s.ms += dt;
      stats.set(key, s);
      return r;
    };
  }
  return { stats, setEnabled(v: boolean) { on = v; } };
}

const [what, ...rest] = process.argv.slice(2);
if (what !== 'gpt' && what !== 'mlp' && what !== 'cnn') throw new Error(`bench/profile.ts: first argument must be gpt, mlp or cnn, got '${String(what)}'`);
const variant = what === 'mlp' && rest[0] === 'fused' ? 'fused' : 'modules';
const numbers = what === 'mlp' && (rest[0] === 'fused' || rest[0] === 'modules') ? rest.slice(1) : rest;
const threads = Number(numbers[0] ?? 2);
const steps = Number(numbers[1] ?? 20);
const step = (n: number, warmup: number): { stepMs: number; minMs: number } =>
  what === 'gpt' ? benchGpt({ threads, steps: n, warmup }) : what === 'cnn' ? benchCnn({ threads, steps: n, warmup, forward: false })
    : benchMlp({ threads, variant, steps: n, warmup });

const { stats, setEnabled } = profileBackend();
step(what === 'gpt' ? 3 : 5, what === 'gpt' ? 2 : 3); // warm-up, then profile
setEnabled(process.env['PROFILE_KERNELS'] !== '0');
const cpu0 = process.cpuUsage();
const r = step(steps, 0);
const cpu = process.cpuUsage(cpu0);
setEnabled(false);
const total = [...stats.values()].reduce((a, s) => a + s.ms, 0) / steps;
const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
console.log(`${what}${what === 'mlp' ? ` ${variant}` : ''} threads ${threads}: step median ${r.stepMs.toFixed(2)} ms (min ${r.minMs.toFixed(2)}), cpu user ${(cpu.user / 1e3 / steps).toFixed(2)} sys ${(cpu.system / 1e3 / steps).toFixed(2)} ms/step, kernels ${total.toFixed(2)} ms/step${cpuClock ? ' (CPU time)' : ''}, JS+other ${((cpuClock ? (cpu.user + cpu.system) / 1e3 / steps : r.stepMs) - total).toFixed(2)}`);
for (const [k, s] of rows) console.log(`${(s.ms / steps).toFixed(3).padStart(8)} ms  ${String(s.calls / steps).padStart(4)}x  ${k}`);
