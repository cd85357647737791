// The GPT training-step benchmark of issue 7, tensorslim against PyTorch in one session, recorded
// with the medians, the ratios, both peak RSS values, the process CPU time per step of each side
// (robust to other load), the peer configuration and the machine as benchmark 'gpt'
// (bench/README.md).
//   usage: npx tsx bench/run_gpt.ts [rounds] [steps] [--fresh]      (BENCH_THREADS, default 2)
// Default (paired, bench/paired.ts): our worker (`bench gpt`'s workload, L4 d256) and
// peer_gpt.py --serve start once; the warm-up times torch at 1 and 2 threads and keeps the faster;
// then `rounds` (default 31) rounds of one window (BENCH_WINDOW_S, default 0.1 s: one step at
// this size) per side, the order flipping every round. Peak RSS: each worker's own at the end.
// --fresh: the older method, each side a fresh process per round (so each reports its own peak
// resident memory), `rounds` (default 3) rounds of `steps` (default 10) steps, torch 1 thread.
import os from 'node:os';
import { machineInfo, median, peerEnv, runJson, runOursNative, writeResultUnlessKnobs, type Json } from './common.js';
import { intervalsOf, pairedRecordBase, pairedSession, startOursWorker, startWorker, windowSeconds } from './paired.js';

if (process.argv[2] === '--preset') {
  if (process.argv[3] !== 'gpt2') throw new Error(`run_gpt: --preset ${process.argv[3]} is not supported; expected --preset gpt2`);
  runGpt2(process.argv.slice(4));
  process.exit(0);
}

const args = process.argv.slice(2);
const fresh = args.includes('--fresh');
const positional = args.filter((a) => a !== '--fresh');
const rounds = Number(positional[0] ?? (fresh ? 3 : 31));
const steps = String(positional[1] ?? 10);
const threads = String(process.env['BENCH_THREADS'] ?? 2);
const workload = 'one AdamW training step, GPT 4 layers, d_model 256, 4 heads, context 128, batch 16, vocabulary 256, float32';
const done = (result: Json & { date: string }): void => {
  const files = writeResultUnlessKnobs('gpt', result);
  process.stdout.write(`${JSON.stringify({ ...files, medians: result['medians'], ratios: result['ratios'] })}\n`);
};
if (fresh) runFresh();
else await runPaired();

/** The paired method: one worker each side, torch's threads (1 or 2) chosen in the warm-up. */
async function runPaired(): Promise<void> {
  const windowS = windowSeconds();  // a step takes 0.2-0.4 s: one step a window
  const r = await pairedSession(() => startOursWorker(['gpt'], Number(threads)),
    () => startWorker('torch', '/usr/bin/python3', ['bench/peer_gpt.py', '--serve'], peerEnv()),
    { rounds, windowS, workloads: [{ name: 'step', ours: 'gpt', peer: 'step', ratio: 'time', peerThreads: [1, 2] }] });
  const row = r.rows[0]!;
  const config = r.peerInfo['config'] as Json;
  const tokens = (config['blockSize'] as number) * (config['batch'] as number);
  const oursRss = r.oursInfo['peakRssBytes'] as number, peerRss = r.peerInfo['peakRssBytes'] as number;
  done({
    ...pairedRecordBase(r, windowS),
    workload,
    medians: {
      stepMs: row.oursWallMs, peerStepMs: row.peerWallMs, cpuMsPerStep: row.oursCpuMs, peerCpuMsPerStep: row.peerCpuMs,
      peakRssBytes: oursRss, peerPeakRssBytes: peerRss, tokensPerSecond: tokens / (row.oursWallMs / 1000), peerTokensPerSecond: tokens / (row.peerWallMs / 1000),
      peer1StepMs: row.peerThreads?.tried['1'], peer2StepMs: row.peerThreads?.tried['2'],
    },
    ratios: {
      stepVsTorch: row.oursWallMs / row.peerWallMs, stepCpuVsTorch: row.oursCpuMs / row.peerCpuMs, peakRssVsTorch: oursRss / peerRss,
      stepPairedVsTorch: row.wall.median, stepCpuPairedVsTorch: row.cpu.median,
    },
    intervals: intervalsOf(row, 'stepPairedVsTorch', 'stepCpuPairedVsTorch'),
    units: {
      stepMs: 'ms per training step, median over the rounds', peakRssBytes: 'bytes, whole worker process (ru_maxrss) at the end of the run',
      cpuMsPerStep: 'process CPU ms (all threads) per step: less distorted by other load than wall time, but counts idle-spinning pool threads',
      ratios: 'ours over PyTorch (below 1: faster / smaller); *Paired*: median of the per-round ratios',
    },
    peer: { ...(r.peerInfo['peer'] as Json), threadsKept: row.peerThreads?.kept },
    config,
    paired: r.rows,
  });
}

/** The older method: each side a fresh process per round (its own peak RSS), torch 1 thread. */
function runFresh(): void {
  const ours = (): Json => runOursNative(['src/cli/main.ts', 'bench', 'gpt', '--json', '--threads', threads, '--steps', steps]);
  const peer = (): Json => runJson('/usr/bin/python3', ['bench/peer_gpt.py', steps, '2'], peerEnv());

  const raw: Record<string, number[]> = { stepMs: [], peerStepMs: [], cpuMsPerStep: [], peerCpuMsPerStep: [], peakRssBytes: [], peerPeakRssBytes: [], loadavg: [] };
  let machine: Json = {}, peerConfig: unknown = null, config: Json = {};
  for (let i = 0; i < rounds; i++) {
    process.stderr.write(`round ${i + 1}/${rounds}\n`);
    raw['loadavg']!.push(os.loadavg()[0]!);
    const o = ours(); machine = o['machine'] as Json; config = o['config'] as Json;
    raw['stepMs']!.push(o['stepMs'] as number); raw['peakRssBytes']!.push(o['peakRssBytes'] as number); raw['cpuMsPerStep']!.push(o['cpuMsPerStep'] as number);
    const p = peer(); peerConfig = p['peer'];
    raw['peerStepMs']!.push(p['stepMs'] as number); raw['peerPeakRssBytes']!.push(p['peakRssBytes'] as number); raw['peerCpuMsPerStep']!.push(p['cpuMsPerStep'] as number);
  }
  const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
  const tokens = (config['blockSize'] as number) * 16;
  const result = {
    date: new Date().toISOString(),
    machine: machineInfo(machine),
    method: { kind: 'fresh', description: `each side in a fresh process per round (ours: tensorslim bench gpt --json; the peer: peer_gpt.py, torch 1 thread), ${rounds} rounds` },
    workload,
    rounds,
    stepsPerRound: Number(steps),
    medians: { ...med, tokensPerSecond: tokens / (med['stepMs']! / 1000), peerTokensPerSecond: tokens / (med['peerStepMs']! / 1000) },
    ratios: {
      stepVsTorch: med['stepMs']! / med['peerStepMs']!, stepCpuVsTorch: med['cpuMsPerStep']! / med['peerCpuMsPerStep']!,
      peakRssVsTorch: med['peakRssBytes']! / med['peerPeakRssBytes']!,
    },
    units: {
      stepMs: 'ms per training step (median of the round medians)', peakRssBytes: 'bytes, whole process (ru_maxrss)',
      cpuMsPerStep: 'process CPU ms (all threads) per timed step: less distorted by other load than wall time, but counts idle-spinning pool threads',
    },
    peer: peerConfig,
    config,
    raw,
  };
  done(result);
}

/**
 * GPT-2-sized comparison, each measurement in its own process (so each peak RSS is its own):
 * training step without and with activation checkpointing, and greedy generation with the key/value
 * cache; ours on each CPU path of BENCH_PATHS (default 'avx512,avx2', forced with TENSORSLIM_CPU),
 * the peer (bench/peer_gpt.py) once per round with torch 1 and 2 threads in one process, the faster
 * kept. Rounds alternate which side goes first. BENCH_PARTS (default 'step,ckpt,gen') picks the
 * measurements; a run of some of them records 'gpt2-<parts>'. Every record carries the run's
 * TENSORSLIM_* variables (`knobs`); a run with any set writes only its history copy.
 *   npx tsx bench/run_gpt.ts --preset gpt2 [rounds=1] [steps=2] [newTokens=32] [promptTokens=32]
 */
function runGpt2(argv: string[]): void {
  const rounds = Number(argv[0] ?? 1), steps = String(argv[1] ?? 2), newTokens = String(argv[2] ?? 32), prompt = String(argv[3] ?? 32);
  const genRepeats = '2';
  const threads = String(process.env['BENCH_THREADS'] ?? 2);
  const paths = (process.env['BENCH_PATHS'] ?? 'avx512,avx2').split(',').filter((x) => x !== '');
  const started = Date.now();
  const oursEnv = (path: string): NodeJS.ProcessEnv => ({ ...process.env, TENSORSLIM_CPU: path });
  const base = ['src/cli/main.ts', 'bench', 'gpt', '--preset', 'gpt2', '--json', '--threads', threads];
  const raw: Record<string, number[]> = { loadavg: [] };
  const push = (k: string, v: unknown): void => { (raw[k] ??= []).push(v as number); };
  let machine: Json = {}, peerConfig: unknown = null;
  const cpuPaths: Record<string, unknown> = {};
  type Part = 'step' | 'ckpt' | 'gen';
  const allParts: Part[] = ['step', 'ckpt', 'gen'];
  const parts = (process.env['BENCH_PARTS'] ?? 'step,ckpt,gen').split(',').filter((x) => x !== '') as Part[];
  if (parts.length === 0 || parts.some((x) => !allParts.includes(x))) throw new Error(`run_gpt: BENCH_PARTS must list step, ckpt and/or gen, got '${process.env['BENCH_PARTS']}'`);
  const runOurs = (part: Part, path: string): void => {
    const args = part === 'gen' ? [...base, '--generate', newTokens, '--prompt', prompt, '--steps', genRepeats]
      : [...base, '--steps', steps, ...(part === 'ckpt' ? ['--checkpointing'] : [])];
    process.stderr.write(`  ours ${path} ${part}\n`);
    const o = runOursNative(args, oursEnv(path));
    process.stderr.write(`  ${JSON.stringify({ side: 'ours', path, part, stepMs: o['stepMs'], cpuMsPerStep: o['cpuMsPerStep'], decodeTokensPerSecond: o['decodeTokensPerSecond'], tokensPerSecond: o['tokensPerSecond'], peakRssBytes: o['peakRssBytes'] })}\n`);
    machine = o['machine']; cpuPaths[path] = o['machine']['cpuPath'];
    const k = `${part}.${path}`;
    if (part === 'gen') { push(`${k}.decodeTokensPerSecond`, o['decodeTokensPerSecond']); push(`${k}.tokensPerSecond`, o['tokensPerSecond']); push(`${k}.firstTokenMs`, o['firstTokenMs']); }
    else { push(`${k}.stepMs`, o['stepMs']); push(`${k}.cpuMsPerStep`, o['cpuMsPerStep']); }
    push(`${k}.peakRssBytes`, o['peakRssBytes']);
  };
  const runPeer = (part: Part): void => {
    const args = part === 'gen' ? ['bench/peer_gpt.py', genRepeats, '1', '--preset', 'gpt2', '--generate', newTokens, '--prompt', prompt, '--threads-list', '1,2']
      : ['bench/peer_gpt.py', steps, '1', '--preset', 'gpt2', '--threads-list', '1,2', ...(part === 'ckpt' ? ['--checkpointing'] : [])];
    process.stderr.write(`  peer ${part}\n`);
    const p = runJson('/usr/bin/python3', args, peerEnv()); peerConfig = p['peer'];
    process.stderr.write(`  ${JSON.stringify({ side: 'peer', part, perThreads: p['perThreads'], peakRssBytes: p['peakRssBytes'] })}\n`);
    const k = `${part}.peer`;
    if (part === 'gen') { push(`${k}.decodeTokensPerSecond`, p['decodeTokensPerSecond']); push(`${k}.tokensPerSecond`, p['tokensPerSecond']); push(`${k}.firstTokenMs`, p['firstTokenMs']); }
    else { push(`${k}.stepMs`, p['stepMs']); push(`${k}.cpuMsPerStep`, p['cpuMsPerStep']); }
    push(`${k}.threadsKept`, p['threadsKept']);
    push(`${k}.peakRssBytes`, p['peakRssBytes']);
  };
  for (let i = 0; i < rounds; i++) {
    process.stderr.write(`round ${i + 1}/${rounds}\n`);
    push('loadavg', os.loadavg()[0]);
    for (const part of parts) {
      const order = i % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours'];
      for (const side of order) {
        if (side === 'peer') runPeer(part);
        else for (const path of paths) runOurs(part, path);
      }
    }
  }
  push('loadavg', os.loadavg()[0]);
  const med = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, median(v)]));
  const m = (k: string): number => med[k]!;
  const ratios: Record<string, number> = {};
  for (const path of paths) {
    if (parts.includes('step')) {
      ratios[`stepVsTorch.${path}`] = m(`step.${path}.stepMs`) / m('step.peer.stepMs');
      ratios[`stepCpuVsTorch.${path}`] = m(`step.${path}.cpuMsPerStep`) / m('step.peer.cpuMsPerStep');
      ratios[`peakRssVsTorch.${path}`] = m(`step.${path}.peakRssBytes`) / m('step.peer.peakRssBytes');
    }
    if (parts.includes('ckpt')) {
      ratios[`checkpointingStepVsTorch.${path}`] = m(`ckpt.${path}.stepMs`) / m('ckpt.peer.stepMs');
      ratios[`checkpointingStepCpuVsTorch.${path}`] = m(`ckpt.${path}.cpuMsPerStep`) / m('ckpt.peer.cpuMsPerStep');
      ratios[`checkpointingPeakRssVsTorch.${path}`] = m(`ckpt.${path}.peakRssBytes`) / m('ckpt.peer.peakRssBytes');
    }
    if (parts.includes('gen')) {
      ratios[`generateDecodeTokensPerSecondVsTorch.${path}`] = m(`gen.${path}.decodeTokensPerSecond`) / m('gen.peer.decodeTokensPerSecond');
      ratios[`generateTokensPerSecondVsTorch.${path}`] = m(`gen.${path}.tokensPerSecond`) / m('gen.peer.tokensPerSecond');
    }
  }
  const result = {
    date: new Date().toISOString(),
    machine: machineInfo(machine),
    cpuPaths,
    parts,
    workload: 'GPT-2-small-sized GPT (12 layers, d_model 768, 12 heads, context 256, vocabulary 50257, tied head, 124 M parameters), float32: '
      + `one AdamW training step at batch 4 (1 warm-up step, ${steps} timed) without and with activation checkpointing; `
      + `greedy generation of ${newTokens} new tokens after a ${prompt}-token prompt, batch 1, key/value cache (1 warm-up generation of 4 tokens, ${genRepeats} timed)`,
    rounds,
    stepsPerRound: Number(steps),
    wallSeconds: (Date.now() - started) / 1000,
    medians: med,
    ratios,
    units: {
      stepMs: 'ms per training step (median)', cpuMsPerStep: 'process CPU ms (all threads) per step: robust to other load, but counts idle-spinning pool threads',
      peakRssBytes: 'bytes, whole process (ru_maxrss), each measurement in its own process',
      decodeTokensPerSecond: 'new tokens/s after the first (one cached forward per token)', tokensPerSecond: 'new tokens/s, prompt forward included',
      loadavg: '1-minute load average at the start of each round and at the end',
    },
    peer: { ...(peerConfig as Json), threads: 'torch 1 and 2 threads timed in one process per measurement, the faster kept (threadsKept in raw)', kvCache: 'per-layer (k, v) grown by torch.cat (past_key_values style)' },
    ours: { threads: Number(threads), paths },
    raw,
  };
  // a run of some parts only (BENCH_PARTS) is its own record, gpt2-<parts>
  // with any TENSORSLIM_* knob set, only a history copy (writeResultUnlessKnobs)
  const files = writeResultUnlessKnobs(parts.length === allParts.length ? 'gpt2' : `gpt2-${parts.join('-')}`, result);
  process.stdout.write(`${JSON.stringify({ ...files, medians: result.medians, ratios: result.ratios })}\n`);
}
