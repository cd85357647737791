// Profile one MLP training step: wraps every method of the active backend with a timer and reports,
// per kernel (and per shape), calls and total ms per step; the rest of the step is JS (ops, tape,
// optimizer). Usage: node --import tsx bench/profile_mlp.ts [modules|fused] [threads] [steps]
import '../src/backends/native/index.js';
import '../src/index.js';
import { profileBackend } from './kernel_profiler.js';
import { benchMlp } from '../src/bench/mlp.js';

const variant = process.argv[2] === 'fused' ? 'fused' : 'modules';
const threads = Number(process.argv[3] ?? 2);
const steps = Number(process.argv[4] ?? 20);
const { stats, setEnabled } = profileBackend();
// warm-up, then profile
benchMlp({ threads, variant, steps: 5, warmup: 3 });
setEnabled(process.env['PROFILE_KERNELS'] !== '0');
const cpu0 = process.cpuUsage();
const r = benchMlp({ threads, variant, steps, warmup: 0 });
const cpu = process.cpuUsage(cpu0);
setEnabled(false);
const total = [...stats.values()].reduce((a, s) => a + s.ms, 0) / steps;
const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
console.log(`variant ${variant} threads ${threads}: step median ${r.stepMs.toFixed(2)} ms (min ${r.minMs.toFixed(2)}), cpu user ${(cpu.user / 1e3 / steps).toFixed(2)} sys ${(cpu.system / 1e3 / steps).toFixed(2)} ms/step, kernels ${total.toFixed(2)} ms/step, JS+other ${(r.stepMs - total).toFixed(2)}`);
for (const [k, s] of rows) console.log(`${(s.ms / steps).toFixed(3).padStart(8)} ms  ${String(s.calls / steps).padStart(4)}x  ${k}`);
