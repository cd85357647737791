// Consistent augmentation for distillation (src/data/augment.ts additions used by `tensorslim
// distill --augment/--mixup`): the Beta sampler against its textbook moments, and the mixup
// transform against its definition (each image a convex combination of two images of the batch,
// its label the same combination of their one-hot labels).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Generator } from '../../src/core/random.js';
import { Tensor } from '../../src/core/tensor.js';
import { composeTransforms, mixup, randomShift, sampleBeta, sampleGamma, type BatchTransformContext } from '../../src/data/augment.js';

/** Sample mean and (unbiased) variance of n draws, and the fraction of draws below each of `cuts`. */
function moments(draw: () => number, n: number, cuts: readonly number[] = []): { mean: number; variance: number; below: number[] } {
  const xs = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) { xs[i] = draw(); s += xs[i]!; }
  const mean = s / n;
  let q = 0;
  for (let i = 0; i < n; i++) q += (xs[i]! - mean) ** 2;
  const below = cuts.map((c) => { let k = 0; for (let i = 0; i < n; i++) if (xs[i]! < c) k++; return k / n; });
  return { mean, variance: q / (n - 1), below };
}

/**
 * Mean and variance within Z standard errors of the textbook values: the sample mean's standard
 * error is sqrt(var / n), the sample variance's sqrt((mu4 - var^2) / n) with the fourth central
 * moment mu4 = (3 + excess kurtosis) var^2.
 */
const Z = 4.5;
function assertMoments(m: { mean: number; variance: number }, n: number, mean: number, variance: number, excessKurtosis: number, what: string): void {
  const seMean = Math.sqrt(variance / n), seVar = variance * Math.sqrt((2 + excessKurtosis) / n);
  assert.ok(Math.abs(m.mean - mean) < Z * seMean, `${what}: mean ${m.mean}, want ${mean} (standard error ${seMean})`);
  assert.ok(Math.abs(m.variance - variance) < Z * seVar, `${what}: variance ${m.variance}, want ${variance} (standard error ${seVar})`);
}

test('sampleGamma and sampleBeta have the textbook moments and distribution, to a few standard errors', () => {
  const g = new Generator(7);
  const n = 200_000;
  // Gamma(k, 1): mean k, variance k, excess kurtosis 6 / k (k < 1 goes through the boost)
  for (const k of [0.2, 0.5, 3]) {
    assertMoments(moments(() => sampleGamma(g, k), n), n, k, k, 6 / k, `Gamma(${k})`);
  }
  // Beta(a, b): mean a / (a + b), variance ab / ((a + b)^2 (a + b + 1)), excess kurtosis
  // 6 ((a - b)^2 (a + b + 1) - ab (a + b + 2)) / (ab (a + b + 2)(a + b + 3))
  for (const [a, b] of [[0.2, 0.2], [0.4, 0.4], [2, 5]] as const) {
    // second check: the distribution function at a few points (Beta(a, a) is symmetric about 1/2;
    // Beta(2, 5) has F(x) = 1 - (1 - x)^6 - 6 x (1 - x)^5), each within Z binomial standard errors
    const cdf = a === b
      ? [[0.5, 0.5]]
      : [0.1, 0.2, 0.3, 0.5].map((x) => [x, 1 - (1 - x) ** 6 - 6 * x * (1 - x) ** 5]);
    const m = moments(() => sampleBeta(g, a, b), n, cdf.map(([x]) => x!));
    const mean = a / (a + b), variance = (a * b) / ((a + b) ** 2 * (a + b + 1));
    const kurt = 6 * ((a - b) ** 2 * (a + b + 1) - a * b * (a + b + 2)) / (a * b * (a + b + 2) * (a + b + 3));
    assertMoments(m, n, mean, variance, kurt, `Beta(${a}, ${b})`);
    cdf.forEach(([x, p], i) => {
      const se = Math.sqrt(p! * (1 - p!) / n);
      assert.ok(Math.abs(m.below[i]! - p!) < Z * se, `Beta(${a}, ${b}): P(X < ${x}) = ${m.below[i]}, want ${p} (standard error ${se})`);
    });
  }
  assert.throws(() => sampleGamma(g, 0), /shape must be a finite number > 0/);
});

const ctxOf = (seed: number): BatchTransformContext => ({ generator: new Generator(seed), epoch: 0, index: 0 });

test('mixup: each image and label is the same convex combination of two samples of the batch', () => {
  const b = 6, d = 5, k = 10;
  const xs = Float32Array.from({ length: b * d }, (_, i) => Math.sin(i + 1) * 3);
  const ys = Int32Array.of(3, 0, 7, 9, 1, 5);          // distinct labels: the mixed label names both samples
  const x = new Tensor(xs, 'float32', [b, d]), y = new Tensor(ys, 'int32', [b]);
  const [mx, my] = mixup({ alpha: 0.4, numClasses: k })([x, y], ctxOf(1)) as [Tensor, Tensor];
  assert.deepEqual(mx.shape, [b, d]);
  assert.deepEqual(my.shape, [b, k]);
  assert.equal(my.dtype, 'float32');
  const xo = mx.dataSync(), yo = my.dataSync();
  const partners: number[] = [];
  let mixed = 0;
  for (let i = 0; i < b; i++) {
    const row = Array.from(yo.subarray(i * k, (i + 1) * k));
    assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-6, `label row ${i} sums to 1`);
    assert.ok(row.every((v) => v >= 0));
    const lam = row[ys[i]!]!;                           // weight of the sample itself (its partner may be itself)
    const j = lam > 1 - 1e-7 ? i : ys.indexOf(row.findIndex((v, c) => c !== ys[i] && v > 0));
    assert.ok(j >= 0, `row ${i}: the second label belongs to a sample of the batch`);
    if (j !== i) mixed++;
    partners.push(j);
    for (let e = 0; e < d; e++) {
      const want = lam * xs[i * d + e]! + (1 - lam) * xs[j * d + e]!;
      assert.ok(Math.abs(xo[i * d + e]! - want) < 1e-5, `image ${i}, value ${e}: ${xo[i * d + e]} vs ${want}`);
    }
  }
  assert.ok(mixed >= 3, 'most samples are mixed with another one');
  // the input is unchanged, and the same generator state gives the same batch
  assert.equal(x.dataSync()[0], xs[0]);
  const [mx2, my2] = mixup({ alpha: 0.4, numClasses: k })([x, y], ctxOf(1)) as [Tensor, Tensor];
  assert.deepEqual(Array.from(mx2.dataSync()), Array.from(xo));
  assert.deepEqual(Array.from(my2.dataSync()), Array.from(yo));
  const [mx3] = mixup({ alpha: 0.4, numClasses: k })([x, y], ctxOf(2)) as [Tensor, Tensor];
  assert.notDeepEqual(Array.from(mx3.dataSync()), Array.from(xo));
  // probability labels are mixed the same way (mixing a mixed batch keeps rows summing to 1)
  const [, my4] = mixup({ alpha: 0.4, numClasses: k })([mx, my], ctxOf(3)) as [Tensor, Tensor];
  for (let i = 0; i < b; i++) assert.ok(Math.abs(Array.from(my4.dataSync().subarray(i * k, (i + 1) * k)).reduce((s, v) => s + v, 0) - 1) < 1e-6);
});

test('composeTransforms applies shift then mixup from one generator; bad input is refused', () => {
  const x = new Tensor(Float32Array.from({ length: 2 * 16 }, (_, i) => i % 7), 'float32', [2, 16]);
  const y = new Tensor(Int32Array.of(0, 1), 'int32', [2]);
  const shift = randomShift({ maxShift: 1, imageShape: [4, 4] });
  const mix = mixup({ alpha: 0.2, numClasses: 2 });
  const both = composeTransforms(shift, null, mix)!;
  const c1 = ctxOf(5), c2 = ctxOf(5);
  const out = both([x, y], c1);
  const seq = mix(shift([x, y], c2), c2);
  assert.deepEqual(Array.from(out[0]!.dataSync()), Array.from(seq[0]!.dataSync()));
  assert.deepEqual(Array.from(out[1]!.dataSync()), Array.from(seq[1]!.dataSync()));
  assert.equal(composeTransforms(null, undefined), null);
  assert.equal(composeTransforms(shift), shift);

  for (const alpha of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => mixup({ alpha, numClasses: 10 }), /mixup: alpha must be a finite number > 0/);
  }
  assert.throws(() => mixup({ alpha: 0.2, numClasses: 1 }), /numClasses must be an integer >= 2/);
  const logits = new Tensor(new Float32Array(4), 'float32', [2, 2]);
  assert.throws(() => mix([x, y, logits], ctxOf(0)), /two tensors.*precomputed teacher logits/);
  assert.throws(() => mix([x, new Tensor(Int32Array.of(0, 2), 'int32', [2])], ctxOf(0)), /label 2 of sample 1 is not a class index/);
  assert.throws(() => mix([x, new Tensor(Int32Array.of(0, 1, 1), 'int32', [3])], ctxOf(0)), /do not fit images/);
});
