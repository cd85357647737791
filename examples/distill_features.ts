// Hidden-state (feature) distillation between MLPs of different widths, FitNets / TinyBERT style:
// the student's 64-wide hidden layer is mapped by a learned FeatureProjector (64 -> 100) onto the
// teacher's 100-wide hidden layer and pulled towards it with an MSE, on top of Hinton's soft-target
// loss. Trained by the library's runTraining (src/train): the projector is not part of the student,
// so it goes to the optimizer through `extraParameters`, and the Distiller is built in `onStart`
// around the student that runTraining creates (same seed, same initial weights as the baseline).
//
//   npx tsx examples/distill_features.ts                 # embedded MNIST digits, ~1 min on 2 cores (native)
//   npx tsx examples/distill_features.ts --steps 60      # a quick check (the test runs this)
//   options: --epochs 5 --teacher-epochs 3 --temperature 2 --alpha 0.5 --feature-weight 1 --seed 1
//
// Prints the feature loss per epoch (it falls), and the test accuracy of the teacher, of the same
// student trained alone and of the feature-distilled student.

import type { Tensor } from '../src/index.js';
import { distill } from '../src/compress/index.js';
import { loadImageData, runTraining, type Callback, type TrainerView } from '../src/train/index.js';

function flag(name: string, fallback: number | undefined): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v)) throw new Error(`distill_features example: --${name} needs a number, got ${process.argv[i + 1]}`);
  return v;
}
const steps = flag('steps', undefined);
const epochs = flag('epochs', 5)!;
const teacherEpochs = flag('teacher-epochs', steps !== undefined ? 1 : 3)!;
const temperature = flag('temperature', 2)!;
const alpha = flag('alpha', 0.5)!;
const featureWeight = flag('feature-weight', 1)!;
const seed = flag('seed', 1)!;
const budget = steps !== undefined ? { steps } : { epochs };

const data = loadImageData('mnist');   // the embedded digits: 8,000 train / 2,000 test
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

// Teacher: the 'mlp' preset, 784-300-100-10. Layers: 0 Flatten, 1 Linear, 2 ReLU, 3 Linear, 4 ReLU, 5 Linear.
const teacherRun = await runTraining({ model: 'mlp', dataset: data, epochs: teacherEpochs, seed: 0 });
const teacher = teacherRun.model;
// Student: 'mlp-tiny', 784-64-10. Layers: 0 Flatten, 1 Linear, 2 ReLU, 3 Linear.
// Pair the student's hidden ReLU '2' (64 wide) with the teacher's last hidden ReLU '4' (100 wide).
const projector = new distill.FeatureProjector(64, 100);

// The student alone: same preset, seed, data order, optimizer and budget.
const alone = await runTraining({ model: 'mlp-tiny', dataset: data, ...budget, seed });

let distiller: distill.Distiller | null = null;
const d = (): distill.Distiller => {
  if (!distiller) throw new Error('the distiller is built in onStart, before the first step');
  return distiller;
};
// Per-epoch means of the loss terms, from the Distiller's LossParts.
let sums = { n: 0, kd: 0, ce: 0, feature: 0 };
const perEpoch: { kd: number; ce: number; feature: number; testAccuracy: number }[] = [];
const stepFeature: number[] = [];
let checked = false;
const lossFn = (model: unknown, batch: Tensor[], trainer: TrainerView): { loss: Tensor; output: Tensor; target: Tensor } => {
  const { loss, parts, logits } = d().computeLoss(batch);
  if (!checked) { d().checkOptimizer(trainer.optimizer); checked = true; }   // the projector is in the optimizer
  const n = batch[0]!.shape[0]!;
  stepFeature.push(parts.features[0]!);
  sums.n += n; sums.kd += (parts.kd ?? 0) * n; sums.ce += (parts.ce ?? 0) * n; sums.feature += parts.features[0]! * n;
  return { loss, output: logits, target: batch[1]! };
};
// distillCallback's work (teacher in eval mode, cache epochs), created lazily like the distiller.
const callback: Callback<Tensor[]> = {
  onTrainBegin(): void { d().teacher.eval(); },
  onEpochBegin(): void { d().beginEpoch(); sums = { n: 0, kd: 0, ce: 0, feature: 0 }; },
  onEpochEnd(_t, m): void {
    d().endEpoch();
    const e = { kd: sums.kd / sums.n, ce: sums.ce / sums.n, feature: sums.feature / sums.n, testAccuracy: m.eval?.accuracy ?? NaN };
    perEpoch.push(e);
    console.log(`epoch ${m.epoch + 1}: feature MSE ${e.feature.toFixed(4)}  soft-target KL ${e.kd.toFixed(4)}  label CE ${e.ce.toFixed(4)}  test ${pct(e.testAccuracy)}`);
  },
};

const distilled = await runTraining({
  model: 'mlp-tiny', dataset: data, ...budget, seed,
  extraParameters: projector.parameters(),   // trained by the same Adam as the student
  onStart: (plan) => {
    distiller = new distill.Distiller({
      teacher, student: plan.model, temperature, alpha,
      features: [{ student: '2', teacher: '4', loss: 'mse', weight: featureWeight, projector }],
    });
  },
  lossFn, callbacks: [callback],
});
d().remove();

const k = Math.max(1, Math.min(20, Math.floor(stepFeature.length / 4)));
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
console.log('');
console.log(`teacher mlp (784-300-100-10), ${teacher.numParameters()} params: ${pct(teacherRun.test.accuracy)}`);
console.log(`student mlp-tiny (784-64-10) alone, ${alone.params} params: ${pct(alone.test.accuracy)}`);
console.log(`student mlp-tiny distilled + hidden state (T=${temperature}, alpha=${alpha}, feature weight ${featureWeight}): ${pct(distilled.test.accuracy)}`);
console.log(`feature MSE (student '2' -> projector 64x100 -> teacher '4'): ${mean(stepFeature.slice(0, k)).toFixed(4)} over the first ${k} steps -> ${mean(stepFeature.slice(-k)).toFixed(4)} over the last ${k} (of ${stepFeature.length})`);
