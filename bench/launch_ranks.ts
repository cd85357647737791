// Runs one configuration of a distributed benchmark on `world` local ranks (tensorslim launch, one
// thread per rank) and collects each rank's JSON line from stdout, in rank order; stderr lines pass
// through. Shared by the ZeRO memory benchmarks (bench/zero_memory.ts, bench/zero3_memory.ts) and
// bench/allreduce_tuning.ts, with timedRuns (wall and CPU time of repeated runs).
import { launch } from '../src/distributed/index.js';
import { root, type Json } from './common.js';

/**
 * The JSON lines `bench/<script> ...args` printed on each of `world` ranks, sorted by their `rank`.
 * @example const lines = await rankLines('zero_memory.ts', ['mlp', 'zero2'], 2);
 */
export async function rankLines(script: string, args: readonly string[], world: number): Promise<Json[]> {
  const lines: Json[] = [];
  const h = launch({
    nprocPerNode: world, masterPort: 20000 + Math.floor(Math.random() * 20000),
    command: [process.execPath, '--import', 'tsx', `${root}/bench/${script}`, ...args],
    env: { ...process.env, TENSORSLIM_NUM_THREADS: '1' },
    onLine: (_r, stream, line) => { if (stream === 'stdout' && line.startsWith('{')) lines.push(JSON.parse(line) as Json); else if (stream === 'stderr') process.stderr.write(`${line}\n`); },
  });
  const res = await h.done;
  if (res.exitCode !== 0) throw new Error(`${script}: ${args.join(' ')} on ${world} ranks failed: ${res.message}`);
  return lines.sort((a, b) => Number(a['rank']) - Number(b['rank']));
}

/**
 * Runs `fn` `times` times, each after an untimed `before()` (a barrier, say), and returns each run's
 * wall and CPU milliseconds (process.cpuUsage: every thread of this process, communication included).
 * @example const { wall, cpu } = await timedRuns(10, step);
 */
export async function timedRuns(times: number, fn: () => Promise<void>, before?: () => Promise<void>): Promise<{ wall: number[]; cpu: number[] }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < times; i++) {
    if (before !== undefined) await before();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    wall.push(performance.now() - t0);
    const d = process.cpuUsage(c0);
    cpu.push((d.user + d.system) / 1000);
  }
  return { wall, cpu };
}
