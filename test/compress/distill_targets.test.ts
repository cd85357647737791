// Precomputed soft targets: withTeacherLogits stores the teacher's eval-mode logits with the
// samples, and a Distiller with precomputedTeacher reads them from the batch instead of running
// the teacher. Outside truths: logits and the KD loss are derived by hand from fixed weights
// (softmax / KL written out in plain JS); a shuffled run never calls the teacher after the probe.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Adam, Dropout, Linear, ReLU, Sequential, Tensor, manualSeed, mul, noGrad, randn, tensor } from '../../src/index.js';
import { distill } from '../../src/compress/index.js';
import { DataLoader, TensorDataset } from '../../src/data/index.js';
import { Trainer } from '../../src/train/index.js';

const vals = (t: Tensor): number[] => Array.from(t.dataSync());
const close = (a: number, b: number, tol = 1e-5): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

/** A Linear with the given weight (out, in) and bias. */
function linear(w: number[][], b: number[]): Linear {
  const l = new Linear(w[0]!.length, w.length);
  noGrad(() => { l.weight.assign(tensor(w)); l.bias!.assign(tensor(b)); });
  return l;
}

describe('withTeacherLogits', () => {
  test('appends the eval-mode logits (Dropout off) as the third tensor, in chunks; the teacher keeps its mode', () => {
    // teacher: Dropout(0.5) then y = W x + b, W = [[1, 2], [0, -1], [3, 0]], b = [0.5, 0, -1]
    const teacher = new Sequential(new Dropout(0.5), linear([[1, 2], [0, -1], [3, 0]], [0.5, 0, -1]));
    teacher.train();
    const xs = [[1, 0], [0, 1], [2, -1], [-1, 3], [0.5, 0.5]];
    const data = new TensorDataset(tensor(xs), tensor(Int32Array.from([0, 1, 2, 0, 1]), { shape: [5] }));
    const out = distill.withTeacherLogits(teacher, data, { batchSize: 2 });   // chunks of 2, 2, 1
    assert.equal(out.tensors.length, 3);
    assert.equal(out.tensors[0], data.tensors[0]);
    assert.deepEqual(out.tensors[2]!.shape, [5, 3]);
    const want = xs.flatMap(([p, q]) => [p! + 2 * q! + 0.5, -q!, 3 * p! - 1]);
    vals(out.tensors[2]!).forEach((v, i) => close(v, want[i]!));
    assert.equal(teacher.training, true, 'the teacher is back in train mode');
    assert.deepEqual(vals(out.getBatch([3])[2]!), [-1 + 6 + 0.5, -3, -4]);
  });

  test('refuses datasets that are not exactly [x, y], and a bad batch size', () => {
    const t = linear([[1]], [0]);
    const x = tensor([[1], [2]]), y = tensor(Int32Array.from([0, 0]), { shape: [2] });
    assert.throws(() => distill.withTeacherLogits(t, new TensorDataset(x, y, x)), /withTeacherLogits: the dataset must hold exactly \[x, y\].*got 3 tensors/);
    assert.throws(() => distill.withTeacherLogits(t, new TensorDataset(x, y), { batchSize: 0 }), /batchSize must be a positive integer/);
  });
});

describe('Distiller with precomputedTeacher', () => {
  test('the loss uses the logits in the batch (hand-derived KL * T^2), and the teacher never runs after the probe', () => {
    // student: logits = x (identity Linear on 2 classes); batch logits chosen by hand
    const student = linear([[1, 0], [0, 1]], [0, 0]);
    const teacher = linear([[0, 1], [1, 0]], [5, -5]);   // deliberately different: it must not be used
    const d = new distill.Distiller({ teacher, student, temperature: 2, alpha: 1, precomputedTeacher: true });
    const x = tensor([[1, 0], [0, 2]]);
    const tl = tensor([[2, 0], [0, 0]]);
    const { parts } = d.computeLoss([x, tensor(Int32Array.from([0, 1]), { shape: [2] }), tl]);
    // softmax(z / 2) per row, KL(q || p) summed over classes, mean over the batch of 2, times T^2 = 4
    const sm = (z: number[]): number[] => { const e = z.map((v) => Math.exp(v / 2)); const s = e[0]! + e[1]!; return e.map((v) => v / s); };
    const kl = (t: number[], s: number[]): number => { const q = sm(t), p = sm(s); return q.reduce((acc, qi, i) => acc + qi * Math.log(qi / p[i]!), 0); };
    const want = 4 * (kl([2, 0], [1, 0]) + kl([0, 0], [0, 2])) / 2;
    close(parts.kd!, want);
    close(parts.total, want);
    assert.equal(d.stats().teacherForwards, 0);
    // the object form works too
    close(d.computeLoss({ x, teacherLogits: tl }).parts.kd!, want);
  });

  test('trains on shuffled batches of a withTeacherLogits dataset through the Trainer: teacher forwards 0, loss falls', async () => {
    manualSeed(3);
    const x = randn([64, 6]);
    const head = new Linear(16, 3);
    noGrad(() => head.weight.assign(mul(head.weight, 10)));   // confident soft targets, far from the student's start
    const teacher = new Sequential(new Linear(6, 16), new ReLU(), head);
    const labels = noGrad(() => teacher.call(x)).argmax(1);
    const transfer = distill.withTeacherLogits(teacher, new TensorDataset(x, labels));
    const student = new Sequential(new Linear(6, 4), new ReLU(), new Linear(4, 3));
    const d = new distill.Distiller({ teacher, student, temperature: 2, alpha: 0.9, precomputedTeacher: true });
    d.prepare(x);
    const trainer = new Trainer({
      model: student, optimizer: new Adam(d.parameters(), { lr: 3e-2 }), epochs: 15,
      trainLoader: new DataLoader(transfer, { batchSize: 16, shuffle: true, seed: 1 }),
      lossFn: d.lossFn, callbacks: [distill.distillCallback(d)],
    });
    const r = await trainer.fit();
    assert.equal(r.stopReason, 'completed');
    assert.ok(r.history[14]!.trainLoss < 0.7 * r.history[0]!.trainLoss, `${r.history[0]!.trainLoss} -> ${r.history[14]!.trainLoss}`);
    assert.equal(d.stats().teacherForwards, 0, 'the teacher ran only on the probe');
  });

  test('bad input: feature terms, batches without logits, logits of the wrong batch size', () => {
    const teacher = linear([[1, 0], [0, 1]], [0, 0]), student = linear([[1, 0], [0, 1]], [0, 0]);
    assert.throws(() => new distill.Distiller({ teacher, student, precomputedTeacher: true, features: [{ student: '', teacher: '' }] }),
      /precomputedTeacher carries only the teacher's logits; feature terms need its hidden states/);
    const d = new distill.Distiller({ teacher, student, precomputedTeacher: true });
    const x = tensor([[1, 0], [0, 2]]), y = tensor(Int32Array.from([0, 1]), { shape: [2] });
    assert.throws(() => d.computeLoss([x, y]), /precomputedTeacher: the batch has no teacher logits.*distill\.withTeacherLogits/);
    assert.throws(() => d.computeLoss([x, y, tensor([[1, 0]])]), /teacher logits \(1, 2\) and input \(2, 2\) differ in batch size/);
  });
});
