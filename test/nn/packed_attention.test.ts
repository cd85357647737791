// packedSelfAttention (ops/attention.ts): attention read in place from a packed qkv (B, T, 3C) and
// written merged (B, T, C), with the gradient written as one (B, T, 3C) tensor. Checked against the
// composed reference (attentionReference on q, k, v sliced out of qkv with ops, heads merged with
// ops, differentiated by autograd) on the reference backend, for outputs and gradients, causal or
// not, with dropout (same seed), T not a multiple of the kernel's 64-row blocks, float32 and
// float64, on every backend; second-order gradients (createGraph) by float64 gradcheck; the
// CausalSelfAttention layer (packed when there is no cache) against its key/value-cache path; errors.
// The native kernels' strided destinations (`into`) are checked in test/native/attention.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { getBackend, listBackends, setBackend } from '../../src/backend/registry.js';
import { Generator, manualSeed } from '../../src/core/random.js';
import type { Tensor } from '../../src/core/tensor.js';
import { enableGrad, noGrad } from '../../src/core/engine.js';
import { grad, gradcheck } from '../../src/autograd/index.js';
import * as ops from '../../src/ops/index.js';
import { CausalSelfAttention, KVCacheLayer } from '../../src/nn/index.js';

type Float = 'float32' | 'float64';

function withBackend<T>(name: string, fn: () => T): T {
  const prev = getBackend().name;
  setBackend(name);
  try { return fn(); } finally { setBackend(prev); }
}

function maxDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual([...a.shape], [...b.shape]);
  const x = a.dataSync(), y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** The reference: q, k, v cut out of qkv with ops, attentionReference, heads merged with ops. */
function composed(qkv: Tensor, h: number, o: ops.AttentionOptions): Tensor {
  const [b, t, c3] = qkv.shape as [number, number, number];
  const c = c3 / 3, d = c / h;
  const part = (i: number): Tensor => ops.permute(ops.reshape(ops.narrow(qkv, 2, i * c, c), [b, t, h, d]), [0, 2, 1, 3]);
  const y = ops.attentionReference(part(0), part(1), part(2), o);
  return ops.reshape(ops.permute(y, [0, 2, 1, 3]), [b, t, c]);
}

const CASES: { b: number; t: number; h: number; d: number; causal: boolean; dropout: number }[] = [
  { b: 2, t: 5, h: 2, d: 3, causal: true, dropout: 0 },
  { b: 1, t: 70, h: 3, d: 4, causal: true, dropout: 0 },     // two query/key blocks of 64
  { b: 2, t: 9, h: 1, d: 8, causal: false, dropout: 0 },
  { b: 1, t: 66, h: 2, d: 5, causal: true, dropout: 0.25 },
  { b: 1, t: 1, h: 4, d: 2, causal: true, dropout: 0 },
];

describe('packedSelfAttention against the composed reference', () => {
  for (const backend of listBackends()) {
    for (const dtype of ['float64', 'float32'] as Float[]) {
      test(`${backend}, ${dtype}: outputs and d(qkv)`, () => {
        const tol = dtype === 'float64' ? 1e-12 : 3e-5;
        for (const cs of CASES) {
          const gen = new Generator(cs.t * 7 + cs.h);
          const qkv0 = ops.randn([cs.b, cs.t, 3 * cs.h * cs.d], { dtype, generator: gen });
          const w = ops.randn([cs.b, cs.t, cs.h * cs.d], { dtype, generator: gen });
          const o = { causal: cs.causal, dropout: cs.dropout, seed: 99 };
          const run = (f: (x: Tensor) => Tensor): [Tensor, Tensor] => {
            const qkv = ops.detach(qkv0).requiresGrad_();
            const y = f(qkv);
            const [g] = grad([ops.sum(ops.mul(y, w))], [qkv]);
            return [y, g!];
          };
          const [y, g] = withBackend(backend, () => run((x) => ops.packedSelfAttention(x, cs.h, o)));
          const [yr, gr] = withBackend('reference', () => run((x) => composed(ops.to(x, 'float64'), cs.h, o)));
          const label = `${JSON.stringify(cs)}`;
          assert.ok(maxDiff(y, yr) <= tol, `${label}: output differs by ${maxDiff(y, yr)}`);
          assert.ok(maxDiff(g, gr) <= tol * 4, `${label}: gradient differs by ${maxDiff(g, gr)}`);
        }
      });
    }
    test(`${backend}: first and second-order gradients by float64 gradcheck (createGraph)`, () => {
      withBackend(backend, () => {
        const gen = new Generator(5);
        const qkv = ops.randn([1, 4, 12], { dtype: 'float64', generator: gen, requiresGrad: true });
        const f = (x: Tensor): Tensor => ops.packedSelfAttention(x, 2, { causal: true, dropout: 0.2, seed: 3 });
        const r1 = gradcheck(f, [qkv]);
        assert.ok(r1.ok, r1.message);
        // second order: the gradient (taken with createGraph) is itself differentiable in qkv
        const w = ops.randn([1, 4, 4], { dtype: 'float64', generator: gen });
        const g = (x: Tensor): Tensor => enableGrad(() => {
          const xx = x.requiresGrad ? x : ops.detach(x).requiresGrad_();   // finite differences pass plain copies
          return grad([ops.sum(ops.mul(f(xx), w))], [xx], { createGraph: true })[0]!;
        });
        const r2 = gradcheck(g, [qkv]);
        assert.ok(r2.ok, r2.message);
      });
    });
  }

  test('hand-derived: with q = 0 every query averages the values it sees', () => {
    const b = 1, t = 3, c = 2;
    const v = [[1, 10], [2, 20], [4, 40]];
    const data: number[] = [];
    for (let i = 0; i < t; i++) data.push(0, 0, 5 * i, -i, ...v[i]!);   // q | k | v, one head of 2
    const y = ops.packedSelfAttention(ops.reshape(ops.tensor(data, { dtype: 'float64' }), [b, t, 3 * c]), 1, { causal: true });
    const want = [1, 10, 1.5, 15, 7 / 3, 70 / 3];
    Array.from(y.dataSync()).forEach((x, i) => assert.ok(Math.abs(x - want[i]!) < 1e-12, `${i}: ${x} vs ${want[i]}`));
  });

  test('errors name the op and the shapes', () => {
    assert.throws(() => ops.packedSelfAttention(ops.zeros([2, 12]), 2), /packedSelfAttention.*3-D/);
    assert.throws(() => ops.packedSelfAttention(ops.zeros([1, 2, 12]), 3), /divisible by nHead 3/);
    assert.throws(() => ops.packedSelfAttention(ops.zeros([1, 2, 12]), 0), /nHead must be a positive integer/);
  });
});

describe('CausalSelfAttention: the packed path (no cache) matches the key/value-cache path', () => {
  for (const backend of listBackends()) {
    test(backend, () => {
      withBackend(backend, () => {
        manualSeed(3);
        const attn = new CausalSelfAttention({ nEmbd: 12, nHead: 3, dtype: 'float64' });
        const x = ops.randn([2, 7, 12], { dtype: 'float64' });
        const full = attn.call(x);
        const viaCache = noGrad(() => attn.call(x, new KVCacheLayer(2, 3, 8, 4, 'float64')));
        assert.ok(maxDiff(full, viaCache) < 1e-12, `differs by ${maxDiff(full, viaCache)}`);
      });
    });
  }
});
