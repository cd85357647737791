// Benchmark: memory bandwidth of elementwise kernels on large contiguous float32 tensors. Each op's
// bandwidth counts the bytes it reads plus the bytes it writes (copy: 2 x 4n; add/mul: 3 x 4n; relu,
// exp and a scalar add: 2 x 4n; sum: 4n), per timed call through the public ops, in three forms:
// allocating a new output as most user code does ('alloc', allocation included), into an existing
// tensor (`{ out }`, 'out') and in place (add_, relu_, ..., 'inplace'). The roof is `assign`, a copy
// into an existing, already-touched tensor (memory bandwidth with no allocation); `clone`, a copy into
// a new tensor, is reported as the allocating copy. Reports numbers; asserts nothing about speed.

import { TensorslimError } from '../core/errors.js';
import { Generator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { applyThreads, machineInfo, median, type MachineInfo } from './machine.js';

/** Settings of benchElementwise. */
export interface ElementwiseBenchOptions {
  /** Elements per tensor (default 2^24 = 64 MiB of float32, far beyond the caches). */
  size?: number;
  /** Kernel threads (default: the backend's current setting). */
  threads?: number;
  /** Timed repeats per op (default: 1 GB of copying, 25..200), split over 5 rounds that alternate the ops. */
  repeats?: number;
}

/** One op's measurement. */
export interface ElementwiseOpResult {
  /**
   * 'add' (a + b), 'mul' (a * b), 'relu', 'exp', 'addScalar' (a + 1.5, a broadcast scalar), 'sum'
   * (full reduction), allocating; the same with '(out)' appended (into an existing tensor:
   * add(a, b, { out: c })), and with '_' appended (in place: add_(c, b), mul_(c, ones), relu_(c),
   * exp_(c) (its values overflow to inf after a few calls; the kernel is branch-free), add_(c, 1.5)).
   */
  op: string;
  /** 'alloc' (a new output each call), 'out' (into an existing tensor) or 'inplace'. */
  form: 'alloc' | 'out' | 'inplace';
  /** Bytes read plus written per call. */
  bytes: number;
  /** Median milliseconds per call. */
  medianMs: number;
  /** Bandwidth at the median: bytes / time, in GB/s (1e9 bytes). */
  GBs: number;
  /** GBs over the allocating copy's (clone's) GBs. */
  ofCopy: number;
  /** GBs over assign's GBs (the roof: a copy into an existing tensor). */
  ofRoof: number;
}

/** The result of benchElementwise. */
export interface ElementwiseBenchResult {
  bench: 'elementwise';
  size: number;
  threads: number;
  repeats: number;
  /** Bandwidth of a contiguous float32 clone (read n + write n floats into a new tensor). */
  copyGBs: number;
  copyMs: number;
  /**
   * Bandwidth of a copy into an existing, already-touched tensor (`assign`): memory bandwidth with no
   * allocation and no page faults: the roof every op is measured against (ofRoof). copyGBs below it
   * is the price of a fresh output buffer.
   */
  assignGBs: number;
  ops: ElementwiseOpResult[];
  machine: MachineInfo;
}

function timeMs(f: () => unknown, repeats: number): number {
  f(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    f();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(times);
}

/**
 * Measure the bandwidth of copy, add, mul, relu, exp, a scalar-broadcast add and sum on float32
 * tensors of `size` elements, allocating, into an existing tensor (`out`) and in place.
 *
 * @example
 * const r = benchElementwise({ size: 1 << 22, threads: 2 });
 * for (const o of r.ops) console.log(o.op, o.GBs.toFixed(1), `${(o.ofRoof * 100).toFixed(0)}% of the roof`);
 */
export function benchElementwise(opts: ElementwiseBenchOptions = {}): ElementwiseBenchResult {
  const n = opts.size ?? 1 << 24;
  if (!Number.isInteger(n) || n < 1) throw new TensorslimError('benchElementwise', `size must be a positive integer, got ${n}`);
  applyThreads(opts.threads);
  const gen = new Generator(3);
  const a = ops.randn([n], { generator: gen });
  const b = ops.randn([n], { generator: gen });
  const f = 4; // bytes per float32
  const repeats = opts.repeats ?? Math.min(200, Math.max(25, Math.round(1e9 / (2 * f * n))));
  const out = ops.zeros([n]);          // the `out` of the out= forms (touched: zero-filled)
  const c = ops.randn([n], { generator: gen }); // written in place
  const one = ops.onesLike(a);          // mul_(c, one) keeps c's values finite
  type Form = ElementwiseOpResult['form'];
  const cases: [string, Form, number, () => Tensor][] = [
    ['add', 'alloc', 3 * f * n, () => ops.add(a, b)],
    ['mul', 'alloc', 3 * f * n, () => ops.mul(a, b)],
    ['relu', 'alloc', 2 * f * n, () => ops.relu(a)],
    ['exp', 'alloc', 2 * f * n, () => ops.exp(a)],
    ['addScalar', 'alloc', 2 * f * n, () => ops.add(a, 1.5)],
    ['sum', 'alloc', f * n, () => ops.sum(a)],
    ['add(out)', 'out', 3 * f * n, () => ops.add(a, b, { out })],
    ['mul(out)', 'out', 3 * f * n, () => ops.mul(a, b, { out })],
    ['relu(out)', 'out', 2 * f * n, () => ops.relu(a, { out })],
    ['exp(out)', 'out', 2 * f * n, () => ops.exp(a, { out })],
    ['addScalar(out)', 'out', 2 * f * n, () => ops.add(a, 1.5, { out })],
    ['add_', 'inplace', 3 * f * n, () => ops.add_(c, b)],
    ['mul_', 'inplace', 3 * f * n, () => ops.mul_(c, one)],
    ['relu_', 'inplace', 2 * f * n, () => ops.relu_(c)],
    ['exp_', 'inplace', 2 * f * n, () => ops.exp_(c)],
    ['addScalar_', 'inplace', 2 * f * n, () => ops.add_(c, 1.5)],
  ];
  // copy and the ops alternate round by round so a burst of load on a shared machine hits all alike
  const copyTimes: number[] = [], assignTimes: number[] = [];
  const dst = ops.zeros([n]);
  const opTimes: number[][] = cases.map(() => []);
  const rounds = 5;
  const per = Math.max(1, Math.ceil(repeats / rounds));
  for (let r = 0; r < rounds; r++) {
    copyTimes.push(timeMs(() => ops.clone(a), per));
    assignTimes.push(timeMs(() => ops.assign(dst, a), per));
    cases.forEach(([, , , fn], i) => opTimes[i]!.push(timeMs(fn, per)));
  }
  const copyMs = median(copyTimes);
  const copyGBs = (2 * f * n) / (copyMs * 1e6);
  const assignGBs = (2 * f * n) / (median(assignTimes) * 1e6);
  const results = cases.map(([op, form, bytes], i) => {
    const ms = median(opTimes[i]!);
    const GBs = bytes / (ms * 1e6);
    return { op, form, bytes, medianMs: ms, GBs, ofCopy: GBs / copyGBs, ofRoof: GBs / assignGBs };
  });
  const machine = machineInfo();
  return { bench: 'elementwise', size: n, threads: machine.threads, repeats: per * rounds, copyGBs, copyMs, assignGBs, ops: results, machine };
}
