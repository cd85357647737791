// Pruning schedules: when to prune how much while a model trains.
//   - pruneToSparsity: raise the masked fraction of some parameters to a target (the building block).
//   - oneShot: prune once, optionally fine-tune.
//   - GradualPruner / gradualPruning / gradualPruningCallback: Zhu & Gupta (2017) cubic schedule,
//     pruning every `frequency` steps during training.
//   - iterativePruning: rounds of prune + fine-tune, the same fraction of survivors each round.
//   - lotteryTicket: train, prune, rewind the survivors to their initial (or step-k) values, retrain
//     (Frankle & Carbin 2019; late rewinding: Frankle et al. 2020).
// The loops take the training step and the evaluation as callbacks, so they work with any training
// code; gradualPruningCallback plugs the gradual schedule into the Trainer (src/train) through its
// Callback seam. Pruning keeps the Parameter objects (weight_orig), so optimizers built before
// pruning keep working; state that an optimizer holds (momentum) is the caller's to reset in onPhase.

import { noGrad } from '../../core/engine.js';
import { TensorslimError } from '../../core/errors.js';
import type { Generator } from '../../core/random.js';
import { Tensor } from '../../core/tensor.js';
import * as ops from '../../ops/index.js';
import type { AnyModule, Parameter } from '../../nn/index.js';
import type { Callback, TrainerView } from '../../train/index.js';
import { agpSparsity, globalUnstructured, identity, l1Unstructured, randomUnstructured } from './api.js';
import { currentMask, originalParameter, prunedParameterNames } from './reparam.js';

/** (module, parameter name) pairs to prune. */
export type PruneTargets = readonly (readonly [AnyModule, string])[];

/** What to prune and how. */
export interface PruneSpec {
  /** Pairs to prune; default the `weight` of every Linear and Conv2d in the model. */
  targets?: PruneTargets;
  /** One magnitude threshold across all targets (true), or the same sparsity in each (false, default). */
  global?: boolean;
  /** 'l1' (magnitude, default) or 'random'. */
  method?: 'l1' | 'random';
  /** Generator for method 'random'. */
  generator?: Generator;
}

/** Training and evaluation, supplied by the caller. */
export interface ScheduleCallbacks {
  /** One optimizer step (forward, backward, step). `step` counts from 1 over the whole schedule. */
  trainStep: (step: number) => void | Promise<void>;
  /** A held-out metric (e.g. accuracy), recorded after each stage. */
  evaluate?: () => number | Promise<number>;
  /** Called before each training phase; reset optimizer state or the LR schedule here. */
  onPhase?: (phase: SchedulePhase) => void | Promise<void>;
}

/** A training phase of a schedule. */
export interface SchedulePhase {
  kind: 'train' | 'finetune' | 'retrain';
  /** 1-based round (0 for a one-shot fine-tune). */
  round: number;
  /** Step number passed to the first trainStep of the phase, and the number of steps. */
  firstStep: number;
  steps: number;
}

/** One line of a schedule's history. */
export interface ScheduleRecord {
  stage: 'dense' | 'pruned' | 'finetuned' | 'prune' | 'trained' | 'rewound' | 'final';
  round: number;
  /** trainStep calls made so far. */
  step: number;
  /** Fraction of masked-out entries over the targets. */
  sparsity: number;
  metric: number | null;
}

/** What a schedule returns. */
export interface ScheduleResult {
  /** Final masked fraction over the targets. */
  sparsity: number;
  /** Metric of the dense model before pruning, and at the end (null without evaluate). */
  denseMetric: number | null;
  metric: number | null;
  /** trainStep calls made. */
  steps: number;
  history: ScheduleRecord[];
}

const fail = (op: string, msg: string): never => { throw new TensorslimError(op, msg); };

function checkFraction(op: string, what: string, v: number): void {
  if (!(typeof v === 'number' && v >= 0 && v <= 1)) fail(op, `${what} must be a fraction in [0, 1], got ${v}`);
}

function checkSteps(op: string, what: string, v: number, min = 0): void {
  if (!Number.isInteger(v) || v < min) fail(op, `${what} must be an integer >= ${min}, got ${v}`);
}

/**
 * The `weight` of every module of the given types (default Linear and Conv2d), as prune targets.
 * @example prune.weightTargets(model)  // [[model.getSubmodule('1'), 'weight'], ...]
 */
export function weightTargets(model: AnyModule, layerTypes: readonly string[] = ['Linear', 'Conv2d']): [AnyModule, string][] {
  const out = model.modules().filter((m) => layerTypes.includes(m.constructor.name)).map((m) => [m, 'weight'] as [AnyModule, string]);
  if (out.length === 0) fail('prune.weightTargets', `no module of type ${layerTypes.join('/')} in the model`);
  return out;
}

function targetsOf(op: string, model: AnyModule, spec: PruneSpec): PruneTargets {
  const t = spec.targets ?? weightTargets(model);
  if (t.length === 0) fail(op, 'targets is empty');
  for (const [m, name] of t) originalParameter(op, m, name); // every pair must name a parameter
  return t;
}

/**
 * Fraction of entries masked out (mask == 0) over the targets; unpruned targets count as dense.
 * @example prune.maskSparsity(prune.weightTargets(model))  // 0.9 after pruning 90%
 */
export function maskSparsity(targets: PruneTargets): number {
  let zeros = 0, total = 0;
  for (const [m, name] of targets) {
    const size = originalParameter('prune.maskSparsity', m, name).size;
    for (const v of currentMask(m, name, size)) if (v === 0) zeros++;
    total += size;
  }
  return total === 0 ? 0 : zeros / total;
}

/**
 * Prune the targets until round(sparsity * n) of their entries are masked (per target, or over all
 * of them with `global`), pruning only surviving entries; never un-prunes. Returns the new
 * masked fraction.
 * @example prune.pruneToSparsity(prune.weightTargets(model), 0.8, { global: true })
 */
export function pruneToSparsity(targets: PruneTargets, sparsity: number, opts: Omit<PruneSpec, 'targets'> = {}): number {
  const op = 'prune.pruneToSparsity';
  checkFraction(op, 'sparsity', sparsity);
  if (targets.length === 0) fail(op, 'targets is empty');
  const info = targets.map(([m, name]) => {
    const size = originalParameter(op, m, name).size;
    let masked = 0;
    for (const v of currentMask(m, name, size)) if (v === 0) masked++;
    return { m, name, size, masked };
  });
  if (opts.global) {
    const total = info.reduce((s, t) => s + t.size, 0), masked = info.reduce((s, t) => s + t.masked, 0);
    const k = Math.round(sparsity * total) - masked;
    if (k > 0) globalUnstructured(targets, { amount: { count: k }, method: opts.method ?? 'l1', ...(opts.generator ? { generator: opts.generator } : {}) });
  } else {
    for (const t of info) {
      const k = Math.round(sparsity * t.size) - t.masked;
      if (k <= 0) continue;
      if (opts.method === 'random') randomUnstructured(t.m, t.name, { count: k }, opts.generator ? { generator: opts.generator } : {});
      else l1Unstructured(t.m, t.name, { count: k });
    }
  }
  return maskSparsity(targets);
}

async function runSteps(cb: ScheduleCallbacks, first: number, n: number, after?: (step: number) => void): Promise<void> {
  for (let s = first; s < first + n; s++) {
    await cb.trainStep(s);
    after?.(s);
  }
}

const evalOf = async (cb: ScheduleCallbacks): Promise<number | null> => (cb.evaluate ? await cb.evaluate() : null);

/**
 * One-shot pruning: evaluate the dense model, prune to `sparsity`, evaluate, fine-tune
 * `finetuneSteps` steps, evaluate again.
 * @example
 * const r = await prune.oneShot(model, { sparsity: 0.9, finetuneSteps: 500, trainStep, evaluate });
 * r.denseMetric; r.metric;
 */
export async function oneShot(model: AnyModule, opts: PruneSpec & ScheduleCallbacks & { sparsity: number; finetuneSteps?: number }): Promise<ScheduleResult> {
  const op = 'prune.oneShot';
  checkFraction(op, 'sparsity', opts.sparsity);
  const ft = opts.finetuneSteps ?? 0;
  checkSteps(op, 'finetuneSteps', ft);
  const targets = targetsOf(op, model, opts);
  const history: ScheduleRecord[] = [];
  const denseMetric = await evalOf(opts);
  history.push({ stage: 'dense', round: 0, step: 0, sparsity: maskSparsity(targets), metric: denseMetric });
  const s = pruneToSparsity(targets, opts.sparsity, opts);
  history.push({ stage: 'pruned', round: 0, step: 0, sparsity: s, metric: await evalOf(opts) });
  if (ft > 0) {
    await opts.onPhase?.({ kind: 'finetune', round: 0, firstStep: 1, steps: ft });
    await runSteps(opts, 1, ft);
    history.push({ stage: 'finetuned', round: 0, step: ft, sparsity: s, metric: await evalOf(opts) });
  }
  return { sparsity: s, denseMetric, metric: history[history.length - 1]!.metric, steps: ft, history };
}

/** The Zhu & Gupta schedule: prune at startStep, startStep + frequency, ..., startStep + numSteps * frequency. */
export interface GradualOptions extends PruneSpec {
  /** Sparsity s_i at startStep (default 0). */
  initial?: number;
  /** Sparsity s_f reached at startStep + numSteps * frequency. */
  final: number;
  /** t0, the first pruning step (default 0). */
  startStep?: number;
  /** n, the number of pruning steps after t0. */
  numSteps: number;
  /** dt, training steps between pruning steps. */
  frequency: number;
}

/**
 * Gradual (AGP) pruning state: call onStep(step) after each optimizer step; at each pruning step
 * t0 + i dt it prunes the targets to s_t = s_f + (s_i - s_f)(1 - (t - t0)/(n dt))^3. Steps that
 * were skipped are caught up (it prunes to the schedule's value at the last boundary passed).
 * @example
 * const pruner = new prune.GradualPruner(prune.weightTargets(model), { final: 0.9, numSteps: 10, frequency: 100 });
 * for (let step = 1; step <= 2000; step++) { trainStep(); pruner.onStep(step); }
 */
export class GradualPruner {
  readonly targets: PruneTargets;
  readonly options: Readonly<GradualOptions>;
  /** Index of the last pruning step applied (-1 before the first). */
  lastEvent = -1;

  constructor(targets: PruneTargets, opts: GradualOptions) {
    const op = 'prune.GradualPruner';
    checkFraction(op, 'initial', opts.initial ?? 0);
    checkFraction(op, 'final', opts.final);
    if ((opts.initial ?? 0) > opts.final) fail(op, `initial sparsity ${opts.initial} is above final ${opts.final}; pruning never un-prunes`);
    checkSteps(op, 'startStep', opts.startStep ?? 0);
    checkSteps(op, 'numSteps', opts.numSteps);
    checkSteps(op, 'frequency', opts.frequency, 1);
    if (targets.length === 0) fail(op, 'targets is empty');
    for (const [m, name] of targets) originalParameter(op, m, name);
    this.targets = targets;
    this.options = { ...opts };
  }

  /** The step at which the schedule reaches its final sparsity. @example pruner.endStep */
  get endStep(): number { return (this.options.startStep ?? 0) + this.options.numSteps * this.options.frequency; }

  /** The schedule's sparsity at `step` (agpSparsity). @example pruner.sparsityAt(500) */
  sparsityAt(step: number): number {
    const o = this.options;
    return agpSparsity(step, { initial: o.initial ?? 0, final: o.final, startStep: o.startStep ?? 0, numSteps: o.numSteps, frequency: o.frequency });
  }

  /** Prune if `step` reached a new pruning step; returns the sparsity pruned to, or null. @example pruner.onStep(trainer.step) */
  onStep(step: number): number | null {
    const t0 = this.options.startStep ?? 0;
    if (step < t0) return null;
    const e = Math.min(Math.floor((step - t0) / this.options.frequency), this.options.numSteps);
    if (e <= this.lastEvent) return null;
    const s = this.sparsityAt(t0 + e * this.options.frequency);
    pruneToSparsity(this.targets, s, this.options);
    this.lastEvent = e;
    return s;
  }
}

/**
 * Train `totalSteps` steps with gradual pruning; evaluates before, every `evalEvery` steps (if
 * given) and at the end. totalSteps must reach the schedule's end (startStep + numSteps * frequency).
 * @example
 * await prune.gradualPruning(model, { final: 0.9, numSteps: 20, frequency: 50, totalSteps: 1500, trainStep, evaluate });
 */
export async function gradualPruning(model: AnyModule, opts: GradualOptions & ScheduleCallbacks & { totalSteps: number; evalEvery?: number }): Promise<ScheduleResult> {
  const op = 'prune.gradualPruning';
  const targets = targetsOf(op, model, opts);
  const pruner = new GradualPruner(targets, opts);
  checkSteps(op, 'totalSteps', opts.totalSteps);
  if (opts.totalSteps < pruner.endStep) fail(op, `totalSteps ${opts.totalSteps} ends before the schedule reaches its final sparsity at step ${pruner.endStep} (startStep + numSteps * frequency)`);
  if (opts.evalEvery !== undefined) checkSteps(op, 'evalEvery', opts.evalEvery, 1);
  const history: ScheduleRecord[] = [];
  const denseMetric = await evalOf(opts);
  history.push({ stage: 'dense', round: 0, step: 0, sparsity: maskSparsity(targets), metric: denseMetric });
  pruner.onStep(0); // t0 = 0 with s_i > 0 prunes before the first step
  await opts.onPhase?.({ kind: 'train', round: 1, firstStep: 1, steps: opts.totalSteps });
  for (let step = 1; step <= opts.totalSteps; step++) {
    await opts.trainStep(step);
    const s = pruner.onStep(step);
    if (s !== null) history.push({ stage: 'prune', round: pruner.lastEvent, step, sparsity: maskSparsity(targets), metric: null });
    if (opts.evalEvery !== undefined && step % opts.evalEvery === 0 && step < opts.totalSteps) {
      history.push({ stage: 'trained', round: pruner.lastEvent, step, sparsity: maskSparsity(targets), metric: await evalOf(opts) });
    }
  }
  const metric = await evalOf(opts);
  const sparsity = maskSparsity(targets);
  history.push({ stage: 'final', round: pruner.lastEvent, step: opts.totalSteps, sparsity, metric });
  return { sparsity, denseMetric, metric, steps: opts.totalSteps, history };
}

/** The Trainer callback of a gradual schedule, with its pruner. */
export type GradualPruningCallback = Callback & { readonly pruner: GradualPruner };

/**
 * Gradual pruning inside the Trainer: prunes in onStepEnd at the schedule's steps (the trainer's
 * global step), and saves its progress in checkpoints (named 'prune.gradual'), re-creating the
 * masks' structure on resume before the weights load.
 * @example
 * const cb = prune.gradualPruningCallback(model, { final: 0.9, numSteps: 10, frequency: 200 });
 * await new Trainer({ model, optimizer, trainLoader, epochs: 5, callbacks: [cb] }).fit();
 */
export function gradualPruningCallback(model: AnyModule, opts: GradualOptions): GradualPruningCallback {
  const targets = targetsOf('prune.gradualPruningCallback', model, opts);
  const pruner = new GradualPruner(targets, opts);
  return {
    name: 'prune.gradual',
    pruner,
    onTrainBegin(t: TrainerView) { pruner.onStep(t.step); },
    onStepEnd(t: TrainerView) { pruner.onStep(t.step); },
    stateDict() { return { lastEvent: pruner.lastEvent, pruned: targets.map(([m, name]) => prunedParameterNames(m).includes(name)) }; },
    loadStateDict(state: unknown) {
      const op = 'prune.gradualPruningCallback.loadStateDict';
      const s = state as { lastEvent?: unknown; pruned?: unknown };
      if (s === null || typeof s !== 'object' || !Number.isInteger(s.lastEvent) || !Array.isArray(s.pruned) || s.pruned.length !== targets.length) {
        fail(op, `expected { lastEvent, pruned: boolean[${targets.length}] } (saved for the same targets), got ${JSON.stringify(state)}`);
      }
      // re-create the reparametrization (all-ones masks) so the checkpoint's weight_orig/weight_mask keys load
      (s.pruned as unknown[]).forEach((p, i) => {
        const [m, name] = targets[i]!;
        if (p === true && !prunedParameterNames(m).includes(name)) identity(m, name);
      });
      pruner.lastEvent = s.lastEvent as number;
    },
  };
}

/**
 * Iterative pruning: `rounds` rounds of (prune, fine-tune `finetuneSteps`, evaluate), each round
 * removing the same fraction of the survivors: after round r the sparsity is
 * 1 - (1 - final)^(r / rounds).
 * @example
 * await prune.iterativePruning(model, { final: 0.9, rounds: 3, finetuneSteps: 1000, trainStep, evaluate });
 */
export async function iterativePruning(model: AnyModule, opts: PruneSpec & ScheduleCallbacks & { final: number; rounds: number; finetuneSteps: number }): Promise<ScheduleResult> {
  const op = 'prune.iterativePruning';
  checkFraction(op, 'final', opts.final);
  checkSteps(op, 'rounds', opts.rounds, 1);
  checkSteps(op, 'finetuneSteps', opts.finetuneSteps);
  const targets = targetsOf(op, model, opts);
  const history: ScheduleRecord[] = [];
  const denseMetric = await evalOf(opts);
  history.push({ stage: 'dense', round: 0, step: 0, sparsity: maskSparsity(targets), metric: denseMetric });
  let step = 0;
  for (let r = 1; r <= opts.rounds; r++) {
    const s = pruneToSparsity(targets, roundSparsity(opts.final, r, opts.rounds), opts);
    if (opts.finetuneSteps > 0) {
      await opts.onPhase?.({ kind: 'finetune', round: r, firstStep: step + 1, steps: opts.finetuneSteps });
      await runSteps(opts, step + 1, opts.finetuneSteps);
      step += opts.finetuneSteps;
    }
    history.push({ stage: 'finetuned', round: r, step, sparsity: s, metric: await evalOf(opts) });
  }
  const last = history[history.length - 1]!;
  return { sparsity: last.sparsity, denseMetric, metric: last.metric, steps: step, history };
}

/** Sparsity after round r of R when each round removes the same fraction of the survivors. */
function roundSparsity(final: number, r: number, rounds: number): number {
  return r === rounds ? final : 1 - Math.pow(1 - final, r / rounds);
}

/**
 * Lottery-ticket rewinding (Frankle & Carbin 2019): remember the weights at `rewindStep` (0 = the
 * initial weights), then for each of `rounds` rounds train to `trainSteps`, prune (each round the
 * same fraction of the survivors, reaching `final`), and rewind every parameter to the remembered
 * values (masks stay). Finally retrain the ticket and evaluate it. Rounds after the first train
 * steps rewindStep + 1 .. trainSteps, so step-based LR schedules line up; reset the optimizer's
 * state (and LR schedule) in onPhase.
 * @example
 * const r = await prune.lotteryTicket(model, { final: 0.8, rounds: 2, trainSteps: 500, trainStep, evaluate,
 *   onPhase: () => { opt = new SGD(model.parameters(), { lr: 0.1 }); } });
 */
export async function lotteryTicket(
  model: AnyModule,
  opts: PruneSpec & ScheduleCallbacks & { final: number; rounds?: number; trainSteps: number; rewindStep?: number },
): Promise<ScheduleResult> {
  const op = 'prune.lotteryTicket';
  checkFraction(op, 'final', opts.final);
  const rounds = opts.rounds ?? 1;
  checkSteps(op, 'rounds', rounds, 1);
  checkSteps(op, 'trainSteps', opts.trainSteps, 1);
  const k = opts.rewindStep ?? 0;
  checkSteps(op, 'rewindStep', k);
  if (k >= opts.trainSteps) fail(op, `rewindStep ${k} must be below trainSteps ${opts.trainSteps}`);
  const targets = targetsOf(op, model, opts);
  const params: Parameter[] = model.parameters();
  let saved: Tensor[] | null = null;
  const remember = (): void => { saved = params.map((p) => new Tensor(p.dataSync(), p.dtype, p.shape)); };
  if (k === 0) remember();
  const history: ScheduleRecord[] = [];
  let calls = 0;
  const train = async (kind: SchedulePhase['kind'], round: number, first: number): Promise<void> => {
    const n = opts.trainSteps - first + 1;
    await opts.onPhase?.({ kind, round, firstStep: first, steps: n });
    await runSteps(opts, first, n, (s) => { calls++; if (saved === null && s === k) remember(); });
  };
  let denseMetric: number | null = null;
  for (let r = 1; r <= rounds; r++) {
    await train('train', r, r === 1 ? 1 : k + 1);
    const metric = await evalOf(opts);
    if (r === 1) denseMetric = metric;
    history.push({ stage: 'trained', round: r, step: calls, sparsity: maskSparsity(targets), metric });
    const s = pruneToSparsity(targets, roundSparsity(opts.final, r, rounds), opts);
    const snap = saved as Tensor[] | null;
    if (snap === null) fail(op, 'internal: no rewind point was recorded');
    noGrad(() => params.forEach((p, i) => { ops.assign(p, snap![i]!); p.grad = null; }));
    history.push({ stage: 'rewound', round: r, step: calls, sparsity: s, metric: null });
  }
  await train('retrain', rounds + 1, k + 1);
  const metric = await evalOf(opts);
  const sparsity = maskSparsity(targets);
  history.push({ stage: 'final', round: rounds + 1, step: calls, sparsity, metric });
  return { sparsity, denseMetric, metric, steps: calls, history };
}

