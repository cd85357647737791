// Step scopes on the GPT L4 step (issue #17): `bench gpt` (4 layers, d_model 256, 4 heads, context
// 128, batch 16) on ONE kernel thread, with each step in a step scope (tidy(): the activations and
// the gradients zeroGrad drops go back to the storage pool) and without (--no-step-scope), and the
// PyTorch peer (bench/peer_gpt.py, OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)), each in a
// fresh process, alternating for several rounds. Ours: CPU ms per step (process.cpuUsage over the
// timed steps), V8's garbage collections during the timed steps (perf_hooks 'gc' entries:
// mark-compacts, scavenges, pause ms) and the pool's counters (fresh bytes per step after warm-up);
// the peer: CPU ms per step (time.process_time). CPU time, not wall time, because the machine is
// shared (docs/GPT.md). Records medians, per-round values and the load average as 'gpt-step-scope'.
//   usage: npx tsx bench/run_step_scope.ts [rounds=3] [steps=8]
//   one side: npx tsx bench/run_step_scope.ts --side scope|noscope [steps]
import os from 'node:os';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult, type Json } from './common.js';

interface Side {
  scoped: boolean; stepMs: number; cpuMsPerStep: number; gcPauseMsPerStep: number; markCompactsPerStep: number; scavengesPerStep: number;
  freshMiBPerStep: number; finalLoss: number; peakRssBytes: number; machine: Json;
}

async function side(scoped: boolean, steps: number): Promise<void> {
  const { benchGpt } = await import('../src/bench/gpt.js');
  const { poolStats, resetPoolStats } = await import('../src/backend/pool.js');
  // GC entries that start inside the timed steps (perf_hooks delivers them after the fact)
  let t0 = Infinity, t1 = Infinity, fresh = 0;
  const entries: { start: number; ms: number; kind: number | undefined }[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) entries.push({ start: e.startTime, ms: e.duration, kind: ((e as unknown as { detail?: { kind?: number } }).detail)?.kind });
  });
  obs.observe({ entryTypes: ['gc'] });
  const r = benchGpt({
    steps, warmup: 2, threads: 1, stepScope: scoped,
    onTimed: (phase) => {
      if (phase === 'begin') { resetPoolStats(); t0 = performance.now(); } else { t1 = performance.now(); fresh = poolStats().freshBytes; }
    },
  });
  await new Promise((res) => setTimeout(res, 100)); // let the observer deliver the last entries
  obs.disconnect();
  const inside = entries.filter((e) => e.start >= t0 && e.start < t1);
  const n = (kind: number): number => inside.filter((e) => e.kind === kind).length / steps;
  const gcMsPerStep = inside.reduce((acc, e) => acc + e.ms, 0) / steps;
  const out: Side = {
    scoped, stepMs: r.stepMs, cpuMsPerStep: r.cpuMsPerStep, gcPauseMsPerStep: gcMsPerStep, markCompactsPerStep: n(constants.NODE_PERFORMANCE_GC_MAJOR),
    scavengesPerStep: n(constants.NODE_PERFORMANCE_GC_MINOR), freshMiBPerStep: fresh / 2 ** 20 / steps, finalLoss: r.finalLoss,
    peakRssBytes: r.peakRssBytes, machine: r.machine as unknown as Json,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (process.argv[2] === '--side') {
  await side(process.argv[3] === 'scope', Number(process.argv[4] ?? 8));
} else {
  const rounds = Number(process.argv[2] ?? 3);
  const steps = Number(process.argv[3] ?? 8);
  const raw: { scope: Side[]; noscope: Side[]; peer: Json[] } = { scope: [], noscope: [], peer: [] };
  const loadavg: number[][] = [];
  let machine: Json = {};
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  for (let i = 0; i < rounds; i++) {
    process.stderr.write(`round ${i + 1}/${rounds}\n`);
    loadavg.push(os.loadavg());
    for (const which of ['scope', 'noscope'] as const) {
      const s = runOursNative<Side>(['bench/run_step_scope.ts', '--side', which, String(steps)], env);
      machine = s.machine;
      raw[which].push(s);
    }
    raw.peer.push(runJson('/usr/bin/python3', ['bench/peer_gpt.py', String(steps), '2', '1'], { ...peerEnv(), OPENBLAS_NUM_THREADS: '1' }));
  }
  const med = (xs: readonly Side[], k: keyof Side): number => median(xs.map((s) => s[k] as number));
  const peerCpu = median(raw.peer.map((p) => p['cpuMsPerStep'] as number));
  const sideMedians = (xs: readonly Side[]): Json => ({
    cpuMsPerStep: med(xs, 'cpuMsPerStep'), stepMs: med(xs, 'stepMs'), gcPauseMsPerStep: med(xs, 'gcPauseMsPerStep'),
    markCompactsPerStep: med(xs, 'markCompactsPerStep'), scavengesPerStep: med(xs, 'scavengesPerStep'), freshMiBPerStep: med(xs, 'freshMiBPerStep'),
    peakRssBytes: med(xs, 'peakRssBytes'), cpuRatioToPeer: med(xs, 'cpuMsPerStep') / peerCpu,
  });
  const medians = {
    scope: sideMedians(raw.scope), noscope: sideMedians(raw.noscope),
    peer: { cpuMsPerStep: peerCpu, stepMs: median(raw.peer.map((p) => p['stepMs'] as number)) },
    scopeOverNoscopeCpu: med(raw.scope, 'cpuMsPerStep') / med(raw.noscope, 'cpuMsPerStep'),
  };
  const result = {
    date: new Date().toISOString(),
    machine: machineInfo(machine),
    workload: 'bench gpt small (L4 d256 T128 B16, AdamW), 1 kernel thread, step scope on vs off (--no-step-scope), PyTorch 1.13 peer with 1 thread (OPENBLAS_NUM_THREADS=1); fresh process each; CPU ms per step',
    peerConfig: raw.peer[0]?.['peer'] ?? null,
    rounds, steps,
    units: { cpuMsPerStep: 'process CPU ms per timed step', gcPauseMsPerStep: 'perf_hooks gc pauses that start during the timed steps, ms per step', freshMiBPerStep: 'fresh pool buffers, MiB per step' },
    medians,
    loadavg,
    raw: raw as unknown as Json,
  };
  const files = writeResult('gpt-step-scope', result);
  process.stdout.write(`${JSON.stringify({ ...files, medians, loadavg: os.loadavg() })}\n`);
}
