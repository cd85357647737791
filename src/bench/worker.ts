// A benchmark worker: a long-lived process that builds its workloads once and then answers timing
// requests, one JSON line in and one JSON line out, so a driver (bench/paired.ts) can alternate
// short timing windows of two such processes, ours and a peer's, for many rounds. The Python peers
// speak the same protocol (bench/peer_common.py `serve`).
//
// Requests (stdin, one JSON object a line):
//   {"op":"time","workload":W,"iters":K}   run workload W K times back to back
//   {"op":"threads","threads":N}            set the kernel threads (replies as "info" does)
//   {"op":"info"}                          the worker's description (machine, threads, peak RSS)
//   {"op":"quit"}                          reply, then stop reading
// Replies (stdout, one JSON object a line): "time" -> {op, workload, iters, wallMs, cpuMs,
// wallMsPerIter, cpuMsPerIter}, wall from a monotonic clock and CPU from the process's user +
// system time (all threads) over the same window; a failed request -> {op, error}.

import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** A JSON object as the protocol carries it. */
export type WorkerJson = Record<string, unknown>;

/** The reply to a "time" request: one timing window. */
export interface WindowReply {
  op: 'time';
  workload: string;
  iters: number;
  /** Wall-clock milliseconds of the whole window. */
  wallMs: number;
  /** Process CPU milliseconds (user + system, all threads) over the window. */
  cpuMs: number;
  wallMsPerIter: number;
  cpuMsPerIter: number;
}

/** What a worker serves: its workloads by name, its description, and how to set its threads. */
export interface WorkerSpec {
  workloads: Record<string, () => unknown>;
  info: () => WorkerJson;
  setThreads?: (threads: number) => void;
}

/**
 * Answer one request line: the reply object, or an `{op, error}` reply for a malformed request or
 * a workload that threw. Returns `null` for a blank line.
 * @example
 * handleWorkerRequest({ workloads: { noop: () => 0 }, info: () => ({}) }, '{"op":"time","workload":"noop","iters":3}')
 * // { op: 'time', workload: 'noop', iters: 3, wallMs: ..., cpuMs: ..., ... }
 */
export function handleWorkerRequest(spec: WorkerSpec, line: string): WorkerJson | null {
  if (line.trim() === '') return null;
  let req: WorkerJson;
  try {
    req = JSON.parse(line) as WorkerJson;
  } catch {
    return { op: 'unknown', error: `bench worker: request '${line.slice(0, 100)}' is not JSON; send one JSON object a line` };
  }
  const op = String(req['op']);
  try {
    if (op === 'time') return timeWindow(spec, req['workload'], req['iters']) as unknown as WorkerJson;
    if (op === 'threads') {
      const n = req['threads'];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new Error(`threads must be a positive integer, got ${JSON.stringify(n)}`);
      if (spec.setThreads === undefined) throw new Error('this worker cannot change its threads; start it with the threads wanted');
      spec.setThreads(n);
      return { op, ...spec.info() };
    }
    if (op === 'info') return { op, ...spec.info() };
    if (op === 'quit') return { op };
    return { op, error: `bench worker: unknown op '${op}'; expected time, threads, info or quit` };
  } catch (e) {
    return { op, error: e instanceof Error ? e.message : String(e) };
  }
}

function timeWindow(spec: WorkerSpec, workload: unknown, iters: unknown): WindowReply {
  const name = String(workload);
  const fn = spec.workloads[name];
  if (fn === undefined) throw new Error(`bench worker: unknown workload '${name}'; this worker serves ${Object.keys(spec.workloads).join(', ')}`);
  if (typeof iters !== 'number' || !Number.isInteger(iters) || iters < 1) throw new Error(`bench worker: iters must be a positive integer, got ${JSON.stringify(iters)}`);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1e3;
  return { op: 'time', workload: name, iters, wallMs, cpuMs, wallMsPerIter: wallMs / iters, cpuMsPerIter: cpuMs / iters };
}

/**
 * Serve `spec` on `input`/`output` (default stdin/stdout) until a "quit" request or the end of the
 * input; each reply is written as one JSON line before the next request is read.
 * @example
 * await serveWorkloads({ workloads: { gemm1024: () => ops.matmul(a, b) }, info: () => ({ ...machineInfo() }) });
 */
export async function serveWorkloads(spec: WorkerSpec, input: Readable = process.stdin, output: Writable = process.stdout): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) {
    const reply = handleWorkerRequest(spec, line);
    if (reply === null) continue;
    output.write(`${JSON.stringify(reply)}\n`);
    if (reply['op'] === 'quit') break;
  }
  lines.close();
}
