// Fuzz the native fused GELU kernels (native/src/gelu.cc; loops in native/src/layer_norm_gelu_impl.h)
// on every CPU path this machine has and with 1 and 2 threads, against x Phi(x) and its derivative
// written out here in float64 (erf taken from the reference backend's float64 kernel), erf and tanh
// forms, N-d views of any layout, tails and zero-size. Tolerances come from rounding-error bounds
// (the float32 GELU uses polynomial erf/exp with absolute error below 1e-6 of the scale |x|/2).
// The op-level check (fusedGelu after fusedLayerNorm, with gradients) is in layer_norm.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { referenceBackend as ref } from '../../src/backends/reference/index.js';
import { getNativeBackend } from '../../src/backends/native/index.js';
import { EPS, KINDS, fmt, mismatch, randView, readView, rng, vec } from './helpers.js';
import { forEachSetting, nativeSkip as skip } from './helpers.js';

const nat = getNativeBackend()!;

const normal = (r: () => number): number => (r() - 0.5) * 4;

describe('native fused GELU vs float64 math', { skip }, () => {
  test('GELU forward and backward, erf and tanh forms, any layout, tails and zero-size', () => {
    const k = Math.sqrt(2 / Math.PI), c = 0.044715;
    forEachSetting((setting) => {
      const r = rng(303);
      for (let it = 0; it < 30; it++) for (const kind of KINDS) for (const form of ['none', 'tanh'] as const) {
        // one long run (two threads' chunks, SIMD tails), then small N-d views of rank 0..3
        const rank = it === 0 ? 1 : Math.floor(r() * 4);
        const shape = it === 0 ? [66000 + Math.floor(r() * 3000)] : Array.from({ length: rank }, () => (r() < 0.05 ? 0 : 1 + Math.floor(r() * 12)));
        // mostly N(0, 2^2), sometimes far tails (+-9, +-40) and exact zeros
        const fill = (q: () => number): number => { const u = q(); return u < 0.03 ? 0 : u < 0.08 ? (q() - 0.5) * 80 : u < 0.15 ? (q() - 0.5) * 18 : normal(q); };
        const xv = randView(r, kind, shape, fill);
        const dyv = randView(r, kind, shape, normal);
        const x = readView(xv), dy = readView(dyv);
        const y = nat.geluForward!(xv, form);
        const dx = nat.geluBackward!(dyv, xv, form);
        const n = x.length;
        const erfv = ref.unary('erf', { data: Float64Array.from(x, (v) => v * Math.SQRT1_2), shape: [n], strides: [1], offset: 0 }, 'float64');
        const e = EPS[kind];
        // float32: the polynomial erf/exp/tanh are good to ~5e-7 absolute in Phi, so scale |x|/2
        const fe = kind === 'float32' ? 2e-6 : 16 * e;
        const yw: number[] = [], yb: number[] = [], dw: number[] = [], db: number[] = [];
        for (let i = 0; i < n; i++) {
          const v = x[i]!;
          let cdf: number, d: number;
          if (form === 'none') {
            cdf = 0.5 * (1 + erfv[i]!);
            d = cdf + v * Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
          } else {
            const t = Math.tanh(k * (v + c * v ** 3));
            cdf = 0.5 * (1 + t);
            d = cdf + 0.5 * v * (1 - t * t) * k * (1 + 3 * c * v * v);
          }
          yw.push(v * cdf); yb.push(fe * 0.5 * Math.abs(v) + 4 * e * Math.abs(v * cdf));
          dw.push(dy[i]! * d); db.push(fe * Math.abs(dy[i]!) * (1 + Math.abs(v)) + 4 * e * Math.abs(dy[i]! * d));
        }
        const where = `${setting} ${kind} ${form} x ${fmt(xv)} dy ${fmt(dyv)}`;
        assert.equal(y.length, n);
        assert.equal(mismatch(y, yw, 0, 0, yb), null, `gelu forward: ${where}`);
        assert.equal(mismatch(dx, dw, 0, 0, db), null, `gelu backward: ${where}`);
      }
    });
  });

  test('GELU propagates NaN and saturates at +-inf like x Phi(x)', () => {
    for (const kind of KINDS) for (const form of ['none', 'tanh'] as const) {
      const y = nat.geluForward!(vec(kind, [NaN, Infinity, -Infinity, 0]), form);
      assert.ok(Number.isNaN(y[0]!), `${kind} ${form}: gelu(NaN)`);
      assert.equal(y[1], Infinity, `${kind} ${form}: gelu(inf)`);
      assert.ok(y[2] === 0 || Number.isNaN(y[2]!), `${kind} ${form}: gelu(-inf) is 0 (PyTorch) or NaN (-inf * 0)`);
      assert.equal(y[3], 0);
    }
  });

  test('bad input reaching the kernels throws a JavaScript error naming the kernel', () => {
    assert.throws(() => nat.geluBackward!(vec('float32', [1, 2]), vec('float32', [1, 2, 3]), 'none'), /native geluBackward: dy and x must have one shape/);
    assert.throws(() => nat.geluForward!({ data: new Int32Array(2), shape: [2], strides: [1], offset: 0 }, 'none'), /geluForward: expected float32 or float64/);
  });
});
