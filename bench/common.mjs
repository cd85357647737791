// What the peer-comparison scripts (bench/run*.mjs) share: the peers' environment, running a
// command that prints one JSON object as its last stdout line, insisting that our side ran on the
// native backend, medians, the machine description, and writing a result file atomically.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The environment for numpy/PyTorch peers: this machine pins OPENBLAS_CORETYPE (and L2 size) to an
 * AVX2 kernel; unset, OpenBLAS picks its AVX-512 kernel, the peer at its best.
 */
export function peerEnv() {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** Runs a command and parses the last line of its stdout as JSON; throws with its stderr on failure. */
export function runJson(cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

/**
 * Runs one of our benchmarks (node with tsx, `args` after it) and returns its JSON, which must say
 * `machine.backend: 'native'`. A run that got the reference backend (the addon missing or broken)
 * is waited on and retried, never recorded.
 */
export function runOursNative(args, env = process.env) {
  for (let attempt = 1; ; attempt++) {
    const r = runJson(process.execPath, ['--import', 'tsx', ...args], env);
    if (r.machine?.backend === 'native') return r;
    const what = `${args.join(' ')} ran on the ${r.machine?.backend} backend`;
    if (attempt >= 10) throw new Error(`${what} 10 times; build the addon (node scripts/build-native.mjs)`);
    process.stderr.write(`${what} (addon missing?); retrying in 30 s\n`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000);
  }
}

/** The median of a list of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The machine description stored with every result: what our run reported plus CPU, cores, memory, load. */
export function machineInfo(reported = {}) {
  const up = spawnSync('uptime', { encoding: 'utf8' });
  return {
    ...reported, cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), totalMemBytes: os.totalmem(),
    loadavgAtEnd: os.loadavg(), uptime: (up.stdout ?? '').trim(),
  };
}

/** Writes `result` to bench/results/<prefix><date>.json atomically (temporary file + rename); returns the path. */
export function writeResult(prefix, result, date = new Date().toISOString()) {
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  const file = join(root, 'bench', 'results', `${prefix}${date.slice(0, 19).replace(/[:T]/g, '-')}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  return file;
}
