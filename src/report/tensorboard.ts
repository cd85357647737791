// TensorBoard scalars: the event-file format TensorBoard's reader (and tf.summary) use, written
// without TensorFlow. A file is a sequence of TFRecords:
//   uint64 length (little endian) | uint32 masked CRC-32C of the 8 length bytes | data | uint32 masked CRC-32C of data
// where masked(c) = ((c >>> 15) | (c << 17)) + 0xa282ead8 (mod 2^32) and data is a serialized
// tensorflow.Event protobuf. The first record carries file_version "brain.Event:2"; each scalar is
// an Event { wall_time (1, double), step (2, int64), summary (5) { value (1) { tag (1, string),
// simple_value (2, float) } } }.
//
// The protobuf encoding is written by hand (about 40 lines for these six fields) rather than with
// protobufjs: protobufjs is only a transitive dependency here (of onnx-proto), not one of ours, and
// the subset is fixed by TensorBoard's format. The test decodes the files with protobufjs as an
// independent check. Files are appended record by record, as TensorBoard's own writers do: a
// reader sees every complete record, and a torn last record fails its CRC.

import { appendFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { TensorslimError } from '../core/errors.js';

const CRC32C_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of `data`. @example crc32c(new TextEncoder().encode('123456789')) // 0xe3069283 */
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC-32C. @example maskedCrc32c(new Uint8Array(8)) */
export function maskedCrc32c(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Frame one record: length, masked CRC of the length, data, masked CRC of the data. @example tfRecord(new Uint8Array([1])) */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

// --- the protobuf subset --------------------------------------------------------------------

class Pb {
  private readonly parts: number[] = [];
  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`tensorboard: varint ${v} is not a non-negative safe integer`);
    while (v >= 0x80) { this.parts.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80); }
    this.parts.push(v);
    return this;
  }
  tag(field: number, wire: number): this { return this.varint(field * 8 + wire); }
  bytes(field: number, b: Uint8Array): this { this.tag(field, 2).varint(b.length); for (const x of b) this.parts.push(x); return this; }
  double(field: number, v: number): this { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); this.tag(field, 1); for (const x of b) this.parts.push(x); return this; }
  float(field: number, v: number): this { const b = new Uint8Array(4); new DataView(b.buffer).setFloat32(0, v, true); this.tag(field, 5); for (const x of b) this.parts.push(x); return this; }
  done(): Uint8Array { return Uint8Array.from(this.parts); }
}

const utf8 = new TextEncoder();

/** Serialize a tensorflow.Event with a file_version. @example encodeFileVersionEvent(Date.now() / 1000) */
export function encodeFileVersionEvent(wallTime: number): Uint8Array {
  return new Pb().double(1, wallTime).bytes(3, utf8.encode('brain.Event:2')).done();
}

/** Serialize a tensorflow.Event holding scalar summaries. @example encodeScalarEvent(1.7e9, 10, { loss: 0.5 }) */
export function encodeScalarEvent(wallTime: number, step: number, scalars: Readonly<Record<string, number>>): Uint8Array {
  const summary = new Pb();
  for (const [tag, v] of Object.entries(scalars)) summary.bytes(1, new Pb().bytes(1, utf8.encode(tag)).float(2, v).done());
  return new Pb().double(1, wallTime).tag(2, 0).varint(step).bytes(5, summary.done()).done();
}

/**
 * Appends scalars to a TensorBoard event file in `dir` (`events.out.tfevents.<seconds>.<host>`,
 * TensorBoard's naming). `tensorboard --logdir <dir>` shows them.
 *
 * @example
 * const tb = new TensorBoardWriter('runs/mlp');
 * tb.scalars(100, { 'train/loss': 0.31, 'val/accuracy': 0.95 });
 */
export class TensorBoardWriter {
  /** The event file's path. */
  readonly path: string;

  constructor(dir: string, now: number = Date.now() / 1000) {
    const host = os.hostname().replace(/[^A-Za-z0-9._-]/g, '_') || 'localhost';
    this.path = join(dir, `events.out.tfevents.${Math.floor(now)}.${host}`);
    appendFileSync(this.path, tfRecord(encodeFileVersionEvent(now)));
  }

  /** Append one event with the given scalars at `step` (non-finite values are skipped). */
  scalars(step: number, values: Readonly<Record<string, number>>, wallTime: number = Date.now() / 1000): void {
    const finite = Object.fromEntries(Object.entries(values).filter(([, v]) => Number.isFinite(v)));
    if (Object.keys(finite).length === 0) return;
    appendFileSync(this.path, tfRecord(encodeScalarEvent(wallTime, step, finite)));
  }
}

/**
 * Split an event file into its records, checking both CRCs of each; throws on a bad length or CRC.
 * Returns each record's data (a serialized Event).
 * @example readTfRecords('runs/mlp/events.out.tfevents.1700000000.host').length
 */
export function readTfRecords(path: string): Uint8Array[] {
  const buf = new Uint8Array(readFileSync(path));
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < buf.length) {
    if (off + 12 > buf.length) throw new TensorslimError('tensorboard', `${path}: truncated record header at byte ${off}`);
    const len = Number(dv.getBigUint64(off, true));
    if (dv.getUint32(off + 8, true) !== maskedCrc32c(buf.subarray(off, off + 8))) throw new TensorslimError('tensorboard', `${path}: bad length CRC at byte ${off}`);
    if (off + 16 + len > buf.length) throw new TensorslimError('tensorboard', `${path}: record at byte ${off} claims ${len} bytes, the file ends first`);
    const data = buf.subarray(off + 12, off + 12 + len);
    if (dv.getUint32(off + 12 + len, true) !== maskedCrc32c(data)) throw new TensorslimError('tensorboard', `${path}: bad data CRC at byte ${off}`);
    out.push(data);
    off += 16 + len;
  }
  return out;
}
