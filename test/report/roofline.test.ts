// The roofline: the native probe runs on every CPU path this machine supports (positive, finite
// roofs; a bad path is refused), measured roofs are cached per CPU / backend / path / threads and
// read back, kernels are placed (memory- vs compute-bound, fraction of their roof) by the
// definition, and `tensorslim profile` prints the placement. No timing is asserted.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { getNativeBackend, supportedCpuPaths } from '../../src/backends/native/index.js';
import { loadAddon } from '../../src/backends/native/addon.js';
import { machineRoofs, placeKernels, rooflineCachePath, type MachineRoofs } from '../../src/report/roofline.js';
import type { KernelStats } from '../../src/report/profiler.js';
import { cli } from '../cli/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-roofline-'));
const native = process.env['TENSORSLIM_BACKEND'] === 'reference' ? null : getNativeBackend();

test('native roofline probe on every supported CPU path', { skip: native ? false : 'needs the native addon (skipped on the reference pass: the probe is native code)' }, () => {
  const addon = loadAddon().addon!;
  const paths = supportedCpuPaths();
  assert.ok(paths.includes('generic'));
  for (const p of paths) {
    const r = addon.rooflineProbe!(p, 0.02, 4 * 2 ** 20);
    assert.equal(r.path, p);
    assert.ok(Number.isFinite(r.fmaGflops) && r.fmaGflops > 0, `${p}: ${JSON.stringify(r)}`);
    assert.ok(Number.isFinite(r.copyGbps) && r.copyGbps > 0, `${p}: ${JSON.stringify(r)}`);
    assert.equal(r.threads, native!.threads);
  }
  assert.throws(() => addon.rooflineProbe!('sse9', 0.02, 4 * 2 ** 20), /rooflineProbe: CPU path 'sse9' is not supported/);
  assert.throws(() => addon.rooflineProbe!('generic', 0, 4 * 2 ** 20), /seconds must be in \(0, 10\]/);
});

test('roofs are measured once per configuration and cached; a damaged cache is measured again', () => {
  const cachePath = join(dir, 'cache', 'roofline.json');
  const opts = { cachePath, seconds: 0.02, copyBytes: 4 * 2 ** 20 };
  const first = machineRoofs(opts);
  assert.equal(first.fromCache, false);
  assert.equal(first.cached, true);
  for (const k of ['fmaGflops', 'gemmGflops', 'copyGbps'] as const) assert.ok(first.roofs[k] > 0, k);
  assert.match(first.roofs.key, new RegExp(`\\|${first.roofs.backend}\\|${first.roofs.cpuPath}\\|${first.roofs.threads}$`));
  const second = machineRoofs(opts);
  assert.equal(second.fromCache, true);
  assert.deepEqual(second.roofs, first.roofs);
  assert.equal(machineRoofs({ ...opts, refresh: true }).fromCache, false);
  writeFileSync(cachePath, '{not json');
  assert.equal(machineRoofs(opts).fromCache, false);
  assert.equal((JSON.parse(readFileSync(cachePath, 'utf8')) as { kind: string }).kind, 'tensorslim-roofline-cache');
  const env = process.env['TENSORSLIM_CACHE_DIR'];
  process.env['TENSORSLIM_CACHE_DIR'] = join(dir, 'c2');
  try { assert.equal(rooflineCachePath(), join(dir, 'c2', 'roofline.json')); } finally {
    if (env === undefined) delete process.env['TENSORSLIM_CACHE_DIR']; else process.env['TENSORSLIM_CACHE_DIR'] = env;
  }
});

test('placeKernels: below the ridge memory-bound, above compute-bound, fraction of the roof', () => {
  const roofs: MachineRoofs = { key: 'k', cpu: 'c', backend: 'native', cpuPath: 'avx512', threads: 2, fmaGflops: 100, gemmGflops: 80, gemmSize: 1024, copyGbps: 10, copyBytes: 1, measured: '' };
  const k = (name: string, flops: number, bytes: number, ms: number): KernelStats => ({
    name, calls: 1, totalMs: ms, selfMs: ms, phaseMs: { data: 0, forward: ms, backward: 0, optimizer: 0, comm: 0, other: 0 }, flops, bytes,
    gflops: flops / ms / 1e6, gbps: bytes / ms / 1e6, share: 0.5, nativeMs: 0, nativeCalls: 0, dispatchMs: 0, opSelfMs: ms,
  });
  const [add, gemm, copy] = placeKernels([k('binary.add', 1e6, 12e6, 2), k('linear', 2e9, 1e7, 40), k('copy', 0, 8e6, 2), k('idle', 0, 0, 1)], roofs);
  // add: intensity 1/12 < ridge 10 -> memory-bound, roof 10 x 1/12 GFLOP/s, achieved 0.5 GFLOP/s
  assert.equal(add!.bound, 'memory');
  assert.ok(Math.abs(add!.roof - 10 / 12) < 1e-12);
  assert.ok(Math.abs(add!.ofRoof - 0.5 / (10 / 12)) < 1e-12);
  // linear: intensity 200 > 10 -> compute-bound under the 100 GFLOP/s peak, achieved 50
  assert.equal(gemm!.bound, 'compute');
  assert.equal(gemm!.roof, 100);
  assert.ok(Math.abs(gemm!.ofRoof - 0.5) < 1e-12);
  // copy: no FLOPs, judged by bandwidth: 4 GB/s of 10
  assert.equal(copy!.bound, 'memory');
  assert.ok(Math.abs(copy!.ofRoof - 0.4) < 1e-12);
});

test('profile prints each kernel on the roofline', { skip: native ? false : 'CLI plumbing over the same kernels: native pass only' }, async () => {
  process.env['TENSORSLIM_CACHE_DIR'] = join(dir, 'cli-cache');
  try {
    const r = await cli('profile', '--model', 'mlp-tiny', '--batch', '8', '--steps', '1', '--warmup', '0', '--json');
    assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
    const roof = r.json['roofline'] as { roofs: MachineRoofs; fromCache: boolean; kernels: { name: string; bound: string; ofRoof: number }[] };
    assert.equal(roof.fromCache, false);
    assert.ok(existsSync(join(dir, 'cli-cache', 'roofline.json')));
    const linear = roof.kernels.find((x) => x.name === 'linear');
    assert.ok(linear && (linear.bound === 'memory' || linear.bound === 'compute') && linear.ofRoof > 0, JSON.stringify(roof.kernels));
    const human = await cli('profile', '--model', 'mlp-tiny', '--batch', '8', '--steps', '1', '--warmup', '0');
    assert.match(human.ctx.stdout.join('\n'), /bound\s+of roof/);
    assert.match(human.ctx.stdout.join('\n'), /roofs \(.*cached .*\): multiply-add peak/);
  } finally {
    delete process.env['TENSORSLIM_CACHE_DIR'];
  }
});
