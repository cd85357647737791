// Data: datasets, the DataLoader, dataset readers (IDX, embedded MNIST digits, Fashion-MNIST, text
// corpora) and tokenizers. Imports only from the layers below it (backend, core, ops).

export { TensorDataset, Subset, randomSplit, randperm, hasGetBatch, type Dataset, type BatchDataset } from './dataset.js';
export { defaultCollate, type Collated } from './collate.js';
export { DataLoader, type DataLoaderOptions, type DataLoaderState } from './dataloader.js';
export {
  randomShift, shiftImages, drawShifts, parseAugment, augmentTransform, AUGMENTATIONS, mixup, composeTransforms, sampleBeta, sampleGamma,
  type BatchTransform, type BatchTransformContext, type RandomShiftOptions, type AugmentSpec, type MixupOptions,
} from './augment.js';
export {
  parseIdx, readIdxFile, isGzip, idxImagesToTensor, idxLabelsToTensor, loadIdxPair, loadIdxDirectory, findIdxFile, idxCandidates,
  type IdxArray, type IdxDType, type IdxData, type IdxImageOptions, type IdxDirectory,
} from './idx.js';
export { loadMnistDigits, mnistDigitsDir, MNIST_DIGITS_TRAIN_SIZE, MNIST_DIGITS_TEST_SIZE, type MnistDigitsOptions } from './mnist.js';
export { loadFashionMnist, hasFashionMnist, FASHION_MNIST_DIR, FASHION_MNIST_CLASSES } from './fashion_mnist.js';
export { ByteTokenizer, Gpt2Tokenizer, getTokenizer, TOKENIZERS, type Tokenizer, type TokenizerName } from './tokenizer.js';
export {
  TokenDataset, RandomWindowSampler, splitTokens, loadTextDataset, loadTextCorpus, readSotu, readMobyDick, readTextFile,
  type TextCorpus, type TextDatasetOptions, type RandomWindowOptions, type RandomWindowState,
} from './text.js';
export { loadDataset, DATASETS, type LoadedDataset, type LoadDatasetOptions, type ImageClassificationData, type LanguageModelingData } from './registry.js';
export { validationSplitIndices, withoutValidation } from './holdout.js';
export type { ImageDatasetInfo, TextDatasetInfo, DatasetInfo } from './info.js';
