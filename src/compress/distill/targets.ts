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
import { drawShifts, shiftImages, type BatchTransform } from '../../data/augment.js';

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

/** Options of withShiftedTeacherLogits and shiftWithTeacherLogits. */
export interface ShiftedTeacherLogitsOptions {
  /** Largest shift in pixels along each axis (as randomShift / --augment shift:N), an integer in 1..8. */
  maxShift: number;
  /** Geometry of one image ([H, W], [C, H, W] or a flat square [H*W]; a dataset's info.inputShape). */
  imageShape?: readonly number[];
  /** Samples per teacher call (default 1000). */
  batchSize?: number;
}

function checkMaxShift(op: string, k: unknown): number {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > 8) throw new TensorslimError(op, `maxShift must be an integer in 1..8 (pixels), got ${String(k)}`);
  return k;
}

/**
 * Soft targets for a transfer set augmented by random shifts, computed up front: a copy of
 * `dataset` ([x, y]) with a third tensor (N, S*S, C), S = 2 * maxShift + 1, holding the teacher's
 * eval-mode logits on every shifted version of every image (row (dy + k) * S + (dx + k) for the
 * image shifted by (dx, dy), zero fill). The teacher runs S*S passes over the data, once; pair it
 * with the `shiftWithTeacherLogits` transform, which shifts each image of a batch as randomShift
 * would and picks the matching logits, so the student learns the teacher's outputs on the shifted
 * images it sees (consistent augmentation) at the cost of precomputed targets.
 *
 * @example
 * const transfer = withShiftedTeacherLogits(teacher, data.train, { maxShift: 1, imageShape: data.info.inputShape });
 * const loader = new DataLoader(transfer, { batchSize: 128, shuffle: true, seed: 1,
 *   transform: shiftWithTeacherLogits({ maxShift: 1, imageShape: data.info.inputShape }) });   // [x', y, teacher(x')]
 */
export function withShiftedTeacherLogits(teacher: TensorModule, dataset: TensorDataset, opts: ShiftedTeacherLogitsOptions): TensorDataset {
  const op = 'withShiftedTeacherLogits';
  const k = checkMaxShift(op, opts?.maxShift);
  if (!(dataset instanceof TensorDataset) || dataset.tensors.length !== 2) throw new TensorslimError(op, 'dataset must be a TensorDataset holding exactly [x, y]');
  const x = dataset.tensors[0]!;
  const n = dataset.length;
  const s = 2 * k + 1;
  const shifted: Tensor[] = [];   // one (N, C) tensor per shift, in row order
  for (let dy = -k; dy <= k; dy++) {
    for (let dx = -k; dx <= k; dx++) {
      const xs = shiftImages(x, new Int32Array(n).fill(dx), new Int32Array(n).fill(dy), opts.imageShape);
      shifted.push(withTeacherLogits(teacher, new TensorDataset(xs, dataset.tensors[1]!), opts.batchSize === undefined ? {} : { batchSize: opts.batchSize }).tensors[2]!);
    }
  }
  const c = shifted[0]!.shape[shifted[0]!.ndim - 1]!;
  if (shifted[0]!.ndim !== 2) throw new ShapeError(op, `the teacher must output (N, classes) logits, got ${fmtShape(shifted[0]!.shape)}`);
  const parts = shifted.map((t) => t.dataSync());
  const out = new (parts[0]!.constructor as Float32ArrayConstructor)(n * s * s * c);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < s * s; r++) out.set(parts[r]!.subarray(i * c, (i + 1) * c), (i * s * s + r) * c);
  }
  return new TensorDataset(x, dataset.tensors[1]!, new Tensor(out, shifted[0]!.dtype, [n, s * s, c]));
}

/**
 * The batch transform that goes with withShiftedTeacherLogits: for a batch [x, y, L], shifts every
 * image by the random (dx, dy) that randomShift({ maxShift }) draws from the same generator (so a
 * student trained alone with --augment shift:N on a loader with the same seed sees the same images)
 * and returns [x shifted, y, the teacher's logits for exactly that shift] ((B, C)).
 *
 * @example
 * const t = shiftWithTeacherLogits({ maxShift: 1, imageShape: [1, 28, 28] });
 */
export function shiftWithTeacherLogits(opts: ShiftedTeacherLogitsOptions): BatchTransform<Tensor[]> {
  const op = 'shiftWithTeacherLogits';
  const k = checkMaxShift(op, opts?.maxShift);
  const s = 2 * k + 1;
  return (batch, ctx) => {
    const [x, y, l] = batch;
    if (batch.length !== 3 || !(x instanceof Tensor) || !(l instanceof Tensor) || l.ndim !== 3 || l.shape[0] !== x.shape[0] || l.shape[1] !== s * s) {
      throw new TensorslimError(op, `expected a batch [x, y, logits per shift (B, ${s * s}, C)] from withShiftedTeacherLogits(teacher, data, { maxShift: ${k} }), got ${batch.length} tensors${l instanceof Tensor ? ` with logits ${fmtShape(l.shape)}` : ''}`);
    }
    const b = x.shape[0]!, c = l.shape[2]!;
    const { dx, dy } = drawShifts(ctx.generator, b, k);
    const src = l.dataSync();
    const picked = new (src.constructor as Float32ArrayConstructor)(b * c);
    for (let i = 0; i < b; i++) {
      const r = (dy[i]! + k) * s + (dx[i]! + k);
      picked.set(src.subarray((i * s * s + r) * c, (i * s * s + r + 1) * c), i * c);
    }
    return [shiftImages(x, dx, dy, opts.imageShape), y!, new Tensor(picked, l.dtype, [b, c])];
  };
}
