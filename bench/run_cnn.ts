// The lenet5 training-step benchmark of issue 17, tensorslim against PyTorch in one session, recorded
// with the medians, the ratios, the peer configuration, the load average and the machine as
// benchmark 'cnn' (with TENSORSLIM_CPU set, e.g. avx2, as 'cnn-<path>'; any other TENSORSLIM_*
// variable set: the history copy only; bench/README.md).
//   usage: npx tsx bench/run_cnn.ts [rounds] [steps] [--fresh]      (BENCH_THREADS, default 2)
// Default (paired, bench/paired.ts): our worker (`bench cnn`'s workload) and peer_cnn.py --serve
// start once; in the warm-up the peer's torch threads (1 and 2) are timed and the faster kept, per
// workload (step, forward); then `rounds` (default 61) rounds of one window (BENCH_WINDOW_S,
// default 0.1 s) per side and workload, the order flipping every round. --fresh: the older method,
// `tensorslim bench cnn --json` and peer_cnn.py (1 and 2 threads) in fresh processes, `rounds`
// (default 3) rounds of `steps` (default 30) steps.
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResultUnlessKnobs, type Json } from './common.js';
import { intervalsOf, pairedRecordBase, pairedSession, startOursWorker, startWorker, windowSeconds } from './paired.js';

const args = process.argv.slice(2);
const fresh = args.includes('--fresh');
const positional = args.filter((a) => a !== '--fresh');
const rounds = Number(positional[0] ?? (fresh ? 3 : 61));
const steps = String(positional[1] ?? 30);
const threads = String(process.env['BENCH_THREADS'] ?? 2);
const cpu = process.env['TENSORSLIM_CPU'];
const workload = 'one Adam training step of lenet5 (conv 1-6 k5 pad 2, pool, conv 6-16 k5, pool, FC 400-120-84-10), batch 128, float32; and its forward without gradients';
const done = (result: Json & { date: string }): void => {
  const files = writeResultUnlessKnobs(cpu ? `cnn-${cpu}` : 'cnn', result, ['TENSORSLIM_CPU']);
  process.stdout.write(`${JSON.stringify({ ...files, medians: result['medians'], ratios: result['ratios'] })}\n`);
};
if (fresh) runFresh();
else await runPaired();

/** The paired method: one worker each side, the peer's threads chosen per workload in the warm-up. */
async function runPaired(): Promise<void> {
  const windowS = windowSeconds();
  const r = await pairedSession(() => startOursWorker(['cnn', 'cnn-forward'], Number(threads)),
    () => startWorker('torch', '/usr/bin/python3', ['bench/peer_cnn.py', '--serve'], peerEnv()),
    { rounds, windowS, workloads: [
      { name: 'step', ours: 'cnn', peer: 'step', ratio: 'time', peerThreads: [1, 2] },
      { name: 'forward', ours: 'cnn-forward', peer: 'forward', ratio: 'time', peerThreads: [1, 2] },
    ] });
  const [step, fwd] = r.rows as [typeof r.rows[0], typeof r.rows[0]];
  done({
    ...pairedRecordBase(r, windowS),
    workload,
    medians: {
      stepMs: step.oursWallMs, forwardMs: fwd.oursWallMs, cpuMsPerStep: step.oursCpuMs,
      peerStepMs: step.peerWallMs, peerForwardMs: fwd.peerWallMs, peerCpuMsPerStep: step.peerCpuMs,
      // the warm-up's medians of each torch thread count (ms per step / forward)
      peer1StepMs: step.peerThreads?.tried['1'], peer2StepMs: step.peerThreads?.tried['2'],
      peer1ForwardMs: fwd.peerThreads?.tried['1'], peer2ForwardMs: fwd.peerThreads?.tried['2'],
    },
    ratios: {
      stepVsTorch: step.oursWallMs / step.peerWallMs, forwardVsTorch: fwd.oursWallMs / fwd.peerWallMs, cpuPerStepVsTorch: step.oursCpuMs / step.peerCpuMs,
      stepPairedVsTorch: step.wall.median, stepCpuPairedVsTorch: step.cpu.median, forwardPairedVsTorch: fwd.wall.median, forwardCpuPairedVsTorch: fwd.cpu.median,
    },
    intervals: { ...intervalsOf(step, 'stepPairedVsTorch', 'stepCpuPairedVsTorch'), ...intervalsOf(fwd, 'forwardPairedVsTorch', 'forwardCpuPairedVsTorch') },
    units: {
      ms: 'ms per step / forward, median over the rounds', cpuMsPerStep: 'process CPU ms (all threads) per training step: robust to other load, but counts idle-spinning pool threads',
      ratios: 'ours over PyTorch, time (below 1: faster); *Paired*: median of the per-round ratios', loadavg: '1-minute load average at the start of each round',
    },
    peer: { ...(r.peerInfo['peer'] as Json), threadsKept: { step: step.peerThreads?.kept, forward: fwd.peerThreads?.kept } },
    peakRssBytes: { ours: r.oursInfo['peakRssBytes'], peer: r.peerInfo['peakRssBytes'] },
    paired: r.rows,
  });
}

/** The older method: fresh processes each round, the peer at 1 and 2 threads, the faster kept. */
function runFresh(): void {
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
  const result = {
    date: new Date().toISOString(),
    machine: machineInfo(machine),
    method: { kind: 'fresh', description: `each measurement in a fresh process (ours: tensorslim bench cnn --json; the peer: peer_cnn.py at 1 and 2 threads), ${rounds} rounds, the order alternating` },
    workload,
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
  done(result);
}
