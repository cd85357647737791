// The native attention kernels (native/src/attention.cc, bound in src/backends/native/attention.ts):
// scaledDotProductAttention on the native backend (its fused forward and backward) against the
// composed reference on the reference backend in float64, for the cases of test/ops/attention.test.ts
// (causal or not, dropout, T not a multiple of the 64-row blocks, fewer queries than keys, D != Dv,
// strided inputs), in float64 and float32; and the kernels' strided destinations (`into`) against
// their contiguous results on every CPU path, with a destination outside its array refused.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { View } from '../../src/backend/backend.js';
import { getBackend, listBackends } from '../../src/backend/registry.js';
import { Generator } from '../../src/core/random.js';
import type { Tensor } from '../../src/core/tensor.js';
import * as ops from '../../src/ops/index.js';
import { getNativeBackend, setCpuPath, supportedCpuPaths } from '../../src/backends/native/index.js';
import { SHAPES, maxDiff, run } from '../ops/attention_cases.js';
import { withBackend } from '../ops/kernel_helpers.js';
import { nativeSkip } from './helpers.js';

const nativeBackend = getNativeBackend();

type Float = 'float32' | 'float64';

// the native backend carries the fused kernel; without the addon these cases skip (fail in CI)
const fusedBackend = ((): string | null => {
  if (!listBackends().includes('native')) return null;
  return withBackend('native', () => (typeof getBackend().attentionForward === 'function' ? 'native' : null));
})();

// float64 reference results by case label, shared with the every-CPU-path test below
const refs = new Map<string, Tensor[]>();

describe('scaledDotProductAttention on the native backend against the composed reference', { skip: nativeSkip }, () => {
  for (const [name, s] of SHAPES) {
    for (const causal of [false, true]) {
      for (const dropout of [0, 0.25]) {
        const o = { causal, dropout, seed: 1234 };
        const label = `${name}, causal ${causal}, dropout ${dropout}`;
        const ref = run('reference', ops.attentionReference, s, 'float64', o);
        refs.set(label, ref);
        test(`fused native kernel: ${label}`, { skip: nativeSkip }, () => {
          assert.equal(fusedBackend, 'native', 'the native backend lacks attentionForward: rebuild the addon');
          for (const dtype of ['float64', 'float32'] as const) {
            const got = run(fusedBackend!, ops.scaledDotProductAttention, s, dtype, o);
            // float32: the error of a sum of Tk products is ~ sqrt(Tk) eps of the values' size
            const tol = dtype === 'float64' ? 1e-12 : 2e-5;
            got.forEach((t, i) => assert.ok(maxDiff(t, ref[i]!) < tol, `${dtype} ${['out', 'dq', 'dk', 'dv'][i]}: ${maxDiff(t, ref[i]!)}`));
          }
        });
      }
    }
  }
});

// Causal tiles that the diagonal crosses are computed by groups of 32 query rows over the keys they
// see (attention.cc for_row_groups); on the AVX-512 path the groups' tile products run unpacked, on
// the others through the packed GEMM: every path against the float64 reference, float32, for the
// causal cases whose diagonal crosses blocks at offsets 0, 26 and 133 (Tk - Tq), with dropout.
describe('native attention (causal, and one case without the mask) on every CPU path against the composed reference', { skip: nativeSkip }, () => {
  const cases = ['T = 130 spans three key blocks', 'D = 64, T = 130, row-major q, k, v', 'D = 32, Dv = 64, fewer queries than keys', 'fewer queries than keys (cache), D != Dv'];
  test('float32 outputs and gradients, dropout 0 and 0.25', () => {
    const paths = supportedCpuPaths() as ('avx512' | 'avx2' | 'generic')[];
    try {
      for (const path of paths) {
        setCpuPath(path);
        for (const name of cases) {
          const s = SHAPES.find(([n]) => n === name)![1];
          // causal or not: the float32 score rows run on each path's own loops (attn_*_rows_f32)
          for (const causal of name === 'T = 130 spans three key blocks' ? [true, false] : [true]) for (const dropout of [0, 0.25]) {
            const ref = refs.get(`${name}, causal ${causal}, dropout ${dropout}`)!;
            const got = run(fusedBackend!, ops.scaledDotProductAttention, s, 'float32', { causal, dropout, seed: 1234 });
            got.forEach((t, i) => assert.ok(maxDiff(t, ref[i]!) < 2e-5, `${path} ${name} causal ${causal} dropout ${dropout} ${['out', 'dq', 'dk', 'dv'][i]}: ${maxDiff(t, ref[i]!)}`));
          }
        }
      }
    } finally {
      setCpuPath(paths[0]!);
    }
  });
});

describe('native attention kernels: strided destinations (into) on every CPU path', { skip: nativeSkip }, () => {
  test('forward and backward write exactly the contiguous results into packed views', () => {
    const nat = nativeBackend!;
    const paths = supportedCpuPaths() as ('avx512' | 'avx2' | 'generic')[];
    try {
      for (const path of paths) {
        setCpuPath(path);
        for (const dtype of ['float32', 'float64'] as Float[]) {
          const b = 2, t = 67, h = 2, d = 5, c = h * d;
          const qkv = ops.randn([b, t, 3 * c], { dtype, generator: new Generator(1) }).data;
          const dy = ops.randn([b, h, t, d], { dtype, generator: new Generator(2) }).data;
          const part = (data: View['data'], i: number, c3 = 3 * c): View => ({ data, shape: [b, h, t, d], strides: [t * c3, d, c3, 1], offset: i * c });
          const p = { scale: 0.4, causal: true, dropout: 0.1, seed: 17 };
          const plain = nat.attentionForward!(part(qkv, 0), part(qkv, 1), part(qkv, 2), p);
          const merged = dtype === 'float32' ? new Float32Array(b * t * c) : new Float64Array(b * t * c);
          const into = nat.attentionForward!(part(qkv, 0), part(qkv, 1), part(qkv, 2), p, { data: merged, shape: [b, h, t, d], strides: [t * c, d, c, 1], offset: 0 });
          assert.equal(into.out, merged);
          for (let i = 0; i < b * h * t * d; i++) {
            const bb = Math.floor(i / (h * t * d)), hh = Math.floor(i / (t * d)) % h, tt = Math.floor(i / d) % t, dd = i % d;
            assert.equal(merged[(bb * t + tt) * c + hh * d + dd], plain.out[i], `${path} ${dtype} out[${i}]`);
          }
          assert.deepEqual(Array.from(into.lse), Array.from(plain.lse));
          const outV: View = { data: plain.out, shape: [b, h, t, d], strides: [h * t * d, t * d, d, 1], offset: 0 };
          const dyV: View = { data: dy, shape: [b, h, t, d], strides: [h * t * d, t * d, d, 1], offset: 0 };
          const lseV: View = { data: plain.lse, shape: [b, h, t], strides: [h * t, t, 1], offset: 0 };
          const g = nat.attentionBackward!(part(qkv, 0), part(qkv, 1), part(qkv, 2), outV, dyV, lseV, p);
          const packed = dtype === 'float32' ? new Float32Array(b * t * 3 * c) : new Float64Array(b * t * 3 * c);
          nat.attentionBackward!(part(qkv, 0), part(qkv, 1), part(qkv, 2), outV, dyV, lseV, p, [part(packed, 0), part(packed, 1), part(packed, 2)]);
          [g.dq, g.dk, g.dv].forEach((want, which) => {
            for (let i = 0; i < want.length; i++) {
              const bb = Math.floor(i / (h * t * d)), hh = Math.floor(i / (t * d)) % h, tt = Math.floor(i / d) % t, dd = i % d;
              assert.equal(packed[(bb * t + tt) * 3 * c + which * c + hh * d + dd], want[i], `${path} ${dtype} part ${which} [${i}]`);
            }
          });
        }
      }
    } finally {
      setCpuPath(paths[0]!);
    }
  });

  test('a destination view outside its array is refused', () => {
    const nat = nativeBackend!;
    const x: View = { data: new Float32Array(2 * 4 * 3), shape: [1, 2, 4, 3], strides: [24, 12, 3, 1], offset: 0 };
    const p = { scale: 1, causal: true, dropout: 0, seed: 0 };
    assert.throws(() => nat.attentionForward!(x, x, x, p, { data: new Float32Array(10), shape: [1, 2, 4, 3], strides: [24, 12, 3, 1], offset: 0 }), /outside its array/);
  });
});
