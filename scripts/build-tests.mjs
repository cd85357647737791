#!/usr/bin/env node
// Compiles the sources and the tests once (TypeScript's tsc, the same type check as `npm run lint`)
// into .test-build/, so that `npm test` runs every test file as plain JavaScript. Running them
// through the tsx loader instead costs about 1.3 s of CPU per test file (its resolve and load hooks
// for each of the ~300 modules a test imports), which over ~220 files and two backend passes was a
// third of CI's time. Targeted runs while developing keep using tsx
// (`node --import tsx --test test/x/y.test.ts`); both run the same test files.
//
// .test-build/ mirrors the repository: tsc writes src/, test/, examples/, bench/ as .js beside which
// every other file of those folders (fixtures, Python peers, the .ts sources themselves, for the tests
// that spawn a .ts worker through tsx) is a symbolic link to the original, and the remaining top-level
// entries (package.json, native/, scripts/, ...) are links too, so paths computed relative to a test
// file resolve as they do in the source tree. test/helpers/paths.ts gives tests the real repository
// root when they need it (npm pack, copies of the tree).
//
//   node scripts/build-tests.mjs             compile (always)
//   node scripts/build-tests.mjs --if-stale  compile unless .test-build/ is newer than every source
//                                            (what `npm run test:default` / `test:reference` do)
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const out = join(root, '.test-build');
const COMPILED = ['src', 'test', 'examples', 'bench', 'bin'];
const SKIP_TOP = new Set(['.git', '.test-build', ...COMPILED]);

const stamp = join(out, '.built');

/** The newest modification time (ms) under the compiled folders and of tsconfig.json/package.json. */
function newestSource() {
  let newest = 0;
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.mtimeMs > newest) newest = st.mtimeMs;
    }
  };
  for (const dir of COMPILED) if (existsSync(join(root, dir))) walk(join(root, dir));
  for (const f of ['tsconfig.json', 'package.json']) newest = Math.max(newest, statSync(join(root, f)).mtimeMs);
  return newest;
}

if (process.argv.includes('--if-stale') && existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource()) process.exit(0);
rmSync(out, { recursive: true, force: true });
const buildStarted = Date.now();
const started = Date.now();
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json'), '--noEmit', 'false', '--outDir', out,
  '--declaration', 'false', '--sourceMap', 'true', '--incremental', 'false'], { stdio: 'inherit', cwd: root });
if (r.status !== 0) {
  process.stderr.write(`build-tests: tsc failed (exit ${r.status ?? r.signal}); fix the type errors above\n`);
  process.exit(1);
}

let links = 0;
function link(target, at) {
  if (existsSync(at)) return;
  mkdirSync(dirname(at), { recursive: true });
  symlinkSync(relative(dirname(at), target), at);
  links++;
}
function mirror(dir) {
  for (const name of readdirSync(join(root, dir))) {
    const rel = join(dir, name);
    const st = lstatSync(join(root, rel));
    if (st.isDirectory()) mirror(rel);
    else link(join(root, rel), join(out, rel));
  }
}
for (const dir of COMPILED) if (existsSync(join(root, dir))) mirror(dir);
for (const name of readdirSync(root)) if (!SKIP_TOP.has(name)) link(join(root, name), join(out, name));
// the stamp carries the build's start time: a source saved during the build makes the next run rebuild
writeFileSync(stamp, `${new Date(buildStarted).toISOString()}\n`);
utimesSync(stamp, buildStarted / 1000, buildStarted / 1000);
process.stderr.write(`build-tests: compiled into .test-build/ in ${((Date.now() - started) / 1000).toFixed(1)} s (${links} links)\n`);
