// Evaluation and the default classification loss. A batch is `[x, y]` (what TensorDataset and the
// DataLoader give) or `{x, y}`; the model maps x to logits (N, C) and y holds int32 class indices.

import type { Tensor } from '../core/tensor.js';
import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { fmtShape } from '../backend/shape.js';
import { F, type AnyModule, type Module } from '../nn/index.js';
import type { EvalMetrics } from './callbacks.js';

/** What a loss function returns: the scalar loss, and optionally logits and labels for accuracy. */
export interface LossOutput {
  /** Mean loss over the batch (a 0-d tensor attached to the graph). */
  loss: Tensor;
  /** Model outputs (N, C) for accuracy. */
  output?: Tensor;
  /** Labels (N,) for accuracy. */
  target?: Tensor;
}

/**
 * Split a batch into input and target: `[x, y]`, `[x, y, ...]` or `{x, y}`.
 *
 * @example
 * const { x, y } = splitBatch([xb, yb]);
 */
export function splitBatch(batch: unknown): { x: Tensor; y: Tensor } {
  if (Array.isArray(batch) && batch.length >= 2) return { x: batch[0] as Tensor, y: batch[1] as Tensor };
  if (batch !== null && typeof batch === 'object' && 'x' in batch && 'y' in batch) {
    const b = batch as { x: Tensor; y: Tensor };
    return { x: b.x, y: b.y };
  }
  throw new TensorslimError('train', 'a batch must be [x, y] or {x, y}; pass lossFn to train on other batch shapes');
}

/** Number of samples in a batch (its first tensor's leading dimension). @example batchSizeOf([xb, yb]) */
export function batchSizeOf(batch: unknown): number {
  const first = Array.isArray(batch) ? batch[0] : batch !== null && typeof batch === 'object' && 'x' in batch ? (batch as { x: unknown }).x : undefined;
  const shape = (first as { shape?: readonly number[] } | undefined)?.shape;
  return shape !== undefined && shape.length > 0 ? shape[0]! : 1;
}

/**
 * The default loss: cross-entropy of model(x) against the labels y.
 *
 * @example
 * const { loss, output } = classificationLoss(model, [xb, yb]);
 * loss.backward();
 */
export function classificationLoss(model: AnyModule, batch: unknown): LossOutput {
  const { x, y } = splitBatch(batch);
  const output = (model as Module<[Tensor], Tensor>).call(x);
  if (output.ndim !== 2 || output.shape[0] !== y.shape[0]) {
    throw new TensorslimError('train', `the model's output ${fmtShape(output.shape)} does not fit labels ${fmtShape(y.shape)}: expected logits (N, classes) for N labels`);
  }
  return { loss: F.crossEntropy(output, y), output, target: y };
}

/**
 * Count correct argmax predictions: output (N, C) against labels (N,).
 *
 * @example
 * countCorrect(logits, labels);  // e.g. 57 of 64
 */
export function countCorrect(output: Tensor, target: Tensor): number {
  if (output.ndim !== 2 || target.ndim !== 1 || output.shape[0] !== target.shape[0]) return NaN;
  const o = output.dataSync();
  const t = target.dataSync();
  const [n, c] = output.shape as [number, number];
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bv = o[i * c]!;
    for (let j = 1; j < c; j++) { const v = o[i * c + j]!; if (v > bv) { bv = v; best = j; } }
    if (best === t[i]) correct++;
  }
  return correct;
}

/**
 * Mean loss and accuracy of `model` over `loader`, in eval mode under noGrad (the training mode is
 * restored afterwards). `lossFn` defaults to cross-entropy.
 *
 * @example
 * const { loss, accuracy } = evaluate(model, testLoader);
 */
export function evaluate<B>(model: AnyModule, loader: Iterable<B>, opts: { lossFn?: (model: AnyModule, batch: B) => LossOutput } = {}): EvalMetrics {
  const lossFn = opts.lossFn ?? classificationLoss;
  const wasTraining = model.training;
  const t0 = performance.now();
  let lossSum = 0;
  let samples = 0;
  let correct = 0;
  let counted = 0;
  model.eval();
  try {
    noGrad(() => {
      for (const batch of loader) {
        const out = lossFn(model, batch);
        const n = batchSizeOf(batch);
        lossSum += out.loss.item() * n;
        samples += n;
        if (out.output && out.target) {
          const c = countCorrect(out.output, out.target);
          if (Number.isFinite(c)) { correct += c; counted += n; }
        }
      }
    });
  } finally {
    model.train(wasTraining);
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    loss: samples > 0 ? lossSum / samples : NaN,
    accuracy: counted > 0 ? correct / counted : NaN,
    samples,
    seconds,
    samplesPerSecond: seconds > 0 ? samples / seconds : 0,
  };
}
