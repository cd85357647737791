// Shared by workers/comm_hooks.ts and comm_hooks.test.ts.

/** Steps of the hook training run. */
export const TRAIN_STEPS = 30;

/**
 * Rank `rank`'s bucket: 101 float32 values of both signs from 1e-8 to 1e3 (fp16 subnormals and zeros
 * included), the last five rounding ties; 101 elements leave a scalar tail after the 16- and 8-lane
 * vector loops of every chunk.
 */
export function hookInput(rank: number): Float32Array {
  const ties = [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -11, 3 * 2 ** -24, -(1 + 2 ** -9)];
  return Float32Array.from({ length: 101 }, (_, i) => (i >= 96 ? ties[i - 96]! * (rank + 1) : Math.sin(i * 1.7 + rank * 0.9) * 10 ** ((i % 12) - 8)));
}

/** The PowerSGD test bucket of a rank at a step: matrices 5 x 3, 4 x 6 and 3 x 2 x 2, a 4-vector. */
export function powerSgdBucket(rank: number, step: number): { flat: Float32Array; tensors: { name: string; shape: number[]; offset: number; size: number }[] } {
  const shapes = [[5, 3], [4], [4, 6], [3, 2, 2]];
  let offset = 0;
  const tensors = shapes.map((shape, k) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const t = { name: `t${k}`, shape, offset, size };
    offset += size;
    return t;
  });
  // a hash of (rank, step, i): matrices of full rank (a sine of i would give rank 2)
  const value = (i: number): number => {
    let h = Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(rank + 7, 0x85ebca6b) ^ Math.imul(step + 3, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
    return ((h ^ (h >>> 12)) >>> 0) / 2 ** 31 - 1;
  };
  return { flat: Float32Array.from({ length: offset }, (_, i) => value(i)), tensors };
}
