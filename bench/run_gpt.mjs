#!/usr/bin/env node
// The GPT training-step benchmark of issue 7, tensorslim against PyTorch in one session: runs
// `tensorslim bench gpt --json` and bench/peer_gpt.py alternately for several rounds (each in a
// fresh process, so each reports its own peak resident memory), and saves the medians, the ratio,
// both peak RSS values, the peer configuration and the machine description to
// bench/results/gpt-<date>.json (written atomically).
//   usage: node bench/run_gpt.mjs [rounds=3] [steps=10]
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult } from './common.mjs';

const rounds = Number(process.argv[2] ?? 3);
const steps = String(process.argv[3] ?? 10);
const threads = String(process.env.BENCH_THREADS ?? 2);
const ours = () => runOursNative(['src/cli/main.ts', 'bench', 'gpt', '--json', '--threads', threads, '--steps', steps]);
const peer = () => runJson('/usr/bin/python3', ['bench/peer_gpt.py', steps, '2'], peerEnv());

const raw = { stepMs: [], peerStepMs: [], peakRssBytes: [], peerPeakRssBytes: [], loadavg: [] };
let machine = null, peerConfig = null, config = null;
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  raw.loadavg.push(os.loadavg()[0]);
  const o = ours(); machine = o.machine; config = o.config;
  raw.stepMs.push(o.stepMs); raw.peakRssBytes.push(o.peakRssBytes);
  const p = peer(); peerConfig = p.peer;
  raw.peerStepMs.push(p.stepMs); raw.peerPeakRssBytes.push(p.peakRssBytes);
}
const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
const tokens = config.blockSize * 16;
const result = {
  bench: 'gpt',
  date: new Date().toISOString(),
  machine: machineInfo(machine),
  workload: 'one AdamW training step, GPT 4 layers, d_model 256, 4 heads, context 128, batch 16, vocabulary 256, float32',
  rounds,
  stepsPerRound: Number(steps),
  medians: { ...med, tokensPerSecond: tokens / (med.stepMs / 1000), peerTokensPerSecond: tokens / (med.peerStepMs / 1000) },
  ratios: { stepVsTorch: med.stepMs / med.peerStepMs, peakRssVsTorch: med.peakRssBytes / med.peerPeakRssBytes },
  units: { stepMs: 'ms per training step (median of the round medians)', peakRssBytes: 'bytes, whole process (ru_maxrss)' },
  peer: peerConfig,
  config,
  raw,
};
const file = writeResult('gpt-', result, result.date);
process.stdout.write(`${JSON.stringify({ file, medians: result.medians, ratios: result.ratios })}\n`);
