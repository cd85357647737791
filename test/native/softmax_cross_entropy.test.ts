// Fuzz the native fused softmax cross-entropy kernels (native/src/softmax_cross_entropy.cc, bound in
// src/backends/native/softmax_cross_entropy.ts) on every CPU path this machine has, with 1 and 2
// threads: per-row losses against logsumexp - picked logit, and the gradient against
// (softmax - onehot) * scale, both written out here in float64, for float32 and float64 logits of
// any layout. The op-level checks are in test/ops/softmax_cross_entropy.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getNativeBackend } from '../../src/backends/native/index.js';
import { EPS, KINDS, forEachPathAndThreads, mismatch, nativeSkip as skip, randView, readView, rng } from './helpers.js';

const nat = getNativeBackend()!;

describe('native fused softmax cross-entropy vs float64 math', { skip }, () => {
  test('fused softmax cross-entropy rows equal logsumexp - picked logit (float64 math by hand)', () => {
    forEachPathAndThreads(() => {
      const r = rng(103);
      for (const kind of KINDS) for (const [N, C] of [[0, 3], [1, 1], [4, 10], [37, 1000]]) {
        const logits = randView(r, kind, [N!, C!], (q) => (q() - 0.5) * 40);
        const target = randView(r, 'int32', [N!], (q) => Math.floor(q() * C!), { permute: false });
        const got = nat.softmaxCrossEntropy!(logits, target);
        const rows = readView(logits), t = readView(target);
        const want = Array.from({ length: N! }, (_, i) => {
          const row = rows.slice(i * C!, (i + 1) * C!);
          const mx = Math.max(...row);
          return mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0)) - row[t[i]!]!;
        });
        const bad = mismatch(got, want, 1e-12, 1e-12);
        assert.equal(bad, null, `${kind} (${N}, ${C}): ${bad}`);
      }
    });
  });

  test('fused softmax cross-entropy backward equals (softmax - onehot) * scale (float64 math by hand)', () => {
    forEachPathAndThreads((path, threads) => {
      const r = rng(89 + threads);
      for (const kind of KINDS) for (const [N, C] of [[1, 1], [4, 10], [128, 10], [37, 1000]]) {
        const logits = randView(r, kind, [N!, C!], (q) => (q() - 0.5) * 40);
        const target = randView(r, 'int32', [N!], (q) => Math.floor(q() * C!), { permute: false });
        const scale = 0.37 / N!;
        const got = nat.softmaxCrossEntropyBackward(logits, target, scale);
        const rows = readView(logits), t = readView(target);
        const want: number[] = [];
        for (let i = 0; i < N!; i++) {
          const row = rows.slice(i * C!, (i + 1) * C!);
          const mx = Math.max(...row);
          const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
          for (let j = 0; j < C!; j++) want.push((Math.exp(row[j]! - lse) - (j === t[i] ? 1 : 0)) * scale);
        }
        const bad = mismatch(got, want, kind === 'float32' ? 4 * EPS.float32 : 1e-12, kind === 'float32' ? 1e-9 : 1e-15);
        assert.equal(bad, null, `${path}/${threads}t ${kind} (${N}, ${C}): ${bad}`);
      }
    });
  });

  // float32 rows run on each path's own row loops (layer_norm_gelu_impl.h sce_*_f32), whose max skips
  // a NaN where the generic loop lets it win: the row must come out all NaN either way
  test('a NaN or +inf logit makes only its own row\'s loss and gradient NaN, on every path', () => {
    forEachPathAndThreads((path, threads) => {
      for (const kind of ['float32', 'float64'] as const) {
        const N = 3, C = 40;
        const data = kind === 'float32' ? new Float32Array(N * C) : new Float64Array(N * C);
        for (let i = 0; i < N * C; i++) data[i] = Math.sin(i) * 3;
        data[C + 17] = NaN;
        data[2 * C + 3] = Infinity;
        const logits = { data, shape: [N, C], strides: [C, 1], offset: 0 };
        const target = { data: Int32Array.from([1, 2, 5]), shape: [N], strides: [1], offset: 0 };
        const loss = nat.softmaxCrossEntropy!(logits, target);
        const g = nat.softmaxCrossEntropyBackward(logits, target, 1 / N);
        const where = `${path}/${threads}t ${kind}`;
        assert.ok(Number.isFinite(loss[0]) && Number.isNaN(loss[1]) && Number.isNaN(loss[2]), `${where}: losses ${Array.from(loss)}`);
        for (let j = 0; j < C; j++) {
          assert.ok(Number.isFinite(g[j]), `${where}: row 0 gradient [${j}] ${g[j]}`);
          assert.ok(Number.isNaN(g[C + j]) && Number.isNaN(g[2 * C + j]), `${where}: NaN rows' gradient [${j}]`);
        }
      }
    });
  });
});
