// `tensorslim train`: train a preset on a dataset, with checkpoints and exact resume.

import { existsSync, statSync } from 'node:fs';
import { listModels, type PresetModel } from '../../models/index.js';
import { GPT_PRESETS } from '../../models/gpt.js';
import { isGptCheckpoint, runGptTraining } from '../../train/lm.js';
import { parseAugment, withoutValidation } from '../../data/index.js';
import { OPTIMIZERS, SCHEDULES, loadImageData, runTraining, trainModule, type RunTrainingResult, type TrainModuleResult } from '../../train/index.js';
import { exportOnnx } from '../../io/onnx/index.js';
import { loadCheckpoint } from '../../io/index.js';
import * as ops from '../../ops/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type CliContext, type Command } from '../command.js';
import { emitJson, fmtBytes, fmtInt, fmtPct, fmtSeconds, humanWriter } from '../output.js';
import { createProgress, type Progress } from '../progress.js';
import { applyRuntimeFlags, carriedGraph, checkpointHasGraph, fitImageData, importedFromCheckpoint, isImportedFileModel, isOnnxPath, isTfjsPath, loadModelOrGraph, type ImportedFileModel } from '../runtime.js';
import { progressCallback } from '../train_progress.js';
import { checkOutputFile } from '../paths.js';
import { openRunLog } from '../run_dir.js';
import { launchedRun, type LaunchedRun } from '../distributed_run.js';
import { powerSgdHook } from '../../distributed/index.js';

const FLAGS = {
  model: { type: 'string', help: `model preset: ${listModels().map((m) => m.name).join(', ')} (optional with --resume), or an .onnx classifier / TF.js model.json to fine-tune (any graph)`, metavar: 'PRESET|FILE' },
  dataset: { type: 'string', help: 'mnist (embedded), fashion-mnist, or a directory of IDX files; for GPT presets: sotu, moby-dick or a text file', metavar: 'NAME|PATH' },
  data: { type: 'string', help: "folder overriding the dataset's default location", metavar: 'DIR' },
  epochs: { type: 'int', help: 'epochs to train (total, counting resumed ones; default 1)', min: 1, metavar: 'N' },
  steps: { type: 'int', help: 'optimizer steps to train instead of epochs (total)', min: 1, metavar: 'N' },
  'batch-size': { type: 'int', help: 'training batch size', min: 1, default: 64, metavar: 'N' },
  lr: { type: 'number', help: 'learning rate', min: 0, exclusiveMin: true, default: 0.001, metavar: 'X' },
  optimizer: { type: 'string', help: 'optimizer', choices: OPTIMIZERS, default: 'adam' },
  'weight-decay': { type: 'number', help: 'weight decay (adamw default 0.01, others 0)', min: 0, metavar: 'X' },
  schedule: { type: 'string', help: 'learning-rate schedule, stepped every batch', choices: SCHEDULES, default: 'constant' },
  augment: { type: 'string', help: 'training-data augmentation: none, shift (random shifts of up to 2 pixels, zero fill) or shift:N (up to N pixels, N in 0..8)', default: 'none', metavar: 'SPEC' },
  'clip-grad': { type: 'number', help: 'clip the gradient norm to X', min: 0, exclusiveMin: true, metavar: 'X' },
  seed: { type: 'int', help: 'seed of the weights and the data order', min: 0, default: 0, metavar: 'N' },
  'validation-fraction': { type: 'number', help: 'image classifiers: train without the validation split that quantize --validation-fraction X (same --seed) checks on', min: 0, max: 0.5, exclusiveMin: true, metavar: 'X' },
  threads: { type: 'int', help: 'kernel threads (native backend)', min: 1, metavar: 'N' },
  out: { type: 'string', help: 'checkpoint written after every epoch (safetensors, atomic); for an imported graph, .onnx writes the trained graph at the end instead', metavar: 'FILE' },
  resume: { type: 'string', help: 'continue exactly from a checkpoint written with --out', metavar: 'FILE' },
  tokenizer: { type: 'string', help: 'GPT: byte (default) or gpt2 (BPE, vocabulary 50,257)', choices: ['byte', 'gpt2'] },
  context: { type: 'int', help: "GPT: training window length (default: the model's context)", min: 1, metavar: 'N' },
  accumulate: { type: 'int', help: 'GPT: split each batch into N micro-batches (gradient accumulation)', min: 1, metavar: 'N' },
  checkpointing: { type: 'boolean', help: 'GPT: recompute block activations in backward (less memory, more compute)' },
  'eval-interval': { type: 'int', help: 'GPT: held-out loss every N steps (default 200)', min: 1, metavar: 'N' },
  warmup: { type: 'int', help: 'GPT: warmup steps of the cosine schedule (default 5% of --steps)', min: 0, metavar: 'N' },
  'run-dir': { type: 'string', help: 'run folder for metrics (metrics.jsonl, run.json, TensorBoard events; default: beside --out, e.g. mlp.run for mlp.safetensors; none without --out)', metavar: 'DIR' },
  'grad-compression': { type: 'string', help: 'launched on several ranks: gradients cross the all-reduce as bf16 or fp16 (half the bytes) or PowerSGD low-rank matrices (docs/DISTRIBUTED.md)', choices: ['none', 'bf16', 'fp16', 'powersgd'], default: 'none' },
  'powersgd-rank': { type: 'int', help: 'with --grad-compression powersgd: rank of each gradient matrix\'s approximation (default 1)', min: 1, metavar: 'R' },
  'powersgd-start-iter': { type: 'int', help: 'with --grad-compression powersgd: steps averaged uncompressed first (default 10)', min: 0, metavar: 'N' },
  zero: { type: 'int', help: 'launched on several ranks: ZeRO stage 1 (optimizer state sharded over the ranks), 2 (gradients too) or 3 (parameters too) instead of DDP; --out holds the full state, as with DDP', min: 1, max: 3, metavar: 'STAGE' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

const USAGE = `Usage: tensorslim train --model <preset> --dataset <name|path> [options]

Train a model preset on an image-classification dataset. Evaluates on the test split after every
epoch; with --out, writes a checkpoint (weights, optimizer, scheduler, RNG and data-order state)
after every epoch, atomically. --resume continues such a run exactly: 1 epoch + resume to 2 gives
bitwise the weights of 2 epochs (use the same --dataset, --batch-size, --optimizer, --schedule and
--augment). --augment shift:N shifts each training image by up to N pixels (a fresh random shift
every epoch, zero fill); the test split is never augmented.
A NaN or infinite loss stops training with a message; the last good checkpoint is kept.
--validation-fraction X trains on the training set less the split that quantize (and prune) with
the same X and --seed hold out, so choices made later on that split are made on unseen samples.

--model also takes an .onnx file or a TF.js model.json and fine-tunes its weights: a preset
layout (mlp, lenet5) trains as that preset; any other graph importOnnx/importTfjs reads trains as
it is, fed the dataset reshaped to the input it declares (its output must be one score per class).
For such a graph, --out x.safetensors writes a checkpoint that carries the graph (its ONNX file in
the metadata; a TF.js model converted to ONNX) with the weights and training state: eval,
summary, prune, quantize, export and distill --teacher read it, and --resume x.safetensors
continues it exactly (no --model needed); --out x.onnx writes the trained graph as ONNX at the
end (no training state to resume from).

Launched on several ranks (tensorslim launch --nproc-per-node N -- tensorslim train ..., torchrun,
Slurm; docs/DISTRIBUTED.md), it trains data-parallel: --batch-size stays the global batch (a multiple
of the world size), each rank trains on batch / N samples of it and gradients are averaged, so the
run follows the single-process one; rank 0 alone prints and writes --out. After a launcher restart
(--max-restarts) every rank resumes from --out. --zero 1|2|3 shards the optimizer state (with 2
also the gradients, with 3 also the parameters, gathered layer by layer) over the ranks instead of
replicating it; the run and its --out are DDP's.

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim train --model mlp --dataset mnist --epochs 3 --out mlp.safetensors
  tensorslim train --model mlp --dataset mnist --epochs 30 --augment shift:1 --schedule cosine   # 97.2% (docs/TRAINING.md)
  tensorslim train --model mlp --dataset mnist --epochs 5 --resume mlp.safetensors --out mlp.safetensors
  tensorslim train --model mlp-tiny --dataset mnist --steps 20 --json | tail -n 1
  tensorslim train --model model.onnx --dataset mnist --epochs 1 --out model.ft.safetensors
  tensorslim train --resume model.ft.safetensors --dataset mnist --epochs 2 --out model.ft.safetensors
  tensorslim train --model gpt-tiny --dataset sotu --steps 2000 --out gpt.safetensors
  tensorslim launch --nproc-per-node 2 --max-restarts 1 -- tensorslim train --model mlp --dataset mnist --epochs 3 --threads 1 --out mlp.safetensors

GPT presets (${GPT_PRESETS.map((m) => m.name).join(', ')}) train on text: random windows of --context
tokens, AdamW (betas 0.9/0.95, weight decay 0.1 on matrices) with linear warmup then cosine decay to
lr/10, gradient clipping at 1 unless --clip-grad, held-out loss and bits per byte every
--eval-interval steps; --batch-size defaults to 16 and --lr to 0.001.`;

/** What `train --json` reports of a data-parallel run (null when run as one process). */
export interface DistributedJson { worldSize: number; perRankBatch: number; gradCompression: string; zero: number | null; parameterChecksums: number[] }

function distributedJson(d: { worldSize: number; checksums: number[] } | null, batch: number, compression: string, zero: number | undefined): DistributedJson | null {
  return d === null ? null : { worldSize: d.worldSize, perRankBatch: batch / d.worldSize, gradCompression: compression, zero: zero ?? null, parameterChecksums: d.checksums };
}

function batchText(batch: number, world: number): string {
  return world > 1 ? `batch ${batch} (${batch / world} per rank x ${world} ranks)` : `batch ${batch}`;
}

function launchOf(ctx: CliContext, flags: TrainFlags): Promise<LaunchedRun> {
  const c = flags['grad-compression'];
  const zero = flags.zero;
  if (zero !== undefined && c !== 'none') throw new UsageError('train', `--zero ${zero} reduces the gradients itself (reduce-scatter / all-reduce in float32); drop --grad-compression ${c}, which compresses DDP's all-reduce`);
  if (c !== 'powersgd' && (flags['powersgd-rank'] !== undefined || flags['powersgd-start-iter'] !== undefined)) throw new UsageError('train', `--powersgd-rank and --powersgd-start-iter apply to --grad-compression powersgd, not ${c}`);
  const hook = c === 'bf16' || c === 'fp16' ? c : c === 'powersgd' ? powerSgdHook({ matrixApproximationRank: flags['powersgd-rank'] ?? 1, startPowerSgdIter: flags['powersgd-start-iter'] ?? 10 }) : undefined;
  return launchedRun(ctx, 'train', { out: flags.out, ...(hook !== undefined ? { commHook: hook } : {}), ...(zero === 1 || zero === 2 || zero === 3 ? { zero } : {}) });
}

/** The JSON result of a training run (what `train --json` prints). */
export function trainResultJson(r: Omit<RunTrainingResult, 'model' | 'config'> & { config: { preset?: string | undefined; arch: string } }): Record<string, unknown> {
  const last = r.fit.history[r.fit.history.length - 1];
  return {
    command: 'train',
    model: r.config.preset ?? r.config.arch,
    dataset: r.dataset,
    augment: r.augment,
    testAccuracy: r.test.accuracy,
    testLoss: r.test.loss,
    trainLoss: last?.trainLoss ?? null,
    trainAccuracy: last?.trainAccuracy ?? null,
    params: r.params,
    epochs: r.fit.epochs,
    steps: r.fit.step,
    seconds: r.fit.seconds,
    trainSeconds: r.fit.trainSeconds,
    samplesPerSecond: r.fit.samplesPerSecond,
    stopReason: r.fit.stopReason,
    message: r.fit.message,
    out: r.out,
    resumedFrom: r.resumedFrom,
    history: r.fit.history.map((m) => ({
      epoch: m.epoch + 1, step: m.step, trainLoss: m.trainLoss, trainAccuracy: m.trainAccuracy,
      testLoss: m.eval?.loss ?? null, testAccuracy: m.eval?.accuracy ?? null, lr: m.lr, seconds: m.seconds, samplesPerSecond: m.samplesPerSecond,
    })),
  };
}

async function run(argv: readonly string[], ctx: CliContext): Promise<number> {
  const { flags, given } = parseArgs('train', argv, FLAGS);
  const gpt = flags.model !== undefined ? GPT_PRESETS.some((p) => p.name === flags.model)
    : flags.resume !== undefined && existsSync(flags.resume) && isGptCheckpoint(flags.resume);
  if (gpt && given.has('validation-fraction')) throw new UsageError('train', '--validation-fraction applies to image classifiers; a GPT holds out its own validation text: drop it');
  if (gpt) return runGpt(flags, given, ctx);
  if (flags.dataset === undefined) throw new UsageError('train', 'missing --dataset (mnist, fashion-mnist or a directory of IDX files)');
  if (flags.model === undefined && flags.resume === undefined) throw new UsageError('train', `missing --model (one of ${listModels().map((m) => m.name).join(', ')})`);
  const onnxModel = flags.model !== undefined && (isOnnxPath(flags.model) || isTfjsPath(flags.model));   // an imported classifier: trained from its weights
  if (onnxModel && flags.resume !== undefined) throw new UsageError('train', `--model ${flags.model} starts from an imported file's weights; --resume continues a checkpoint (which carries its graph): give one of them`);
  const resumeGraph = flags.model === undefined && flags.resume !== undefined && existsSync(flags.resume) && checkpointHasGraph(flags.resume);
  let loaded: PresetModel | ImportedFileModel | null = null;
  if (onnxModel) {
    try { loaded = loadModelOrGraph(flags.model!, { command: 'train' }) as PresetModel | ImportedFileModel; } catch (e) { throw new Error(`--model ${flags.model}: ${(e as Error).message}`); }
  }
  if (resumeGraph || (loaded !== null && isImportedFileModel(loaded))) {
    if (given.has('validation-fraction')) throw new UsageError('train', '--validation-fraction applies to presets for now; an imported graph trains on the whole training set: drop it');
    return runImported(flags, loaded as ImportedFileModel | null, ctx);
  }
  if (flags.out !== undefined && isOnnxPath(flags.out)) throw new UsageError('train', `--out ${flags.out}: a preset trains into a checkpoint (.safetensors); export it with tensorslim export --model <checkpoint> --out ${flags.out}`);
  if (flags.model !== undefined && !onnxModel && !listModels().some((m) => m.name === flags.model)) {
    throw new UsageError('train', `unknown --model '${flags.model}'; presets: ${listModels().map((m) => m.name).join(', ')}`);
  }
  if (flags.epochs !== undefined && flags.steps !== undefined) throw new UsageError('train', 'give --epochs or --steps, not both');
  const gptOnly = (['tokenizer', 'context', 'accumulate', 'checkpointing', 'eval-interval', 'warmup'] as const).filter((f) => given.has(f));
  if (gptOnly.length > 0) throw new UsageError('train', `${gptOnly.map((f) => `--${f}`).join(', ')} appl${gptOnly.length === 1 ? 'ies' : 'y'} to GPT presets only; ${flags.model ?? 'this model'} is an image classifier: drop ${gptOnly.length === 1 ? 'it' : 'them'}`);
  try { parseAugment(flags.augment); } catch {
    throw new UsageError('train', `bad --augment '${flags.augment}'; use none, shift (up to 2 pixels) or shift:N with N an integer in 0..8`);
  }
  if (flags.out !== undefined) checkOutputFile('train', 'out', flags.out);
  if (flags.resume !== undefined && !existsSync(flags.resume)) throw new UsageError('train', `--resume ${flags.resume}: no such file`);
  applyRuntimeFlags('train', { threads: flags.threads });
  const launched = await launchOf(ctx, flags);
  ctx = launched.ctx;
  const world = launched.parallel?.worldSize ?? 1;
  const resume = launched.restartFrom ?? flags.resume;
  const say = humanWriter(ctx, flags.json);
  const runLog = (launched.parallel?.rank ?? 0) === 0 ? openRunLog('train', flags, say) : null;   // rank 0 alone writes the run folder

  let startStep = -1;
  const r = await runTraining({
    ...(flags.model !== undefined && !onnxModel ? { model: flags.model } : {}),
    ...(loaded !== null ? { initialModel: loaded as PresetModel } : {}),
    ...(flags['validation-fraction'] !== undefined
      ? { dataset: withoutValidation(loadImageData(flags.dataset, flags.data), flags['validation-fraction'], flags.seed) }
      : { dataset: flags.dataset, ...(flags.data !== undefined ? { data: flags.data } : {}) }),
    ...(flags.steps !== undefined ? { steps: flags.steps } : { epochs: flags.epochs ?? 1 }),
    batchSize: flags['batch-size'],
    lr: flags.lr,
    optimizer: flags.optimizer,
    ...(flags['weight-decay'] !== undefined ? { weightDecay: flags['weight-decay'] } : {}),
    schedule: flags.schedule,
    ...(flags['clip-grad'] !== undefined ? { gradClipNorm: flags['clip-grad'] } : {}),
    augment: flags.augment,
    seed: flags.seed,
    ...(flags.out !== undefined ? { out: flags.out } : {}),
    ...(resume !== undefined ? { resume } : {}),
    parallel: launched.parallel,
    callbacks: [progressCallback(ctx, say), ...(runLog ? [runLog.callback()] : [])],
    onStart(p) {
      startStep = p.trainer.step;
      const budget = flags.steps !== undefined ? `${flags.steps} steps` : `${p.trainer.totalEpochs} epoch${p.trainer.totalEpochs === 1 ? '' : 's'}`;
      say(`train ${p.config.preset ?? p.config.arch} (${fmtInt(p.params)} params) on ${p.data.info.name} (${fmtInt(p.data.info.trainSize)} train / ${fmtInt(p.data.info.testSize)} test): `
        + `${budget}, ${batchText(p.batchSize, p.worldSize)}, ${p.optimizer} lr ${p.lr}, ${p.schedule} schedule, ${p.augment === 'none' ? '' : `augment ${p.augment}, `}seed ${p.seed}`
        + (p.resumedFrom ? `; resumed from ${p.resumedFrom} at epoch ${p.trainer.epoch + 1}, step ${p.trainer.step}` : ''));
      if (p.resumedFrom && (given.has('lr') || given.has('seed'))) say('note: with --resume, the learning rate and data order come from the checkpoint');
    },
  });
  const dist = await launched.finish(r.model);
  // samples per second of the whole group (every rank trains as many samples, in lockstep)
  const result = { ...trainResultJson(r), samplesPerSecond: r.fit.samplesPerSecond * world, distributed: distributedJson(dist, flags['batch-size'], flags['grad-compression'], flags.zero), runDir: runLog?.dir ?? null };
  runLog?.finish({ testAccuracy: r.test.accuracy, testLoss: r.test.loss, params: r.params, steps: r.fit.step, seconds: r.fit.seconds, stopReason: r.fit.stopReason, out: r.out });
  if (r.resumedFrom !== null && r.fit.step === startStep) {
    ctx.err(`tensorslim train: nothing to do: ${r.resumedFrom} is already at step ${r.fit.step} (epoch ${r.fit.epochs}), the end of the requested budget; raise --epochs or --steps to train on`);
  }
  if (r.fit.stopReason !== 'completed') ctx.err(`tensorslim train: ${r.fit.message}`);
  if (flags.json) emitJson(ctx, result);
  else {
    ctx.out(`test accuracy ${fmtPct(r.test.accuracy)}  test loss ${r.test.loss.toFixed(4)}  ${fmtInt(r.params)} params  ${r.fit.step} steps  ${fmtSeconds(r.fit.seconds)}`
      + (r.out ? `  checkpoint ${r.out}` : ''));
  }
  return r.fit.stopReason === 'nonfinite-loss' ? 1 : 0;
}

/** `tensorslim train ...`. @example await main(['train', '--model', 'mlp', '--dataset', 'mnist'], ctx) */
export const trainCommand: Command = { name: 'train', summary: 'train a model preset on a dataset (checkpoints, resume)', usage: USAGE, run };

type TrainFlags = ReturnType<typeof parseArgs<typeof FLAGS>>['flags'];

/**
 * `train --model x.onnx|model.json` for a graph that is not a preset layout, or `--resume` of a
 * checkpoint that carries one: fine-tune it as it is (trainModule) on the dataset reshaped to its
 * input; --out .safetensors: checkpoints that carry the graph; --out .onnx: the graph at the end.
 */
async function runImported(flags: TrainFlags, m: ImportedFileModel | null, ctx: CliContext): Promise<number> {
  const cmd = 'train';
  const outOnnx = flags.out !== undefined && isOnnxPath(flags.out);
  if (flags.out !== undefined && !outOnnx && !/\.safetensors$/i.test(flags.out)) throw new UsageError(cmd, `--out ${flags.out}: an imported graph trains into a checkpoint that carries it (.safetensors) or into an .onnx file`);
  if (flags.out !== undefined) checkOutputFile(cmd, 'out', flags.out, m !== null ? [{ flag: '--model', path: m.path }] : []);
  applyRuntimeFlags(cmd, { threads: flags.threads });
  const launched = await launchOf(ctx, flags);
  ctx = launched.ctx;
  const say = humanWriter(ctx, flags.json);
  const resume = launched.restartFrom ?? flags.resume;
  // the graph: from --model, or the one the resumed checkpoint carries
  const source = m ?? importedFromCheckpoint(loadCheckpoint(resume!), resume!)!;
  const data = fitImageData(loadImageData(flags.dataset!, flags.data), source, cmd);
  const carried = carriedGraph(source, data.info.inputShape, cmd);
  const runLog = (launched.parallel?.rank ?? 0) === 0 ? openRunLog(cmd, flags, say) : null;
  const r: TrainModuleResult = await trainModule({
    model: carried.model, dataset: data,
    ...(flags.steps !== undefined ? { steps: flags.steps } : { epochs: flags.epochs ?? 1 }),
    batchSize: flags['batch-size'], lr: flags.lr, optimizer: flags.optimizer,
    ...(flags['weight-decay'] !== undefined ? { weightDecay: flags['weight-decay'] } : {}),
    schedule: flags.schedule,
    ...(flags['clip-grad'] !== undefined ? { gradClipNorm: flags['clip-grad'] } : {}),
    augment: flags.augment, seed: flags.seed,
    ...(flags.out !== undefined && !outOnnx ? { out: flags.out, checkpointExtra: carried.extra } : {}),
    ...(resume !== undefined ? { resume } : {}),
    parallel: launched.parallel,
    callbacks: [progressCallback(ctx, say), ...(runLog ? [runLog.callback()] : [])],
    onStart(p) {
      const budget = flags.steps !== undefined ? `${flags.steps} steps` : `${p.trainer.totalEpochs} epoch${p.trainer.totalEpochs === 1 ? '' : 's'}`;
      say(`train ${source.description} (${fmtInt(p.params)} params) on ${p.data.info.name} (samples reshaped to (${p.data.info.inputShape.join(', ')})): ${budget}, ${batchText(p.batchSize, p.worldSize)}, `
        + `${p.optimizer} lr ${p.lr}, ${p.schedule} schedule, seed ${p.seed}${p.resumedFrom ? `; resumed from ${p.resumedFrom} at step ${p.trainer.step}` : ''}`);
    },
  });
  const dist = await launched.finish(r.model);
  if (dist !== null && dist.rank !== 0) return 0;
  let out = r.out;
  if (outOnnx) {
    r.model.eval();
    exportOnnx(r.model, ops.zeros([1, ...data.info.inputShape]), flags.out!, carried.imported.opset !== null && carried.imported.opset >= 11 ? { opset: carried.imported.opset } : {});
    out = flags.out!;
  }
  const result = {
    ...trainResultJson({ ...r, out, config: { preset: source.description, arch: 'onnx' } }), model: flags.model ?? source.path, graph: source.description,
    format: outOnnx ? 'onnx' : out !== null ? 'checkpoint (carries the graph)' : null,
    samplesPerSecond: r.fit.samplesPerSecond * (dist?.worldSize ?? 1), distributed: distributedJson(dist, flags['batch-size'], flags['grad-compression'], flags.zero), runDir: runLog?.dir ?? null,
  };
  runLog?.finish({ testAccuracy: r.test.accuracy, testLoss: r.test.loss, params: r.params, steps: r.fit.step, seconds: r.fit.seconds, stopReason: r.fit.stopReason, out });
  if (r.fit.stopReason !== 'completed') ctx.err(`tensorslim train: ${r.fit.message}`);
  if (flags.json) emitJson(ctx, result);
  else ctx.out(`test accuracy ${fmtPct(r.test.accuracy)}  test loss ${r.test.loss.toFixed(4)}  ${fmtInt(r.params)} params  ${r.fit.step} steps  ${fmtSeconds(r.fit.seconds)}${out ? `  wrote ${out}` : ''}`);
  return r.fit.stopReason === 'nonfinite-loss' ? 1 : 0;
}

/** `train --model gpt-*`: language-model training (src/train/lm.ts), its progress and result. */
async function runGpt(flags: TrainFlags, given: ReadonlySet<string>, ctx: CliContext): Promise<number> {
  const cmd = 'train';
  if (flags.dataset === undefined) throw new UsageError(cmd, 'missing --dataset (sotu, moby-dick or a text file)');
  if (flags.epochs !== undefined) throw new UsageError(cmd, 'GPT presets train for --steps N (random windows have no epochs)');
  if (given.has('optimizer') && flags.optimizer !== 'adamw') throw new UsageError(cmd, 'GPT presets train with AdamW; drop --optimizer');
  if (given.has('schedule') && flags.schedule !== 'warmup-cosine') throw new UsageError(cmd, 'GPT presets use the warmup-cosine schedule; drop --schedule');
  if (given.has('augment') && flags.augment !== 'none') throw new UsageError(cmd, '--augment shifts images; GPT presets train on text, drop --augment');
  if (flags.out !== undefined) checkOutputFile(cmd, 'out', flags.out);
  if (flags.resume !== undefined && !existsSync(flags.resume)) throw new UsageError(cmd, `--resume ${flags.resume}: no such file`);
  applyRuntimeFlags(cmd, { threads: flags.threads });
  const launched = await launchOf(ctx, flags);
  ctx = launched.ctx;
  const resume = launched.restartFrom ?? flags.resume;
  const batchSize = given.has('batch-size') ? flags['batch-size'] : 16;
  const say = humanWriter(ctx, flags.json);
  const runLog = (launched.parallel?.rank ?? 0) === 0 ? openRunLog(cmd, flags, say) : null;   // rank 0 alone writes the run folder
  let bar: Progress | null = null;
  const progress = {
    onEpochBegin(t: { step: number; totalSteps: number; stepsPerEpoch: number }) {
      bar = createProgress(ctx, { label: `steps ${t.step + 1}-${Math.min(t.step + t.stepsPerEpoch, t.totalSteps)}/${t.totalSteps}`, total: Math.min(t.stepsPerEpoch, t.totalSteps - t.step), unit: 'steps' });
    },
    onStepEnd(t: { stepInEpoch: number; epochLoss: number; epochSamplesPerSecond: number }) { bar?.update(t.stepInEpoch, { loss: t.epochLoss, throughput: t.epochSamplesPerSecond }); },
    onEpochEnd(t: { step: number; totalSteps: number }, m: { trainLoss: number; eval?: { loss: number }; samplesPerSecond: number; lr: number }) {
      bar?.stop(); bar = null;
      say(`step ${t.step}/${t.totalSteps}  train loss ${m.trainLoss.toFixed(4)}  val loss ${m.eval ? m.eval.loss.toFixed(4) : 'n/a'}  lr ${m.lr.toExponential(2)}  ${Math.round(m.samplesPerSecond * contextOf)} tokens/s`);
    },
    onTrainEnd() { bar?.stop(); bar = null; },
  };
  let contextOf = 0;
  const r = await runGptTraining({
    ...(flags.model !== undefined ? { model: flags.model } : {}),
    dataset: flags.dataset,
    ...(flags.tokenizer !== undefined ? { tokenizer: flags.tokenizer } : {}),
    steps: flags.steps ?? 1000,
    batchSize,
    ...(flags.accumulate !== undefined ? { accumulationSteps: flags.accumulate } : {}),
    ...(flags.context !== undefined ? { contextLength: flags.context } : {}),
    ...(flags.checkpointing ? { modelOverrides: { checkpointing: true } } : {}),
    lr: flags.lr,
    ...(flags.warmup !== undefined ? { warmupSteps: flags.warmup } : {}),
    ...(flags['weight-decay'] !== undefined ? { weightDecay: flags['weight-decay'] } : {}),
    ...(flags['clip-grad'] !== undefined ? { gradClipNorm: flags['clip-grad'] } : {}),
    ...(flags['eval-interval'] !== undefined ? { evalInterval: flags['eval-interval'] } : {}),
    seed: flags.seed,
    ...(flags.out !== undefined ? { out: flags.out } : {}),
    ...(resume !== undefined ? { resume } : {}),
    parallel: launched.parallel,
    callbacks: [progress, ...(runLog ? [runLog.callback()] : [])],
    onStart(p) {
      contextOf = p.contextLength;
      const c = p.config;
      say(`train ${c.preset ?? 'gpt'} (${fmtInt(p.params)} params: ${c.nLayer} layers, width ${c.nEmbd}, ${c.nHead} heads) on ${p.data.info.name} `
        + `(${fmtInt(p.data.info.trainTokens ?? 0)} train / ${fmtInt(p.data.info.testTokens ?? 0)} test ${p.data.tokenizer.name} tokens): ${p.trainer.totalSteps} steps, ${batchText(p.batchSize, p.worldSize)} x ${p.contextLength} tokens`
        + (p.resumedFrom ? `; resumed from ${p.resumedFrom} at step ${p.trainer.step}` : ''));
    },
  });
  const result = {
    command: 'train', model: r.config.preset ?? 'gpt', dataset: r.dataset, tokenizer: r.tokenizer,
    valLoss: r.valLoss, valBitsPerByte: r.valBitsPerByte, trainLoss: r.fit.history.at(-1)?.trainLoss ?? null,
    tokensPerSecond: r.tokensPerSecond, peakRssBytes: r.peakRssBytes, params: r.params, steps: r.fit.step,
    seconds: r.fit.seconds, trainSeconds: r.fit.trainSeconds, stopReason: r.fit.stopReason, message: r.fit.message,
    out: r.out, resumedFrom: r.resumedFrom, curve: r.curve, runDir: runLog?.dir ?? null,
    distributed: distributedJson(await launched.finish(r.model), batchSize, flags['grad-compression'], flags.zero),
  };
  if (result.distributed !== null) result.tokensPerSecond *= result.distributed.worldSize;
  runLog?.finish({ valLoss: r.valLoss, valBitsPerByte: r.valBitsPerByte, tokensPerSecond: r.tokensPerSecond, peakRssBytes: r.peakRssBytes, params: r.params, steps: r.fit.step, seconds: r.fit.seconds, stopReason: r.fit.stopReason, out: r.out });
  if (r.fit.stopReason !== 'completed') ctx.err(`tensorslim train: ${r.fit.message}`);
  if (flags.json) emitJson(ctx, result);
  else {
    ctx.out(`val loss ${r.valLoss.toFixed(4)} (${r.valBitsPerByte.toFixed(3)} bits/byte)  ${fmtInt(r.params)} params  ${r.fit.step} steps  `
      + `${Math.round(r.tokensPerSecond)} tokens/s  peak RSS ${fmtBytes(r.peakRssBytes)}  ${fmtSeconds(r.fit.seconds)}${r.out ? `  checkpoint ${r.out}` : ''}`);
  }
  return r.fit.stopReason === 'nonfinite-loss' ? 1 : 0;
}
