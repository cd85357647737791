// The storage pool's effect on training steps (issue #17): `bench mlp`, `bench cnn` (lenet5) and
// `bench gpt` at the gpt-tiny shape (4 layers, d 128, 4 heads, context 128, batch 8), each run in a
// fresh process with the pool on (default) and off (TENSORSLIM_POOL_MB=0), alternating for several
// rounds. Each process times the steps as the bench does and sums V8's garbage-collection pauses
// (perf_hooks 'gc' entries) over the whole run; GC ms per step = pause share of the wall clock x
// step time. Records medians over rounds, the pool's counters and the load average as benchmark
// 'pool-gc' (bench/README.md).
//   usage: npx tsx bench/run_pool_gc.ts [rounds=3] [models=mlp,cnn,gpt-tiny]
//   one side: npx tsx bench/run_pool_gc.ts --side mlp|cnn|gpt-tiny
import os from 'node:os';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { machineInfo, median, runOursNative, writeResult, type Json } from './common.js';

interface Side { model: string; stepMs: number; gcMs: number; wallMs: number; gcShare: number; gcMsPerStep: number; markCompacts: number; scavenges: number; pool: Json; machine: Json }

async function side(model: string): Promise<void> {
  const { benchMlp } = await import('../src/bench/mlp.js');
  const { benchCnn } = await import('../src/bench/cnn.js');
  const { benchGpt } = await import('../src/bench/gpt.js');
  const { poolStats } = await import('../src/backend/pool.js');
  let gcMs = 0, markCompacts = 0, scavenges = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      const kind = ((e as unknown as { detail?: { kind?: number } }).detail)?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) markCompacts++; else if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  const r = model === 'mlp' ? benchMlp({ steps: 20, warmup: 3 })
    : model === 'cnn' ? benchCnn({ steps: 20, warmup: 3, forward: false })
      : benchGpt({ steps: 6, warmup: 2, batch: 8, model: { nLayer: 4, nEmbd: 128, nHead: 4, blockSize: 128 } });
  const wallMs = performance.now() - t0;
  await new Promise((res) => setTimeout(res, 50)); // let the observer deliver the last entries
  obs.disconnect();
  const gcShare = gcMs / wallMs;
  const out: Side = { model, stepMs: r.stepMs, gcMs, wallMs, gcShare, gcMsPerStep: gcShare * r.stepMs, markCompacts, scavenges, pool: { ...poolStats() }, machine: r.machine as unknown as Json };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (process.argv[2] === '--side') {
  await side(process.argv[3] ?? 'mlp');
} else {
  const rounds = Number(process.argv[2] ?? 3);
  const models = String(process.argv[3] ?? 'mlp,cnn,gpt-tiny').split(',');
  const raw: Record<string, Record<string, Side[]>> = {};
  const loadavg: number[][] = [];
  let machine: Json = {};
  for (let i = 0; i < rounds; i++) {
    process.stderr.write(`round ${i + 1}/${rounds}\n`);
    loadavg.push(os.loadavg());
    for (const model of models) for (const pool of ['on', 'off']) {
      const env = pool === 'on' ? process.env : { ...process.env, TENSORSLIM_POOL_MB: '0' };
      const s = runOursNative<Side>(['bench/run_pool_gc.ts', '--side', model], env);
      machine = s.machine;
      ((raw[model] ??= {})[pool] ??= []).push(s);
    }
  }
  const medians = Object.fromEntries(Object.entries(raw).map(([model, sides]) => {
    const m = (pool: string, k: 'stepMs' | 'gcMsPerStep' | 'gcShare' | 'markCompacts'): number => median((sides[pool] ?? []).map((s) => s[k]));
    return [model, {
      on: { stepMs: m('on', 'stepMs'), gcMsPerStep: m('on', 'gcMsPerStep'), gcShare: m('on', 'gcShare'), markCompacts: m('on', 'markCompacts') },
      off: { stepMs: m('off', 'stepMs'), gcMsPerStep: m('off', 'gcMsPerStep'), gcShare: m('off', 'gcShare'), markCompacts: m('off', 'markCompacts') },
      stepRatio: m('on', 'stepMs') / m('off', 'stepMs'),
    }];
  }));
  const result = {
    date: new Date().toISOString(),
    machine: machineInfo(machine),
    workload: 'training steps: bench mlp (784-1200-1200-10, batch 128), bench cnn (lenet5, batch 128), bench gpt at gpt-tiny shape (L4 d128 T128, batch 8); pool on (TENSORSLIM_POOL_MB default 512) vs off (0), fresh process each',
    rounds,
    units: { stepMs: 'median ms per step', gcMsPerStep: 'GC pause share of the run x stepMs', gcShare: 'perf_hooks gc durations / wall', markCompacts: 'major GCs in the run' },
    medians,
    loadavg,
    raw,
  };
  const files = writeResult('pool-gc', result);
  process.stdout.write(`${JSON.stringify({ ...files, medians, loadavg: os.loadavg() })}\n`);
}
