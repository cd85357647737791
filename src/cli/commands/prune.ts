// `tensorslim prune`: prune a trained checkpoint (unstructured, structured, 2:4), fine-tune it with
// a schedule, store it compactly (CSR weights, or a physically smaller dense model with
// --structured) and report accuracy, sizes and (with --latency) speed beside the dense model.
// The pruning itself is src/compress/prune; this file wires flags to it and to the Trainer.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultGenerator, manualSeed } from '../../core/random.js';
import type { Tensor } from '../../core/tensor.js';
import type { AnyModule } from '../../nn/index.js';
import { prune } from '../../compress/index.js';
import { DataLoader, type ImageClassificationData } from '../../data/index.js';
import { modelFromConfig, type PresetModel } from '../../models/index.js';
import {
  Trainer, evaluateOn, exportWeights, loadImageData, makeOptimizer, measureLatency, type Callback, type EvalMetrics,
} from '../../train/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type CliContext, type Command } from '../command.js';
import { emitJson, fmtBytes, fmtInt, fmtLatency, fmtPct, fmtSeconds, formatTable, humanWriter } from '../output.js';
import { applyRuntimeFlags, modelFromAnyCheckpoint, warnNonFinite } from '../runtime.js';
import { loadCheckpoint } from '../../io/index.js';
import { progressCallback } from '../train_progress.js';
import { checkWritable } from './train.js';

/** Pruning methods of the CLI. */
export const PRUNE_METHODS = ['l1', 'random', 'ln-structured', 'global', '2:4'] as const;
export type PruneMethodName = (typeof PRUNE_METHODS)[number];
/** Schedules of the CLI. */
export const PRUNE_SCHEDULES = ['oneshot', 'gradual', 'iterative'] as const;
export type PruneScheduleName = (typeof PRUNE_SCHEDULES)[number];

const FLAGS = {
  model: { type: 'string', help: 'checkpoint of the trained dense model (written by train --out)', metavar: 'FILE' },
  dataset: { type: 'string', help: 'mnist, fashion-mnist, or a directory of IDX files (fine-tuning and test)', metavar: 'NAME|PATH' },
  data: { type: 'string', help: "folder overriding the dataset's default location", metavar: 'DIR' },
  method: { type: 'string', help: 'l1 (per layer), random, ln-structured (whole neurons/filters, L2), global (one L1 threshold), 2:4', choices: PRUNE_METHODS, default: 'global' },
  amount: { type: 'number', help: 'fraction of the weights to remove (of the hidden units for ln-structured; 2:4 is always 0.5) (default 0.9)', min: 0, max: 1, metavar: 'X' },
  schedule: { type: 'string', help: 'oneshot (prune, then fine-tune), gradual (Zhu & Gupta cubic, while fine-tuning), iterative (rounds of prune + fine-tune)', choices: PRUNE_SCHEDULES, default: 'oneshot' },
  'finetune-epochs': { type: 'int', help: 'total fine-tuning epochs (default 1; 0 = none)', min: 0, metavar: 'N' },
  'finetune-steps': { type: 'int', help: 'total fine-tuning optimizer steps instead of epochs', min: 0, metavar: 'N' },
  rounds: { type: 'int', help: 'iterative: prune + fine-tune rounds (the fine-tuning budget is split between them)', min: 1, default: 3, metavar: 'N' },
  structured: { type: 'boolean', help: 'physically remove the pruned neurons/filters (ln-structured): a smaller dense model' },
  'batch-size': { type: 'int', help: 'fine-tuning batch size', min: 1, default: 64, metavar: 'N' },
  lr: { type: 'number', help: 'fine-tuning learning rate (Adam)', min: 0, exclusiveMin: true, default: 0.001, metavar: 'X' },
  seed: { type: 'int', help: 'seed of the data order (and of --method random)', min: 0, default: 0, metavar: 'N' },
  latency: { type: 'boolean', help: 'also time inference per sample, dense vs pruned, at batch 1 and --latency-batch' },
  'latency-batch': { type: 'int', help: 'the second batch size of --latency', min: 1, default: 128, metavar: 'N' },
  out: { type: 'string', help: 'write the pruned model here (CSR weights, or the shrunk dense model with --structured)', metavar: 'FILE' },
  threads: { type: 'int', help: 'kernel threads (native backend)', min: 1, metavar: 'N' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

/** Options of runPrune (the CLI flags, resolved). */
export interface RunPruneOptions {
  /** The trained dense model (it is pruned in place unless --structured builds a new one). */
  model: PresetModel;
  data: ImageClassificationData;
  method: PruneMethodName;
  amount: number;
  schedule: PruneScheduleName;
  /** Fine-tuning budget: optimizer steps in all. */
  finetuneSteps: number;
  rounds: number;
  structured: boolean;
  batchSize: number;
  lr: number;
  seed: number;
  /** Progress lines; trainer progress goes through ctx. */
  ctx: CliContext;
  say: (line: string) => void;
}

/** What runPrune returns: the pruned model (sparse layers swapped in where worth it) and its numbers. */
export interface RunPruneResult {
  model: PresetModel;
  /** Accuracy and loss of the dense model, and of the pruned one right after pruning and at the end. */
  dense: EvalMetrics;
  pruned: EvalMetrics;
  final: EvalMetrics;
  /** Parameters of the dense model and of the result (smaller after --structured), and non-zero ones. */
  denseParameters: number;
  parameters: number;
  nonzeros: number;
  /** Masked fraction of the pruned weights (0 after --structured: nothing is masked). */
  weightSparsity: number;
  /** 1 - nonzeros / denseParameters: the fraction of the dense model's parameters gone. */
  sparsity: number;
  /** Layers stored in CSR form, and what shrink did (--structured). */
  sparseLayers: prune.SparseLayerInfo[];
  shrunk: prune.ShrinkLayerReport[] | null;
  finetuneSteps: number;
}

/**
 * A copy of a preset model (config + weights, training mode kept), so a stage can prune it and
 * leave the original for others (the demo's distillation teacher).
 * @example const copy = clonePreset(state.baseline.model);
 */
export function clonePreset(model: PresetModel): PresetModel {
  const rng = defaultGenerator.getState();
  let copy: PresetModel;
  try { copy = modelFromConfig(model.config); } finally { defaultGenerator.setState(rng); }
  copy.loadStateDict(model.stateDict());
  copy.train(model.training);
  return copy;
}

/** Linear/Conv2d layers except the last one (the output layer: removing its units removes classes). */
function hiddenLayers(model: AnyModule): [AnyModule, string][] {
  const all = prune.weightTargets(model);
  return all.slice(0, -1);
}

/**
 * Fine-tune `model` for `steps` optimizer steps with Adam (masks stay fixed: pruned weights get zero
 * gradients), showing progress; extra callbacks (gradual pruning) ride along.
 * @example await fineTune(model, data, { steps: 500, lr: 1e-3, batchSize: 64, seed: 0, ctx, say });
 */
export async function fineTune(model: AnyModule, data: ImageClassificationData, o: {
  steps: number; lr: number; batchSize: number; seed: number; ctx: CliContext; say: (line: string) => void; label?: string; callbacks?: readonly Callback<Tensor[]>[];
}): Promise<void> {
  if (o.steps <= 0) return;
  const optimizer = makeOptimizer('adam', model.parameters(), { lr: o.lr });
  const trainLoader = new DataLoader(data.train, { batchSize: o.batchSize, shuffle: true, seed: o.seed });
  const trainer = new Trainer<Tensor[]>({
    model, optimizer, trainLoader, evalLoader: null, steps: o.steps,
    callbacks: [...(o.callbacks ?? []), progressCallback(o.ctx, o.say, o.label ?? 'fine-tune')],
  });
  const fit = await trainer.fit();
  if (fit.stopReason !== 'completed') throw new Error(`fine-tuning stopped: ${fit.message ?? fit.stopReason}`);
}

/**
 * Prune a trained model with a method and schedule, fine-tune, and swap sparse layers in.
 * Masks are baked in at the end (prune.remove), then every Linear with >= 50% zero weights becomes
 * a SparseLinear (CSR); with `structured`, the pruned units are removed (prune.shrink) instead.
 * @example
 * const r = await runPrune({ model, data, method: 'global', amount: 0.9, schedule: 'gradual', finetuneSteps: 2000, ... });
 * r.final.accuracy; r.nonzeros;
 */
export async function runPrune(o: RunPruneOptions): Promise<RunPruneResult> {
  const rng = defaultGenerator.getState(); // seeded below; the caller's random stream is put back after
  try { return await pruneAndFineTune(o); } finally { defaultGenerator.setState(rng); }
}

async function pruneAndFineTune(o: RunPruneOptions): Promise<RunPruneResult> {
  const { data, say } = o;
  let model = o.model;
  const denseParameters = model.numParameters();
  const dense = evaluateOn(model, data);
  say(`dense model: ${fmtInt(denseParameters)} params, test accuracy ${fmtPct(dense.accuracy)}`);
  manualSeed(o.seed);
  const ft = { lr: o.lr, batchSize: o.batchSize, seed: o.seed, ctx: o.ctx, say };
  const unstructured = o.method === 'l1' || o.method === 'random' || o.method === 'global';
  const targets: [AnyModule, string][] = o.method === 'ln-structured' ? hiddenLayers(model) : prune.weightTargets(model);
  const spec = { global: o.method === 'global', method: o.method === 'random' ? 'random' as const : 'l1' as const };
  let pruned: EvalMetrics;
  let shrunk: prune.ShrinkLayerReport[] | null = null;
  let steps = o.finetuneSteps;

  if (unstructured && o.schedule === 'gradual') {
    // prune from 0 to `amount` over the first 2/3 of the budget (10 pruning steps), then fine-tune at the final sparsity
    const numSteps = Math.max(1, Math.min(10, Math.floor((2 * steps) / 3)));
    const frequency = Math.max(1, Math.floor((2 * steps) / 3 / numSteps));
    say(`gradual pruning to ${fmtPct(o.amount, 1)} over steps 0..${numSteps * frequency} of ${steps} (${numSteps + 1} pruning steps, Zhu & Gupta cubic schedule)`);
    const cb = prune.gradualPruningCallback(model, { targets, ...spec, initial: 0, final: o.amount, startStep: 0, numSteps, frequency });
    await fineTune(model, data, { ...ft, steps, label: 'gradual', callbacks: [cb as Callback<Tensor[]>] });
    pruned = evaluateOn(model, data);
  } else if (unstructured && o.schedule === 'iterative') {
    let done = 0;
    pruned = dense;
    for (let r = 1; r <= o.rounds; r++) {
      const s = r === o.rounds ? o.amount : 1 - Math.pow(1 - o.amount, r / o.rounds);
      const got = prune.pruneToSparsity(targets, s, spec);
      const m = evaluateOn(model, data);
      if (r === 1) pruned = m;
      const n = Math.round((steps * r) / o.rounds) - done;
      say(`round ${r}/${o.rounds}: pruned to ${fmtPct(got, 1)}, test accuracy ${fmtPct(m.accuracy)}; fine-tune ${fmtInt(n)} steps`);
      await fineTune(model, data, { ...ft, steps: n, label: `round ${r}` });
      done += n;
    }
  } else {
    // one shot
    if (unstructured) prune.pruneToSparsity(targets, o.amount, spec);
    else if (o.method === '2:4') for (const [m, name] of targets) prune.nmStructured(m, name, 2, 4);
    else for (const [m, name] of targets) prune.lnStructured(m, name, o.amount, 2, 0);
    if (o.structured) {
      const r = prune.shrink(model, { fromMask: true });
      if (!r.exact) say('note: shrink folded dead units inexactly (padded convolution); fine-tuning absorbs it');
      model = r.model as PresetModel;
      shrunk = r.layers;
      say(`shrunk: ${r.layers.map((l) => `layer ${l.path} ${l.before} -> ${l.after} units`).join(', ')}; ${fmtInt(r.parametersBefore)} -> ${fmtInt(r.parametersAfter)} params`);
    }
    pruned = evaluateOn(model, data);
    say(`pruned (${o.method}${o.structured ? ', shrunk' : ''}): test accuracy ${fmtPct(pruned.accuracy)} before fine-tuning`);
    await fineTune(model, data, { ...ft, steps, label: 'fine-tune' });
  }
  const weightSparsity = shrunk === null ? prune.maskSparsity(targets) : 0;
  // bake the masks in, then store sparse layers in CSR form
  for (const m of model.modules()) for (const name of prune.prunedParameterNames(m)) prune.remove(m, name);
  if (!o.structured) prune.toSparse(model, { minSparsity: 0.5 });
  model.eval();
  const final = evaluateOn(model, data);
  const nonzeros = prune.countNonzeros(model);
  steps = Math.max(0, steps);
  return {
    model, dense, pruned, final, denseParameters,
    parameters: shrunk === null ? denseParameters : model.numParameters(),
    nonzeros, weightSparsity, sparsity: 1 - nonzeros / denseParameters,
    sparseLayers: prune.sparseLayers(model), shrunk, finetuneSteps: steps,
  };
}

/** Swap every SparseLinear of `model` for the dense Linear with the same outputs; returns how many. */
function densifySparse(model: PresetModel): number {
  let n = 0;
  for (const [path, m] of model.namedModules()) {
    if (!(m instanceof prune.SparseLinear)) continue;
    const dot = path.lastIndexOf('.');
    const parent = dot < 0 ? model : model.getSubmodule(path.slice(0, dot));
    parent.registerModule(path.slice(dot + 1), m.toLinear());
    n++;
  }
  return n;
}

function fileSize(model: PresetModel, path: string | undefined): number {
  if (path !== undefined) return exportWeights(model, path);
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-prune-'));
  try { return exportWeights(model, join(dir, 'model.safetensors')); } finally { rmSync(dir, { recursive: true, force: true }); }
}

/** `tensorslim prune --model <checkpoint> --dataset <name> ...`. @example await main(['prune', '--model', 'mlp.safetensors', '--dataset', 'mnist', '--json'], ctx) */
export const pruneCommand: Command = {
  name: 'prune',
  summary: 'prune a trained checkpoint, fine-tune it, store it sparse (or shrunk) and compare with the dense model',
  usage: `Usage: tensorslim prune --model <checkpoint> --dataset <name|path> [options]

Prune the weights of a trained model (torch.nn.utils.prune semantics), fine-tune with Adam while
the masks stay fixed, and store the result compactly: every Linear with at least half of its
weights zero is kept in CSR form (values + int32 indices; run by a sparse kernel), or, with
--structured, the pruned neurons/filters are removed for a smaller dense model. Reports test
accuracy, parameters, non-zeros and size on disk beside the dense model.

Methods: l1 removes --amount of every Linear/Conv2d weight by magnitude, global one magnitude
threshold over all of them, random at random, 2:4 keeps the 2 largest of every 4 inputs,
ln-structured removes --amount of the neurons/filters of each hidden layer by L2 norm.
Schedules (unstructured methods): oneshot prunes then fine-tunes; gradual prunes from 0 to
--amount along Zhu & Gupta's cubic schedule over the first 2/3 of the fine-tuning and trains on at
the final sparsity; iterative runs --rounds rounds of prune + fine-tune, each removing the same
share of the survivors. The fine-tuning budget (--finetune-epochs or --finetune-steps) is the total.

A pruned file holds weight.values / weight.crow_indices / weight.col_indices / weight.size per
sparse layer (PyTorch's names for the parts of a sparse CSR tensor); load it in code with
prune.loadSparse(modelFromConfig(ckpt.config), ckpt.model). A --structured file is a plain
checkpoint of the smaller model.

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim train --model mlp --dataset fashion-mnist --epochs 10 --out mlp.safetensors
  tensorslim prune --model mlp.safetensors --dataset fashion-mnist --method global --amount 0.9 --schedule gradual --finetune-epochs 10 --out mlp-90.safetensors
  tensorslim prune --model mlp.safetensors --dataset fashion-mnist --method ln-structured --amount 0.5 --structured --finetune-epochs 2 --latency
  tensorslim prune --model mlp.safetensors --dataset mnist --method 2:4 --finetune-steps 200 --json | tail -n 1`,
  async run(argv, ctx) {
    const { flags } = parseArgs('prune', argv, FLAGS);
    const usage = (msg: string): never => { throw new UsageError('prune', msg); };
    if (flags.model === undefined) usage('missing --model <checkpoint> (a file written by tensorslim train --out)');
    if (flags.dataset === undefined) usage('missing --dataset (mnist, fashion-mnist or a directory of IDX files)');
    if (flags['finetune-epochs'] !== undefined && flags['finetune-steps'] !== undefined) usage('give --finetune-epochs or --finetune-steps, not both');
    const method = flags.method as PruneMethodName;
    const schedule = flags.schedule as PruneScheduleName;
    if (method === '2:4' && flags.amount !== undefined && flags.amount !== 0.5) usage(`--method 2:4 removes exactly half of the weights; drop --amount ${flags.amount} (or pass 0.5)`);
    const amount = method === '2:4' ? 0.5 : flags.amount ?? 0.9;
    if (method === 'ln-structured' && amount >= 1) usage('--amount 1 would remove every hidden unit; use a fraction below 1 with ln-structured');
    if (flags.structured && method !== 'ln-structured') usage(`--structured removes whole neurons/filters, which needs --method ln-structured (got ${method})`);
    if ((method === 'ln-structured' || method === '2:4') && schedule !== 'oneshot') usage(`--schedule ${schedule} applies to the unstructured methods (l1, global, random); ${method} runs oneshot`);
    if (flags.out !== undefined) checkWritable('prune', 'out', flags.out, [{ flag: '--model', path: flags.model! }]);
    applyRuntimeFlags('prune', { threads: flags.threads });
    const say = humanWriter(ctx, flags.json);
    const t0 = performance.now();

    let model: PresetModel;
    try { model = modelFromAnyCheckpoint(loadCheckpoint(flags.model!), { command: 'prune', path: flags.model! }); } catch (e) { throw new Error(`--model ${flags.model}: ${(e as Error).message}`); }
    warnNonFinite(ctx, 'prune', model, flags.model!);
    const densified = densifySparse(model);   // re-pruning a CSR file: prune (and report on) its dense layers
    if (densified > 0) say(`note: ${flags.model} is already pruned (${densified} CSR layer${densified === 1 ? '' : 's'}); its layers are pruned as dense ones with their zeros, and the report counts against the dense model`);
    const data = loadImageData(flags.dataset!, flags.data);
    const spe = Math.ceil(data.train.length / flags['batch-size']);
    const finetuneSteps = flags['finetune-steps'] ?? (flags['finetune-epochs'] ?? 1) * spe;
    if (schedule === 'gradual' && finetuneSteps < 2) usage('--schedule gradual prunes while fine-tuning: give --finetune-epochs >= 1 (or --finetune-steps >= 2)');
    const inputShape = model.config.arch === 'mlp' ? [model.config.inFeatures] : [...model.config.inputShape];
    const latencyOf = (m: PresetModel): { batch1: number; batchN: number } => ({
      batch1: measureLatency(m, { inputShape, batch: 1, iterations: 300, maxSeconds: 1.5, dataset: data.test }).secondsPerSample,
      batchN: measureLatency(m, { inputShape, batch: flags['latency-batch'], iterations: 50, maxSeconds: 2, dataset: data.test }).secondsPerSample,
    });
    const denseBytes = fileSize(model, undefined);
    const denseLatency = flags.latency ? latencyOf(model) : null;
    say(`prune ${model.config.preset ?? model.config.arch} (${flags.model}) on ${data.info.name}: ${method} ${fmtPct(amount, 1)}${flags.structured ? ' (structured: shrink)' : ''}, `
      + `${schedule}, fine-tune ${fmtInt(finetuneSteps)} steps (batch ${flags['batch-size']}, adam lr ${flags.lr})`);
    const r = await runPrune({
      model, data, method, amount, schedule, finetuneSteps, rounds: flags.rounds, structured: flags.structured,
      batchSize: flags['batch-size'], lr: flags.lr, seed: flags.seed, ctx, say,
    });
    const prunedBytes = fileSize(r.model, flags.out);
    const prunedLatency = flags.latency ? latencyOf(r.model) : null;
    const seconds = (performance.now() - t0) / 1000;
    const result = {
      command: 'prune', model: flags.model, preset: model.config.preset ?? model.config.arch, dataset: data.info.name,
      method, amount, schedule, structured: flags.structured,
      sparsity: r.sparsity, weightSparsity: r.weightSparsity,
      testAccuracy: r.final.accuracy, testLoss: r.final.loss,
      denseTestAccuracy: r.dense.accuracy, denseTestLoss: r.dense.loss,
      prunedTestAccuracy: r.pruned.accuracy,
      parameters: r.parameters, denseParameters: r.denseParameters, nonzeros: r.nonzeros,
      compression: r.denseParameters / Math.max(1, r.nonzeros),
      bytesOnDisk: { dense: denseBytes, pruned: prunedBytes },
      format: flags.structured ? 'dense (shrunk)' : r.sparseLayers.length > 0 ? 'csr' : 'dense',
      sparseLayers: r.sparseLayers, shrunk: r.shrunk,
      latency: denseLatency === null || prunedLatency === null ? null : {
        batch1: { dense: denseLatency.batch1, pruned: prunedLatency.batch1, speedup: denseLatency.batch1 / prunedLatency.batch1 },
        batch: flags['latency-batch'],
        batchN: { dense: denseLatency.batchN, pruned: prunedLatency.batchN, speedup: denseLatency.batchN / prunedLatency.batchN },
      },
      finetuneSteps: r.finetuneSteps, out: flags.out ?? null, seconds,
    };
    if (flags.json) { emitJson(ctx, result); return 0; }
    const lat = (d: { batch1: number; batchN: number } | null): string[] => (d === null ? [] : [fmtLatency(d.batch1), fmtLatency(d.batchN)]);
    ctx.out('');
    ctx.out(formatTable(
      [{ header: 'model' }, { header: 'params', align: 'right' }, { header: 'non-zero', align: 'right' }, { header: 'size on disk', align: 'right' }, { header: 'test acc', align: 'right' },
        ...(flags.latency ? [{ header: 'latency/sample b=1', align: 'right' as const }, { header: `latency/sample b=${flags['latency-batch']}`, align: 'right' as const }] : [])],
      [
        ['dense', fmtInt(r.denseParameters), fmtInt(r.denseParameters), fmtBytes(denseBytes), fmtPct(r.dense.accuracy), ...lat(denseLatency)],
        [`${method} ${fmtPct(amount, 0)}${flags.structured ? ' shrunk' : ''}`, fmtInt(r.parameters), fmtInt(r.nonzeros), fmtBytes(prunedBytes), fmtPct(r.final.accuracy), ...lat(prunedLatency)],
      ],
    ));
    ctx.out(`${fmtPct(r.sparsity, 1)} of the parameters removed (${result.compression.toFixed(1)}x fewer); accuracy ${fmtPct(r.final.accuracy)} vs dense ${fmtPct(r.dense.accuracy)} `
      + `(${((r.final.accuracy - r.dense.accuracy) * 100).toFixed(2)} points); ${fmtSeconds(seconds)}${flags.out ? `; wrote ${flags.out}` : ''}`);
    return 0;
  },
};
