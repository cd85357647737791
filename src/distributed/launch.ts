// The library side of `tensorslim launch`: start one worker process per local rank with the launch
// contract in its environment (TENSORSLIM_* and torchrun's names), prefix each output line with the
// worker's rank, and when one worker fails stop the others and report which rank failed; with
// maxRestarts, start the whole node's group again (the workers see TENSORSLIM_RESTART_COUNT and
// resume from their last checkpoint themselves).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Env } from './env.js';
import { DEFAULT_MASTER_PORT } from './env.js';

export interface LaunchOptions {
  /** Worker processes on this node. */
  nprocPerNode: number;
  /** Nodes in the job (default 1). */
  nnodes?: number;
  /** This node's index, 0..nnodes-1 (default 0). */
  nodeRank?: number;
  /** Rank 0's host (default 127.0.0.1). */
  masterAddr?: string;
  /** Rank 0's store port (default 29500). */
  masterPort?: number;
  /** The worker command: executable and arguments. */
  command: readonly string[];
  /** Base environment of the workers (default process.env). */
  env?: Env;
  /** Receives every output line of every worker (default: none). */
  onLine?: (rank: number, stream: 'stdout' | 'stderr', line: string) => void;
  /** After the first failure, how long the others get after SIGTERM before SIGKILL (default 5 s). */
  killGraceMs?: number;
  /** Restart all workers of this node after a failure, at most this many times (default 0). */
  maxRestarts?: number;
  /** Told about each restart (default: none). */
  onRestart?: (attempt: number, failure: LaunchResult) => void;
}

export interface LaunchResult {
  /** 0 when every worker exited 0; else the failed worker's exit code (1 if it died by a signal). */
  exitCode: number;
  /** The global rank that failed first, or null. */
  failedRank: number | null;
  /** A one-line summary ("rank 1 exited with code 3; stopped ranks 0, 2"). */
  message: string;
  /** Restarts used (0 when the first attempt settled it). */
  restarts: number;
}

/** A running launch: `done` settles when every worker has exited; `stop` terminates them. */
export interface LaunchHandle {
  readonly done: Promise<LaunchResult>;
  readonly pids: readonly number[];
  stop(signal?: NodeJS.Signals): void;
}

/**
 * The environment of one worker: the base environment plus the launch contract.
 * @example workerEnv({}, { rank: 1, worldSize: 2, localRank: 1, localWorldSize: 2, nodeRank: 0, masterAddr: '127.0.0.1', masterPort: 29500 })['RANK'] // '1'
 */
export function workerEnv(base: Env, w: { rank: number; worldSize: number; localRank: number; localWorldSize: number; nodeRank: number; masterAddr: string; masterPort: number; token?: string; restartCount?: number; maxRestarts?: number }): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  delete env['TORCHELASTIC_USE_AGENT_STORE']; // we are the launcher now: no agent store listens
  const contract: Record<string, string | number> = {
    RANK: w.rank, WORLD_SIZE: w.worldSize, LOCAL_RANK: w.localRank, LOCAL_WORLD_SIZE: w.localWorldSize, GROUP_RANK: w.nodeRank,
    MASTER_ADDR: w.masterAddr, MASTER_PORT: w.masterPort,
  };
  for (const [k, v] of Object.entries(contract)) { env[k] = String(v); env[`TENSORSLIM_${k}`] = String(v); }
  env['TENSORSLIM_RESTART_COUNT'] = env['TORCHELASTIC_RESTART_COUNT'] = String(w.restartCount ?? 0);
  env['TORCHELASTIC_MAX_RESTARTS'] = String(w.maxRestarts ?? 0);
  if (w.token !== undefined) env['TENSORSLIM_DIST_TOKEN'] = w.token;
  return env;
}

/**
 * Starts `nprocPerNode` workers of `command` with the launch contract and supervises them.
 * @example
 * const h = launch({ nprocPerNode: 2, command: [process.execPath, 'train.js'], onLine: (r, _s, l) => console.log(`[rank ${r}] ${l}`) });
 * const { exitCode } = await h.done;
 */
export function launch(opts: LaunchOptions): LaunchHandle {
  const nnodes = opts.nnodes ?? 1;
  const nodeRank = opts.nodeRank ?? 0;
  const n = opts.nprocPerNode;
  if (!Number.isInteger(n) || n < 1) throw new Error(`launch: --nproc-per-node must be a positive integer, got ${n}`);
  if (!Number.isInteger(nnodes) || nnodes < 1) throw new Error(`launch: --nnodes must be a positive integer, got ${nnodes}`);
  if (!Number.isInteger(nodeRank) || nodeRank < 0 || nodeRank >= nnodes) throw new Error(`launch: --node-rank ${nodeRank} is out of range for ${nnodes} nodes (0..${nnodes - 1})`);
  if (opts.command.length === 0) throw new Error('launch: no worker command given (a script, or -- followed by a command)');
  const base = opts.env ?? process.env;
  // One node: a fresh random token per launch. Several nodes must share one: TENSORSLIM_DIST_TOKEN,
  // else the workers derive one from the job's address (documented as not secret).
  const token = base['TENSORSLIM_DIST_TOKEN'] ?? (nnodes === 1 ? randomBytes(24).toString('hex') : undefined);
  const worldSize = n * nnodes;
  const masterAddr = opts.masterAddr ?? '127.0.0.1';
  const masterPort = opts.masterPort ?? DEFAULT_MASTER_PORT;
  const grace = opts.killGraceMs ?? 5000;
  const maxRestarts = opts.maxRestarts ?? 0;
  if (!Number.isInteger(maxRestarts) || maxRestarts < 0) throw new Error(`launch: --max-restarts must be a non-negative integer, got ${maxRestarts}`);
  let children: ChildProcess[] = [];
  let stopped = false;
  const pids: number[] = [];
  const kill = (list: readonly ChildProcess[], signal: NodeJS.Signals): void => {
    for (const c of list) if (c.exitCode === null && c.signalCode === null) c.kill(signal);
  };

  const attempt = (restartCount: number): Promise<LaunchResult> => {
    let failed: { rank: number; code: number; how: string } | null = null;
    const mine: ChildProcess[] = []; // this attempt's workers: a late SIGKILL must not reach the next attempt's
    children = mine;
    const stopAll = (signal: NodeJS.Signals): void => kill(mine, signal);
    const exits = Array.from({ length: n }, (_, local) => {
      const rank = nodeRank * n + local;
      const env = workerEnv(base, { rank, worldSize, localRank: local, localWorldSize: n, nodeRank, masterAddr, masterPort, token, restartCount, maxRestarts });
      const child = spawn(opts.command[0]!, opts.command.slice(1), { env, stdio: ['inherit', 'pipe', 'pipe'] });
      mine.push(child);
      pids[local] = child.pid ?? -1;
      for (const stream of ['stdout', 'stderr'] as const) {
        let partial = '';
        child[stream]!.setEncoding('utf8');
        child[stream]!.on('data', (d: string) => {
          const lines = (partial + d).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) opts.onLine?.(rank, stream, l);
        });
        child[stream]!.on('end', () => { if (partial !== '') opts.onLine?.(rank, stream, partial); partial = ''; });
      }
      return new Promise<void>((resolve) => {
        child.on('error', (e) => {
          failed ??= { rank, code: 127, how: `could not start (${e.message})` };
          stopAll('SIGTERM');
          resolve();
        });
        child.on('close', (code, signal) => {
          if ((code !== 0 || signal !== null) && failed === null) {
            failed = { rank, code: code ?? 1, how: signal !== null ? `was killed by ${signal}` : `exited with code ${code}` };
            stopAll('SIGTERM');
            setTimeout(() => stopAll('SIGKILL'), grace).unref();
          }
          resolve();
        });
      });
    });
    return Promise.all(exits).then((): LaunchResult => {
      const f = failed as { rank: number; code: number; how: string } | null;
      if (f === null) return { exitCode: 0, failedRank: null, message: `all ${n} workers exited 0`, restarts: restartCount };
      const others = Array.from({ length: n }, (_, l) => nodeRank * n + l).filter((r) => r !== f.rank);
      return { exitCode: f.code === 0 ? 1 : f.code, failedRank: f.rank, restarts: restartCount, message: `rank ${f.rank} ${f.how}${others.length > 0 ? `; stopped the other ranks on this node (${others.join(', ')})` : ''}` };
    });
  };

  const done = (async (): Promise<LaunchResult> => {
    for (let k = 0; ; k++) {
      const r = await attempt(k);
      if (r.exitCode === 0 || stopped || k >= maxRestarts) {
        return k > 0 && r.exitCode !== 0 ? { ...r, message: `${r.message} (after ${k} restart${k === 1 ? '' : 's'}, the most --max-restarts allows)` } : r;
      }
      opts.onRestart?.(k + 1, r);
    }
  })();
  return { done, pids, stop: (signal = 'SIGTERM') => { stopped = true; kill(children, signal); } };
}
