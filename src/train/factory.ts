// Optimizers and LR schedules by name, for the CLI and for scripts that take names from a config.

import { TensorslimError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { Adam, AdamW, CosineAnnealingLR, CosineWithWarmupLR, SGD, type LRScheduler, type Optimizer } from '../optim/index.js';

/** Optimizer names accepted by makeOptimizer. */
export const OPTIMIZERS = ['sgd', 'adam', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** LR schedule names accepted by makeScheduler. */
export const SCHEDULES = ['constant', 'cosine', 'warmup-cosine'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

/**
 * Build an optimizer by name. `sgd` uses momentum 0.9 unless `momentum` is given; `adamw` uses
 * weight decay 0.01 unless `weightDecay` is given (PyTorch's AdamW default).
 *
 * @example
 * const opt = makeOptimizer('adam', model.parameters(), { lr: 1e-3 });
 */
export function makeOptimizer(name: string, params: Iterable<Tensor>, o: { lr: number; weightDecay?: number; momentum?: number }): Optimizer {
  switch (name) {
    case 'sgd': return new SGD(params, { lr: o.lr, momentum: o.momentum ?? 0.9, weightDecay: o.weightDecay ?? 0 });
    case 'adam': return new Adam(params, { lr: o.lr, weightDecay: o.weightDecay ?? 0 });
    case 'adamw': return new AdamW(params, { lr: o.lr, weightDecay: o.weightDecay ?? 0.01 });
    default: throw new TensorslimError('makeOptimizer', `unknown optimizer '${name}'; choose one of ${OPTIMIZERS.join(', ')}`);
  }
}

/**
 * Build a per-step LR schedule by name: `constant` (null: no scheduler), `cosine` (cosine decay to
 * 0 over totalSteps), `warmup-cosine` (linear warmup over warmupSteps, default 5% of the steps, then cosine).
 *
 * @example
 * const sched = makeScheduler('cosine', opt, { totalSteps: 1250 });
 */
export function makeScheduler(name: string, optimizer: Optimizer, o: { totalSteps: number; warmupSteps?: number }): LRScheduler | null {
  switch (name) {
    case 'constant': return null;
    case 'cosine': return new CosineAnnealingLR(optimizer, o.totalSteps);
    case 'warmup-cosine': {
      const warmupSteps = o.warmupSteps ?? Math.max(1, Math.floor(o.totalSteps * 0.05));
      return new CosineWithWarmupLR(optimizer, { warmupSteps, totalSteps: Math.max(o.totalSteps, warmupSteps) });
    }
    default: throw new TensorslimError('makeScheduler', `unknown schedule '${name}'; choose one of ${SCHEDULES.join(', ')}`);
  }
}
