// Unit tests for data/augment.ts and the DataLoader's batch transform. Outside truths: hand-derived
// shifted images (out[i, j] = x[i - dy, j - dx], zero outside), the definition of a uniform integer
// shift in [-k, k], and invariants: a resumed loader yields bitwise the augmented batches of an
// uninterrupted one; the input batch is never changed.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { tensor, Tensor } from '../../src/index.js';
import {
  AUGMENTATIONS, augmentTransform, DataLoader, parseAugment, randomShift, shiftImages, TensorDataset,
  type BatchTransformContext,
} from '../../src/index.js';
import { Generator } from '../../src/core/random.js';

// one 3x4 image with values 1..12 (row-major)
const img = (): number[][] => [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]];

describe('shiftImages', () => {
  test('hand-derived shifts of a 3x4 image, zero fill, input unchanged', () => {
    const x = tensor([[img()]]); // (1, 1, 3, 4)
    const before = x.toArray();
    // 1 right, 0 down
    assert.deepEqual(shiftImages(x, [1], [0]).toArray(), [[[[0, 1, 2, 3], [0, 5, 6, 7], [0, 9, 10, 11]]]]);
    // 2 left, 1 down
    assert.deepEqual(shiftImages(x, [-2], [1]).toArray(), [[[[0, 0, 0, 0], [3, 4, 0, 0], [7, 8, 0, 0]]]]);
    // 0 right, 2 up
    assert.deepEqual(shiftImages(x, [0], [-2]).toArray(), [[[[9, 10, 11, 12], [0, 0, 0, 0], [0, 0, 0, 0]]]]);
    // shifted out entirely
    assert.deepEqual(shiftImages(x, [4], [0]).toArray(), [[[[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]]]);
    // no shift: a copy
    assert.deepEqual(shiftImages(x, [0], [0]).toArray(), before);
    assert.deepEqual(x.toArray(), before);
  });

  test('flattened (B, H*W) with a geometry == (B, 1, H, W); per-image shifts; channels move together', () => {
    const a = img().flat(), b = img().flat().map((v) => -v);
    const flat = tensor([a, b]); // (2, 12)
    const out = shiftImages(flat, [1, 0], [0, 1], [3, 4]);
    assert.deepEqual(out.shape, [2, 12]);
    assert.deepEqual(out.toArray(), [
      [0, 1, 2, 3, 0, 5, 6, 7, 0, 9, 10, 11],
      [0, 0, 0, 0, -1, -2, -3, -4, -5, -6, -7, -8],
    ]);
    const four = shiftImages(tensor([[img()], [img().map((r) => r.map((v) => -v))]]), [1, 0], [0, 1]);
    assert.deepEqual(Array.from(four.dataSync()), Array.from(out.dataSync()));
    // 2 channels, one shift per image
    const two = shiftImages(tensor([[img(), img().map((r) => r.map((v) => v * 10))]]), [-1], [0]);
    assert.deepEqual(two.toArray(), [[[[2, 3, 4, 0], [6, 7, 8, 0], [10, 11, 12, 0]], [[20, 30, 40, 0], [60, 70, 80, 0], [100, 110, 120, 0]]]]);
    // a flat square image needs no geometry; a flat geometry [H*W] is read as square
    const sq = tensor([[1, 2, 3, 4]]);
    assert.deepEqual(shiftImages(sq, [1], [0]).toArray(), [[0, 1, 0, 3]]);
    assert.deepEqual(shiftImages(sq, [0], [1], [4]).toArray(), [[0, 0, 1, 2]]);
  });

  test('bad input is refused with the shapes named', () => {
    assert.throws(() => shiftImages(tensor([img().flat()]), [0], [0]), /12 values are not square; give imageShape/);
    assert.throws(() => shiftImages(tensor([img().flat()]), [0], [0], [3, 5]), /do not match imageShape \(1, 3, 5\)/);
    assert.throws(() => shiftImages(tensor([[img()]]), [0, 1], [0]), /one shift per image \(1\)/);
    assert.throws(() => shiftImages(tensor([[img()]]), [0.5], [0]), /shifts must be integers/);
    assert.throws(() => shiftImages(tensor([[1, 2]], { dtype: 'int32' }), [0], [0]), /expected float images, got int32/);
  });
});

describe('randomShift', () => {
  const ctx = (seed: number): BatchTransformContext => ({ generator: new Generator(seed), epoch: 0, index: 0 });

  test('each image moves by a uniform integer shift in [-k, k] per axis; labels pass through', () => {
    // 400 images of 9x9 with a single bright pixel at the centre: its new place gives the shift
    const n = 400, k = 2;
    const x = new Float32Array(n * 81);
    for (let i = 0; i < n; i++) x[i * 81 + 40] = 1;
    const labels = tensor(Array.from({ length: n }, (_, i) => i % 10), { dtype: 'int32' });
    const [out, y] = randomShift({ maxShift: k, imageShape: [1, 9, 9] })([new Tensor(x, 'float32', [n, 81]), labels], ctx(3));
    assert.equal(y, labels);
    const counts = new Map<string, number>();
    const d = out!.dataSync();
    for (let i = 0; i < n; i++) {
      const at = d.subarray(i * 81, (i + 1) * 81).indexOf(1);
      const dy = Math.floor(at / 9) - 4, dx = (at % 9) - 4;
      assert.ok(Math.abs(dx) <= k && Math.abs(dy) <= k, `shift (${dx}, ${dy})`);
      counts.set(`${dx},${dy}`, (counts.get(`${dx},${dy}`) ?? 0) + 1);
    }
    assert.equal(counts.size, 25); // all (2k+1)^2 shifts occur (expected 16 each)
    for (const c of counts.values()) assert.ok(c >= 4 && c <= 35, `count ${c}`);
    // the same generator state gives the same shifts
    const again = randomShift({ maxShift: k, imageShape: [1, 9, 9] })([new Tensor(x, 'float32', [n, 81]), labels], ctx(3));
    assert.deepEqual(Array.from(again[0]!.dataSync()), Array.from(d));
  });

  test('maxShift 0 is the identity; bad options are refused', () => {
    const b = [tensor([[img()]])];
    assert.equal(randomShift({ maxShift: 0 })(b, ctx(1)), b);
    assert.throws(() => randomShift({ maxShift: -1 }), /randomShift: maxShift must be a non-negative integer/);
    assert.throws(() => randomShift({ maxShift: 1.5 }), /non-negative integer/);
    assert.throws(() => randomShift({ maxShift: 1, imageShape: [12] }), /12 values is not a square image/);
    assert.throws(() => randomShift({ maxShift: 1 })([] as Tensor[], ctx(1)), /first element is a tensor of images/);
  });

  test('parseAugment and augmentTransform', () => {
    assert.deepEqual(parseAugment('none'), { kind: 'none' });
    assert.deepEqual(parseAugment('shift'), { kind: 'shift', maxShift: 2 });
    assert.deepEqual(parseAugment('shift:3'), { kind: 'shift', maxShift: 3 });
    assert.deepEqual(parseAugment('shift:0'), { kind: 'none' });
    for (const bad of ['shift:9', 'shift:-1', 'shift:1.5', 'rotate', 'shift:']) {
      assert.throws(() => parseAugment(bad), /augment: unknown augmentation .*use none, shift \(up to 2 pixels\) or shift:N/);
    }
    assert.equal(augmentTransform('none'), null);
    assert.equal(typeof augmentTransform('shift:1', [1, 28, 28]), 'function');
    assert.deepEqual([...AUGMENTATIONS], ['none', 'shift', 'shift:N']);
  });
});

describe('DataLoader transform', () => {
  // 10 distinct 4x4 images (image i holds i*16 .. i*16+15), label i
  const ds = (): TensorDataset => new TensorDataset(
    tensor(Array.from({ length: 10 }, (_, i) => Array.from({ length: 16 }, (_, j) => i * 16 + j + 1))),
    tensor(Array.from({ length: 10 }, (_, i) => i), { dtype: 'int32' }),
  );
  const make = (shuffle = true): DataLoader<Tensor[]> => new DataLoader(ds(), {
    batchSize: 3, shuffle, seed: 5, transform: randomShift({ maxShift: 1, imageShape: [4, 4] }),
  });
  const flat = (bs: Iterable<Tensor[]>): number[][] => Array.from(bs, (b) => [...Array.from(b[0]!.dataSync()), ...Array.from(b[1]!.dataSync())]);

  test('the transform is applied, sees (epoch, index), and differs across epochs even without shuffle', () => {
    const seen: Array<[number, number]> = [];
    const l = new DataLoader(ds(), { batchSize: 4, transform: (b, c) => { seen.push([c.epoch, c.index]); return b; } });
    Array.from(l); Array.from(l);
    assert.deepEqual(seen, [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]);
    const plain = make(false);
    const e0 = flat(plain), e1 = flat(plain);
    assert.notDeepEqual(e0, e1);
    assert.notDeepEqual(e0, flat(new DataLoader(ds(), { batchSize: 3 })));
    assert.deepEqual(flat(make(false)), e0); // a seeded loader repeats
    assert.throws(() => new DataLoader(ds(), { transform: 3 as never }), /DataLoader: transform must be a function/);
  });

  test('resume mid-epoch yields bitwise the augmented batches of an uninterrupted run', () => {
    const ref = (): number[][] => { const l = make(); return [...flat(l), ...flat(l), ...flat(l)]; };
    const reference = ref();
    for (const k of [0, 1, 3]) {
      const first = make();
      const got = flat(first);
      let i = 0;
      for (const b of first) { got.push(...flat([b])); if (++i === k) break; }
      const state = JSON.parse(JSON.stringify(first.stateDict()));
      const resumed = make();
      resumed.loadStateDict(state);
      got.push(...flat(resumed), ...flat(resumed));
      assert.deepEqual(got.slice(0, reference.length), reference, `resume after epoch 0 + ${k} batches`);
    }
  });
});
