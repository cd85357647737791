// HistogramObserver against torch's (with the float histc bounds of later torch releases, see
// src/compress/quant/histogram.ts): the histogram after every batch, the L2 range search and the
// qparams. EntropyObserver (KL, no torch counterpart) is checked by its defining properties.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tensor, randn, manualSeed, cat } from '../../src/index.js';
import { EntropyObserver, HistogramObserver, MinMaxObserver } from '../../src/compress/quant/index.js';
import { fx, mismatches, type Json } from './quant_helpers.js';

describe('HistogramObserver (torch fixtures)', () => {
  for (const c of fx.histograms as Json[]) {
    test(c.name, () => {
      const obs = new HistogramObserver({ dtype: c.config.dtype, qscheme: c.config.qscheme, bins: c.config.bins });
      for (const [i, b] of (c.batches as number[][]).entries()) {
        obs.call(tensor(new Float32Array(b)));
        const st = c.steps[i];
        assert.equal(obs.min_val.item(), st.minVal, `batch ${i}: min`);
        assert.equal(obs.max_val.item(), st.maxVal, `batch ${i}: max`);
        const bad = mismatches(obs.histogram.dataSync(), st.histogram, 1e-4);
        assert.equal(bad.length, 0, `batch ${i}: histogram differs at ${bad.slice(0, 5).map((j) => `${j}: ${obs.histogram.dataSync()[j]} vs ${st.histogram[j]}`)}`);
      }
      const q = obs.calculateQparams();
      assert.deepEqual([Array.from(q.scales), Array.from(q.zeroPoints)], [c.scale, c.zeroPoint]);
    });
  }
});

describe('EntropyObserver', () => {
  test('clips a far outlier that min-max keeps, and stays inside the observed range', () => {
    manualSeed(3);
    const x = cat([randn([4000]), tensor([60])]);
    const kl = new EntropyObserver({ dtype: 'quint8' });
    const mm = new MinMaxObserver({ dtype: 'quint8' });
    kl.call(x); mm.call(x);
    const sKl = kl.calculateQparams().scales[0]!, sMm = mm.calculateQparams().scales[0]!;
    assert.ok(sKl < sMm / 4, `entropy scale ${sKl} should be far below min-max ${sMm}`);
    assert.ok(sKl * 255 > 4, `but the range ${sKl * 255} still covers the bulk of N(0, 1)`);
  });
  test('keeps (nearly) the whole range of uniform data', () => {
    const v = new Float32Array(20000).map((_, i) => (i / 20000) * 8 - 2);
    const kl = new EntropyObserver({ dtype: 'quint8' });
    kl.call(tensor(v));
    const s = kl.calculateQparams().scales[0]!;
    assert.ok(s * 255 > 0.9 * 8, `range ${s * 255} should be close to 8`);
  });
  test('uncalibrated', () => {
    assert.throws(() => new EntropyObserver().calculateQparams(), /calibrate first/);
    assert.throws(() => new HistogramObserver().calculateQparams(), /calibrate first/);
  });
});
