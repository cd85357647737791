// DistillerOptions take GPT models as they are (no cast): a GPT is called with the token ids alone.
// Outside truth: the loss is Hinton's objective on the (B, L, V) logits flattened to B * L rows,
// alpha * KL(softmax(t/T) || softmax(s/T)) * T^2 + (1 - alpha) * CE, written out in plain JS here.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { distill } from '../../src/compress/index.js';
import { manualSeed, noGrad, tensor, type Tensor } from '../../src/index.js';
import { createGpt } from '../../src/models/index.js';

test('a GPT teacher and a smaller GPT student, without casts', () => {
  manualSeed(0);
  const teacher = createGpt('gpt-tiny', { nLayer: 2, nEmbd: 16, nHead: 2, blockSize: 8, vocabSize: 11 });
  const student = createGpt('gpt-tiny', { nLayer: 1, nEmbd: 8, nHead: 2, blockSize: 8, vocabSize: 11 });
  const d = new distill.Distiller({ teacher, student, temperature: 2, alpha: 0.6 });
  const x = tensor(Int32Array.from([1, 4, 2, 9, 0, 3, 3, 7, 10, 5]), { shape: [2, 5] });
  const y = tensor(Int32Array.from([4, 2, 9, 0, 3, 3, 7, 10, 5, 1]), { shape: [2, 5] });
  const { loss } = d.computeLoss({ x, y });
  const [s, t] = noGrad(() => [student.call(x), teacher.call(x)] as [Tensor, Tensor]);
  assert.deepEqual(s.shape, [2, 5, 11]);
  const sv = s.dataSync(), tv = t.dataSync(), yv = y.dataSync();
  const T = 2, V = 11, rows = 10;
  const softmax = (v: ArrayLike<number>, o: number, tau: number): number[] => {
    const z = Array.from({ length: V }, (_, c) => v[o + c]! / tau);
    const m = Math.max(...z);
    const e = z.map((q) => Math.exp(q - m));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((q) => q / sum);
  };
  let kl = 0, ce = 0;
  for (let r = 0; r < rows; r++) {
    const p = softmax(tv, r * V, T), q = softmax(sv, r * V, T);
    for (let c = 0; c < V; c++) kl += p[c]! * (Math.log(p[c]!) - Math.log(q[c]!));
    ce -= Math.log(softmax(sv, r * V, 1)[yv[r]!]!);
  }
  const want = 0.6 * (kl / rows) * T * T + 0.4 * (ce / rows);
  assert.ok(Math.abs(loss.item() - want) < 1e-4 * Math.max(1, want), `${loss.item()} vs ${want}`);
  d.remove();
});
