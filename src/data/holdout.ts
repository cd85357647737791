// The validation split held out of an image dataset's training set: one seeded permutation, the
// last `fraction` of it held out. `tensorslim quantize` validates on it (compress/quant/run.ts), and
// `train` / `prune --validation-fraction X` train on the rest only, so a choice quantize makes on
// validation (QAT's epoch, Deep Compression's recipe) is made on samples no step trained on.

import { TensorslimError } from '../core/errors.js';
import { defaultGenerator, manualSeed } from '../core/random.js';
import { TensorDataset } from './dataset.js';
import type { ImageClassificationData } from './registry.js';

/**
 * Indices of the fit and validation parts of a training set of `n` samples: a permutation seeded
 * with `seed + 7919` (the default generator's state is restored), its last round(n * fraction)
 * entries (at least 1, at most n - 1) held out.
 * @example const { fit, validation } = validationSplitIndices(60000, 0.1, 0);  // 54000 and 6000 indices
 */
export function validationSplitIndices(n: number, fraction: number, seed: number): { fit: Int32Array; validation: Int32Array } {
  if (!Number.isInteger(n) || n < 2) throw new TensorslimError('validationSplit', `a training set of ${n} samples cannot be split; it needs at least 2`);
  if (!(fraction > 0 && fraction < 1)) throw new TensorslimError('validationSplit', `fraction must be in (0, 1), got ${fraction}; e.g. 0.1 holds out a tenth`);
  const nVal = Math.max(1, Math.min(n - 1, Math.round(n * fraction)));
  const rng = defaultGenerator.getState();
  let perm: Int32Array;
  try {
    manualSeed(seed + 7919);
    perm = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = defaultGenerator.randint(0, i + 1);
      const t = perm[i]!; perm[i] = perm[j]!; perm[j] = t;
    }
  } finally { defaultGenerator.setState(rng); }
  return { fit: perm.subarray(0, n - nVal), validation: perm.subarray(n - nVal) };
}

/**
 * The dataset with its validation split (validationSplitIndices) removed from the training set:
 * `train` holds the fit rows only (copied, in permutation order), `test` is unchanged. What
 * `train` and `prune --validation-fraction X --seed S` train on, so `quantize --validation-fraction X
 * --seed S` validates on unseen samples.
 * @example const data = withoutValidation(loadImageData('fashion-mnist'), 0.1, 0);  // 54000 training samples
 */
export function withoutValidation(data: ImageClassificationData, fraction: number, seed: number): ImageClassificationData {
  const { fit } = validationSplitIndices(data.train.length, fraction, seed);
  return { ...data, train: new TensorDataset(...data.train.getBatch(fit)), info: { ...data.info, trainSize: fit.length } };
}
