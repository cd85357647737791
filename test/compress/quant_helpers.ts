// Shared fixture loading for the quantization tests (fixtures: tools/fixtures/quant_fixtures.py).
import { readFileSync } from 'node:fs';
import { SGD, F, type AnyModule, type Tensor } from '../../src/index.js';

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

/** `steps` SGD steps of MSE between model(x) and target; the first and the last loss (a QAT model must learn). */
export function trainMse(model: AnyModule, x: Tensor, target: Tensor, steps: number, lr = 0.05): { first: number; last: number } {
  const opt = new SGD(model.parameters(), { lr });
  let first = 0, last = 0;
  for (let step = 0; step < steps; step++) {
    opt.zeroGrad();
    const loss = F.mseLoss(model.call(x), target);
    loss.backward();
    opt.step();
    if (step === 0) first = loss.item();
    last = loss.item();
  }
  return { first, last };
}
