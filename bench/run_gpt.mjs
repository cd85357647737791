#!/usr/bin/env node
// The GPT training-step benchmark of issue 7, tensorslim against PyTorch in one session: runs
// `tensorslim bench gpt --json` and bench/peer_gpt.py alternately for several rounds (each in a
// fresh process, so each reports its own peak resident memory), and saves the medians, the ratio,
// both peak RSS values, the peer configuration and the machine description to
// bench/results/gpt-<date>.json (written atomically).
//   usage: node bench/run_gpt.mjs [rounds=3] [steps=10]
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(process.argv[2] ?? 3);
const steps = String(process.argv[3] ?? 10);
const threads = String(process.env.BENCH_THREADS ?? 2);
const peerEnv = { ...process.env };
delete peerEnv.OPENBLAS_CORETYPE; delete peerEnv.OPENBLAS_L2_SIZE;

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, env, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}
const ours = () => run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', 'gpt', '--json', '--threads', threads, '--steps', steps], process.env);
const peer = () => run('/usr/bin/python3', ['bench/peer_gpt.py', steps, '2'], peerEnv);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

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
  machine: { ...machine, cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), totalMemBytes: os.totalmem(), loadavgAtEnd: os.loadavg() },
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
mkdirSync(join(root, 'bench', 'results'), { recursive: true });
const file = join(root, 'bench', 'results', `gpt-${result.date.slice(0, 19).replace(/[:T]/g, '-')}.json`);
writeFileSync(`${file}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
renameSync(`${file}.tmp`, file);
process.stdout.write(`${JSON.stringify({ file, medians: result.medians, ratios: result.ratios })}\n`);
