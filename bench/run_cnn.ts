// The lenet5 training-step benchmark of issue 17, tensorslim against PyTorch in one session: runs
// `tensorslim bench cnn --json` and bench/peer_cnn.py (with 1 and with 2 torch threads; the faster
// of the two is the peer) alternately for several rounds, each in a fresh process, and records the
// medians, the ratios, the peer configuration, the load average and the machine as benchmark 'cnn'
// (with TENSORSLIM_CPU set, e.g. avx2, as 'cnn-<path>'; bench/README.md).
//   usage: npx tsx bench/run_cnn.ts [rounds=3] [steps=30]      (BENCH_THREADS, default 2)
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult, type Json } from './common.js';

const rounds = Number(process.argv[2] ?? 3);
const steps = String(process.argv[3] ?? 30);
const threads = String(process.env['BENCH_THREADS'] ?? 2);
const ours = (): Json => runOursNative(['src/cli/main.ts', 'bench', 'cnn', '--json', '--threads', threads, '--steps', steps]);
const peer = (t: number): Json => runJson('/usr/bin/python3', ['bench/peer_cnn.py', steps, '5', String(t)], peerEnv());

const raw: Record<string, number[]> = {
  stepMs: [], forwardMs: [], cpuMsPerStep: [], loadavg: [],
  peer1StepMs: [], peer1ForwardMs: [], peer1CpuMsPerStep: [], peer2StepMs: [], peer2ForwardMs: [], peer2CpuMsPerStep: [],
};
let machine: Json = {}, peerConfig: unknown = null;
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  raw['loadavg']!.push(os.loadavg()[0]!);
  // alternate which side goes first, so a load burst does not always hit the same one
  const sides = i % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours'];
  for (const side of sides) {
    if (side === 'ours') {
      const o = ours(); machine = o['machine'] as Json;
      raw['stepMs']!.push(o['stepMs'] as number); raw['forwardMs']!.push(o['forwardMs'] as number);
      raw['cpuMsPerStep']!.push(o['cpuMsPerStep'] as number);
    } else {
      for (const t of [1, 2]) {
        const p = peer(t); peerConfig = p['peer'];
        raw[`peer${t}StepMs`]!.push(p['stepMs'] as number); raw[`peer${t}ForwardMs`]!.push(p['forwardMs'] as number);
        raw[`peer${t}CpuMsPerStep`]!.push(p['cpuMsPerStep'] as number);
      }
    }
  }
}
const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
const m = (k: string): number => med[k]!;
// the peer at its best: the faster thread count, separately for the step and the forward
const peerStepMs = Math.min(m('peer1StepMs'), m('peer2StepMs')), peerForwardMs = Math.min(m('peer1ForwardMs'), m('peer2ForwardMs'));
const peerCpuMsPerStep = Math.min(m('peer1CpuMsPerStep'), m('peer2CpuMsPerStep'));
const cpu = process.env['TENSORSLIM_CPU'];
const result = {
  date: new Date().toISOString(),
  machine: machineInfo(machine),
  workload: 'one Adam training step of lenet5 (conv 1-6 k5 pad 2, pool, conv 6-16 k5, pool, FC 400-120-84-10), batch 128, float32; and its forward without gradients',
  rounds,
  stepsPerRound: Number(steps),
  medians: { ...med, peerStepMs, peerForwardMs, peerCpuMsPerStep },
  ratios: { stepVsTorch: m('stepMs') / peerStepMs, forwardVsTorch: m('forwardMs') / peerForwardMs, cpuPerStepVsTorch: m('cpuMsPerStep') / peerCpuMsPerStep },
  units: {
    ms: 'ms (median of the round medians)', cpuMsPerStep: 'process CPU ms (all threads) per training step: robust to other load, but counts idle-spinning pool threads',
    loadavg: '1-minute load average at the start of each round',
  },
  peer: { ...(peerConfig as Json), threadsKept: { step: m('peer1StepMs') <= m('peer2StepMs') ? 1 : 2, forward: m('peer1ForwardMs') <= m('peer2ForwardMs') ? 1 : 2 } },
  raw,
};
const files = writeResult(cpu ? `cnn-${cpu}` : 'cnn', result);
process.stdout.write(`${JSON.stringify({ ...files, medians: result.medians, ratios: result.ratios })}\n`);
