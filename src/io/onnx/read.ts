// ONNX reading shared by the chain importer (import.ts) and the graph importer (graph.ts): decoding
// the protobuf, the default-domain opset, tensors with their declared sizes checked against the
// bytes present before any allocation, external data read only from inside the model's folder, and
// node attributes.

import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { TensorslimError } from '../../core/errors.js';
import { ELEM, onnx, type AttributeProto, type NodeProto, type TensorProto } from './proto.js';

export const OP = 'importOnnx';

/** Opsets importOnnx reads (the default domain). */
export const IMPORT_MIN_OPSET = 1;
export const IMPORT_MAX_OPSET = 21;

/** A constant of the graph: float values (or integers for shapes) and dims. */
/**
 * A constant of the graph: its values as numbers (float32 data for FLOAT, float64 otherwise), dims,
 * and the ONNX element type it was declared with (integers for shapes, axes and indices).
 */
export interface Const { readonly dims: number[]; readonly data: Float64Array | Float32Array; readonly elem?: number }

export const MAX_ELEMENTS = 2 ** 31 - 1;

export function nodeLabel(n: NodeProto): string { return `node '${n.name || n.output?.[0] || '?'}' (${n.opType})`; }

export function numberOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object' && 'low' in v) return Number((v as { toString(): string }).toString());
  return Number(v);
}

/** Element count of `dims`, refusing negative, fractional or huge declarations before any allocation. */
export function countOf(what: string, dims: readonly unknown[]): number {
  let n = 1;
  for (const d of dims) {
    const v = numberOf(d);
    if (!Number.isInteger(v) || v < 0) throw new TensorslimError(OP, `${what}: dim ${String(d)} is not a non-negative integer`);
    n *= v;
    if (n > MAX_ELEMENTS) throw new TensorslimError(OP, `${what}: declares ${dims.map(String).join('x')} elements, more than ${MAX_ELEMENTS}; refused`);
  }
  return n;
}

export const ELEM_BYTES: Record<number, number> = { [ELEM.FLOAT]: 4, [ELEM.DOUBLE]: 8, [ELEM.INT64]: 8, [ELEM.INT32]: 4, [ELEM.BOOL]: 1, [ELEM.UINT8]: 1, [ELEM.INT8]: 1 };

/** Read the bytes of external data, only from a regular file inside `folder`. */
export function externalBytes(what: string, t: TensorProto, folder: string | null, want: number): Uint8Array {
  if (folder === null) throw new TensorslimError(OP, `${what}: stored as external data, which needs the model's folder; call importOnnx(path), not importOnnxBytes`);
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const loc = kv.get('location');
  if (loc === undefined || loc === '') throw new TensorslimError(OP, `${what}: external data without a location`);
  if (isAbsolute(loc)) throw new TensorslimError(OP, `${what}: external data location '${loc}' is absolute; only files inside the model's folder are read`);
  const lexical = relative(resolve(folder), resolve(folder, loc));
  if (lexical === '' || lexical.startsWith('..') || isAbsolute(lexical)) {
    throw new TensorslimError(OP, `${what}: external data location '${loc}' leaves the model's folder; refused`);
  }
  const root = realpathSync(folder);
  let file: string;
  try { file = realpathSync(resolve(folder, loc)); } catch { throw new TensorslimError(OP, `${what}: external data file '${loc}' does not exist next to the model`); }
  const rel = relative(root, file);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
    throw new TensorslimError(OP, `${what}: external data location '${loc}' leaves the model's folder; refused`);
  }
  const offset = Number(kv.get('offset') ?? '0');
  const length = kv.has('length') ? Number(kv.get('length')) : want;
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length !== want) {
    throw new TensorslimError(OP, `${what}: external data offset ${kv.get('offset')} / length ${kv.get('length')} do not fit the declared ${want} bytes`);
  }
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || offset + length > st.size) throw new TensorslimError(OP, `${what}: external data needs bytes [${offset}, ${offset + length}) but '${loc}' has ${st.size}`);
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    return buf;
  } finally { closeSync(fd); }
}

/** Decode a TensorProto to numbers, checking the declared size against the bytes present. */
export function readTensor(what: string, t: TensorProto, folder: string | null): Const {
  const dims = (t.dims ?? []).map(numberOf);
  const n = countOf(what, dims);
  const dt = t.dataType ?? 0;
  const size = ELEM_BYTES[dt];
  if (size === undefined) {
    throw new TensorslimError(OP, `${what}: data type ${onnx.TensorProto.DataType[dt] ?? dt} is not supported; supported: FLOAT, DOUBLE, INT32, INT64, INT8, UINT8, BOOL`);
  }
  let raw: Uint8Array | null = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) raw = externalBytes(what, t, folder, n * size);
  if (raw !== null) {
    if (raw.length !== n * size) throw new TensorslimError(OP, `${what}: declares ${dims.join('x')} (${n * size} bytes) but holds ${raw.length} bytes`);
    const copy = new Uint8Array(raw);   // a fresh, aligned copy (decoded bytes may be a Buffer view at any offset)
    const view = dt === ELEM.FLOAT ? new Float32Array(copy.buffer) : dt === ELEM.DOUBLE ? new Float64Array(copy.buffer)
      : dt === ELEM.INT32 ? new Int32Array(copy.buffer) : dt === ELEM.INT64 ? new BigInt64Array(copy.buffer)
        : dt === ELEM.INT8 ? new Int8Array(copy.buffer) : copy;
    const out = dt === ELEM.FLOAT ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Number(view[i]!);
    return { dims, data: out, elem: dt };
  }
  const list: readonly unknown[] = dt === ELEM.FLOAT ? (t.floatData ?? []) : dt === ELEM.DOUBLE ? (t.doubleData ?? [])
    : dt === ELEM.INT64 ? (t.int64Data ?? []) : (t.int32Data ?? []);   // INT32, INT8, UINT8 and BOOL live in int32_data
  if (list.length !== n) throw new TensorslimError(OP, `${what}: declares ${dims.join('x')} (${n} values) but holds ${list.length}`);
  const out = dt === ELEM.FLOAT ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = numberOf(list[i]);
  return { dims, data: out, elem: dt };
}

export function getAttr(n: NodeProto, name: string): AttributeProto | undefined { return (n.attribute ?? []).find((a) => a.name === name); }
export function attrInt(n: NodeProto, name: string, dflt: number): number { const a = getAttr(n, name); return a === undefined ? dflt : numberOf(a.i); }
export function attrFloat(n: NodeProto, name: string, dflt: number): number { const a = getAttr(n, name); return a === undefined ? dflt : a.f ?? dflt; }
export function attrInts(n: NodeProto, name: string): number[] | null { const a = getAttr(n, name); return a === undefined ? null : (a.ints ?? []).map(numberOf); }
export function attrString(n: NodeProto, name: string, dflt: string): string { const a = getAttr(n, name); return a === undefined || !a.s ? dflt : new TextDecoder().decode(a.s); }


/** The value of a Constant node (value, value_float(s), value_int(s)); other forms are refused. */
export function constantNodeValue(n: NodeProto, folder: string | null): Const {
  const a = n.attribute?.[0];
  const out = n.output?.[0] ?? '';
  if (a?.t) return readTensor(`Constant '${out}'`, a.t, folder);
  if (a?.name === 'value_float') return { dims: [], data: Float32Array.of(a.f ?? 0), elem: ELEM.FLOAT };
  if (a?.name === 'value_floats') return { dims: [a.floats?.length ?? 0], data: Float32Array.from(a.floats ?? []), elem: ELEM.FLOAT };
  if (a?.name === 'value_int') return { dims: [], data: Float64Array.of(numberOf(a.i)), elem: ELEM.INT64 };
  if (a?.name === 'value_ints') return { dims: [a.ints?.length ?? 0], data: Float64Array.from((a.ints ?? []).map(numberOf)), elem: ELEM.INT64 };
  throw new TensorslimError(OP, `${nodeLabel(n)}: only tensor, float(s) and int(s) values are supported`);
}
