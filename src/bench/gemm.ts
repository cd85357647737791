// Benchmark: one N x N x N float32 matrix product on the active backend, in GFLOP/s (2 N^3 flops per
// product), median of timed repeats after a warm-up. Reports numbers; asserts nothing about speed.

import { TensorslimError } from '../core/errors.js';
import { Generator } from '../core/random.js';
import * as ops from '../ops/index.js';
import { applyThreads, machineInfo, median, type MachineInfo } from './machine.js';

/** Settings of benchGemm. */
export interface GemmBenchOptions {
  /** Matrix size N (default 1024). */
  size?: number;
  /** Kernel threads (default: the backend's current setting). */
  threads?: number;
  /** Timed repeats (default: enough for ~1 s of work, 5..50). */
  repeats?: number;
  /** Multiply by a transposed right operand (A @ B^T, as a Linear layer does). Default false. */
  transposeB?: boolean;
}

/** The result of benchGemm. */
export interface GemmBenchResult {
  bench: 'gemm';
  size: number;
  threads: number;
  gflops: number;
  medianMs: number;
  minMs: number;
  repeats: number;
  /**
   * GFLOP per CPU-second: the timed products' flops over the process's CPU time (user + system,
   * all threads) while they ran. On a machine shared with other work, wall-clock GFLOP/s measures
   * the load as much as the kernel; this measures how much work each core-second did.
   */
  cpuGflops: number;
  transposeB: boolean;
  machine: MachineInfo;
}

/**
 * Time an N x N x N float32 product on the active backend.
 *
 * @example
 * const r = benchGemm({ size: 1024, threads: 2 });
 * console.log(`${r.gflops.toFixed(0)} GFLOP/s`);
 */
export function benchGemm(opts: GemmBenchOptions = {}): GemmBenchResult {
  const w = gemmWorkload(opts);
  const n = w.size, flops = w.flops;
  const repeats = opts.repeats ?? Math.min(50, Math.max(5, Math.round(5e10 / flops)));
  w.run(); // warm-up: packing buffers, thread start
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    w.run();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const machine = machineInfo();
  const med = median(times);
  return {
    bench: 'gemm', size: n, threads: machine.threads, gflops: flops / (med * 1e6), medianMs: med, minMs: Math.min(...times),
    repeats, cpuGflops: (flops * repeats) / (cpuSeconds * 1e9), transposeB: opts.transposeB ?? false, machine,
  };
}

/** The product benchGemm times, ready to run: `run()` computes one N x N x N product (2 N^3 `flops`). */
export interface GemmWorkload {
  size: number;
  flops: number;
  run: () => void;
}

/**
 * Build the product benchGemm times (operands, threads) without timing it; bench/paired.ts's
 * workers time `run()` in windows against a peer.
 * @example
 * const w = gemmWorkload({ size: 1024, threads: 1 });
 * w.run(); // one 1024^3 product
 */
export function gemmWorkload(opts: Omit<GemmBenchOptions, 'repeats'> = {}): GemmWorkload {
  const n = opts.size ?? 1024;
  if (!Number.isInteger(n) || n < 1) throw new TensorslimError('benchGemm', `size must be a positive integer, got ${n}`);
  applyThreads(opts.threads);
  const gen = new Generator(1);
  const a = ops.randn([n, n], { generator: gen });
  const b0 = ops.randn([n, n], { generator: gen });
  const b = opts.transposeB ? ops.transpose(b0, 0, 1) : b0;
  return { size: n, flops: 2 * n * n * n, run: (): void => { ops.matmul(a, b); } };
}
