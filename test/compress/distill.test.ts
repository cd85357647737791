// Distiller, feature taps and the distillation loop: taps record what submodules output; the teacher
// stays frozen in eval mode; teacher outputs are computed once per batch and cached across epochs
// only when batches repeat; feature distillation between MLPs of different widths trains; pruned
// and convolutional students work; bad settings fail before any parameter changes.
// Loss values themselves are checked against PyTorch in distill_losses.test.ts.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Adam, Block, Conv2d, Dropout, Flatten, Identity, Linear, Module, ReLU, SGD, Sequential, Tensor,
  argmax, manualSeed, matmul, noGrad, randn, reshape, softmax, tensor, transpose, mean, div,
} from '../../src/index.js';
import { distill, prune } from '../../src/compress/index.js';
import { Trainer } from '../../src/train/index.js';

const vals = (t: Tensor): number[] => Array.from(t.dataSync());
const snapshot = (m: { parameters(): Tensor[] }): number[][] => m.parameters().map((p) => vals(p));

/** Synthetic 4-class data: labels from a fixed random linear map of x (so a model can learn them). */
function syntheticBatches(n: number, batch: number, inF = 8, classes = 4, seed = 3): [Tensor, Tensor][] {
  manualSeed(seed);
  const x = randn([n, inF]);
  const w = randn([inF, classes]);
  const y = argmax(matmul(x, w), 1);
  const out: [Tensor, Tensor][] = [];
  for (let i = 0; i < n; i += batch) {
    const xb = tensor(x.dataSync().slice(i * inF, (i + batch) * inF), { shape: [batch, inF] });
    const yb = tensor(new Int32Array(y.dataSync().slice(i, i + batch)), { shape: [batch] });
    out.push([xb, yb]);
  }
  return out;
}

const mlp = (inF: number, hidden: number, out: number): Sequential => new Sequential(new Linear(inF, hidden), new ReLU(), new Linear(hidden, out));

describe('tapFeatures', () => {
  test('records the outputs of named (nested) submodules per forward call; remove() stops it', () => {
    class Net extends Module {
      block = new Sequential(new Linear(2, 2), new ReLU());
      head = new Linear(2, 1);
      forward(x: Tensor): Tensor { return this.head.call(this.block.call(x)); }
    }
    const net = new Net();
    noGrad(() => {
      // block.0: W = [[1, 1], [1, -1]], b = 0; head: W = [[2, 3]], b = 1
      (net.block.getSubmodule('0') as Linear).weight.assign(tensor([[1, 1], [1, -1]]));
      (net.block.getSubmodule('0') as Linear).bias!.assign(tensor([0, 0]));
      net.head.weight.assign(tensor([[2, 3]]));
      net.head.bias!.assign(tensor([1]));
    });
    const tap = distill.tapFeatures(net, ['block.0', 'block', 'head']);
    const y = net.call(tensor([[1, 2]]));
    // block.0: [1 + 2, 1 - 2] = [3, -1]; ReLU: [3, 0]; head: 2 * 3 + 0 + 1 = 7
    assert.deepEqual(vals(tap.get('block.0')), [3, -1]);
    assert.deepEqual(vals(tap.get('block')), [3, 0]);
    assert.deepEqual(vals(tap.get('head')), [7]);
    assert.deepEqual(vals(y), [7]);
    assert.equal(tap.calls('head'), 1);
    tap.clear();
    assert.throws(() => tap.get('head'), /did not run during the forward call/);
    tap.remove();
    net.call(tensor([[1, 2]]));
    assert.equal(tap.calls('head'), 0);
  });

  test('an unknown name lists the available ones, and nothing is tapped', () => {
    const net = mlp(3, 4, 2);
    assert.throws(() => distill.tapFeatures(net, ['0', 'layer9']), /Sequential has no submodule 'layer9' to tap; available: '' \(the model\), '0', '1', '2'/);
  });
});

describe('Distiller: bad input fails before training starts', () => {
  test('T <= 0, alpha outside [0, 1], bad feature settings', () => {
    const teacher = mlp(4, 8, 3), student = mlp(4, 2, 3);
    assert.throws(() => new distill.Distiller({ teacher, student, temperature: 0 }), /Distiller: temperature must be a finite number > 0, got 0/);
    assert.throws(() => new distill.Distiller({ teacher, student, temperature: -2 }), /temperature must be/);
    assert.throws(() => new distill.Distiller({ teacher, student, alpha: 1.2 }), /Distiller: alpha must be a number in \[0, 1\]/);
    assert.throws(() => new distill.Distiller({ teacher, student, alpha: -0.1 }), /alpha must be/);
    assert.throws(() => new distill.Distiller({ teacher, student, features: [{ student: '1', teacher: '1', loss: 'l2' as 'mse' }] }), /loss must be one of 'mse'/);
    assert.throws(() => new distill.Distiller({ teacher, student, features: [{ student: '1', teacher: '1', weight: -1 }] }), /weight must be a finite number >= 0/);
    assert.throws(() => new distill.Distiller({ teacher, student: teacher }), /same module/);
  });

  test('an unknown tapped layer names the model and lists its layers', () => {
    const teacher = mlp(4, 8, 3), student = mlp(4, 2, 3);
    assert.throws(() => new distill.Distiller({ teacher, student, features: [{ student: '1', teacher: 'fc9' }] }),
      /Distiller \(teacher\): Sequential has no submodule 'fc9' to tap; available: '' \(the model\), '0', '1', '2'/);
    assert.throws(() => new distill.Distiller({ teacher, student, features: [{ student: 'hidden', teacher: '1' }] }),
      /Distiller \(student\): Sequential has no submodule 'hidden'/);
  });

  test('different output sizes: one probe forward, a clear error, no parameter changed', () => {
    manualSeed(0);
    const teacher = mlp(4, 8, 10), student = mlp(4, 2, 5);
    const d = new distill.Distiller({ teacher, student });
    const before = snapshot(student);
    const batches = [[randn([16, 4]), tensor(new Int32Array(16), { shape: [16] })] as const];
    assert.throws(() => distill.trainStudent(d, batches, { epochs: 1, optimizer: (p) => new SGD(p, { lr: 1 }) }),
      /Distiller: teacher and student outputs differ on a probe batch of input \(2, 4\): teacher \(2, 10\), student \(2, 5\)/);
    assert.deepEqual(snapshot(student), before);
    assert.equal(d.stats().teacherForwards, 0);
  });

  test('a student that cannot take the input fails on the probe, naming the student and the input', () => {
    manualSeed(0);
    const d = new distill.Distiller({ teacher: mlp(4, 8, 3), student: mlp(5, 2, 3) });
    assert.throws(() => d.prepare(randn([8, 4])), /Distiller: the student \(Sequential\) failed on a probe batch of input \(2, 4\): .*inFeatures 5/);
  });

  test('features whose widths differ with projector "none", or misaligned features', () => {
    manualSeed(0);
    const x = randn([4, 4]);
    const d1 = new distill.Distiller({ teacher: mlp(4, 8, 3), student: mlp(4, 2, 3), features: [{ student: '1', teacher: '1', projector: 'none' }] });
    assert.throws(() => d1.prepare(x), /feature widths differ \(2 vs 8.*projector is 'none'/);
    const d2 = new distill.Distiller({ teacher: mlp(4, 8, 3), student: mlp(4, 2, 3), features: [{ student: '1', teacher: '1' }] });
    assert.throws(() => d2.parameters(), /call prepare\(x\) with a sample batch first/);
  });

  test('an optimizer without the projector parameters is refused before the first step', () => {
    manualSeed(0);
    const teacher = mlp(4, 8, 3), student = mlp(4, 2, 3);
    const d = new distill.Distiller({ teacher, student, features: [{ student: '1', teacher: '1' }] });
    const opt = new SGD(student.parameters(), { lr: 1 });
    const before = snapshot(student);
    const batches = [[randn([8, 4]), tensor(new Int32Array(8), { shape: [8] })] as const];
    assert.throws(() => distill.distillEpoch(d, batches, opt), /does not hold the projector parameters projector\[0\]\.weight, projector\[0\]\.bias/);
    assert.deepEqual(snapshot(student), before);
  });

  test('a one-shot generator is caught in the second epoch', () => {
    manualSeed(0);
    const d = new distill.Distiller({ teacher: mlp(4, 8, 3), student: mlp(4, 2, 3) });
    function* gen(): Generator<[Tensor, Tensor]> { yield [randn([4, 4]), tensor(new Int32Array(4), { shape: [4] })]; }
    assert.throws(() => distill.trainStudent(d, gen(), { epochs: 2, optimizer: (p) => new SGD(p, { lr: 0.1 }) }), /yielded no batches in epoch 1/);
  });
});

describe('Distiller: the teacher', () => {
  test('gets no gradients, keeps its weights and stays in eval mode (Dropout off)', () => {
    manualSeed(1);
    const teacher = new Sequential(new Linear(8, 16), new ReLU(), new Dropout(0.5), new Linear(16, 4));
    const student = mlp(8, 4, 4);
    teacher.train();
    const w0 = snapshot(teacher);
    const d = new distill.Distiller({ teacher, student, temperature: 2, alpha: 0.7, features: [{ student: '1', teacher: '2' }] });
    assert.ok(teacher.modules().every((m) => !m.training));
    const data = syntheticBatches(64, 16);
    const { history } = distill.trainStudent(d, data, { epochs: 2, optimizer: (p) => new Adam(p, { lr: 1e-2 }) });
    assert.equal(history.length, 2);
    assert.ok(teacher.parameters().every((p) => p.grad === null), 'no teacher gradient');
    assert.deepEqual(snapshot(teacher), w0);
    assert.ok(teacher.modules().every((m) => !m.training), 'teacher in eval mode');
    assert.ok(student.modules().every((m) => m.training), 'student in train mode');
    // eval-mode Dropout is the identity: the teacher's outputs are the same twice
    const x = data[0]![0];
    assert.deepEqual(vals(d.teacherOutputs(x).logits), vals(noGrad(() => teacher.call(x))));
  });

  test('runs once per batch (logit and feature terms share it); cached across epochs when batches repeat', () => {
    manualSeed(2);
    const make = (): [Sequential, Sequential] => { manualSeed(5); return [mlp(8, 16, 4), mlp(8, 4, 4)]; };
    const data = syntheticBatches(64, 16); // 4 batches, same every epoch
    const [t1, s1] = make();
    const d = new distill.Distiller({ teacher: t1, student: s1, features: [{ student: '1', teacher: '1' }, { student: '0', teacher: '0', loss: 'cosine' }] });
    const { history } = distill.trainStudent(d, data, { epochs: 3, optimizer: (p) => new SGD(p, { lr: 0.05 }) });
    assert.deepEqual(history.map((h) => h.teacherForwards), [4, 0, 0]);
    assert.deepEqual(history.map((h) => h.cacheHits), [0, 4, 4]);
    assert.deepEqual(history.map((h) => h.teacherSamples), [64, 0, 0]);
    assert.equal(d.stats().cacheEntries, 4);
    // same training without the cache: the teacher runs every epoch, the student ends identical
    const [t2, s2] = make();
    const d2 = new distill.Distiller({ teacher: t2, student: s2, cacheTeacher: false, features: [{ student: '1', teacher: '1' }, { student: '0', teacher: '0', loss: 'cosine' }] });
    const r2 = distill.trainStudent(d2, data, { epochs: 3, optimizer: (p) => new SGD(p, { lr: 0.05 }) });
    assert.deepEqual(r2.history.map((h) => h.teacherForwards), [4, 4, 4]);
    assert.deepEqual(snapshot(s2), snapshot(s1));
  });

  test('shuffled batches: the cache notices that nothing repeats and turns itself off', () => {
    const data = syntheticBatches(64, 8);
    const xs = data.map(([x]) => x);
    let epoch = 0;
    // a new random grouping of the same samples every epoch, as a shuffling DataLoader gives
    const shuffled: Iterable<{ x: Tensor; y: Tensor }> = {
      *[Symbol.iterator]() {
        const rows = xs.flatMap((x) => Array.from({ length: 8 }, (_, i) => Array.from(x.dataSync().slice(i * 8, i * 8 + 8))));
        const order = rows.map((_, i) => i).sort((a, b) => ((a * 7919 + epoch * 104729) % 64) - ((b * 7919 + epoch * 104729) % 64));
        epoch++;
        for (let b = 0; b < 8; b++) {
          const xb = tensor(order.slice(b * 8, b * 8 + 8).map((i) => rows[i]!));
          yield { x: xb, y: tensor(new Int32Array(8), { shape: [8] }) };
        }
      },
    };
    manualSeed(4);
    const d = new distill.Distiller({ teacher: mlp(8, 16, 4), student: mlp(8, 4, 4) });
    const { history } = distill.trainStudent(d, shuffled, { epochs: 3, optimizer: (p) => new SGD(p, { lr: 0.05 }) });
    assert.deepEqual(history.map((h) => h.teacherForwards), [8, 8, 8]);
    const st = d.stats();
    assert.equal(st.cacheEnabled, false);
    assert.equal(st.cacheEntries, 0);
    assert.match(st.cacheNote!, /no batch repeated between epochs/);
  });

  test('alpha = 0 without feature terms trains on labels alone and never runs the teacher after the probe', () => {
    manualSeed(6);
    const d = new distill.Distiller({ teacher: mlp(8, 16, 4), student: mlp(8, 4, 4), alpha: 0 });
    const { history } = distill.trainStudent(d, syntheticBatches(32, 16), { epochs: 2, optimizer: (p) => new SGD(p, { lr: 0.1 }) });
    assert.deepEqual(history.map((h) => h.teacherForwards), [0, 0]);
    assert.equal(history[0]!.kd, null);
  });
});

describe('Distiller: training', () => {
  test('feature distillation between MLPs of different widths trains (loss falls, accuracy reported)', () => {
    manualSeed(7);
    const data = syntheticBatches(128, 32);
    // a teacher that knows the task: a few epochs of plain training on the labels
    const teacher = mlp(8, 32, 4);
    const topt = new Adam(teacher.parameters(), { lr: 2e-2 });
    for (let e = 0; e < 40; e++) for (const [x, y] of data) {
      const l = distill.distillationLoss(teacher.call(x), null, y, { alpha: 0 });
      topt.zeroGrad(); l.backward(); topt.step();
    }
    const teacherAcc = distill.evaluateAccuracy(teacher, data);
    const student = mlp(8, 6, 4);
    const d = new distill.Distiller({ teacher, student, temperature: 2, alpha: 0.5, features: [{ student: '1', teacher: '1', weight: 0.5 }] });
    const { history } = distill.trainStudent(d, data, { epochs: 25, optimizer: (p) => new Adam(p, { lr: 1e-2 }), evalData: data });
    const first = history[0]!, last = history[history.length - 1]!;
    const proj = d.projectors()[0]!;
    assert.ok(proj instanceof distill.FeatureProjector && proj.inFeatures === 6 && proj.outFeatures === 32, 'a 6 -> 32 projector');
    assert.ok(last.features[0]! < 0.5 * first.features[0]!, `feature loss ${first.features[0]} -> ${last.features[0]}`);
    assert.ok(last.loss < 0.6 * first.loss, `total loss ${first.loss} -> ${last.loss}`);
    assert.ok(last.evalAccuracy! > first.evalAccuracy! && last.evalAccuracy! >= 0.7, `accuracy ${first.evalAccuracy} -> ${last.evalAccuracy} (teacher ${teacherAcc})`);
  });

  test('a pruned student: masks hold (pruning pre-hooks run through module.call), the surviving weights learn', () => {
    manualSeed(8);
    const teacher = mlp(8, 16, 4), student = mlp(8, 8, 4);
    prune.l1Unstructured(student.getSubmodule('0'), 'weight', 0.5);
    const fc = student.getSubmodule('0') as Linear;
    const mask = vals((fc as unknown as Record<string, Tensor>)['weight_mask']!);
    const orig0 = vals((fc as unknown as Record<string, Tensor>)['weight_orig']!);
    const d = new distill.Distiller({ teacher, student, features: [{ student: '1', teacher: '1' }] });
    const { history } = distill.trainStudent(d, syntheticBatches(64, 16), { epochs: 10, optimizer: (p) => new Adam(p, { lr: 1e-2 }) });
    assert.ok(history[9]!.loss < history[0]!.loss);
    noGrad(() => student.call(randn([1, 8]))); // the pre-hook recomputes weight = orig * mask (as in PyTorch, on forward)
    const w = vals(fc.weight), orig = vals((fc as unknown as Record<string, Tensor>)['weight_orig']!);
    mask.forEach((m, i) => { if (m === 0) assert.ok(w[i] === 0, `pruned weight ${i} stays 0, got ${w[i]}`); else assert.equal(w[i], orig[i]); });
    assert.ok(orig.some((v, i) => mask[i] === 1 && v !== orig0[i]), 'unpruned weights changed');
  });

  test('a convolutional student with a 1x1 projector on channel maps (dim 1)', () => {
    manualSeed(9);
    const img = (c: number): Sequential => new Sequential(new Conv2d(1, c, 3), new ReLU(), new Flatten(), new Linear(c * 16, 3));
    const teacher = img(6), student = img(2);
    const batches = Array.from({ length: 3 }, () => ({ x: randn([8, 1, 6, 6]), y: tensor(new Int32Array(8).map((_, i) => i % 3), { shape: [8] }) }));
    const d = new distill.Distiller({ teacher, student, alpha: 1, features: [{ student: '1', teacher: '1', dim: 1 }] });
    const { history } = distill.trainStudent(d, batches, { epochs: 15, optimizer: (p) => new Adam(p, { lr: 1e-2 }) });
    const proj = d.projectors()[0]!;
    assert.equal(proj.dim, 1);
    assert.equal(proj.inFeatures, 2);
    assert.equal(proj.outFeatures, 6);
    assert.ok(history[14]!.loss < 0.7 * history[0]!.loss, `${history[0]!.loss} -> ${history[14]!.loss}`);
    assert.equal(history[0]!.ce, null);
  });

  test('attention maps of transformer blocks (fused attention) through c_attn taps and attentionMapsFromQkv', () => {
    // a classifier around one GPT block: (B, T, 4) -> Linear -> Block -> mean over T -> Linear -> 3 classes
    class Tiny extends Module {
      inp: Linear; block: Block; head: Linear;
      constructor(nEmbd: number, nHead: number) {
        super();
        this.inp = new Linear(4, nEmbd); this.block = new Block({ nEmbd, nHead }); this.head = new Linear(nEmbd, 3);
      }
      forward(x: Tensor): Tensor { return this.head.call(mean(this.block.call(this.inp.call(x)), 1)); }
    }
    manualSeed(14);
    const teacher = new Tiny(16, 4), student = new Tiny(8, 2);
    const batches = Array.from({ length: 2 }, () => ({ x: randn([4, 6, 4]), y: null }));
    const d = new distill.Distiller({
      teacher, student, alpha: 1,
      features: [{
        student: 'block.attn.c_attn', teacher: 'block.attn.c_attn', loss: 'attention-kl', meanOverHeads: true,
        studentTransform: (t) => distill.attentionMapsFromQkv(t, 2), teacherTransform: (t) => distill.attentionMapsFromQkv(t, 4),
      }],
    });
    const { history } = distill.trainStudent(d, batches, { epochs: 20, optimizer: (p) => new Adam(p, { lr: 3e-2 }) });
    assert.ok(history[19]!.features[0]! < 0.5 * history[0]!.features[0]!, `${history[0]!.features[0]} -> ${history[19]!.features[0]}`);
    assert.ok(teacher.parameters().every((p) => p.grad === null));
  });

  test('attention-map distillation between toy attention layers with different head counts', () => {
    // (B, T, D) -> per-head maps softmax(q k^T / sqrt(d)) : (B, H, T, T), exposed through an Identity to tap
    class ToyAttention extends Module {
      q: Linear; k: Linear; maps = new Identity(); head: Linear;
      constructor(readonly heads: number, readonly dHead: number) {
        super();
        this.q = new Linear(4, heads * dHead); this.k = new Linear(4, heads * dHead); this.head = new Linear(4, 3);
      }
      forward(x: Tensor): Tensor {
        const [b, t] = x.shape as [number, number];
        const split = (y: Tensor): Tensor => transpose(reshape(y, [b, t, this.heads, this.dHead]), 1, 2);
        const scores = div(matmul(split(this.q.call(x)), transpose(split(this.k.call(x)), 2, 3)), Math.sqrt(this.dHead));
        const p = this.maps.call(softmax(scores, -1));                     // (B, H, T, T)
        const mixed = matmul(mean(p, 1), x);                               // (B, T, 4)
        return this.head.call(mean(mixed, 1));                             // (B, 3)
      }
    }
    manualSeed(10);
    const teacher = new ToyAttention(4, 4), student = new ToyAttention(2, 2);
    const batches = Array.from({ length: 2 }, () => ({ x: randn([4, 5, 4]), y: null }));
    const d = new distill.Distiller({
      teacher, student, alpha: 1, features: [{ student: 'maps', teacher: 'maps', loss: 'attention-kl', meanOverHeads: true, weight: 2 }],
    });
    const { history } = distill.trainStudent(d, batches, { epochs: 20, optimizer: (p) => new Adam(p, { lr: 3e-2 }) });
    assert.ok(history[19]!.features[0]! < 0.5 * history[0]!.features[0]!, `${history[0]!.features[0]} -> ${history[19]!.features[0]}`);
    const same = new distill.Distiller({ teacher, student, features: [{ student: 'maps', teacher: 'maps', loss: 'attention-mse' }] });
    assert.throws(() => same.prepare(batches[0]!.x), /attention maps differ: student \(2, 2, 5, 5\) vs teacher \(2, 4, 5, 5\); pass meanOverHeads: true/);
  });

});

describe('Trainer integration (src/train): lossFn + distillCallback', () => {
  test('trains through the Trainer: teacher cached across epochs, loss falls, projector saved and restored', async () => {
    manualSeed(12);
    const data = syntheticBatches(64, 16);
    const teacher = mlp(8, 16, 4), student = mlp(8, 4, 4);
    const d = new distill.Distiller({ teacher, student, temperature: 2, alpha: 0.5, features: [{ student: '1', teacher: '1' }] });
    d.prepare(data[0]![0]);
    const optimizer = new Adam(d.parameters(), { lr: 1e-2 });
    const trainer = new Trainer({ model: student, optimizer, trainLoader: data, lossFn: d.lossFn, callbacks: [distill.distillCallback(d)], epochs: 4 });
    const r = await trainer.fit();
    assert.equal(r.stopReason, 'completed');
    assert.ok(r.history[3]!.trainLoss < r.history[0]!.trainLoss, `${r.history[0]!.trainLoss} -> ${r.history[3]!.trainLoss}`);
    assert.ok(Number.isFinite(r.history[3]!.trainAccuracy), 'the Trainer gets logits and labels for accuracy');
    assert.equal(d.stats().teacherForwards, 4, 'one teacher forward per batch over all 4 epochs');
    assert.ok(teacher.parameters().every((p) => p.grad === null));
    // the projector is not in the student's state dict: the callback carries it through checkpoints
    const snap = trainer.snapshot();
    const saved = snap.callbacks['distill'] as distill.DistillCallbackState;
    assert.deepEqual(saved.projectors[0]!.weight, vals(d.projectors()[0]!.weight));
    manualSeed(99);
    const student2 = mlp(8, 4, 4);
    const d2 = new distill.Distiller({ teacher, student: student2, temperature: 2, alpha: 0.5, features: [{ student: '1', teacher: '1' }] });
    d2.prepare(data[0]![0]);
    const trainer2 = new Trainer({ model: student2, optimizer: new Adam(d2.parameters(), { lr: 1e-2 }), trainLoader: data, lossFn: d2.lossFn, callbacks: [distill.distillCallback(d2)], epochs: 4 });
    trainer2.resume(snap);
    assert.deepEqual(vals(d2.projectors()[0]!.weight), vals(d.projectors()[0]!.weight));
    assert.deepEqual(vals(d2.projectors()[0]!.bias!), vals(d.projectors()[0]!.bias!));
    assert.deepEqual(snapshot(student2), snapshot(student));
  });

  test('an optimizer without the projectors is refused before the first step; lossFn is only for the student', async () => {
    manualSeed(13);
    const data = syntheticBatches(32, 16);
    const teacher = mlp(8, 16, 4), student = mlp(8, 4, 4);
    const d = new distill.Distiller({ teacher, student, features: [{ student: '1', teacher: '1' }] });
    const before = snapshot(student);
    const trainer = new Trainer({ model: student, optimizer: new SGD(student.parameters(), { lr: 1 }), trainLoader: data, lossFn: d.lossFn, epochs: 1 });
    await assert.rejects(trainer.fit(), /does not hold the projector parameters projector\[0\]\.weight/);
    assert.deepEqual(snapshot(student), before);
    assert.throws(() => d.lossFn(teacher, data[0]!), /not the distiller's student/);
  });
});

describe('evaluateAccuracy', () => {
  test('argmax of the outputs against the labels, mode restored', () => {
    const lin = new Linear(2, 2);
    noGrad(() => { lin.weight.assign(tensor([[1, 0], [0, 1]])); lin.bias!.assign(tensor([0, 0])); });
    lin.train();
    // predictions: argmax of x itself -> [0, 1, 1]; labels [0, 1, 0] -> 2 / 3
    const acc = distill.evaluateAccuracy(lin, [{ x: tensor([[2, 1], [0, 3], [1, 5]]), y: tensor(new Int32Array([0, 1, 0]), { shape: [3] }) }]);
    assert.equal(acc, 2 / 3);
    assert.equal(lin.training, true);
  });
});
