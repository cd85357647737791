// The trainer callback the CLI uses to show progress: a bar (or plain lines) per epoch with loss,
// throughput and ETA on stderr, and one summary line per epoch.

import type { Tensor } from '../core/tensor.js';
import type { Callback, EpochMetrics } from '../train/index.js';
import type { CliContext } from './command.js';
import { fmtPct, fmtSeconds } from './output.js';
import { createProgress, type Progress } from './progress.js';

/**
 * A callback drawing per-epoch progress on stderr and writing one line per epoch with `say`.
 *
 * @example
 * const cb = progressCallback(ctx, (l) => ctx.err(l), 'mlp');
 * await runTraining({ ..., callbacks: [cb] });
 */
export function progressCallback(ctx: CliContext, say: (line: string) => void, label = ''): Callback<Tensor[]> {
  let bar: Progress | null = null;
  const prefix = label ? `${label} ` : '';
  return {
    onEpochBegin(t) {
      const remaining = t.totalSteps - t.step + t.stepInEpoch;
      const total = Math.min(t.stepsPerEpoch, remaining);
      bar = createProgress(ctx, { label: `${prefix}epoch ${t.epoch + 1}/${t.totalEpochs}`, total });
      if (t.stepInEpoch > 0) bar.update(t.stepInEpoch);
    },
    onStepEnd(t) {
      if (bar === null) {
        // resumed mid-epoch: onEpochBegin was not called for this epoch
        bar = createProgress(ctx, { label: `${prefix}epoch ${t.epoch + 1}/${t.totalEpochs}`, total: Math.min(t.stepsPerEpoch, t.totalSteps - t.step + t.stepInEpoch) });
      }
      bar.update(t.stepInEpoch, { loss: t.epochLoss, throughput: t.epochSamplesPerSecond });
    },
    onEpochEnd(t, m) {
      bar?.stop();
      bar = null;
      say(`${prefix}${epochLine(m, t.totalEpochs)}`);
    },
    onTrainEnd() { bar?.stop(); bar = null; },
  };
}

/**
 * One line of epoch metrics.
 *
 * @example
 * epochLine(metrics, 3); // 'epoch 1/3  train loss 0.7235 acc 81.00%  test loss 0.4101 acc 88.30%  851 samples/s  9.40 s'
 */
export function epochLine(m: EpochMetrics, totalEpochs: number): string {
  const parts = [`epoch ${m.epoch + 1}/${totalEpochs}`, `train loss ${m.trainLoss.toFixed(4)}${Number.isFinite(m.trainAccuracy) ? ` acc ${fmtPct(m.trainAccuracy)}` : ''}`];
  if (m.eval) parts.push(`test loss ${m.eval.loss.toFixed(4)} acc ${fmtPct(m.eval.accuracy)}`);
  parts.push(`${Math.round(m.samplesPerSecond)} samples/s`, fmtSeconds(m.seconds));
  return parts.join('  ');
}
