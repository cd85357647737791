#!/usr/bin/env node
// The prebuilt native addon that `npm pack` puts into the package (the `prepack` script), so that
// installing the package needs no compiler: builds native/binding.gyp (whatever sources it lists,
// without the Gloo addon) for this machine's platform and architecture into
// prebuilds/<platform>-<arch>/tensorslim.node, with a manifest.json beside it that the loader
// (src/backends/native/addon.ts) checks before opening the binary: the binding ABI (read from the
// built binary), the N-API version of the headers, platform, arch, the glibc baseline (the highest
// GLIBC_ symbol version the binary needs, from objdump -T), the compiler, the build time and a hash
// of the sources. The binary is built like a local one (baseline x86-64 plus the run-time CPU
// dispatch of native/src/cpu.cc; N-API, so one binary serves every Node.js >= 20) with libstdc++
// linked statically, so it needs only glibc and libgcc_s (no GLIBCXX_ versions), and with unused
// sections dropped (--gc-sections); libgcc stays shared, as its static unwinder needs
// _dl_find_object (glibc 2.35), and libstdc++'s arc4random reference (glibc 2.36) is resolved inside
// the addon (GLIBC_COMPAT_C below). What remains is glibc 2.34 (pthread_* moved into libc there).
//
//   node scripts/prebuild.mjs           build (a failure exits 1: a package must not ship without it)
//   node scripts/prebuild.mjs --clean   remove prebuilds/ (the `postpack` script: the source tree
//                                       keeps building from source)
// Environment: TENSORSLIM_PREBUILD_ARCHES=x64,arm64 also cross-compiles linux-arm64 (Debian's
// g++-aarch64-linux-gnu; portable kernels only; see docs/NATIVE.md, "Prebuilt addons").
// The Gloo addon is not prebuilt: it links the shared library libgloo, which most machines lack;
// distributed training builds it from source (docs/NATIVE.md, "Prebuilt addons").
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { findNodeDir, gypBuild, napiVersionOfHeaders, nativeDir, root, tail } from './native-gyp.mjs';

const log = (msg) => process.stderr.write(`tensorslim prebuild: ${msg}\n`);
const prebuildsDir = join(root, 'prebuilds');

class PrebuildError extends Error {}
function fail(msg) {
  throw new PrebuildError(msg);
}

/** Every file under dir, as paths relative to root, sorted. */
function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(relative(root, p));
  }
  return out.sort();
}

/** sha256 over native/binding.gyp and native/src/** (path and content of each). */
function sourceHash() {
  const h = createHash('sha256');
  for (const rel of ['native/binding.gyp', ...filesUnder(join(nativeDir, 'src'))]) {
    h.update(`${rel}\0`);
    h.update(readFileSync(join(root, rel)));
    h.update('\0');
  }
  return h.digest('hex');
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

/** The highest version of `prefix` (GLIBC_, GLIBCXX_) among the dynamic symbols the binary needs, or null. */
function highestSymbolVersion(dynsyms, prefix) {
  let best = null;
  for (const m of dynsyms.matchAll(new RegExp(`\\b${prefix}(\\d+(?:\\.\\d+)*)\\b`, 'g'))) {
    const v = m[1];
    if (best === null || compare(v, best) > 0) best = v;
  }
  return best;
}

function compare(a, b) {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

// libstdc++'s std::random_device (linked in statically with the rest of libstdc++, though the
// addon never uses it) calls arc4random, which glibc has only since 2.36; every other symbol the
// addon needs is in glibc 2.34. A hidden definition linked before libstdc++ resolves that one
// reference inside the addon (getrandom: glibc 2.25), so the baseline stays 2.34 (Ubuntu 22.04, RHEL 9).
const GLIBC_COMPAT_C = `#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>
__attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t v;
  for (;;) {
    ssize_t n = getrandom(&v, sizeof v, 0);
    if (n == (ssize_t)sizeof v) return v;
    if (n < 0 && errno == EINTR) continue;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && read(fd, &v, sizeof v) == (ssize_t)sizeof v) { close(fd); return v; }
    abort();
  }
}
`;

/** Compiles GLIBC_COMPAT_C into the staging folder; returns the object's path. */
function glibcCompatObject(staging, cc) {
  mkdirSync(staging, { recursive: true });
  const src = join(staging, 'glibc_compat.c');
  const obj = join(staging, 'glibc_compat.o');
  writeFileSync(src, GLIBC_COMPAT_C);
  run(cc, ['-O2', '-fPIC', '-fvisibility=hidden', '-c', src, '-o', obj]);
  return obj;
}

function main() {
  if (process.argv.includes('--clean')) {
    rmSync(prebuildsDir, { recursive: true, force: true });
    return;
  }
  // x64 always (on an x64 host); more with TENSORSLIM_PREBUILD_ARCHES=x64,arm64 (cross-compiled)
  const arches = (process.env.TENSORSLIM_PREBUILD_ARCHES || process.arch).split(',').map((a) => a.trim()).filter(Boolean);
  for (const arch of arches) buildOne(arch);
}

// GNU cross toolchain prefixes (Debian: apt-get install g++-aarch64-linux-gnu)
const CROSS_PREFIX = { arm64: 'aarch64-linux-gnu-' };

/** Builds prebuilds/<platform>-<arch>/ with its manifest. */
function buildOne(arch) {
  const platform = process.platform;
  const cross = arch !== process.arch;
  if (cross && (platform !== 'linux' || !(arch in CROSS_PREFIX))) fail(`cannot cross-compile for ${platform}-${arch} (known: linux ${Object.keys(CROSS_PREFIX).join(', ')})`);
  const prefix = cross ? CROSS_PREFIX[arch] : '';
  const cc = cross ? `${prefix}gcc` : process.env.CC || 'cc';
  const cxx = cross ? `${prefix}g++` : process.env.CXX || 'g++';
  const objdump = `${prefix}objdump`;
  const toolchain = cross ? { CC: cc, CXX: cxx, LINK: cxx, AR: `${prefix}ar` } : {};
  const started = Date.now();
  const staging = join(nativeDir, `.build-staging-prebuild-${arch}-${process.pid}`);
  try {
    rmSync(staging, { recursive: true, force: true });
    log(`building the ${platform}-${arch} addon (without Gloo) ...`);
    const compat = platform === 'linux' ? glibcCompatObject(staging, cc) : '';
    const r = gypBuild(staging, {
      withGloo: false,
      env: { ...toolchain, LDFLAGS: `${process.env.LDFLAGS ?? ''} ${compat} -static-libstdc++ -Wl,--gc-sections`.trim() },
      extraArgs: cross ? [`--arch=${arch}`] : [],
    });
    if (!r.ok) fail(`the ${platform}-${arch} build failed:\n${tail(r.output, 30)}`);
    const built = join(r.release, 'tensorslim.node');
    run(`${prefix}strip`, ['--strip-unneeded', built]);

    const dyn = run(objdump, ['-T', built]);
    const needed = [...run(objdump, ['-p', built]).matchAll(/^\s*NEEDED\s+(\S+)/gm)].map((m) => m[1]);
    const glibcxx = highestSymbolVersion(dyn, 'GLIBCXX_');
    if (glibcxx !== null || needed.some((n) => n.startsWith('libstdc++'))) {
      fail(`the prebuilt addon still needs libstdc++ (GLIBCXX_${glibcxx}; NEEDED ${needed.join(', ')}): it must link it statically`);
    }
    if (needed.some((n) => n.includes('gloo'))) fail(`the prebuilt addon must not need Gloo (NEEDED ${needed.join(', ')})`);
    const glibc = platform === 'linux' ? highestSymbolVersion(dyn, 'GLIBC_') : null;
    if (platform === 'linux' && glibc === null) fail(`objdump -T found no GLIBC_ symbol versions in ${built}`);

    // The binding ABI, from the binary itself (a cross-built one cannot be loaded here: from the source)
    let abiVersion;
    if (cross) {
      const m = /constexpr int kAbiVersion = (\d+);/.exec(readFileSync(join(nativeDir, 'src', 'addon.cc'), 'utf8'));
      if (!m) fail('kAbiVersion not found in native/src/addon.cc');
      abiVersion = Number(m[1]);
    } else {
      const probe = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(require(process.argv[1]).abiVersion))', built], { encoding: 'utf8' });
      abiVersion = Number(probe.stdout);
      if (probe.status !== 0 || !Number.isInteger(abiVersion)) fail(`the built addon does not load: ${probe.stderr.trim()}`);
    }
    const napiVersion = napiVersionOfHeaders(findNodeDir());
    if (napiVersion === null) fail('the N-API version of the Node headers (NAPI_VERSION in include/node/js_native_api.h) was not found');
    const compiler = run(cxx, ['--version']).split('\n')[0].trim();
    const builtAt = process.env.SOURCE_DATE_EPOCH ? new Date(Number(process.env.SOURCE_DATE_EPOCH) * 1000).toISOString() : new Date().toISOString();
    const manifest = {
      abiVersion, napiVersion, platform, arch, glibc, compiler, builtAt, sourceHash: sourceHash(), file: 'tensorslim.node',
      libraries: needed, libstdcxx: 'static', gloo: 'not prebuilt (build from source with libgloo-dev: docs/NATIVE.md)',
    };

    const out = join(prebuildsDir, `${platform}-${arch}`);
    mkdirSync(out, { recursive: true });
    const tmp = join(out, `tensorslim.node.tmp-${process.pid}`);
    copyFileSync(built, tmp);
    renameSync(tmp, join(out, 'tensorslim.node'));
    writeFileSync(join(out, `manifest.json.tmp-${process.pid}`), `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(join(out, `manifest.json.tmp-${process.pid}`), join(out, 'manifest.json'));
    const size = statSync(join(out, 'tensorslim.node')).size;
    log(`${relative(root, out)}/tensorslim.node: ${(size / 1024).toFixed(0)} KiB, ABI ${abiVersion}, N-API ${napiVersion}, glibc >= ${glibc}, ${compiler}, built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

try {
  main();
} catch (e) {
  log(`error: ${e instanceof PrebuildError ? e.message : (e instanceof Error ? e.stack : String(e))}`);
  process.exitCode = 1;
}
