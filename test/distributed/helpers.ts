// Spawns worker processes for the distributed tests (loopback, a random free port) and holds the one
// skip rule: without the Gloo addon these tests skip with the reason. Every run is bounded by a timeout.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeEntry } from '../helpers/paths.js';
import { nativePassOnly, requireOrSkip } from '../helpers/requirements.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The skip reason for tests that need Gloo (false when the addon is available); a failure in CI (test/helpers/requirements.ts). */
export function glooSkip(): string | false {
  // collectives, launchers and DDP's bookkeeping are the subject here, not the kernels: once per npm test
  return nativePassOnly('distributed training (Gloo collectives, launchers, DDP)') || requireOrSkip('gloo');
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface WorkerResult { rank: number; code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }

/**
 * Runs `workers/<name>.ts` as `n` ranks (env: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, a token)
 * and resolves when all exit; after `timeoutMs` the rest are killed (and the result says so).
 * `perRank(rank)` may add or override environment variables; `prefix(rank)` runs the worker under a
 * wrapper command (e.g. `ip netns exec NS`). `killWhenOthersExit: K` SIGKILLs rank K as soon as every
 * other rank has exited (a deliberately hung rank, which would otherwise sleep out its hang).
 */
export async function runWorkers(name: string, n: number, opts: { timeoutMs?: number; args?: string[]; perRank?: (rank: number) => Record<string, string | undefined>; onSpawn?: (rank: number, pid: number) => void; prefix?: (rank: number) => string[]; killWhenOthersExit?: number } = {}): Promise<WorkerResult[]> {
  const port = await freePort();
  const started = Date.now();
  const script = join(here, 'workers', `${name}.ts`);
  const procs = Array.from({ length: n }, (_, rank) => {
    const env: Record<string, string | undefined> = {
      ...process.env, RANK: String(rank), WORLD_SIZE: String(n), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(n),
      MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), TENSORSLIM_DIST_TOKEN: 'test-token', TENSORSLIM_NUM_THREADS: '1',
      ...opts.perRank?.(rank),
    };
    const argv = [...(opts.prefix?.(rank) ?? []), process.execPath, ...nodeEntry(script), ...(opts.args ?? [])];
    const p = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    if (p.pid !== undefined) opts.onSpawn?.(rank, p.pid);
    return p;
  });
  const timer = setTimeout(() => { for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL'); }, opts.timeoutMs ?? 60_000);
  const hung = opts.killWhenOthersExit;
  if (hung !== undefined) {
    let left = n - 1;
    procs.forEach((p, rank) => { if (rank !== hung) p.once('close', () => { if (--left === 0 && procs[hung]!.exitCode === null) procs[hung]!.kill('SIGKILL'); }); });
  }
  const results = await Promise.all(procs.map((p, rank) => new Promise<WorkerResult>((resolve) => {
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('close', (code, signal) => resolve({ rank, code, signal, stdout, stderr, ms: Date.now() - started }));
  })));
  clearTimeout(timer);
  return results;
}

/** The last JSON line a worker printed. */
export function lastJson<T>(r: WorkerResult): T {
  const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('{'));
  if (lines.length === 0) throw new Error(`rank ${r.rank} printed no result (code ${String(r.code)}):\n${r.stderr}`);
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/**
 * Collective timeout for workers that compute between collectives (model forward/backward): on a
 * machine shared by many jobs a rank can fall minutes behind another, which the default 30 s would
 * report as a hung rank.
 */
export const SLOW_MACHINE_TIMEOUT_MS = 150_000;
