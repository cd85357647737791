// The native addon's contract at its edges: importing the library loads nothing and prints nothing
// (the addon loads on first use), TENSORSLIM_CPU forces a lower path (checked in child processes,
// since the path is chosen when the addon loads), bad input throws a JavaScript error naming the
// kernel (never a crash or a silent wrong answer), and thread counts are settable.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { loadAddon } from '../../src/backends/native/addon.js';
import { cpuPath, getNativeBackend, getNumThreads, setNumThreads, supportedCpuPaths } from '../../src/backends/native/index.js';
import { nativeSkip as skip } from './helpers.js';
import { REPO_ROOT } from '../helpers/paths.js';

const nativeBackend = getNativeBackend();
const addon = loadAddon().addon;
const root = REPO_ROOT;

function childPath(env: Record<string, string>): string {
  const code = "import('./src/backends/native/index.ts').then((m) => process.stdout.write(m.cpuPath()))";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', code], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

// Runs `code` (an ES module body) in a child process with process.dlopen counted; returns its
// stdout (the code's own report), stderr, and the number of native modules loaded.
function childImport(code: string, env: Record<string, string> = {}): { stdout: string; stderr: string } {
  const counted = `let dlopens = 0; const dl = process.dlopen; process.dlopen = (...a) => { dlopens++; return dl.apply(process, a); };\n${code}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', counted], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout, stderr: r.stderr };
}

describe('importing the library has no side effects', () => {
  test('importing Tensor (or the native backend module) loads no addon and prints nothing; first use loads it', () => {
    const code = `const { Tensor } = await import('./src/core/tensor.ts');
await import('./src/backends/native/index.ts');
const before = dlopens;
const reversed = new Tensor(new Float32Array([1, 2, 3]), 'float32', [3], [-1], 2).dataSync();  // a strided copy: the backend's
process.stdout.write(JSON.stringify({ before, after: dlopens, values: Array.from(reversed) }));`;
    const r = childImport(code, { TENSORSLIM_BACKEND: '' });
    const got = JSON.parse(r.stdout) as { before: number; after: number; values: number[] };
    assert.equal(got.before, 0, 'no native module loaded by the imports');
    assert.deepEqual(got.values, [3, 2, 1]);
    // first use: the addon loads when it is built; without it the fallback is said once, on stderr
    if (nativeBackend) {
      assert.equal(got.after, 1, 'the first getBackend() loads the addon');
      assert.equal(r.stderr, '');
    } else {
      assert.equal(got.after, 0);
      assert.equal(r.stderr.match(/native backend unavailable/g)?.length, 1, r.stderr);
    }
  });

  test('importing the package entry loads no addon and prints nothing either', () => {
    const r = childImport(`await import('./src/index.ts'); process.stdout.write(String(dlopens));`, { TENSORSLIM_BACKEND: '' });
    assert.equal(r.stdout, '0');
    assert.equal(r.stderr, '');
  });

  test('TENSORSLIM_BACKEND=reference never loads the addon', () => {
    const r = childImport(`const { getBackend } = await import('./src/index.ts'); process.stdout.write(getBackend().name + ' ' + dlopens);`, { TENSORSLIM_BACKEND: 'reference' });
    assert.equal(r.stdout, 'reference 0');
    assert.equal(r.stderr, '');
  });
});

describe('native addon: loading, paths, bad input', { skip }, () => {
  test('TENSORSLIM_CPU selects each supported path at load; the default is the best one', () => {
    const paths = supportedCpuPaths();
    assert.equal(childPath({ TENSORSLIM_CPU: '' }), paths[0]);
    for (const p of paths) assert.equal(childPath({ TENSORSLIM_CPU: p }), p);
    assert.equal(cpuPath(), process.env['TENSORSLIM_CPU'] || paths[0]);
  });

  test('a typed array too short for the claimed shape is refused', () => {
    const a = new Float32Array(6), b = new Float32Array(6), out = new Float32Array(9);
    // claims (1, 3, 3) @ (1, 3, 3) over 6-element arrays
    const meta = new Float64Array([3, 0, 1, 3, 3, 0, 3, 1, 3, 0, 1, 3, 3, 0, 3, 1]);
    assert.throws(() => addon!.matmul(a, b, meta, out), /native matmul: a: .*too short/);
    assert.throws(() => addon!.unary(1, a, new Float64Array([1, 4, 3, 1]), new Float32Array(3)), /native unary: x: .*too short/);
    // a negative stride walking off the front
    assert.throws(() => addon!.unary(1, a, new Float64Array([1, 0, 3, -1]), new Float32Array(3)), /too short/);
  });

  test('wrong dtypes and shapes throw errors naming the kernel', () => {
    const f32 = new Float32Array(4), f64 = new Float64Array(4), i32 = new Int32Array(4);
    const m2 = new Float64Array([1, 0, 4, 1, 1, 0, 4, 1]);
    assert.throws(() => addon!.binary(0, f32, f64, m2, new Float32Array(4)), /native binary: operand dtypes differ: float32 and float64/);
    assert.throws(() => addon!.unary(1, i32, new Float64Array([1, 0, 4, 1]), new Int32Array(4)), /native unary: expected float32 or float64, got int32/);
    assert.throws(() => addon!.unary(1, f32, new Float64Array([1, 0, 4, 1]), new Float64Array(4)), /native unary: output must be float32/);
    assert.throws(() => addon!.unary(1, f32, new Float64Array([1, 0, 4, 1]), new Float32Array(3)), /output has 3 elements, expected 4/);
    const meta = new Float64Array([3, 0, 1, 2, 2, 0, 2, 1, 3, 0, 1, 3, 1, 0, 1, 1]);
    assert.throws(() => addon!.matmul(f32, new Float32Array(3), meta, new Float32Array(2)), /native matmul: shapes do not line up: \(1, 2, 2\) @ \(1, 3, 1\)/);
    assert.throws(() => addon!.unary(1, [1, 2] as unknown as Float32Array, new Float64Array([1, 0, 2, 1]), new Float32Array(2)), /expected a typed array/);
    assert.throws(() => addon!.unary(1, f32, new Float64Array([1, 0]), new Float32Array(4)), /truncated/);
    const logits = new Float32Array(6), target = new Int32Array([0, 3]);
    assert.throws(() => addon!.softmaxCrossEntropy(logits, target, new Float64Array([2, 0, 2, 3, 3, 1, 1, 0, 2, 1]), new Float64Array(2), null, 1), /target 3 is out of range for 3 classes/);
  });

  test('setNumThreads / getNumThreads', () => {
    const prev = getNumThreads();
    setNumThreads(1);
    assert.equal(getNumThreads(), 1);
    setNumThreads(3);
    assert.equal(getNumThreads(), 3);
    setNumThreads(prev);
    assert.throws(() => setNumThreads(0), /setNumThreads: expected an integer >= 1, got 0/);
  });
});
