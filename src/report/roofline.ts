// The roofline: this machine's roofs, measured once per (CPU model, backend, CPU path, threads) and
// cached, and each profiled kernel placed under them.
//   - peak FLOP/s: a multiply-add loop on registers, every kernel thread (native: roofline.cc, per
//     SIMD path; reference: a JavaScript loop), and our own GEMM (a square float32 matmul), the
//     practical ceiling of dense kernels;
//   - memory bandwidth: a large copy (read + write bytes per second).
// A kernel with arithmetic intensity I = FLOPs / bytes has the roof min(peak, bandwidth x I); it is
// memory-bound when I is below the ridge point peak / bandwidth, compute-bound above it, and its
// achieved GFLOP/s (or GB/s for kernels without FLOPs) as a fraction of its roof says how far it is
// from the machine's limit. Cache: $TENSORSLIM_CACHE_DIR/roofline.json, else
// $XDG_CACHE_HOME/tensorslim/roofline.json, else ~/.cache/tensorslim/roofline.json.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { getBackend } from '../backend/registry.js';
import * as ops from '../ops/index.js';
import { Generator } from '../core/random.js';
import { writeFileAtomic } from '../io/index.js';
import type { KernelStats } from './profiler.js';

/** The measured roofs of one machine configuration. */
export interface MachineRoofs {
  /** The cache key: CPU model | backend | CPU path | threads. */
  key: string;
  cpu: string;
  backend: string;
  cpuPath: string;
  threads: number;
  /** Peak float32 GFLOP/s from the multiply-add loop (all threads). */
  fmaGflops: number;
  /** GFLOP/s of our float32 GEMM on a square matmul of `gemmSize`. */
  gemmGflops: number;
  gemmSize: number;
  /** Copy bandwidth, GB/s (bytes read + bytes written). */
  copyGbps: number;
  /** Bytes copied per run. */
  copyBytes: number;
  /** When it was measured (ISO time). */
  measured: string;
}

/** Where one kernel sits under the roofs. */
export interface KernelPlacement {
  name: string;
  /** FLOPs per byte moved (0 for kernels without FLOPs: copies, gathers). */
  intensity: number;
  gflops: number;
  gbps: number;
  /** Its roof at this intensity: min(peak, bandwidth x intensity) GFLOP/s; for FLOP-less kernels, the bandwidth in GB/s. */
  roof: number;
  bound: 'compute' | 'memory';
  /** Achieved / roof (GFLOP/s, or GB/s for FLOP-less kernels). */
  ofRoof: number;
  /** Share of the profiled step. */
  share: number;
}

/** The roofline cache file. @example rooflineCachePath() // '/home/me/.cache/tensorslim/roofline.json' */
export function rooflineCachePath(): string {
  const own = process.env['TENSORSLIM_CACHE_DIR'];
  if (own) return join(own, 'roofline.json');
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg && xdg !== '' ? join(xdg, 'tensorslim') : join(os.homedir(), '.cache', 'tensorslim'), 'roofline.json');
}

function currentKey(): { key: string; cpu: string; backend: string; cpuPath: string; threads: number } {
  const b = getBackend();
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown';
  const cpuPath = typeof b.cpuPath === 'string' ? b.cpuPath : 'js';
  const threads = typeof b.threads === 'number' ? b.threads : 1;
  return { key: `${cpu}|${b.name}|${cpuPath}|${threads}`, cpu, backend: b.name, cpuPath, threads };
}

/** Seconds of `fn` (best of `runs`). */
function best(runs: number, fn: () => void): number {
  let t = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t = Math.min(t, (performance.now() - t0) / 1000);
  }
  return t;
}

function jsFmaGflops(seconds: number): number {
  // 8 independent chains of a * m + c in doubles: what JavaScript kernels can issue per second
  const loop = (n: number): number => {
    let a0 = 1, a1 = 1.1, a2 = 1.2, a3 = 1.3, a4 = 1.4, a5 = 1.5, a6 = 1.6, a7 = 1.7;
    const m = 0.9999999, c = 1e-7;
    for (let i = 0; i < n; i++) {
      a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
      a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    }
    return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  };
  let n = 1 << 16, t = 0, sink = 0;
  while (t < 0.01) { n *= 4; const t0 = performance.now(); sink += loop(n); t = (performance.now() - t0) / 1000; }
  n = Math.ceil(n * (seconds / 4) / t);
  const s = best(3, () => { sink += loop(n); });
  if (sink === 42) console.log(''); // keep the loop alive
  return (16 * n) / s / 1e9;
}

/**
 * Measure this machine's roofs now with the active backend (about `seconds` for the loop plus the
 * GEMM and copy runs). Native: the addon's probe on the active CPU path; reference: JavaScript.
 * @example const r = measureRoofs(); r.fmaGflops, r.copyGbps
 */
export function measureRoofs(o: { seconds?: number; copyBytes?: number } = {}): MachineRoofs {
  const seconds = o.seconds ?? 0.4;
  const copyBytes = o.copyBytes ?? 128 * 2 ** 20;
  const k = currentKey();
  const b = getBackend();
  let fmaGflops: number, copyGbps: number;
  if (typeof b.rooflineProbe === 'function') {
    ({ fmaGflops, copyGbps } = b.rooflineProbe(seconds, copyBytes));
  } else {
    fmaGflops = jsFmaGflops(seconds);
    const src = new Float32Array(copyBytes / 4).fill(1), dst = new Float32Array(copyBytes / 4);
    copyGbps = (2 * copyBytes) / best(4, () => dst.set(src)) / 1e9;
  }
  // our GEMM: a size that takes tens of milliseconds on the native backend, less on reference
  const gemmSize = typeof b.rooflineProbe === 'function' ? 1024 : 192;
  const g = new Generator(1);
  const a = ops.randn([gemmSize, gemmSize], { generator: g }), w = ops.randn([gemmSize, gemmSize], { generator: g });
  ops.matmul(a, w).dataSync(); // warm up (packing buffers, threads)
  const gemmGflops = (2 * gemmSize ** 3) / best(3, () => { ops.matmul(a, w).dataSync(); }) / 1e9;
  return { ...k, fmaGflops, gemmGflops, gemmSize, copyGbps, copyBytes, measured: new Date().toISOString() };
}

interface CacheFile { kind: 'tensorslim-roofline-cache'; version: 1; entries: Record<string, MachineRoofs> }

function readCache(path: string): CacheFile {
  const empty: CacheFile = { kind: 'tensorslim-roofline-cache', version: 1, entries: {} };
  if (!existsSync(path)) return empty;
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as CacheFile;
    return v && v.kind === 'tensorslim-roofline-cache' && typeof v.entries === 'object' && v.entries !== null ? v : empty;
  } catch {
    return empty; // a damaged cache is measured again and rewritten
  }
}

/**
 * The roofs of the active configuration: from the cache when it has them, else measured and cached.
 * `refresh` measures again. A cache that cannot be written is not an error (the roofs are returned,
 * `cached` says whether they were stored).
 * @example const { roofs } = machineRoofs(); roofs.gemmGflops
 */
export function machineRoofs(o: { refresh?: boolean; cachePath?: string; seconds?: number; copyBytes?: number } = {}): { roofs: MachineRoofs; fromCache: boolean; cached: boolean; path: string } {
  const path = o.cachePath ?? rooflineCachePath();
  const cache = readCache(path);
  const { key } = currentKey();
  const hit = cache.entries[key];
  if (hit && !o.refresh) return { roofs: hit, fromCache: true, cached: true, path };
  const roofs = measureRoofs({ ...(o.seconds !== undefined ? { seconds: o.seconds } : {}), ...(o.copyBytes !== undefined ? { copyBytes: o.copyBytes } : {}) });
  cache.entries[key] = roofs;
  let cached = true;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(cache, null, 2) + '\n'), 'roofline cache');
  } catch {
    cached = false;
  }
  return { roofs, fromCache: false, cached, path };
}

/**
 * Place kernels under the roofs (peak = the multiply-add loop's FLOP/s).
 * @example placeKernels(result.kernels, roofs)[0].bound // 'compute'
 */
export function placeKernels(kernels: readonly KernelStats[], roofs: MachineRoofs): KernelPlacement[] {
  const ridge = roofs.fmaGflops / roofs.copyGbps;
  return kernels.filter((k) => k.totalMs > 0 && k.bytes > 0).map((k) => {
    const intensity = k.flops / k.bytes;
    if (k.flops === 0) {
      return { name: k.name, intensity: 0, gflops: 0, gbps: k.gbps, roof: roofs.copyGbps, bound: 'memory', ofRoof: k.gbps / roofs.copyGbps, share: k.share };
    }
    const roof = Math.min(roofs.fmaGflops, roofs.copyGbps * intensity);
    return { name: k.name, intensity, gflops: k.gflops, gbps: k.gbps, roof, bound: intensity < ridge ? 'memory' : 'compute', ofRoof: k.gflops / roof, share: k.share };
  });
}
