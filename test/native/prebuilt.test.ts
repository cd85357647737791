// The loader's choice between a local build, the package's prebuilt addon and the reference backend
// (src/backends/native/addon.ts). A prebuilt addon is checked against its manifest before it is
// opened: another architecture, an older glibc, another binding ABI or a newer N-API is skipped with
// a one-line note naming why, never loaded. End to end, in a throwaway package (the sources, a copy of
// the addon built here as its prebuilds/linux-x64 binary, no native/build), through `tensorslim info`.
// Native pass only: it exercises no kernel.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkPrebuiltManifest, hostFacts, loadAddon, type HostFacts } from '../../src/backends/native/addon.js';
import { nativeSkip } from './helpers.js';
import { REPO_ROOT } from '../helpers/paths.js';

const referencePass = process.env['TENSORSLIM_BACKEND'] === 'reference'
  ? 'loader plumbing, no kernel: runs in the native pass only' : false;
const repo = REPO_ROOT;

const host: HostFacts = { platform: 'linux', arch: 'x64', glibc: '2.36', napi: 9 };
const good = {
  abiVersion: 4, napiVersion: 8, platform: 'linux', arch: 'x64', glibc: '2.34', compiler: 'g++ (Debian 12.2.0-14) 12.2.0',
  builtAt: '2026-12-07T00:00:00.000Z', sourceHash: 'ab'.repeat(32), file: 'tensorslim.node',
};

describe('checkPrebuiltManifest', { skip: referencePass }, () => {
  test('a matching manifest passes; each mismatch is named in one line', () => {
    assert.equal(checkPrebuiltManifest(good, host, 4), null);
    assert.equal(checkPrebuiltManifest({ ...good, glibc: '2.36' }, host, 4), null, 'the same glibc is enough');
    assert.equal(checkPrebuiltManifest({ ...good, arch: 'arm64' }, host, 4), 'built for linux-arm64, this machine is linux-x64');
    assert.equal(checkPrebuiltManifest(good, { ...host, arch: 'arm64' }, 4), 'built for linux-x64, this machine is linux-arm64');
    assert.equal(checkPrebuiltManifest({ ...good, abiVersion: 3 }, host, 4), 'binding ABI 3, this library needs ABI 4');
    assert.equal(checkPrebuiltManifest({ ...good, glibc: '2.38' }, host, 4), 'needs glibc 2.38, this machine has glibc 2.36');
    // numeric, not string, order: 2.9 < 2.34
    assert.equal(checkPrebuiltManifest({ ...good, glibc: '2.9' }, { ...host, glibc: '2.34' }, 4), null);
    assert.equal(checkPrebuiltManifest(good, { ...host, glibc: '2.9' }, 4), 'needs glibc 2.34, this machine has glibc 2.9');
    assert.equal(checkPrebuiltManifest(good, { ...host, glibc: null }, 4), 'needs glibc 2.34, this process runs without glibc (musl?)');
    assert.match(checkPrebuiltManifest({ ...good, napiVersion: 99 }, host, 4)!, /^needs N-API 99, this Node\.js v\d+\.\d+\.\d+ has N-API 9$/);
  });

  test('a broken manifest is refused, not trusted', () => {
    assert.equal(checkPrebuiltManifest(null, host, 4), 'its manifest is not a JSON object');
    assert.equal(checkPrebuiltManifest([1], host, 4), 'its manifest lacks abiVersion (a number)');
    const { arch: _arch, ...noArch } = good;
    assert.equal(checkPrebuiltManifest(noArch, host, 4), 'its manifest lacks arch (a string)');
    assert.equal(checkPrebuiltManifest({ ...good, abiVersion: '4' }, host, 4), 'its manifest lacks abiVersion (a number)');
    assert.equal(checkPrebuiltManifest({ ...good, glibc: null }, host, 4), 'its manifest lacks glibc (the glibc version it needs)');
    assert.equal(checkPrebuiltManifest({ ...good, glibc: '2.x' }, host, 4), 'its manifest lacks glibc (the glibc version it needs)');
  });

  test('hostFacts reads this process', () => {
    const h = hostFacts();
    assert.equal(h.arch, process.arch);
    assert.equal(h.napi, Number(process.versions.napi));
    if (process.platform === 'linux') assert.match(h.glibc ?? 'musl', /^\d+\.\d+$|^musl$/);
  });
});

interface Info { backend: string; addon: { loaded: boolean; source: string | null; path: string | null; error: string | null; notes: string[]; prebuilt: { glibc: string } | null } | null }

describe('a package with a prebuilt addon and no local build', { skip: referencePass || nativeSkip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-prebuilt-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const pkg = join(dir, 'pkg');
  const slot = join(pkg, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!referencePass && !nativeSkip) {
    cpSync(join(repo, 'src'), join(pkg, 'src'), { recursive: true });
    mkdirSync(join(pkg, 'native'), { recursive: true });
    copyFileSync(join(repo, 'native', 'binding.gyp'), join(pkg, 'native', 'binding.gyp'));
    copyFileSync(join(repo, 'package.json'), join(pkg, 'package.json'));
    symlinkSync(join(repo, 'node_modules'), join(pkg, 'node_modules'));
    mkdirSync(slot, { recursive: true });
    copyFileSync(loadAddon().path!, join(slot, 'tensorslim.node'));
  }
  const facts = hostFacts();
  const manifest = { ...good, platform: facts.platform, arch: facts.arch, glibc: facts.glibc ?? '2.17', abiVersion: loadAddon().addon?.abiVersion ?? 0 };

  function info(m: object): { info: Info; stderr: string } {
    writeFileSync(join(slot, 'manifest.json'), JSON.stringify(m));
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['TENSORSLIM_NATIVE_PATH'];
    delete env['TENSORSLIM_BACKEND'];
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'info', '--json'], { cwd: pkg, env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return { info: JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Info, stderr: r.stderr };
  }

  test('a matching prebuilt addon loads, and info says so', () => {
    const { info: i, stderr } = info(manifest);
    assert.equal(i.backend, 'native', stderr);
    assert.equal(i.addon?.source, 'prebuilt');
    assert.equal(i.addon?.path, join(slot, 'tensorslim.node'));
    assert.equal(i.addon?.prebuilt?.glibc, manifest.glibc);
    assert.deepEqual(i.addon?.notes, []);
    assert.equal(stderr, '');
  });

  for (const [what, m, why] of [
    ['another ABI', { ...manifest, abiVersion: 99 }, `binding ABI 99, this library needs ABI ${manifest.abiVersion}`],
    ['another architecture', { ...manifest, arch: 'arm64' }, `built for ${facts.platform}-arm64, this machine is ${facts.platform}-${facts.arch}`],
    ['a newer glibc', { ...manifest, glibc: '9.99' }, `needs glibc 9.99, this machine has glibc ${facts.glibc}`],
  ] as const) {
    test(`a prebuilt addon for ${what} is skipped with a one-line note; the reference backend runs`, { skip: facts.platform !== 'linux' && 'glibc is Linux only' }, () => {
      const { info: i, stderr } = info(m);
      assert.equal(i.backend, 'reference');
      assert.equal(i.addon?.loaded, false);
      const note = `prebuilt addon ${join(slot, 'tensorslim.node')} skipped: ${why}`;
      assert.deepEqual(i.addon?.notes, [note]);
      // the fallback is said once, in one line, naming the missing local build and the skipped prebuilt
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.ok(lines[0]!.startsWith('tensorslim: native backend unavailable, using the reference backend (slow): the native addon is not built'), stderr);
      assert.ok(lines[0]!.endsWith(`; ${note}`), stderr);
    });
  }

  test('a file that is not an ELF binary for this machine is never opened', () => {
    writeFileSync(join(slot, 'other.node'), 'not a shared object');
    const { info: i } = info({ ...manifest, file: 'other.node' });
    assert.equal(i.backend, 'reference');
    assert.deepEqual(i.addon?.notes, [`prebuilt addon ${join(slot, 'other.node')} skipped: the file is not an ELF binary, this machine is ${facts.arch}`]);
  });

  test('a local build comes first; a broken one is skipped with a note and the prebuilt loads', () => {
    const local = join(pkg, 'native', 'build', 'Release');
    mkdirSync(local, { recursive: true });
    copyFileSync(join(slot, 'tensorslim.node'), join(local, 'tensorslim.node'));
    const first = info(manifest);
    assert.equal(first.info.addon?.source, 'local');
    writeFileSync(join(local, 'tensorslim.node'), 'truncated');
    const second = info(manifest);
    assert.equal(second.info.addon?.source, 'prebuilt');
    assert.equal(second.info.addon?.notes.length, 1);
    assert.match(second.info.addon!.notes[0]!, /^local addon skipped: the native addon at .*tensorslim\.node failed to load: /);
    assert.match(second.stderr, /^tensorslim: local addon skipped: /);
    rmSync(join(pkg, 'native', 'build'), { recursive: true, force: true });
  });
});
