// `tensorslim profile`: profile a few synthetic training steps of a preset or checkpoint model and
// print the top kernels (time, calls, forward/backward split, GFLOP/s, GB/s, share of the step),
// the step breakdown and memory (estimate vs measured). Optionally writes a Chrome trace and a
// profile file for `tensorslim report`. The work is in src/report (profileTraining).

import { existsSync } from 'node:fs';
import { createAnyModel, listModels, type AnyPresetModel } from '../../models/index.js';
import { loadCheckpoint, writeFileAtomic } from '../../io/index.js';
import { machineRoofs, makeProfileFile, placeKernels, profileTraining, toChromeTrace, type KernelPlacement, type KernelStats } from '../../report/index.js';
import { anyModelFromCheckpoint, applyRuntimeFlags } from '../runtime.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { emitJson, fmtBytes, fmtPct, formatTable, humanWriter } from '../output.js';

const FLAGS = {
  model: { type: 'string', metavar: 'NAME|FILE', help: 'a preset (mlp, mlp-large, gpt-tiny, ...) or a checkpoint file' },
  batch: { type: 'int', metavar: 'N', help: 'batch size (default 64; 8 for GPT models)', min: 1 },
  steps: { type: 'int', metavar: 'N', help: 'profiled training steps', min: 1, default: 3 },
  warmup: { type: 'int', metavar: 'N', help: 'unprofiled steps first', min: 0, default: 1 },
  top: { type: 'int', metavar: 'N', help: 'kernels in the table', min: 1, default: 12 },
  trace: { type: 'string', metavar: 'FILE', help: 'write a Chrome trace (open it in ui.perfetto.dev or chrome://tracing)' },
  out: { type: 'string', metavar: 'FILE', help: "write the whole profile as JSON, for 'tensorslim report'" },
  threads: { type: 'int', metavar: 'N', help: 'kernel threads', min: 1 },
  'refresh-roofline': { type: 'boolean', help: "measure the machine's roofs again instead of reading the cache" },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

const ms = (x: number): string => x.toFixed(2);

function kernelRow(k: KernelStats, place: KernelPlacement | undefined): string[] {
  return [k.name, String(k.calls), ms(k.totalMs), k.nativeCalls > 0 ? ms(k.nativeMs) : '-', ms(k.opSelfMs), ms(k.phaseMs.forward), ms(k.phaseMs.backward), ms(k.phaseMs.optimizer + k.phaseMs.data + k.phaseMs.comm + k.phaseMs.other),
    k.flops > 0 ? k.gflops.toFixed(2) : '-', k.bytes > 0 ? k.gbps.toFixed(2) : '-', place ? place.bound : '-', place ? fmtPct(place.ofRoof, 1) : '-', fmtPct(k.share, 1)];
}

/** `tensorslim profile --model <preset|checkpoint>`. @example await main(['profile', '--model', 'mlp', '--steps', '2'], ctx) */
export const profileCommand: Command = {
  name: 'profile',
  summary: 'profile training steps: top kernels, step breakdown, memory; Chrome trace',
  usage: `Usage: tensorslim profile --model <preset|checkpoint> [--batch N] [--steps N] [--trace out.json] [--out profile.json] [--json]

Run --warmup unprofiled and then --steps profiled training steps (random data, Adam) of a model and
print where the time went: the top backend kernels (calls, total ms, forward / backward / other ms,
achieved GFLOP/s and GB/s from each kernel's modelled FLOPs and bytes, share of the step), the step
breakdown (data, forward, backward, optimizer, communication, garbage collection), the step's
accounting (ops = kernels + their JavaScript dispatch, optimizer, data, GC, communication and the
unattributed rest: parts that sum to the step; "op self ms" per kernel) and memory (the estimate made
before training against the peak measured during it). Kernel times are wall times measured from
JavaScript around each backend call; on the native backend "native ms" is the time the addon's
thread pool spent on them (first thread start to last thread end), and --trace shows each pool
thread's work on a track of its own (see docs/PROFILING.md). Each kernel is placed on the machine's
roofline: memory- or compute-bound, and its achieved rate as a share of its roof; the roofs (peak
FLOP/s from a multiply-add loop and from our GEMM, copy bandwidth) are measured once per CPU,
backend, CPU path and thread count and cached in ~/.cache/tensorslim/roofline.json
($TENSORSLIM_CACHE_DIR or $XDG_CACHE_HOME/tensorslim move it).

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim profile --model mlp
  tensorslim profile --model gpt-tiny --batch 4 --steps 2 --trace gpt.trace.json
  tensorslim profile --model mlp.safetensors --out mlp.profile.json && tensorslim report mlp.profile.json --out report.html`,
  async run(argv, ctx) {
    const { flags } = parseArgs('profile', argv, FLAGS);
    if (flags.model === undefined) throw new UsageError('profile', `--model is required (a preset: ${listModels().map((m) => m.name).join(', ')}; or a checkpoint file)`);
    const target = flags.model;
    let model: AnyPresetModel;
    if (existsSync(target)) model = anyModelFromCheckpoint(loadCheckpoint(target));
    else if (listModels().some((m) => m.name === target)) model = createAnyModel(target);
    else throw new UsageError('profile', `--model '${target}' is neither a file nor a preset (${listModels().map((m) => m.name).join(', ')})`);
    applyRuntimeFlags('profile', { threads: flags.threads });
    const isGpt = model.config.arch === 'gpt';
    const batch = flags.batch ?? (isGpt ? 8 : 64);
    const say = humanWriter(ctx, flags.json);
    ctx.err(`profiling ${target}: ${flags.warmup} warm-up + ${flags.steps} steps, batch ${batch}`);
    const roof = machineRoofs({ refresh: flags['refresh-roofline'] });
    if (!roof.fromCache) ctx.err(`measured the roofs of this machine (${roof.roofs.cpuPath}, ${roof.roofs.threads} threads)${roof.cached ? `, cached in ${roof.path}` : ` (could not cache them in ${roof.path})`}`);
    const r = await profileTraining(model, { batch, steps: flags.steps, warmup: flags.warmup });
    const p = r.profile;
    const placements = placeKernels(p.kernels, roof.roofs);
    const placeOf = new Map(placements.map((x) => [x.name, x]));
    if (flags.trace !== undefined) writeFileAtomic(flags.trace, new TextEncoder().encode(JSON.stringify(toChromeTrace(p))), 'profile --trace');
    if (flags.out !== undefined) writeFileAtomic(flags.out, new TextEncoder().encode(JSON.stringify(makeProfileFile(target, r, roof.roofs))), 'profile --out');
    const kernelMs = p.kernels.reduce((s, k) => s + k.totalMs, 0);
    const mean = (f: (s: (typeof p.steps)[number]) => number): number => p.steps.reduce((a, s) => a + f(s), 0) / Math.max(1, p.steps.length);
    const breakdown = {
      stepMs: mean((s) => s.totalMs), dataMs: mean((s) => s.dataMs), forwardMs: mean((s) => s.forwardMs), backwardMs: mean((s) => s.backwardMs),
      optimizerMs: mean((s) => s.optimizerMs), commMs: mean((s) => s.commMs), otherMs: mean((s) => s.otherMs), gcMs: mean((s) => s.gcMs), kernelMs: mean((s) => s.kernelMs),
    };
    const accounting = {
      ops: mean((s) => s.accounting.ops), opsKernel: mean((s) => s.accounting.opsKernel), optimizer: mean((s) => s.accounting.optimizer), data: mean((s) => s.accounting.data),
      gc: mean((s) => s.accounting.gc), comm: mean((s) => s.accounting.comm), unattributed: mean((s) => s.accounting.unattributed),
    };
    const memory = {
      estimate: r.estimate, measuredPeakBytes: p.memory.peakAccounted, estimateError: p.memory.peakAccounted > 0 ? r.estimate.total / p.memory.peakAccounted - 1 : null,
      peakArrayBuffersBytes: p.memory.peakArrayBuffers, peakRssBytes: p.memory.peakRss,
    };
    if (flags.json) {
      emitJson(ctx, {
        command: 'profile', model: target, backend: p.backend, batch, steps: flags.steps, losses: r.losses, breakdown, accounting, memory,
        kernelShareOfStep: p.stepMs > 0 ? kernelMs / p.stepMs : null, gc: p.gc,
        kernels: p.kernels.slice(0, flags.top).map(({ name, calls, totalMs, selfMs, nativeMs, nativeCalls, dispatchMs, opSelfMs, phaseMs, flops, bytes, gflops, gbps, share }) => ({ name, calls, totalMs, selfMs, nativeMs, nativeCalls, dispatchMs, opSelfMs, phaseMs, flops, bytes, gflops, gbps, share })),
        roofline: { roofs: roof.roofs, fromCache: roof.fromCache, cache: roof.path, kernels: placements.filter((x) => p.kernels.slice(0, flags.top).some((k) => k.name === x.name)) },
        trace: flags.trace ?? null, out: flags.out ?? null,
      });
      return 0;
    }
    say(`${target} on the ${p.backend} backend, batch ${batch}, ${flags.steps} profiled steps; losses ${r.losses.map((l) => l.toFixed(4)).join(', ')}`);
    say('');
    say(formatTable(
      [{ header: 'kernel' }, { header: 'calls', align: 'right' }, { header: 'total ms', align: 'right' }, { header: 'native ms', align: 'right' }, { header: 'op self ms', align: 'right' }, { header: 'fwd ms', align: 'right' }, { header: 'bwd ms', align: 'right' },
        { header: 'other ms', align: 'right' }, { header: 'GFLOP/s', align: 'right' }, { header: 'GB/s', align: 'right' }, { header: 'bound' }, { header: 'of roof', align: 'right' },
        { header: 'share', align: 'right' }],
      p.kernels.slice(0, flags.top).map((k) => kernelRow(k, placeOf.get(k.name))),
    ));
    const rf = roof.roofs;
    say(`roofs (${rf.cpuPath}, ${rf.threads} threads${roof.fromCache ? `, cached ${rf.measured.slice(0, 10)}` : ''}): multiply-add peak ${rf.fmaGflops.toFixed(1)} GFLOP/s, `
      + `our GEMM ${rf.gemmGflops.toFixed(1)} GFLOP/s (${rf.gemmSize}^3), copy ${rf.copyGbps.toFixed(1)} GB/s; ridge at ${(rf.fmaGflops / rf.copyGbps).toFixed(1)} FLOP/byte`);
    say('');
    say(formatTable(
      [{ header: 'per step (mean)' }, { header: 'ms', align: 'right' }, { header: 'share', align: 'right' }],
      ([['data', breakdown.dataMs], ['forward', breakdown.forwardMs], ['backward', breakdown.backwardMs], ['optimizer', breakdown.optimizerMs], ['comm', breakdown.commMs], ['other', breakdown.otherMs],
        ['step', breakdown.stepMs], ['  of which GC', breakdown.gcMs], ['  of which in kernels', breakdown.kernelMs]] as const)
        .map(([n, v]) => [n, ms(v), fmtPct(breakdown.stepMs > 0 ? v / breakdown.stepMs : 0, 1)]),
    ));
    say('');
    say(formatTable(
      [{ header: 'accounting (parts sum to the step)' }, { header: 'ms', align: 'right' }, { header: 'share', align: 'right' }],
      ([['ops (kernels + dispatch)', accounting.ops], ['  of which in kernels', accounting.opsKernel], ['optimizer', accounting.optimizer], ['data', accounting.data],
        ['garbage collection', accounting.gc], ['communication', accounting.comm], ['unattributed', accounting.unattributed], ['step', breakdown.stepMs]] as const)
        .map(([n, v]) => [n, ms(v), fmtPct(breakdown.stepMs > 0 ? v / breakdown.stepMs : 0, 1)]),
    ));
    say('');
    const e = r.estimate;
    say(`memory estimate (before training): params ${fmtBytes(e.params)} + grads ${fmtBytes(e.grads)} + Adam state ${fmtBytes(e.optimizerState)} + activations ${fmtBytes(e.activations)} = ${fmtBytes(e.total)}`);
    say(`measured peak (same parts): ${fmtBytes(p.memory.peakAccounted)}${memory.estimateError !== null ? ` (estimate off by ${fmtPct(memory.estimateError, 1)})` : ''}; `
      + `all ArrayBuffers peak ${fmtBytes(p.memory.peakArrayBuffers)}, process RSS peak ${fmtBytes(p.memory.peakRss)}`);
    if (flags.trace !== undefined) say(`Chrome trace: ${flags.trace} (open it in https://ui.perfetto.dev or chrome://tracing)`);
    if (flags.out !== undefined) say(`profile: ${flags.out} (tensorslim report ${flags.out} --out report.html)`);
    return 0;
  },
};
