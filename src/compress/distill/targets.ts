// Precomputed soft targets: the teacher's logits for every sample of a dataset, stored as one more
// tensor of the dataset, so distillation on shuffled data runs the teacher once per sample in all
// (Hinton et al.'s "transfer set"), instead of once per batch per epoch. Pair with a Distiller made
// with precomputedTeacher: true.

import { fmtShape } from '../../backend/shape.js';
import { noGrad } from '../../core/engine.js';
import { ShapeError, TensorslimError } from '../../core/errors.js';
import { Tensor } from '../../core/tensor.js';
import * as ops from '../../ops/index.js';
import { Module, type TensorModule } from '../../nn/index.js';
import { TensorDataset } from '../../data/index.js';

/**
 * A copy of `dataset` ([x, y]) with the teacher's logits on x appended as a third tensor: rows
 * [x, y, teacherLogits], where a Distiller with precomputedTeacher reads them. The teacher runs in eval mode under noGrad, `batchSize` samples at a
 * time (its modes are restored). Only for a transfer set that is not augmented: the logits belong
 * to the stored images.
 *
 * @example
 * const transfer = withTeacherLogits(teacher, data.train);          // one teacher pass
 * const d = new Distiller({ teacher, student, temperature: 2, alpha: 1, precomputedTeacher: true });
 * const loader = new DataLoader(transfer, { batchSize: 128, shuffle: true });  // yields [x, y, logits]
 */
export function withTeacherLogits(teacher: TensorModule, dataset: TensorDataset, opts: { batchSize?: number } = {}): TensorDataset {
  const op = 'withTeacherLogits';
  if (!(teacher instanceof Module)) throw new TensorslimError(op, 'teacher must be a Module');
  if (!(dataset instanceof TensorDataset)) throw new TensorslimError(op, 'dataset must be a TensorDataset ([x, y] tensors, as the image datasets are)');
  if (dataset.tensors.length !== 2) {
    throw new TensorslimError(op, `the dataset must hold exactly [x, y] (inputs and labels), got ${dataset.tensors.length} tensors: the logits go third, where the Distiller reads them`);
  }
  const batchSize = opts.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new TensorslimError(op, `batchSize must be a positive integer, got ${String(opts.batchSize)}`);
  const x = dataset.tensors[0]!;
  const n = dataset.length;
  if (n === 0) throw new TensorslimError(op, 'the dataset is empty');
  const modes = teacher.modules().map((m) => m.training);
  const parts: Tensor[] = [];
  try {
    teacher.eval();
    noGrad(() => {
      for (let i = 0; i < n; i += batchSize) {
        const out: unknown = teacher.call(ops.narrow(x, 0, i, Math.min(batchSize, n - i)));
        if (!(out instanceof Tensor)) throw new TensorslimError(op, `the teacher (${teacher.constructor.name}) returned ${out === null ? 'null' : typeof out}, not a Tensor of logits`);
        if (out.ndim < 1 || out.shape[0] !== Math.min(batchSize, n - i)) {
          throw new ShapeError(op, `the teacher's output ${fmtShape(out.shape)} does not have one row per sample of its input (${Math.min(batchSize, n - i)})`);
        }
        parts.push(out);
      }
    });
  } finally {
    teacher.modules().forEach((m, i) => { m.training = modes[i]!; });
  }
  const logits = parts.length === 1 ? parts[0]! : ops.cat(parts, 0);
  return new TensorDataset(...dataset.tensors, logits);
}
