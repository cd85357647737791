// `tensorslim distill`: knowledge distillation (Hinton et al. 2015) of a trained teacher checkpoint
// into a student preset, through the Trainer (lossFn: distiller.lossFn + distillCallback), so
// progress, checkpoints and --json behave like `train`. With --baseline, the same student preset is
// also trained alone (same budget, seed, batch size and learning rate) for comparison.

import { existsSync, statSync } from 'node:fs';
import { manualSeed } from '../../core/random.js';
import type { Tensor } from '../../core/tensor.js';
import { distill } from '../../compress/index.js';
import { DataLoader } from '../../data/index.js';
import { augmentTransform, composeTransforms, mixup, parseAugment, type AugmentSpec } from '../../data/augment.js';
import { createModel, listModels, type ModelConfig, type PresetModel } from '../../models/index.js';
import {
  Trainer, checkpointSaver, evaluateOn, loadImageData, loadTrainingCheckpoint, makeOptimizer, makeScheduler, runTraining, trainModule, SCHEDULES, type EpochAccumulators, type FitResult, type EvalMetrics,
} from '../../train/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type CliContext, type Command } from '../command.js';
import { emitJson, fmtInt, fmtPct, fmtSeconds, formatTable, humanWriter } from '../output.js';
import { applyRuntimeFlags, carriedGraph, fitImageData, InputView, isImportedFileModel, loadModelOrGraph, warnNonFinite, type ImportedFileModel } from '../runtime.js';
import type { AnyModule } from '../../nn/index.js';
import type { JsonObject } from '../../io/index.js';
import { progressCallback } from '../train_progress.js';
import { checkOutputFile } from '../paths.js';
import { openRunLog } from '../run_dir.js';
import { launchedRun } from '../distributed_run.js';

const CMD = 'distill';

const FLAGS = {
  teacher: { type: 'string', help: 'trained teacher checkpoint (written by tensorslim train --out), or an .onnx classifier / TF.js model.json (any graph: fed the samples reshaped to its input)', metavar: 'FILE' },
  student: { type: 'string', help: `student preset: ${listModels({ task: 'image-classification' }).map((m) => m.name).join(', ')}; or an .onnx / model.json graph (or a checkpoint carrying one) trained from its weights`, metavar: 'PRESET|FILE' },
  dataset: { type: 'string', help: 'mnist (embedded), fashion-mnist, or a directory of IDX files', metavar: 'NAME|PATH' },
  data: { type: 'string', help: "folder overriding the dataset's default location", metavar: 'DIR' },
  temperature: { type: 'number', help: 'softmax temperature T > 0 of the soft targets', min: 0, exclusiveMin: true, default: distill.DEFAULT_TEMPERATURE, metavar: 'T' },
  alpha: { type: 'number', help: 'weight of the soft-target loss in [0, 1]; 1 - alpha weighs the labels', min: 0, max: 1, default: distill.DEFAULT_ALPHA, metavar: 'X' },
  epochs: { type: 'int', help: 'epochs to train the student (default 1)', min: 1, metavar: 'N' },
  steps: { type: 'int', help: 'optimizer steps to train instead of epochs', min: 1, metavar: 'N' },
  'batch-size': { type: 'int', help: 'training batch size', min: 1, default: 64, metavar: 'N' },
  lr: { type: 'number', help: 'learning rate (Adam)', min: 0, exclusiveMin: true, default: 0.001, metavar: 'X' },
  'student-hidden': { type: 'string', help: 'hidden widths of an MLP student instead of its preset\'s, e.g. 128 or 256,64 (the --baseline student gets the same)', metavar: 'N[,N]' },
  augment: { type: 'string', help: 'training-data augmentation for both students: none, shift (up to 2 pixels) or shift:N; the teacher\'s soft targets are computed on the augmented images', default: 'none', metavar: 'SPEC' },
  mixup: { type: 'number', help: 'mixup with per-sample weights ~ Beta(A, A) between images of a batch, for both students (the --baseline one learns the mixed one-hot labels); 0 = off', min: 0, default: 0, metavar: 'A' },
  schedule: { type: 'string', help: 'learning-rate schedule over the whole budget, stepped every batch (the --baseline student gets the same)', choices: SCHEDULES, default: 'constant' },
  seed: { type: 'int', help: 'seed of the student weights and the data order', min: 0, default: 0, metavar: 'N' },
  baseline: { type: 'boolean', help: 'also train the same student alone (same budget and seed) and report its accuracy' },
  threads: { type: 'int', help: 'kernel threads (native backend)', min: 1, metavar: 'N' },
  zero: { type: 'int', help: 'launched on several ranks: ZeRO stage 1 (optimizer state sharded over the ranks), 2 (gradients too) or 3 (parameters too) instead of DDP for the students; same results and --out file as DDP', min: 1, max: 3, metavar: 'STAGE' },
  out: { type: 'string', help: 'student checkpoint written after every epoch (safetensors, atomic)', metavar: 'FILE' },
  resume: { type: 'string', help: 'continue the distillation exactly from a student checkpoint written with --out (same flags); after a launcher restart --out is resumed without it', metavar: 'FILE' },
  'run-dir': { type: 'string', help: 'run folder for the training metrics (metrics.jsonl, run.json, TensorBoard events; default: beside --out, e.g. x.run for x.safetensors)', metavar: 'DIR' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

const USAGE = `Usage: tensorslim distill --teacher <checkpoint> --student <preset> --dataset <name|path> [options]

Knowledge distillation (Hinton et al. 2015): train a student preset on the teacher's softened outputs,
loss = alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) + (1 - alpha) * cross-entropy(labels).
The teacher runs in eval mode without gradients, once over the training set (its logits are stored
with the samples, so shuffling costs no extra teacher passes); the student trains with Adam, evaluated
on the test split after every epoch; --out writes the student's checkpoint after every epoch (loadable by eval,
prune, or train --resume); --resume FILE continues the distillation from it exactly (the same flags;
a --baseline student is trained from the start again). --baseline also trains the same student alone, with the same budget and
seed, to show what the teacher adds.

--augment shift:N and --mixup A (consistent augmentation, "function matching": Beyer et al. 2022)
transform each training batch once, and the teacher's soft targets are those of the augmented images:
with mixup the teacher runs on every mixed batch; with shifts alone its logits are computed up front
for each of the (2N+1)^2 shifts of every image and looked up. The --baseline student gets exactly the
same augmented batches (mixup: with the mixed one-hot labels). The test split is never augmented.
--student-hidden 128 makes an MLP student 784-128-10 (both students).
--teacher and --student also take an .onnx file or a TF.js model.json (or a checkpoint carrying
one, as train --out writes for them): a graph that is not a preset layout is fed the samples
reshaped to the input it declares; a file student trains from its weights and its --out
checkpoints carry it (docs/INTEROP.md).

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim train --model mlp-large --dataset mnist --epochs 3 --out teacher.safetensors
  tensorslim distill --teacher teacher.safetensors --student mlp-small --dataset mnist --epochs 2 --baseline
  tensorslim distill --teacher teacher.safetensors --student mlp-tiny --dataset mnist --steps 200 --temperature 8 --json | tail -n 1
  # Hinton et al.'s MNIST setup (docs/DISTILLATION.md): a jittered teacher, mlp-small distilled at T 20
  tensorslim train --model mlp-large --dataset mnist --epochs 40 --augment shift --batch-size 128 --out teacher.safetensors
  tensorslim distill --teacher teacher.safetensors --student mlp-small --dataset mnist --epochs 10 --batch-size 128 --temperature 20 --alpha 1 --baseline
  # consistent augmentation: teacher and students see the same shifted, mixed images
  tensorslim distill --teacher teacher.safetensors --student mlp-tiny --dataset mnist --epochs 5 --augment shift:1 --mixup 0.2 --baseline`;

function finalAccuracy(fit: FitResult, step: number, fallback: () => EvalMetrics): EvalMetrics {
  const last = fit.history[fit.history.length - 1];
  return fit.finalEval !== null && last !== undefined && last.step === step ? fit.finalEval : fallback();
}

// Loads a student checkpoint written by distill --out into the trainer (model, optimizer, scheduler,
// data order, RNG, counters), refusing one of another student, optimizer or schedule.
function resumeDistill(trainer: Trainer<Tensor[]>, path: string, want: { config: ModelConfig | null; graph: JsonObject | null; optimizer: string; scheduler: string | null }): void {
  const fail = (msg: string): never => { throw new UsageError(CMD, `--resume ${path}: ${msg}`); };
  if (!existsSync(path)) fail('no such file; --resume takes a checkpoint written by distill --out');
  const loaded = loadTrainingCheckpoint(path);
  if (loaded.snapshot === null) fail('it holds no training state (saved for inference); --resume takes a checkpoint written by distill --out');
  const cfg = loaded.checkpoint.config;
  if (want.config === null) {
    const key = Object.keys(want.graph ?? {})[0] ?? '';
    const had = JSON.stringify(loaded.checkpoint.extra[key] ?? null), has = JSON.stringify(want.graph?.[key] ?? null);
    if (had !== has) fail('it holds another student than this --student file (its checkpoint carries another graph); pass the same --student');
  } else if (cfg === null || JSON.stringify(cfg) !== JSON.stringify(want.config)) fail(`it holds a ${cfg?.preset ?? cfg?.arch ?? 'model without config'} student, not this ${want.config.preset ?? want.config.arch}; pass the same --student (and --student-hidden)`);
  if (loaded.checkpoint.optimizer?.type !== want.optimizer) fail(`it was trained with ${loaded.checkpoint.optimizer?.type ?? 'no optimizer'}, distill uses ${want.optimizer}`);
  const had = loaded.checkpoint.scheduler?.type ?? null;
  if (had !== want.scheduler) fail(`it was trained with ${had ?? 'a constant learning rate'}, this run has ${want.scheduler ?? 'a constant learning rate'}; pass the same --schedule`);
  trainer.resume(loaded.snapshot!, path);
}

async function run(argv: readonly string[], ctx: CliContext): Promise<number> {
  const { flags } = parseArgs(CMD, argv, FLAGS);
  const usage = (msg: string): never => { throw new UsageError(CMD, msg); };
  const presets = listModels({ task: 'image-classification' }).map((m) => m.name);
  if (flags.teacher === undefined) usage('missing --teacher <checkpoint> (a file written by tensorslim train --out)');
  if (flags.student === undefined) usage(`missing --student <preset> (one of ${presets.join(', ')})`);
  if (flags.dataset === undefined) usage('missing --dataset (mnist, fashion-mnist or a directory of IDX files)');
  const teacherPath = flags.teacher!;
  let studentName = flags.student!;
  // a student file: an imported graph (.onnx, model.json, or a checkpoint carrying one), trained as it is
  const studentFile = !(presets as readonly string[]).includes(studentName) && existsSync(studentName) && statSync(studentName).isFile() ? studentName : null;
  if (studentFile === null && !(presets as readonly string[]).includes(studentName)) usage(`unknown --student '${studentName}'; presets: ${presets.join(', ')}, or an .onnx / model.json file (or a checkpoint carrying one)`);
  if (studentFile !== null) {
    for (const [f, given] of [['--student-hidden', flags['student-hidden'] !== undefined], ['--augment', flags.augment !== 'none'], ['--mixup', flags.mixup > 0]] as const) {
      if (given) usage(`${f} applies to preset students; --student ${studentName} is a file: drop ${f}`);
    }
  }
  if (!existsSync(teacherPath)) usage(`--teacher ${teacherPath}: no such file; train one first with tensorslim train --out ${teacherPath}`);
  if (statSync(teacherPath).isDirectory()) usage(`--teacher ${teacherPath} is a directory; give a checkpoint file`);
  if (flags.epochs !== undefined && flags.steps !== undefined) usage('give --epochs or --steps, not both');
  if (flags.out !== undefined) checkOutputFile(CMD, 'out', flags.out, [{ flag: '--teacher', path: teacherPath }]);
  let hidden: number[] | null = null;
  if (flags['student-hidden'] !== undefined) {
    hidden = flags['student-hidden'].split(',').map((v) => Number(v.trim()));
    if (hidden.length === 0 || hidden.some((h) => !Number.isInteger(h) || h < 1)) usage(`--student-hidden must be positive integer widths separated by commas (e.g. 128 or 256,64), got '${flags['student-hidden']}'`);
  }
  const studentArch = listModels({ task: 'image-classification' }).find((m) => m.name === studentName)?.config.arch ?? 'imported';
  if (hidden !== null && studentArch !== 'mlp') usage(`--student-hidden applies to MLP students; ${studentName} is a ${studentArch}`);
  const overrides = hidden !== null ? { hidden } : {};
  let augment: AugmentSpec;
  try { augment = parseAugment(flags.augment); } catch {
    usage(`bad --augment '${flags.augment}'; use none, shift (up to 2 pixels) or shift:N with N an integer in 0..8`);
  }
  const augmentName = augment!.kind === 'none' ? 'none' : `shift:${augment!.maxShift}`;
  if (!Number.isFinite(flags.mixup)) usage(`--mixup must be a finite number >= 0 (0 = off), got ${flags.mixup}`);
  // augmented batches: the teacher must see the images the student sees, so its logits cannot be precomputed
  const augmenting = augmentName !== 'none' || flags.mixup > 0;
  // shifts only: the teacher's logits on every shifted image are computed up front ((2N+1)^2 passes)
  // and looked up for the shift each image gets; mixup: the teacher runs on every mixed batch
  const perShift = augment!.kind === 'shift' && flags.mixup === 0 && flags.alpha > 0 ? augment!.maxShift : 0;
  applyRuntimeFlags(CMD, { threads: flags.threads });
  // launched on several ranks: the students train data-parallel (global batch), rank 0 reports and writes --out
  const launched = await launchedRun(ctx, CMD, { out: flags.out, ...(flags.zero === 1 || flags.zero === 2 || flags.zero === 3 ? { zero: flags.zero } : {}) });
  const resumeFrom = flags.resume ?? launched.restartFrom;   // a launcher restart resumes from --out
  ctx = launched.ctx;
  const dp = launched.parallel;
  const world = dp?.worldSize ?? 1;
  if (flags['batch-size'] % world !== 0) usage(`--batch-size ${flags['batch-size']} is the global batch of ${world} ranks: pass a multiple of ${world}`);
  const parallelOpts = dp ? { reduceEpoch: (a: EpochAccumulators) => dp.reduceEpoch(a) } : {};
  const say = humanWriter(ctx, flags.json);
  const runLog = (dp?.rank ?? 0) === 0 ? openRunLog(CMD, flags, say) : null;   // rank 0 alone writes the run folder
  const t0 = performance.now();

  let loadedTeacher: PresetModel | ImportedFileModel;
  try { loadedTeacher = loadModelOrGraph(teacherPath, { command: CMD }) as PresetModel | ImportedFileModel; } catch (e) { throw new Error(`--teacher ${teacherPath}: ${(e as Error).message}`); }
  const rawData = loadImageData(flags.dataset!, flags.data);
  // a student file: a graph (not a preset layout) trains as it is on the samples reshaped to its input
  let studentGraph: ReturnType<typeof carriedGraph> | null = null;
  let data = rawData;
  if (studentFile !== null) {
    let loaded: PresetModel | ImportedFileModel;
    try { loaded = loadModelOrGraph(studentFile, { command: CMD }) as PresetModel | ImportedFileModel; } catch (e) { throw new Error(`--student ${studentFile}: ${(e as Error).message}`); }
    if (!isImportedFileModel(loaded)) usage(`--student ${studentFile} is a ${loaded.config.preset ?? loaded.config.arch} layout: pass --student ${loaded.config.preset ?? loaded.config.arch} (a fresh preset student), or train it from its weights with tensorslim train --model ${studentFile}`);
    const g = loaded as ImportedFileModel;
    try { data = fitImageData(rawData, g, CMD); } catch (e) { throw new Error(`--student ${studentFile}: ${(e as Error).message}`); }
    studentGraph = carriedGraph(g, data.info.inputShape, CMD);
    studentName = g.description;
  }
  // an imported graph that is not a preset layout: fed the student's samples reshaped to the input it declares
  const graphTeacher = isImportedFileModel(loadedTeacher) ? loadedTeacher : null;
  let teacher: AnyModule;
  if (graphTeacher !== null) {
    try { teacher = new InputView(graphTeacher.model, fitImageData(data, graphTeacher, CMD).info.inputShape); } catch (e) { throw new Error(`--teacher ${teacherPath}: ${(e as Error).message}`); }
  } else teacher = studentGraph !== null ? new InputView(loadedTeacher as PresetModel, rawData.info.inputShape) : loadedTeacher as PresetModel;
  warnNonFinite(ctx, CMD, teacher, teacherPath);
  const teacherName = graphTeacher?.description ?? (loadedTeacher as PresetModel).config.preset ?? (loadedTeacher as PresetModel).config.arch;
  manualSeed(flags.seed);                 // same initial student as `train --model <student> --seed N` (and --baseline)
  const student: AnyModule = studentGraph?.model ?? createModel(studentName, overrides);
  const sc = studentGraph === null ? (student as PresetModel).config : null;
  if (sc !== null) {
    // a graph teacher was checked against the data by fitImageData; the student is checked as a teacher of its own layout would be
    const pairProblem = distill.distillPairProblem(graphTeacher !== null ? sc : (loadedTeacher as PresetModel).config, studentName, data);
    if (pairProblem !== null) usage(pairProblem);
  } else if (graphTeacher === null && (loadedTeacher as PresetModel).config.numClasses !== data.info.numClasses) {
    usage(`the teacher has ${(loadedTeacher as PresetModel).config.numClasses} outputs but ${data.info.name} has ${data.info.numClasses} classes`);
  }

  let distiller: distill.Distiller;
  try {
    // the teacher's logits are computed once per training sample (below), not once per batch per epoch
    // with augmentation it runs on every (augmented) batch instead, and its cache, which could never hit, is off
    distiller = new distill.Distiller({ teacher, student, temperature: flags.temperature, alpha: flags.alpha, precomputedTeacher: !augmenting || perShift > 0, cacheTeacher: !augmenting });
    distiller.prepare(data.train.getBatch([0, 1])[0]!);   // probe: output shapes checked before training
  } catch (e) { throw new UsageError(CMD, (e as Error).message); }

  const teacherEval = evaluateOn(teacher, data);
  const optimizer = makeOptimizer('adam', distiller.parameters(), { lr: flags.lr });
  // [x, y, teacher logits]: one teacher pass over the training set; the shuffled order is the same as
  // the baseline's (same length, same seed), so both students see the same batches
  // (with augmentation, [x, y] only: the transform changes x, the teacher runs on the result)
  const imageShape = data.info.inputShape;
  const transfer = perShift > 0 ? distill.withShiftedTeacherLogits(teacher, data.train, { maxShift: perShift, imageShape })
    : flags.alpha > 0 && !augmenting ? distill.withTeacherLogits(teacher, data.train) : data.train;
  // one augmentation for both students: the same seed gives the same shuffles, shifts and mixes
  // (shiftWithTeacherLogits draws the shifts exactly as randomShift does, then picks their logits)
  const transform = (student: 'distilled' | 'alone') => (perShift > 0 && student === 'distilled'
    ? distill.shiftWithTeacherLogits({ maxShift: perShift, imageShape })
    : composeTransforms(augmentTransform(augment!, imageShape), flags.mixup > 0 ? mixup({ alpha: flags.mixup, numClasses: data.info.numClasses }) : null));
  const loaderOptions = (student: 'distilled' | 'alone') => {
    const t = transform(student);
    return { batchSize: flags['batch-size'], shuffle: true, seed: flags.seed, ...(t ? { transform: t } : {}) };
  };
  const trainLoader = new DataLoader(transfer, loaderOptions('distilled'));
  const evalLoader = new DataLoader(data.test, { batchSize: 1000 });
  const budget = flags.steps !== undefined ? { steps: flags.steps } : { epochs: flags.epochs ?? 1 };
  const scheduler = makeScheduler(flags.schedule, optimizer, { totalSteps: flags.steps ?? (flags.epochs ?? 1) * trainLoader.length });
  const trainer = new Trainer<Tensor[]>({
    model: student, optimizer, scheduler, trainLoader: dp ? dp.shard(trainLoader) : trainLoader, evalLoader, ...budget,
    lossFn: distiller.lossFn,
    callbacks: [...(dp ? [dp.callback<Tensor[]>()] : []), distill.distillCallback(distiller), progressCallback(ctx, say, 'distill'), ...(runLog ? [runLog.callback({ stage: 'distill' })] : [])],
    ...(flags.out !== undefined && (dp?.rank ?? 0) === 0 ? { checkpointPath: flags.out, save: checkpointSaver({ optimizer, scheduler, config: sc, ...(studentGraph !== null ? { extra: studentGraph.extra } : {}) }) } : {}),
    ...parallelOpts,
  });
  if (resumeFrom !== null) resumeDistill(trainer, resumeFrom, { config: sc, graph: studentGraph?.extra ?? null, optimizer: optimizer.typeName, scheduler: scheduler?.typeName ?? null });
  const budgetText = flags.steps !== undefined ? `${flags.steps} steps` : `${trainer.totalEpochs} epoch${trainer.totalEpochs === 1 ? '' : 's'}`;
  say(`distill ${teacherName} (${fmtInt(teacher.numParameters())} params, test accuracy ${fmtPct(teacherEval.accuracy)}) into ${studentName} `
    + `(${fmtInt(student.numParameters())} params) on ${data.info.name}: T ${flags.temperature}, alpha ${flags.alpha}, ${budgetText}, batch ${flags['batch-size']}${world > 1 ? ` (${flags['batch-size'] / world} per rank x ${world} ranks)` : ''}, adam lr ${flags.lr}${flags.schedule !== 'constant' ? ` (${flags.schedule})` : ''}, `
    + `${augmenting ? `augment ${augmentName}${flags.mixup > 0 ? `, mixup ${flags.mixup}` : ''} (teacher on the augmented batches), ` : ''}seed ${flags.seed}`
    + `${resumeFrom !== null ? `; resumed from ${resumeFrom} at step ${trainer.step}` : ''}`);
  let fit: FitResult;
  try { fit = await trainer.fit(); } finally { distiller.remove(); }
  const distilled = finalAccuracy(fit, trainer.step, () => evaluateOn(student, data));
  if (fit.stopReason !== 'completed') ctx.err(`tensorslim distill: ${fit.message}`);

  let alone: EvalMetrics | null = null;
  if (flags.baseline && fit.stopReason !== 'nonfinite-loss') {
    say(`baseline: ${studentName} alone, same budget and seed`);
    if (studentFile !== null) {
      // exactly `tensorslim train --model <student file>` (its weights again, same seed: same batches)
      const fresh = carriedGraph(loadModelOrGraph(studentFile, { command: CMD }) as ImportedFileModel, data.info.inputShape, CMD);
      const b = await trainModule({
        model: fresh.model, dataset: data, ...budget, batchSize: flags['batch-size'], lr: flags.lr, optimizer: 'adam', schedule: flags.schedule, seed: flags.seed,
        callbacks: [progressCallback(ctx, say, 'baseline'), ...(runLog ? [runLog.callback({ stage: 'baseline' })] : [])], parallel: dp,
      });
      alone = b.test;
    } else if (flags.mixup === 0) {
      // exactly `tensorslim train --model <student> --augment <spec>` (same seed: same batches and shifts)
      const b = await runTraining({
        model: studentName, modelOverrides: overrides, dataset: data, ...budget, batchSize: flags['batch-size'], lr: flags.lr, optimizer: 'adam', schedule: flags.schedule, seed: flags.seed,
        augment: augmentName, callbacks: [progressCallback(ctx, say, 'baseline'), ...(runLog ? [runLog.callback({ stage: 'baseline' })] : [])], parallel: dp,
      });
      alone = b.test;
    } else {
      // train has no mixup: the same steps as runTraining, with the distilled student's loader (mixed
      // images, mixed one-hot labels; cross-entropy takes the probabilities)
      manualSeed(flags.seed);
      const model = createModel(studentName, overrides);
      const opt = makeOptimizer('adam', model.parameters(), { lr: flags.lr });
      const loader = new DataLoader(data.train, loaderOptions('alone'));
      const sched = makeScheduler(flags.schedule, opt, { totalSteps: flags.steps ?? (flags.epochs ?? 1) * loader.length });
      const t = new Trainer<Tensor[]>({
        model, optimizer: opt, scheduler: sched, trainLoader: dp ? dp.shard(loader) : loader, evalLoader, ...budget,
        callbacks: [...(dp ? [dp.callback<Tensor[]>()] : []), progressCallback(ctx, say, 'baseline'), ...(runLog ? [runLog.callback({ stage: 'baseline' })] : [])], ...parallelOpts,
      });
      const bf = await t.fit();
      alone = finalAccuracy(bf, t.step, () => evaluateOn(model, data));
    }
  }
  const dist = await launched.finish(student);
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    command: CMD, teacher: teacherPath, teacherModel: teacherName, student: studentName, studentHidden: hidden, dataset: data.info.name,
    teacherAccuracy: teacherEval.accuracy,
    studentAloneAccuracy: alone?.accuracy ?? null,
    studentAloneLoss: alone?.loss ?? null,
    distilledAccuracy: distilled.accuracy,
    distilledLoss: distilled.loss,
    teacherParams: teacher.numParameters(),
    studentParams: student.numParameters(),
    temperature: flags.temperature, alpha: flags.alpha, schedule: flags.schedule, augment: augmentName, mixup: flags.mixup,
    teacherTargets: flags.alpha === 0 ? 'none' : perShift > 0 ? 'precomputed-per-shift' : augmenting ? 'per-batch' : 'precomputed',
    epochs: fit.epochs, steps: fit.step, batchSize: flags['batch-size'], lr: flags.lr, seed: flags.seed,
    seconds, stopReason: fit.stopReason, message: fit.message,
    out: fit.checkpoint, resumedFrom: resumeFrom, runDir: runLog?.dir ?? null,
    distributed: dist === null ? null : { worldSize: dist.worldSize, perRankBatch: flags['batch-size'] / dist.worldSize, zero: flags.zero ?? null, parameterChecksums: dist.checksums },
  };
  runLog?.finish({ teacherAccuracy: result.teacherAccuracy, distilledAccuracy: result.distilledAccuracy, studentAloneAccuracy: result.studentAloneAccuracy, studentParams: result.studentParams, steps: result.steps, seconds, stopReason: result.stopReason });
  if (flags.json) emitJson(ctx, result);
  else {
    ctx.out('');
    ctx.out(formatTable(
      [{ header: 'model' }, { header: 'params', align: 'right' }, { header: 'test acc', align: 'right' }],
      [
        [`teacher ${result.teacherModel}`, fmtInt(result.teacherParams), fmtPct(result.teacherAccuracy)],
        ...(alone ? [[`${studentName} alone`, fmtInt(result.studentParams), fmtPct(alone.accuracy)]] : []),
        [`${studentName} distilled`, fmtInt(result.studentParams), fmtPct(result.distilledAccuracy)],
      ],
    ));
    ctx.out(`T ${flags.temperature}, alpha ${flags.alpha}, ${fit.step} steps, ${fmtSeconds(seconds)}${result.out ? `; student checkpoint ${result.out}` : ''}`);
  }
  return fit.stopReason === 'nonfinite-loss' ? 1 : 0;
}

/**
 * `tensorslim distill ...`: distill a teacher checkpoint into a student preset.
 * @example await main(['distill', '--teacher', 't.safetensors', '--student', 'mlp-tiny', '--dataset', 'mnist', '--json'], ctx)
 */
export const distillCommand: Command = { name: 'distill', summary: 'distill a trained teacher into a smaller student preset', usage: USAGE, run };
