// All-reduce bandwidth against raw loopback TCP (issue #13: bus bandwidth >= 0.8 of TCP), and what
// moves it: Gloo's ring segment size (`AllreduceOptions::setMaxSegmentSize`, our `allReduceTuning`),
// the algorithm (Gloo's ring and bcube; our pipelined ring on Gloo's transport, its segment size and
// depth), and the same bytes moved by Gloo's all-gather alone (no reduction).
// 2 ranks x 1 thread on loopback; per operation each rank's wall time and CPU time (process.cpuUsage:
// all its threads, Gloo's included). The peer, in the same run and interleaved round by round:
// bench/tcp_duplex.c (both processes send and receive 16 MiB at once per operation on one socket
// under poll(), as a 2-rank ring all-reduce of 16 MiB loads its link), its CPU time from
// /usr/bin/time. Bus bandwidth (NCCL-tests' convention): all-reduce 2(N-1)/N x bytes / time,
// all-gather (N-1)/N x bytes / time: on 2 ranks both are the bytes one direction of the link carries
// per second, the duplex peer's measure. Three views: the median operation (wall; what load distorts
// most), the fastest operation of the run (the nearest to a quiet machine), and bytes per CPU second
// of a rank (what bounds it when both cores are busy).
//   npx tsx bench/allreduce_tuning.ts            # 8 rounds, about 2 minutes quiet (8 at load 20); writes bench/results/allreduce-tuning.json
//   BENCH_ROUNDS=3 npx tsx bench/allreduce_tuning.ts
// Run as a rank (RANK set by the launcher) it measures every configuration once and prints one JSON line.
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { zeros, type Tensor } from '../src/index.js';
import { barrier, defaultGroup, destroyProcessGroup, getRank, initProcessGroup, type AllReduceTuning } from '../src/distributed/index.js';
import { machineInfo, median, root, writeResult, type Json } from './common.js';
import { rankLines, timedRuns } from './launch_ranks.js';

const MIB = 16;
const OPS = 8;

interface Config { name: string; kind: 'allreduce' | 'allgather'; mib: number; tuning?: AllReduceTuning }
const CONFIGS: Config[] = [
  { name: 'ring, 1 MiB segments (Gloo default)', kind: 'allreduce', mib: MIB, tuning: { segmentBytes: 0, algorithm: 'ring' } },
  // Gloo's ring cuts a buffer into at least 2N segments, so on 2 ranks 4 MiB is the largest that
  // changes anything for 16 MiB (8 MiB or more also gives 4 segments of 4 MiB).
  { name: 'ring, 4 MiB segments (the most for 16 MiB on 2 ranks)', kind: 'allreduce', mib: MIB, tuning: { segmentBytes: 4 << 20, algorithm: 'ring' } },
  { name: 'bcube', kind: 'allreduce', mib: MIB, tuning: { segmentBytes: 0, algorithm: 'bcube' } },
  // Our pipelined ring on Gloo's transport (native/src/distributed/ring_allreduce.cc): segment size
  // and the temp segments received ahead (depth).
  ...([[128, 4], [256, 4], [512, 2], [512, 4], [1024, 2], [1024, 4]] as const).map(([kib, depth]): Config => ({ name: `pipelined, ${kib} KiB segments, depth ${depth}`, kind: 'allreduce', mib: MIB, tuning: { segmentBytes: kib << 10, algorithm: 'pipelined', depth } })),
  { name: 'all-gather of 32 MiB (16 MiB each way: the peer\'s transfer on Gloo)', kind: 'allgather', mib: 2 * MIB },
  { name: 'all-gather of 16 MiB (an all-reduce\'s second half)', kind: 'allgather', mib: MIB },
];

// Every configuration once, starting at `first` (the driver rotates it by round, so no configuration
// always runs first or last); rows in CONFIGS order.
async function rankMain(first: number): Promise<void> {
  await initProcessGroup({ backend: 'gloo' });
  const pg = defaultGroup('allreduce_tuning');
  const n = pg.worldSize;
  const rows: Json[] = [];
  for (let k = 0; k < CONFIGS.length; k++) {
    const ci = (first + k) % CONFIGS.length;
    const c = CONFIGS[ci]!;
    const t: Tensor = zeros([(c.mib << 20) / 4]);
    (t.data as Float32Array).fill(1);
    const once = async (): Promise<void> => {
      if (c.kind === 'allreduce') await pg.allReduce(t, 'sum', c.tuning);
      else pg.startAllGather(t).wait();
    };
    await once(); // warm-up (buffers, pairs)
    const { wall, cpu } = await timedRuns(OPS, once, barrier);
    const ms = median(wall);
    const bytes = c.mib << 20;
    const busBytes = c.kind === 'allreduce' ? (2 * (n - 1) * bytes) / n : ((n - 1) * bytes) / n;
    rows[ci] = { name: c.name, kind: c.kind, bytes, tuning: c.tuning ?? null, ms, minMs: Math.min(...wall), cpuMs: median(cpu), busBytesPerSecond: busBytes / (ms / 1000), busBytesPerSecondBest: busBytes / (Math.min(...wall) / 1000), busBytesPerCpuSecond: busBytes / (median(cpu) / 1000) };
  }
  console.log(JSON.stringify({ rank: getRank(), world: n, rows }));
  await destroyProcessGroup();
}

// One run of the duplex TCP peer: one direction's bytes per second (median operation) and the CPU
// milliseconds per operation of each side (its whole run over OPS + 1 operations).
async function tcpDuplex(exe: string): Promise<{ bytesPerSecond: number; bestBytesPerSecond: number; cpuMsPerOp: number[] }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const side = (role: string): Promise<{ out: string; err: string }> => new Promise((resolve, reject) => {
    const p = spawn('/usr/bin/time', ['-f', 'cpu %U %S', exe, role, String(port), String(MIB), String(OPS), 'min'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('close', (code) => (code === 0 ? resolve({ out, err }) : reject(new Error(`allreduce_tuning: tcp_duplex ${role} exited with ${String(code)}: ${err}`))));
  });
  const [a, b] = await Promise.all([side('listen'), side('connect')]);
  const cpu = (err: string): number => { const m = /cpu ([\d.]+) ([\d.]+)/.exec(err); return m === null ? NaN : ((Number(m[1]) + Number(m[2])) * 1000) / (OPS + 1); };
  const [med, best] = a.out.trim().split(/\s+/).map(Number);
  return { bytesPerSecond: med!, bestBytesPerSecond: best!, cpuMsPerOp: [cpu(a.err), cpu(b.err)] };
}

async function driver(): Promise<void> {
  const loadavgAtStart = os.loadavg();
  const rounds = Number(process.env['BENCH_ROUNDS'] ?? 8);
  const exe = join(os.tmpdir(), `tensorslim-tcp-duplex-tuning-${process.pid}`);
  const cc = spawnSync('cc', ['-O2', join(root, 'bench', 'tcp_duplex.c'), '-o', exe], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`allreduce_tuning: compiling bench/tcp_duplex.c failed (a C compiler, cc, is needed): ${cc.stderr ?? cc.error?.message}`);
  const ours: Json[][] = [];
  const peer: { bytesPerSecond: number; bestBytesPerSecond: number; cpuMsPerOp: number[] }[] = [];
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`allreduce_tuning: round ${r + 1} of ${rounds} (load ${os.loadavg()[0]!.toFixed(1)})\n`);
    peer.push(await tcpDuplex(exe));
    ours.push((await rankLines('allreduce_tuning.ts', [String(r % CONFIGS.length)], 2)).map((l) => l['rows'] as Json[])[0]!);
  }
  const tcp = median(peer.map((p) => p.bytesPerSecond));
  const tcpCpu = median(peer.map((p) => p.cpuMsPerOp[0]!));
  const tcpBest = Math.max(...peer.map((p) => p.bestBytesPerSecond));
  const tcpPerCpu = ((MIB << 20) * 1000) / tcpCpu;
  const configs = CONFIGS.map((c, i) => {
    const runs = ours.map((rows) => rows[i]!);
    const bus = median(runs.map((x) => x['busBytesPerSecond'] as number));
    const best = Math.max(...runs.map((x) => x['busBytesPerSecondBest'] as number));
    const perCpu = median(runs.map((x) => x['busBytesPerCpuSecond'] as number));
    const row = {
      name: c.name, kind: c.kind, bytes: (c.mib << 20), tuning: c.tuning ?? null, ms: median(runs.map((x) => x['ms'] as number)), cpuMsRank0: median(runs.map((x) => x['cpuMs'] as number)),
      busBytesPerSecond: bus, overTcpDuplex: bus / tcp, bestBusBytesPerSecond: best, bestOverBestTcpDuplex: best / tcpBest, busBytesPerCpuSecond: perCpu, perCpuOverTcpDuplex: perCpu / tcpPerCpu,
      runs: runs.map((x) => x['busBytesPerSecond'] as number),
    };
    process.stderr.write(`${c.name}: median ${(bus / 1e6).toFixed(0)} MB/s bus (${(bus / tcp).toFixed(2)} of TCP), best ${(best / 1e6).toFixed(0)} (${(best / tcpBest).toFixed(2)}), ${row.cpuMsRank0.toFixed(1)} ms CPU per rank (per CPU second ${(perCpu / tcpPerCpu).toFixed(2)} of TCP's)\n`);
    return row;
  });
  process.stderr.write(`tcp duplex: median ${(tcp / 1e6).toFixed(0)} MB/s, best ${(tcpBest / 1e6).toFixed(0)} MB/s, ${tcpCpu.toFixed(1)} ms CPU per operation and side\n`);
  const out = writeResult('allreduce-tuning', {
    date: new Date().toISOString(), world: 2, threadsPerRank: 1, opsPerRound: OPS, rounds,
    peer: `bench/tcp_duplex.c: ${MIB} MiB sent and received at once per operation by each of 2 processes on one loopback socket under poll(); one direction's bytes per second, median operation`,
    tcpDuplexBytesPerSecond: tcp, tcpDuplexBestBytesPerSecond: tcpBest, tcpDuplexRuns: peer.map((p) => p.bytesPerSecond), tcpDuplexCpuMsPerOpAndSide: tcpCpu, tcpDuplexBytesPerCpuSecond: tcpPerCpu, configs,
    machine: machineInfo({ loadavgAtStart, loadavgAtEnd: os.loadavg() }),
  });
  process.stderr.write(`wrote ${out.current}\n`);
}

if (process.env['RANK'] !== undefined) await rankMain(Number(process.argv[2] ?? 0));
else await driver();
