// Shared helpers for the core and ops unit tests: read a tensor's values and compare them with
// hand-derived expectations. Nothing here computes an expected value with tensorslim itself.

import assert from 'node:assert/strict';
import type { Tensor } from '../../src/index.js';

/** The tensor's values as a plain row-major array. */
export function vals(t: Tensor): number[] {
  return Array.from(t.dataSync());
}

/** |actual - expected| <= atol + rtol * |expected| elementwise (NaN matches NaN, infinities must be equal). */
export function assertClose(actual: Tensor | ArrayLike<number>, expected: readonly number[], what = 'value', rtol = 1e-6, atol = 1e-6): void {
  const a = 'dataSync' in actual ? actual.dataSync() : actual;
  assert.equal(a.length, expected.length, `${what}: length ${a.length} != ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const x = a[i]!, e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(x)) continue;
    if (!Number.isFinite(e) && x === e) continue;
    if (!(Math.abs(x - e) <= atol + rtol * Math.abs(e))) assert.fail(`${what}[${i}]: got ${x}, expected ${e}`);
  }
}

/** Row-major flat values of f(i0, i1, ...) over `shape`: builds an expected array from a plain-JS formula. */
export function tabulate(shape: readonly number[], f: (...idx: number[]) => number): number[] {
  const out: number[] = [];
  const idx = new Array<number>(shape.length).fill(0);
  const total = shape.reduce((p, d) => p * d, 1);
  for (let n = 0; n < total; n++) {
    out.push(f(...idx));
    for (let ax = shape.length - 1; ax >= 0; ax--) {
      idx[ax]!++;
      if (idx[ax]! < shape[ax]!) break;
      idx[ax] = 0;
    }
  }
  return out;
}

/** Snapshot of what a failing op must leave untouched. */
export function snapshot(t: Tensor): { data: number[]; shape: number[]; strides: number[]; offset: number; version: number; requiresGrad: boolean; gradFn: unknown } {
  return {
    data: Array.from(t.data), shape: [...t.shape], strides: [...t.strides], offset: t.offset,
    version: t.version, requiresGrad: t.requiresGrad, gradFn: t.gradFn,
  };
}
