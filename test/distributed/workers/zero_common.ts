// Optimizer settings shared by the ZeRO worker and its single-process reference (zero.test.ts).
export const ZERO_OPTS = {
  sgd: { lr: 0.1, momentum: 0.9, weightDecay: 0.01 },
  adam: { lr: 0.01, weightDecay: 0.01 },
  adamw: { lr: 0.01, weightDecay: 0.1 },
} as const;
/** Gradient clipping threshold of the 'clip' runs: below the MLP's gradient norms, so it clips. */
export const CLIP_NORM = 0.05;
