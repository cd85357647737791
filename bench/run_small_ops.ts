// Per-op cost of small tensors (issue #17: "two 1x10 tensors added <= 2.5 us"): bench/small_ops.ts
// (ours, default settings, and again with TENSORSLIM_SMALL_JS=0: every op through the addon) against
// bench/peer_small_ops.py (PyTorch at 1 and 2 threads, the faster per op), each in a fresh process,
// alternating for several rounds; records the medians over rounds, the ratios, the load average of
// every round and the peer's configuration as benchmark 'small-ops' (bench/README.md).
//   usage: npx tsx bench/run_small_ops.ts [rounds=3] [calls=50000]
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult, type Json } from './common.js';

interface Row { op: string; usPerCall: number }
const rounds = Number(process.argv[2] ?? 3);
const calls = String(process.argv[3] ?? 50000);
const sides = ['ours', 'ours (TENSORSLIM_SMALL_JS=0)', 'torch'] as const;
const raw: Record<string, Record<string, number[]>> = {};
const loadavg: number[][] = [];
let machine: Json = {}, peer: unknown = null;
const push = (side: string, rows: readonly Row[]): void => {
  for (const r of rows) ((raw[r.op] ??= {})[side] ??= []).push(r.usPerCall);
};
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  loadavg.push(os.loadavg());
  const o = runOursNative<{ ops: Row[] }>(['bench/small_ops.ts', calls]);
  machine = o.machine; push(sides[0], o.ops);
  push(sides[1], runOursNative<{ ops: Row[] }>(['bench/small_ops.ts', calls], { ...process.env, TENSORSLIM_SMALL_JS: '0' }).ops);
  const best = new Map<string, number>();
  for (const t of ['1', '2']) {
    const p = runJson<{ ops: Row[]; peer: unknown }>('/usr/bin/python3', ['bench/peer_small_ops.py', calls, t], peerEnv());
    peer = p.peer;
    for (const r of p.ops) best.set(r.op, Math.min(best.get(r.op) ?? Infinity, r.usPerCall));
  }
  push(sides[2], [...best].map(([op, usPerCall]) => ({ op, usPerCall })));
}
const medians = Object.fromEntries(Object.entries(raw).map(([op, s]) => {
  const m = Object.fromEntries(sides.map((k) => [k, median(s[k] ?? [NaN])]));
  return [op, { usPerCall: m, vsTorch: m['ours']! / m['torch']!, addonOnlyVsTorch: m[sides[1]]! / m['torch']! }];
}));
const result = {
  date: new Date().toISOString(),
  machine: machineInfo(machine),
  workload: 'one op on small float32 tensors in a tight loop, each call allocating its result (dropped); 5 rounds per process, the median round',
  rounds,
  calls: Number(calls),
  units: { usPerCall: 'microseconds per call, median over rounds of each process\'s median round' },
  target: 'issue #17: add of two 1x10 tensors <= 2.5 us',
  medians,
  peer: { ...(peer as Json), chosen: 'the faster of 1 and 2 threads, per op and round' },
  loadavg,
  raw,
};
const files = writeResult('small-ops', result);
process.stdout.write(`${JSON.stringify({ ...files, medians, loadavg: os.loadavg() })}\n`);
