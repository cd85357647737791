// Unit tests for data/tokenizer.ts. Byte ids are the UTF-8 encoding (written out by hand); GPT-2 ids are
// the published ones (OpenAI tiktoken / Hugging Face GPT2Tokenizer documentation).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ByteTokenizer, getTokenizer, Gpt2Tokenizer } from '../../src/data/index.js';
import { Generator } from '../../src/index.js';

// random strings mixing ASCII, accents, CJK, emoji (surrogate pairs), whitespace runs and newlines
function randomText(g: Generator, n: number): string {
  const pools = ['abc xyz ', 'ÀéïõÜ', '日本語の文', '😀🎉👍', '  \n\t', "'s 're 123 ,.!?"];
  let s = '';
  for (let i = 0; i < n; i++) { const pool = Array.from(pools[g.randint(0, pools.length)]!); s += pool[g.randint(0, pool.length)]; }
  return s;
}

describe('byte tokenizer', () => {
  const tok = new ByteTokenizer();
  test('ids are the UTF-8 bytes', () => {
    assert.equal(tok.vocabSize, 256);
    assert.equal(tok.name, 'byte');
    assert.deepEqual(Array.from(tok.encode('hi')), [104, 105]);
    // é = U+00E9 = C3 A9; 😀 = U+1F600 = F0 9F 98 80
    assert.deepEqual(Array.from(tok.encode('hé😀')), [104, 0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80]);
    assert.deepEqual(Array.from(tok.encode('')), []);
  });

  test('round trip of random text; invalid UTF-8 decodes to U+FFFD; bad ids refused', () => {
    const g = new Generator(5);
    for (let i = 0; i < 50; i++) { const s = randomText(g, 40); assert.equal(tok.decode(tok.encode(s)), s); }
    assert.equal(tok.decode([0xc3]), '\ufffd');
    assert.throws(() => tok.decode([104, 256]), /tokenizer byte: token id 256 at position 1 is outside the vocabulary \[0, 256\)/);
    assert.throws(() => tok.decode([-1]), /outside the vocabulary/);
  });
});

describe('GPT-2 BPE tokenizer (js-tiktoken, offline)', () => {
  const tok = getTokenizer('gpt2');
  test('published ids', () => {
    assert.equal(tok.vocabSize, 50257);
    assert.equal(tok.name, 'gpt2');
    assert.deepEqual(Array.from(tok.encode('hello world')), [31373, 995]);
    assert.deepEqual(Array.from(tok.encode('Hello world')), [15496, 995]);
    assert.deepEqual(Array.from(tok.encode(' Hello world')), [18435, 995]);
    assert.equal(tok.decode([31373, 995]), 'hello world');
    assert.equal(tok.decode([50256]), '<|endoftext|>');
    assert.equal((tok as Gpt2Tokenizer).eot, 50256);
  });

  test('special-token text in a corpus is ordinary text, never an error', () => {
    const ids = Array.from(tok.encode('a<|endoftext|>b'));
    assert.ok(!ids.includes(50256));
    assert.equal(tok.decode(ids), 'a<|endoftext|>b');
  });

  test('round trip of random text; bad ids refused; the tokenizer is shared', () => {
    const g = new Generator(9);
    for (let i = 0; i < 50; i++) { const s = randomText(g, 60); assert.equal(tok.decode(tok.encode(s)), s); }
    assert.throws(() => tok.decode([50257]), /tokenizer gpt2: token id 50257 at position 0 is outside the vocabulary \[0, 50257\)/);
    assert.equal(getTokenizer('gpt2'), tok);
    assert.throws(() => getTokenizer('bpe'), /tokenizer: unknown tokenizer 'bpe'; choose one of byte, gpt2/);
  });
});
