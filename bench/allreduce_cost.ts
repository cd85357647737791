// The communication cost model of docs/DISTRIBUTED.md, fed by measurements (issue #13):
//   ring all-reduce of B bytes on N ranks: T(B) = 2(N-1)/N * B / bandwidth + 2(N-1) * latency
//   DDP step = compute + the communication not hidden behind it
// Measures, with our Gloo process group: the point-to-point latency (half the round trip of one
// float) and bandwidth (one-way time of 8 MiB) by ping-pong between ranks 0 and 1, and allReduce
// times for several sizes, on loopback (2 and 3 ranks) and, as root, across two network namespaces
// joined by a veth pair capped at 1 Gbit/s with `tc tbf`. Compares the formula with the measured
// all-reduce and projects DDP steps of gpt-small and mlp-large to 8-512 machines.
//   npx tsx bench/allreduce_cost.ts           # writes bench/results/allreduce-cost.json, prints the tables
// As a rank (RANK set) it runs the measurements and prints one JSON line.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { zeros } from '../src/index.js';
import { allReduce, barrier, destroyProcessGroup, getRank, getWorldSize, initProcessGroup, launch, recv, send } from '../src/distributed/index.js';
import { machineInfo, median, resultsDir, root, writeResult, type Json } from './common.js';

const SIZES = [1, 16_384, 262_144, 1_048_576, 4_194_304]; // floats: 4 B .. 16 MiB

async function rankMain(): Promise<void> {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  const reps = (n: number): number => (n <= 16_384 ? 30 : n <= 262_144 ? 10 : 4);
  const pingpong: Record<number, number> = {};
  for (const n of [1, 2_097_152]) {
    const buf = zeros([n]);
    const times: number[] = [];
    for (let i = 0; i < reps(n) + 1; i++) {
      await barrier();
      const t0 = performance.now();
      if (rank === 0) { await send(buf, 1, i); await recv(buf, 1, i); } else if (rank === 1) { await recv(buf, 0, i); await send(buf, 0, i); }
      if (i > 0) times.push((performance.now() - t0) / 2); // one way
    }
    pingpong[n * 4] = median(times);
  }
  const allreduce: Record<number, number> = {};
  for (const n of SIZES) {
    const buf = zeros([n]);
    const times: number[] = [];
    for (let i = 0; i < reps(n) + 1; i++) {
      await barrier();
      const t0 = performance.now();
      await allReduce(buf, 'sum');
      if (i > 0) times.push(performance.now() - t0);
    }
    allreduce[n * 4] = median(times);
  }
  console.log(JSON.stringify({ rank, world: getWorldSize(), pingpongMs: pingpong, allReduceMs: allreduce }));
  await destroyProcessGroup();
}

// Runs the ranks (optionally each under a prefix such as `ip netns exec NS`) and returns rank 0's JSON.
async function measure(world: number, prefix?: (rank: number) => string[], masterAddr = '127.0.0.1'): Promise<Json> {
  const lines: Json[] = [];
  const port = 20000 + Math.floor(Math.random() * 20000);
  if (prefix === undefined) {
    const h = launch({
      nprocPerNode: world, masterPort: port, command: [process.execPath, '--import', 'tsx', join(root, 'bench', 'allreduce_cost.ts')],
      env: { ...process.env, TENSORSLIM_NUM_THREADS: '1' },
      onLine: (_r, stream, line) => { if (stream === 'stdout' && line.startsWith('{')) lines.push(JSON.parse(line) as Json); else if (stream === 'stderr') process.stderr.write(`${line}\n`); },
    });
    const res = await h.done;
    if (res.exitCode !== 0) throw new Error(`allreduce_cost: ${world} ranks failed: ${res.message}`);
  } else {
    const { spawn } = await import('node:child_process');
    const procs = Array.from({ length: world }, (_, rank) => {
      const env = { ...process.env, RANK: String(rank), WORLD_SIZE: String(world), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(world), MASTER_ADDR: masterAddr, MASTER_PORT: String(port), TENSORSLIM_DIST_TOKEN: 'cost-model', TENSORSLIM_NUM_THREADS: '1' };
      const argv = [...prefix(rank), process.execPath, '--import', 'tsx', join(root, 'bench', 'allreduce_cost.ts')];
      return spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'inherit'] });
    });
    await Promise.all(procs.map((p) => new Promise<void>((resolve, reject) => {
      let out = '';
      p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      p.on('close', (code) => {
        if (code !== 0) { reject(new Error(`allreduce_cost: a namespaced rank exited with ${String(code)}`)); return; }
        const l = out.trim().split('\n').filter((x) => x.startsWith('{')).at(-1);
        if (l !== undefined) lines.push(JSON.parse(l) as Json);
        resolve();
      });
    })));
  }
  return lines.find((l) => l['rank'] === 0)!;
}

function sh(args: string[]): boolean { return spawnSync(args[0]!, args.slice(1), { stdio: 'ignore' }).status === 0; }

// Two namespaces joined by a veth pair, both ends capped with tc tbf; null (and why) when not possible.
function cappedLink(rate: string): { names: [string, string]; addrs: [string, string]; cleanup: () => void } | string {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const tag = `tc${process.pid % 100000}`;
  const names: [string, string] = [`${tag}a`, `${tag}b`];
  const addrs: [string, string] = ['10.98.7.1', '10.98.7.2'];
  const cleanup = (): void => { for (const n of names) sh(['ip', 'netns', 'del', n]); };
  cleanup();
  const steps = [
    ['ip', 'netns', 'add', names[0]], ['ip', 'netns', 'add', names[1]],
    ['ip', 'link', 'add', `${tag}va`, 'type', 'veth', 'peer', 'name', `${tag}vb`],
    ['ip', 'link', 'set', `${tag}va`, 'netns', names[0]], ['ip', 'link', 'set', `${tag}vb`, 'netns', names[1]],
    ['ip', '-n', names[0], 'addr', 'add', `${addrs[0]}/30`, 'dev', `${tag}va`], ['ip', '-n', names[1], 'addr', 'add', `${addrs[1]}/30`, 'dev', `${tag}vb`],
    ['ip', '-n', names[0], 'link', 'set', `${tag}va`, 'up'], ['ip', '-n', names[1], 'link', 'set', `${tag}vb`, 'up'],
    ['ip', '-n', names[0], 'link', 'set', 'lo', 'up'], ['ip', '-n', names[1], 'link', 'set', 'lo', 'up'],
    ['ip', 'netns', 'exec', names[0], 'tc', 'qdisc', 'add', 'dev', `${tag}va`, 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '100ms'],
    ['ip', 'netns', 'exec', names[1], 'tc', 'qdisc', 'add', 'dev', `${tag}vb`, 'root', 'tbf', 'rate', rate, 'burst', '256kb', 'latency', '100ms'],
  ];
  for (const s of steps) if (!sh(s)) { cleanup(); return `cannot build the capped link (${s.join(' ')} failed)`; }
  return { names, addrs, cleanup };
}

/** Ring all-reduce time (ms) of `bytes` on `n` ranks for a link of `bwBytesPerMs` and `latMs`. */
function ringMs(bytes: number, n: number, bwBytesPerMs: number, latMs: number): number {
  return ((2 * (n - 1)) / n) * (bytes / bwBytesPerMs) + 2 * (n - 1) * latMs;
}

async function driver(): Promise<void> {
  const links: Json[] = [];
  const fit = (m: Json, name: string, world: number): Json => {
    const pp = m['pingpongMs'] as Record<string, number>;
    const latMs = pp['4']!;
    const bw = 8_388_608 / Math.max(1e-6, pp['8388608']! - latMs); // bytes per ms
    const ar = m['allReduceMs'] as Record<string, number>;
    const rows = Object.entries(ar).map(([b, ms]) => ({ bytes: Number(b), measuredMs: ms, modelMs: ringMs(Number(b), world, bw, latMs) }));
    const row = { link: name, world, latencyUs: latMs * 1000, bandwidthGBps: bw / 1e6, allReduce: rows };
    process.stderr.write(`${name}, ${world} ranks: latency ${(latMs * 1000).toFixed(0)} us, bandwidth ${(bw / 1e6).toFixed(2)} GB/s; all-reduce ms measured/model: ${rows.map((r) => `${(r.bytes / 1048576).toFixed(2)} MiB ${r.measuredMs.toFixed(2)}/${r.modelMs.toFixed(2)}`).join(', ')}\n`);
    return row;
  };
  links.push(fit(await measure(2), 'loopback', 2));
  links.push(fit(await measure(3), 'loopback', 3));
  const link = cappedLink('1gbit');
  let capped: string | null = null;
  if (typeof link === 'string') capped = link;
  else {
    try { links.push(fit(await measure(2, (r) => ['ip', 'netns', 'exec', link.names[r]!], link.addrs[0]), 'veth capped at 1 Gbit/s (tc tbf)', 2)); } finally { link.cleanup(); }
  }
  // Projection: gradients of gpt-small (3,257,856 floats), one DDP all-reduce per step, compute per
  // rank = bench/results/gpt.json's measured step (weak scaling: batch 16 x 128 tokens per rank).
  const gpt = JSON.parse(readFileSync(join(resultsDir, 'gpt.json'), 'utf8')) as { medians: { stepMs: number } };
  const models = [{ model: 'gpt-small (batch 16 x 128 tokens per rank)', gradBytes: 3_257_856 * 4, computeMs: gpt.medians.stepMs }];
  const projection: Json[] = [];
  for (const l of links) {
    if (l['world'] !== 2) continue;
    const bw = (l['bandwidthGBps'] as number) * 1e6;
    const lat = (l['latencyUs'] as number) / 1000;
    for (const m of models) {
      for (const n of [8, 32, 128, 512]) {
        const comm = ringMs(m.gradBytes, n, bw, lat);
        projection.push({ link: l['link'], model: m.model, machines: n, computeMs: m.computeMs, allReduceMs: comm, stepMs: m.computeMs + comm, efficiency: m.computeMs / (m.computeMs + comm) });
      }
    }
  }
  const out = writeResult('allreduce-cost', { date: new Date().toISOString(), formula: 'T = 2(N-1)/N * B / bandwidth + 2(N-1) * latency; DDP step = compute + all-reduce (not hidden: gradients reach DDP at the end of backward)', cappedLinkSkipped: capped, links, projection, machine: machineInfo({ loadavgAtStart: os.loadavg() }) });
  for (const p of projection) process.stderr.write(`${String(p['link'])} | ${String(p['model'])} | ${String(p['machines'])} | ${(p['allReduceMs'] as number).toFixed(1)} ms | ${(p['efficiency'] as number).toFixed(2)}\n`);
  process.stderr.write(`wrote ${out.current}\n`);
}

if (process.env['RANK'] !== undefined) await rankMain();
else await driver();
