// The description every dataset loader returns next to its train and test sets.

/** What an image-classification dataset holds. */
export interface ImageDatasetInfo {
  readonly kind: 'image';
  readonly name: string;
  readonly numClasses: number;
  /** Shape of one input sample: [1, H, W], or [H*W] when loaded flat. */
  readonly inputShape: readonly number[];
  readonly classNames: readonly string[];
  readonly trainSize: number;
  readonly testSize: number;
  /** Where the data was read from. */
  readonly source: string;
  /** How train and test were formed. */
  readonly split: string;
}

/** What a language-modelling (next-token) dataset holds. */
export interface TextDatasetInfo {
  readonly kind: 'text';
  readonly name: string;
  /** = vocabSize: each position is a classification over the vocabulary. */
  readonly numClasses: number;
  /** [contextLength]: one input sample is a window of token ids. */
  readonly inputShape: readonly number[];
  readonly vocabSize: number;
  readonly tokenizer: string;
  readonly contextLength: number;
  readonly trainTokens: number;
  readonly testTokens: number;
  /** UTF-8 bytes the test tokens decode to: bits per byte = testLoss * testTokens / (testBytes * ln 2). */
  readonly testBytes: number;
  readonly trainBytes: number;
  readonly source: string;
  readonly split: string;
}

export type DatasetInfo = ImageDatasetInfo | TextDatasetInfo;
