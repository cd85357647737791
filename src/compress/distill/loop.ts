// A self-contained distillation loop over an iterable of batches, so the feature works and is
// testable without the Trainer: distillEpoch (one pass) and trainStudent (epochs, optimizer built
// after the probe so projectors are included, optional scheduler and evaluation). It steps only
// the student's (and projectors') optimizer; the teacher stays frozen in eval mode.

import { fmtShape } from '../../backend/shape.js';
import { noGrad } from '../../core/engine.js';
import { ShapeError, TensorslimError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import * as ops from '../../ops/index.js';
import type { Parameter, TensorModule } from '../../nn/index.js';
import { clipGradNorm, type Optimizer } from '../../optim/index.js';
import { toBatch, type BatchLike, type Distiller, type LossParts } from './distiller.js';

/** Something with step(): an LR scheduler. */
export interface Steppable { step(): void }

export interface DistillEpochOptions {
  /** Stepped every batch ('step', default) or once after the epoch ('epoch'). */
  scheduler?: Steppable | null;
  schedulerInterval?: 'step' | 'epoch';
  /** Clip the gradient norm of the trained parameters to this value before each step. */
  maxGradNorm?: number;
  /** Called after every optimizer step. */
  onStep?: (info: { step: number; batchSize: number; parts: LossParts }) => void;
}

/** Sample-weighted means of the loss terms over one epoch, and what the teacher cost. */
export interface EpochResult {
  steps: number;
  samples: number;
  loss: number;
  kd: number | null;
  ce: number | null;
  features: number[];
  /** Teacher forwards in this epoch (0 once everything is cached). */
  teacherForwards: number;
  /** Samples the teacher ran on in this epoch (at most `samples`). */
  teacherSamples: number;
  cacheHits: number;
}

/**
 * One epoch of distillation: for each batch, the distiller's loss, backward, optional clipping,
 * optimizer step. The student is put in train mode, the teacher in eval mode. The optimizer must
 * hold the projectors' parameters (checked before the first step).
 * @example
 * d.prepare(x0);
 * const opt = new Adam(d.parameters(), { lr: 1e-3 });
 * for (let e = 0; e < 5; e++) console.log(distillEpoch(d, loader, opt).loss);
 */
export function distillEpoch(distiller: Distiller, batches: Iterable<BatchLike>, optimizer: Optimizer, opts: DistillEpochOptions = {}): EpochResult {
  return runEpoch('distillEpoch', distiller, batches, () => optimizer, () => opts.scheduler ?? null, opts);
}

function checkEpochOptions(op: string, opts: Omit<DistillEpochOptions, 'scheduler'>): void {
  const interval = opts.schedulerInterval ?? 'step';
  if (interval !== 'step' && interval !== 'epoch') throw new TensorslimError(op, `schedulerInterval must be 'step' or 'epoch', got '${String(interval)}'`);
  if (opts.maxGradNorm !== undefined && !(opts.maxGradNorm > 0)) throw new TensorslimError(op, `maxGradNorm must be > 0, got ${String(opts.maxGradNorm)}`);
}

function runEpoch(
  op: string, d: Distiller, batches: Iterable<BatchLike>, getOptimizer: () => Optimizer, getScheduler: () => Steppable | null, opts: Omit<DistillEpochOptions, 'scheduler'>,
): EpochResult {
  checkEpochOptions(op, opts);
  if (batches === null || typeof (batches as Partial<Iterable<BatchLike>>)[Symbol.iterator] !== 'function') {
    throw new TensorslimError(op, 'batches must be an iterable of {x, y} or [x, y] batches (an array or a DataLoader)');
  }
  const before = d.stats();
  d.student.train();
  d.teacher.eval();
  d.beginEpoch();
  let steps = 0, samples = 0, loss = 0, kd = 0, ce = 0;
  let feats: number[] = [];
  let optimizer: Optimizer | null = null;
  for (const batch of batches) {
    const { x } = toBatch(op, batch);
    const n = x.shape[0]!;
    const { loss: l, parts } = d.computeLoss(batch);
    if (optimizer === null) {
      optimizer = getOptimizer();
      d.checkOptimizer(optimizer);
    }
    optimizer.zeroGrad();
    l.backward();
    if (opts.maxGradNorm !== undefined) clipGradNorm(d.parameters(), opts.maxGradNorm);
    optimizer.step();
    if ((opts.schedulerInterval ?? 'step') === 'step') getScheduler()?.step();
    steps++; samples += n;
    loss += parts.total * n;
    kd += (parts.kd ?? 0) * n;
    ce += (parts.ce ?? 0) * n;
    if (feats.length === 0) feats = parts.features.map(() => 0);
    parts.features.forEach((v, i) => { feats[i]! += v * n; });
    opts.onStep?.({ step: steps - 1, batchSize: n, parts });
  }
  if (steps > 0 && opts.schedulerInterval === 'epoch') getScheduler()?.step();
  d.endEpoch();
  const after = d.stats();
  const m = (v: number): number => (samples > 0 ? v / samples : NaN);
  return {
    steps, samples, loss: m(loss),
    kd: d.alpha > 0 ? m(kd) : null, ce: d.alpha < 1 ? m(ce) : null, features: feats.map(m),
    teacherForwards: after.teacherForwards - before.teacherForwards,
    teacherSamples: after.teacherSamples - before.teacherSamples,
    cacheHits: after.cacheHits - before.cacheHits,
  };
}

export interface TrainStudentOptions {
  epochs: number;
  /** An optimizer over distiller.parameters() (after prepare), or a factory called with them after the probe. */
  optimizer: Optimizer | ((params: Parameter[]) => Optimizer);
  /** A scheduler, or a factory called with the optimizer once it exists. */
  scheduler?: Steppable | ((optimizer: Optimizer) => Steppable);
  /** 'step' (default) or 'epoch'. */
  schedulerInterval?: 'step' | 'epoch';
  maxGradNorm?: number;
  /** Batches to report the student's accuracy on after every epoch. */
  evalData?: Iterable<BatchLike>;
  onEpoch?: (record: EpochRecord) => void;
  onStep?: DistillEpochOptions['onStep'];
}

export interface EpochRecord extends EpochResult {
  epoch: number;
  /** Student accuracy on evalData after this epoch (when evalData was given). */
  evalAccuracy?: number;
}

/**
 * Train the distiller's student for `epochs` passes over `data` (an array of batches or a
 * DataLoader: anything that can be iterated again each epoch). Settings are checked before the
 * first step; the optimizer factory runs after the probe forward, so it receives the projectors'
 * parameters too. Returns the optimizer and one record per epoch.
 * @example
 * const d = new Distiller({ teacher, student, temperature: 4, alpha: 0.9 });
 * const { history } = trainStudent(d, trainBatches, {
 *   epochs: 5, optimizer: (p) => new Adam(p, { lr: 1e-3 }), evalData: testBatches });
 */
export function trainStudent(distiller: Distiller, data: Iterable<BatchLike>, opts: TrainStudentOptions): { optimizer: Optimizer; history: EpochRecord[] } {
  const op = 'trainStudent';
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new TensorslimError(op, `epochs must be a positive integer, got ${String(opts.epochs)}`);
  if (typeof opts.optimizer !== 'function' && (opts.optimizer === null || typeof opts.optimizer !== 'object' || !('paramGroups' in opts.optimizer))) {
    throw new TensorslimError(op, 'optimizer must be an Optimizer or a factory (params) => Optimizer');
  }
  checkEpochOptions(op, opts);
  let optimizer: Optimizer | null = typeof opts.optimizer === 'function' ? null : opts.optimizer;
  let scheduler: Steppable | null = opts.scheduler && typeof opts.scheduler !== 'function' ? opts.scheduler : null;
  const getOptimizer = (): Optimizer => {
    if (optimizer === null) optimizer = (opts.optimizer as (p: Parameter[]) => Optimizer)(distiller.parameters());
    if (scheduler === null && typeof opts.scheduler === 'function') scheduler = opts.scheduler(optimizer);
    return optimizer;
  };
  const history: EpochRecord[] = [];
  for (let epoch = 0; epoch < opts.epochs; epoch++) {
    const r = runEpoch(op, distiller, data, getOptimizer, () => scheduler, opts);
    if (r.steps === 0) {
      throw new TensorslimError(op, `the data yielded no batches in epoch ${epoch}; pass something that can be iterated once per epoch (an array of batches or a DataLoader), not a one-shot generator`);
    }
    const rec: EpochRecord = { epoch, ...r };
    if (opts.evalData) rec.evalAccuracy = evaluateAccuracy(distiller.student, opts.evalData);
    history.push(rec);
    opts.onEpoch?.(rec);
  }
  return { optimizer: optimizer!, history };
}

/**
 * Fraction of samples whose argmax over the model's last output axis equals the int32 label,
 * in eval mode under noGrad (the model's modes are restored).
 * @example evaluateAccuracy(student, testLoader)  // 0.97
 */
export function evaluateAccuracy(model: TensorModule, batches: Iterable<BatchLike>): number {
  const op = 'evaluateAccuracy';
  const modes = model.modules().map((m) => m.training);
  let correct = 0, total = 0;
  try {
    model.eval();
    noGrad(() => {
      for (const b of batches) {
        const { x, y } = toBatch(op, b);
        if (!y) throw new TensorslimError(op, 'every batch needs labels y');
        const out: Tensor = model.call(x);
        const pred = ops.argmax(out, -1);
        if (pred.size !== y.size) throw new ShapeError(op, `predictions ${fmtShape(pred.shape)} and labels ${fmtShape(y.shape)} differ in size`);
        const p = pred.dataSync(), t = y.dataSync();
        for (let i = 0; i < p.length; i++) if (p[i] === t[i]) correct++;
        total += p.length;
      }
    });
  } finally {
    model.modules().forEach((m, i) => { m.training = modes[i]!; });
  }
  if (total === 0) throw new TensorslimError(op, 'no samples to evaluate');
  return correct / total;
}
