// Huffman coding of a pruned, quantized weight: Deep Compression's third stage (Han et al. 2016,
// section 4). The entries are those of weight_coding.ts (a gap symbol, with the all-ones gap as a
// filler, then the stored value's code), but each gap symbol and each code is written with a
// canonical Huffman code of its own alphabet, so frequent gaps and frequent cluster indices cost
// fewer bits. The code tables travel as code lengths (one byte per symbol, 0 = unused); canonical
// codes (shorter first, then by symbol) are rebuilt from them. Bits are packed LSB first into bytes,
// each code written from its most significant bit. Pure functions; no I/O, no modules.

import { TensorslimError } from '../../core/errors.js';
import { readEntries, streamBit } from './weight_coding.js';

/** The longest code this coder writes or reads (a table that needs more is flattened). */
export const MAX_CODE_LENGTH = 24;

/** A Huffman-coded weight: the stream and the two code-length tables. */
export interface HuffmanCodedWeight {
  stream: Uint8Array;
  gapBits: number;
  codeBits: number;
  /** Stored values (entries that are not fillers). */
  count: number;
  /** Code length of each gap symbol 0..2^gapBits-1 (the last is the filler). */
  gapLengths: Uint8Array;
  /** Code length of each code 0..2^codeBits-1. */
  codeLengths: Uint8Array;
}

/**
 * Huffman code lengths for symbol frequencies (0 for unused symbols; a lone symbol gets length 1),
 * at most MAX_CODE_LENGTH bits (frequencies are halved until the tree fits).
 * @example huffmanLengths([5, 1, 1, 0])  // Uint8Array [1, 2, 2, 0]
 */
export function huffmanLengths(freq: ArrayLike<number>): Uint8Array {
  let f = Array.from(freq, (v) => Math.max(0, Math.floor(v)));
  for (;;) {
    const lengths = new Uint8Array(f.length);
    const used = f.map((v, s) => [v, s] as const).filter(([v]) => v > 0);
    if (used.length === 0) return lengths;
    if (used.length === 1) { lengths[used[0]![1]] = 1; return lengths; }
    // nodes: weight and the symbols under them; merge the two lightest until one is left
    let nodes = used.map(([v, s]) => ({ w: v, syms: [s] }));
    while (nodes.length > 1) {
      nodes.sort((a, b) => a.w - b.w || a.syms[0]! - b.syms[0]!);
      const [a, b] = [nodes[0]!, nodes[1]!];
      for (const s of a.syms) lengths[s]!++;
      for (const s of b.syms) lengths[s]!++;
      nodes = [{ w: a.w + b.w, syms: [...a.syms, ...b.syms] }, ...nodes.slice(2)];
    }
    if (Math.max(...lengths) <= MAX_CODE_LENGTH) return lengths;
    f = f.map((v) => (v > 0 ? Math.max(1, v >> 1) : 0));
  }
}

/** Canonical codes for code lengths: codes[s] (valid for lengths[s] > 0). Throws on an over-full table. */
function canonicalCodes(op: string, lengths: Uint8Array): Uint32Array {
  const count = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  for (const l of lengths) {
    if (l > MAX_CODE_LENGTH) throw new TensorslimError(op, `corrupt Huffman table (code length ${l} > ${MAX_CODE_LENGTH})`);
    if (l > 0) count[l]!++;
  }
  // Kraft: sum 2^-l <= 1
  let kraft = 0;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) kraft += count[l]! * 2 ** (MAX_CODE_LENGTH - l);
  if (kraft > 2 ** MAX_CODE_LENGTH) throw new TensorslimError(op, 'corrupt Huffman table (code lengths over-full: not a prefix code)');
  const next = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  let code = 0;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) { next[l] = code; code = (code + count[l]!) * 2; }
  const codes = new Uint32Array(lengths.length);
  for (let s = 0; s < lengths.length; s++) if (lengths[s]! > 0) codes[s] = next[lengths[s]!]!++;
  return codes;
}

/** A canonical decoder: per length, the first code, where its symbols start, and the symbols in order. */
function decoder(op: string, lengths: Uint8Array): { first: number[]; start: number[]; count: number[]; symbols: number[] } {
  canonicalCodes(op, lengths);   // validates
  const count = new Array<number>(MAX_CODE_LENGTH + 1).fill(0);
  for (const l of lengths) if (l > 0) count[l]!++;
  const symbols = [...lengths.keys()].filter((s) => lengths[s]! > 0).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const first: number[] = [0], start: number[] = [0];
  let code = 0, idx = 0;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) { first[l] = code; start[l] = idx; code = (code + count[l]!) * 2; idx += count[l]!; }
  return { first, start, count, symbols };
}

/** Gap symbols (with fillers) and codes of the entries, as weight_coding.ts defines them. */
function entries(positions: ArrayLike<number>, gapBits: number): number[] {
  const filler = 2 ** gapBits - 1;
  const gaps: number[] = [];
  let next = 0;
  for (let i = 0; i < positions.length; i++) {
    let gap = positions[i]! - next;
    for (; gap >= filler; gap -= filler) gaps.push(filler);
    gaps.push(gap);
    next = positions[i]! + 1;
  }
  return gaps;
}

function histogram(values: readonly number[] | ArrayLike<number>, n: number): Float64Array {
  const h = new Float64Array(n);
  for (let i = 0; i < values.length; i++) h[values[i]!]!++;
  return h;
}

/**
 * Huffman-code the stored values at `positions` (strictly increasing) with their `codes` (< 2^codeBits,
 * codeBits <= 8), choosing the gap width (1..8 bits) that makes stream + tables smallest.
 * @example encodeWeightHuffman([0, 5, 6], [3, 1, 3], 2).stream.length
 */
export function encodeWeightHuffman(positions: ArrayLike<number>, codes: ArrayLike<number>, codeBits: number): HuffmanCodedWeight {
  const op = 'encodeWeightHuffman';
  if (positions.length !== codes.length) throw new TensorslimError(op, `${positions.length} positions but ${codes.length} codes`);
  if (!Number.isInteger(codeBits) || codeBits < 1 || codeBits > 8) throw new TensorslimError(op, `codeBits must be 1..8, got ${codeBits}`);
  for (let i = 0; i < positions.length; i++) {
    if (i > 0 && !(positions[i]! > positions[i - 1]!)) throw new TensorslimError(op, `positions must increase strictly; ${positions[i]} follows ${positions[i - 1]}`);
    if (!Number.isInteger(codes[i]!) || codes[i]! < 0 || codes[i]! >= 2 ** codeBits) throw new TensorslimError(op, `code ${codes[i]} at position ${positions[i]} does not fit in ${codeBits} bits`);
  }
  const codeFreq = histogram(codes, 2 ** codeBits);
  const codeLengths = huffmanLengths(codeFreq);
  const codeCost = codeFreq.reduce((a, v, s) => a + v * codeLengths[s]!, 0);
  let best: { gapBits: number; gaps: number[]; gapLengths: Uint8Array; bytes: number } | null = null;
  for (let b = 1; b <= 8; b++) {
    const gaps = entries(positions, b);
    const gapFreq = histogram(gaps, 2 ** b);
    const gapLengths = huffmanLengths(gapFreq);
    const bits = gapFreq.reduce((a, v, s) => a + v * gapLengths[s]!, 0) + codeCost;
    const bytes = Math.ceil(bits / 8) + 2 ** b;
    if (best === null || bytes < best.bytes) best = { gapBits: b, gaps, gapLengths, bytes };
  }
  const { gapBits, gaps, gapLengths } = best!;
  const gapCodes = canonicalCodes(op, gapLengths), codeCodes = canonicalCodes(op, codeLengths);
  const filler = 2 ** gapBits - 1;
  const bitsTotal = gaps.reduce((a, g) => a + gapLengths[g]!, 0) + codeCost;
  const stream = new Uint8Array(Math.ceil(bitsTotal / 8));
  let bit = 0;
  const put = (code: number, len: number): void => {
    for (let k = len - 1; k >= 0; k--, bit++) if ((code >>> k) & 1) stream[bit >>> 3]! |= 1 << (bit & 7);
  };
  let i = 0;
  for (const g of gaps) {
    put(gapCodes[g]!, gapLengths[g]!);
    if (g !== filler) { const c = codes[i++]!; put(codeCodes[c]!, codeLengths[c]!); }
  }
  return { stream, gapBits, codeBits, count: positions.length, gapLengths, codeLengths };
}

/**
 * Decode a Huffman-coded weight into (position, code) pairs, checked against the weight's `size`
 * (tables, stream length, positions and padding), as decodeWeight does for the fixed-width stream.
 * @example const { positions, codes } = decodeWeightHuffman(coded, 10);
 */
export function decodeWeightHuffman(coded: HuffmanCodedWeight, size: number, what = 'weight'): { positions: Int32Array; codes: Int32Array } {
  const op = 'decodeWeightHuffman';
  const { stream, gapBits, codeBits, count, gapLengths, codeLengths } = coded;
  const bad = (why: string): never => { throw new TensorslimError(op, `${what}: corrupt Huffman-coded weight (${why})`); };
  if (!Number.isInteger(gapBits) || gapBits < 1 || gapBits > 8 || !Number.isInteger(codeBits) || codeBits < 1 || codeBits > 8) bad(`gapBits ${gapBits}, codeBits ${codeBits}; each must be 1..8`);
  if (gapLengths.length !== 2 ** gapBits || codeLengths.length !== 2 ** codeBits) bad(`tables of ${gapLengths.length} and ${codeLengths.length} lengths for ${gapBits}-bit gaps and ${codeBits}-bit codes`);
  if (!Number.isSafeInteger(count) || count < 0 || count > size) bad(`${count} stored values for a weight of ${size} entries`);
  let gd: ReturnType<typeof decoder>, cd: ReturnType<typeof decoder>;
  try { gd = decoder(op, gapLengths); cd = decoder(op, codeLengths); } catch (e) { return bad((e as Error).message); }
  const total = stream.length * 8;
  const at = { bit: 0 };
  const read = (d: ReturnType<typeof decoder>): number => {
    let code = 0;
    for (let l = 1; l <= MAX_CODE_LENGTH; l++) {
      if (at.bit >= total) bad('the stream ends inside an entry');
      code = (code << 1) | streamBit(stream, at.bit);
      at.bit++;
      const k = code - d.first[l]!;
      if (k >= 0 && k < d.count[l]!) return d.symbols[d.start[l]! + k]!;
    }
    return bad('a bit pattern matches no code');
  };
  return readEntries(stream, at, { count, size, gapBits }, () => read(gd), () => read(cd), bad);
}
