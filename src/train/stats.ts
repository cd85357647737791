// Summary statistics of repeated timings, shared by train's measureLatency and the benchmarks of
// src/bench (which sit above train and import it from here).

/**
 * Median of a non-empty list (the mean of the two middle values for an even length).
 *
 * @example
 * median([3, 1, 2]);     // 2
 * median([4, 1, 3, 2]);  // 2.5
 */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
