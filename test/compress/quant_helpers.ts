// Shared fixture loading for the quantization tests (fixtures: tools/fixtures/quant_fixtures.py).
import { readFileSync } from 'node:fs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const fx: Json = JSON.parse(readFileSync(new URL('../fixtures/quant.json', import.meta.url), 'utf8'));

/** Indices where two arrays differ (for readable assertion messages). */
export function mismatches(a: ArrayLike<number>, b: ArrayLike<number>, tol = 0): number[] {
  const out: number[] = [];
  if (a.length !== b.length) return [-1];
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= tol) && !(Object.is(a[i], b[i]))) out.push(i);
  }
  return out;
}
