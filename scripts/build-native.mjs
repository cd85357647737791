#!/usr/bin/env node
// Builds the native backend (native/binding.gyp) with node-gyp, offline: it uses npm's bundled
// node-gyp and the Node headers already on this machine (nodedir), and downloads nothing.
// Runs at `npm install`. A failed build never fails the install: the library then runs on the
// reference backend and says so once when loaded. TENSORSLIM_SKIP_NATIVE=1 skips the build.
// The build runs in a private staging folder (native/.build-staging-<pid>) and the finished addon
// is renamed into native/build/Release/tensorslim.node, so a process that starts while a rebuild
// runs loads the previous addon instead of finding none and falling back to the reference backend.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
const log = (msg) => process.stderr.write(`tensorslim: ${msg}\n`);

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const prefix = dirname(dirname(process.execPath)); // e.g. /usr for /usr/bin/node
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push('/usr/share/nodejs/node-gyp/bin/node-gyp.js', '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  try { candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')); } catch { /* not installed locally */ }
  return candidates.find((p) => existsSync(p)) ?? null;
}

function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  for (const d of [prefix, '/usr', '/usr/local']) {
    if (existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi'))) return d;
  }
  return null; // node-gyp would try to download headers; we pass nothing and let it fail offline
}

function main() {
  if (process.env.TENSORSLIM_SKIP_NATIVE === '1') { log('native build skipped (TENSORSLIM_SKIP_NATIVE=1); using the reference backend'); return; }
  const gyp = findNodeGyp();
  if (!gyp) { log('native backend not built: node-gyp not found (npm ships it); the reference backend will be used'); return; }
  const args = [gyp, 'rebuild', '--jobs=max'];
  const nodedir = findNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const started = Date.now();
  const staging = join(nativeDir, `.build-staging-${process.pid}`);
  const built = join(nativeDir, 'build', 'Release', 'tensorslim.node');
  try {
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    copyFileSync(join(nativeDir, 'binding.gyp'), join(staging, 'binding.gyp'));
    cpSync(join(nativeDir, 'src'), join(staging, 'src'), { recursive: true });
    const gyp = (withGloo) => spawnSync(process.execPath, withGloo ? [...args, '--', '-Dts_with_gloo=1'] : args, { cwd: staging, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: { ...process.env, JOBS: 'max' } });
    // The distributed addon (tensorslim_dist) is built only where Gloo is installed; if it breaks the
    // build, the main addon is built again without it and distributed training reports why.
    const withGloo = existsSync('/usr/include/gloo/rendezvous/store.h') && process.env.TENSORSLIM_SKIP_GLOO !== '1';
    let r = gyp(withGloo);
    if (withGloo && r.status !== 0) {
      log(`distributed addon (Gloo) failed to build; building the main addon without it:\n${`${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n')}`);
      r = gyp(false);
    }
    const fresh = join(staging, 'build', 'Release', 'tensorslim.node');
    if (r.status === 0 && existsSync(fresh)) {
      mkdirSync(dirname(built), { recursive: true });
      const freshDist = join(staging, 'build', 'Release', 'tensorslim_dist.node');
      const builtDist = join(dirname(built), 'tensorslim_dist.node');
      if (existsSync(freshDist)) {
        copyFileSync(freshDist, `${builtDist}.tmp-${process.pid}`);
        renameSync(`${builtDist}.tmp-${process.pid}`, builtDist);
      } else {
        rmSync(builtDist, { force: true });
      }
      const tmp = `${built}.tmp-${process.pid}`;
      copyFileSync(fresh, tmp);
      renameSync(tmp, built); // atomic: readers see the old addon or the new one, never none
      log(`native backend built in ${((Date.now() - started) / 1000).toFixed(1)} s (${built}${existsSync(freshDist) ? ', with the Gloo distributed addon' : ''})`);
      return;
    }
    rmSync(built, { force: true }); // never keep an addon built from older sources
    const tail = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    log(`native backend build failed (the reference backend will be used):\n${tail || r.error?.message || 'no output'}`);
  } catch (e) {
    rmSync(built, { force: true });
    log(`native backend build failed (the reference backend will be used): ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

main();
process.exit(0);
