// Paired, interleaved comparison of tensorslim with a peer (bench/README.md "How the ratios are
// measured"): both sides run as long-lived worker processes (ours: bench/paired_worker.ts; the peer:
// a bench/peer_*.py with --serve), started once and warmed up, that answer "time K iterations of
// workload W" requests (src/bench/worker.ts's protocol). The driver then alternates short windows
// (BENCH_WINDOW_S, default 0.1 s: shorter windows and more rounds held the ratio stiller than 0.3 or
// 0.5 s, bench/README.md) of the two sides for many rounds, the order flipping every round, so drift
// of the host (turbo, neighbours, thermal) hits both sides of a round alike; what is reported is
// the median of the per-round ratios and a bootstrap 90% interval of that median.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { machineInfo, median, root, type Json } from './common.js';

/** A running worker process: `request` sends one JSON request and resolves with its reply. */
export interface Worker {
  label: string;
  request: (req: Json) => Promise<Json>;
  /** Sends "quit" and waits for the process to end. */
  close: () => Promise<void>;
}

/**
 * Starts a worker (ours or a peer's) with piped stdin/stdout. Lines of its stdout that are not JSON
 * objects are passed to our stderr; a reply with `error`, or the process ending while a request
 * waits, rejects with the worker's stderr tail.
 * @example const peer = startWorker('peer', '/usr/bin/python3', ['bench/peer_gemm_mlp.py', '--serve', 'gemm:1024'], peerEnv());
 */
export function startWorker(label: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Worker {
  const proc: ChildProcessWithoutNullStreams = spawn(cmd, args, { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderrTail = '';
  proc.stderr.on('data', (d: Buffer) => { stderrTail = (stderrTail + d.toString()).slice(-4000); });
  const waiting: { resolve: (v: Json) => void; reject: (e: Error) => void; req: Json }[] = [];
  let ended: Error | null = null;
  const fail = (e: Error): void => { ended = e; for (const w of waiting.splice(0)) w.reject(e); };
  createInterface({ input: proc.stdout }).on('line', (line) => {
    let reply: Json;
    try {
      reply = JSON.parse(line) as Json;
      if (typeof reply !== 'object' || reply === null) throw new Error('not an object');
    } catch {
      process.stderr.write(`[${label}] ${line}\n`);
      return;
    }
    const w = waiting.shift();
    if (w === undefined) return;
    if (reply['error'] !== undefined) w.reject(new Error(`bench paired: ${label} answered ${JSON.stringify(w.req)} with: ${String(reply['error'])}`));
    else w.resolve(reply);
  });
  proc.on('error', (e) => fail(new Error(`bench paired: could not start ${label} (${cmd}): ${e.message}`)));
  const exited = new Promise<void>((resolve) => proc.on('close', (code) => {
    fail(new Error(`bench paired: ${label} (${cmd} ${args.join(' ')}) ended (exit ${code}) with requests pending; its stderr: ${stderrTail}`));
    resolve();
  }));
  const request = (req: Json): Promise<Json> => new Promise((resolve, reject) => {
    if (ended) { reject(ended); return; }
    waiting.push({ resolve, reject, req });
    proc.stdin.write(`${JSON.stringify(req)}\n`);
  });
  return {
    label, request,
    close: async () => {
      if (!ended) await request({ op: 'quit' }).catch(() => undefined);
      proc.stdin.end();
      await exited;
    },
  };
}

/** One row of a paired comparison: which workload of each worker, and how to read the ratio. */
export interface PairedWorkload {
  /** The row's name in the record (e.g. 'gemm1024'). */
  name: string;
  /** The workload names in our worker and in the peer's. */
  ours: string;
  peer: string;
  /**
   * 'time': ratio = ours' time per iteration / the peer's (below 1: we are faster);
   * 'rate': ratio = the peer's time / ours (a throughput ratio, above 1: we are faster).
   */
  ratio: 'time' | 'rate';
  /** Peer thread counts to try in the warm-up (the faster is kept for the rounds); none: as started. */
  peerThreads?: number[];
}

/** A ratio's median over rounds and its spread. */
export interface RatioSummary {
  /** Median of the per-round ratios. */
  median: number;
  /** 25th and 75th percentiles of the per-round ratios (half the rounds fall inside). */
  iqr: [number, number];
  /** Bootstrap 90% interval of the median (rounds resampled with replacement, 2000 times). */
  ci90: [number, number];
  /** Per-round ratios, in round order. */
  perRound: number[];
}

/** What pairedRun measured for one workload. */
export interface PairedRow {
  name: string;
  ratioKind: 'time' | 'rate';
  rounds: number;
  /** Iterations per window, each side (calibrated in the warm-up to ~windowS). */
  iters: { ours: number; peer: number };
  /** Median ms per iteration over the rounds, wall and process CPU, each side. */
  oursWallMs: number;
  peerWallMs: number;
  oursCpuMs: number;
  peerCpuMs: number;
  wall: RatioSummary;
  cpu: RatioSummary;
  /** Per-round ms per iteration, each side, and who went first each round. */
  raw: { oursWallMs: number[]; peerWallMs: number[]; oursCpuMs: number[]; peerCpuMs: number[]; oursFirst: boolean[] };
  /** Peer threads: each tried count's median ms per iteration in the warm-up, and the one kept. */
  peerThreads?: { tried: Record<string, number>; kept: number };
}

/** The p-th quantile (0..1) of `xs`, linear between order statistics. @example quantile([1, 2, 3, 4], 0.5) // 2.5 */
export function quantile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i);
  return s[lo]! + (s[hi]! - s[lo]!) * (i - lo);
}

/**
 * The median of `xs` with its interquartile range and a percentile-bootstrap 90% interval of the
 * median (2000 resamples, a fixed seed, so a record recomputes to the same interval).
 * @example summarizeRatios([0.9, 1.0, 1.1]).median // 1.0
 */
export function summarizeRatios(xs: readonly number[]): RatioSummary {
  let seed = 0x2545f491;
  const rand = (): number => {  // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const meds: number[] = [];
  for (let b = 0; b < 2000; b++) meds.push(median(xs.map(() => xs[Math.floor(rand() * xs.length)]!)));
  return { median: median([...xs]), iqr: [quantile(xs, 0.25), quantile(xs, 0.75)], ci90: [quantile(meds, 0.05), quantile(meds, 0.95)], perRound: [...xs] };
}

async function timeWindow(w: Worker, workload: string, iters: number): Promise<{ wall: number; cpu: number }> {
  const r = await w.request({ op: 'time', workload, iters });
  return { wall: r['wallMsPerIter'] as number, cpu: r['cpuMsPerIter'] as number };
}

/**
 * Iterations that fill about `windowS` seconds: one untimed iteration, then timed runs of 1, 4,
 * 16, ... iterations until one lasts at least a quarter of the window (a single iteration's time
 * is too noisy to size the window on).
 */
async function calibrate(w: Worker, workload: string, windowS: number): Promise<number> {
  await timeWindow(w, workload, 1);
  for (let k = 1; ; k *= 4) {
    const t = await timeWindow(w, workload, k);
    if (t.wall * k >= (windowS * 1000) / 4 || k >= 4096) return Math.max(1, Math.min(100000, Math.round((windowS * 1000) / t.wall)));
  }
}

/** Settings of pairedRun. */
export interface PairedOptions {
  ours: Worker;
  peer: Worker;
  workloads: PairedWorkload[];
  /** Rounds (default 61); each round times every workload once on each side. */
  rounds?: number;
  /** Seconds per window (default 0.1; at least one iteration). */
  windowS?: number;
  /**
   * Pause between windows, ms (default 150): the side that just ran puts its idle threads to sleep
   * (OpenBLAS's spin for up to 2^28 cycles, ~0.1 s here, after a call) before the other side's window.
   */
  settleMs?: number;
  /** Called with one line of progress per round (default: stderr). */
  log?: (line: string) => void;
}

/**
 * Warm both workers up, calibrate each side's window, pick the peer's faster thread count where
 * asked, then run the rounds: per round and workload one window of each side, the order flipping
 * every round. Returns one row per workload and the 1-minute load average at each round's start.
 * @example const { rows } = await pairedRun({ ours, peer, workloads: [{ name: 'gemm1024', ours: 'gemm:1024', peer: 'gemm:1024', ratio: 'rate' }] });
 */
export async function pairedRun(opts: PairedOptions): Promise<{ rows: PairedRow[]; loadavg: number[]; windowS: number; settleMs: number }> {
  const rounds = opts.rounds ?? 61, windowS = opts.windowS ?? 0.1, settleMs = opts.settleMs ?? 150;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`bench pairedRun: rounds must be a positive integer, got ${rounds}`);
  if (!(windowS > 0)) throw new Error(`bench pairedRun: windowS must be positive seconds, got ${windowS}`);
  let peerThreadsNow: number | undefined;
  const setPeerThreads = async (n: number | undefined): Promise<void> => {
    if (n === undefined || n === peerThreadsNow) return;
    await opts.peer.request({ op: 'threads', threads: n });
    peerThreadsNow = n;
  };
  type State = { w: PairedWorkload; itersOurs: number; itersPeer: number; kept?: number; tried?: Record<string, number>; row: PairedRow['raw'] };
  const states: State[] = [];
  for (const w of opts.workloads) {
    const itersOurs = await calibrate(opts.ours, w.ours, windowS);
    let itersPeer: number, kept: number | undefined, tried: Record<string, number> | undefined;
    if (w.peerThreads && w.peerThreads.length > 0) {
      // the peer at its best: each thread count gets 3 windows, alternating, the fastest median kept
      const iters: Record<string, number> = {}, times: Record<string, number[]> = {};
      for (const t of w.peerThreads) { await setPeerThreads(t); iters[t] = await calibrate(opts.peer, w.peer, windowS / 2); times[t] = []; }
      for (let rep = 0; rep < 3; rep++) {
        for (const t of w.peerThreads) { await setPeerThreads(t); times[t]!.push((await timeWindow(opts.peer, w.peer, iters[t]!)).wall); }
      }
      tried = Object.fromEntries(w.peerThreads.map((t) => [String(t), median(times[t]!)]));
      kept = w.peerThreads.reduce((a, b) => (tried![String(b)]! < tried![String(a)]! ? b : a));
      await setPeerThreads(kept);
      itersPeer = await calibrate(opts.peer, w.peer, windowS);
    } else {
      itersPeer = await calibrate(opts.peer, w.peer, windowS);
    }
    // one full window each, discarded: caches, pools and the allocator at their steady state
    await timeWindow(opts.ours, w.ours, itersOurs);
    await timeWindow(opts.peer, w.peer, itersPeer);
    log(`warm-up ${w.name}: ${itersOurs} iteration(s) a window ours, ${itersPeer} the peer's${kept !== undefined ? ` (peer threads ${JSON.stringify(tried)} ms, kept ${kept})` : ''}`);
    states.push({ w, itersOurs, itersPeer, kept, tried, row: { oursWallMs: [], peerWallMs: [], oursCpuMs: [], peerCpuMs: [], oursFirst: [] } });
  }
  const loadavg: number[] = [];
  for (let r = 0; r < rounds; r++) {
    loadavg.push(os.loadavg()[0]!);
    const parts: string[] = [];
    for (const s of states) {
      const oursFirst = r % 2 === 0;
      for (const side of oursFirst ? ['ours', 'peer'] : ['peer', 'ours']) {
        await sleep(settleMs);
        if (side === 'ours') {
          const t = await timeWindow(opts.ours, s.w.ours, s.itersOurs);
          s.row.oursWallMs.push(t.wall); s.row.oursCpuMs.push(t.cpu);
        } else {
          await setPeerThreads(s.kept);
          const t = await timeWindow(opts.peer, s.w.peer, s.itersPeer);
          s.row.peerWallMs.push(t.wall); s.row.peerCpuMs.push(t.cpu);
        }
      }
      s.row.oursFirst.push(oursFirst);
      parts.push(`${s.w.name} ${ratioOf(s.w.ratio, s.row.oursWallMs.at(-1)!, s.row.peerWallMs.at(-1)!).toFixed(3)}`);
    }
    log(`round ${r + 1}/${rounds} (load ${loadavg.at(-1)!.toFixed(1)}): ${parts.join(', ')}`);
  }
  const rows = states.map((s) => rowOf(s.w.name, s.w.ratio, { ours: s.itersOurs, peer: s.itersPeer }, s.row,
    s.kept !== undefined ? { tried: s.tried!, kept: s.kept } : undefined));
  return { rows, loadavg, windowS, settleMs };
}

function rowOf(name: string, kind: 'time' | 'rate', iters: PairedRow['iters'], raw: PairedRow['raw'], peerThreads: PairedRow['peerThreads']): PairedRow {
  const per = (o: number[], p: number[]): number[] => o.map((v, i) => ratioOf(kind, v, p[i]!));
  return {
    name, ratioKind: kind, rounds: raw.oursWallMs.length, iters,
    oursWallMs: median(raw.oursWallMs), peerWallMs: median(raw.peerWallMs), oursCpuMs: median(raw.oursCpuMs), peerCpuMs: median(raw.peerCpuMs),
    wall: summarizeRatios(per(raw.oursWallMs, raw.peerWallMs)), cpu: summarizeRatios(per(raw.oursCpuMs, raw.peerCpuMs)),
    raw, ...(peerThreads !== undefined ? { peerThreads } : {}),
  };
}

/**
 * One row from the same workload's rows of several sessions (fresh worker pairs): the rounds
 * pooled, each session's own median ratio kept in `sessions` (a per-process effect shows as
 * sessions whose medians differ by more than their rounds' spread). Iterations and the peer's
 * threads are the first session's, every session's listed.
 */
function mergeRows(rows: PairedRow[]): PairedRow & { sessions?: Json[] } {
  if (rows.length === 1) return rows[0]!;
  const cat = (k: keyof PairedRow['raw']): never[] => rows.flatMap((r) => r.raw[k] as never[]);
  const raw = { oursWallMs: cat('oursWallMs'), peerWallMs: cat('peerWallMs'), oursCpuMs: cat('oursCpuMs'), peerCpuMs: cat('peerCpuMs'), oursFirst: cat('oursFirst') };
  const first = rows[0]!;
  return {
    ...rowOf(first.name, first.ratioKind, first.iters, raw, first.peerThreads),
    sessions: rows.map((r) => ({ rounds: r.rounds, wall: r.wall.median, cpu: r.cpu.median, wallCi90: r.wall.ci90, iters: r.iters, ...(r.peerThreads ? { peerThreads: r.peerThreads } : {}) })),
  };
}

function ratioOf(kind: 'time' | 'rate', ours: number, peer: number): number {
  return kind === 'time' ? ours / peer : peer / ours;
}

/**
 * The record's description of the method, stored with every paired result.
 * @example record.method = pairedMethod(61, 0.1, 150, 1)
 */
export function pairedMethod(rounds: number, windowS: number, settleMs: number, sessions = 1): Json {
  return {
    kind: 'paired', rounds, windowS, settleMs, sessions,
    description: `both sides in long-lived worker processes${sessions > 1 ? ` (${sessions} sessions of fresh workers, the rounds pooled)` : ''}, warmed up, then ${rounds} rounds of one ~${windowS} s window per side and workload, `
      + `the order flipping every round, ${settleMs} ms between windows; ratios are medians of the per-round ratios; iqr: their 25th-75th percentiles; `
      + 'ci90: a percentile-bootstrap 90% interval of that median (2000 resamples of the rounds)',
  };
}

/**
 * Our worker: bench/paired_worker.ts with the given workload specs, on the native backend (its
 * "info" must say so; a worker on the reference backend is stopped and the run refused).
 * @example const ours = await startOursWorker(['gemm:1024'], 1)
 */
export async function startOursWorker(specs: readonly string[], threads: number, env: NodeJS.ProcessEnv = process.env): Promise<{ worker: Worker; info: Json }> {
  const worker = startWorker('tensorslim', process.execPath, ['--import', 'tsx', 'bench/paired_worker.ts', '--threads', String(threads), ...specs], env);
  const info = await worker.request({ op: 'info' });
  if (info['backend'] !== 'native') {
    await worker.close();
    throw new Error(`bench paired: our worker runs on the ${String(info['backend'])} backend; build the addon (node scripts/build-native.mjs)`);
  }
  return { worker, info };
}

/**
 * A row's interval entries for a record's `intervals`: the median of the per-round ratios with
 * their interquartile range and bootstrap 90% interval, wall and CPU, under the given keys.
 * @example intervalsOf(row, 'gemm1024PairedVsOpenblas', 'gemmCpu1024PairedVsOpenblas')
 */
export function intervalsOf(row: PairedRow, wallKey: string, cpuKey: string): Record<string, Json> {
  const one = (s: RatioSummary): Json => ({ median: s.median, iqr: s.iqr, ci90: s.ci90, rounds: s.perRound.length });
  return { [wallKey]: one(row.wall), [cpuKey]: one(row.cpu) };
}

/**
 * Runs `pairedRun` on `sessions` fresh pairs of workers in turn (BENCH_SESSIONS, default 1), each for
 * its share of `rounds` (rounded up), closing both workers however a session ends; the rows pool the
 * sessions' rounds (`sessions` lists each one's median). Returns them with the last workers' "info"
 * replies (the peer's configuration, each side's peak RSS).
 * @example const r = await pairedSession(() => startOursWorker(['gpt'], 2), () => startWorker('peer', py, args, env), { workloads, rounds: 61 })
 */
export async function pairedSession(
  startOurs: () => Promise<{ worker: Worker; info: Json }>, startPeer: () => Worker, opts: Omit<PairedOptions, 'ours' | 'peer'>,
): Promise<Awaited<ReturnType<typeof pairedRun>> & { oursInfo: Json; peerInfo: Json; sessions: number }> {
  const sessions = Number(process.env['BENCH_SESSIONS'] ?? 1);
  if (!Number.isInteger(sessions) || sessions < 1) throw new Error(`bench: BENCH_SESSIONS must be a positive integer, got '${process.env['BENCH_SESSIONS']}'`);
  const perSession = Math.ceil((opts.rounds ?? 61) / sessions);
  const runs: (Awaited<ReturnType<typeof pairedRun>> & { oursInfo: Json; peerInfo: Json })[] = [];
  for (let k = 0; k < sessions; k++) {
    if (sessions > 1) (opts.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(`session ${k + 1}/${sessions}: fresh workers`);
    const ours = await startOurs();
    const peer = startPeer();
    try {
      const run = await pairedRun({ ...opts, rounds: perSession, ours: ours.worker, peer });
      runs.push({ ...run, oursInfo: await ours.worker.request({ op: 'info' }), peerInfo: await peer.request({ op: 'info' }) });
    } finally {
      await Promise.all([ours.worker.close(), peer.close()]);
    }
  }
  const last = runs.at(-1)!;
  return {
    ...last, sessions,
    rows: last.rows.map((_, j) => mergeRows(runs.map((r) => r.rows[j]!))),
    loadavg: runs.flatMap((r) => r.loadavg),
  };
}

/** The window length: BENCH_WINDOW_S, else `defaultS` seconds. @example pairedRun({ ..., windowS: windowSeconds() }) */
export function windowSeconds(defaultS = 0.1): number {
  const w = Number(process.env['BENCH_WINDOW_S'] ?? defaultS);
  if (!(w > 0)) throw new Error(`bench: BENCH_WINDOW_S must be a positive number of seconds, got '${process.env['BENCH_WINDOW_S']}'`);
  return w;
}

/**
 * The fields every paired record starts with: date, machine (with our worker's report: backend,
 * CPU path, threads), method, rounds, the load at each round, and our side's threads and CPU path.
 * @example done({ ...pairedRecordBase(run, 0.1), medians, ratios })
 */
export function pairedRecordBase(run: { oursInfo: Json; settleMs: number; loadavg: number[]; sessions: number; rows: PairedRow[] }, windowS: number): Json & { date: string } {
  const rounds = run.rows[0]?.rounds ?? 0;
  return {
    date: new Date().toISOString(), machine: machineInfo(run.oursInfo), method: pairedMethod(rounds, windowS, run.settleMs, run.sessions), rounds, loadavg: run.loadavg,
    ours: { threads: run.oursInfo['threads'], cpuPath: run.oursInfo['cpuPath'] },
  };
}
