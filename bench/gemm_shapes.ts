// GEMM micro-benchmark over the GPT training step's shapes (batch*time = 2048 rows, d_model 256):
// forward x W^T, input gradients g W, weight gradients g^T x (K = 2048), attention's 64 x 64 tiles,
// and the square 2048 product; ours (native float32, 2 threads) against OpenBLAS (numpy @ and
// torch.mm, bench/peer_gemm_shapes.py), as GFLOP/s (median call) and GFLOP per CPU-second (all
// threads of the process: robust to other processes sharing the 2 cores).
//
//   npx tsx bench/gemm_shapes.ts [rounds=3] [--before ADDON.node] [--only NAME,NAME] [--no-peer]
//     runs, per round, ours (and, with --before, the same benchmark on another addon build) and
//     the peer, each in a fresh process, alternating which goes first; writes medians, per-round
//     values, load averages and the machine as benchmark 'gemm-shapes' (bench/README.md); with
//     --only, a partial record: its history copy only, marked "partial": true.
//   npx tsx bench/gemm_shapes.ts ... --vs-env NAME=VALUE[,NAME=VALUE]   adds side 'env': ours with
//     those variables (e.g. TENSORSLIM_GEMM_SCRATCH_MB=100000: the LM head's operands packed whole)
//   npx tsx bench/gemm_shapes.ts --child [--only ...]   one measurement of ours, one JSON line.
import os from 'node:os';
import { getNativeBackend, setNumThreads, cpuPath, getNumThreads } from '../src/backends/native/index.js';
import type { View } from '../src/backend/backend.js';
import { machineInfo, median, peerEnv, runJson, writeHistoryOnly, writeResult } from './common.js';

const nativeBackend = getNativeBackend();

/** [name, M, N, K, transA, transB]: C (M x N) = op(A) (M x K) op(B) (K x N). */
type Shape = [string, number, number, number, boolean, boolean];
const R = 2048;
const SHAPES: Shape[] = [
  // forward: x (R x in) W^T (W is out x in)
  ['fwd c_attn 256->768', R, 768, 256, false, true],
  ['fwd c_proj/lm_head 256->256', R, 256, 256, false, true],
  ['fwd mlp up 256->1024', R, 1024, 256, false, true],
  ['fwd mlp down 1024->256', R, 256, 1024, false, true],
  // input gradient: g (R x out) W (out x in)
  ['dx c_attn', R, 256, 768, false, false],
  ['dx c_proj/lm_head', R, 256, 256, false, false],
  ['dx mlp up', R, 256, 1024, false, false],
  ['dx mlp down', R, 1024, 256, false, false],
  // weight gradient: g^T (out x R) x (R x in)
  ['dw c_attn', 768, 256, R, true, false],
  ['dw c_proj/lm_head', 256, 256, R, true, false],
  ['dw mlp up', 1024, 256, R, true, false],
  ['dw mlp down', 256, 1024, R, true, false],
  // attention tiles (one head, 64 x 64 blocks, D = 64): S = Q K^T, O += P V, dK += dS^T Q
  ['attn 64 QK^T', 64, 64, 64, false, true],
  ['attn 64 PV', 64, 64, 64, false, false],
  ['attn 64 dS^T Q', 64, 64, 64, true, false],
  ['square 2048', 2048, 2048, 2048, false, false],
  // GPT-2's LM head (fused loss, src/backends/native/linear_cross_entropy.ts): one chunk of 256 rows,
  // d_model 768, vocabulary 50257: forward x_c W^T, input gradient g W (K = V), weight gradient
  // g^T x_c. Whole, W packs to 154 MiB and g to 51 MiB: the parallel driver packs them by blocks
  // (TENSORSLIM_GEMM_SCRATCH_MB=100000 packs them whole: --vs-env for both in one run)
  ['gpt2 lm_head fwd', 256, 50257, 768, false, true],
  ['gpt2 lm_head dx', 256, 768, 50257, false, false],
  ['gpt2 lm_head dw', 50257, 768, 256, true, false],
];

function randView(rows: number, cols: number, trans: boolean, seed: number): View {
  const data = new Float32Array(rows * cols);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; data[i] = s / 2 ** 31 - 1; }
  // a transposed operand is stored (cols x rows) and read with swapped strides
  return { data, shape: [1, rows, cols], strides: trans ? [0, 1, rows] : [0, cols, 1], offset: 0 };
}

function repsFor(flops: number): number { return Math.min(400, Math.max(5, Math.round(1.2e10 / flops))); }

function child(only: Set<string> | null): void {
  const nb = nativeBackend;
  if (!nb) throw new Error('gemm_shapes: the native addon is not loaded; build it with node scripts/build-native.mjs');
  setNumThreads(Number(process.env['BENCH_THREADS'] ?? 2));
  // warm-up (thread start, clocks, allocator): the first shape measured otherwise reads low
  const w = randView(512, 512, false, 3);
  for (let i = 0; i < 20; i++) nb.matmul(w, w, 'float32');
  const out = [];
  for (const [name, m, n, k, ta, tb] of SHAPES) {
    if (only && !only.has(name)) continue;
    const a = randView(m, k, ta, 1), b = randView(k, n, tb, 2);
    const flops = 2 * m * n * k;
    const reps = repsFor(flops);
    nb.matmul(a, b, 'float32');
    const times: number[] = [];
    const c0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) {
      const t0 = process.hrtime.bigint();
      nb.matmul(a, b, 'float32');
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    const cpu = process.cpuUsage(c0);
    const med = median(times);
    out.push({ name, gflops: flops / (med * 1e6), cpuGflops: (flops * reps) / ((cpu.user + cpu.system) * 1e3), ms: med, reps });
  }
  process.stdout.write(`${JSON.stringify({ backend: 'native', cpuPath: cpuPath(), threads: getNumThreads(), shapes: out })}\n`);
}

interface Row { name: string; gflops: number; cpuGflops: number }

/** The rows of one side's measurement: a process printing `{ shapes: [...] }` as its last line. */
function shapesOf<R>(cmd: string, args: string[], env: NodeJS.ProcessEnv): { shapes: R[]; peer?: unknown } {
  return runJson(cmd, args, env) as { shapes: R[]; peer?: unknown };
}

/** One row of bench/peer_gemm_shapes.py. */
interface PeerRow { name: string; numpyGflops: number; numpyCpuGflops: number; torchGflops: number; torchCpuGflops: number }

function runner(rounds: number, before: string | null, only: Set<string> | null, peer: boolean, vsEnv: Record<string, string> | null): void {
  const shapes = SHAPES.filter(([name]) => !only || only.has(name));
  const onlyArgs = only ? ['--only', [...only].join(',')] : [];
  const sides: Record<string, () => Row[]> = {
    ours: () => shapesOf<Row>(process.execPath, ['--import', 'tsx', 'bench/gemm_shapes.ts', '--child', ...onlyArgs], { ...process.env, BENCH_THREADS: '2' }).shapes,
  };
  if (before) sides['before'] = () => shapesOf<Row>(process.execPath, ['--import', 'tsx', 'bench/gemm_shapes.ts', '--child', ...onlyArgs], { ...process.env, BENCH_THREADS: '2', TENSORSLIM_NATIVE_PATH: before }).shapes;
  if (vsEnv) sides['env'] = () => shapesOf<Row>(process.execPath, ['--import', 'tsx', 'bench/gemm_shapes.ts', '--child', ...onlyArgs], { ...process.env, BENCH_THREADS: '2', ...vsEnv }).shapes;
  let peerConfig: unknown = null;
  if (peer) {
    const list = JSON.stringify(shapes);
    sides['numpy'] = () => {
      const r = shapesOf<PeerRow>('/usr/bin/python3', ['bench/peer_gemm_shapes.py', list], peerEnv());
      peerConfig = r.peer;
      return r.shapes.map((s) => ({ name: s.name, gflops: s.numpyGflops, cpuGflops: s.numpyCpuGflops, torchGflops: s.torchGflops, torchCpuGflops: s.torchCpuGflops }));
    };
  }
  const names = Object.keys(sides);
  const raw: Record<string, Record<string, Record<string, number[]>>> = {};
  const loadavg: number[][] = [];
  for (let i = 0; i < rounds; i++) {
    loadavg.push(os.loadavg());
    const order = names.map((_, j) => names[(j + i) % names.length]!);
    process.stderr.write(`round ${i + 1}/${rounds}: ${order.join(', ')} (load ${os.loadavg().map((x) => x.toFixed(1)).join('/')})\n`);
    for (const side of order) {
      for (const row of sides[side]!()) {
        const r0 = ((raw[row.name] ??= {})[side] ??= {});
        for (const [key, v] of Object.entries(row)) if (typeof v === 'number') (r0[key] ??= []).push(v);
      }
    }
  }
  const table = shapes.map(([name, m, n, k, ta, tb]) => {
    const med: Record<string, Record<string, number>> = {};
    for (const side of names) med[side] = Object.fromEntries(Object.entries(raw[name]![side]!).map(([key, v]) => [key, median(v)]));
    const ratio = (x: string, key: string) => med['ours']![key]! / med[x]![key]!;
    return {
      name, m, n, k, transA: ta, transB: tb, medians: med,
      ...(peer ? { vsNumpy: ratio('numpy', 'gflops'), vsNumpyCpu: ratio('numpy', 'cpuGflops') } : {}),
      ...(before ? { vsBefore: ratio('before', 'gflops'), vsBeforeCpu: ratio('before', 'cpuGflops') } : {}),
      ...(vsEnv ? { vsEnv: ratio('env', 'gflops'), vsEnvCpu: ratio('env', 'cpuGflops') } : {}),
    };
  });
  for (const t of table) {
    const f = (side: string) => `${t.medians[side]!['gflops']!.toFixed(1)}/${t.medians[side]!['cpuGflops']!.toFixed(1)}`;
    process.stderr.write(`${t.name.padEnd(28)} ${names.map((s) => `${s} ${f(s)}`).join('  ')}\n`);
  }
  const date = new Date().toISOString();
  const result = {
    date, machine: machineInfo({ backend: 'native', threads: 2 }), rounds, before, vsEnv, sides: names,
    units: 'gflops: GFLOP/s of the median call (float32, 2 threads; OpenBLAS threads itself, torch.set_num_threads(1)); cpuGflops: flops over the process CPU time (user + system, all threads) of the timed calls',
    peer: peerConfig, loadavg, loadavgAtEnd: os.loadavg(), shapes: table, raw, ...(only ? { only: [...only], partial: true } : {}),
  };
  // a run of some shapes (--only) must not replace the full current record
  const files = only ? writeHistoryOnly('gemm-shapes', result, `--only ${[...only].join(',')}: a partial record`) : writeResult('gemm-shapes', result);
  process.stdout.write(`${JSON.stringify({ ...files, loadavg: os.loadavg() })}\n`);
}

const argv = process.argv.slice(2);
const opt = (flag: string): string | null => { const i = argv.indexOf(flag); return i >= 0 ? argv[i + 1] ?? null : null; };
const onlyArg = opt('--only');
const only = onlyArg ? new Set(onlyArg.split(',')) : null;
if (argv.includes('--child')) child(only);
else {
  const envArg = opt('--vs-env');
  const vsEnv = envArg ? Object.fromEntries(envArg.split(',').map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) throw new Error(`gemm_shapes: --vs-env expects NAME=VALUE[,NAME=VALUE], got '${kv}'`);
    return [kv.slice(0, i), kv.slice(i + 1)];
  })) : null;
  runner(Number(argv.find((x) => /^\d+$/.test(x)) ?? 3), opt('--before'), only, !argv.includes('--no-peer'), vsEnv);
}
