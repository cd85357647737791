// `tensorslim bench quant` and benchQuant: the JSON line has the documented fields (int8Ms,
// float32Ms, speedup = float32Ms / int8Ms, int8KernelMs, int8StaticMs, lenet5 (bench quant --model lenet5:
// also its dynamic int8 times), cpuPath = the backend's int8 path), the int8
// output is close to the float one, and bad sizes are refused. Tiny sizes, few repeats: this checks
// the plumbing, never the speed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/native/index.js';
import { getBackend } from '../../src/backend/registry.js';
import { benchQuant } from '../../src/bench/quant.js';
import { captureContext, main } from '../../src/cli/index.js';

test('benchQuant: fields, speedup ratio and the int8 path of the active backend', () => {
  const r = benchQuant({ size: 48, batch: 5, repeats: 10, threads: 1 });
  assert.equal(r.bench, 'quant');
  assert.equal(r.size, 48);
  assert.equal(r.batch, 5);
  assert.ok(r.int8Ms > 0 && r.float32Ms > 0 && r.int8KernelMs > 0 && r.int8StaticMs > 0);
  assert.equal(r.lenet5.batch, 5);
  assert.ok(r.lenet5.float32Ms > 0 && r.lenet5.int8Ms > 0 && Math.abs(r.lenet5.speedup - r.lenet5.float32Ms / r.lenet5.int8Ms) <= 1e-12 * r.lenet5.speedup);
  assert.ok(Number.isFinite(r.lenet5.maxAbsDiff));
  assert.ok(r.lenet5.float32CpuMs >= 0 && r.lenet5.int8CpuMs >= 0);
  assert.ok(Math.abs(r.speedup - r.float32Ms / r.int8Ms) <= 1e-12 * r.speedup);
  assert.ok(r.cpu.int8Ms >= 0 && r.cpu.float32Ms >= 0 && r.cpu.int8KernelMs >= 0 && r.cpu.speedup === r.cpu.float32Ms / r.cpu.int8Ms);
  assert.equal(r.cpuPath, getBackend().int8Path);
  assert.ok(r.relativeError < 0.05, `int8 output far from float32: relative error ${r.relativeError}`);
  assert.equal(r.threads, 1);
  assert.throws(() => benchQuant({ size: 0 }), /benchQuant: size must be a positive integer, got 0/);
  assert.throws(() => benchQuant({ batch: 1.5 }), /benchQuant: batch must be a positive integer, got 1.5/);
});

test('tensorslim bench quant --json: one JSON object on the last line; text output', async () => {
  const ctx = captureContext({});
  assert.equal(await main(['bench', 'quant', '--size', '32', '--batch', '3', '--steps', '10', '--threads', '1', '--json'], ctx), 0);
  const last = JSON.parse(ctx.stdout.filter((l) => l !== '').at(-1)!) as Record<string, unknown>;
  for (const k of ['int8Ms', 'float32Ms', 'speedup', 'int8KernelMs', 'int8StaticMs']) assert.equal(typeof last[k], 'number', k);
  assert.equal(last['bench'], 'quant');
  assert.equal(last['cpuPath'], getBackend().int8Path);
  const text = captureContext({});
  assert.equal(await main(['bench', 'quant', '--size', '16', '--batch', '2', '--steps', '10', '--threads', '1'], text), 0);
  assert.match(text.stdout.join('\n'), /speedup\s+\d+\.\d+x/);
  assert.match(text.stdout.join('\n'), /int8 path\s+\S+ \(float32: /);
  // LeNet-5 alone
  const le = captureContext({});
  assert.equal(await main(['bench', 'quant', '--model', 'lenet5', '--batch', '2', '--steps', '5', '--threads', '1', '--json'], le), 0);
  const lj = JSON.parse(le.stdout.filter((l) => l !== '').at(-1)!) as { bench: string; lenet5: Record<string, number>; cpuPath: string };
  assert.equal(lj.bench, 'quant-lenet5');
  assert.equal(lj.lenet5['batch'], 2);
  for (const k of ['float32Ms', 'int8Ms', 'float32CpuMs', 'int8CpuMs', 'speedup', 'maxAbsDiff', 'dynamicMs', 'dynamicCpuMs', 'dynamicSpeedup', 'dynamicCpuSpeedup']) assert.equal(typeof lj.lenet5[k], 'number', k);
  assert.equal(lj.cpuPath, getBackend().int8Path);
  assert.equal(await main(['bench', 'quant', '--model', 'mlp'], captureContext({})), 2);
});
