// Soft targets for a shifted transfer set, precomputed per shift: withShiftedTeacherLogits stores
// the teacher's logits on every shifted image, shiftWithTeacherLogits shifts a batch exactly as
// randomShift does and picks the logits of the shift each image got. Outside truth: a linear
// teacher y = W x on 3x3 images, its output on the shifted image written out by hand.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { distill } from '../../src/compress/index.js';
import { Generator } from '../../src/core/random.js';
import { randomShift } from '../../src/data/augment.js';
import { TensorDataset } from '../../src/data/index.js';
import { Linear, noGrad, tensor, type Tensor } from '../../src/index.js';

const W = [[1, 0, 2, 0, -1, 0, 3, 0, 1], [0, 1, 0, 1, 0, 1, 0, 1, 0]];
/** The image (3x3, row-major) shifted by (dx, dy) with zero fill, then y = W x, by hand. */
function byHand(img: number[], dx: number, dy: number): number[] {
  const sh = Array.from({ length: 9 }, (_, p) => {
    const i = Math.floor(p / 3) - dy, j = (p % 3) - dx;
    return i >= 0 && i < 3 && j >= 0 && j < 3 ? img[i * 3 + j]! : 0;
  });
  return W.map((row) => row.reduce((s, w, p) => s + w * sh[p]!, 0));
}

test('withShiftedTeacherLogits / shiftWithTeacherLogits: the teacher\'s logits on the shifted image each sample gets', () => {
  const teacher = new Linear(9, 2, { bias: false });
  noGrad(() => teacher.weight.assign(tensor(W)));
  const imgs = [[1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 1, 0, 2, 0, 3, 0, 4, 0], [9, 0, 0, 0, 9, 0, 0, 0, 9]];
  const data = new TensorDataset(tensor(imgs), tensor(Int32Array.from([0, 1, 0]), { shape: [3] }));
  const t = distill.withShiftedTeacherLogits(teacher, data, { maxShift: 1, imageShape: [3, 3], batchSize: 2 });
  assert.deepEqual(t.tensors[2]!.shape, [3, 9, 2]);
  const l = Array.from(t.tensors[2]!.dataSync());
  imgs.forEach((img, n) => {
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      const r = (dy + 1) * 3 + dx + 1;
      assert.deepEqual(l.slice((n * 9 + r) * 2, (n * 9 + r + 1) * 2), byHand(img, dx, dy), `image ${n}, shift (${dx}, ${dy})`);
    }
  });
  // the transform shifts as randomShift does (same generator state) and picks the matching logits
  const batch = t.getBatch([2, 0, 1]);
  const ctx = () => ({ generator: new Generator(4), epoch: 0, index: 0 });
  const [xs, ys, ls] = distill.shiftWithTeacherLogits({ maxShift: 1, imageShape: [3, 3] })(batch, ctx()) as [Tensor, Tensor, Tensor];
  const [xr] = randomShift({ maxShift: 1, imageShape: [3, 3] })([batch[0]!, batch[1]!], ctx()) as [Tensor];
  assert.deepEqual(Array.from(xs.dataSync()), Array.from(xr.dataSync()));
  assert.deepEqual(Array.from(ys.dataSync()), [0, 0, 1]);
  const want = noGrad(() => teacher.call(xr));
  assert.deepEqual(Array.from(ls.dataSync()), Array.from(want.dataSync()));
  assert.throws(() => distill.withShiftedTeacherLogits(teacher, data, { maxShift: 0 }), /maxShift must be an integer in 1\.\.8/);
  assert.throws(() => distill.shiftWithTeacherLogits({ maxShift: 2, imageShape: [3, 3] })(batch, ctx()), /logits per shift \(B, 25, C\)/);
});
