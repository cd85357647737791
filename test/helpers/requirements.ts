// What some tests need beyond the repository: the native addon, the Gloo addon, Debian's Fashion-MNIST dataset,
// Debian's python3 with numpy (and torch). A user running `npm test` without them gets skips that
// say what is missing and how to install it; in CI (the CI environment variable set, as .ci/run
// sets it) a missing part is a failure, so CI cannot turn green by testing less.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { getNativeBackend, nativeStatus } from '../../src/backends/native/index.js';
import { FASHION_MNIST_DIR, hasFashionMnist } from '../../src/data/index.js';
import { glooUnavailableReason } from '../../src/distributed/index.js';

/** Something a test file may need that `npm ci` alone does not provide. */
export type Requirement = 'native' | 'gloo' | 'fashion-mnist' | 'numpy' | 'torch' | 'onnx-testdata' | 'openwakeword' | 'nsfwjs';

/** Debian's python3 (with python3-numpy, python3-torch); TENSORSLIM_PYTHON overrides it. */
export const PYTHON = process.env['TENSORSLIM_PYTHON'] ?? '/usr/bin/python3';

/** True when running in CI: the CI environment variable is set to anything but '', '0' or 'false'. */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env['CI'];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function pythonLacks(modules: string): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
  return r.status === 0 ? null : `${PYTHON} cannot import ${modules} (${(r.stderr ?? '').trim().split('\n').pop() ?? ''})`;
}

/** Debian libonnx-testdata's ONNX backend node tests (model.onnx + test_data_set_0 per op). */
export const ONNX_TESTDATA_DIR = process.env['TENSORSLIM_ONNX_TESTDATA'] ?? '/usr/share/libonnx-testdata/data/node';

/** openwakeword-js's hello_deepa.onnx (a third-party wake-word MLP), the ONNX import's end-to-end model. */
export const HELLO_DEEPA = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', 'openwakeword-js', 'models', 'hello_deepa.onnx');

/** npm nsfwjs (its shipped TF.js layers MobileNetV2), the TF.js import's real-model test; TENSORSLIM_NSFWJS overrides the package folder. */
export const NSFWJS_DIR = process.env['TENSORSLIM_NSFWJS'] ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', 'nsfwjs');
const checks: Record<Requirement, () => string | null> = {
  nsfwjs: () => existsSync(join(NSFWJS_DIR, 'dist', 'models', 'mobilenet_v2', 'model.min.js')) ? null
    : `nsfwjs's TF.js model is missing: ${NSFWJS_DIR}/dist/models/mobilenet_v2 does not exist; the npm devDependency nsfwjs is not installed; run npm ci`,
  'onnx-testdata': () => existsSync(ONNX_TESTDATA_DIR) ? null
    : `the ONNX backend test data is missing: ${ONNX_TESTDATA_DIR} does not exist; install it with \`apt-get install -y libonnx-testdata\``,
  openwakeword: () => existsSync(HELLO_DEEPA) ? null
    : `openwakeword-js's ${HELLO_DEEPA} is missing: the npm devDependency openwakeword-js is not installed; run npm ci`,
  native: () => {
    if (getNativeBackend()) return null;
    const error = nativeStatus().error ?? 'it did not load';
    return `the native addon is missing: ${error}${error.includes('build-native') ? '' : '; build it with `node scripts/build-native.mjs`'}`;
  },
  gloo: () => {
    const why = glooUnavailableReason();
    return why === null ? null : `the Gloo addon (distributed training) is missing: ${why}`;
  },
  'fashion-mnist': () => hasFashionMnist(FASHION_MNIST_DIR) ? null
    : `the Fashion-MNIST dataset is missing: ${FASHION_MNIST_DIR} lacks its IDX files; install it with \`apt-get install -y dataset-fashion-mnist\``,
  numpy: () => {
    const why = pythonLacks('numpy');
    return why === null ? null : `numpy for the Python interop checker is missing: ${why}; install \`apt-get install -y python3-numpy\``;
  },
  torch: () => {
    const why = pythonLacks('numpy, torch');
    return why === null ? null : `PyTorch for the interop checks is missing: ${why}; install \`apt-get install -y python3-numpy python3-torch\``;
  },
};

const seen = new Map<Requirement, string | null>();

/** Why `req` is not available here (what is missing and how to install it), or null when it is. */
export function missingRequirement(req: Requirement): string | null {
  if (!seen.has(req)) seen.set(req, checks[req]());
  return seen.get(req)!;
}

const reported = new Set<Requirement>();

/**
 * A node:test `skip` value for tests that need `req`: false when it is available. When it is
 * missing, outside CI: the reason (the tests are skipped, saying why); in CI: a failing test named
 * after the requirement is registered once per file (its error says what is missing and how to
 * install it), and the dependent tests are skipped so they do not fail for the same reason again.
 * Call it at a file's top level, not inside a running test.
 * @example
 * describe('native kernels', { skip: requireOrSkip('native') }, () => { ... });
 */
export function requireOrSkip(req: Requirement): string | false {
  const why = missingRequirement(req);
  if (why === null) return false;
  if (!inCI()) return `${why} (skipped; in CI this fails)`;
  if (!reported.has(req)) {
    reported.add(req);
    test(`required in CI: ${req}`, () => { throw new Error(`CI requires ${req}: ${why}`); });
  }
  return `${why} (reported as a CI failure above)`;
}

/**
 * A node:test `skip` value for tests whose subject does not depend on the compute backend (process
 * launching, collectives, file formats, report rendering): they run in the default (native) pass of
 * `npm test` and skip in the reference pass (TENSORSLIM_BACKEND=reference), saying so, which keeps
 * the suite's second pass to what the reference backend changes.
 * @example describe('launcher', { skip: nativePassOnly('launching processes') }, () => { ... });
 */
export function nativePassOnly(subject: string): string | false {
  return process.env['TENSORSLIM_BACKEND'] === 'reference'
    ? `${subject} does not depend on the compute backend: tested in the default pass of npm test, not again in the reference pass`
    : false;
}
