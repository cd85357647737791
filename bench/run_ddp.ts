// Distributed-training benchmark (issue #13), all in one run on this machine:
//  1. step time of our 2-rank DDP (1 thread each) vs PyTorch DDP on Gloo (Debian torch, 2 processes,
//     1 thread each) training `mlp` (global batch 128, Adam) and `gpt-tiny` (global batch 16 x 128
//     tokens, AdamW), on random data;
//  2. overhead: our 2 ranks x 1 thread vs 1 process x 2 threads on `mlp-large` (global batch 128):
//     throughput ratio;
//  1 and 2 run in interleaved rounds (BENCH_ROUNDS, default 3) with gradient buckets launched during
//  backward (the default) and only after backward (the former path), medians over rounds;
//  3. our Gloo all-reduce bus bandwidth (16 MiB float32, 2 ranks) vs raw loopback TCP between two
//     processes doing what the all-reduce's transport does: both send and receive 16 MiB at once
//     (full duplex, per operation: bench/tcp_duplex.c, built with cc), and, as before, a one-way
//     1 GiB stream (Python sendall / recv_into).
// Writes bench/results/ddp.json (and history/) with the machine description.
//   npx tsx bench/run_ddp.ts [--quick] [--only large|allreduce]
// --only large: the mlp-large overhead alone (about 2 minutes on a quiet machine; record ddp-large):
// 2 ranks x 1 thread as by default (no row pieces), with row pieces (gradChunkMB 1), with overlap off
// and with the bf16 comm hook, against 1 process x 2 threads, each with its CPU time per step (all
// threads, and split into the main thread's and the other threads').
// mlp runs ours by default (one bucket: the model has under 2 MiB of gradients), with two buckets
// (firstBucketCapMB 1: the default before) and with overlap off, against PyTorch DDP.
// --only allreduce: section 3 alone (record ddp-allreduce).
// --only compression: the mlp-large overhead with gradient compression (record ddp-compression):
// 2 ranks x 1 thread by default (float32), with the native bf16 and fp16 comm hooks and with PowerSGD
// at ranks 1, 2 and 4 (compressing from the first step), against 1 process x 2 threads, interleaved
// rounds (BENCH_ROUNDS, default 3) of BENCH_STEPS timed steps (default 20) after 3 warm-up steps.
// mlp-large also runs ZeRO-2 (ZeroRedundancyOptimizer stage 2 with Adam, gradients reduce-scattered
// during backward in buckets of its default 4 MiB (the Trainer's: for mlp-large [13210, 1440000,
// 942000] elements, so layer 2's weight is reduced while layer 1's backward runs), each rank stepping
// Adam on its half, then one all-gather) on 2 ranks x 1 thread.
// --only zero: CPU and wall time per step of DDP, ZeRO-2 and Zero3 (the Trainer's --zero 3) on 2 ranks
// x 1 thread, `mlp` (global batch 128), `gpt-tiny` (16 x 128 tokens) and `mlp-large` (128), interleaved
// rounds, with 1 process x 2 threads on mlp-large (record ddp-zero).
import { createServer, type AddressInfo } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { launch } from '../src/distributed/index.js';
import { machineInfo, median, peerEnv, root, writeResult, type Json } from './common.js';

const quick = process.argv.includes('--quick');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => resolve(p)); });
  });
}

/** Runs `command` as `n` ranks through our launcher and returns rank 0's last JSON line. */
async function ranks(n: number, command: string[], env: NodeJS.ProcessEnv = process.env): Promise<Json> {
  let last: string | null = null;
  const errs: string[] = [];
  const h = launch({
    nprocPerNode: n, masterPort: await freePort(), command, env,
    onLine: (rank, stream, line) => { if (rank === 0 && stream === 'stdout' && line.startsWith('{')) last = line; if (stream === 'stderr') errs.push(line); },
  });
  const r = await h.done;
  if (r.exitCode !== 0 || last === null) throw new Error(`bench ddp: ${command.join(' ')} on ${n} ranks failed: ${r.message}\n${errs.slice(-20).join('\n')}`);
  return JSON.parse(last) as Json;
}

const ours = (args: string[], n: number): Promise<Json> => ranks(n, [process.execPath, '--import', 'tsx', join(root, 'bench', 'ddp_worker.ts'), ...args], { ...process.env, TENSORSLIM_NUM_THREADS: '1' });
const peer = (args: string[], n: number): Promise<Json> => ranks(n, ['/usr/bin/python3', join(root, 'bench', 'peer_ddp.py'), ...args], { ...peerEnv(), PYTHONPATH: join(root, 'bench') });

/**
 * Loopback TCP throughput, bytes per second. 'stream': one Python process sends `mib` MiB with
 * sendall() of 4 MiB buffers, another receives with recv_into() a preallocated buffer (one
 * direction, the whole stream timed). 'duplex' (bench/tcp_duplex.c, compiled here with cc): what a
 * 2-rank ring all-reduce asks of its link: both processes send and receive `mib` MiB at once on one
 * non-blocking socket driven by poll() (as Gloo's transport drives its pairs), `ops` operations lined
 * up by a 1-byte exchange; one direction's rate in the median operation. The raw transport Gloo's
 * pairs ride on, with no reduction and no copies in between.
 */
async function tcpPeer(mode: 'stream' | 'duplex', mib: number, ops: number): Promise<number> {
  const port = await freePort();
  let first: string[], second: string[];
  if (mode === 'duplex') {
    const exe = join(os.tmpdir(), `tensorslim-tcp-duplex-${process.pid}`);
    const cc = spawnSync('cc', ['-O2', join(root, 'bench', 'tcp_duplex.c'), '-o', exe], { encoding: 'utf8' });
    if (cc.status !== 0) throw new Error(`bench ddp: compiling bench/tcp_duplex.c failed (a C compiler, cc, is needed): ${cc.stderr ?? cc.error?.message}`);
    first = [exe, 'listen', String(port), String(mib), String(ops)];
    second = [exe, 'connect', String(port), String(mib), String(ops)];
  } else {
    first = ['/usr/bin/python3', '-c', `import socket,time\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('127.0.0.1',${port}));s.listen(1);c,_=s.accept()\nb=bytearray(4<<20);m=memoryview(b);n=0;t=0\nwhile True:\n k=c.recv_into(m)\n if k==0: break\n if t==0: t=time.perf_counter()\n n+=k\nprint(n/(time.perf_counter()-t))`];
    second = ['/usr/bin/python3', '-c', `import socket,time\nfor i in range(100):\n try:\n  s=socket.create_connection(('127.0.0.1',${port}));break\n except OSError: time.sleep(0.05)\nb=bytes(4<<20)\nfor i in range(${(mib * ops) / 4}): s.sendall(b)\ns.close()`];
  }
  const out = new Promise<string>((resolve, reject) => {
    const r = spawn(first[0]!, first.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    r.stdout.on('data', (d: Buffer) => { text += d.toString(); });
    r.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`bench ddp: the TCP ${mode} peer exited with ${code}`))));
  });
  const other = spawn(second[0]!, second.slice(1), { stdio: 'ignore' });
  const done = new Promise((r) => other.on('close', r));
  const bps = Number((await out).trim());
  await done;
  return bps;
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
if (only !== undefined && only !== 'large' && only !== 'allreduce' && only !== 'compression' && only !== 'zero') throw new Error(`bench ddp: --only takes large, allreduce, compression or zero, got ${only}`);
const steps = quick ? ['10', '2'] : ['30', '5'];
const gptSteps = quick ? ['4', '1'] : ['10', '2'];
const rounds = Number(process.env['BENCH_ROUNDS'] ?? (quick ? 1 : 3));
const load0 = os.loadavg();
const runs: Record<string, Json[]> = {};
const add = (k: string, j: Json): void => { (runs[k] ??= []).push(j); };
const med = (k: string, f = 'stepMs'): number => median(runs[k]!.map((j) => j[f] as number));
const summary = (k: string): Json => ({
  stepMs: med(k), minMs: Math.min(...runs[k]!.map((j) => j['minMs'] as number)), cpuMs: med(k, 'cpuMs'),
  ...(runs[k]![0]!['mainThreadCpuMs'] != null ? { mainThreadCpuMs: med(k, 'mainThreadCpuMs'), otherThreadsCpuMs: med(k, 'otherThreadsCpuMs') } : {}),
  ...(runs[k]![0]!['commWaitMs'] != null ? { commWaitMs: med(k, 'commWaitMs'), commOverlapMs: med(k, 'commOverlapMs'), launchedFromRows: med(k, 'launchedFromRows'), buckets: runs[k]![0]!['buckets'] } : {}),
  runs: runs[k]!.map((j) => j['stepMs'] as number),
});

// 3. all-reduce vs TCP: the same operation size and directions on both sides, interleaved
let allReduce: Json | null = null;
let arRatios: Json = {};
let arMachine: Json | undefined;
if (only === undefined || only === 'allreduce') {
  const ar: Json[] = [], duplex: number[] = [], stream: number[] = [];
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    process.stderr.write(`bench ddp: all-reduce 16 MiB vs TCP duplex 16 MiB and a 1 GiB stream, round ${r + 1} (load ${os.loadavg()[0]!.toFixed(1)}) ...\n`);
    ar.push(await ours(['allreduce', '16', quick ? '5' : '10'], 2));
    duplex.push(await tcpPeer('duplex', 16, quick ? 5 : 10));
    stream.push(await tcpPeer('stream', 1024, 1));
  }
  const bus = median(ar.map((j) => j['busBytesPerSecond'] as number));
  const { machine: m, ...first } = ar[0]!;
  arMachine = m as Json;
  allReduce = { ours: { ...first, busBytesPerSecond: bus, runs: ar.map((j) => j['busBytesPerSecond'] as number) }, tcpDuplexBytesPerSecond: median(duplex), tcpDuplexRuns: duplex, tcpStreamBytesPerSecond: median(stream), tcpStreamRuns: stream };
  arRatios = { allReduceBusBandwidthOverTcpDuplex: bus / median(duplex), allReduceBusBandwidthOverTcpStream: bus / median(stream) };
}

// 1 and 2: interleaved rounds, each configuration once per round, so load drifts hit them all
// alike; the summary keeps each configuration's median (over rounds) of its per-run median step.
// 'on' launches buckets during backward (the default), 'off' only after backward (the former path).
for (let r = 0; r < (only === 'allreduce' || only === 'compression' || only === 'zero' ? 0 : rounds); r++) {
  const loadNow = os.loadavg()[0]!.toFixed(1);
  if (only === undefined) {
    process.stderr.write(`bench ddp: round ${r + 1}/${rounds} (load ${loadNow}): mlp (ours: one bucket, two buckets, overlap off; PyTorch DDP) ...\n`);
    add('mlpOn', await ours(['train', 'mlp', '128', ...steps, '1', 'on'], 2));
    add('mlpTwoBuckets', await ours(['train', 'mlp', '128', ...steps, '1', 'on', '25', '-', '1'], 2));
    add('mlpOff', await ours(['train', 'mlp', '128', ...steps, '1', 'off'], 2));
    add('mlpPeer', await peer(['mlp', '128', ...steps, '1'], 2));
  }
  process.stderr.write(`bench ddp: round ${r + 1}/${rounds} (load ${loadNow}): mlp-large 2 ranks x 1 thread (default, row pieces, overlap off, bf16 hook) vs 1 process x 2 threads ...\n`);
  add('large2x1On', await ours(['train', 'mlp-large', '128', ...steps, '1', 'on'], 2));
  add('large1x2', await ours(['train', 'mlp-large', '128', ...steps, '2'], 1));
  add('large2x1Pieces', await ours(['train', 'mlp-large', '128', ...steps, '1', 'on', '25', '1'], 2));
  add('large2x1Off', await ours(['train', 'mlp-large', '128', ...steps, '1', 'off'], 2));
  add('large2x1Bf16', await ours(['train', 'mlp-large', '128', ...steps, '1', 'on', '25', '-', '-', 'bf16'], 2));
  add('large2x1Zero2', await ours(['train', 'mlp-large', '128', ...steps, '1', 'on', '4', '-', '-', '-', '2'], 2));
  if (only === undefined) {
    process.stderr.write(`bench ddp: round ${r + 1}/${rounds}: gpt-tiny (ours on/off, PyTorch DDP) ...\n`);
    add('gptOn', await ours(['train', 'gpt-tiny', '16', ...gptSteps, '1', 'on'], 2));
    add('gptOff', await ours(['train', 'gpt-tiny', '16', ...gptSteps, '1', 'off'], 2));
    add('gptPeer', await peer(['gpt-tiny', '16', ...gptSteps, '1'], 2));
  }
}

// Gradient compression on mlp-large: each configuration once per round.
const COMPRESSION = { default: [], bf16: ['bf16'], fp16: ['fp16'], powersgd1: ['powersgd1'], powersgd2: ['powersgd2'], powersgd4: ['powersgd4'] } as const;
if (only === 'compression') {
  const cSteps = [process.env['BENCH_STEPS'] ?? (quick ? '5' : '20'), '3'];
  for (let r = 0; r < rounds; r++) {
    process.stderr.write(`bench ddp: round ${r + 1}/${rounds} (load ${os.loadavg()[0]!.toFixed(1)}): mlp-large 2 ranks x 1 thread (float32, bf16, fp16, PowerSGD 1/2/4) vs 1 process x 2 threads ...\n`);
    add('large1x2', await ours(['train', 'mlp-large', '128', ...cSteps, '2'], 1));
    for (const [k, hook] of Object.entries(COMPRESSION)) add(`large2x1-${k}`, await ours(['train', 'mlp-large', '128', ...cSteps, '1', 'on', '25', '-', '-', ...hook], 2));
  }
}

// --only zero: DDP, ZeRO-2 and Zero3 in interleaved rounds, each a 2-rank run of ddp_worker (ZERO arg).
const zeroModels: [string, string, string[]][] = [['mlp', '128', steps], ['gpt-tiny', '16', gptSteps], ['mlp-large', '128', steps]];
const zeroModes: [string, string][] = [['ddp', '-'], ['zero2', '2'], ['zero3', '3']];
for (let r = 0; r < (only === 'zero' ? rounds : 0); r++) {
  for (const [model, gb, st] of zeroModels) {
    process.stderr.write(`bench ddp: round ${r + 1}/${rounds} (load ${os.loadavg()[0]!.toFixed(1)}): ${model} DDP / ZeRO-2 / Zero3 ...\n`);
    for (const [mode, z] of zeroModes) add(`${model}:${mode}`, await ours(['train', model, gb, ...st, '1', 'on', z === '2' ? '4' : '25', '-', '-', '-', z], 2));
    if (model === 'mlp-large') add(`${model}:1x2`, await ours(['train', model, gb, ...st, '2'], 1));
  }
}
const zeroRows = only !== 'zero' ? null : zeroModels.map(([model]) => {
  const row: Json = { model };
  for (const [mode] of zeroModes) row[mode] = summary(`${model}:${mode}`);
  for (const [mode] of zeroModes.slice(1)) row[`${mode}OverDdp`] = { step: med(`${model}:${mode}`) / med(`${model}:ddp`), cpu: med(`${model}:${mode}`, 'cpuMs') / med(`${model}:ddp`, 'cpuMs') };
  if (runs[`${model}:1x2`]) {
    row['process1threads2'] = summary(`${model}:1x2`);
    for (const [mode] of zeroModes) row[`${mode}ThroughputOver1x2`] = med(`${model}:1x2`) / med(`${model}:${mode}`);
  }
  return row;
});

const machine = { ...machineInfo(only === 'allreduce' ? arMachine : only === 'compression' ? runs['large1x2']![0]!['machine'] as Json : runs[only === 'zero' ? 'mlp:ddp' : 'large2x1On']![0]!['machine'] as Json), loadavgAtStart: load0 };
const num = (j: Json, k: string): number => j[k] as number;
// mlp-large: throughput ratio 2 ranks x 1 thread over 1 process x 2 threads (wall: step(1x2) / step(2x1)),
// and the same from CPU time (CPU(1x2) / (2 x CPU of rank 0)): the work DDP adds, waits left out
const large = only === 'allreduce' || only === 'compression' || only === 'zero' ? null : (() => {
  const s = { ranks2threads1: summary('large2x1On'), ranks2threads1WithPieces: summary('large2x1Pieces'), ranks2threads1WithoutOverlap: summary('large2x1Off'), ranks2threads1Bf16: summary('large2x1Bf16'), ranks2threads1Zero2: summary('large2x1Zero2'), process1threads2: summary('large1x2') };
  const one = num(s.process1threads2, 'stepMs'), oneCpu = num(s.process1threads2, 'cpuMs');
  const r = (k: keyof typeof s): number => one / num(s[k], 'stepMs');
  const rc = (k: keyof typeof s): number => oneCpu / (2 * num(s[k], 'cpuMs'));
  return {
    sections: s,
    ratios: { mlpLarge2x1ThroughputOver1x2: r('ranks2threads1'), mlpLarge2x1PiecesThroughputOver1x2: r('ranks2threads1WithPieces'), mlpLarge2x1Bf16ThroughputOver1x2: r('ranks2threads1Bf16'), mlpLarge2x1Zero2ThroughputOver1x2: r('ranks2threads1Zero2'),
      mlpLarge2x1Zero2StepOverDdp: num(s.ranks2threads1Zero2, 'stepMs') / num(s.ranks2threads1, 'stepMs') },
    ratiosWithoutOverlap: { mlpLarge2x1ThroughputOver1x2: r('ranks2threads1WithoutOverlap') },
    cpuRatios: { mlpLarge2x1: rc('ranks2threads1'), mlpLarge2x1Pieces: rc('ranks2threads1WithPieces'), mlpLarge2x1Off: rc('ranks2threads1WithoutOverlap'), mlpLarge2x1Bf16: rc('ranks2threads1Bf16'), mlpLarge2x1Zero2: rc('ranks2threads1Zero2'),
      mlpLarge2x1Zero2CpuOverDdp: num(s.ranks2threads1Zero2, 'cpuMs') / num(s.ranks2threads1, 'cpuMs') },
  };
})();
const targets = { mlpStepOursOverPytorchDdp: '<= 1.0', gptTinyStepOursOverPytorchDdp: '<= 1.0', mlpLarge2x1ThroughputOver1x2: '>= 0.9', allReduceBusBandwidthOverTcpDuplex: '>= 0.8' };
let result: Json & { date: string };
if (only === undefined) {
  const mlpOurs = summary('mlpOn'), mlpPeer = { ...summary('mlpPeer'), peer: runs['mlpPeer']![0]!['peer'] };
  const gptOurs = summary('gptOn'), gptPeer = summary('gptPeer');
  result = {
    date: new Date().toISOString(),
    machine,
    peerConfiguration: { ...(mlpPeer['peer'] as Json), processes: 2, threadsPerProcess: 1, python: '/usr/bin/python3' },
    quick,
    rounds,
    ratios: { mlpStepOursOverPytorchDdp: num(mlpOurs, 'stepMs') / num(mlpPeer, 'stepMs'), mlpTwoBucketsStepOursOverPytorchDdp: med('mlpTwoBuckets') / num(mlpPeer, 'stepMs'), gptTinyStepOursOverPytorchDdp: num(gptOurs, 'stepMs') / num(gptPeer, 'stepMs'), ...large!.ratios, ...arRatios },
    // the same ratios with buckets launched only after backward (the path before overlap)
    ratiosWithoutOverlap: { mlpStepOursOverPytorchDdp: med('mlpOff') / num(mlpPeer, 'stepMs'), gptTinyStepOursOverPytorchDdp: med('gptOff') / num(gptPeer, 'stepMs'), ...large!.ratiosWithoutOverlap },
    cpuRatios: large!.cpuRatios,
    targets,
    mlp: { ours: mlpOurs, oursTwoBuckets: summary('mlpTwoBuckets'), oursWithoutOverlap: summary('mlpOff'), pytorch: mlpPeer },
    gptTiny: { ours: gptOurs, oursWithoutOverlap: summary('gptOff'), pytorch: gptPeer },
    mlpLarge: large!.sections,
    allReduce,
    loadavgAtEnd: os.loadavg(),
  };
} else if (only === 'compression') {
  const one = summary('large1x2');
  const sections = Object.fromEntries(Object.keys(COMPRESSION).map((k) => {
    const first = runs[`large2x1-${k}`]![0]!;
    return [k, { ...summary(`large2x1-${k}`), ...(first['powerSgd'] ? { powerSgd: first['powerSgd'] } : {}), ...(first['halfPath'] ? { halfPath: first['halfPath'] } : {}) }];
  }));
  const ratio = (f: string, twice: number): Json => Object.fromEntries(Object.entries(sections).map(([k, v]) => [k, num(one, f) / (twice * num(v, f))]));
  result = {
    date: new Date().toISOString(), machine, quick, rounds, only,
    // wall: step(1 x 2) / step(2 x 1); CPU: CPU(1 x 2) / (2 x CPU of rank 0)
    ratios: ratio('stepMs', 1), cpuRatios: ratio('cpuMs', 2), targets: { mlpLarge2x1ThroughputOver1x2: '>= 0.9' },
    mlpLarge: { process1threads2: one, ranks2threads1: sections }, loadavgAtEnd: os.loadavg(),
  };
} else {
  result = only === 'zero' ? { date: new Date().toISOString(), machine, quick, rounds, only, zero: zeroRows, threadsPerRank: 1, optimizer: 'Adam (mlp, mlp-large), AdamW (gpt-tiny)', loadavgAtEnd: os.loadavg() } : { date: new Date().toISOString(), machine, quick, rounds, only, ratios: { ...(large?.ratios ?? {}), ...arRatios }, ratiosWithoutOverlap: large?.ratiosWithoutOverlap ?? null, cpuRatios: large?.cpuRatios ?? null, targets, mlpLarge: large?.sections ?? null, allReduce, loadavgAtEnd: os.loadavg() };
}
const where = writeResult(only === undefined ? 'ddp' : `ddp-${only}`, result);
console.log(JSON.stringify(only === 'zero' ? { zero: (zeroRows ?? []).map((r) => ({ model: r['model'], zero2OverDdp: r['zero2OverDdp'], zero3OverDdp: r['zero3OverDdp'], ddpCpuMs: (r['ddp'] as Json)['cpuMs'], zero2CpuMs: (r['zero2'] as Json)['cpuMs'], zero3CpuMs: (r['zero3'] as Json)['cpuMs'] })), written: where } : { ratios: result['ratios'], cpuRatios: result['cpuRatios'] ?? null, written: where }));
