// Scaled-dot-product attention: the recorded kernel's composed fallback against the composed
// reference on the reference backend (the oracle), with causal masking, odd sizes (blocks of 64 do
// not divide T), fewer queries than keys (a KV cache), head sizes D != Dv, strided inputs and dropout; hand-derived outputs; mask invariance; errors;
// the CausalSelfAttention layer and activation checkpointing. The fused native kernel on the same
// cases (test/ops/attention_cases.ts) is checked in test/native/attention.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { getBackend, listBackends } from '../../src/backend/registry.js';
import { Generator, manualSeed } from '../../src/core/random.js';
import type { Tensor } from '../../src/core/tensor.js';
import { grad } from '../../src/autograd/index.js';
import * as ops from '../../src/ops/index.js';
import { CausalSelfAttention, KVCacheLayer, Linear, checkpoint } from '../../src/nn/index.js';
import { noGrad } from '../../src/core/engine.js';
import { SHAPES, inputs, leaf, maxDiff, run } from './attention_cases.js';
import { withBackend } from './kernel_helpers.js';

type Float = 'float32' | 'float64';

describe('scaledDotProductAttention against the composed reference (float64, reference backend)', () => {
  for (const [name, s] of SHAPES) {
    for (const causal of [false, true]) {
      for (const dropout of [0, 0.25]) {
        const o = { causal, dropout, seed: 1234 };
        const label = `${name}, causal ${causal}, dropout ${dropout}`;
        const ref = run('reference', ops.attentionReference, s, 'float64', o);
        test(`recorded kernel, composed fallback: ${label}`, () => {
          const got = run('reference', ops.scaledDotProductAttention, s, 'float64', o);
          got.forEach((t, i) => assert.ok(maxDiff(t, ref[i]!) < 1e-12, `${['out', 'dq', 'dk', 'dv'][i]}: ${maxDiff(t, ref[i]!)}`));
        });
      }
    }
  }
});

test('hand-derived: with q = 0 every allowed key weighs the same, so out_i = mean of v_j over j <= i + Tk - Tq', () => {
  const [b, h, tq, tk, d] = [1, 2, 3, 5, 2];
  const q = ops.zeros([b, h, tq, d], { dtype: 'float64' });
  const k = ops.randn([b, h, tk, d], { dtype: 'float64', generator: new Generator(3) });
  const v = ops.randn([b, h, tk, d], { dtype: 'float64', generator: new Generator(4) });
  const vd = v.dataSync();
  for (const be of [getBackend().name, 'reference']) {
    withBackend(be, () => {
      const causal = ops.scaledDotProductAttention(q, k, v, { causal: true }).dataSync();
      const full = ops.scaledDotProductAttention(q, k, v).dataSync();
      for (let hh = 0; hh < h; hh++) {
        for (let i = 0; i < tq; i++) {
          for (let c = 0; c < d; c++) {
            const upto = i + tk - tq;
            let s = 0, all = 0;
            for (let j = 0; j < tk; j++) { const x = vd[(hh * tk + j) * d + c]!; all += x; if (j <= upto) s += x; }
            assert.ok(Math.abs(causal[(hh * tq + i) * d + c]! - s / (upto + 1)) < 1e-14, `${be} causal h${hh} i${i}`);
            assert.ok(Math.abs(full[(hh * tq + i) * d + c]! - all / tk) < 1e-14, `${be} full h${hh} i${i}`);
          }
        }
      }
    });
  }
});

test('causal mask: changing keys and values after position i leaves outputs up to i unchanged', () => {
  const [q, k, v] = inputs({ b: 1, h: 2, tq: 100, tk: 100, d: 8, dv: 8 }, 'float32', 21);
  const y1 = ops.scaledDotProductAttention(q, k, v, { causal: true });
  const k2 = ops.clone(k), v2 = ops.clone(v);
  noGrad(() => { ops.fill_(ops.narrow(k2, 2, 70, 30), 9); ops.fill_(ops.narrow(v2, 2, 70, 30), -9); });
  const y2 = ops.scaledDotProductAttention(q, k2, v2, { causal: true });
  assert.equal(maxDiff(ops.narrow(y1, 2, 0, 70), ops.narrow(y2, 2, 0, 70)), 0);
  assert.ok(maxDiff(ops.narrow(y1, 2, 70, 30), ops.narrow(y2, 2, 70, 30)) > 1);
});

test('dropout: the mask keeps about 1 - p of the weights; eval mode (training false) and p = 0 are exact no-ops', () => {
  const thr = ops.attentionDropThreshold(0.3);
  let kept = 0;
  const n = 200 * 200;
  for (let r = 0; r < 200; r++) for (let c = 0; c < 200; c++) if (ops.attentionKeep(99, r, c, thr)) kept++;
  assert.ok(Math.abs(kept / n - 0.7) < 0.01, `kept ${kept / n}`);
  const [q, k, v] = inputs({ b: 1, h: 1, tq: 9, tk: 9, d: 4, dv: 4 }, 'float64', 8);
  const plain = ops.scaledDotProductAttention(q, k, v, { causal: true });
  assert.equal(maxDiff(ops.scaledDotProductAttention(q, k, v, { causal: true, dropout: 0.5, training: false }), plain), 0);
  // a different seed gives a different mask; the same seed the same output
  const a = ops.scaledDotProductAttention(q, k, v, { causal: true, dropout: 0.5, seed: 1 });
  assert.equal(maxDiff(a, ops.scaledDotProductAttention(q, k, v, { causal: true, dropout: 0.5, seed: 1 })), 0);
  assert.ok(maxDiff(a, ops.scaledDotProductAttention(q, k, v, { causal: true, dropout: 0.5, seed: 2 })) > 0);
});

test('bad input: shapes, dtypes, causal with more queries than keys, dropout range', () => {
  const q = ops.zeros([1, 2, 4, 8]), k = ops.zeros([1, 2, 4, 8]), v = ops.zeros([1, 2, 4, 8]);
  assert.throws(() => ops.scaledDotProductAttention(ops.zeros([2, 4, 8]), k, v), /q must be 4-D \(batch, heads, time, headDim\), got \(2, 4, 8\)/);
  assert.throws(() => ops.scaledDotProductAttention(q, ops.zeros([1, 2, 4, 7]), v), /k \(1, 2, 4, 7\) does not match q \(1, 2, 4, 8\)/);
  assert.throws(() => ops.scaledDotProductAttention(q, k, ops.zeros([1, 2, 5, 8])), /v \(1, 2, 5, 8\) does not match k/);
  assert.throws(() => ops.scaledDotProductAttention(q, ops.zeros([1, 2, 3, 8]), ops.zeros([1, 2, 3, 8]), { causal: true }), /at least as many keys as queries, got 4 queries and 3 keys/);
  assert.throws(() => ops.scaledDotProductAttention(q, k, ops.zeros([1, 2, 4, 8], { dtype: 'float64' })), /share one dtype/);
  assert.throws(() => ops.scaledDotProductAttention(q, k, v, { dropout: 1 }), /dropout must be in \[0, 1\)/);
});

test('CausalSelfAttention: (B, T, C) -> (B, T, C), nanoGPT keys, heads must divide the width', () => {
  manualSeed(0);
  const attn = new CausalSelfAttention({ nEmbd: 12, nHead: 3 });
  assert.deepEqual([...attn.stateDict().keys()], ['c_attn.weight', 'c_attn.bias', 'c_proj.weight', 'c_proj.bias']);
  assert.deepEqual(attn.call(ops.randn([2, 5, 12])).shape, [2, 5, 12]);
  assert.throws(() => new CausalSelfAttention({ nEmbd: 12, nHead: 5 }), /nHead 5 does not divide nEmbd 12/);
  assert.throws(() => attn.call(ops.randn([2, 5, 10])), /expected x \(batch, time, 12\), got \(2, 5, 10\)/);
});

test('CausalSelfAttention with a KV cache: token by token gives the full-sequence outputs', () => {
  manualSeed(1);
  const attn = new CausalSelfAttention({ nEmbd: 16, nHead: 4 });
  attn.eval();
  const x = ops.randn([2, 7, 16]);
  noGrad(() => {
    const full = attn.call(x);
    const cache = new KVCacheLayer(2, 4, 10, 4);
    const first = attn.call(ops.narrow(x, 1, 0, 3), cache);                 // a 3-token prompt
    assert.ok(maxDiff(first, ops.narrow(full, 1, 0, 3)) < 1e-6);
    for (let t = 3; t < 7; t++) {
      const y = attn.call(ops.narrow(x, 1, t, 1), cache);
      assert.ok(maxDiff(y, ops.narrow(full, 1, t, 1)) < 1e-6, `position ${t}`);
    }
    assert.equal(cache.length, 7);
    assert.throws(() => attn.call(ops.narrow(x, 1, 0, 4), cache), /7 cached \+ 4 new positions exceed the capacity 10/);
  });
  assert.throws(() => attn.call(ops.narrow(x, 1, 0, 1), new KVCacheLayer(2, 4, 10, 4)), /the key\/value cache is for inference/);
});

test('checkpoint: same output and gradients (inputs and parameters) as running the function directly, dropout replayed', () => {
  for (const p of [0, 0.3]) {
    manualSeed(3);
    const attn = new CausalSelfAttention({ nEmbd: 8, nHead: 2, dropout: p, dtype: 'float64' });
    const fc = new Linear(8, 8, { dtype: 'float64' });
    const x0 = ops.randn([2, 6, 8], { dtype: 'float64', generator: new Generator(2) });
    const f = (h: Tensor): Tensor => ops.tanh(fc.call(attn.call(h)));
    const params = [...attn.parameters(), ...fc.parameters()];
    const once = (useCheckpoint: boolean): Tensor[] => {
      manualSeed(77);
      for (const q of params) q.grad = null;
      const x = leaf(x0);
      const y = useCheckpoint ? checkpoint(f, x) : f(x);
      ops.sum(ops.mul(y, y)).backward();
      return [y, x.grad!, ...params.map((q) => q.grad!)];
    };
    const plain = once(false), ckpt = once(true);
    plain.forEach((t, i) => assert.ok(maxDiff(t, ckpt[i]!) < 1e-13, `dropout ${p}, tensor ${i}`));
  }
});
