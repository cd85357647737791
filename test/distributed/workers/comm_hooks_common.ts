// Shared by workers/comm_hooks.ts and comm_hooks.test.ts.

/** Steps of the hook training run. */
export const TRAIN_STEPS = 30;

/** Rank `rank`'s bucket: 96 float32 values of both signs from 1e-8 to 1e3 (fp16 subnormals and zeros included). */
export function hookInput(rank: number): Float32Array {
  return Float32Array.from({ length: 96 }, (_, i) => Math.sin(i * 1.7 + rank * 0.9) * 10 ** ((i % 12) - 8));
}
