// Unit tests for data/idx.ts: IDX parsing of hand-built buffers (raw and gzip), refusal of corrupt and
// truncated files, and the real Fashion-MNIST files of Debian's dataset-fashion-mnist when installed,
// checked against numpy (tools/fixtures/data_fixtures.py -> test/data/fixtures/data_reference.json).

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';

import {
  idxImagesToTensor, idxLabelsToTensor, loadDataset, loadFashionMnist, loadIdxDirectory, parseIdx, readIdxFile,
} from '../../src/data/index.js';
import { requireOrSkip } from '../helpers/requirements.js';

const ref = JSON.parse(readFileSync(new URL('./fixtures/data_reference.json', import.meta.url), 'utf8'));

// 2 images of 2x3 pixels, uint8: header 00 00 08 03 | 00000002 | 00000002 | 00000003, then 12 bytes
const IMAGES = Uint8Array.from([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 1]);
// 2 labels: header 00 00 08 01 | 00000002, then 7, 2
const LABELS = Uint8Array.from([0, 0, 0x08, 1, 0, 0, 0, 2, 7, 2]);

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-idx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('parseIdx on hand-built buffers', () => {
  test('uint8 images and labels, raw', () => {
    const img = parseIdx(IMAGES);
    assert.equal(img.dtype, 'uint8');
    assert.deepEqual(img.shape, [2, 2, 3]);
    assert.deepEqual(Array.from(img.data), [0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 1]);
    const lab = parseIdx(LABELS);
    assert.deepEqual(lab.shape, [2]);
    assert.deepEqual(Array.from(lab.data), [7, 2]);
  });

  test('gzip is detected by its magic bytes and gives the same result', () => {
    const gz = gzipSync(IMAGES);
    assert.equal(gz[0], 0x1f);
    const img = parseIdx(gz);
    assert.deepEqual(img.shape, [2, 2, 3]);
    assert.deepEqual(Array.from(img.data), Array.from(parseIdx(IMAGES).data));
  });

  test('multi-byte types are big-endian: int16, int32, float32, float64', () => {
    // int16 (2,): 0x0102 = 258, 0xFFFE = -2
    assert.deepEqual(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 1, 2, 0xff, 0xfe])).data), [258, -2]);
    // int32 (1,): 0x80000000 = -2147483648
    assert.deepEqual(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 1, 0x80, 0, 0, 0])).data), [-2147483648]);
    // float32 (1,): 0x3FC00000 = 1.5
    assert.deepEqual(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0])).data), [1.5]);
    // float64 (1,): 0xC000000000000000 = -2
    assert.deepEqual(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0e, 1, 0, 0, 0, 1, 0xc0, 0, 0, 0, 0, 0, 0, 0])).data), [-2]);
    // int8 (2,): 0xFF = -1, 0x05 = 5
    assert.deepEqual(Array.from(parseIdx(Uint8Array.from([0, 0, 0x09, 1, 0, 0, 0, 2, 0xff, 5])).data), [-1, 5]);
  });

  test('images -> float32 value / 255 in (N, 1, H, W) or flat (N, H*W); labels -> int32', () => {
    const x = idxImagesToTensor(parseIdx(IMAGES));
    assert.deepEqual(x.shape, [2, 1, 2, 3]);
    assert.equal(x.dtype, 'float32');
    // 51 / 255 = 0.2, 102 / 255 = 0.4, 153 / 255 = 0.6, 204 / 255 = 0.8
    assert.deepEqual(Array.from(x.data.subarray(0, 6)), [0, 0.2, 0.4, 0.6, 0.8, 1].map(Math.fround));
    assert.deepEqual(idxImagesToTensor(parseIdx(IMAGES), { flat: true }).shape, [2, 6]);
    const y = idxLabelsToTensor(parseIdx(LABELS), 10);
    assert.equal(y.dtype, 'int32');
    assert.deepEqual(y.toArray(), [7, 2]);
    assert.throws(() => idxLabelsToTensor(parseIdx(LABELS), 5), /label 7 at index 0 is outside 0..4/);
    assert.throws(() => idxImagesToTensor(parseIdx(LABELS), {}, 'x.idx'), /idx: x.idx: expected uint8 images of shape \(N, H, W\), got uint8 \(2,\)/);
  });
});

describe('corrupt and truncated IDX data is refused', () => {
  test('truncated data, trailing bytes, truncated header', () => {
    assert.throws(() => parseIdx(IMAGES.subarray(0, IMAGES.length - 1), 'img'), /idx: img: truncated: the header says \(2, 2, 3\) uint8 = 28 bytes in all, but the file has 27/);
    assert.throws(() => parseIdx(Uint8Array.from([...LABELS, 0]), 'lab'), /lab: has trailing bytes/);
    assert.throws(() => parseIdx(IMAGES.subarray(0, 10)), /truncated header: 3 dimensions need 16 header bytes, the file has 10/);
    assert.throws(() => parseIdx(Uint8Array.from([0, 0])), /too short/);
  });

  test('bad magic: wrong leading bytes, unknown type code, zero dimensions', () => {
    assert.throws(() => parseIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0])), /not an IDX file: magic bytes 01 00 08 01/);
    assert.throws(() => parseIdx(Uint8Array.from([0, 0, 7, 1, 0, 0, 0, 0])), /magic bytes 00 00 07 01/);
    assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 0])), /not an IDX file/);
    assert.throws(() => parseIdx(new TextEncoder().encode('<html>not found</html>')), /not an IDX file/);
  });

  test('truncated or corrupt gzip', () => {
    const gz = gzipSync(IMAGES);
    assert.throws(() => parseIdx(gz.subarray(0, gz.length - 6), 'a.gz'), /idx: a.gz: corrupt or truncated gzip data/);
    const bad = Uint8Array.from(gz); bad[12]! ^= 0xff;
    assert.throws(() => parseIdx(bad, 'b.gz'), /corrupt or truncated gzip data|truncated|trailing|not an IDX file/);
    // a gzip file that decompresses to a truncated IDX
    assert.throws(() => parseIdx(gzipSync(IMAGES.subarray(0, 20)), 'c.gz'), /c.gz: truncated: .* but the decompressed file has 20/);
  });

  test('files: missing file, directory layout, count mismatch between images and labels', () => {
    assert.throws(() => readIdxFile(join(dir, 'nope.gz')), /idx: cannot read .*nope.gz: ENOENT/);
    const d = join(dir, 'set');
    assert.throws(() => loadIdxDirectory(d), /missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz/);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d);
    writeFileSync(join(d, 'train-images-idx3-ubyte.gz'), gzipSync(IMAGES));
    writeFileSync(join(d, 'train-labels-idx1-ubyte'), LABELS); // raw and gzip may be mixed
    writeFileSync(join(d, 't10k-images.idx3-ubyte'), IMAGES); // the dotted spelling
    writeFileSync(join(d, 't10k-labels-idx1-ubyte.gz'), gzipSync(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 1, 3])));
    assert.throws(() => loadIdxDirectory(d), /has 2 images but .*t10k-labels-idx1-ubyte.gz has 1 labels/);
    writeFileSync(join(d, 't10k-labels-idx1-ubyte.gz'), gzipSync(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 2, 3, 1])));
    const ok = loadIdxDirectory(d);
    assert.equal(ok.numClasses, 8); // largest label 7 + 1
    assert.deepEqual(ok.imageShape, [2, 3]);
    assert.deepEqual(ok.test.tensors[1]!.toArray(), [3, 1]);
    // the registry loads a path to such a directory
    const viaRegistry = loadDataset(d, { flat: true });
    assert.equal(viaRegistry.kind, 'image');
    assert.deepEqual(viaRegistry.info.inputShape, [6]);
    assert.deepEqual(viaRegistry.train.get(0)[0]!.shape, [6]);
  });

  test('fashion-mnist: a missing dataset says how to install it', () => {
    assert.throws(() => loadFashionMnist({ dir: join(dir, 'absent') }), /fashion-mnist: dataset not found: .*absent does not exist. Install it with `apt-get install -y dataset-fashion-mnist`, or pass --data <dir>/);
    assert.throws(() => loadDataset('fashion-mnist', { data: dir }), /lacks some of .*apt-get install -y dataset-fashion-mnist/);
  });
});

const fm = ref.fashionMnist as null | Record<'train' | 't10k', { count: number; imageShape: number[]; histogram: number[]; firstLabels: number[]; picks: number[]; pickLabels: number[]; pickPixelSums: number[]; image0Pixels: number[] }>;
test('the committed fixture has the Fashion-MNIST numpy reference values', () => {
  assert.ok(fm !== null, 'data_reference.json has no fashionMnist entry: regenerate it with /usr/bin/python3 tools/fixtures/data_fixtures.py on a machine with dataset-fashion-mnist');
});

describe('real Fashion-MNIST (Debian dataset-fashion-mnist) against numpy', { skip: requireOrSkip('fashion-mnist') }, () => {
  test('counts, label histograms, first labels, pixel sums and values', () => {
    const { train, test: testSet, info } = loadFashionMnist();
    assert.equal(info.numClasses, 10);
    assert.deepEqual(info.inputShape, [1, 28, 28]);
    for (const [split, ds] of [['train', train], ['t10k', testSet]] as const) {
      const r = fm![split];
      assert.equal(ds.length, r.count);
      const [x, y] = ds.tensors;
      assert.deepEqual(x!.shape, [r.count, 1, ...r.imageShape]);
      const hist = new Array<number>(10).fill(0);
      for (const v of y!.data) hist[v]!++;
      assert.deepEqual(hist, r.histogram);
      assert.deepEqual(Array.from(y!.data.subarray(0, r.firstLabels.length)), r.firstLabels);
      const [xb, yb] = ds.getBatch(r.picks);
      assert.deepEqual(Array.from(yb!.data), r.pickLabels);
      r.picks.forEach((_, k) => {
        let s = 0;
        for (const v of xb!.data.subarray(k * 784, (k + 1) * 784)) s += v;
        assert.ok(Math.abs(s - r.pickPixelSums[k]!) < 1e-3, `${split} image ${r.picks[k]} pixel sum ${s} vs numpy ${r.pickPixelSums[k]}`);
      });
      // pixels (14, 14) and (20, 7) of image 0
      assert.ok(Math.abs(x!.data[14 * 28 + 14]! - r.image0Pixels[0]!) < 1e-7);
      assert.ok(Math.abs(x!.data[20 * 28 + 7]! - r.image0Pixels[1]!) < 1e-7);
    }
    assert.equal(train.length, 60000);
    assert.equal(testSet.length, 10000);
    assert.deepEqual(fm!.train.histogram, new Array(10).fill(6000));
  });

  test('flat layout via the registry', () => {
    const d = loadDataset('fashion-mnist', { flat: true });
    assert.equal(d.kind, 'image');
    assert.deepEqual(d.train.get(0)[0]!.shape, [784]);
    assert.deepEqual(d.info.inputShape, [784]);
  });
});
