// Fuzz the native fused Adam/AdamW step (native/src/adam.cc, bound in src/backends/native/adam.ts) on
// every CPU path this machine has: one step over 100003 parameters (SIMD tails, several threads'
// chunks) for Adam with L2 weight decay, AMSGrad and decoupled AdamW with maximize, against the
// update rule of torch.optim.Adam written out here in float64; mixed dtypes are refused.
// The optimizer-level checks are in test/optim/optimizers.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getNativeBackend } from '../../src/backends/native/index.js';
import { EPS, KINDS, alloc, forEachPathAndThreads, mismatch, nativeSkip as skip, normal, rng } from './helpers.js';

const nat = getNativeBackend()!;

describe('native fused Adam vs float64 math', { skip }, () => {
  test('fused Adam/AdamW step equals the formula of torch.optim.Adam (computed here in float64)', () => {
    forEachPathAndThreads((path) => {
      const r = rng(117);
      for (const kind of KINDS) for (const variant of [
        { decoupled: false, weightDecay: 0, amsgrad: false, maximize: false },
        { decoupled: false, weightDecay: 0.1, amsgrad: true, maximize: false },
        { decoupled: true, weightDecay: 0.01, amsgrad: false, maximize: true },
      ]) {
        const n = 100003;
        const p = alloc(kind, n).map(() => normal(r)), g = alloc(kind, n).map(() => normal(r));
        const m = alloc(kind, n).map(() => normal(r) * 0.1), v = alloc(kind, n).map(() => r() * 0.1), vmax = alloc(kind, n).map(() => r() * 0.1);
        const h = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3, ...variant };
        const [p0, m0, v0, vm0] = [Array.from(p), Array.from(m), Array.from(v), Array.from(vmax)];
        assert.equal(nat.adamUpdate!(p, g, m, v, h.amsgrad ? vmax : null, h), true);
        const bc1 = 1 - h.beta1 ** h.step, bc2 = 1 - h.beta2 ** h.step;
        const want = p0.map((pi, i) => {
          let gi = h.maximize ? -g[i]! : g[i]!;
          if (h.decoupled) pi *= 1 - h.lr * h.weightDecay; else gi += h.weightDecay * pi;
          const mi = h.beta1 * m0[i]! + (1 - h.beta1) * gi, vi = h.beta2 * v0[i]! + (1 - h.beta2) * gi * gi;
          const second = h.amsgrad ? Math.max(vm0[i]!, vi) : vi;
          return pi - (h.lr / bc1) * mi / (Math.sqrt(second) / Math.sqrt(bc2) + h.eps);
        });
        // the update is ~lr; float32 math rounds p (|p| <= 3) and the step to a few float32 ulps
        const bad = mismatch(p, want, 8 * EPS[kind], kind === 'float32' ? 1e-6 : 1e-15);
        assert.equal(bad, null, `${path} ${kind} ${JSON.stringify(variant)}: ${bad}`);
      }
      const p32 = new Float32Array(4);
      assert.equal(nat.adamUpdate!(p32, new Float64Array(4), new Float32Array(4), new Float32Array(4), null,
        { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, decoupled: false, step: 1 }), false, 'mixed dtypes are refused, not misread');
    });
  });
});
