// The distillation workflow: distil a trained teacher (a model in memory) into a fresh student preset
// through the Trainer (lossFn: distiller.lossFn + distillCallback), so progress, evaluation and
// checkpoints behave like `train` (src/train/run.ts). The demo's distillation stage runs it;
// `tensorslim distill` does the same steps on a teacher loaded from a checkpoint, with augmentation
// on top. Bad pairs (different output sizes, inputs that do not fit the data) are refused before any
// training step. It never prints: progress goes through `callbacks` and `onStart`.

import { manualSeed } from '../../core/random.js';
import type { Tensor } from '../../core/tensor.js';
import { DataLoader, type ImageClassificationData } from '../../data/index.js';
import { createModel, listModels, type ModelConfig, type PresetModel } from '../../models/index.js';
import {
  Trainer, checkpointSaver, evaluate, evaluateOn, makeOptimizer,
  type Callback, type EvalMetrics, type FitResult,
} from '../../train/index.js';
import { distillCallback } from './callback.js';
import { Distiller, type DistillerStats } from './distiller.js';
import { DEFAULT_ALPHA } from './losses.js';
import { withTeacherLogits } from './targets.js';

/** Options of runDistillation. */
export interface DistillRunOptions {
  /** The trained teacher (put in eval mode, run without gradients, never changed). */
  teacher: PresetModel;
  /** Student preset name ('mlp-tiny', 'mlp-small', ...). Created fresh with `seed`. */
  student: string;
  data: ImageClassificationData;
  /** Softmax temperature T > 0 (default distill.DEFAULT_TEMPERATURE, 4). */
  temperature?: number;
  /** Weight of the soft-target term in [0, 1] (default distill.DEFAULT_ALPHA). */
  alpha?: number;
  /** Epochs to train the student (default 1 unless `steps` is given). */
  epochs?: number;
  /** Optimizer steps instead of epochs. */
  steps?: number;
  /** Default 64. */
  batchSize?: number;
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /** Seeds the student's weights and the data order (default 0), as `train --seed` does. */
  seed?: number;
  /** Extra trainer callbacks (e.g. progress). */
  callbacks?: readonly Callback<Tensor[]>[];
  /** Student checkpoint written after every epoch (safetensors, atomic). */
  out?: string;
  /** Called once everything is built and checked, before the first step. */
  onStart?: (plan: DistillPlan) => void;
}

/** What runDistillation is about to do. */
export interface DistillPlan {
  teacher: PresetModel;
  student: PresetModel;
  distiller: Distiller;
  trainer: Trainer<Tensor[]>;
  /** The teacher's test metrics (evaluated before training). */
  teacherEval: EvalMetrics;
  teacherParams: number;
  studentParams: number;
}

/** What runDistillation returns. */
export interface DistillRunResult {
  student: PresetModel;
  fit: FitResult;
  /** The student's test metrics after training. */
  test: EvalMetrics;
  teacherEval: EvalMetrics;
  teacherParams: number;
  studentParams: number;
  temperature: number;
  alpha: number;
  /** Optimizer steps taken. */
  steps: number;
  /** Teacher forward passes and cache use during training. */
  stats: DistillerStats;
}

function inputFeatures(c: ModelConfig): number {
  return c.arch === 'mlp' ? c.inFeatures : c.inputShape.reduce((a, b) => a * b, 1);
}

/**
 * Check that `teacher` and a `studentPreset` student can be distilled on `data`: known preset, same
 * output size, inputs that fit the data. Returns an error message naming the problem and the fix,
 * or null when the pair is fine.
 *
 * @example
 * distill.distillPairProblem(loadModel('teacher.safetensors').config, 'mlp-tiny', loadImageData('mnist'));  // null
 */
export function distillPairProblem(tc: ModelConfig, studentPreset: string, data: ImageClassificationData): string | null {
  const presets = listModels({ task: 'image-classification' });
  const sp = presets.find((p) => p.name === studentPreset);
  if (sp === undefined) return `unknown student preset '${studentPreset}'; image-classifier presets: ${presets.map((p) => p.name).join(', ')}`;
  const sc = sp.config;
  const features = data.info.inputShape.reduce((a, b) => a * b, 1);
  const tname = tc.preset ?? tc.arch;
  if (sc.numClasses !== tc.numClasses) return `teacher and student output sizes differ: teacher ${tname} has ${tc.numClasses} outputs, student ${studentPreset} ${sc.numClasses}; pick a student with ${tc.numClasses} outputs`;
  if (inputFeatures(tc) !== features) return `the teacher ${tname} takes ${inputFeatures(tc)} input features but ${data.info.name} samples have ${features}; distill on the dataset the teacher was trained on`;
  if (tc.numClasses !== data.info.numClasses) return `the teacher ${tname} has ${tc.numClasses} outputs but ${data.info.name} has ${data.info.numClasses} classes`;
  if (inputFeatures(sc) !== features) return `the student ${studentPreset} takes ${inputFeatures(sc)} input features but ${data.info.name} samples have ${features}`;
  return null;
}

/**
 * Distill `teacher` into a fresh `student` preset (Hinton et al. 2015: alpha * T^2 * KL of the
 * softened outputs + (1 - alpha) * cross-entropy) with Adam through the Trainer, evaluating on the
 * test split each epoch. The student starts from the same weights as `train --model <student>
 * --seed <seed>` and sees the data in the same order, so a runTraining of the same preset, seed and
 * budget is its "trained alone" baseline. Throws before training for a bad pair or bad T / alpha.
 *
 * @example
 * const teacher = loadModel('teacher.safetensors');     // written by tensorslim train --out
 * const r = await distill.runDistillation({ teacher, student: 'mlp-tiny', data: loadImageData('mnist'), temperature: 4, alpha: 0.9, epochs: 3 });
 * r.test.accuracy;  // the distilled student's test accuracy
 */
export async function runDistillation(o: DistillRunOptions): Promise<DistillRunResult> {
  const problem = distillPairProblem(o.teacher.config, o.student, o.data);
  if (problem !== null) throw new Error(`distill: ${problem}`);
  if (o.epochs !== undefined && o.steps !== undefined) throw new Error('distill: give epochs or steps, not both');
  const seed = o.seed ?? 0;
  const batchSize = o.batchSize ?? 64;
  const lr = o.lr ?? 1e-3;
  manualSeed(seed);                 // same initial student as runTraining({ model: student, seed })
  const student = createModel(o.student);
  const alpha = o.alpha ?? DEFAULT_ALPHA;
  // the teacher's logits are computed once per training sample (withTeacherLogits below), not once per
  // batch per epoch: the shuffled data defeats the Distiller's per-batch cache
  const distiller = new Distiller({
    teacher: o.teacher, student, alpha, precomputedTeacher: alpha > 0,
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
  });
  try {
    distiller.prepare(o.data.train.getBatch([0, 1])[0]!);   // probe: output shapes checked before training
    const teacherEval = evaluateOn(o.teacher, o.data);
    const optimizer = makeOptimizer('adam', distiller.parameters(), { lr });
    // [x, y, teacher logits]: same length and seed as the plain training set, so the same shuffled
    // order as runTraining({ seed }) (the 'student alone' baseline)
    const transfer = alpha > 0 ? withTeacherLogits(o.teacher, o.data.train) : o.data.train;
    const trainLoader = new DataLoader(transfer, { batchSize, shuffle: true, seed });
    const evalLoader = new DataLoader(o.data.test, { batchSize: 1000 });
    const trainer = new Trainer<Tensor[]>({
      model: student, optimizer, scheduler: null, trainLoader, evalLoader,
      ...(o.steps !== undefined ? { steps: o.steps } : { epochs: o.epochs ?? 1 }),
      lossFn: distiller.lossFn,
      callbacks: [distillCallback(distiller), ...(o.callbacks ?? [])],
      ...(o.out !== undefined ? { checkpointPath: o.out, save: checkpointSaver({ optimizer, scheduler: null, config: student.config }) } : {}),
    });
    const teacherParams = o.teacher.numParameters();
    const studentParams = student.numParameters();
    o.onStart?.({ teacher: o.teacher, student, distiller, trainer, teacherEval, teacherParams, studentParams });
    const fit = await trainer.fit();
    const last = fit.history[fit.history.length - 1];
    const test = fit.finalEval !== null && last !== undefined && last.step === trainer.step ? fit.finalEval : evaluate(student, evalLoader);
    return {
      student, fit, test, teacherEval, teacherParams, studentParams,
      temperature: distiller.temperature, alpha: distiller.alpha, steps: trainer.step, stats: distiller.stats(),
    };
  } finally {
    distiller.remove();
  }
}
