// Fuzz the file readers (issue 14 target): the IDX reader (raw and gzip) and the checkpoint loader
// (parseCheckpoint, then modelFromCheckpoint as eval would) on mutations of valid small files: random
// byte flips, truncations, appended junk, and numbers in the headers replaced by extreme values.
// Every input must either load or throw a TensorslimError (a message naming the cause): no other
// exception (a crash), no hang (the whole test is bounded by a fixed case count on small files), and
// no input makes a reader allocate more than a small multiple of the largest valid file (checked by
// the growth of ArrayBuffer memory around each call, which V8 accounts exactly).
// TENSORSLIM_FUZZ_CASES raises the case count (default 400 per reader).

import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';

import { TensorslimError } from '../../src/core/errors.js';
import { parseIdx } from '../../src/data/idx.js';
import { defaultGenerator } from '../../src/core/random.js';
import { modelFromCheckpoint, parseCheckpoint, serializeCheckpoint } from '../../src/io/index.js';
import { createModel } from '../../src/models/index.js';
import { rng } from '../native/helpers.js';

const CASES = Number(process.env['TENSORSLIM_FUZZ_CASES'] ?? 400);

function mutate(r: () => number, src: Uint8Array): Uint8Array {
  const b = Uint8Array.from(src);
  const kind = Math.floor(r() * 5);
  if (kind === 0) { const n = 1 + Math.floor(r() * 8); for (let i = 0; i < n; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256); return b; }
  if (kind === 1) return b.subarray(0, Math.floor(r() * b.length));
  if (kind === 2) { const out = new Uint8Array(b.length + 1 + Math.floor(r() * 64)); out.set(b); for (let i = b.length; i < out.length; i++) out[i] = Math.floor(r() * 256); return out; }
  // kinds 3, 4: an extreme 32-bit big-endian or 64-bit little-endian number somewhere in the first 128 bytes
  const at = Math.floor(r() * Math.min(120, b.length - 8));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const v = [0, 1, 0xffffffff, 0x7fffffff, 0x10000, 12000][Math.floor(r() * 6)]!;
  if (kind === 3) dv.setUint32(Math.max(0, at), v, false); else dv.setBigUint64(Math.max(0, at), BigInt(v) * (r() < 0.5 ? 1n : 0x100000n), true);
  return b;
}

/** Runs f; any throw must be a TensorslimError; ArrayBuffer memory may not grow by more than `cap` bytes. */
function survives(what: string, f: () => void, cap: number): void {
  const before = process.memoryUsage().arrayBuffers;
  try { f(); } catch (e) {
    assert.ok(e instanceof TensorslimError, `${what}: threw ${(e as Error).name}: ${(e as Error).message}`);
  }
  const grew = process.memoryUsage().arrayBuffers - before;
  assert.ok(grew <= cap, `${what}: ArrayBuffer memory grew by ${grew} bytes (cap ${cap})`);
}

test('IDX reader: mutated raw and gzip files load or throw a TensorslimError, within bounded memory', () => {
  const r = rng(14);
  const raw = new Uint8Array(4 + 12 + 5 * 7 * 3);
  raw.set([0, 0, 0x08, 3, 0, 0, 0, 5, 0, 0, 0, 7, 0, 0, 0, 3]);
  for (let i = 16; i < raw.length; i++) raw[i] = i % 251;
  const floats = new Uint8Array(4 + 4 + 4 * 20);
  floats.set([0, 0, 0x0d, 1, 0, 0, 0, 20]);
  const seeds = [raw, gzipSync(raw), floats, gzipSync(floats)];
  const cap = 64 * 1024 * 1024;   // far below what an unchecked 0xffffffff-element header would take
  for (let i = 0; i < CASES; i++) {
    const src = seeds[i % seeds.length]!;
    const m = mutate(r, src);
    survives(`idx case ${i}`, () => { parseIdx(m, `case ${i}`); }, cap);
  }
});

test('checkpoint loader: mutated checkpoints load or throw a TensorslimError, within bounded memory', () => {
  const r = rng(41);
  const model = createModel('mlp-tiny');
  const bytes = serializeCheckpoint({ model, step: 3, epoch: 0, config: model.config, rngState: defaultGenerator.getState() });
  const cap = 8 * bytes.length + 16 * 1024 * 1024;
  for (let i = 0; i < CASES; i++) {
    const m = mutate(r, bytes);
    survives(`checkpoint case ${i}`, () => { modelFromCheckpoint(parseCheckpoint(m, { op: `case ${i}` })); }, cap);
  }
});
