// Acceptance of issue 18 (prebuilt addons inside the package), as a new user meets the package:
// `npm pack` (its prepack step builds prebuilds/linux-x64), the tarball installed into an empty app
// with no compiler (CC=/bin/false CXX=/bin/false), and again with install scripts off
// (--ignore-scripts); both times `tensorslim info` reports the native backend from the prebuilt
// addon, and a short demo runs on it. TENSORSLIM_BUILD_FROM_SOURCE=1 makes the install step compile. A tampered manifest in the installed package is skipped with
// a note. The install is offline: the app's lockfile pins exactly the dependency versions of this
// repository's package-lock.json, whose tarballs `npm ci` left in the npm cache (where some are
// missing, npm ci falls back to --prefer-offline and fetches them from the registry).
//
// Slow (npm pack compiles the addon, 1.5-6 min on 2 cores, and installs 300+ packages): it runs in CI
// (the CI variable set, as .ci/run sets it) or with TENSORSLIM_PACK_TEST=1, and in the native pass of
// npm test only (it exercises no kernel of its own).

import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { inCI } from '../helpers/requirements.js';
import { REPO_ROOT } from '../helpers/paths.js';

const repo = REPO_ROOT;
const skip = process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'packaging, no kernel: runs in the native pass only'
  : process.env['TENSORSLIM_PACK_TEST'] !== '1' && !inCI() ? 'slow (npm pack compiles the addon; two offline installs of the tarball): runs in CI, or set TENSORSLIM_PACK_TEST=1'
    : process.platform !== 'linux' || process.arch !== 'x64' ? 'the package carries a linux-x64 prebuilt addon; this machine is not linux-x64'
      : false;

interface PackageJson { name: string; version: string; license: string; dependencies: Record<string, string>; bin: Record<string, string>; engines: Record<string, string> }
interface LockEntry { dev?: boolean; devOptional?: boolean; link?: boolean; [k: string]: unknown }

/** The environment of a new user's shell: none of the repository's or npm's own variables. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('npm_') || k.startsWith('TENSORSLIM_') || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed (status ${String(r.status)}${r.signal ? `, ${r.signal}` : ''}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The app's lockfile: the tarball plus every non-dev package of the repository's lockfile, at the same paths. */
function appLock(tgz: string, pkg: PackageJson): object {
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const packages: Record<string, object> = {};
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev === true || entry.link === true) continue;
    const { devOptional: _d, ...rest } = entry;
    packages[path] = rest;
  }
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  packages['node_modules/tensorslim'] = {
    version: pkg.version, resolved: `file:${tgz}`, integrity, hasInstallScript: true, license: pkg.license,
    dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines,
  };
  const root = { name: 'app', version: '1.0.0', dependencies: { tensorslim: `file:${tgz}` } };
  return { name: 'app', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': root, ...packages } };
}

interface Info { backend: string; addon: { source: string | null; path: string | null; notes: string[]; prebuilt: { glibc: string } | null } | null }

describe('the packed tarball installs with its prebuilt addon', { skip, timeout: 25 * 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-pack-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as PackageJson;
  const tgz = join(dir, `${pkg.name}-${pkg.version}.tgz`);
  const app = join(dir, 'app');
  const installed = join(app, 'node_modules', 'tensorslim');
  const slot = join(installed, 'prebuilds', 'linux-x64');

  function info(): { info: Info; stderr: string } {
    const r = run('npx', ['--no', 'tensorslim', 'info', '--json'], app, userEnv(), 120_000);
    return { info: JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Info, stderr: r.stderr };
  }

  test('npm pack builds prebuilds/linux-x64 with its manifest into the tarball', (t) => {
    // pack a copy of the package's inputs, so the working tree (dist/, prebuilds/) is left alone
    const stage = join(dir, 'stage');
    for (const p of ['package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'src', 'scripts', 'native/src', 'native/binding.gyp']) {
      cpSync(join(repo, p), join(stage, p), { recursive: true });
    }
    symlinkSync(join(repo, 'node_modules'), join(stage, 'node_modules'));
    const r = run('npm', ['pack', '--pack-destination', dir], stage, userEnv(), 20 * 60_000);
    assert.ok(existsSync(tgz), r.stdout);
    assert.ok(!existsSync(join(stage, 'prebuilds')), 'postpack removes prebuilds/ from the source tree');
    const files = run('tar', ['tzf', tgz], dir, userEnv(), 60_000).stdout.split('\n');
    for (const f of ['package/prebuilds/linux-x64/tensorslim.node', 'package/prebuilds/linux-x64/manifest.json', 'package/dist/backends/native/addon.js', 'package/native/binding.gyp']) {
      assert.ok(files.includes(f), `the tarball lacks ${f}`);
    }
    assert.ok(!files.some((f) => f.startsWith('package/native/build/')), 'no local build in the tarball');
    const size = statSync(tgz).size;
    t.diagnostic(`tarball ${(size / 1e6).toFixed(2)} MB`);
    assert.ok(size < 8e6, `the tarball is ${size} bytes`);
  });

  test('installed without a compiler: the install step compiles nothing and info reports the prebuilt native addon', (t) => {
    mkdirSync(app, { recursive: true });
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, dependencies: { tensorslim: `file:${tgz}` } }));
    const lock = appLock(tgz, pkg) as { packages: object };
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(lock));
    const started = Date.now();
    const ciArgs = ['ci', '--no-audit', '--no-fund', '--foreground-scripts'];
    const noCompiler = userEnv({ CC: '/bin/false', CXX: '/bin/false' });
    const offline = spawnSync('npm', [...ciArgs, '--offline'], { cwd: app, env: noCompiler, encoding: 'utf8', timeout: 10 * 60_000, maxBuffer: 64 << 20 });
    // a cache without some tarball (npm ci never ran here): fetch what is missing from the registry
    const r = offline.status !== 0 && /ENOTCACHED/.test(`${offline.stdout}${offline.stderr}`)
      ? run('npm', [...ciArgs, '--prefer-offline'], app, noCompiler, 10 * 60_000)
      : offline;
    assert.equal(r.status, 0, `npm ci failed:\n${r.stdout}\n${r.stderr}`);
    t.diagnostic(`npm ci (offline, ${Object.keys(lock.packages).length - 1} packages) took ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const out = `${r.stdout}\n${r.stderr}`;
    assert.match(out, /tensorslim: using the prebuilt native addon .*prebuilds\/linux-x64\/tensorslim\.node .*nothing compiled/);
    assert.doesNotMatch(out, /native backend built|native backend build failed/);
    assert.ok(!existsSync(join(installed, 'native', 'build')), 'nothing was built');
    const { info: i, stderr } = info();
    assert.equal(i.backend, 'native', stderr);
    assert.equal(i.addon?.source, 'prebuilt');
    assert.equal(i.addon?.path, join(slot, 'tensorslim.node'));
    assert.deepEqual(i.addon?.notes, []);
  });

  test('a short demo runs on the prebuilt native addon', (t) => {
    const out = join(dir, 'demo');
    const r = run('npx', ['--no', 'tensorslim', 'demo', '--steps', '20', '--out-dir', out, '--json'], app, userEnv(), 10 * 60_000);
    const demo = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { backend: string; seconds: number; rows: { stage: string; testAccuracy: number }[] };
    assert.equal(demo.backend, 'native');
    assert.ok(demo.rows.length >= 3, JSON.stringify(demo.rows));
    // 20 steps of the MLP reach well above chance (10%) on the digits
    assert.ok(demo.rows[0]!.testAccuracy > 0.3, JSON.stringify(demo.rows[0]));
    t.diagnostic(`demo (20 steps per stage) took ${demo.seconds.toFixed(1)} s`);
  });

  test('installed with --ignore-scripts: the prebuilt addon still loads', () => {
    rmSync(installed, { recursive: true, force: true });
    const r = run('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], app, userEnv({ CC: '/bin/false', CXX: '/bin/false' }), 10 * 60_000);
    assert.doesNotMatch(`${r.stdout}\n${r.stderr}`, /tensorslim: /, 'no install script ran');
    assert.ok(existsSync(join(slot, 'tensorslim.node')));
    const { info: i, stderr } = info();
    assert.equal(i.backend, 'native', stderr);
    assert.equal(i.addon?.source, 'prebuilt');
  });

  test('TENSORSLIM_BUILD_FROM_SOURCE=1 compiles anyway (failing here, without a compiler); the prebuilt addon still serves', () => {
    const r = run('npm', ['rebuild', 'tensorslim', '--foreground-scripts'], app,
      userEnv({ CC: '/bin/false', CXX: '/bin/false', TENSORSLIM_BUILD_FROM_SOURCE: '1' }), 10 * 60_000);
    const out = `${r.stdout}\n${r.stderr}`;
    assert.doesNotMatch(out, /using the prebuilt native addon/);
    assert.match(out, /tensorslim: native backend build failed \(the reference backend will be used unless the prebuilt addon loads\)/);
    assert.ok(!existsSync(join(installed, 'native', 'build', 'Release', 'tensorslim.node')));
    const { info: i, stderr } = info();
    assert.equal(i.backend, 'native', stderr);
    assert.equal(i.addon?.source, 'prebuilt');
  });

  test('a tampered manifest (another binding ABI) is skipped with a one-line note', () => {
    const manifestPath = join(slot, 'manifest.json');
    const original = readFileSync(manifestPath, 'utf8');
    const m = JSON.parse(original) as { abiVersion: number };
    writeFileSync(manifestPath, JSON.stringify({ ...m, abiVersion: 99 }));
    try {
      const { info: i, stderr } = info();
      assert.equal(i.backend, 'reference');
      const note = `prebuilt addon ${join(slot, 'tensorslim.node')} skipped: binding ABI 99, this library needs ABI ${m.abiVersion}`;
      assert.deepEqual(i.addon?.notes, [note]);
      assert.match(stderr, /^tensorslim: native backend unavailable, using the reference backend \(slow\): .*; prebuilt addon .* skipped: binding ABI 99/m);
    } finally {
      writeFileSync(manifestPath, original);
    }
  });
});
