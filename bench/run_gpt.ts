// The GPT training-step benchmark of issue 7, tensorslim against PyTorch in one session: runs
// `tensorslim bench gpt --json` and bench/peer_gpt.py alternately for several rounds (each in a
// fresh process, so each reports its own peak resident memory), and records the medians, the ratio,
// both peak RSS values, the peer configuration and the machine as benchmark 'gpt' (bench/README.md).
//   usage: npx tsx bench/run_gpt.ts [rounds=3] [steps=10]      (BENCH_THREADS, default 2)
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult, type Json } from './common.js';

const rounds = Number(process.argv[2] ?? 3);
const steps = String(process.argv[3] ?? 10);
const threads = String(process.env['BENCH_THREADS'] ?? 2);
const ours = (): Json => runOursNative(['src/cli/main.ts', 'bench', 'gpt', '--json', '--threads', threads, '--steps', steps]);
const peer = (): Json => runJson('/usr/bin/python3', ['bench/peer_gpt.py', steps, '2'], peerEnv());

const raw: Record<string, number[]> = { stepMs: [], peerStepMs: [], peakRssBytes: [], peerPeakRssBytes: [], loadavg: [] };
let machine: Json = {}, peerConfig: unknown = null, config: Json = {};
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  raw['loadavg']!.push(os.loadavg()[0]!);
  const o = ours(); machine = o['machine'] as Json; config = o['config'] as Json;
  raw['stepMs']!.push(o['stepMs'] as number); raw['peakRssBytes']!.push(o['peakRssBytes'] as number);
  const p = peer(); peerConfig = p['peer'];
  raw['peerStepMs']!.push(p['stepMs'] as number); raw['peerPeakRssBytes']!.push(p['peakRssBytes'] as number);
}
const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
const tokens = (config['blockSize'] as number) * 16;
const result = {
  date: new Date().toISOString(),
  machine: machineInfo(machine),
  workload: 'one AdamW training step, GPT 4 layers, d_model 256, 4 heads, context 128, batch 16, vocabulary 256, float32',
  rounds,
  stepsPerRound: Number(steps),
  medians: { ...med, tokensPerSecond: tokens / (med['stepMs']! / 1000), peerTokensPerSecond: tokens / (med['peerStepMs']! / 1000) },
  ratios: { stepVsTorch: med['stepMs']! / med['peerStepMs']!, peakRssVsTorch: med['peakRssBytes']! / med['peerPeakRssBytes']! },
  units: { stepMs: 'ms per training step (median of the round medians)', peakRssBytes: 'bytes, whole process (ru_maxrss)' },
  peer: peerConfig,
  config,
  raw,
};
const files = writeResult('gpt', result);
process.stdout.write(`${JSON.stringify({ ...files, medians: result.medians, ratios: result.ratios })}\n`);
