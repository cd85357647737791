// Run folders: what a training run leaves behind so `tensorslim report <folder>` can chart it later.
//   run.json          { kind: 'tensorslim-run', command, config, machine, started, finished, summary }
//   metrics.jsonl     one JSON object per line: step rows (loss, lr) and epoch / evaluation rows
//                     (trainLoss, trainAccuracy, valLoss, valAccuracy, lr, samplesPerSecond)
//   events.out.tfevents.*   the same scalars for TensorBoard (tensorboard --logdir <folder>)
// run.json is written atomically (at the start and again at the end); the metrics and event files
// are appended line by line / record by record, so a crashed run still leaves its curve.

import { appendFileSync, existsSync, mkdirSync, rmSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describeMachine, type MachineDescription } from '../backend/machine.js';
import { TensorslimError } from '../core/errors.js';
import { writeFileAtomic } from '../io/index.js';
import type { Callback, EpochMetrics, TrainerView } from '../train/index.js';
import { TensorBoardWriter } from './tensorboard.js';

/** The machine and runtime a run used. */
export interface RunMachine extends MachineDescription {
  hostname: string;
}

/** What run.json holds. */
export interface RunFile {
  kind: 'tensorslim-run';
  version: 1;
  /** The command that made the run ('train', 'prune', 'distill', 'demo', ...). */
  command: string;
  /** Its settings (model, dataset, batch size, learning rate, ...). */
  config: Record<string, unknown>;
  machine: RunMachine;
  started: string;
  /** Set when the run ends; null while it runs (or if it crashed). */
  finished: string | null;
  /** Final figures (test accuracy, ...), set at the end. */
  summary: Record<string, unknown> | null;
}

/** The machine and backend in use now. @example runMachine().cpuPath // 'avx512' */
export function runMachine(): RunMachine {
  return { ...describeMachine(), hostname: os.hostname() };
}

/** Settings of RunLog. */
export interface RunLogOptions {
  command: string;
  config: Record<string, unknown>;
  /**
   * Keep the metrics already in the folder and append (a resumed run continues its curve).
   * Default false: a new run starts with an empty metrics file and a fresh event file.
   */
  append?: boolean;
  /** Also write TensorBoard event files (default true). */
  tensorboard?: boolean;
}

/** Settings of RunLog.callback. */
export interface RunLogCallbackOptions {
  /** A stage name ('fine-tune', 'distill'): rows get `stage`, TensorBoard tags get the prefix. */
  stage?: string;
  /** Write a step row every N optimizer steps (mean loss over them); default: about 50 rows per epoch. */
  every?: number;
}

/**
 * Writes a run folder. Create it when the run starts, hand `callback()` to the Trainer (or call
 * `log` yourself), and call `finish(summary)` at the end.
 *
 * @example
 * const run = new RunLog('runs/mlp', { command: 'train', config: { model: 'mlp', lr: 1e-3 } });
 * await new Trainer({ ..., callbacks: [run.callback()] }).fit();
 * run.finish({ testAccuracy: 0.97 });
 */
export class RunLog {
  readonly dir: string;
  private readonly info: RunFile;
  private readonly tb: TensorBoardWriter | null;
  private readonly metricsPath: string;

  constructor(dir: string, o: RunLogOptions) {
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new TensorslimError('run folder', `'${dir}' exists and is not a folder; pass another --run-dir`);
    try { mkdirSync(dir, { recursive: true }); } catch (e) {
      throw new TensorslimError('run folder', `cannot create '${dir}': ${(e as Error).message}; pass a writable --run-dir`);
    }
    this.dir = dir;
    this.metricsPath = join(dir, 'metrics.jsonl');
    if (!o.append) {
      rmSync(this.metricsPath, { force: true });
      for (const f of readdirSync(dir)) if (f.startsWith('events.out.tfevents.')) rmSync(join(dir, f), { force: true });
    }
    this.info = { kind: 'tensorslim-run', version: 1, command: o.command, config: o.config, machine: runMachine(), started: new Date().toISOString(), finished: null, summary: null };
    this.writeInfo();
    this.tb = o.tensorboard === false ? null : new TensorBoardWriter(dir);
  }

  private writeInfo(): void {
    writeFileAtomic(join(this.dir, 'run.json'), new TextEncoder().encode(JSON.stringify(this.info, null, 2) + '\n'), 'run folder');
  }

  /**
   * Append one metrics row (it must have a numeric `step`) to metrics.jsonl and its numeric fields
   * (other than step and epoch) to TensorBoard, tagged `<stage>/<name>` when a stage is given.
   */
  log(row: Readonly<Record<string, number>>, stage?: string): void {
    const step = row['step'];
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) throw new TensorslimError('RunLog.log', `a row needs an integer step >= 0, got ${JSON.stringify(row)}`);
    const clean: Record<string, number | string | null> = stage === undefined ? {} : { stage };
    for (const [k, v] of Object.entries(row)) clean[k] = Number.isFinite(v) ? v : null; // JSON has no NaN
    appendFileSync(this.metricsPath, JSON.stringify(clean) + '\n');
    if (this.tb) {
      const scalars: Record<string, number> = {};
      for (const [k, v] of Object.entries(row)) if (k !== 'step' && k !== 'epoch') scalars[stage ? `${stage}/${k}` : k] = v;
      this.tb.scalars(step, scalars);
    }
  }

  /**
   * A Trainer callback that logs step rows (mean loss since the last row, learning rate) and one
   * row per epoch or evaluation (train loss and accuracy, validation loss and accuracy, lr, throughput).
   */
  callback(o: RunLogCallbackOptions = {}): Callback<unknown> {
    let sum = 0, n = 0;
    const every = (t: TrainerView): number => o.every ?? Math.max(1, Math.floor(t.stepsPerEpoch / 50));
    return {
      onStepEnd: (t, _batch, loss) => {
        sum += loss; n++;
        if (t.step % every(t) === 0) {
          this.log({ step: t.step, epoch: t.epoch + t.stepInEpoch / Math.max(1, t.stepsPerEpoch), loss: sum / n, lr: t.lr }, o.stage);
          sum = 0; n = 0;
        }
      },
      onEpochEnd: (t, m: EpochMetrics) => {
        const row: Record<string, number> = { step: m.step, epoch: m.epoch + 1, trainLoss: m.trainLoss, lr: m.lr, samplesPerSecond: m.samplesPerSecond };
        if (Number.isFinite(m.trainAccuracy)) row['trainAccuracy'] = m.trainAccuracy;
        if (m.eval) {
          row['valLoss'] = m.eval.loss;
          if (Number.isFinite(m.eval.accuracy)) row['valAccuracy'] = m.eval.accuracy;
        }
        this.log(row, o.stage);
      },
    };
  }

  /** Record the end of the run and its final figures in run.json. */
  finish(summary: Record<string, unknown>): void {
    this.info.finished = new Date().toISOString();
    this.info.summary = summary;
    this.writeInfo();
  }
}

/**
 * The default run folder of a command writing `out`: beside it, named after it with `.run`
 * (`models/mlp.safetensors` -> `models/mlp.run`).
 * @example defaultRunDir('mlp.safetensors') // 'mlp.run'
 */
export function defaultRunDir(out: string): string {
  return out.replace(/\.safetensors$/i, '') + '.run';
}
