// Benchmark: int8 dynamic quantized Linear against the float32 Linear it came from, at one size and
// batch (issue #20's target shape: 1024 x 1024 at batch 32). Times forward passes under noGrad
// (median of repeats after warm-up) on the active backend: the whole DynamicQuantizedLinear layer
// (per-batch activation range and quantization, int8 GEMM, float32 out), the int8 kernel alone on
// already-quantized activations, and the static QuantizedLinear int8 in / int8 out
// (forwardQuantized: the GEMM with the requantizing epilogue). Also LeNet-5 (the `lenet5` preset,
// random weights, statically quantized after calibration on random images) in float32 and int8
// (every conv and linear through the int8 kernels, int8 codes between them, float in and out), at the
// same batch; benchQuantLenet5 times LeNet-5 alone (`bench quant --model lenet5`), dynamically
// quantized (Linear and Conv2d) too. Checks
// once that the int8 output is close to the float one. Reports numbers; asserts nothing about speed.

import os from 'node:os';
import { getBackend } from '../backend/registry.js';
import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { Generator, defaultGenerator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { Linear } from '../nn/index.js';
import { createModel } from '../models/presets.js';
import { quant } from '../compress/index.js';
import { applyThreads, machineInfo, median, medianMs as timeIt, type MachineInfo } from './machine.js';

/** Settings of benchQuant (defaults: Linear(1024, 1024) at batch 32). */
export interface QuantBenchOptions {
  /** inFeatures = outFeatures (default 1024). */
  size?: number;
  batch?: number;
  threads?: number;
  /** Timed repeats per variant (default: as many as fit in about 400 ms, between 10 and 300). */
  repeats?: number;
  seed?: number;
}

/** What benchQuant returns (JSON-ready). */
export interface QuantBenchResult {
  bench: 'quant';
  size: number;
  batch: number;
  /** Median milliseconds of one forward pass of the DynamicQuantizedLinear layer. */
  int8Ms: number;
  /** Median milliseconds of one forward pass of the float32 Linear. */
  float32Ms: number;
  /** float32Ms / int8Ms. */
  speedup: number;
  /** Median milliseconds of the int8 GEMM alone (activations already quantized, float32 out). */
  int8KernelMs: number;
  /** Median milliseconds of the static QuantizedLinear int8 in / int8 out (forwardQuantized, requantizing epilogue). */
  int8StaticMs: number;
  /**
   * The same passes in CPU time of this process (process.cpuUsage, all threads), median ms, interleaved
   * with the wall-clock rounds: with 1 thread the figures a loaded machine disturbs least.
   */
  cpu: { int8Ms: number; float32Ms: number; int8KernelMs: number; speedup: number };
  /** LeNet-5 inference at the same batch: float32 and statically quantized int8 (float in and out), median ms. */
  lenet5: {
    batch: number; float32Ms: number; int8Ms: number; speedup: number; maxAbsDiff: number;
    /** Median CPU milliseconds of this process per pass (process.cpuUsage: all threads; with 1 thread the least load-sensitive figure). */
    float32CpuMs: number; int8CpuMs: number; cpuSpeedup: number;
  };
  /** The int8 code path ('vnni', 'avx512', 'avx2', 'generic'; 'typescript' on the reference backend). */
  cpuPath: string;
  /** The float32 kernels' SIMD path. */
  floatCpuPath: string;
  /** Largest |int8 - float32| output difference over the largest |float32| output (sanity, not a target). */
  relativeError: number;
  repeats: number;
  threads: number;
  loadAverage: number[];
  machine: MachineInfo;
}

/**
 * Median CPU milliseconds (user + system, every thread of the process) of fn over `repeats` calls.
 * @example cpuTimeIt(() => model.call(x), 50)   // 1.07
 */
export function cpuTimeIt(fn: () => unknown, repeats: number): number {
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const c = process.cpuUsage();
    fn();
    const d = process.cpuUsage(c);
    times.push((d.user + d.system) / 1000);
  }
  return median(times);
}

/** LeNet-5 timings of benchQuantLenet5: benchQuant's, plus the dynamically quantized model. */
export type QuantLenet5Timings = QuantBenchResult['lenet5'] & {
  /** The same model dynamically quantized (quantizeDynamic, Linear and Conv2d; activations quantized per batch, float between layers): median ms, CPU ms, and float32 over it. */
  dynamicMs: number; dynamicCpuMs: number; dynamicSpeedup: number; dynamicCpuSpeedup: number;
};

/**
 * LeNet-5 at `batch`, float32 vs statically quantized (calibrated on 4 random batches), and with
 * `withDynamic` dynamically quantized too, rounds alternating.
 */
function benchLenet5(gen: Generator, batch: number, rounds: number, repeats: number | undefined, withDynamic: true): QuantLenet5Timings;
function benchLenet5(gen: Generator, batch: number, rounds: number, repeats: number | undefined, withDynamic: false): QuantBenchResult['lenet5'];
function benchLenet5(gen: Generator, batch: number, rounds: number, repeats: number | undefined, withDynamic: boolean): QuantBenchResult['lenet5'] | QuantLenet5Timings {
  const state = defaultGenerator.getState();
  const float = createModel('lenet5');
  const prepared = createModel('lenet5');
  defaultGenerator.setState(state);
  prepared.loadStateDict(float.stateDict());
  float.eval();
  const images = (): Tensor => ops.rand([batch, 1, 28, 28], { generator: gen });
  const q = quant.prepareStatic(prepared, { observer: 'minmax' });
  noGrad(() => { for (let i = 0; i < 4; i++) q.call(images()); });
  const int8 = quant.convertStatic(q);
  int8.eval();
  let runDyn: (() => Tensor) | null = null;
  if (withDynamic) {
    const dynamic = createModel('lenet5');
    defaultGenerator.setState(state);
    dynamic.loadStateDict(float.stateDict());
    const dyn = quant.quantizeDynamic(dynamic, { types: ['Linear', 'Conv2d'] });
    dyn.eval();
    runDyn = (): Tensor => noGrad(() => dyn.call(x));
  }
  const x = images();
  const runFloat = (): Tensor => noGrad(() => float.call(x));
  const runInt8 = (): Tensor => noGrad(() => int8.call(x));
  const a = runFloat().dataSync(), b = runInt8().dataSync();
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  const per = repeats !== undefined ? Math.max(1, Math.ceil(repeats / rounds))
    : Math.max(3, Math.ceil(200 / Math.max(timeIt(runFloat, 2), timeIt(runInt8, 2), runDyn ? timeIt(runDyn, 2) : 0, 1e-3) / rounds));
  const f: number[] = [], i8: number[] = [], fc: number[] = [], ic: number[] = [], d8: number[] = [], dc: number[] = [];
  for (let r = 0; r < rounds; r++) {
    f.push(timeIt(runFloat, per)); fc.push(cpuTimeIt(runFloat, per));
    i8.push(timeIt(runInt8, per)); ic.push(cpuTimeIt(runInt8, per));
    if (runDyn) { d8.push(timeIt(runDyn, per)); dc.push(cpuTimeIt(runDyn, per)); }
  }
  const float32Ms = median(f), int8Ms = median(i8), float32CpuMs = median(fc), int8CpuMs = median(ic);
  const ratio = (num: number, den: number): number => (den > 0 ? num / den : Infinity);
  const timings = {
    batch, float32Ms, int8Ms, speedup: ratio(float32Ms, int8Ms), maxAbsDiff: diff,
    float32CpuMs, int8CpuMs, cpuSpeedup: ratio(float32CpuMs, int8CpuMs),
  };
  if (!runDyn) return timings;
  const dynamicMs = median(d8), dynamicCpuMs = median(dc);
  return { ...timings, dynamicMs, dynamicCpuMs, dynamicSpeedup: ratio(float32Ms, dynamicMs), dynamicCpuSpeedup: ratio(float32CpuMs, dynamicCpuMs) };
}

/** What benchQuantLenet5 returns (JSON-ready). */
export interface QuantLenet5BenchResult {
  bench: 'quant-lenet5';
  lenet5: QuantLenet5Timings;
  cpuPath: string;
  floatCpuPath: string;
  threads: number;
  loadAverage: number[];
  machine: MachineInfo;
}

/**
 * LeNet-5 inference alone (the lenet5 rows of benchQuant) at `batch`: float32 vs static int8 with
 * int8 codes flowing between the layers, float in and out, and vs the dynamically quantized model
 * (Linear and Conv2d). `size` is ignored.
 * @example benchQuantLenet5({ batch: 256 }).lenet5.dynamicSpeedup
 */
export function benchQuantLenet5(opts: QuantBenchOptions = {}): QuantLenet5BenchResult {
  const batch = opts.batch ?? 32;
  if (!Number.isInteger(batch) || batch < 1) throw new TensorslimError('benchQuantLenet5', `batch must be a positive integer, got ${batch}`);
  applyThreads(opts.threads);
  const lenet5 = benchLenet5(new Generator(opts.seed ?? 0), batch, 5, opts.repeats, true);
  const be = getBackend();
  const machine = machineInfo();
  return {
    bench: 'quant-lenet5', lenet5, cpuPath: quant.quantizedKernels().int8Path, floatCpuPath: typeof be.cpuPath === 'string' ? be.cpuPath : 'n/a',
    threads: machine.threads, loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100), machine,
  };
}

/**
 * Time Linear(size, size) in float32 and as quant.DynamicQuantizedLinear at `batch`.
 * @example
 * benchQuant({ size: 1024, batch: 32 })
 * // { bench: 'quant', int8Ms: ..., float32Ms: ..., speedup: ..., cpuPath: 'vnni', ... }
 */
export function benchQuant(opts: QuantBenchOptions = {}): QuantBenchResult {
  const op = 'benchQuant';
  const size = opts.size ?? 1024, batch = opts.batch ?? 32;
  for (const [k, v] of [['size', size], ['batch', batch]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new TensorslimError(op, `${k} must be a positive integer, got ${v}`);
  }
  if (opts.repeats !== undefined && (!Number.isInteger(opts.repeats) || opts.repeats < 1)) throw new TensorslimError(op, `repeats must be a positive integer, got ${opts.repeats}`);
  applyThreads(opts.threads);
  const gen = new Generator(opts.seed ?? 0);
  const state = defaultGenerator.getState();
  const lin = new Linear(size, size);  // its init draws from the default generator: put it back
  defaultGenerator.setState(state);
  lin.eval();
  const q = quant.DynamicQuantizedLinear.fromFloat(lin);
  q.eval();
  const x = ops.sub(ops.rand([batch, size], { generator: gen }), 0.5);
  const runFloat = (): Tensor => noGrad(() => lin.call(x));
  const runInt8 = (): Tensor => noGrad(() => q.call(x));
  // the kernel alone: activations quantized once, as the layer does per batch
  const kernels = quant.quantizedKernels();
  const { scale, zeroPoint } = quant.chooseDynamicQparams(ops.min(x).item(), ops.max(x).item(), 0, 255);
  const qx = quant.quantizePerTensor(x, scale, zeroPoint, 'quint8');
  const xa = { data: qx.data, rows: batch, cols: size, scale, zeroPoint };
  const wa = { data: q.weight.data as Int8Array, rows: size, cols: size, scales: q.weight.scales, zeroPoints: q.weight.zeroPoints };
  const runKernel = (): unknown => kernels.int8Linear(xa, wa, q.bias, { kind: 'float32' });
  // static int8 -> int8: the same weight, input qparams of x, output qparams of the float output's range
  const yf = noGrad(() => lin.call(x));
  const outQ = quant.chooseDynamicQparams(ops.min(yf).item(), ops.max(yf).item(), 0, 255);
  const sq = new quant.QuantizedLinear(q.weight, q.bias, { dtype: 'quint8', scale, zeroPoint }, { dtype: 'quint8', ...outQ });
  const runStatic = (): unknown => sq.forwardQuantized(qx);

  const a = runFloat().dataSync(), b = runInt8().dataSync();
  let err = 0, mag = 0;
  for (let i = 0; i < a.length; i++) { err = Math.max(err, Math.abs(a[i]! - b[i]!)); mag = Math.max(mag, Math.abs(a[i]!)); }
  const once = Math.max(timeIt(runFloat, 3), timeIt(runInt8, 3), timeIt(runKernel, 3), timeIt(runStatic, 3), 1e-3);
  const repeats = opts.repeats ?? Math.min(300, Math.max(10, Math.floor(400 / once)));
  // alternate the variants in rounds, so a change of machine load hits all of them alike
  const f: number[] = [], i8: number[] = [], k8: number[] = [], s8: number[] = [], fc: number[] = [], ic: number[] = [], kc: number[] = [];
  const rounds = 5, per = Math.max(2, Math.ceil(repeats / rounds));
  for (let r = 0; r < rounds; r++) {
    f.push(timeIt(runFloat, per)); fc.push(cpuTimeIt(runFloat, per));
    i8.push(timeIt(runInt8, per)); ic.push(cpuTimeIt(runInt8, per));
    k8.push(timeIt(runKernel, per)); kc.push(cpuTimeIt(runKernel, per));
    s8.push(timeIt(runStatic, per));
  }
  const float32Ms = median(f), int8Ms = median(i8), int8KernelMs = median(k8), int8StaticMs = median(s8);
  const cpu = { int8Ms: median(ic), float32Ms: median(fc), int8KernelMs: median(kc), speedup: 0 };
  cpu.speedup = cpu.int8Ms > 0 ? cpu.float32Ms / cpu.int8Ms : Infinity;
  const lenet5 = benchLenet5(gen, batch, rounds, opts.repeats, false);
  const be = getBackend();
  const machine = machineInfo();
  return {
    bench: 'quant', size, batch, int8Ms, float32Ms, speedup: int8Ms > 0 ? float32Ms / int8Ms : Infinity, int8KernelMs, int8StaticMs, cpu, lenet5,
    cpuPath: kernels.int8Path, floatCpuPath: typeof be.cpuPath === 'string' ? be.cpuPath : 'n/a',
    relativeError: mag > 0 ? err / mag : err, repeats: rounds * per, threads: machine.threads, loadAverage: os.loadavg().map((v) => Math.round(v * 100) / 100), machine,
  };
}
