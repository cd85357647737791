// Depthwise convolution (issue #16, MobileNets): bench/depthwise_conv.ts (ours, native, one thread)
// against bench/peer_depthwise_conv.py (PyTorch, one thread), each in a fresh process, alternating
// for several rounds; records per case the medians over rounds of wall and CPU milliseconds per
// call, the ratios ours / torch, the load average of every round and the peer's configuration as
// benchmark 'depthwise-conv' (bench/README.md). One thread on both sides: on these shared 2-core
// machines CPU time of single-threaded runs is the stable measure.
//   usage: npx tsx bench/run_depthwise_conv.ts [rounds=5] [calls=20]
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResult, type Json } from './common.js';

interface Row { case: string; wallMs: number; cpuMs: number }
const rounds = Number(process.argv[2] ?? 5);
const calls = String(process.argv[3] ?? 20);
const raw: Record<string, { ours: Row[]; torch: Row[] }> = {};
const loadavg: number[][] = [];
let machine: Json = {}, peer: unknown = null;
for (let i = 0; i < rounds; i++) {
  process.stderr.write(`round ${i + 1}/${rounds}\n`);
  loadavg.push(os.loadavg());
  const o = runOursNative<{ rows: Row[] }>(['bench/depthwise_conv.ts', calls]);
  machine = o.machine;
  for (const r of o.rows) (raw[r.case] ??= { ours: [], torch: [] }).ours.push(r);
  const p = runJson<{ rows: Row[]; peer: unknown }>('/usr/bin/python3', ['bench/peer_depthwise_conv.py', calls], peerEnv());
  peer = p.peer;
  for (const r of p.rows) (raw[r.case] ??= { ours: [], torch: [] }).torch.push(r);
}
const medians = Object.fromEntries(Object.entries(raw).map(([k, v]) => {
  const m = (rows: Row[], f: 'wallMs' | 'cpuMs'): number => median(rows.map((r) => r[f]));
  const ow = m(v.ours, 'wallMs'), oc = m(v.ours, 'cpuMs'), tw = m(v.torch, 'wallMs'), tc = m(v.torch, 'cpuMs');
  return [k, { ours: { wallMs: ow, cpuMs: oc }, torch: { wallMs: tw, cpuMs: tc }, wallVsTorch: ow / tw, cpuVsTorch: oc / tc }];
}));
const result = {
  date: new Date().toISOString(),
  machine: machineInfo(machine),
  workload: 'depthwise 3x3 conv2d (groups = channels, padding 1, bias), float32, one thread each side; 5 rounds per process, the median round',
  rounds,
  calls: Number(calls),
  units: { wallMs: 'wall milliseconds per call', cpuMs: 'process CPU milliseconds per call (user + system)' },
  medians,
  peer,
  loadavg,
  raw,
};
const files = writeResult('depthwise-conv', result);
process.stdout.write(`${JSON.stringify({ ...files, medians, loadavg: os.loadavg() })}\n`);
