// Distillation losses (compress/distill) on a GPT teacher / student pair, as examples/distill_gpt.ts
// uses them, on tiny configs: the KD and cross-entropy terms over (B, T, V) logits equal the per-token
// formulas computed by hand (float64 in JS), identical models give zero for every term (KL(p || p) =
// 0, mse(h, h) = 0), gradients reach the student and the width projector but never the teacher, and
// the loss falls over a few steps (directly and through the Trainer).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { distill } from '../../src/compress/index.js';
import { manualSeed } from '../../src/core/random.js';
import { Tensor } from '../../src/core/tensor.js';
import { RandomWindowSampler } from '../../src/data/index.js';
import { GPT, createGpt, type GptConfig } from '../../src/models/gpt.js';
import type { TensorModule } from '../../src/nn/index.js';
import { AdamW } from '../../src/optim/index.js';
import { Trainer } from '../../src/train/trainer.js';
import { WindowLoader } from '../../src/train/lm.js';

const TEACHER = { nLayer: 2, nEmbd: 16, nHead: 2, blockSize: 8, vocabSize: 32 };
const STUDENT = { nLayer: 1, nEmbd: 8, nHead: 2, blockSize: 8, vocabSize: 32 };
// a stream with structure to learn: 0 1 2 ... 31 repeated with a skip pattern
const stream = Int32Array.from({ length: 2000 }, (_, i) => (i * 7 + Math.floor(i / 5)) % 32);
const asModule = (m: GPT): TensorModule => m as unknown as TensorModule;   // GPT's forward also takes an optional cache
const lastQkv = (c: GptConfig): string => `transformer.h.${c.nLayer - 1}.attn.c_attn`;

function pair(seed = 0): { teacher: GPT; student: GPT; x: Tensor; y: Tensor } {
  manualSeed(seed);
  const teacher = createGpt('gpt-tiny', TEACHER);
  const student = createGpt('gpt-tiny', STUDENT);
  const [x, y] = new RandomWindowSampler(stream, { batchSize: 3, contextLength: 8, seed }).sample();
  return { teacher, student, x, y };
}

function features(teacher: GPT, student: GPT): distill.FeaturePair[] {
  return [
    { student: 'transformer.ln_f', teacher: 'transformer.ln_f', loss: 'mse' },
    {
      student: lastQkv(student.config), teacher: lastQkv(teacher.config), loss: 'attention-kl',
      studentTransform: (t) => distill.attentionMapsFromQkv(t, student.config.nHead),
      teacherTransform: (t) => distill.attentionMapsFromQkv(t, teacher.config.nHead),
    },
  ];
}

/** log-softmax of a row, float64. */
function logSoftmax(row: number[]): number[] {
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
}

test('KD and cross-entropy over (B, T, V) logits are the per-token means of the hand formulas', () => {
  const { teacher, student, x, y } = pair(1);
  const T = 2, alpha = 0.3;
  const d = new distill.Distiller({ teacher: asModule(teacher), student: asModule(student), temperature: T, alpha, cacheTeacher: false });
  const { loss, parts } = d.computeLoss([x, y]);
  d.remove();
  const s = Array.from(student.call(x).dataSync()), t = Array.from(teacher.call(x).dataSync()), ys = Array.from(y.dataSync());
  const V = 32, rows = ys.length;
  let kd = 0, ce = 0;
  for (let r = 0; r < rows; r++) {
    const sr = s.slice(r * V, (r + 1) * V), tr = t.slice(r * V, (r + 1) * V);
    const lp = logSoftmax(sr.map((v) => v / T)), lq = logSoftmax(tr.map((v) => v / T));
    for (let k = 0; k < V; k++) kd += Math.exp(lq[k]!) * (lq[k]! - lp[k]!);
    ce -= logSoftmax(sr)[ys[r]!]!;
  }
  kd = (kd / rows) * T * T;   // KL per token, times T^2 (Hinton et al.; PyTorch's batchmean over B*T rows)
  ce /= rows;
  assert.ok(Math.abs(parts.kd! - kd) < 1e-5 * Math.max(1, kd), `kd ${parts.kd} vs hand ${kd}`);
  assert.ok(Math.abs(parts.ce! - ce) < 1e-5 * ce, `ce ${parts.ce} vs hand ${ce}`);
  assert.ok(Math.abs(loss.item() - (alpha * kd + (1 - alpha) * ce)) < 1e-5 * ce);
});

test('a student identical to the teacher: KD, hidden-state and attention-map terms are all zero', () => {
  const { teacher, x, y } = pair(2);
  const twin = createGpt('gpt-tiny', TEACHER);
  twin.loadStateDict(teacher.stateDict());
  twin.eval();
  const d = new distill.Distiller({ teacher: asModule(teacher), student: asModule(twin), temperature: 4, alpha: 1, features: features(teacher, twin), cacheTeacher: false });
  const { parts } = d.computeLoss([x, y]);
  d.remove();
  assert.ok(Math.abs(parts.kd!) < 1e-5, `kd ${parts.kd}`);
  assert.equal(parts.features.length, 2);
  for (const f of parts.features) assert.ok(Math.abs(f) < 1e-5, `feature term ${f}`);
});

test('gradients reach every student parameter and the projector, never the teacher; the loss falls', () => {
  const { teacher, student, x, y } = pair(3);
  const before = new Map([...teacher.stateDict()].map(([k, t]) => [k, Float32Array.from(t.dataSync())]));
  const d = new distill.Distiller({ teacher: asModule(teacher), student: asModule(student), temperature: 2, alpha: 0.5, features: features(teacher, student), cacheTeacher: false });
  d.prepare(x);
  const params = d.parameters();
  const studentParams = new Set(student.parameters());
  const projector = params.filter((p) => !studentParams.has(p));
  assert.equal(projector.length, 2, 'the 8 -> 16 ln_f projector (weight, bias)');
  const opt = new AdamW(params, { lr: 1e-2 });
  const losses: number[] = [];
  for (let step = 0; step < 40; step++) {
    opt.zeroGrad();
    const { loss, parts } = d.computeLoss([x, y]);
    for (const v of [parts.total, parts.kd!, parts.ce!, ...parts.features]) assert.ok(Number.isFinite(v), `step ${step}: ${JSON.stringify(parts)}`);
    loss.backward();
    if (step === 0) {
      for (const [name, p] of student.namedParameters()) {
        assert.ok(p.grad !== null && Array.from(p.grad.dataSync()).some((g) => g !== 0), `student ${name} got no gradient`);
      }
      for (const p of projector) assert.ok(p.grad !== null && Array.from(p.grad.dataSync()).some((g) => g !== 0), 'projector got no gradient');
      for (const [name, p] of teacher.namedParameters()) assert.equal(p.grad, null, `teacher ${name} got a gradient`);
    }
    opt.step();
    losses.push(parts.total);
  }
  d.remove();
  assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `loss ${losses[0]} -> ${losses.at(-1)}`);
  for (const [k, t] of teacher.stateDict()) assert.deepEqual(Float32Array.from(t.dataSync()), before.get(k), `teacher ${k} changed`);
});

test('through the Trainer (distiller.lossFn + distillCallback) on random windows: finite, falling loss', async () => {
  const { teacher, student } = pair(4);
  const d = new distill.Distiller({ teacher: asModule(teacher), student: asModule(student), temperature: 2, alpha: 0.5, features: features(teacher, student), cacheTeacher: false });
  const sampler = new RandomWindowSampler(stream, { batchSize: 4, contextLength: 8, seed: 5 });
  d.prepare(sampler.sample()[0]);
  const trainer = new Trainer<Tensor[]>({
    model: student, optimizer: new AdamW(d.parameters(), { lr: 1e-2 }), trainLoader: new WindowLoader(sampler, 10), evalLoader: null,
    steps: 30, lossFn: d.lossFn, callbacks: [distill.distillCallback(d)], gradClipNorm: 1,
  });
  const fit = await trainer.fit();
  d.remove();
  assert.equal(fit.stopReason, 'completed');
  const h = fit.history.map((m) => m.trainLoss);
  assert.equal(h.length, 3);
  assert.ok(h.every(Number.isFinite) && h[2]! < h[0]!, `epoch losses ${h.join(', ')}`);
});
