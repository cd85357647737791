#!/usr/bin/env node
// Builds the native backend (native/binding.gyp) with node-gyp, offline: it uses npm's bundled
// node-gyp and the Node headers already on this machine (nodedir), and downloads nothing.
// Runs at `npm install`. A failed build never fails the install: the library then runs on the
// reference backend and says so once when loaded. TENSORSLIM_SKIP_NATIVE=1 skips the build.
// In an installed package that carries a prebuilt addon for this platform (prebuilds/, put there
// by `npm pack`: scripts/prebuild.mjs), the install step loads it instead of compiling, so the
// install needs no compiler and takes seconds; TENSORSLIM_BUILD_FROM_SOURCE=1 compiles anyway.
// Run by hand (`node scripts/build-native.mjs`), it always compiles.
// The build runs in a private staging folder (native/.build-staging-<pid>) and the finished addon
// is renamed into native/build/Release/tensorslim.node, so a process that starts while a rebuild
// runs loads the previous addon instead of finding none and falling back to the reference backend.
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gypBuild, nativeDir, root, tail } from './native-gyp.mjs';

const log = (msg) => process.stderr.write(`tensorslim: ${msg}\n`);

// The prebuilt addon, checked and loaded by the library's own loader (dist/, compiled by `npm
// pack`; a source checkout has none before `npm run build`, and then builds from source).
async function prebuiltLoads() {
  const loader = join(root, 'dist', 'backends', 'native', 'addon.js');
  if (!existsSync(loader)) return { ok: false, note: null };
  try {
    const { loadPrebuiltAddon } = await import(pathToFileURL(loader).href);
    const r = loadPrebuiltAddon();
    return r.addon ? { ok: true, path: r.path, manifest: r.manifest } : { ok: false, note: r.notes.join('; ') || r.error };
  } catch (e) {
    return { ok: false, note: `the prebuilt addon could not be checked: ${e instanceof Error ? e.message : String(e)}` };
  }
}

async function main() {
  if (process.env.TENSORSLIM_SKIP_NATIVE === '1') { log('native build skipped (TENSORSLIM_SKIP_NATIVE=1); using the reference backend'); return; }
  if (process.env.npm_lifecycle_event === 'install' && process.env.TENSORSLIM_BUILD_FROM_SOURCE !== '1') {
    const p = await prebuiltLoads();
    if (p.ok) {
      const m = p.manifest;
      log(`using the prebuilt native addon ${p.path} (${m.platform}-${m.arch}, built ${m.builtAt} with ${m.compiler}, needs glibc >= ${m.glibc}); nothing compiled. TENSORSLIM_BUILD_FROM_SOURCE=1 builds from source`);
      return;
    }
    if (p.note) log(`${p.note}; building from source`);
  }
  const started = Date.now();
  const staging = join(nativeDir, `.build-staging-${process.pid}`);
  const built = join(nativeDir, 'build', 'Release', 'tensorslim.node');
  try {
    rmSync(staging, { recursive: true, force: true });
    // The distributed addon (tensorslim_dist) is built only where Gloo is installed; if it breaks the
    // build, the main addon is built again without it and distributed training reports why.
    const withGloo = existsSync('/usr/include/gloo/rendezvous/store.h') && process.env.TENSORSLIM_SKIP_GLOO !== '1';
    let r = gypBuild(staging, { withGloo });
    if (withGloo && !r.ok) {
      log(`distributed addon (Gloo) failed to build; building the main addon without it:\n${tail(r.output, 15)}`);
      rmSync(staging, { recursive: true, force: true });
      r = gypBuild(staging, { withGloo: false });
    }
    if (r.ok) {
      const fresh = join(r.release, 'tensorslim.node');
      mkdirSync(dirname(built), { recursive: true });
      const freshDist = join(r.release, 'tensorslim_dist.node');
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
    log(`native backend build failed (the reference backend will be used${existsSync(join(root, 'prebuilds')) ? ' unless the prebuilt addon loads' : ''}):\n${tail(r.output, 25)}`);
  } catch (e) {
    rmSync(built, { force: true });
    log(`native backend build failed (the reference backend will be used): ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

await main();
process.exit(0);
