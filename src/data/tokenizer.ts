// Tokenizers behind one interface: byte-level (vocabulary 256, lossless for any UTF-8 text) and
// GPT-2 BPE (vocabulary 50,257) through js-tiktoken, whose merge ranks are bundled in the package, so
// it works offline. js-tiktoken is loaded lazily, only when a GPT-2 tokenizer is asked for.

import { createRequire } from 'node:module';
import { TensorslimError } from '../core/errors.js';

/**
 * Text <-> token ids.
 * @example const tok = getTokenizer('byte'); tok.decode(tok.encode('hi')) === 'hi'
 */
export interface Tokenizer {
  /** 'byte' or 'gpt2'. */
  readonly name: string;
  /** Ids are in [0, vocabSize). */
  readonly vocabSize: number;
  encode(text: string): Int32Array;
  /** Ids outside [0, vocabSize) are refused. Byte sequences that are not valid UTF-8 decode to U+FFFD. */
  decode(ids: ArrayLike<number>): string;
}

export type TokenizerName = 'byte' | 'gpt2';
export const TOKENIZERS: readonly TokenizerName[] = ['byte', 'gpt2'];

function checkIds(name: string, ids: ArrayLike<number>, vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
      throw new TensorslimError(`tokenizer ${name}`, `token id ${v} at position ${i} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
}

/**
 * Byte-level tokenizer: the UTF-8 bytes of the text are the ids (vocabulary 256).
 * @example new ByteTokenizer().encode('hé') // Int32Array [104, 195, 169]
 */
export class ByteTokenizer implements Tokenizer {
  readonly name = 'byte';
  readonly vocabSize = 256;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder('utf-8');

  encode(text: string): Int32Array { return Int32Array.from(this.encoder.encode(text)); }

  decode(ids: ArrayLike<number>): string {
    checkIds(this.name, ids, this.vocabSize);
    return this.decoder.decode(Uint8Array.from(ids));
  }
}

interface TiktokenLike { encode(text: string, allowedSpecial?: string[] | 'all', disallowedSpecial?: string[] | 'all'): number[]; decode(tokens: number[]): string }

/**
 * GPT-2 byte-pair encoding (the r50k_base / `gpt2` ranks of tiktoken), vocabulary 50,257 with
 * <|endoftext|> = 50256. Text that happens to contain "<|endoftext|>" is encoded as plain text;
 * use `eot` to insert the special token.
 * @example new Gpt2Tokenizer().encode('hello world') // Int32Array [31373, 995]
 */
export class Gpt2Tokenizer implements Tokenizer {
  readonly name = 'gpt2';
  readonly vocabSize = 50257;
  /** Id of <|endoftext|>. */
  readonly eot = 50256;
  private readonly enc: TiktokenLike;

  constructor() {
    const require = createRequire(import.meta.url);
    try {
      const { Tiktoken } = require('js-tiktoken/lite') as { Tiktoken: new (ranks: unknown) => TiktokenLike };
      this.enc = new Tiktoken(require('js-tiktoken/ranks/gpt2'));
    } catch (e) {
      throw new TensorslimError('tokenizer gpt2', `cannot load js-tiktoken (${(e as Error).message}); it is a dependency of tensorslim: run \`npm install\``);
    }
  }

  // disallowedSpecial = []: special-token text in a corpus is ordinary text, never an error
  encode(text: string): Int32Array { return Int32Array.from(this.enc.encode(text, [], [])); }

  decode(ids: ArrayLike<number>): string {
    checkIds(this.name, ids, this.vocabSize);
    return this.enc.decode(Array.from(ids));
  }
}

let gpt2: Gpt2Tokenizer | null = null;

/**
 * A tokenizer by name ('byte' or 'gpt2'); the GPT-2 tokenizer is built once and shared.
 * @example getTokenizer('gpt2').vocabSize // 50257
 */
export function getTokenizer(name: string): Tokenizer {
  if (name === 'byte') return new ByteTokenizer();
  if (name === 'gpt2') return (gpt2 ??= new Gpt2Tokenizer());
  throw new TensorslimError('tokenizer', `unknown tokenizer '${name}'; choose one of ${TOKENIZERS.join(', ')}`);
}
