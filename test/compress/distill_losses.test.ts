// Distillation losses: values and gradients against PyTorch (tools/fixtures/distill_fixtures.py ->
// test/fixtures/distill.json, torch 1.13, float64), hand-derived identities, modules, bad input.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Tensor, noGrad, tensor, sum, mul, softmax } from '../../src/index.js';
import { distill } from '../../src/compress/index.js';

interface Fx { shape: number[]; data: number[] }
interface Base { name: string; output: Fx; student: Fx; teacher: Fx; gradStudent: Fx }
const fx = JSON.parse(readFileSync(new URL('../fixtures/distill.json', import.meta.url), 'utf8')) as {
  kd: (Base & { temperature: number; reduction: 'batchmean' | 'sum' | 'mean' | 'none'; w: Fx })[];
  distillation: (Base & { temperature: number; alpha: number; targets: Fx })[];
  feature: (Base & { dim: number; weight?: Fx; bias?: Fx; gradWeight?: Fx; gradBias?: Fx })[];
  cosine: Base[];
  attention: { name: string; kind: 'mse' | 'kl'; studentScores: Fx; teacherScores: Fx; studentMaps: Fx; teacherMaps: Fx; output: Fx; gradScores: Fx }[];
  qkv: { name: string; nHead: number; causal: boolean; qkv: Fx; output: Fx; w: Fx; grad: Fx }[];
};

const f64 = (f: Fx, requiresGrad = false): Tensor => tensor(new Float64Array(f.data), { shape: f.shape, requiresGrad });
const i32 = (f: Fx): Tensor => tensor(new Int32Array(f.data), { shape: f.shape });

function close(actual: Tensor | ArrayLike<number>, expected: Fx | number[], what: string, tol = 1e-10): void {
  const a = actual instanceof Tensor ? Array.from(actual.dataSync()) : Array.from(actual);
  const e = Array.isArray(expected) ? expected : expected.data;
  assert.equal(a.length, e.length, `${what}: length`);
  for (let i = 0; i < e.length; i++) {
    assert.ok(Math.abs(a[i]! - e[i]!) <= tol * Math.max(1, Math.abs(e[i]!)), `${what}[${i}]: got ${a[i]}, expected ${e[i]}`);
  }
}

describe('kdLoss matches F.kl_div(log_softmax(s/T), softmax(t/T)) * T^2', () => {
  for (const c of fx.kd) {
    test(c.name, () => {
      const s = f64(c.student, true);
      const out = distill.kdLoss(s, f64(c.teacher), { temperature: c.temperature, reduction: c.reduction });
      close(out, c.output, 'loss');
      sum(mul(out, f64(c.w))).backward();
      close(s.grad!, c.gradStudent, 'd loss / d student');
    });
  }
  test('KDLoss module gives the same value', () => {
    const c = fx.kd.find((k) => k.reduction === 'batchmean' && k.temperature === 4)!;
    close(new distill.KDLoss({ temperature: 4 }).call(f64(c.student), f64(c.teacher)), c.output, 'loss');
  });
});

describe('distillationLoss = alpha * kd + (1 - alpha) * cross_entropy', () => {
  for (const c of fx.distillation) {
    test(c.name, () => {
      const s = f64(c.student, true);
      const out = distill.distillationLoss(s, f64(c.teacher), i32(c.targets), { temperature: c.temperature, alpha: c.alpha });
      close(out, c.output, 'loss');
      out.backward();
      close(s.grad!, c.gradStudent, 'd loss / d student');
      const m = new distill.DistillationLoss({ temperature: c.temperature, alpha: c.alpha });
      close(m.call(f64(c.student), f64(c.teacher), i32(c.targets)), c.output, 'module loss');
    });
  }
  test('alpha = 1 needs no labels, alpha = 0 no teacher', () => {
    const c1 = fx.distillation.find((c) => c.alpha === 1)!;
    close(distill.distillationLoss(f64(c1.student), f64(c1.teacher), null, { temperature: c1.temperature, alpha: 1 }), c1.output, 'alpha 1');
    const c0 = fx.distillation.find((c) => c.alpha === 0)!;
    close(distill.distillationLoss(f64(c0.student), null, i32(c0.targets), { temperature: c0.temperature, alpha: 0 }), c0.output, 'alpha 0');
  });
});

describe('hidden-state loss through a projector matches mse_loss(Linear / 1x1 conv)', () => {
  for (const c of fx.feature) {
    test(c.name, () => {
      const s = f64(c.student, true);
      let proj: InstanceType<typeof distill.FeatureProjector> | null = null;
      if (c.weight) {
        proj = new distill.FeatureProjector(c.weight.shape[1]!, c.weight.shape[0]!, { dim: c.dim, dtype: 'float64' });
        noGrad(() => { proj!.weight.assign(f64(c.weight!)); proj!.bias!.assign(f64(c.bias!)); });
      }
      const out = distill.featureLoss(s, f64(c.teacher), { projector: proj });
      close(out, c.output, 'loss');
      out.backward();
      close(s.grad!, c.gradStudent, 'd loss / d student');
      if (proj) {
        close(proj.weight.grad!, c.gradWeight!, 'd loss / d projector weight');
        close(proj.bias!.grad!, c.gradBias!, 'd loss / d projector bias');
        // the module form holds its own projector; load the same weights
        const fl = new distill.FeatureLoss(c.weight!.shape[1]!, c.weight!.shape[0]!, { dim: c.dim, dtype: 'float64' });
        fl.loadStateDict(new Map([['projector.weight', f64(c.weight!)], ['projector.bias', f64(c.bias!)]]));
        close(fl.call(f64(c.student), f64(c.teacher)), c.output, 'FeatureLoss module');
      }
    });
  }
});

describe('cosineLoss matches F.cosine_embedding_loss(s, t, ones)', () => {
  for (const c of fx.cosine) {
    test(c.name, () => {
      const s = f64(c.student, true);
      const out = distill.cosineLoss(s, f64(c.teacher));
      close(out, c.output, 'loss');
      out.backward();
      close(s.grad!, c.gradStudent, 'd loss / d student');
      close(new distill.CosineLoss().call(f64(c.student), f64(c.teacher)), c.output, 'module');
    });
  }
});

describe('attentionLoss on (B, H, T, T) maps matches PyTorch (mse and KL, with a causal mask)', () => {
  for (const c of fx.attention) {
    test(c.name, () => {
      const scores = f64(c.studentScores, true);
      const sa = softmax(scores, -1);
      const ta = softmax(f64(c.teacherScores), -1);
      close(sa, c.studentMaps, 'student maps', 1e-12);
      const out = distill.attentionLoss(sa, ta, { kind: c.kind });
      close(out, c.output, 'loss');
      out.backward();
      close(scores.grad!, c.gradScores, 'd loss / d student scores');
      close(new distill.AttentionLoss({ kind: c.kind }).call(softmax(f64(c.studentScores), -1), ta), c.output, 'module');
    });
  }
});

describe('attentionMapsFromQkv matches softmax(q k^T / sqrt(D)) from a q|k|v projection', () => {
  for (const c of fx.qkv) {
    test(c.name, () => {
      const qkv = f64(c.qkv, true);
      const maps = distill.attentionMapsFromQkv(qkv, c.nHead, { causal: c.causal });
      close(maps, c.output, 'maps', 1e-12);
      sum(mul(maps, f64(c.w))).backward();
      close(qkv.grad!, c.grad, 'd maps / d qkv');
    });
  }
  test('bad shapes and head counts', () => {
    assert.throws(() => distill.attentionMapsFromQkv(tensor(new Float64Array(2 * 3 * 10), { shape: [2, 3, 10] }), 2), /qkv must be \(B, T, 3C\)/);
    assert.throws(() => distill.attentionMapsFromQkv(tensor(new Float64Array(2 * 3 * 12), { shape: [2, 3, 12] }), 3), /nHead 3 must be a positive integer dividing C = 4/);
  });
});

describe('hand-derived identities', () => {
  test('kd of identical logits is 0 with zero gradient; the teacher gets no gradient', () => {
    const s = tensor([[1, 2, 3], [0, -1, 4]], { dtype: 'float64', requiresGrad: true });
    const t = tensor([[1, 2, 3], [0, -1, 4]], { dtype: 'float64', requiresGrad: true });
    const l = distill.kdLoss(s, t, { temperature: 3 });
    close(l, [0], 'loss', 1e-12);
    l.backward();
    close(s.grad!, [0, 0, 0, 0, 0, 0], 'grad', 1e-12);
    assert.equal(t.grad, null);
  });
  test('gradient is (softmax(s/T) - softmax(t/T)) * T / B', () => {
    // s = [0, 0], t = [ln 3, 0], T = 2, B = 1: softmax(s/2) = [1/2, 1/2], softmax(t/2) = [sqrt3, 1]/(sqrt3 + 1)
    const s = tensor([[0, 0]], { dtype: 'float64', requiresGrad: true });
    const t = tensor([[Math.log(3), 0]], { dtype: 'float64' });
    distill.kdLoss(s, t, { temperature: 2 }).backward();
    const q0 = Math.sqrt(3) / (Math.sqrt(3) + 1);
    close(s.grad!, [(0.5 - q0) * 2, (0.5 - (1 - q0)) * 2], 'grad');
  });
  test('cosine of parallel vectors is 0, of opposite vectors 2', () => {
    close(distill.cosineLoss(tensor([[1, 2], [1, 0]], { dtype: 'float64' }), tensor([[2, 4], [-3, 0]], { dtype: 'float64' }), { reduction: 'none' }), [0, 2], 'loss');
  });
});

describe('bad input', () => {
  const s = tensor([[1, 2, 3]]), t = tensor([[1, 2, 3]]);
  test('temperature <= 0, NaN, or not a number', () => {
    for (const T of [0, -1, Number.NaN, Infinity]) {
      assert.throws(() => distill.kdLoss(s, t, { temperature: T }), /kdLoss: temperature must be a finite number > 0/);
    }
    assert.throws(() => new distill.KDLoss({ temperature: 0 }), /temperature must be/);
  });
  test('alpha outside [0, 1]', () => {
    for (const a of [-0.1, 1.5, Number.NaN]) {
      assert.throws(() => distill.distillationLoss(s, t, tensor([0], { dtype: 'int32' }), { alpha: a }), /alpha must be a number in \[0, 1\]/);
    }
    assert.throws(() => new distill.DistillationLoss({ alpha: 2 }), /alpha must be/);
  });
  test('different class counts name both shapes', () => {
    assert.throws(() => distill.kdLoss(tensor([[1, 2, 3]]), tensor([[1, 2]])), /student logits \(1, 3\) and teacher logits \(1, 2\)/);
  });
  test('labels missing with alpha < 1, teacher missing with alpha > 0', () => {
    assert.throws(() => distill.distillationLoss(s, t, null, { alpha: 0.5 }), /targets \(labels\) are needed when alpha < 1/);
    assert.throws(() => distill.distillationLoss(s, null, tensor([0], { dtype: 'int32' }), { alpha: 0.5 }), /teacher logits are needed/);
  });
  test('feature widths differ without a projector: the error suggests one', () => {
    assert.throws(() => distill.featureLoss(tensor([[1, 2]]), tensor([[1, 2, 3]])), /new FeatureProjector\(2, 3\)/);
  });
  test('attention maps must be 4-D; head counts differ unless meanOverHeads', () => {
    assert.throws(() => distill.attentionLoss(tensor([[0.5, 0.5]]), tensor([[0.5, 0.5]])), /must be 4-D \(B, H, T, T\)/);
    const a = softmax(tensor(new Float64Array(2 * 4 * 4), { shape: [1, 2, 4, 4] }), -1);
    const b = softmax(tensor(new Float64Array(3 * 4 * 4), { shape: [1, 3, 4, 4] }), -1);
    assert.throws(() => distill.attentionLoss(a, b), /head counts differ \(2 vs 3\)/);
    close(distill.attentionLoss(a, b, { meanOverHeads: true }), [0], 'uniform maps agree', 1e-12);
  });
  test('projector input width is checked', () => {
    assert.throws(() => new distill.FeatureProjector(4, 8).call(tensor([[1, 2, 3]])), /FeatureProjector: input axis -1 has size 3, expected inFeatures 4/);
  });
});
