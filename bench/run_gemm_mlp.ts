// Runs tensorslim and its PyTorch/OpenBLAS peer on the same workloads in one session: GEMM 1024^3
// and 2048^3 against numpy @ (OpenBLAS), and one training step of the MLP 784-1200-1200-10 (both
// model variants) against PyTorch. Records medians, ratios, the peer configuration and the machine
// as benchmark 'gemm-mlp' (with "gemm": GEMM only, as 'gemm'); see bench/README.md for where
// results go and "How the ratios are measured" for the method.
//   usage: npx tsx bench/run_gemm_mlp.ts [rounds] [gemm] [--fresh]      (npm run bench)
// Default (paired): both sides as long-lived workers (bench/paired.ts), warmed up, then `rounds`
// (default 61) rounds of one short window per side and workload (BENCH_WINDOW_S, default 0.1 s),
// the order flipping every round; the ratios are medians of the per-round ratios, with their
// interquartile range and a bootstrap 90% interval (`intervals`). --fresh: the older method, each
// measurement a fresh process (`tensorslim bench gemm|mlp --json`, peer_gemm_mlp.py), `rounds`
// (default 3) rounds.
// BENCH_THREADS (default 2) sets both sides' threads for the GEMM rows (ours --threads, the peer
// OPENBLAS_NUM_THREADS) and names the record 'gemm-t<threads>' when not 2; with TENSORSLIM_CPU=avx2
// the GEMM peer runs OpenBLAS's AVX2 kernel (OPENBLAS_CORETYPE=Haswell, stated in the record's peer)
// and the record is '<name>-avx2'. Any other TENSORSLIM_* variable set: only the history copy is
// written (writeResultUnlessKnobs).
// Each round records the load average: the machine is shared, so wall-clock numbers carry the
// other processes' load; the GEMM rows also record GFLOP per CPU-second, which does not.
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResultUnlessKnobs, type Json } from './common.js';
import { intervalsOf, pairedRecordBase, pairedSession, startOursWorker, startWorker, windowSeconds, type PairedRow } from './paired.js';

const args = process.argv.slice(2);
const fresh = args.includes('--fresh');
const positional = args.filter((a) => a !== '--fresh');
const rounds = Number(positional[0] ?? (fresh ? 3 : 61));
const gemmOnly = positional[1] === 'gemm';
// ours: `tensorslim bench gemm|mlp --json` in a fresh process; the peer: bench/peer_gemm_mlp.py
const threads = String(process.env['BENCH_THREADS'] ?? 2);
const cpuPath = process.env['TENSORSLIM_CPU'];
const ours = (...a: string[]): Json => runOursNative(['src/cli/main.ts', 'bench', ...a, '--threads', a[0] === 'gemm' ? threads : '2', '--json']);
const peerGemmEnv = (): NodeJS.ProcessEnv => {
  const env = peerEnv();
  env['OPENBLAS_NUM_THREADS'] = threads;
  if (cpuPath === 'avx2') env['OPENBLAS_CORETYPE'] = 'Haswell';  // the AVX2 row against OpenBLAS's AVX2 kernel
  return env;
};
const peer = (...a: string[]): Json => runJson('/usr/bin/python3', ['bench/peer_gemm_mlp.py', ...a], a[0] === 'gemm' ? peerGemmEnv() : peerEnv());
const num = (r: Json, key: string): number => r[key] as number;
const name = (gemmOnly ? 'gemm' : 'gemm-mlp') + (threads !== '2' ? `-t${threads}` : '') + (cpuPath ? `-${cpuPath}` : '');
const units = {
  gemm: `GFLOP/s (float32, ${threads} thread(s) both sides; peer: numpy @ on OpenBLAS), median over the rounds`,
  gemmCpu: 'GFLOP per CPU-second of the process (all threads), same runs: the per-core efficiency, robust to other load',
  ...(gemmOnly ? {} : { mlp: 'ms per training step (median)' }),
};
const done = (result: Json & { date: string }): void => {
  const files = writeResultUnlessKnobs(name, result, ['TENSORSLIM_CPU']);
  process.stdout.write(`${JSON.stringify({ ...files, medians: result['medians'], ratios: result['ratios'], loadavg: os.loadavg() })}\n`);
};
if (fresh) runFresh();
else await runPaired();

/**
 * The paired method (bench/paired.ts): the GEMM rows in one pair of workers (ours at BENCH_THREADS,
 * numpy at OPENBLAS_NUM_THREADS), the MLP rows in another (ours at 2 threads, PyTorch as
 * peer_gemm_mlp.py sets it: torch 1 thread, OpenBLAS its default).
 */
async function runPaired(): Promise<void> {
  const windowS = windowSeconds();
  const sizes = [1024, 2048];
  const g = await pairedSession(() => startOursWorker(sizes.map((n) => `gemm:${n}`), Number(threads)),
    () => startWorker('numpy', '/usr/bin/python3', ['bench/peer_gemm_mlp.py', '--serve', ...sizes.map((n) => `gemm:${n}`)], peerGemmEnv()),
    { rounds, windowS, workloads: sizes.map((n) => ({ name: `gemm${n}`, ours: `gemm:${n}`, peer: `gemm:${n}`, ratio: 'rate' as const })) });
  const rows: PairedRow[] = [...g.rows];
  const medians: Record<string, number> = {}, ratios: Record<string, number> = {};
  let intervals: Record<string, Json> = {};
  const raw: Record<string, number[]> = {};
  g.rows.forEach((row, i) => {
    const n = sizes[i]!, gf = (ms: number): number => (2 * n ** 3) / (ms * 1e6);
    Object.assign(medians, { [`gemm${n}`]: gf(row.oursWallMs), [`peerGemm${n}`]: gf(row.peerWallMs), [`gemmCpu${n}`]: gf(row.oursCpuMs), [`peerGemmCpu${n}`]: gf(row.peerCpuMs) });
    Object.assign(ratios, {
      [`gemm${n}VsOpenblas`]: row.peerWallMs / row.oursWallMs, [`gemmCpu${n}VsOpenblas`]: row.peerCpuMs / row.oursCpuMs,
      [`gemm${n}PairedVsOpenblas`]: row.wall.median, [`gemmCpu${n}PairedVsOpenblas`]: row.cpu.median,
    });
    intervals = { ...intervals, ...intervalsOf(row, `gemm${n}PairedVsOpenblas`, `gemmCpu${n}PairedVsOpenblas`) };
    Object.assign(raw, { [`gemm${n}`]: row.raw.oursWallMs.map(gf), [`peerGemm${n}`]: row.raw.peerWallMs.map(gf), [`gemmCpu${n}`]: row.raw.oursCpuMs.map(gf), [`peerGemmCpu${n}`]: row.raw.peerCpuMs.map(gf) });
  });
  let mlpLoad: number[] = [], mlpPeer: Json | undefined;
  if (!gemmOnly) {
    const variants = ['modules', 'fused'] as const;
    const m = await pairedSession(() => startOursWorker(variants.map((v) => `mlp:${v}`), 2),
      () => startWorker('torch', '/usr/bin/python3', ['bench/peer_gemm_mlp.py', '--serve', 'mlp'], peerEnv()),
      { rounds, windowS, workloads: variants.map((v) => ({ name: `mlp-${v}`, ours: `mlp:${v}`, peer: 'mlp', ratio: 'time' as const })) });
    rows.push(...m.rows);
    mlpLoad = m.loadavg; mlpPeer = m.peerInfo['peer'] as Json;
    m.rows.forEach((row, i) => {
      const key = variants[i] === 'modules' ? 'Modules' : 'Fused';
      Object.assign(medians, { [`mlp${key}`]: row.oursWallMs, [`peerMlpVs${key}`]: row.peerWallMs });
      Object.assign(ratios, { [`mlp${key}VsTorch`]: row.oursWallMs / row.peerWallMs, [`mlp${key}PairedVsTorch`]: row.wall.median, [`mlpCpu${key}PairedVsTorch`]: row.cpu.median });
      intervals = { ...intervals, ...intervalsOf(row, `mlp${key}PairedVsTorch`, `mlpCpu${key}PairedVsTorch`) };
    });
    medians['peerMlp'] = median(m.rows.flatMap((r) => r.raw.peerWallMs));
  }
  done({
    ...pairedRecordBase(g, windowS),
    medians,
    ratios,
    intervals,
    units: { ...units, ratios: 'ours over OpenBLAS as throughput (above 1: faster), ours over PyTorch as time (below 1: faster); *Paired*: median of the per-round ratios' },
    loadavg: { gemm: g.loadavg, ...(gemmOnly ? {} : { mlp: mlpLoad }) },
    peer: { ...(g.peerInfo['peer'] as Json), ...(mlpPeer ? { mlp: mlpPeer } : {}) },
    ours: { threads: { gemm: Number(threads), mlp: 2 }, cpuPath: g.oursInfo['cpuPath'] },
    paired: rows,
    raw,
  });
}

/** The older method: every measurement a fresh process, `rounds` rounds, the order alternating. */
function runFresh(): void {
  const raw: Record<string, number[]> = {
    gemm1024: [], gemm2048: [], peerGemm1024: [], peerGemm2048: [],
    // GFLOP per CPU-second (process CPU time, all threads): robust to other processes' load
    gemmCpu1024: [], gemmCpu2048: [], peerGemmCpu1024: [], peerGemmCpu2048: [],
    ...(gemmOnly ? {} : { mlpModules: [], mlpFused: [], peerMlp: [] }),
  };
  const loadavg: number[][] = [];
  let peerConfig: unknown = null, machine: Json = {};
  for (let i = 0; i < rounds; i++) {
    process.stderr.write(`round ${i + 1}/${rounds}\n`);
    loadavg.push(os.loadavg());
    for (const n of [1024, 2048]) {
      // alternate which side goes first, so a load burst does not always hit the same one
      for (const side of i % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours']) {
        if (side === 'ours') {
          const o = ours('gemm', '--size', String(n)); machine = o['machine'] as Json;
          raw[`gemm${n}`]!.push(num(o, 'gflops')); raw[`gemmCpu${n}`]!.push(num(o, 'cpuGflops'));
        } else {
          const p = peer('gemm', String(n)); peerConfig = p['peer'];
          raw[`peerGemm${n}`]!.push(num(p, 'numpyGflops')); raw[`peerGemmCpu${n}`]!.push(num(p, 'numpyCpuGflops'));
        }
      }
    }
    if (gemmOnly) continue;
    raw['mlpModules']!.push(num(ours('mlp'), 'stepMs'));
    raw['mlpFused']!.push(num(ours('mlp', '--fused'), 'stepMs'));
    raw['peerMlp']!.push(num(peer('mlp'), 'stepMs'));
  }
  const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
  const m = (k: string): number => med[k]!;
  // The median of the per-round ratios (ours over the peer, the two run back to back in each round):
  // at this load a side's rounds differ by up to 1.5x, and the ratio of the two medians can pair a slow
  // round of one side with a fast round of the other (the quiet AVX2 1024 record of session 6: per-round
  // ratios 1.00, 0.67, 1.10, ratio of medians 0.77x).
  const paired = (ours: string, peer: string): number => median(raw[ours]!.map((v, i) => v / raw[peer]![i]!));
  const result = {
    date: new Date().toISOString(),
    machine: machineInfo(machine),
    method: { kind: 'fresh', description: `each measurement in a fresh process (ours: tensorslim bench gemm|mlp --json; the peer: peer_gemm_mlp.py), ${rounds} rounds, the order alternating` },
    rounds,
    medians: med,
    ratios: {
      gemm1024VsOpenblas: m('gemm1024') / m('peerGemm1024'),
      gemm2048VsOpenblas: m('gemm2048') / m('peerGemm2048'),
      gemmCpu1024VsOpenblas: m('gemmCpu1024') / m('peerGemmCpu1024'),
      gemmCpu2048VsOpenblas: m('gemmCpu2048') / m('peerGemmCpu2048'),
      gemm1024PairedVsOpenblas: paired('gemm1024', 'peerGemm1024'),
      gemm2048PairedVsOpenblas: paired('gemm2048', 'peerGemm2048'),
      gemmCpu1024PairedVsOpenblas: paired('gemmCpu1024', 'peerGemmCpu1024'),
      gemmCpu2048PairedVsOpenblas: paired('gemmCpu2048', 'peerGemmCpu2048'),
      ...(gemmOnly ? {} : { mlpModulesVsTorch: m('mlpModules') / m('peerMlp'), mlpFusedVsTorch: m('mlpFused') / m('peerMlp') }),
    },
    units,
    loadavg,
    peer: peerConfig,
    raw,
  };
  done(result);
}
