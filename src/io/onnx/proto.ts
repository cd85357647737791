// ONNX protobuf plumbing shared by export and import: the onnx-proto schema (compiled for
// protobufjs), element-type codes, and small builders for tensors, attributes and value infos.
// No graph logic here: export.ts decides what to write, import.ts what to accept.

import onnxProto from 'onnx-proto';
import { TensorslimError } from '../../core/errors.js';

export const onnx = onnxProto.onnx;
export type ModelProto = onnxProto.onnx.ModelProto;
export type GraphProto = onnxProto.onnx.IGraphProto;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type AttributeProto = onnxProto.onnx.IAttributeProto;
export type ValueInfoProto = onnxProto.onnx.IValueInfoProto;

/** TensorProto.DataType codes we read or write. */
export const ELEM = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9, DOUBLE: 11 } as const;

/** Opsets exportOnnx writes: 11 (Slice/Unsqueeze forms we use) through 21. */
export const MIN_OPSET = 11;
export const MAX_OPSET = 21;

/** The IR version that goes with an opset (the lowest that ONNX allows for it). */
export function irVersionFor(opset: number): number {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 15) return 8;
  if (opset >= 13) return 7;
  return 6;
}

/** A float32 initializer (raw little-endian bytes). */
export function floatTensor(name: string, dims: readonly number[], data: ArrayLike<number>): TensorProto {
  const f = Float32Array.from(data);
  return { name, dims: [...dims], dataType: ELEM.FLOAT, rawData: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

/** An int64 initializer (shapes, axes, indices). */
export function int64Tensor(name: string, dims: readonly number[], data: readonly number[]): TensorProto {
  const b = BigInt64Array.from(data.map((v) => BigInt(v)));
  return { name, dims: [...dims], dataType: ELEM.INT64, rawData: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) };
}

type AttrValue = number | readonly number[] | string | { float: number } | { floats: readonly number[] };

/** An attribute: integers (INT/INTS), `{ float }`/`{ floats }` for reals, or a string. */
export function attr(name: string, v: AttrValue): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: [...(v as number[])] };
  if ('float' in (v as object)) return { name, type: T.FLOAT, f: (v as { float: number }).float };
  return { name, type: T.FLOATS, floats: [...(v as { floats: readonly number[] }).floats] };
}

/** A graph input/output: element type and dims (a string dim is symbolic, e.g. 'batch'). */
export function valueInfo(name: string, elemType: number, dims: readonly (number | string)[]): ValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

/** Encode a model to bytes (protobuf wire format). */
export function encodeModel(model: onnxProto.onnx.IModelProto): Uint8Array {
  const err = onnx.ModelProto.verify(model);
  if (err !== null) throw new TensorslimError('exportOnnx', `internal error: the model does not match the ONNX schema (${err})`);
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
