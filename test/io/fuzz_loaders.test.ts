// Fuzz the file readers (issue 14 target): the IDX reader (raw and gzip), the checkpoint loader
// (parseCheckpoint, then modelFromCheckpoint as eval would) and the ONNX importer (importOnnxBytes) on
// mutations of valid small files: random byte flips, truncations, appended junk, and numbers in the
// headers replaced by extreme values. Every input must either load or throw a TensorslimError (a
// message naming the cause): no other exception (a crash), no hang (the whole test is bounded by a
// fixed case count on small files), and no input may make a reader use more than a small multiple of
// the file's size. Memory is checked two ways around every case: the peak resident memory of this
// process (Linux: /proc/self/clear_refs resets VmHWM before the case, VmHWM after it gives the peak,
// so memory that a reader fills and drops inside the call counts), and the growth of ArrayBuffer
// memory (V8 counts allocations exactly, even pages never touched). Where clear_refs cannot be
// written, only the second check runs and the test says so.
// TENSORSLIM_FUZZ_CASES raises the case count (default 400 per reader). The ONNX importer's own
// structured fuzz (cycles, escaping external data, huge shapes) is test/io/onnx_fuzz*.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';

import { TensorslimError } from '../../src/core/errors.js';
import { parseIdx } from '../../src/data/idx.js';
import { defaultGenerator } from '../../src/core/random.js';
import { modelFromCheckpoint, parseCheckpoint, serializeCheckpoint } from '../../src/io/index.js';
import { serializeOnnx } from '../../src/io/onnx/export.js';
import { importOnnxBytes } from '../../src/io/onnx/import.js';
import { createModel } from '../../src/models/index.js';
import { randn } from '../../src/index.js';
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

/** VmHWM (peak resident set) in bytes, after resetting it to the current RSS; null where Linux's clear_refs is not writable. */
function resetPeak(): number | null {
  try { writeFileSync('/proc/self/clear_refs', '5'); return peakRss(); } catch { return null; }
}
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}
const PEAK_CHECKED = resetPeak() !== null;

/**
 * Runs f; any throw must be a TensorslimError; neither ArrayBuffer memory nor the peak resident
 * memory may grow by more than `cap` bytes during the call.
 */
function survives(what: string, f: () => void, cap: number): void {
  const before = process.memoryUsage().arrayBuffers;
  const rssBefore = PEAK_CHECKED ? resetPeak()! : 0;
  try { f(); } catch (e) {
    assert.ok(e instanceof TensorslimError, `${what}: threw ${(e as Error).name}: ${(e as Error).message}`);
  }
  const grew = process.memoryUsage().arrayBuffers - before;
  assert.ok(grew <= cap, `${what}: ArrayBuffer memory grew by ${grew} bytes (cap ${cap})`);
  if (PEAK_CHECKED) {
    const peak = peakRss() - rssBefore;
    assert.ok(peak <= cap, `${what}: peak resident memory rose by ${peak} bytes during the call (cap ${cap})`);
  }
}

test('memory checks in force', (t) => {
  t.diagnostic(PEAK_CHECKED ? 'peak RSS per case (VmHWM after clear_refs) and ArrayBuffer growth' : 'ArrayBuffer growth only: /proc/self/clear_refs is not writable here');
  // the peak check itself must see memory that is filled and dropped inside a call
  if (PEAK_CHECKED) {
    const base = resetPeak()!;
    (() => { const a = new Uint8Array(96 * 1024 * 1024); a.fill(1); return a[5]; })();
    assert.ok(peakRss() - base >= 64 * 1024 * 1024, 'a 96 MiB buffer filled inside a call did not show in VmHWM');
  }
});

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

test('ONNX importer: mutated ONNX files load or throw a TensorslimError, within bounded memory', () => {
  const r = rng(16);
  const seeds = (['mlp-tiny', 'lenet5'] as const).map((name) => {
    const model = createModel(name);
    const input = randn(name === 'lenet5' ? [1, 1, 28, 28] : [1, 784]);
    return serializeOnnx(model, input).bytes;
  });
  for (let i = 0; i < CASES; i++) {
    const src = seeds[i % seeds.length]!;
    const m = mutate(r, src);
    survives(`onnx case ${i}`, () => { importOnnxBytes(m); }, 8 * src.length + 32 * 1024 * 1024);
  }
});

