// The node-gyp plumbing shared by scripts/build-native.mjs (the build at `npm install` into
// native/build) and scripts/prebuild.mjs (the prebuilt addon put into the package at `npm pack`):
// find npm's bundled node-gyp and the Node headers on this machine (nothing is downloaded), and run
// one build of native/binding.gyp in a private staging folder, so whatever sources binding.gyp lists
// are built the same way by both.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

/** The package root (the folder holding package.json and native/). */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const nativeDir = join(root, 'native');

/** node-gyp's entry script: npm's bundled copy, Debian's, or a local install; null when none. */
export function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  const prefix = dirname(dirname(process.execPath)); // e.g. /usr for /usr/bin/node
  candidates.push(join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push('/usr/share/nodejs/node-gyp/bin/node-gyp.js', '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  try { candidates.push(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')); } catch { /* not installed locally */ }
  return candidates.find((p) => existsSync(p)) ?? null;
}

/** The folder whose include/node holds Node's headers (node_api.h, common.gypi); null when none. */
export function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = dirname(dirname(process.execPath));
  for (const d of [prefix, '/usr', '/usr/local']) {
    if (existsSync(join(d, 'include', 'node', 'node_api.h')) && existsSync(join(d, 'include', 'node', 'common.gypi'))) return d;
  }
  return null; // node-gyp would try to download headers; we pass nothing and let it fail offline
}

/** The N-API version the headers in `nodedir` compile addons against by default (NAPI_VERSION), or null. */
export function napiVersionOfHeaders(nodedir) {
  if (!nodedir) return null;
  try {
    const m = /#define NAPI_VERSION (\d+)\s*$/m.exec(readFileSync(join(nodedir, 'include', 'node', 'js_native_api.h'), 'utf8'));
    return m ? Number(m[1]) : null;
  } catch { return null; }
}

/**
 * Build native/binding.gyp in `staging` (created from native/binding.gyp and native/src).
 * opts.withGloo builds tensorslim_dist too; opts.env adds variables (CC, CXX, LDFLAGS, ...);
 * opts.extraArgs go to node-gyp (e.g. --arch=arm64). Returns { ok, output, release } where
 * release is the folder holding the built .node files.
 */
export function gypBuild(staging, opts = {}) {
  const gyp = findNodeGyp();
  if (!gyp) return { ok: false, output: 'node-gyp not found (npm ships it)', release: null };
  const args = [gyp, 'rebuild', '--jobs=max', ...(opts.extraArgs ?? [])];
  const nodedir = findNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  if (opts.withGloo) args.push('--', '-Dts_with_gloo=1');
  mkdirSync(staging, { recursive: true });
  copyFileSync(join(nativeDir, 'binding.gyp'), join(staging, 'binding.gyp'));
  cpSync(join(nativeDir, 'src'), join(staging, 'src'), { recursive: true });
  const r = spawnSync(process.execPath, args, {
    cwd: staging, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8',
    env: { ...process.env, JOBS: 'max', ...(opts.env ?? {}) },
  });
  const release = join(staging, 'build', 'Release');
  const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim() || r.error?.message || 'no output';
  return { ok: r.status === 0 && existsSync(join(release, 'tensorslim.node')), output, release };
}

/** The last `n` lines of a build's output. */
export function tail(text, n) {
  return text.split('\n').slice(-n).join('\n');
}
