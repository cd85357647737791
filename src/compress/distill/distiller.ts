// Distiller: the training-step side of knowledge distillation, built on public seams only.
// The teacher runs in eval mode under noGrad, once per batch (its logits and tapped features are
// reused by every loss term), and when the data pipeline repeats the same batches each epoch its
// outputs are cached, keyed by a fingerprint of the input, so it runs at most once per batch over
// the whole training. The student is called with module.call, so forward pre-hooks (pruning masks)
// and hooks run; nothing assumes it is made of Linear layers. The Distiller never steps an
// optimizer: distillEpoch/trainStudent (loop.ts) or the Trainer (lossFn + distillCallback) do that.

import { isFloat } from '../../backend/dtype.js';
import { fmtShape, shapeEquals } from '../../backend/shape.js';
import { noGrad } from '../../core/engine.js';
import { ShapeError, TensorslimError } from '../../core/errors.js';
import { Tensor } from '../../core/tensor.js';
import * as ops from '../../ops/index.js';
import { Module, type AnyModule, type Parameter, type TensorModule } from '../../nn/index.js';
import type { Optimizer } from '../../optim/index.js';
import type { GPT } from '../../models/index.js';
import type { LossOutput, TrainerView } from '../../train/index.js';
import {
  attentionLoss, checkAlpha, checkTemperature, cosineLoss, distillationTerms, featureLoss, mixTerms,
  DEFAULT_ALPHA, DEFAULT_TEMPERATURE,
} from './losses.js';
import { FeatureProjector } from './modules.js';
import { tapFeatures, type FeatureTap } from './taps.js';

/** How a pair of tapped features is compared. */
export type FeatureLossKind = 'mse' | 'cosine' | 'attention-mse' | 'attention-kl';

/** One hidden-state (or attention-map) distillation term. */
export interface FeaturePair {
  /** Dotted name of the student submodule whose output is used (as in namedModules()). */
  student: string;
  /** Dotted name of the teacher submodule whose output is the target. */
  teacher: string;
  /** 'mse' (default, through a projector when widths differ), 'cosine', 'attention-mse', 'attention-kl'. */
  loss?: FeatureLossKind;
  /** Weight of this term in the total loss (default 1). */
  weight?: number;
  /** Feature axis for the width check and the projector (default -1; 1 for (B, C, H, W) maps). */
  dim?: number;
  /**
   * 'auto' (default): a FeatureProjector is created on the probe forward when the widths differ;
   * 'none': widths must match; or your own FeatureProjector.
   */
  projector?: 'auto' | 'none' | FeatureProjector;
  /** Attention losses: compare head-averaged maps (different head counts). */
  meanOverHeads?: boolean;
  /** Applied to the student's tapped output before the loss (in the graph), e.g. attentionMapsFromQkv. */
  studentTransform?: (feature: Tensor) => Tensor;
  /** Applied to the teacher's tapped output before the loss (under noGrad). */
  teacherTransform?: (feature: Tensor) => Tensor;
}

/**
 * A model the Distiller can run: any module called with one input tensor that returns the logits
 * (classifiers, Sequential, ...), or a GPT (called with the token ids alone, no KV cache).
 */
export type DistillModel = TensorModule | GPT;

export interface DistillerOptions {
  /** The trained model; put in eval mode and run under noGrad. Never receives gradients. */
  teacher: DistillModel;
  /** The model being trained (any architecture, GPT included; pruned or otherwise hooked modules are fine). */
  student: DistillModel;
  /** Softmax temperature T > 0 (default 4). */
  temperature?: number;
  /** Weight of the soft-target term in [0, 1] (default 0.9); 1 - alpha weighs the hard labels. */
  alpha?: number;
  /** Label smoothing of the hard-label term (default 0). */
  labelSmoothing?: number;
  /** Hidden-state / attention terms, added to the logit loss with their weights. */
  features?: readonly FeaturePair[];
  /**
   * Cache the teacher's outputs per batch (default true). Entries are keyed by a fingerprint of the
   * input batch, so a wrong guess costs memory, never correctness; when a whole epoch brings no
   * repeated batch (shuffled or augmented data), the cache turns itself off and is freed.
   */
  cacheTeacher?: boolean;
  /** Upper bound of cached tensor bytes (default 256 MiB); past it, batches are not cached. */
  cacheMaxBytes?: number;
  /**
   * Batches carry the teacher's logits, computed once per sample before training by
   * `withTeacherLogits(teacher, dataset)`: [x, y, teacherLogits] or { x, y, teacherLogits }. The
   * teacher then runs only on the probe batch, however the data is shuffled (the per-batch cache
   * cannot help there). Logit distillation only: feature terms need the teacher's hidden states,
   * and the transfer set must not be augmented (the logits belong to the stored images).
   */
  precomputedTeacher?: boolean;
}

/** A batch: {x, y} or [x, y] (what DataLoader yields for a TensorDataset). y may be absent when alpha = 1. */
export interface DistillBatch {
  x: Tensor;
  y?: Tensor | null;
  /** The teacher's logits for x, when the Distiller has precomputedTeacher (see withTeacherLogits). */
  teacherLogits?: Tensor | null;
}
export type BatchLike = DistillBatch | readonly Tensor[];

/** Values of the loss terms for one batch (plain numbers, for logging). */
export interface LossParts {
  total: number;
  /** Soft-target term (unweighted, includes T^2), or null when alpha = 0. */
  kd: number | null;
  /** Hard-label cross-entropy (unweighted), or null when alpha = 1. */
  ce: number | null;
  /** One value per feature pair (unweighted). */
  features: number[];
}

export interface DistillerStats {
  /** Teacher forward calls (the probe excluded). */
  teacherForwards: number;
  /** Samples the teacher ran on (the probe excluded). */
  teacherSamples: number;
  cacheHits: number;
  cacheMisses: number;
  cacheEntries: number;
  cacheBytes: number;
  cacheEnabled: boolean;
  /** Why the cache is off, when it is. */
  cacheNote: string | null;
}

interface TeacherOut { logits: Tensor; features: Tensor[] }

interface ResolvedPair {
  student: string; teacher: string; kind: FeatureLossKind; weight: number; dim: number;
  projectorOpt: 'auto' | 'none' | FeatureProjector; meanOverHeads: boolean;
  projector: FeatureProjector | null;
  studentTransform: ((t: Tensor) => Tensor) | null;
  teacherTransform: ((t: Tensor) => Tensor) | null;
}

const KINDS: readonly FeatureLossKind[] = ['mse', 'cosine', 'attention-mse', 'attention-kl'];
const OP = 'Distiller';

/** Normalize {x, y, teacherLogits?} / [x, y, teacherLogits?] and check x (teacherLogits is not checked here). */
export function toBatch(op: string, b: unknown): { x: Tensor; y: Tensor | null; teacherLogits: unknown } {
  let x: unknown, y: unknown, t: unknown;
  if (Array.isArray(b)) { x = b[0]; y = b[1]; t = b[2]; }
  else if (b !== null && typeof b === 'object' && 'x' in b) { x = (b as DistillBatch).x; y = (b as DistillBatch).y; t = (b as DistillBatch).teacherLogits; }
  else throw new TensorslimError(op, `a batch must be {x, y} or [x, y], got ${b === null ? 'null' : typeof b}`);
  if (!(x instanceof Tensor)) throw new TensorslimError(op, `batch input x must be a Tensor, got ${x === null ? 'null' : typeof x}`);
  if (x.ndim === 0 || x.shape[0] === 0) throw new ShapeError(op, `batch input x must have a non-empty batch axis, got ${fmtShape(x.shape)}`);
  if (y !== undefined && y !== null && !(y instanceof Tensor)) throw new TensorslimError(op, `batch labels y must be a Tensor or absent, got ${typeof y}`);
  return { x, y: (y ?? null) as Tensor | null, teacherLogits: t };
}

/** A 64-bit fingerprint of a tensor's dtype, shape and bytes (two 32-bit FNV-1a style hashes). */
function fingerprint(x: Tensor): string {
  const d = x.dataSync();
  const words = d.byteOffset % 4 === 0 && d.byteLength % 4 === 0
    ? new Uint32Array(d.buffer, d.byteOffset, d.byteLength / 4)
    : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  let h1 = 0x811c9dc5 | 0, h2 = 0x9747b28c | 0;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    h1 = Math.imul(h1 ^ w, 0x01000193);
    h2 = Math.imul(h2 ^ w, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return `${x.dtype}|${x.shape.join('x')}|${(h1 >>> 0).toString(16)}|${(h2 >>> 0).toString(16)}`;
}

function modesOf(m: AnyModule): boolean[] { return (m as Module<never, unknown>).modules().map((c) => c.training); }
function restoreModes(m: AnyModule, modes: boolean[]): void { (m as Module<never, unknown>).modules().forEach((c, i) => { c.training = modes[i]!; }); }

/**
 * Knowledge distillation step logic: computes the student's loss on a batch from the teacher's
 * softened logits (Hinton et al.: alpha * KL * T^2 + (1 - alpha) * CE) plus optional hidden-state
 * and attention terms between tapped layers. Bad settings (T <= 0, alpha outside [0, 1], unknown
 * layer names) throw in the constructor; different output sizes throw on the probe forward
 * (prepare), before any training step.
 *
 * @example
 * const d = new Distiller({ teacher, student, temperature: 4, alpha: 0.9,
 *   features: [{ student: '1', teacher: '1' }] });          // hidden layer -> hidden layer
 * d.prepare(xSample);                                          // probe: checks shapes, sizes projectors
 * const opt = new Adam(d.parameters(), { lr: 1e-3 });          // student + projectors
 * const { loss } = d.computeLoss({ x, y }); loss.backward(); opt.step(); opt.zeroGrad();
 */
export class Distiller {
  readonly teacher: TensorModule;
  readonly student: TensorModule;
  readonly temperature: number;
  readonly alpha: number;
  readonly labelSmoothing: number;
  /** Batches carry the teacher's logits (withTeacherLogits); the teacher runs only on the probe. */
  readonly precomputedTeacher: boolean;
  readonly #pairs: ResolvedPair[];
  readonly #teacherNames: string[];
  readonly #studentNames: string[];
  readonly #teacherTap: FeatureTap | null;
  readonly #studentTap: FeatureTap | null;
  #prepared = false;
  readonly #checkedOptimizers = new WeakSet<Optimizer>();
  #removed = false;
  // cache
  #cacheEnabled: boolean;
  #cacheNote: string | null = null;
  readonly #cacheMax: number;
  readonly #cache = new Map<string, TeacherOut>();
  #cacheBytes = 0;
  #stats = { teacherForwards: 0, teacherSamples: 0, cacheHits: 0, cacheMisses: 0 };
  #epoch = { hits: 0, misses: 0, entriesAtStart: 0 };

  constructor(opts: DistillerOptions) {
    if (opts === null || typeof opts !== 'object') throw new TensorslimError(OP, 'expected options { teacher, student, temperature?, alpha?, features? }');
    // a GPT's second argument (the KV cache) is optional: the Distiller only ever calls model.call(x)
    const teacher = opts.teacher as TensorModule, student = opts.student as TensorModule;
    if (!(teacher instanceof Module)) throw new TensorslimError(OP, 'teacher must be a Module');
    if (!(student instanceof Module)) throw new TensorslimError(OP, 'student must be a Module');
    if ((teacher as unknown) === (student as unknown)) throw new TensorslimError(OP, 'teacher and student are the same module; distill into a separate (smaller) model');
    this.teacher = teacher;
    this.student = student;
    this.temperature = checkTemperature(OP, opts.temperature ?? DEFAULT_TEMPERATURE);
    this.alpha = checkAlpha(OP, opts.alpha ?? DEFAULT_ALPHA);
    this.labelSmoothing = opts.labelSmoothing ?? 0;
    if (!(this.labelSmoothing >= 0 && this.labelSmoothing <= 1)) throw new TensorslimError(OP, `labelSmoothing must be in [0, 1], got ${String(opts.labelSmoothing)}`);
    const maxBytes = opts.cacheMaxBytes ?? 256 * 1024 * 1024;
    if (!(maxBytes >= 0)) throw new TensorslimError(OP, `cacheMaxBytes must be >= 0, got ${String(opts.cacheMaxBytes)}`);
    this.#cacheMax = maxBytes;
    this.#cacheEnabled = opts.cacheTeacher ?? true;
    if (!this.#cacheEnabled) this.#cacheNote = 'turned off (cacheTeacher: false)';

    const feats = opts.features ?? [];
    if (!Array.isArray(feats)) throw new TensorslimError(OP, 'features must be an array of { student, teacher, loss?, weight? }');
    this.precomputedTeacher = opts.precomputedTeacher ?? false;
    if (typeof this.precomputedTeacher !== 'boolean') throw new TensorslimError(OP, `precomputedTeacher must be true or false, got ${String(opts.precomputedTeacher)}`);
    if (this.precomputedTeacher && feats.length > 0) {
      throw new TensorslimError(OP, 'precomputedTeacher carries only the teacher\'s logits; feature terms need its hidden states on every batch: drop precomputedTeacher (the per-batch cache still applies) or the features');
    }
    this.#pairs = feats.map((f, i) => resolvePair(f, i));
    this.#teacherNames = [...new Set(this.#pairs.map((p) => p.teacher))];
    this.#studentNames = [...new Set(this.#pairs.map((p) => p.student))];
    // tap both models; unknown names throw before any hook is left behind
    this.#teacherTap = this.#teacherNames.length ? tapFeatures(teacher, this.#teacherNames, `${OP} (teacher)`) : null;
    try {
      this.#studentTap = this.#studentNames.length ? tapFeatures(student, this.#studentNames, `${OP} (student)`) : null;
    } catch (e) {
      this.#teacherTap?.remove();
      throw e;
    }
    teacher.eval();
  }

  /** True once the probe forward ran (projectors exist, shapes are known to match). */
  get prepared(): boolean { return this.#prepared; }

  /** Whether the teacher has to run at all (not for alpha = 0 without feature terms). */
  get needsTeacher(): boolean { return this.alpha > 0 || this.#pairs.length > 0; }

  /**
   * Probe forward on the first (at most 2) samples of `x`, both models in eval mode under noGrad
   * (the student's modes are restored): checks that teacher and student output the same shape,
   * that every tapped layer ran and that paired features fit, and creates the projectors for
   * pairs whose widths differ. Runs once; later calls do nothing. Call it before building the
   * optimizer (projectors must be in it), or let trainStudent do both.
   * @example d.prepare(firstBatchX)
   */
  prepare(x: Tensor): this {
    this.#checkAlive();
    if (this.#prepared) return this;
    const { x: xb } = toBatch(OP, { x });
    const probe = xb.shape[0]! > 2 ? ops.narrow(xb, 0, 0, 2) : xb;
    const modes = modesOf(this.student);
    let tOut: TeacherOut, sOut: { logits: Tensor; features: Tensor[] };
    try {
      this.teacher.eval();
      this.student.eval();
      const probeForward = (m: TensorModule, tap: FeatureTap | null, names: string[], who: string): TeacherOut => {
        try {
          return noGrad(() => this.#forward(m, tap, names, probe, who));
        } catch (e) {
          throw new TensorslimError(OP, `the ${who} (${m.constructor.name}) failed on a probe batch of input ${fmtShape(probe.shape)}: ${(e as Error).message}`);
        }
      };
      tOut = probeForward(this.teacher, this.#teacherTap, this.#teacherNames, 'teacher');
      sOut = probeForward(this.student, this.#studentTap, this.#studentNames, 'student');
    } finally {
      restoreModes(this.student, modes);
    }
    if (!shapeEquals(tOut.logits.shape, sOut.logits.shape)) {
      throw new ShapeError(OP, `teacher and student outputs differ on a probe batch of input ${fmtShape(probe.shape)}: teacher ${fmtShape(tOut.logits.shape)}, student ${fmtShape(sOut.logits.shape)}; both must output the same classes (give the student a head of ${tOut.logits.shape[tOut.logits.ndim - 1]} outputs)`);
    }
    // size the projectors (nothing is kept if a later pair fails)
    const made: (FeatureProjector | null)[] = [];
    this.#pairs.forEach((p, i) => {
      const [sf, tf] = noGrad(() => pairFeatures(p, i, sOut.features[this.#studentNames.indexOf(p.student)]!, tOut.features[this.#teacherNames.indexOf(p.teacher)]!));
      made.push(checkPair(p, i, sf, tf));
    });
    this.#pairs.forEach((p, i) => { p.projector = made[i]!; });
    this.#prepared = true;
    return this;
  }

  /** The projectors created for (or given to) the feature pairs, by pair index (null: none). */
  projectors(): (FeatureProjector | null)[] {
    return this.#pairs.map((p) => p.projector);
  }

  /**
   * What the optimizer must train: the student's parameters and the projectors'. Needs prepare()
   * first when a projector may be created.
   * @example const opt = new SGD(d.parameters(), { lr: 0.1 });
   */
  parameters(): Parameter[] {
    if (!this.#prepared && this.#pairs.some((p) => p.projectorOpt === 'auto' && (p.kind === 'mse' || p.kind === 'cosine'))) {
      throw new TensorslimError(`${OP}.parameters`, 'call prepare(x) with a sample batch first: projectors for feature pairs of different widths are created on that probe forward, and they must be trained too');
    }
    const out = new Set<Parameter>(this.student.parameters());
    for (const p of this.#pairs) if (p.projector) for (const q of p.projector.parameters()) out.add(q);
    return [...out];
  }

  /**
   * Throw unless every projector parameter is in `optimizer` (a projector left out never learns).
   * @example d.checkOptimizer(opt)
   */
  checkOptimizer(optimizer: Optimizer): void {
    const held = new Set<Tensor>(optimizer.paramGroups.flatMap((g) => g.params));
    const missing = this.#pairs.flatMap((p, i) => (p.projector ? p.projector.namedParameters(`projector[${i}]`).filter(([, q]) => !held.has(q)).map(([n]) => n) : []));
    if (missing.length) {
      throw new TensorslimError(OP, `the optimizer does not hold the projector parameters ${missing.join(', ')}; build it from distiller.parameters() after distiller.prepare(x)`);
    }
    const teacherParams = new Set<Tensor>(this.teacher.parameters());
    if ([...held].some((q) => teacherParams.has(q))) {
      throw new TensorslimError(OP, 'the optimizer holds teacher parameters; the teacher is frozen: build the optimizer from distiller.parameters()');
    }
  }

  /**
   * The loss of the student on one batch, with the values of its terms. Runs the teacher (or
   * reads its cached outputs) and the student once each. The student's train/eval mode is left
   * as it is (the loops set train()); the teacher is put in eval mode.
   * @example const { loss, parts } = d.computeLoss({ x, y }); loss.backward();
   */
  computeLoss(batch: BatchLike): { loss: Tensor; parts: LossParts; logits: Tensor } {
    this.#checkAlive();
    const { x, y, teacherLogits } = toBatch(OP, batch);
    if (!this.#prepared) this.prepare(x);
    const tOut = !this.needsTeacher ? null : this.precomputedTeacher ? { logits: this.#batchLogits(teacherLogits, x), features: [] } : this.teacherOutputs(x);
    const s = this.#forward(this.student, this.#studentTap, this.#studentNames, x, 'student');
    if (tOut && !shapeEquals(tOut.logits.shape, s.logits.shape)) {
      throw new ShapeError(OP, `teacher output ${fmtShape(tOut.logits.shape)} and student output ${fmtShape(s.logits.shape)} differ on input ${fmtShape(x.shape)}`);
    }
    const { kd, ce } = distillationTerms(OP, s.logits, tOut?.logits ?? null, y, this.temperature, this.alpha, this.labelSmoothing);
    let loss = mixTerms(kd, ce, this.alpha);
    const featureValues: number[] = [];
    this.#pairs.forEach((p, i) => {
      const [sf, tf] = pairFeatures(p, i, s.features[this.#studentNames.indexOf(p.student)]!, tOut!.features[this.#teacherNames.indexOf(p.teacher)]!);
      const term = pairLoss(p, sf, tf);
      featureValues.push(term.item());
      if (p.weight !== 0) loss = ops.add(loss, p.weight === 1 ? term : ops.mul(term, p.weight));
    });
    return {
      loss,
      parts: { total: loss.item(), kd: kd ? kd.item() : null, ce: ce ? ce.item() : null, features: featureValues },
      logits: s.logits,
    };
  }

  /**
   * The Trainer's `lossFn` (src/train): the distillation loss of `model` (which must be this
   * distiller's student) on `batch`, with the student's logits and the labels so the Trainer can
   * report training accuracy. On its first call with a trainer, checks that the trainer's
   * optimizer holds the projectors' parameters. Pair it with distillCallback(distiller).
   * @example
   * distiller.prepare(xSample);
   * const trainer = new Trainer({ model: student, optimizer: new Adam(distiller.parameters()), trainLoader,
   *   lossFn: distiller.lossFn, callbacks: [distillCallback(distiller)], epochs: 5 });
   */
  readonly lossFn = (model: AnyModule, batch: BatchLike, trainer?: TrainerView): LossOutput => {
    if ((model as unknown) !== (this.student as unknown)) {
      throw new TensorslimError(`${OP}.lossFn`, `called with a ${model?.constructor?.name ?? typeof model} that is not the distiller's student (${this.student.constructor.name})`);
    }
    const { loss, logits } = this.computeLoss(batch);
    if (trainer && !this.#checkedOptimizers.has(trainer.optimizer)) {
      this.checkOptimizer(trainer.optimizer);
      this.#checkedOptimizers.add(trainer.optimizer);
    }
    const { y } = toBatch(OP, batch);
    return y !== null && !isFloat(y.dtype) && logits.ndim === 2 ? { loss, output: logits, target: y } : { loss };
  };

  /**
   * The teacher's logits and tapped features for input x (eval mode, noGrad), from the cache when
   * this exact batch was seen before.
   * @example const { logits } = d.teacherOutputs(x);
   */
  teacherOutputs(x: Tensor): { logits: Tensor; features: Tensor[] } {
    this.#checkAlive();
    const key = this.#cacheEnabled ? fingerprint(x) : null;
    if (key !== null) {
      const hit = this.#cache.get(key);
      if (hit) { this.#stats.cacheHits++; this.#epoch.hits++; return hit; }
      this.#stats.cacheMisses++; this.#epoch.misses++;
    }
    this.teacher.eval();
    const out = noGrad(() => this.#forward(this.teacher, this.#teacherTap, this.#teacherNames, x, 'teacher'));
    this.#stats.teacherForwards++;
    this.#stats.teacherSamples += x.shape[0]!;
    if (key !== null) {
      const bytes = [out.logits, ...out.features].reduce((n, t) => n + t.data.byteLength, 0);
      if (this.#cacheBytes + bytes <= this.#cacheMax) { this.#cache.set(key, out); this.#cacheBytes += bytes; }
    }
    return out;
  }

  /** Mark the start of an epoch (for the cache's repeat check). Loops call it. */
  beginEpoch(): void {
    this.#epoch = { hits: 0, misses: 0, entriesAtStart: this.#cache.size };
  }

  /**
   * Mark the end of an epoch: if the cache held batches from earlier epochs and none of them came
   * back, the data is not repeated (shuffled or augmented), so the cache is turned off and freed.
   */
  endEpoch(): void {
    const e = this.#epoch;
    if (this.#cacheEnabled && e.entriesAtStart > 0 && e.hits === 0 && e.misses > 0) {
      this.#cacheEnabled = false;
      this.#cacheNote = 'turned off: no batch repeated between epochs (shuffled or augmented data), so the teacher runs on every batch';
      this.clearCache();
    }
    this.#epoch = { hits: 0, misses: 0, entriesAtStart: this.#cache.size };
  }

  /** Forget the cached teacher outputs (call after changing the teacher's weights). */
  clearCache(): void { this.#cache.clear(); this.#cacheBytes = 0; }

  /** Counters: teacher forwards, cache hits and size. @example d.stats().teacherForwards */
  stats(): DistillerStats {
    return {
      ...this.#stats, cacheEntries: this.#cache.size, cacheBytes: this.#cacheBytes,
      cacheEnabled: this.#cacheEnabled, cacheNote: this.#cacheNote,
    };
  }

  /** Remove the feature taps from both models and free the cache; the distiller is unusable after. */
  remove(): void {
    this.#teacherTap?.remove();
    this.#studentTap?.remove();
    this.clearCache();
    this.#removed = true;
  }

  #batchLogits(t: unknown, x: Tensor): Tensor {
    if (!(t instanceof Tensor)) {
      throw new TensorslimError(OP, `precomputedTeacher: the batch has no teacher logits (got ${t === undefined || t === null ? 'none' : typeof t}); batches must be [x, y, teacherLogits] or { x, y, teacherLogits }: load a dataset made by distill.withTeacherLogits(teacher, dataset)`);
    }
    if (t.shape[0] !== x.shape[0]) throw new ShapeError(OP, `precomputedTeacher: teacher logits ${fmtShape(t.shape)} and input ${fmtShape(x.shape)} differ in batch size`);
    return t;
  }

  #checkAlive(): void {
    if (this.#removed) throw new TensorslimError(OP, 'this distiller was removed (remove()); create a new one');
  }

  #forward(model: TensorModule, tap: FeatureTap | null, names: readonly string[], x: Tensor, who: string): TeacherOut {
    tap?.clear();
    let logits: unknown;
    try {
      logits = model.call(x);
      if (!(logits instanceof Tensor)) {
        throw new TensorslimError(OP, `the ${who} (${model.constructor.name}) returned ${logits === null ? 'null' : typeof logits}, not a Tensor of logits`);
      }
      const features = names.map((n) => {
        try { return tap!.get(n); } catch (e) { throw new TensorslimError(OP, `${who} layer '${n}': ${(e as Error).message}`); }
      });
      return { logits, features };
    } finally {
      tap?.clear();
    }
  }
}

function resolvePair(f: FeaturePair, i: number): ResolvedPair {
  const op = `${OP}: features[${i}]`;
  if (f === null || typeof f !== 'object') throw new TensorslimError(op, 'must be { student, teacher, loss?, weight? }');
  if (typeof f.student !== 'string' || typeof f.teacher !== 'string') {
    throw new TensorslimError(op, 'needs the dotted names of a student and a teacher submodule: { student: \'1\', teacher: \'3\' }');
  }
  const kind = f.loss ?? 'mse';
  if (!KINDS.includes(kind)) throw new TensorslimError(op, `loss must be one of ${KINDS.map((k) => `'${k}'`).join(', ')}, got '${String(kind)}'`);
  const weight = f.weight ?? 1;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) throw new TensorslimError(op, `weight must be a finite number >= 0, got ${String(weight)}`);
  const dim = f.dim ?? -1;
  if (!Number.isInteger(dim)) throw new TensorslimError(op, `dim must be an integer axis, got ${String(dim)}`);
  const projectorOpt = f.projector ?? 'auto';
  if (projectorOpt !== 'auto' && projectorOpt !== 'none' && !(projectorOpt instanceof FeatureProjector)) {
    throw new TensorslimError(op, "projector must be 'auto', 'none' or a FeatureProjector");
  }
  if (projectorOpt instanceof FeatureProjector && kind.startsWith('attention')) throw new TensorslimError(op, 'attention maps are compared without a projector');
  for (const k of ['studentTransform', 'teacherTransform'] as const) {
    if (f[k] !== undefined && typeof f[k] !== 'function') throw new TensorslimError(op, `${k} must be a function (feature) => Tensor`);
  }
  return {
    student: f.student, teacher: f.teacher, kind, weight, dim, projectorOpt, meanOverHeads: f.meanOverHeads ?? false,
    projector: projectorOpt instanceof FeatureProjector ? projectorOpt : null,
    studentTransform: f.studentTransform ?? null, teacherTransform: f.teacherTransform ?? null,
  };
}

/** Validate one pair on the probe features; returns its projector (created if needed). */
function checkPair(p: ResolvedPair, i: number, sf: Tensor, tf: Tensor): FeatureProjector | null {
  const op = `${OP}: features[${i}] (student '${p.student}' -> teacher '${p.teacher}')`;
  const desc = `student ${fmtShape(sf.shape)} vs teacher ${fmtShape(tf.shape)}`;
  if (p.kind.startsWith('attention')) {
    if (sf.ndim !== 4 || tf.ndim !== 4) throw new ShapeError(op, `attention maps must be (B, H, T, T), got ${desc}`);
    const sameButHeads = sf.shape[0] === tf.shape[0] && sf.shape[2] === tf.shape[2] && sf.shape[3] === tf.shape[3];
    if (!shapeEquals(sf.shape, tf.shape) && !(p.meanOverHeads && sameButHeads)) {
      throw new ShapeError(op, `attention maps differ: ${desc}${sameButHeads ? '; pass meanOverHeads: true to compare head-averaged maps' : ''}`);
    }
    return null;
  }
  if (sf.ndim !== tf.ndim || sf.ndim === 0) throw new ShapeError(op, `features must have the same rank: ${desc}`);
  const d = p.dim < 0 ? p.dim + sf.ndim : p.dim;
  if (d < 0 || d >= sf.ndim) throw new ShapeError(op, `dim ${p.dim} is out of range for ${desc}`);
  const others = (s: readonly number[]): number[] => s.filter((_, k) => k !== d);
  if (!shapeEquals(others(sf.shape), others(tf.shape))) {
    throw new ShapeError(op, `features differ outside the feature axis ${p.dim}: ${desc}; pick layers whose outputs line up (or set dim)`);
  }
  if (p.kind === 'cosine' && d !== sf.ndim - 1) throw new ShapeError(op, `the cosine loss compares vectors along the last axis; dim ${p.dim} is not the last axis of ${desc}`);
  const sw = sf.shape[d]!, tw = tf.shape[d]!;
  if (p.projectorOpt instanceof FeatureProjector) {
    const pr = p.projectorOpt;
    if (pr.inFeatures !== sw || pr.outFeatures !== tw || (pr.dim < 0 ? pr.dim + sf.ndim : pr.dim) !== d) {
      throw new ShapeError(op, `the given projector maps ${pr.inFeatures} -> ${pr.outFeatures} along axis ${pr.dim}, but the features need ${sw} -> ${tw} along axis ${p.dim} (${desc})`);
    }
    return pr;
  }
  if (sw === tw) return null;
  if (p.projectorOpt === 'none') throw new ShapeError(op, `feature widths differ (${sw} vs ${tw}, ${desc}) and projector is 'none'; use projector: 'auto' to learn a ${sw} -> ${tw} map`);
  return new FeatureProjector(sw, tw, { dim: p.dim, dtype: sf.dtype === 'float64' ? 'float64' : 'float32' });
}

/** The pair's features after its transforms (the teacher's under noGrad). */
function pairFeatures(p: ResolvedPair, i: number, sf: Tensor, tf: Tensor): [Tensor, Tensor] {
  const run = (side: 'student' | 'teacher', fn: ((t: Tensor) => Tensor) | null, t: Tensor): Tensor => {
    if (!fn) return t;
    const out = side === 'teacher' ? noGrad(() => fn(t)) : fn(t);
    if (!(out instanceof Tensor)) throw new TensorslimError(`${OP}: features[${i}]`, `${side}Transform returned ${typeof out}, not a Tensor`);
    return out;
  };
  return [run('student', p.studentTransform, sf), run('teacher', p.teacherTransform, tf)];
}

function pairLoss(p: ResolvedPair, sf: Tensor, tf: Tensor): Tensor {
  switch (p.kind) {
    case 'mse': return featureLoss(sf, tf, { projector: p.projector });
    case 'cosine': return cosineLoss(sf, tf, { projector: p.projector });
    case 'attention-mse': return attentionLoss(sf, tf, { kind: 'mse', meanOverHeads: p.meanOverHeads });
    case 'attention-kl': return attentionLoss(sf, tf, { kind: 'kl', meanOverHeads: p.meanOverHeads });
  }
}
