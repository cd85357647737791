// The safetensors format (Hugging Face spec, https://huggingface.co/docs/safetensors), in memory:
//
//   [8 bytes: N, little-endian u64][N bytes: UTF-8 JSON header, space-padded][data buffer]
//   header = {"__metadata__": {string: string}, name: {"dtype", "shape", "data_offsets": [b, e]}}
//
// Offsets are relative to the data buffer; tensors are row-major, little-endian, and together
// cover the buffer with no gap and no overlap. The writer pads the header so the buffer starts at
// a multiple of 8 and orders tensors by element size (largest first, as the reference writer does),
// so every tensor is aligned to its element size. The reader trusts nothing: every length, offset,
// dtype and shape is checked before a byte is copied, and each tensor gets its own storage.
// This file does no file I/O (see files.ts) and knows nothing of modules or optimizers.

import { allocate, itemSize, type DType, type TypedArray } from '../backend/dtype.js';
import { getBackend } from '../backend/registry.js';
import { fmtShape, TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';

/** Every dtype name of the spec that tensorslim reads. */
export type SafetensorsDType =
  | 'F64' | 'F32' | 'F16' | 'BF16'
  | 'I64' | 'I32' | 'I16' | 'I8'
  | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

/** The file dtypes that can travel as a RawTensor (the core Tensor has no int8 or bfloat16 dtype). */
export type RawDType = 'I8' | 'U8' | 'I32' | 'BF16';

/**
 * A tensor of a file dtype written and read as its own typed array, not as a Tensor: int8 weights
 * of quantized models (I8), bit streams (U8), int32 indices (I32). Row-major.
 *
 * @example
 * const w: RawTensor = { dtype: 'I8', shape: [2, 2], data: Int8Array.of(-128, 0, 1, 127) };
 * serializeSafetensors({ w });
 */
export interface RawTensor {
  readonly dtype: RawDType;
  readonly shape: readonly number[];
  /** BF16: the raw 16-bit patterns (floatToBfloat16). */
  readonly data: Int8Array | Uint8Array | Int32Array | Uint16Array;
}

/** Tensors (or raw integer tensors) by name, in file order, or a plain record of them. */
export type TensorMap = ReadonlyMap<string, Tensor | RawTensor> | Readonly<Record<string, Tensor | RawTensor>>;

/** String key -> string value pairs stored in the header's `__metadata__`. */
export type SafetensorsMetadata = Record<string, string>;

/** What parseSafetensors returns. */
export interface ParsedSafetensors {
  /** Tensors by name in header order, each with its own contiguous storage. */
  tensors: Map<string, Tensor>;
  /** The `__metadata__` object (empty when the file has none). */
  metadata: SafetensorsMetadata;
  /** Each tensor's dtype as stored in the file (F16/BF16 arrive as float32, I64/I8/... as int32). */
  fileDTypes: Map<string, SafetensorsDType>;
  /** The tensors of the dtypes asked for with `raw` (not in `tensors`), as their own typed arrays. */
  raw: Map<string, RawTensor>;
}

const RAW_ARRAY: Record<RawDType, { bytes: number; make(b: ArrayBuffer, off: number, n: number): RawTensor['data'] }> = {
  I8: { bytes: 1, make: (b, off, n) => new Int8Array(b, off, n) },
  BF16: { bytes: 2, make: (b, off, n) => new Uint16Array(b, off, n) },
  U8: { bytes: 1, make: (b, off, n) => new Uint8Array(b, off, n) },
  I32: { bytes: 4, make: (b, off, n) => new Int32Array(b, off, n) },
};

function isRawTensor(t: unknown): t is RawTensor {
  if (typeof t !== 'object' || t === null || t instanceof Tensor) return false;
  const r = t as Partial<RawTensor>;
  return typeof r.dtype === 'string' && Object.hasOwn(RAW_ARRAY, r.dtype) && Array.isArray(r.shape) && ArrayBuffer.isView(r.data);
}

interface DTypeInfo {
  /** Bytes per element in the file. */
  bytes: number;
  /** The tensorslim dtype it is read into. */
  dtype: DType;
}

const DTYPE_INFO: Record<SafetensorsDType, DTypeInfo> = {
  F64: { bytes: 8, dtype: 'float64' },
  F32: { bytes: 4, dtype: 'float32' },
  F16: { bytes: 2, dtype: 'float32' },
  BF16: { bytes: 2, dtype: 'float32' },
  I64: { bytes: 8, dtype: 'int32' },
  I32: { bytes: 4, dtype: 'int32' },
  I16: { bytes: 2, dtype: 'int32' },
  I8: { bytes: 1, dtype: 'int32' },
  U64: { bytes: 8, dtype: 'int32' },
  U32: { bytes: 4, dtype: 'int32' },
  U16: { bytes: 2, dtype: 'int32' },
  U8: { bytes: 1, dtype: 'uint8' },
  BOOL: { bytes: 1, dtype: 'bool' },
};

/** Spec dtypes we know of but cannot represent (named in the error, so users know it is not corruption). */
const UNSUPPORTED = new Set(['F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64']);

const WRITE_DTYPE: Record<DType, SafetensorsDType> = {
  float64: 'F64', float32: 'F32', int32: 'I32', uint8: 'U8', bool: 'BOOL',
};

/** The reference implementation refuses headers above 100 MB; so do we (a hostile N cannot make us allocate). */
export const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(op: string, message: string): never {
  throw new TensorslimError(op, message);
}

// ---------------------------------------------------------------------------------------------
// Writing

interface Entry { name: string; tensor: Tensor | RawTensor; fileDType: SafetensorsDType; begin: number; end: number }

/** Elements of a Tensor or RawTensor. */
function sizeOf(t: Tensor | RawTensor): number {
  return t instanceof Tensor ? t.size : t.data.length;
}

/** Check a RawTensor's dtype, shape and array against each other. */
function checkRaw(op: string, name: string, t: RawTensor): void {
  const want = { I8: Int8Array, U8: Uint8Array, I32: Int32Array, BF16: Uint16Array }[t.dtype];
  if (!(t.data instanceof want)) fail(op, `'${name}': a raw ${t.dtype} tensor needs a ${want.name}, got ${t.data.constructor.name}`);
  if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(op, `'${name}': shape must be non-negative integers, got ${fmtShape(t.shape)}`);
  const count = t.shape.reduce((a, b) => a * b, 1);
  if (count !== t.data.length) fail(op, `'${name}': shape ${fmtShape(t.shape)} holds ${count} elements but the ${t.dtype} data has ${t.data.length}`);
}

/** Validate names, pick file dtypes, order by element size and assign offsets. */
function layout(op: string, tensors: TensorMap): Entry[] {
  const pairs: [string, unknown][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const entries: Entry[] = pairs.map(([name, t]) => {
    if (typeof name !== 'string' || name === '') fail(op, 'tensor names must be non-empty strings');
    if (name === '__metadata__') fail(op, "'__metadata__' is reserved by the format and cannot name a tensor; rename it");
    if (isRawTensor(t)) {
      checkRaw(op, name, t);
      return { name, tensor: t, fileDType: t.dtype, begin: 0, end: 0 };
    }
    if (!(t instanceof Tensor)) fail(op, `'${name}' must be a Tensor or a RawTensor ({dtype: 'I8' | 'U8' | 'I32', shape, data}), got ${t === null ? 'null' : typeof t}`);
    const fileDType = WRITE_DTYPE[t.dtype] as SafetensorsDType | undefined;
    if (fileDType === undefined) fail(op, `'${name}' has dtype ${t.dtype}, which the writer does not support; convert it with .to('float32')`);
    return { name, tensor: t, fileDType, begin: 0, end: 0 };
  });
  // Largest elements first (stable within a size): each tensor starts at a multiple of its size.
  const ordered = entries.map((e, i) => [e, i] as const)
    .sort(([a, i], [b, j]) => DTYPE_INFO[b.fileDType].bytes - DTYPE_INFO[a.fileDType].bytes || i - j)
    .map(([e]) => e);
  let pos = 0;
  for (const e of ordered) {
    e.begin = pos;
    pos += sizeOf(e.tensor) * DTYPE_INFO[e.fileDType].bytes;
    e.end = pos;
  }
  return ordered;
}

function checkMetadata(op: string, metadata: SafetensorsMetadata | undefined): void {
  if (metadata === undefined) return;
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) fail(op, 'metadata must be an object of string values');
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') fail(op, `metadata['${k}'] must be a string, got ${typeof v}; store structured values with JSON.stringify`);
  }
}

/** The header bytes, space-padded so that 8 + header length is a multiple of 8. */
function headerBytes(entries: Entry[], metadata: SafetensorsMetadata | undefined): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  for (const e of entries) {
    Object.defineProperty(header, e.name, {
      value: { dtype: e.fileDType, shape: [...e.tensor.shape], data_offsets: [e.begin, e.end] },
      enumerable: true, writable: true, configurable: true,
    });
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
  padded.set(json);
  return padded;
}

/** The bytes of `t`'s values, row-major, little-endian (a view of its storage when possible). */
function tensorBytes(t: Tensor | RawTensor): Uint8Array {
  let size: number;
  let data: TypedArray | Int8Array | Uint16Array;
  let start = 0;
  if (!(t instanceof Tensor)) { size = t.data.BYTES_PER_ELEMENT; data = t.data; }
  else {
    size = itemSize(t.dtype);
    if (t.isContiguous()) { data = t.data; start = t.offset; }
    else data = getBackend().copy(t.view_(), t.dtype);
  }
  const bytes = new Uint8Array(data.buffer, data.byteOffset + start * size, sizeOf(t) * size);
  if (LITTLE_ENDIAN || size === 1) return bytes;
  const swapped = bytes.slice();
  for (let i = 0; i < swapped.length; i += size) swapped.subarray(i, i + size).reverse();
  return swapped;
}

/** Options of serializeSafetensors. */
export interface SerializeOptions {
  /** 'BF16': store every float32 / float64 Tensor as bfloat16 (floatToBfloat16; readers upcast to float32). Default 'F32' (as is). */
  floatDType?: 'F32' | 'BF16';
}

/** The tensors with float Tensors replaced by BF16 RawTensors when `opts.floatDType` is 'BF16'. */
function castFloats(op: string, tensors: TensorMap, opts: SerializeOptions): TensorMap {
  const want = opts.floatDType ?? 'F32';
  if (want !== 'F32' && want !== 'BF16') fail(op, `floatDType must be 'F32' or 'BF16', got '${String(want)}'`);
  if (want === 'F32') return tensors;
  const pairs: [string, Tensor | RawTensor][] = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  return new Map(pairs.map(([k, t]) => [k, t instanceof Tensor && (t.dtype === 'float32' || t.dtype === 'float64') ? bf16Tensor(t) : t]));
}

/**
 * float values -> bfloat16 bit patterns, rounding to nearest even as torch's tensor conversion does
 * (every NaN -> 0xffff, as torch 1.13's vectorized path writes it; infinities stay infinite; values
 * that round above the largest bfloat16 become infinity).
 * @example floatToBfloat16([1, 1.00390625])  // Uint16Array [0x3f80, 0x3f80] (a tie rounds to even)
 */
export function floatToBfloat16(x: ArrayLike<number>): Uint16Array {
  const f = x instanceof Float32Array ? x : Float32Array.from(x);
  const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const b = u[i]!;
    if (Number.isNaN(f[i]!)) { out[i] = 0xffff; continue; }
    out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

/**
 * bfloat16 bit patterns -> float32 (exact: a bfloat16 is the top half of a float32).
 * @example bfloat16ToFloat(Uint16Array.of(0x3f80))  // Float32Array [1]
 */
export function bfloat16ToFloat(h: Uint16Array): Float32Array {
  const bits = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) bits[i] = h[i]! << 16;
  return new Float32Array(bits.buffer);
}

/**
 * A float Tensor as a BF16 RawTensor (rounded to nearest even), for writing bfloat16 weights.
 * @example serializeSafetensors({ w: bf16Tensor(model.fc.weight) })
 */
export function bf16Tensor(t: Tensor): RawTensor {
  const v = t.dataSync();
  return { dtype: 'BF16', shape: [...t.shape], data: floatToBfloat16(v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>)) };
}

/**
 * Serialize tensors (and optional string metadata) to safetensors bytes. Non-contiguous tensors
 * are written contiguous; dtypes map float32 -> F32, float64 -> F64, int32 -> I32, uint8 -> U8,
 * bool -> BOOL; a RawTensor is written as its own dtype (I8, U8, I32). Tensors are laid out largest
 * element size first, in the given order within a size.
 *
 * @example
 * const bytes = serializeSafetensors({ w: ops.ones([2, 2]) }, { format: 'pt' });
 * parseSafetensors(bytes).tensors.get('w')!.shape;  // [2, 2]
 */
export function serializeSafetensors(tensors: TensorMap, metadata?: SafetensorsMetadata, opts: SerializeOptions = {}): Uint8Array {
  const op = 'serializeSafetensors';
  checkMetadata(op, metadata);
  const entries = layout(op, castFloats(op, tensors, opts));
  const header = headerBytes(entries, metadata);
  const dataLength = entries.length > 0 ? entries[entries.length - 1]!.end : 0;
  const out = new Uint8Array(8 + header.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  const base = 8 + header.length;
  for (const e of entries) {
    if (e.fileDType === 'BOOL') {
      const v = tensorBytes(e.tensor);
      for (let i = 0; i < v.length; i++) out[base + e.begin + i] = v[i] !== 0 ? 1 : 0;
    } else {
      out.set(tensorBytes(e.tensor), base + e.begin);
    }
  }
  return out;
}

/**
 * The exact size in bytes of serializeSafetensors(tensors, metadata), without building it.
 *
 * @example
 * safetensorsBytes({ w: ops.zeros([10]) });  // 8 + padded header + 40
 */
export function safetensorsBytes(tensors: TensorMap, metadata?: SafetensorsMetadata, opts: SerializeOptions = {}): number {
  const op = 'safetensorsBytes';
  checkMetadata(op, metadata);
  const entries = layout(op, castFloats(op, tensors, opts));
  return 8 + headerBytes(entries, metadata).length + (entries.length > 0 ? entries[entries.length - 1]!.end : 0);
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * Check that no JSON object in `text` (already valid JSON) repeats a key: JSON.parse keeps the
 * last silently, which would let a file hide a tensor. Returns the first duplicate and the key
 * path of its object ('' for the top level), or null.
 */
function findDuplicateKey(text: string): { key: string; path: string } | null {
  // Stack of open containers: objects carry their keys and whether the next string is a key.
  const stack: Array<{ keys: Set<string> | null; expectKey: boolean; name: string }> = [];
  let lastKey = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top && top.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return { key, path: stack.slice(1).map((s) => s.name).join('.') };
        top.keys.add(key);
        top.expectKey = false;
        lastKey = key;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      stack.push({ keys: c === '{' ? new Set() : null, expectKey: c === '{', name: lastKey });
    } else if (c === '}' || c === ']') {
      stack.pop();
    } else if (c === ',') {
      const top = stack[stack.length - 1];
      if (top && top.keys) top.expectKey = true;
    }
  }
  return null;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

interface HeaderEntry { name: string; fileDType: SafetensorsDType; shape: number[]; begin: number; end: number }

/** Parse and check the header; returns the entries in header order, the metadata and where the data starts. */
function parseHeader(op: string, bytes: Uint8Array): { entries: HeaderEntry[]; metadata: SafetensorsMetadata; dataStart: number } {
  if (bytes.length < 8) fail(op, `the file has ${bytes.length} bytes, fewer than the 8-byte header length that starts every safetensors file (truncated, or not a safetensors file)`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  const available = bytes.length - 8;
  if (n > BigInt(available)) {
    fail(op, `the header length (${n} bytes) goes beyond the end of the file (${available} bytes follow the 8-byte length): the file is truncated or not a safetensors file`);
  }
  const headerLength = Number(n);
  if (headerLength > MAX_HEADER_BYTES) fail(op, `the header is ${headerLength} bytes, more than the ${MAX_HEADER_BYTES}-byte limit of the format's reference reader`);
  if (headerLength === 0 || bytes[8] !== 0x7b) fail(op, "the header does not start with '{' (a safetensors header is a JSON object); not a safetensors file?");
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail(op, 'the header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(op, `the header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) fail(op, 'the header must be a JSON object of tensor entries');
  const dup = findDuplicateKey(text);
  if (dup !== null) {
    fail(op, dup.path === '' ? `tensor '${dup.key}' appears twice in the header` : `key '${dup.key}' appears twice in the header entry '${dup.path}'`);
  }

  let metadata: SafetensorsMetadata = {};
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (info === null) continue; // some writers spell "no metadata" as null
      if (!isPlainObject(info)) fail(op, '__metadata__ must be an object of string values');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') fail(op, `__metadata__['${k}'] must be a string, got ${JSON.stringify(v)}`);
      }
      metadata = Object.fromEntries(Object.entries(info)) as SafetensorsMetadata;
      continue;
    }
    const where = `tensor '${name}'`;
    if (!isPlainObject(info)) fail(op, `${where}: the entry must be an object {dtype, shape, data_offsets}, got ${JSON.stringify(info)}`);
    const extra = Object.keys(info).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length > 0) fail(op, `${where}: unknown field(s) ${extra.join(', ')} (an entry has only dtype, shape, data_offsets)`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string') fail(op, `${where}: dtype is missing or not a string`);
    if (!Object.hasOwn(DTYPE_INFO, dtype)) {
      if (UNSUPPORTED.has(dtype)) fail(op, `${where}: dtype ${dtype} is not supported by tensorslim; convert the tensor to F32 before saving`);
      fail(op, `${where}: unknown dtype '${dtype}' (the format defines ${Object.keys(DTYPE_INFO).join(', ')}, ...)`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) fail(op, `${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
      fail(op, `${where}: data_offsets must be [begin, end], two non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(op, `${where}: data_offsets [${begin}, ${end}] end before they begin`);
    entries.push({ name, fileDType: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }

  // Sizes and layout: each entry's bytes match its shape; together they tile the data buffer.
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  for (const e of entries) {
    const where = `tensor '${e.name}'`;
    if (e.end > dataLength) fail(op, `${where}: data_offsets [${e.begin}, ${e.end}] go beyond the data buffer (${dataLength} bytes): the file is truncated or corrupt`);
    let count = 1;
    for (const d of e.shape) count *= d;
    const need = count * DTYPE_INFO[e.fileDType].bytes;
    if (!Number.isSafeInteger(need) || need !== e.end - e.begin) {
      fail(op, `${where}: shape ${fmtShape(e.shape)} of ${e.fileDType} needs ${need} bytes, but data_offsets [${e.begin}, ${e.end}] hold ${e.end - e.begin}`);
    }
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: HeaderEntry | null = null;
  for (const e of sorted) {
    if (e.begin > covered) fail(op, `bytes [${covered}, ${e.begin}) of the data buffer belong to no tensor (a gap before tensor '${e.name}'); the offsets are corrupt`);
    if (e.begin < covered) fail(op, `tensor '${e.name}' (data_offsets [${e.begin}, ${e.end}]) overlaps tensor '${previous!.name}' (data_offsets [${previous!.begin}, ${previous!.end}])`);
    covered = e.end;
    previous = e;
  }
  if (covered !== dataLength) {
    fail(op, `the tensors cover ${covered} bytes but the data buffer has ${dataLength}: ${dataLength - covered} trailing bytes belong to no tensor`);
  }
  return { entries, metadata, dataStart };
}

/** Decode one tensor's bytes (`src`, its own aligned copy) into tensorslim storage. */
function decode(op: string, e: HeaderEntry, src: Uint8Array): TypedArray {
  const n = src.length / DTYPE_INFO[e.fileDType].bytes;
  const view = new DataView(src.buffer, src.byteOffset, src.length);
  if (LITTLE_ENDIAN) {
    // The file's bytes are already the storage (src is a fresh, aligned buffer).
    if (e.fileDType === 'F32') return new Float32Array(src.buffer, src.byteOffset, n);
    if (e.fileDType === 'F64') return new Float64Array(src.buffer, src.byteOffset, n);
    if (e.fileDType === 'I32') return new Int32Array(src.buffer, src.byteOffset, n);
  }
  const out = allocate(DTYPE_INFO[e.fileDType].dtype, n);
  const outOfRange = (i: number, v: number | bigint): never =>
    fail(op, `tensor '${e.name}': ${e.fileDType} value ${v} at index ${i} does not fit in int32, the integer dtype tensorslim reads ${e.fileDType} into`);
  switch (e.fileDType) {
    case 'F32': case 'F64': case 'I32': // big-endian hosts
      for (let i = 0; i < n; i++) {
        out[i] = e.fileDType === 'F32' ? view.getFloat32(4 * i, true) : e.fileDType === 'F64' ? view.getFloat64(8 * i, true) : view.getInt32(4 * i, true);
      }
      return out;
    case 'U8': return src;
    case 'BOOL':
      for (let i = 0; i < n; i++) if (src[i]! > 1) fail(op, `tensor '${e.name}': BOOL byte ${src[i]} at index ${i} is neither 0 nor 1`);
      return src;
    case 'I8': for (let i = 0; i < n; i++) out[i] = view.getInt8(i); return out;
    case 'I16': for (let i = 0; i < n; i++) out[i] = view.getInt16(2 * i, true); return out;
    case 'U16': for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, true); return out;
    case 'U32':
      for (let i = 0; i < n; i++) {
        const v = view.getUint32(4 * i, true);
        if (v > 0x7fffffff) outOfRange(i, v);
        out[i] = v;
      }
      return out;
    case 'I64': case 'U64':
      for (let i = 0; i < n; i++) {
        const lo = view.getUint32(8 * i, true);
        const hi = e.fileDType === 'I64' ? view.getInt32(8 * i + 4, true) : view.getUint32(8 * i + 4, true);
        // An int32 value has hi = 0 (lo < 2^31) or hi = -1 (lo >= 2^31, I64 only).
        if (!((hi === 0 && lo <= 0x7fffffff) || (hi === -1 && lo >= 0x80000000))) {
          outOfRange(i, e.fileDType === 'I64' ? view.getBigInt64(8 * i, true) : view.getBigUint64(8 * i, true));
        }
        out[i] = lo | 0;
      }
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      return out;
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
  }
}

/** IEEE 754 binary16 -> number (exact: every half is a float32). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Parse safetensors bytes. Everything is checked first (header length, UTF-8, JSON, duplicate
 * names, dtypes, shapes, offsets tiling the buffer) and a corrupt file is refused with an error
 * saying what is wrong. F16/BF16 are read as float32, I64/U64/U32 as int32 (refusing values outside
 * int32), I8/I16/U16 as int32. Each tensor gets its own contiguous storage. Tensors of the dtypes
 * listed in `raw` (I8, U8, I32) come back in `raw` as their own typed arrays instead (int8 weights
 * stay 1 byte per value).
 *
 * @example
 * const { tensors, metadata } = parseSafetensors(readFileSync('model.safetensors'));
 * model.loadStateDict(tensors);
 */
export function parseSafetensors(bytes: Uint8Array, opts: { op?: string; raw?: readonly RawDType[] } = {}): ParsedSafetensors {
  const op = opts.op ?? 'parseSafetensors';
  const rawDTypes = new Set<string>(opts.raw ?? []);
  for (const d of rawDTypes) if (!Object.hasOwn(RAW_ARRAY, d)) fail(op, `raw: ${d} cannot be read raw; raw takes ${Object.keys(RAW_ARRAY).join(', ')}`);
  if (!(bytes instanceof Uint8Array)) fail(op, `expected the file's bytes as a Uint8Array (or Buffer), got ${typeof bytes}`);
  const { entries, metadata, dataStart } = parseHeader(op, bytes);
  const tensors = new Map<string, Tensor>();
  const fileDTypes = new Map<string, SafetensorsDType>();
  const raw = new Map<string, RawTensor>();
  for (const e of entries) {
    // A fresh buffer per tensor: aligned for typed arrays, and never shared (views share version counters).
    const own = new Uint8Array(e.end - e.begin);
    own.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    fileDTypes.set(e.name, e.fileDType);
    if (rawDTypes.has(e.fileDType)) {
      const d = e.fileDType as RawDType;
      const n = own.length / RAW_ARRAY[d].bytes;
      let data = RAW_ARRAY[d].make(own.buffer, own.byteOffset, n);
      if (!LITTLE_ENDIAN && d === 'I32') data = Int32Array.from({ length: n }, (_, i) => new DataView(own.buffer).getInt32(4 * i, true));
      if (!LITTLE_ENDIAN && d === 'BF16') data = Uint16Array.from({ length: n }, (_, i) => new DataView(own.buffer).getUint16(2 * i, true));
      raw.set(e.name, { dtype: d, shape: e.shape, data });
      continue;
    }
    tensors.set(e.name, new Tensor(decode(op, e, own), DTYPE_INFO[e.fileDType].dtype, e.shape));
  }
  return { tensors, metadata, fileDTypes, raw };
}
