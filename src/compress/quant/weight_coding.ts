// Compact storage of the int8 weight of a pruned (and optionally weight-shared) quantized layer, as
// Deep Compression stores it (Han et al. 2016, section 2: relative indices with filler entries,
// then codebook indices): only the entries that differ from their channel's zero point are kept.
//
//   stream = entries, bit-packed LSB first into bytes
//   entry  = gap (gapBits)                   gap < 2^gapBits - 1: skip `gap` zero entries, then
//            code (codeBits)                 one stored value: its code
//          | gap = 2^gapBits - 1 (no code)   filler: skip 2^gapBits - 1 zero entries, store nothing
//
// Positions run over the flattened (row-major) weight, so a gap may cross rows. A code is the int8
// value + 128 (8 bits) without sharing, or a cluster index into a float32 codebook with sharing:
// the int8 value is then quantize(codebook[code]) with the channel's scale and zero point, exactly
// as quantizePerChannel computes it (so the loaded weight is the saved one bit for bit).
// gapBits is chosen per layer to make the stream smallest. Pure functions; no I/O, no modules.

import { TensorslimError } from '../../core/errors.js';
import { quantizeValue } from '../../backend/quantized.js';

/** A coded weight: the stream plus what decoding needs besides the layer's qparams. */
export interface CodedWeight {
  stream: Uint8Array;
  gapBits: number;
  codeBits: number;
  /** Stored values (entries that are not fillers). */
  count: number;
}

/** Bits of the stream for these positions with `gapBits`-bit gaps and `codeBits`-bit codes. */
function streamBits(positions: ArrayLike<number>, gapBits: number, codeBits: number): number {
  const filler = 2 ** gapBits - 1;
  let bits = 0, next = 0;
  for (let i = 0; i < positions.length; i++) {
    const gap = positions[i]! - next;
    bits += Math.floor(gap / filler) * gapBits + gapBits + codeBits;
    next = positions[i]! + 1;
  }
  return bits;
}

/**
 * Code the stored values at `positions` (strictly increasing flat indices) with their `codes`
 * (each < 2^codeBits), choosing the gap width (1..16 bits) that gives the smallest stream.
 * @example encodeWeight([0, 5, 6], [3, 1, 2], 2).stream.length  // a few bytes
 */
export function encodeWeight(positions: ArrayLike<number>, codes: ArrayLike<number>, codeBits: number): CodedWeight {
  const op = 'encodeWeight';
  if (positions.length !== codes.length) throw new TensorslimError(op, `${positions.length} positions but ${codes.length} codes`);
  if (!Number.isInteger(codeBits) || codeBits < 1 || codeBits > 16) throw new TensorslimError(op, `codeBits must be 1..16, got ${codeBits}`);
  let gapBits = 1, best = Infinity;
  for (let b = 1; b <= 16; b++) {
    const bits = streamBits(positions, b, codeBits);
    if (bits < best) { best = bits; gapBits = b; }
  }
  const stream = new Uint8Array(Math.ceil(best / 8));
  let bit = 0;
  const put = (v: number, n: number): void => {
    for (let k = 0; k < n; k++, bit++) if ((v >>> k) & 1) stream[bit >>> 3]! |= 1 << (bit & 7);
  };
  const filler = 2 ** gapBits - 1;
  let next = 0;
  for (let i = 0; i < positions.length; i++) {
    const p = positions[i]!, c = codes[i]!;
    if (!(p >= next)) throw new TensorslimError(op, `positions must increase strictly; ${p} follows ${next - 1}`);
    if (!Number.isInteger(c) || c < 0 || c >= 2 ** codeBits) throw new TensorslimError(op, `code ${c} at position ${p} does not fit in ${codeBits} bits`);
    let gap = p - next;
    for (; gap >= filler; gap -= filler) put(filler, gapBits);
    put(gap, gapBits);
    put(c, codeBits);
    next = p + 1;
  }
  return { stream, gapBits, codeBits, count: positions.length };
}

/**
 * Decode a stream into (position, code) pairs, checking it against the weight's `size`: a stream
 * that runs past the weight, ends early, or has bits after its last entry is refused.
 * @example const { positions, codes } = decodeWeight(coded, 10);
 */
export function decodeWeight(coded: CodedWeight, size: number, what = 'weight'): { positions: Int32Array; codes: Int32Array } {
  const op = 'decodeWeight';
  const { stream, gapBits, codeBits, count } = coded;
  const bad = (why: string): never => { throw new TensorslimError(op, `${what}: corrupt coded weight (${why})`); };
  if (!Number.isInteger(gapBits) || gapBits < 1 || gapBits > 16 || !Number.isInteger(codeBits) || codeBits < 1 || codeBits > 16) bad(`gapBits ${gapBits}, codeBits ${codeBits}; each must be 1..16`);
  if (!Number.isSafeInteger(count) || count < 0 || count > size) bad(`${count} stored values for a weight of ${size} entries`);
  const total = stream.length * 8;
  const at = { bit: 0 };
  const get = (n: number): number => {
    if (at.bit + n > total) bad('the stream ends inside an entry');
    let v = 0;
    for (let k = 0; k < n; k++, at.bit++) v |= streamBit(stream, at.bit) << k;
    return v >>> 0;
  };
  return readEntries(stream, at, { count, size, gapBits }, () => get(gapBits), () => get(codeBits), bad);
}

/** Bit `bit` of an LSB-first stream (0 or 1). */
export const streamBit = (stream: Uint8Array, bit: number): number => (stream[bit >>> 3]! >>> (bit & 7)) & 1;

/**
 * The entry loop of both decoders (fixed-width here, Huffman in huffman.ts): `count` entries of a gap
 * (the all-ones gap of `gapBits` bits is a filler) and a code, read by `readGap` / `readCode` from
 * the stream position `at.bit`, each position checked against the weight's `size`; then the padding
 * must be under 8 bits, all zero.
 */
export function readEntries(stream: Uint8Array, at: { bit: number }, n: { count: number; size: number; gapBits: number },
  readGap: () => number, readCode: () => number, bad: (why: string) => never): { positions: Int32Array; codes: Int32Array } {
  const { count, size } = n;
  const positions = new Int32Array(count), codes = new Int32Array(count);
  const filler = 2 ** n.gapBits - 1;
  let next = 0, i = 0;
  while (i < count) {
    const gap = readGap();
    if (gap === filler) { next += filler; if (next > size) bad(`fillers run past the ${size} entries`); continue; }
    const p = next + gap;
    if (p >= size) bad(`position ${p} is outside the ${size} entries`);
    positions[i] = p;
    codes[i] = readCode();
    next = p + 1;
    i++;
  }
  const total = stream.length * 8;
  if (total - at.bit >= 8) bad(`${total - at.bit} bits follow the last entry`);
  for (; at.bit < total; at.bit++) if (streamBit(stream, at.bit)) bad('non-zero padding after the last entry');
  return { positions, codes };
}

/** Per-channel qparams of an int8 weight (N rows of `cols` entries). */
export interface WeightQParams { rows: number; cols: number; scales: Float32Array; zeroPoints: Int32Array }

/**
 * The int8 weight that a coded stream describes: zero points everywhere, and at each stored
 * position its value (code - 128), or with a codebook the codebook value quantized with the
 * row's scale and zero point (quantizePerChannel's rule).
 * @example const q = weightFromCodes(decodeWeight(c, 6), { rows: 2, cols: 3, scales, zeroPoints }, null);
 */
export function weightFromCodes(d: { positions: Int32Array; codes: Int32Array }, qp: WeightQParams, codebook: Float32Array | null, what = 'weight'): Int8Array {
  const { rows, cols, scales, zeroPoints } = qp;
  const out = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) out.fill(zeroPoints[r]!, r * cols, (r + 1) * cols);
  for (let i = 0; i < d.positions.length; i++) {
    const p = d.positions[i]!, c = d.codes[i]!;
    if (codebook === null) { out[p] = c - 128; continue; }
    if (c >= codebook.length) throw new TensorslimError('decodeWeight', `${what}: corrupt coded weight (code ${c} at position ${p}, but the codebook has ${codebook.length} entries)`);
    const r = Math.floor(p / cols);
    out[p] = quantizeValue(codebook[c]!, Math.fround(1 / scales[r]!), zeroPoints[r]!, -128, 127);
  }
  return out;
}

/**
 * Code an int8 weight without sharing: every entry that differs from its row's zero point is kept
 * as its 8-bit value.
 * @example encodeInt8Weight(q.data as Int8Array, q.shape[0], q.zeroPoints)
 */
export function encodeInt8Weight(data: Int8Array, rows: number, zeroPoints: Int32Array): CodedWeight {
  const cols = rows === 0 ? 0 : data.length / rows;
  const positions: number[] = [], codes: number[] = [];
  for (let p = 0; p < data.length; p++) {
    if (data[p] !== zeroPoints[Math.floor(p / cols)]) { positions.push(p); codes.push(data[p]! + 128); }
  }
  return encodeWeight(positions, codes, 8);
}
