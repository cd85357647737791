// Fashion-MNIST (Zalando; 60,000 train / 10,000 test 28x28 greyscale images, 10 classes) read from
// Debian's `dataset-fashion-mnist` package, or from any folder holding the four IDX files.

import { existsSync } from 'node:fs';
import { TensorslimError } from '../core/errors.js';
import type { TensorDataset } from './dataset.js';
import { findIdxFile, loadIdxDirectory, type IdxImageOptions } from './idx.js';
import type { ImageDatasetInfo } from './info.js';

/** Where `apt-get install -y dataset-fashion-mnist` puts the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze([
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
]);

/** Whether the four Fashion-MNIST files are present in `dir`. @example if (hasFashionMnist()) ... */
export function hasFashionMnist(dir: string = FASHION_MNIST_DIR): boolean {
  return (['train', 't10k'] as const).every((s) => (['images', 'labels'] as const).every((k) => findIdxFile(dir, s, k) !== null));
}

/**
 * Fashion-MNIST as float32 images in [0, 1] ((N, 1, 28, 28), or (N, 784) with flat) and int32 labels.
 * @example const { train, test } = loadFashionMnist({ flat: true }); // 60000 / 10000 samples
 */
export function loadFashionMnist(opts: IdxImageOptions & { dir?: string } = {}): { train: TensorDataset; test: TensorDataset; info: ImageDatasetInfo } {
  const dir = opts.dir ?? FASHION_MNIST_DIR;
  if (!hasFashionMnist(dir)) {
    const where = existsSync(dir) ? `${dir} lacks some of {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz` : `${dir} does not exist`;
    throw new TensorslimError('fashion-mnist', `dataset not found: ${where}. Install it with \`apt-get install -y dataset-fashion-mnist\`, or pass --data <dir> naming a folder with the four IDX files`);
  }
  const d = loadIdxDirectory(dir, { flat: opts.flat ?? false, numClasses: 10 });
  const [h, w] = d.imageShape;
  return {
    train: d.train, test: d.test,
    info: {
      kind: 'image', name: 'fashion-mnist', numClasses: 10, inputShape: opts.flat ? [h * w] : [1, h, w],
      classNames: FASHION_MNIST_CLASSES, trainSize: d.train.length, testSize: d.test.length, source: dir,
      split: 'the official split: train-* files (60,000) train, t10k-* files (10,000) test',
    },
  };
}
