// `tensorslim prune`: prune a trained checkpoint (unstructured, structured, 2:4), fine-tune it with
// a schedule, store it compactly (CSR weights, or a physically smaller dense model with
// --structured) and report accuracy, sizes and (with --latency) speed beside the dense model.
// The workflow (prune, fine-tune, store sparse) is prune.runPrune in src/compress/prune/workflow.ts;
// this file checks flags, calls it, writes the file and prints the comparison.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { prune } from '../../compress/index.js';
import type { PresetModel } from '../../models/index.js';
import { exportWeights, loadImageData, measureLatency } from '../../train/index.js';
import { withoutValidation } from '../../data/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { emitJson, fmtBytes, fmtInt, fmtLatency, fmtPct, fmtSeconds, formatTable, humanWriter } from '../output.js';
import { applyRuntimeFlags, fitImageData, isImportedFileModel, isOnnxPath, isTfjsPath, loadModelOrGraph, refuseQuantized, warnNonFinite, type ImportedFileModel } from '../runtime.js';
import { exportOnnx, serializeOnnx } from '../../io/onnx/index.js';
import * as ops from '../../ops/index.js';
import type { AnyModule } from '../../nn/index.js';
import { loadCheckpoint } from '../../io/index.js';
import { checkOutputFile } from '../paths.js';
import { pruneReporting } from '../prune_progress.js';
import { openRunLog, withRunLog } from '../run_dir.js';
import { launchedRun } from '../distributed_run.js';

const FLAGS = {
  model: { type: 'string', help: 'checkpoint of the trained dense model (written by train --out), an .onnx classifier (any graph; then --out is .onnx) or a TF.js model.json', metavar: 'FILE' },
  dataset: { type: 'string', help: 'mnist, fashion-mnist, or a directory of IDX files (fine-tuning and test)', metavar: 'NAME|PATH' },
  data: { type: 'string', help: "folder overriding the dataset's default location", metavar: 'DIR' },
  method: { type: 'string', help: 'l1 (per layer), random, ln-structured (whole neurons/filters, L2), global (one L1 threshold), 2:4', choices: prune.PRUNE_METHODS, default: 'global' },
  amount: { type: 'number', help: 'fraction of the weights to remove (of the hidden units for ln-structured; 2:4 is always 0.5) (default 0.9)', min: 0, max: 1, metavar: 'X' },
  schedule: { type: 'string', help: 'oneshot (prune, then fine-tune), gradual (Zhu & Gupta cubic, while fine-tuning), iterative (rounds of prune + fine-tune)', choices: prune.PRUNE_SCHEDULES, default: 'oneshot' },
  'finetune-epochs': { type: 'int', help: 'total fine-tuning epochs (default 1; 0 = none)', min: 0, metavar: 'N' },
  'finetune-steps': { type: 'int', help: 'total fine-tuning optimizer steps instead of epochs', min: 0, metavar: 'N' },
  rounds: { type: 'int', help: 'iterative: prune + fine-tune rounds (the fine-tuning budget is split between them)', min: 1, default: 3, metavar: 'N' },
  structured: { type: 'boolean', help: 'physically remove the pruned neurons/filters (ln-structured): a smaller dense model' },
  'batch-size': { type: 'int', help: 'fine-tuning batch size', min: 1, default: 64, metavar: 'N' },
  lr: { type: 'number', help: 'fine-tuning learning rate (Adam)', min: 0, exclusiveMin: true, default: 0.001, metavar: 'X' },
  seed: { type: 'int', help: 'seed of the data order (and of --method random)', min: 0, default: 0, metavar: 'N' },
  'validation-fraction': { type: 'number', help: 'fine-tune without the validation split that quantize --validation-fraction X (same --seed) checks on', min: 0, max: 0.5, exclusiveMin: true, metavar: 'X' },
  latency: { type: 'boolean', help: 'also time inference per sample, dense vs pruned, at batch 1 and --latency-batch' },
  'latency-batch': { type: 'int', help: 'the second batch size of --latency', min: 1, default: 128, metavar: 'N' },
  out: { type: 'string', help: 'write the pruned model here (CSR weights, or the shrunk dense model with --structured)', metavar: 'FILE' },
  threads: { type: 'int', help: 'kernel threads (native backend)', min: 1, metavar: 'N' },
  zero: { type: 'int', help: 'launched on several ranks: ZeRO stage 1 (optimizer state sharded over the ranks), 2 (gradients too) or 3 (parameters too) instead of DDP for the fine-tuning; same results and --out file as DDP', min: 1, max: 3, metavar: 'STAGE' },
  checkpoint: { type: 'string', help: 'fine-tuning state (masks, schedule position, Adam, sampler, RNG) written here atomically at every epoch end, every --checkpoint-every steps and at the end of each phase; after a launcher restart every rank resumes from it', metavar: 'FILE' },
  'checkpoint-every': { type: 'int', help: 'also write --checkpoint every N fine-tuning steps', min: 1, metavar: 'N' },
  resume: { type: 'string', help: 'continue exactly from a --checkpoint file (same flags and --model); checkpoints go on into it unless --checkpoint names another file', metavar: 'FILE' },
  'run-dir': { type: 'string', help: 'run folder for the training metrics (metrics.jsonl, run.json, TensorBoard events; default: beside --out, e.g. x.run for x.safetensors)', metavar: 'DIR' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

/** Swap every SparseLinear of `model` for the dense Linear with the same outputs; returns how many. */
function densifySparse(model: AnyModule): number {
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
  return withTempFile((f) => exportWeights(model, f));
}

/** Bytes of a model written as .onnx (at `path`, or only serialized): pruned weights as dense zeros, CSR layers as their dense Linear. */
function onnxFileSize(model: AnyModule, sampleShape: readonly number[], path: string | undefined): number {
  const sample = ops.zeros([1, ...sampleShape]);
  if (path !== undefined) return exportOnnx(model, sample, path).bytes;
  return serializeOnnx(model, sample).bytes.length;
}

function presetInputShape(model: PresetModel): number[] {
  return model.config.arch === 'mlp' ? [model.config.inFeatures] : [...model.config.inputShape];
}

function withTempFile(f: (path: string) => number): number {
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-prune-'));
  try { return f(join(dir, 'model.safetensors')); } finally { rmSync(dir, { recursive: true, force: true }); }
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
--validation-fraction X fine-tunes without the split quantize --validation-fraction X (same --seed)
validates on (Deep Compression: train, prune and quantize all with it, docs/QUANTIZATION.md).

--checkpoint FILE keeps the fine-tuning state (the masks as weight_orig / weight_mask, the
schedule's position, Adam's state, sampler and RNG) at every epoch end, every --checkpoint-every
N steps and at each phase's end; --resume FILE continues such a run exactly (the same flags and
--model; anything else is refused naming the difference): the result equals an uninterrupted
run's. Launched with --max-restarts, a restarted run resumes from --checkpoint by itself.

A pruned file holds weight.values / weight.crow_indices / weight.col_indices / weight.size per
sparse layer (PyTorch's names for the parts of a sparse CSR tensor); load it in code with
prune.loadSparse(modelFromConfig(ckpt.config), ckpt.model). A --structured file is a plain
checkpoint of the smaller model. With --out x.onnx the pruned model is written as ONNX (dense
weights with zeros). An .onnx model of another layout than the presets, or a TF.js layers model
(model.json), is pruned as it is (its Linear/Conv layers; the dataset reshaped to its declared
input), unstructured only, and written as .onnx.

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim train --model mlp --dataset fashion-mnist --epochs 10 --out mlp.safetensors
  tensorslim prune --model mlp.safetensors --dataset fashion-mnist --method global --amount 0.9 --schedule gradual --finetune-epochs 10 --out mlp-90.safetensors
  tensorslim prune --model mlp.safetensors --dataset fashion-mnist --method ln-structured --amount 0.5 --structured --finetune-epochs 2 --latency
  tensorslim prune --model mlp.safetensors --dataset mnist --method 2:4 --finetune-steps 200 --json | tail -n 1
  tensorslim prune --model mlp.safetensors --dataset mnist --schedule iterative --finetune-epochs 3 --checkpoint prune.ckpt.safetensors --checkpoint-every 50 --out mlp-90.safetensors
  tensorslim prune --model mlp.safetensors --dataset mnist --schedule iterative --finetune-epochs 3 --resume prune.ckpt.safetensors --out mlp-90.safetensors`,
  async run(argv, ctx) {
    const { flags } = parseArgs('prune', argv, FLAGS);
    const usage = (msg: string): never => { throw new UsageError('prune', msg); };
    if (flags.model === undefined) usage('missing --model <checkpoint> (a file written by tensorslim train --out)');
    if (flags.dataset === undefined) usage('missing --dataset (mnist, fashion-mnist or a directory of IDX files)');
    if (flags['finetune-epochs'] !== undefined && flags['finetune-steps'] !== undefined) usage('give --finetune-epochs or --finetune-steps, not both');
    const method = flags.method as prune.PruneMethodName;
    const schedule = flags.schedule as prune.PruneScheduleName;
    if (method === '2:4' && flags.amount !== undefined && flags.amount !== 0.5) usage(`--method 2:4 removes exactly half of the weights; drop --amount ${flags.amount} (or pass 0.5)`);
    const amount = method === '2:4' ? 0.5 : flags.amount ?? 0.9;
    if (method === 'ln-structured' && amount >= 1) usage('--amount 1 would remove every hidden unit; use a fraction below 1 with ln-structured');
    if (flags.structured && method !== 'ln-structured') usage(`--structured removes whole neurons/filters, which needs --method ln-structured (got ${method})`);
    if ((method === 'ln-structured' || method === '2:4') && schedule !== 'oneshot') usage(`--schedule ${schedule} applies to the unstructured methods (l1, global, random); ${method} runs oneshot`);
    if (flags.resume !== undefined && !existsSync(flags.resume)) usage(`--resume ${flags.resume}: no such file; --resume takes a checkpoint written by prune --checkpoint`);
    if (flags.out !== undefined) checkOutputFile('prune', 'out', flags.out, [{ flag: '--model', path: flags.model! }, ...(flags.resume !== undefined ? [{ flag: '--resume', path: flags.resume }] : [])]);
    const checkpoint = flags.checkpoint ?? flags.resume;   // a resumed run checkpoints on into its file unless told otherwise
    if (flags['checkpoint-every'] !== undefined && checkpoint === undefined) usage('--checkpoint-every needs --checkpoint FILE (where the fine-tuning state goes)');
    if (checkpoint !== undefined) {
      checkOutputFile('prune', flags.checkpoint !== undefined ? 'checkpoint' : 'resume', checkpoint, [{ flag: '--model', path: flags.model! }]);
      if (flags.out !== undefined && resolve(flags.out) === resolve(checkpoint)) usage(`--out ${flags.out} is also the fine-tuning checkpoint; the pruned model and the training state need two files`);
    }
    applyRuntimeFlags('prune', { threads: flags.threads });
    // launched on several ranks: fine-tune data-parallel, rank 0 reports; after a launcher restart, resume from --checkpoint
    const launched = await launchedRun(ctx, 'prune', { out: checkpoint, ...(flags.zero === 1 || flags.zero === 2 || flags.zero === 3 ? { zero: flags.zero } : {}) });
    const resumeFrom = launched.restartFrom ?? flags.resume ?? null;
    ctx = launched.ctx;
    const world = launched.parallel?.worldSize ?? 1;
    if (flags['batch-size'] % world !== 0) usage(`--batch-size ${flags['batch-size']} is the global batch of ${world} ranks: pass a multiple of ${world}`);
    const say = humanWriter(ctx, flags.json);
    const runLog = (launched.parallel?.rank ?? 0) === 0 ? openRunLog('prune', flags, say) : null;   // rank 0 alone writes the run folder
    const t0 = performance.now();

    let loaded: PresetModel | ImportedFileModel;
    try {
      if (!isOnnxPath(flags.model!) && !isTfjsPath(flags.model!)) refuseQuantized(loadCheckpoint(flags.model!), 'prune', flags.model!, 'prune before quantizing (Deep Compression: prune, then tensorslim quantize the pruned file)');
      loaded = loadModelOrGraph(flags.model!, { command: 'prune' }) as PresetModel | ImportedFileModel;   // checkpoints here are classifiers (loadModelFile)
    } catch (e) { throw new Error(`--model ${flags.model}: ${(e as Error).message}`); }
    // an ONNX graph that is not a preset layout: pruned as it is, fed the dataset in its declared input shape, written back as .onnx
    const graph = isImportedFileModel(loaded) ? loaded : null;
    if (graph !== null && flags.structured) usage(`--structured rebuilds a preset's layers smaller; ${flags.model} is ${graph.description}: prune it unstructured (dense zeros), or import it in code`);
    if (graph !== null && flags.out !== undefined && !isOnnxPath(flags.out)) usage(`--out ${flags.out}: ${flags.model} is an imported ${graph.format} model (not a preset), so the pruned model is written as ONNX: give --out <file>.onnx`);
    const model: AnyModule = graph?.model ?? (loaded as PresetModel);
    const preset = graph?.description ?? (loaded as PresetModel).config.preset ?? (loaded as PresetModel).config.arch;
    warnNonFinite(ctx, 'prune', model, flags.model!);
    const densified = densifySparse(model);   // re-pruning a CSR file: prune (and report on) its dense layers
    if (densified > 0) say(`note: ${flags.model} is already pruned (${densified} CSR layer${densified === 1 ? '' : 's'}); its layers are pruned as dense ones with their zeros, and the report counts against the dense model`);
    const loadedData = loadImageData(flags.dataset!, flags.data);
    const rawData = flags['validation-fraction'] === undefined ? loadedData : withoutValidation(loadedData, flags['validation-fraction'], flags.seed);
    const data = graph === null ? rawData : fitImageData(rawData, graph, 'prune');
    const spe = Math.ceil(data.train.length / flags['batch-size']);
    const finetuneSteps = flags['finetune-steps'] ?? (flags['finetune-epochs'] ?? 1) * spe;
    if (schedule === 'gradual' && finetuneSteps < 2) usage('--schedule gradual prunes while fine-tuning: give --finetune-epochs >= 1 (or --finetune-steps >= 2)');
    const inputShape = graph !== null ? [...data.info.inputShape] : presetInputShape(loaded as PresetModel);
    const latencyOf = (m: AnyModule): { batch1: number; batchN: number } => ({
      batch1: measureLatency(m, { inputShape, batch: 1, iterations: 300, maxSeconds: 1.5, dataset: data.test }).secondsPerSample,
      batchN: measureLatency(m, { inputShape, batch: flags['latency-batch'], iterations: 50, maxSeconds: 2, dataset: data.test }).secondsPerSample,
    });
    // an ONNX graph, or --out x.onnx: the file is ONNX (sizes compared as ONNX files); else a checkpoint (CSR or shrunk)
    const asOnnx = graph !== null || (flags.out !== undefined && isOnnxPath(flags.out));
    const bytesOf = (m: AnyModule, path: string | undefined): number => (asOnnx ? onnxFileSize(m, inputShape, path) : fileSize(m as PresetModel, path));
    const denseBytes = bytesOf(model, undefined);
    const denseLatency = flags.latency && (launched.parallel?.rank ?? 0) === 0 ? latencyOf(model) : null;   // rank 0 alone times
    say(`prune ${preset} (${flags.model}) on ${data.info.name}: ${method} ${fmtPct(amount, 1)}${flags.structured ? ' (structured: shrink)' : ''}, `
      + `${schedule}, fine-tune ${fmtInt(finetuneSteps)} steps (batch ${flags['batch-size']}${world > 1 ? `: ${flags['batch-size'] / world} per rank x ${world} ranks` : ''}, adam lr ${flags.lr})`);
    const r = await prune.runPrune({
      model, data, method, amount, schedule, finetuneSteps, rounds: flags.rounds, structured: flags.structured,
      batchSize: flags['batch-size'], lr: flags.lr, seed: flags.seed, ...withRunLog(pruneReporting(ctx, say), runLog), parallel: launched.parallel,
      checkpoint: checkpoint ?? null, checkpointEvery: flags['checkpoint-every'] ?? null, resume: resumeFrom,
    });
    const dist = await launched.finish(r.model);   // before rank 0 alone times and writes
    if (dist !== null && dist.rank !== 0) return 0;
    const prunedBytes = bytesOf(r.model, flags.out);
    const prunedLatency = flags.latency ? latencyOf(r.model) : null;
    const seconds = (performance.now() - t0) / 1000;
    const result = {
      command: 'prune', model: flags.model, preset, dataset: data.info.name,
      method, amount, schedule, structured: flags.structured,
      sparsity: r.sparsity, weightSparsity: r.weightSparsity,
      testAccuracy: r.final.accuracy, testLoss: r.final.loss,
      denseTestAccuracy: r.dense.accuracy, denseTestLoss: r.dense.loss,
      prunedTestAccuracy: r.pruned.accuracy,
      parameters: r.parameters, denseParameters: r.denseParameters, nonzeros: r.nonzeros,
      compression: r.denseParameters / Math.max(1, r.nonzeros),
      bytesOnDisk: { dense: denseBytes, pruned: prunedBytes },
      format: asOnnx ? 'onnx (dense zeros)' : flags.structured ? 'dense (shrunk)' : r.sparseLayers.length > 0 ? 'csr' : 'dense',
      sparseLayers: r.sparseLayers, shrunk: r.shrunk,
      latency: denseLatency === null || prunedLatency === null ? null : {
        batch1: { dense: denseLatency.batch1, pruned: prunedLatency.batch1, speedup: denseLatency.batch1 / prunedLatency.batch1 },
        batch: flags['latency-batch'],
        batchN: { dense: denseLatency.batchN, pruned: prunedLatency.batchN, speedup: denseLatency.batchN / prunedLatency.batchN },
      },
      finetuneSteps: r.finetuneSteps, out: flags.out ?? null, checkpoint: checkpoint !== undefined && existsSync(checkpoint) ? checkpoint : null, resumedFrom: r.resumedFrom, seconds, runDir: runLog?.dir ?? null,
      distributed: dist === null ? null : { worldSize: dist.worldSize, perRankBatch: flags['batch-size'] / dist.worldSize, zero: flags.zero ?? null, parameterChecksums: dist.checksums },
    };
    runLog?.finish({ testAccuracy: result.testAccuracy, denseTestAccuracy: result.denseTestAccuracy, sparsity: result.sparsity, nonzeros: result.nonzeros, parameters: result.parameters, bytesOnDisk: prunedBytes, seconds });
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

