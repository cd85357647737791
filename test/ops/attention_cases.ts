// Fixtures of the attention tests (test/ops/attention.test.ts, test/native/attention.test.ts): the
// shared cases, strided q/k/v inputs, and the output plus gradients of an attention function on a
// named backend.

import assert from 'node:assert/strict';

import { Generator } from '../../src/core/random.js';
import type { Tensor } from '../../src/core/tensor.js';
import { grad } from '../../src/autograd/index.js';
import * as ops from '../../src/ops/index.js';
import { withBackend } from './kernel_helpers.js';

/** The largest |a - b| elementwise (shapes must match). */
export function maxDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual([...a.shape], [...b.shape]);
  const x = a.dataSync(), y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** One attention case: batch, heads, query and key lengths, head sizes; vRows lays v out like q. */
export interface Shape6 { b: number; h: number; tq: number; tk: number; d: number; dv: number; vRows?: boolean }

/** q, k, v as strided views: q and k split out of one (B, T, 2, H, D) buffer, v transposed. */
export function inputs(s: Shape6, dtype: 'float32' | 'float64', seed: number): [Tensor, Tensor, Tensor] {
  const g = new Generator(seed);
  const q = ops.permute(ops.randn([s.b, s.tq, s.h, s.d], { dtype, generator: g }), [0, 2, 1, 3]);
  const k = ops.permute(ops.randn([s.b, s.tk, s.h, s.d], { dtype, generator: g }), [0, 2, 1, 3]);
  // v transposed (column stride != 1), or, with vRows, laid out like q (rows of Dv contiguous)
  const v = s.vRows === true
    ? ops.permute(ops.randn([s.b, s.tk, s.h, s.dv], { dtype, generator: g }), [0, 2, 1, 3])
    : ops.transpose(ops.randn([s.b, s.h, s.dv, s.tk], { dtype, generator: g }), 2, 3);
  for (const t of [q, k, v]) t.requiresGrad = false;
  return [q, k, v];
}

/** A differentiable copy of `t` (a leaf of its own graph). */
export const leaf = (t: Tensor): Tensor => { const c = ops.clone(t); c.requiresGrad = true; return c; };

/** Output and gradients (for a fixed random cotangent) of attention `fn` on backend `be`. */
export function run(be: string, fn: typeof ops.scaledDotProductAttention, s: Shape6, dtype: 'float32' | 'float64', o: ops.AttentionOptions): Tensor[] {
  return withBackend(be, () => {
    const [q0, k0, v0] = inputs(s, dtype, 11);
    // keep the strided layouts: differentiate w.r.t. the contiguous sources of the views
    const q = leaf(q0), k = leaf(k0), v = leaf(v0);
    const y = fn(ops.permute(ops.contiguous(ops.permute(q, [0, 2, 1, 3])), [0, 2, 1, 3]), k, ops.transpose(ops.contiguous(ops.transpose(v, 2, 3)), 2, 3), o);
    const w = ops.randn(y.shape, { dtype, generator: new Generator(5) });
    const gs = grad([ops.sum(ops.mul(y, w))], [q, k, v]) as Tensor[];
    return [y, ...gs];
  });
}

/** The attention cases shared by the op tests and the native kernel tests. */
export const SHAPES: [string, Shape6][] = [
  ['tiny', { b: 2, h: 3, tq: 5, tk: 5, d: 4, dv: 4 }],
  ['T = 130 spans three key blocks', { b: 1, h: 2, tq: 130, tk: 130, d: 16, dv: 16 }],
  ['fewer queries than keys (cache), D != Dv', { b: 2, h: 1, tq: 67, tk: 200, d: 5, dv: 9 }],
  ['one query', { b: 3, h: 2, tq: 1, tk: 70, d: 8, dv: 8 }],
  // head sizes of 32 and 64 with unit-stride rows: the float32 tile products run on the unpacked
  // operands (AVX-512 path), including 64-row blocks (5 x 12 + 4 rows) and the 2-row / 2-key tails
  ['D = 64, T = 130, row-major q, k, v', { b: 1, h: 2, tq: 130, tk: 130, d: 64, dv: 64, vRows: true }],
  ['D = 32, Dv = 64, fewer queries than keys', { b: 2, h: 1, tq: 70, tk: 96, d: 32, dv: 64, vRows: true }],
];
