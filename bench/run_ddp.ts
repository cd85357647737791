// Distributed-training benchmark (issue #13), all in one run on this machine:
//  1. step time of our 2-rank DDP (1 thread each) vs PyTorch DDP on Gloo (Debian torch, 2 processes,
//     1 thread each) training `mlp` (global batch 128, Adam) and `gpt-tiny` (global batch 16 x 128
//     tokens, AdamW), on random data;
//  2. overhead: our 2 ranks x 1 thread vs 1 process x 2 threads on `mlp-large` (global batch 128):
//     throughput ratio;
//  1 and 2 run in interleaved rounds (BENCH_ROUNDS, default 3) with gradient buckets launched during
//  backward (the default) and only after backward (the former path), medians over rounds;
//  3. our Gloo all-reduce bus bandwidth (16 MiB float32, 2 ranks) vs a raw loopback TCP stream
//     between two processes (Python sendall / recv_into: system calls, no copies in between).
// Writes bench/results/ddp.json (and history/) with the machine description.
//   npx tsx bench/run_ddp.ts [--quick]
import { createServer, type AddressInfo } from 'node:net';
import { spawn } from 'node:child_process';
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
 * Loopback TCP throughput between two processes at the system-call level: a Python child sends
 * `mib` MiB with sendall() of 4 MiB buffers, another receives with recv_into() a preallocated
 * buffer (no per-chunk allocation: the raw stream Gloo's pairs ride on). Bytes per second.
 */
async function tcpStream(mib: number): Promise<number> {
  const port = await freePort();
  const recv = `import socket,time\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1);s.bind(('127.0.0.1',${port}));s.listen(1);c,_=s.accept()\nb=bytearray(4<<20);m=memoryview(b);n=0;t=0\nwhile True:\n k=c.recv_into(m)\n if k==0: break\n if t==0: t=time.perf_counter()\n n+=k\nprint(n/(time.perf_counter()-t))`;
  const send = `import socket,time\nfor i in range(100):\n try:\n  s=socket.create_connection(('127.0.0.1',${port}));break\n except OSError: time.sleep(0.05)\nb=bytes(4<<20)\nfor i in range(${mib / 4}): s.sendall(b)\ns.close()`;
  const out = new Promise<string>((resolve, reject) => {
    const r = spawn('/usr/bin/python3', ['-c', recv], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    r.stdout.on('data', (d: Buffer) => { text += d.toString(); });
    r.on('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`bench ddp: the TCP receiver exited with ${code}`))));
  });
  const sender = spawn('/usr/bin/python3', ['-c', send], { stdio: 'ignore' });
  const sent = new Promise((r) => sender.on('close', r));
  const bps = Number((await out).trim());
  await sent;
  return bps;
}

const steps = quick ? ['10', '2'] : ['30', '5'];
const gptSteps = quick ? ['4', '1'] : ['10', '2'];
const rounds = Number(process.env['BENCH_ROUNDS'] ?? (quick ? 1 : 3));
const load0 = os.loadavg();
process.stderr.write('bench ddp: raw TCP stream ...\n');
const tcp = [await tcpStream(1024), await tcpStream(1024), await tcpStream(1024)].sort((a, b) => a - b)[1]!;
process.stderr.write('bench ddp: all-reduce bus bandwidth ...\n');
const ar = await ours(['allreduce', '16', quick ? '5' : '10'], 2);
// Interleaved rounds: each configuration once per round, so load drifts hit them all alike; the
// summary keeps each configuration's median (over rounds) of its per-run median step.
// 'on' launches buckets during backward (the default), 'off' only after backward (the former path).
const runs: Record<string, Json[]> = {};
const add = (k: string, j: Json): void => { (runs[k] ??= []).push(j); };
for (let r = 0; r < rounds; r++) {
  const loadNow = os.loadavg()[0]!.toFixed(1);
  process.stderr.write(`bench ddp: round ${r + 1}/${rounds} (load ${loadNow}): mlp (ours on/off, PyTorch DDP) ...\n`);
  add('mlpOn', await ours(['train', 'mlp', '128', ...steps, '1', 'on'], 2));
  add('mlpOff', await ours(['train', 'mlp', '128', ...steps, '1', 'off'], 2));
  add('mlpPeer', await peer(['mlp', '128', ...steps, '1'], 2));
  process.stderr.write(`bench ddp: round ${r + 1}/${rounds}: mlp-large 2 ranks x 1 thread (on/off) vs 1 process x 2 threads ...\n`);
  add('large2x1On', await ours(['train', 'mlp-large', '128', ...steps, '1', 'on'], 2));
  add('large2x1Off', await ours(['train', 'mlp-large', '128', ...steps, '1', 'off'], 2));
  add('large1x2', await ours(['train', 'mlp-large', '128', ...steps, '2'], 1));
  // 4 MiB buckets split mlp-large's 4.weight (5.8 MB, final before layer 1's backward) from 1.weight
  add('large2x1Cap4', await ours(['train', 'mlp-large', '128', ...steps, '1', 'on', '4'], 2));
  process.stderr.write(`bench ddp: round ${r + 1}/${rounds}: gpt-tiny (ours on/off, PyTorch DDP) ...\n`);
  add('gptOn', await ours(['train', 'gpt-tiny', '16', ...gptSteps, '1', 'on'], 2));
  add('gptOff', await ours(['train', 'gpt-tiny', '16', ...gptSteps, '1', 'off'], 2));
  add('gptPeer', await peer(['gpt-tiny', '16', ...gptSteps, '1'], 2));
}
const med = (k: string, f = 'stepMs'): number => median(runs[k]!.map((j) => j[f] as number));
const summary = (k: string): Json => ({ stepMs: med(k), minMs: Math.min(...runs[k]!.map((j) => j['minMs'] as number)), ...(runs[k]![0]!['commWaitMs'] != null ? { commWaitMs: med(k, 'commWaitMs'), commOverlapMs: med(k, 'commOverlapMs'), buckets: runs[k]![0]!['buckets'] } : {}), runs: runs[k]!.map((j) => j['stepMs'] as number) });
const mlpOurs = summary('mlpOn'), mlpPeer = { ...summary('mlpPeer'), peer: runs['mlpPeer']![0]!['peer'] };
const gptOurs = summary('gptOn'), gptPeer = summary('gptPeer');
const large2x1 = summary('large2x1On'), large1x2 = summary('large1x2');
const num = (j: Json, k: string): number => j[k] as number;
const result = {
  date: new Date().toISOString(),
  machine: { ...machineInfo(ar['machine'] as Json), loadavgAtStart: load0 },
  peerConfiguration: { ...(mlpPeer['peer'] as Json), processes: 2, threadsPerProcess: 1, python: '/usr/bin/python3' },
  quick,
  rounds,
  ratios: {
    mlpStepOursOverPytorchDdp: num(mlpOurs, 'stepMs') / num(mlpPeer, 'stepMs'),
    gptTinyStepOursOverPytorchDdp: num(gptOurs, 'stepMs') / num(gptPeer, 'stepMs'),
    mlpLarge2x1ThroughputOver1x2: num(large1x2, 'stepMs') / num(large2x1, 'stepMs'),
    mlpLarge2x1Cap4ThroughputOver1x2: num(large1x2, 'stepMs') / med('large2x1Cap4'),
    allReduceBusBandwidthOverTcpStream: num(ar, 'busBytesPerSecond') / tcp,
  },
  // the same ratios with buckets launched only after backward (the path before overlap)
  ratiosWithoutOverlap: {
    mlpStepOursOverPytorchDdp: med('mlpOff') / num(mlpPeer, 'stepMs'),
    gptTinyStepOursOverPytorchDdp: med('gptOff') / num(gptPeer, 'stepMs'),
    mlpLarge2x1ThroughputOver1x2: num(large1x2, 'stepMs') / med('large2x1Off'),
  },
  targets: { mlpStepOursOverPytorchDdp: '<= 1.0', gptTinyStepOursOverPytorchDdp: '<= 1.0', mlpLarge2x1ThroughputOver1x2: '>= 0.9', allReduceBusBandwidthOverTcpStream: '>= 0.8' },
  mlp: { ours: mlpOurs, oursWithoutOverlap: summary('mlpOff'), pytorch: mlpPeer },
  gptTiny: { ours: gptOurs, oursWithoutOverlap: summary('gptOff'), pytorch: gptPeer },
  mlpLarge: { ranks2threads1: large2x1, ranks2threads1WithoutOverlap: summary('large2x1Off'), ranks2threads1BucketCap4: summary('large2x1Cap4'), process1threads2: large1x2 },
  allReduce: { ours: ar, tcpStreamBytesPerSecond: tcp },
  loadavgAtEnd: os.loadavg(),
};
delete (ar as Json)['machine'];
const where = writeResult('ddp', result);
console.log(JSON.stringify({ ratios: result.ratios, ratiosWithoutOverlap: result.ratiosWithoutOverlap, written: where }));
