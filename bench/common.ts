// What the peer-comparison runners in bench/ share: the peers' environment, running a command that
// prints one JSON object as its last stdout line, insisting that our side ran on the native backend,
// medians, the machine description, and the result-file scheme (bench/README.md):
//   bench/results/<bench>.json                        the newest record of each benchmark (current)
//   bench/results/history/<bench>-<YYYY-MM-DD-HH-MM-SS>.json   every record, one file per run
// Both are written atomically (a temporary file, then a rename).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from '../src/backend/machine.js';
import { median } from '../src/bench/machine.js';

/** The median of a non-empty list (src/bench's, so both sides compute it alike). */
export { median };

/** The repository root. */
export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where results go: current records here, every record under history/. */
export const resultsDir = join(root, 'bench', 'results');

/** One JSON object printed by a benchmark process; its fields depend on the benchmark. */
export type Json = Record<string, unknown>;

/**
 * The environment for numpy/PyTorch peers: this machine pins OPENBLAS_CORETYPE (and L2 size) to an
 * AVX2 kernel; unset, OpenBLAS picks its AVX-512 kernel, the peer at its best.
 * @example runJson('/usr/bin/python3', ['bench/peer_gpt.py', '10'], peerEnv())
 */
export function peerEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env['OPENBLAS_CORETYPE'];
  delete env['OPENBLAS_L2_SIZE'];
  return env;
}

/**
 * Runs a command and parses the last line of its stdout as JSON (of the shape the caller names as
 * `T`, unchecked); throws with its stderr on failure.
 * @example runJson('/usr/bin/python3', ['bench/peer_gemm_mlp.py', 'mlp'], peerEnv())['stepMs']
 */
export function runJson<T extends object = Json>(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): T {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`bench: ${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}`);
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`bench: ${cmd} ${args.join(' ')} printed no JSON line last (got '${last.slice(0, 200)}'); run it by hand to see its output`);
  }
}

/**
 * Runs one of our benchmarks (node with tsx, `args` after it) and returns its JSON, which must say
 * `machine.backend: 'native'`. A run that got the reference backend (the addon missing or broken)
 * is waited on and retried, never recorded.
 * @example runOursNative(['src/cli/main.ts', 'bench', 'gpt', '--json'])['stepMs']
 */
export function runOursNative<T extends object = Json>(args: readonly string[], env: NodeJS.ProcessEnv = process.env): T & { machine: Json } {
  for (let attempt = 1; ; attempt++) {
    const r = runJson<T & { machine: Json }>(process.execPath, ['--import', 'tsx', ...args], env);
    const backend = r.machine?.['backend'];
    if (backend === 'native') return r;
    const what = `${args.join(' ')} ran on the ${backend} backend`;
    if (attempt >= 10) throw new Error(`bench: ${what} 10 times; build the addon (node scripts/build-native.mjs)`);
    process.stderr.write(`${what} (addon missing?); retrying in 30 s\n`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000);
  }
}

/**
 * The machine description stored with every result: the backend and CPU path this process gets
 * (the same TENSORSLIM_CPU / TENSORSLIM_BACKEND as the runs it started), then what our run
 * reported (its own `cpuPath` and `backend` win), plus CPU, cores, memory, load.
 * @example machineInfo(ours['machine'] as Json).cpuPath // 'avx512'
 */
export function machineInfo(reported: Json = {}): Json {
  const up = spawnSync('uptime', { encoding: 'utf8' });
  const here = describeMachine();
  return {
    backend: here.backend, cpuPath: here.cpuPath,
    ...reported, cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), totalMemBytes: os.totalmem(),
    loadavgAtEnd: os.loadavg(), uptime: (up.stdout ?? '').trim(),
  };
}

/** Writes `value` as indented JSON to `file` atomically (temporary file + rename). */
export function writeJsonAtomic(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** The history file of a record of `bench` taken at ISO `date`. @example historyFile('gpt', '2026-11-25T03:04:10.415Z') // .../history/gpt-2026-11-25-03-04-10.json */
export function historyFile(bench: string, date: string): string {
  return join(resultsDir, 'history', `${bench}-${date.slice(0, 19).replace(/[:T]/g, '-')}.json`);
}

/**
 * Records one result of benchmark `bench`: writes it to its history file (named by `result.date`,
 * an ISO date) and, unless the current file holds a newer record, to bench/results/<bench>.json.
 * Writing the same record again (a soak rewriting itself at every sample) replaces both. Returns
 * both paths, relative to the repository root.
 * @example writeResult('gpt', { bench: 'gpt', date: new Date().toISOString(), ratios })
 */
export function writeResult(bench: string, result: Json & { date: string }): { current: string; history: string } {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(bench)) throw new Error(`bench writeResult: name '${bench}' must be lower-case letters, digits and '-'`);
  if (Number.isNaN(Date.parse(result.date))) throw new Error(`bench writeResult: ${bench} result has no ISO date (got '${String(result.date)}')`);
  const record: Json = { bench, ...result };
  record['bench'] = bench;
  const history = historyFile(bench, result.date);
  writeJsonAtomic(history, record);
  const current = join(resultsDir, `${bench}.json`);
  const previous = existsSync(current) ? (JSON.parse(readFileSync(current, 'utf8')) as { date?: string }).date : undefined;
  if (previous === undefined || Date.parse(previous) <= Date.parse(result.date)) writeJsonAtomic(current, record);
  return { current: relative(root, current), history: relative(root, history) };
}

/**
 * The TENSORSLIM_* variables of `env` (sorted), for a record's `knobs`: a measurement's process
 * inherits them, so a record without them cannot tell a default run from an experiment.
 * @example tensorslimKnobs() // { TENSORSLIM_GEMM_SCRATCH_MB: '100000' } when that one is set
 */
export function tensorslimKnobs(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('TENSORSLIM_') && e[1] !== undefined).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Records `result` (as writeResult does) with the run's knobs (tensorslimKnobs, less the names in
 * `nameKnobs`, which name the record instead, as TENSORSLIM_CPU does for '<bench>-avx2'): a run
 * with any other TENSORSLIM_* variable set (a non-default configuration, e.g. an experiment's
 * "before") writes only its dated history copy, so bench/results/<bench>.json keeps the last
 * default-configuration run. Returns the paths written.
 * @example writeResultUnlessKnobs('cnn-avx2', result, ['TENSORSLIM_CPU']) // { current: null, history: 'bench/results/history/cnn-avx2-...json' } with TENSORSLIM_POOL_MB set
 */
export function writeResultUnlessKnobs(bench: string, result: Json & { date: string }, nameKnobs: readonly string[] = []): { current: string | null; history: string } {
  const knobs = tensorslimKnobs();
  const record = { ...result, knobs };
  const experiment = Object.keys(knobs).filter((k) => !nameKnobs.includes(k));
  if (experiment.length === 0) return writeResult(bench, record);
  return writeHistoryOnly(bench, record, `non-default knobs ${JSON.stringify(knobs)}`);
}

/**
 * Writes only the dated history copy of a record (never bench/results/<bench>.json), saying why on
 * stderr: for runs that must not replace the current record (knobs set, a partial run).
 * @example writeHistoryOnly('gemm-shapes', result, '--only: a partial record')
 */
export function writeHistoryOnly(bench: string, result: Json & { date: string }, why: string): { current: null; history: string } {
  const history = relative(root, historyFile(bench, result.date));
  writeJsonAtomic(join(root, history), { bench, ...result });
  process.stderr.write(`${bench}: ${why}: wrote only the history copy ${history}\n`);
  return { current: null, history };
}
