// ONNX node semantics on tensorslim tensors, one op at a time, as the file's opset defines them.
// graph.ts runs these for the nodes that are not a layer with parameters (those become Linear,
// Conv2d, LayerNorm, Embedding, FrozenBatchNorm children). A value is a Tensor (what the model
// computes, differentiable) or a Const (numbers known without the input: initializers, Constant
// nodes, and shape arithmetic such as Shape -> Gather -> Unsqueeze -> Concat, which is evaluated
// on the host at run time so that shapes follow the input, batch and sequence length included).

import { Tensor } from '../../core/tensor.js';
import { TensorslimError } from '../../core/errors.js';
import { fmtShape } from '../../backend/shape.js';
import * as ops from '../../ops/index.js';
import { ELEM, onnx, type NodeProto } from './proto.js';
import { OP, attrFloat, attrInt, attrInts, attrString, getAttr, nodeLabel, readTensor, type Const } from './read.js';
import { AvgPool2d } from './layers.js';

/** A value flowing through the graph: a tensor, or host numbers known without the input. */
export type GraphValue = Tensor | Const;

/** The ops exec() evaluates (the graph importer adds the ones that become layers). */
export const EXEC_OPS = [
  'Identity', 'Dropout', 'Relu', 'LeakyRelu', 'Sigmoid', 'Tanh', 'Erf', 'Sqrt', 'Exp', 'Log', 'Neg', 'Abs', 'Reciprocal', 'Gelu',
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Equal', 'Less', 'Greater', 'Where', 'Clip', 'MatMul', 'Gemm', 'Transpose', 'Reshape', 'Flatten',
  'Squeeze', 'Unsqueeze', 'Concat', 'Split', 'Slice', 'Gather', 'Shape', 'Cast', 'Expand', 'ConstantOfShape', 'ReduceMean', 'ReduceSum',
  'Softmax', 'LogSoftmax', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Pad', 'LayerNormalization',
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear',
] as const;

const INT_ELEMS = new Set<number>([ELEM.INT32, ELEM.INT64, ELEM.INT8, ELEM.UINT8]);

/**
 * The opset each op first appears in (ops of opset 1 are not listed): a file of an older opset that
 * uses one is refused rather than read with a later definition.
 */
export const OP_SINCE: Readonly<Record<string, number>> = {
  Expand: 8, Erf: 9, Where: 9, ConstantOfShape: 9, QuantizeLinear: 10, DequantizeLinear: 10,
  DynamicQuantizeLinear: 11, LayerNormalization: 17, Gelu: 20,
};

export function isConst(v: GraphValue | undefined): v is Const { return v !== undefined && !(v instanceof Tensor); }
function isIntConst(c: Const): boolean { return c.elem !== undefined && INT_ELEMS.has(c.elem); }
function isBoolConst(c: Const): boolean { return c.elem === ELEM.BOOL; }

/** A Const as a tensor: floats as float32, integers as float64 (host arithmetic) or int32 (indices), booleans as bool. */
export function constTensor(c: Const, ints: 'float64' | 'int32' = 'float64'): Tensor {
  if (isBoolConst(c)) return ops.tensor(Uint8Array.from(c.data), { shape: [...c.dims], dtype: 'bool' });
  if (isIntConst(c)) return ops.tensor(ints === 'int32' ? Int32Array.from(c.data) : Float64Array.from(c.data), { shape: [...c.dims], dtype: ints });
  return ops.tensor(Float32Array.from(c.data), { shape: [...c.dims] });
}

/** A tensor as a Const with element type `elem`. */
function toConst(t: Tensor, elem: number): Const {
  const d = t.dataSync();
  const data = elem === ELEM.FLOAT ? Float32Array.from(d) : Float64Array.from(d, (v) => (INT_ELEMS.has(elem) ? Math.trunc(v) : v));
  return { dims: [...t.shape], data, elem };
}

function shapeOf(v: GraphValue): readonly number[] { return v instanceof Tensor ? v.shape : v.dims; }

/** Integers of a value (shapes, axes, starts); a tensor is read back from its data. */
export function hostInts(v: GraphValue): number[] {
  const d = v instanceof Tensor ? v.dataSync() : v.data;
  return Array.from(d, (x) => Math.trunc(Number(x)));
}

function normAxis(n: NodeProto, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new TensorslimError(OP, `${nodeLabel(n)}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** The most elements a shape computed inside the graph (ConstantOfShape, Expand) may hold: 2^26 (256 MiB of float32). */
const MAX_COMPUTED = 2 ** 26;

/** numpy broadcasting of two shapes (what ONNX's multidirectional broadcasting is). */
function broadcastShapes(n: NodeProto, a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1, y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new TensorslimError(OP, `${nodeLabel(n)}: shapes ${fmtShape(a)} and ${fmtShape(b)} do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Axes of a reduce/squeeze/unsqueeze/split: an attribute before `inputFrom`, the input at `idx` from it. */
function axesOf(n: NodeProto, opset: number, inputFrom: number, ins: readonly (GraphValue | undefined)[], idx: number, name = 'axes'): number[] | null {
  if (opset < inputFrom) return attrInts(n, name);
  const v = ins[idx];
  return v === undefined ? null : hostInts(v);
}

/** Softmax/LogSoftmax: from opset 13 over one axis (default -1); before, over the input flattened to 2-D at `axis` (default 1). */
function softmaxOp(n: NodeProto, x: Tensor, opset: number, log: boolean): Tensor {
  const f = (t: Tensor, d: number): Tensor => (log ? ops.logSoftmax(t, d) : ops.softmax(t, d));
  if (x.ndim === 0) throw new TensorslimError(OP, `${nodeLabel(n)}: needs at least one dimension`);
  if (opset >= 13) return f(x, normAxis(n, attrInt(n, 'axis', -1), x.ndim));
  const a = normAxis(n, attrInt(n, 'axis', 1), x.ndim);
  if (a === x.ndim - 1) return f(x, -1);
  const flat = ops.reshape(x, [prod(x.shape.slice(0, a)), prod(x.shape.slice(a))]);
  return ops.reshape(f(flat, 1), [...x.shape]);
}

/** Elements of `x` along `axis` at `index` (any shape; negative indices count from the end), as ONNX Gather. */
function gatherOp(n: NodeProto, x: Tensor, axis: number, idxV: GraphValue): Tensor {
  const a = normAxis(n, axis, x.ndim);
  const dim = x.shape[a]!;
  const idxShape = shapeOf(idxV);
  const raw = hostInts(idxV);
  const flat = Int32Array.from(raw, (v) => {
    const k = v < 0 ? v + dim : v;
    if (k < 0 || k >= dim) throw new TensorslimError(OP, `${nodeLabel(n)}: index ${v} is out of range for axis ${a} of size ${dim} in ${fmtShape(x.shape)}`);
    return k;
  });
  const picked = ops.indexSelect(x, a, ops.tensor(flat, { dtype: 'int32' }));
  return ops.reshape(picked, [...x.shape.slice(0, a), ...idxShape, ...x.shape.slice(a + 1)]);
}

/** ONNX Slice on one axis: clamped start/end, any non-zero step (negative steps by index). */
function sliceAxis(x: Tensor, a: number, start: number, end: number, step: number): Tensor {
  const dim = x.shape[a]!;
  if (step > 0) {
    const s = Math.min(Math.max(start < 0 ? start + dim : start, 0), dim);
    const e = Math.min(Math.max(end < 0 ? end + dim : end, 0), dim);
    return ops.slice(x, a, s, Math.max(e, s), step);
  }
  const s = Math.min(Math.max(start < 0 ? start + dim : start, -1), dim - 1);
  const e = Math.min(Math.max(end < 0 ? end + dim : end, -1), dim - 1);
  const idx: number[] = [];
  for (let i = s; i > e; i += step) idx.push(i);
  if (idx.length === 0) { const shape = [...x.shape]; shape[a] = 0; return ops.reshape(ops.slice(x, a, 0, 0), shape); }
  return ops.indexSelect(x, a, ops.tensor(Int32Array.from(idx), { dtype: 'int32' }));
}

/** Zero (or `value`) padding by (begin, end) per axis; negative amounts crop. */
function padOp(x: Tensor, pads: readonly number[], axes: readonly number[], value: number): Tensor {
  let y = x;
  const k = axes.length;
  for (let i = 0; i < k; i++) {
    const a = axes[i]!;
    let b = pads[i]!, e = pads[i + k]!;
    if (b < 0) { y = ops.slice(y, a, -b); b = 0; }
    if (e < 0) { y = ops.slice(y, a, 0, y.shape[a]! + e); e = 0; }
    if (b === 0 && e === 0) continue;
    const shape = [...y.shape]; shape[a] = y.shape[a]! + b + e;
    const inside = value === 0 ? null : ops.ne(ops.padSlice(ops.onesLike(y), shape, a, b, 1), 0);
    y = ops.padSlice(ops.contiguous(y), shape, a, b, 1);
    if (inside !== null) y = ops.where(inside, y, value);
  }
  return y;
}

function windowAttrs(n: NodeProto): { k: [number, number]; stride: [number, number]; pad: [number, number]; dilation: [number, number] } {
  const k = attrInts(n, 'kernel_shape');
  if (k === null || k.length !== 2) throw new TensorslimError(OP, `${nodeLabel(n)}: only 2-D pooling (kernel_shape of 2) is supported`);
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') throw new TensorslimError(OP, `${nodeLabel(n)}: auto_pad ${autoPad} is not supported (use explicit pads)`);
  if (attrInt(n, 'ceil_mode', 0) !== 0) throw new TensorslimError(OP, `${nodeLabel(n)}: ceil_mode = 1 is not supported`);
  const s = attrInts(n, 'strides') ?? [1, 1];
  const d = attrInts(n, 'dilations') ?? [1, 1];
  const p = attrInts(n, 'pads') ?? [0, 0, 0, 0];
  if (s.length !== 2 || d.length !== 2 || p.length !== 4) throw new TensorslimError(OP, `${nodeLabel(n)}: strides, dilations and pads must describe 2-D windows`);
  if (p[0] !== p[2] || p[1] !== p[3]) throw new TensorslimError(OP, `${nodeLabel(n)}: asymmetric pads (${p.join(', ')}) are not supported`);
  return { k: [k[0]!, k[1]!], stride: [s[0]!, s[1]!], pad: [p[0]!, p[1]!], dilation: [d[0]!, d[1]!] };
}

/** The element type an op's output has, given its first input's. */
function outElem(op: string, n: NodeProto, first: Const | undefined, opset: number): number {
  if (op === 'Shape') return ELEM.INT64;
  if (op === 'Equal' || op === 'Less' || op === 'Greater') return ELEM.BOOL;
  if (op === 'Cast') return castTo(n, opset);
  if (op === 'DequantizeLinear') return ELEM.FLOAT;
  return first?.elem ?? ELEM.FLOAT;
}

/**
 * Evaluate one node. `ins` holds its inputs in order (undefined where an optional input is empty).
 * When every input is a Const the result is a Const (shape arithmetic, folded constants).
 */
export function exec(n: NodeProto, ins: readonly (GraphValue | undefined)[], opset: number, training: boolean): GraphValue[] {
  const op = n.opType ?? '';
  if ((OP_SINCE[op] ?? 1) > opset) throw new TensorslimError(OP, `${nodeLabel(n)}: ${op} is defined from opset ${OP_SINCE[op]}; this model is opset ${opset}`);
  const present = ins.filter((v): v is GraphValue => v !== undefined);
  const host = present.length > 0 && present.every(isConst) && op !== 'Shape';
  if (op === 'Shape') {
    const x = ins[0];
    if (x === undefined) throw new TensorslimError(OP, `${nodeLabel(n)}: input 0 is missing`);
    const dims = shapeOf(x);
    const r = dims.length;
    const clip = (v: number): number => Math.min(Math.max(v < 0 ? v + r : v, 0), r);
    const s = clip(attrInt(n, 'start', 0)), e = clip(getAttr(n, 'end') === undefined ? r : attrInt(n, 'end', r));
    const out = dims.slice(s, Math.max(s, e));
    return [{ dims: [out.length], data: Float64Array.from(out), elem: ELEM.INT64 }];
  }
  if (op === 'ConstantOfShape') {
    const shape = hostInts(ins[0] ?? refuseIn(n, 0));
    const a = getAttr(n, 'value');
    const v = a?.t ? readTensor(`${nodeLabel(n)} value`, a.t, null) : { dims: [1], data: Float32Array.of(0), elem: ELEM.FLOAT };
    const count = prod(shape);
    if (shape.some((d) => d < 0) || count > MAX_COMPUTED) throw new TensorslimError(OP, `${nodeLabel(n)}: shape (${shape.join(', ')}) is negative or holds more than ${MAX_COMPUTED} elements; refused`);
    const data = v.elem === ELEM.FLOAT ? new Float32Array(count).fill(v.data[0] ?? 0) : new Float64Array(count).fill(v.data[0] ?? 0);
    return [{ dims: shape, data, elem: v.elem ?? ELEM.FLOAT }];
  }
  const T = (i: number, ints: 'float64' | 'int32' = 'float64'): Tensor => {
    const v = ins[i];
    if (v === undefined) return refuseIn(n, i);
    return v instanceof Tensor ? v : constTensor(v, host ? ints : 'int32');
  };
  if (op === 'QuantizeLinear' || op === 'DequantizeLinear' || op === 'DynamicQuantizeLinear') {
    const outs = quantOp(op, n, ins, opset);
    if (!host) return outs;
    const elems = op === 'DequantizeLinear' ? [ELEM.FLOAT] : op === 'DynamicQuantizeLinear' ? [ELEM.UINT8, ELEM.FLOAT, ELEM.UINT8] : [quantElem(n, ins[2])];
    return outs.map((t, k) => (t instanceof Tensor ? toConst(t, elems[k]!) : t));
  }
  const outs = compute(op, n, ins, T, opset, training);
  if (!host) return outs;
  const first = present[0] as Const | undefined;
  const elem = outElem(op, n, first, opset);
  return outs.map((t) => (t instanceof Tensor ? toConst(t, elem) : t));
}

/** The integer type QuantizeLinear writes: its zero point's (a Const), else uint8 (the spec's default). */
function quantElem(n: NodeProto, zp: GraphValue | undefined): number {
  if (zp === undefined || zp instanceof Tensor) return ELEM.UINT8;
  const e = zp.elem ?? ELEM.UINT8;
  if (e !== ELEM.INT8 && e !== ELEM.UINT8) throw new TensorslimError(OP, `${nodeLabel(n)}: zero point of type ${onnx.TensorProto.DataType[e] ?? e} is not supported (INT8, UINT8)`);
  return e;
}

/** Host numbers of a value (QDQ ops compute on the host: rounding has no gradient). */
function hostData(v: GraphValue): ArrayLike<number> { return v instanceof Tensor ? v.dataSync() : v.data; }

/** Round half to even, as QuantizeLinear and DynamicQuantizeLinear round. */
function roundEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}

/**
 * For per-axis quantization: the channel of each element of a tensor of `dims` along `axis`,
 * checked against the scale's length; per-tensor (a scalar or one-element scale) gives channel 0.
 */
function channelOf(n: NodeProto, dims: readonly number[], scales: number, axisAttr: number, opset: number): (i: number) => number {
  if (scales === 1) return () => 0;
  if (opset < 13) throw new TensorslimError(OP, `${nodeLabel(n)}: a scale of ${scales} values (per axis) needs opset >= 13; this model is opset ${opset}`);
  const axis = normAxis(n, axisAttr, dims.length);
  if (dims[axis] !== scales) throw new TensorslimError(OP, `${nodeLabel(n)}: scale has ${scales} values but the input has ${dims[axis]} along axis ${axis} ${fmtShape(dims)}`);
  const inner = prod(dims.slice(axis + 1));
  return (i) => Math.floor(i / inner) % scales;
}

/**
 * QuantizeLinear (y = saturate(round(x / scale) + zero_point), int8 or uint8), DequantizeLinear
 * (y = (x - zero_point) * scale), per tensor or per axis (opset >= 13), and DynamicQuantizeLinear
 * (uint8 with the scale and zero point of the input's range, 0 included), as the spec defines them;
 * quantized values travel as float32 tensors holding the integers. Blocked quantization
 * (block_size, opset 21) and other integer types are refused.
 */
function quantOp(op: string, n: NodeProto, ins: readonly (GraphValue | undefined)[], opset: number): GraphValue[] {
  const x = ins[0] ?? refuseIn(n, 0);
  const dims = [...shapeOf(x)];
  const xs = hostData(x);
  const out = (data: Float32Array, shape: readonly number[]): Tensor => ops.tensor(data, { shape: [...shape] });
  if (op === 'DynamicQuantizeLinear') {
    let lo = 0, hi = 0;
    for (let i = 0; i < xs.length; i++) { const v = xs[i]!; if (v < lo) lo = v; if (v > hi) hi = v; }
    const scale = Math.fround(Math.fround(hi - lo) / 255);
    const zp = scale === 0 ? 0 : Math.min(255, Math.max(0, roundEven(-Math.fround(lo / scale))));
    const y = new Float32Array(xs.length);
    if (scale !== 0) for (let i = 0; i < xs.length; i++) y[i] = Math.min(255, Math.max(0, roundEven(Math.fround(xs[i]! / scale)) + zp));
    return [out(y, dims), out(Float32Array.of(scale), []), out(Float32Array.of(zp), [])];
  }
  if (getAttr(n, 'block_size') !== undefined && attrInt(n, 'block_size', 0) !== 0) throw new TensorslimError(OP, `${nodeLabel(n)}: blocked quantization (block_size) is not supported; per-tensor and per-axis are`);
  const s = hostData(ins[1] ?? refuseIn(n, 1));
  const zv = ins[2];
  const z = zv === undefined ? null : hostData(zv);
  if (z !== null && z.length !== s.length) throw new TensorslimError(OP, `${nodeLabel(n)}: zero point has ${z.length} values, scale ${s.length}`);
  const ch = channelOf(n, dims, s.length, attrInt(n, 'axis', 1), opset);
  const y = new Float32Array(xs.length);
  if (op === 'DequantizeLinear') {
    if (zv !== undefined && !(zv instanceof Tensor) && zv.elem !== undefined && zv.elem !== ELEM.INT8 && zv.elem !== ELEM.UINT8 && zv.elem !== ELEM.INT32) {
      throw new TensorslimError(OP, `${nodeLabel(n)}: zero point of type ${onnx.TensorProto.DataType[zv.elem] ?? zv.elem} is not supported (INT8, UINT8, INT32)`);
    }
    for (let i = 0; i < xs.length; i++) { const c = ch(i); y[i] = (xs[i]! - (z === null ? 0 : z[c]!)) * s[c]!; }
    return [out(y, dims)];
  }
  if (getAttr(n, 'saturate') !== undefined && attrInt(n, 'saturate', 1) !== 1) throw new TensorslimError(OP, `${nodeLabel(n)}: saturate = 0 applies to float8 outputs, which are not supported`);
  const [lo, hi] = quantElem(n, zv) === ELEM.INT8 ? [-128, 127] : [0, 255];
  for (let i = 0; i < xs.length; i++) {
    const c = ch(i);
    y[i] = Math.min(hi, Math.max(lo, roundEven(Math.fround(xs[i]! / s[c]!)) + (z === null ? 0 : z[c]!)));
  }
  return [out(y, dims)];
}

/**
 * B of a binary op before opset 7 (no numpy broadcasting): with broadcast = 1, B's shape is matched
 * to the run of A's dims starting at `axis` (default: A's trailing dims) and is reshaped here so
 * that numpy broadcasting gives that result; without it the shapes must be equal. From opset 7: B as is.
 */
function legacyB(n: NodeProto, a: Tensor, b: Tensor, opset: number): Tensor {
  if (opset >= 7) return b;
  const sa = a.shape, sb = b.shape;
  if (attrInt(n, 'broadcast', 0) !== 1) {
    if (fmtShape(sa) !== fmtShape(sb)) throw new TensorslimError(OP, `${nodeLabel(n)}: shapes ${fmtShape(sa)} and ${fmtShape(sb)} differ; at opset ${opset} (no numpy broadcasting) they must be equal unless broadcast = 1`);
    return b;
  }
  // a one-element B (of rank <= A's) broadcasts to anything
  if (sb.length <= sa.length && prod(sb) === 1) return ops.reshape(b, []);
  const axis = getAttr(n, 'axis') === undefined ? sa.length - sb.length : attrInt(n, 'axis', 0);
  const at = axis < 0 ? axis + sa.length : axis;
  const fits = at >= 0 && at + sb.length <= sa.length && sb.every((d, k) => d === sa[at + k]);
  if (!fits) throw new TensorslimError(OP, `${nodeLabel(n)}: B ${fmtShape(sb)} does not match A ${fmtShape(sa)} at axis ${axis} (legacy broadcast, opset ${opset}: B's dims equal a run of A's dims starting at axis)`);
  return ops.reshape(b, [...sb, ...Array<number>(sa.length - at - sb.length).fill(1)]);
}

/** Cast's target type: an integer from opset 6, the type's name (a string such as "FLOAT") before. */
function castTo(n: NodeProto, opset: number): number {
  if (opset >= 6) return attrInt(n, 'to', ELEM.FLOAT);
  const name = attrString(n, 'to', 'FLOAT').toUpperCase();
  const v = (onnx.TensorProto.DataType as unknown as Record<string, number | undefined>)[name];
  if (typeof v !== 'number') throw new TensorslimError(OP, `${nodeLabel(n)}: to = '${name}' is not an ONNX data type name`);
  return v;
}

function refuseIn(n: NodeProto, i: number): never { throw new TensorslimError(OP, `${nodeLabel(n)}: input ${i} is missing`); }

function compute(op: string, n: NodeProto, ins: readonly (GraphValue | undefined)[], T: (i: number, ints?: 'float64' | 'int32') => Tensor, opset: number, training: boolean): GraphValue[] {
  const refuse = (why: string): never => { throw new TensorslimError(OP, `${nodeLabel(n)}: ${why}`); };
  switch (op) {
    case 'Identity': return [ins[0] ?? refuseIn(n, 0)];
    case 'Dropout': {
      // opset < 12: ratio is an attribute; from 12: an optional input. Identity in eval mode.
      const r = ins[1];
      const p = opset < 12 ? attrFloat(n, 'ratio', 0.5) : r === undefined ? 0.5 : Number((r instanceof Tensor ? r.dataSync() : r.data)[0] ?? 0.5);
      const x = ins[0] ?? refuseIn(n, 0);
      const outs: GraphValue[] = [training && x instanceof Tensor ? ops.dropout(x, p, true) : x];
      if ((n.output?.length ?? 1) > 1) {
        const shape = [...shapeOf(x)];
        // the mask: all kept in eval; bool from opset 10, of the input's type (float) before
        outs.push(opset < 10 ? ops.ones(shape) : ops.tensor(new Uint8Array(prod(shape)).fill(1), { shape, dtype: 'bool' }));
      }
      return outs;
    }
    case 'Relu': return [ops.relu(T(0))];
    case 'LeakyRelu': { const x = T(0); const a = attrFloat(n, 'alpha', 0.01); return [ops.where(ops.gt(x, 0), x, ops.mul(x, a))]; }
    case 'Sigmoid': return [ops.sigmoid(T(0))];
    case 'Tanh': return [ops.tanh(T(0))];
    case 'Erf': return [ops.erf(T(0))];
    case 'Sqrt': return [ops.sqrt(T(0))];
    case 'Exp': return [ops.exp(T(0))];
    case 'Log': return [ops.log(T(0))];
    case 'Neg': return [ops.neg(T(0))];
    case 'Abs': return [ops.abs(T(0))];
    case 'Reciprocal': return [ops.reciprocal(T(0))];
    case 'Gelu': return [ops.gelu(T(0), { approximate: attrString(n, 'approximate', 'none') === 'tanh' ? 'tanh' : 'none' })];
    case 'Add': return [ops.add(T(0), legacyB(n, T(0), T(1), opset))];
    case 'Sub': return [ops.sub(T(0), legacyB(n, T(0), T(1), opset))];
    case 'Mul': return [ops.mul(T(0), legacyB(n, T(0), T(1), opset))];
    case 'Div': {
      const q = ops.div(T(0), legacyB(n, T(0), T(1), opset));
      const a = ins[0], b = ins[1];
      const ints = [a, b].every((v) => (v instanceof Tensor ? v.dtype === 'int32' : v !== undefined && isIntConst(v)));
      if (!ints) return [q];
      // integer division truncates toward zero
      const t = ops.mul(ops.sign(q), ops.floor(ops.abs(q)));
      return [a instanceof Tensor ? ops.to(t, 'int32') : t];
    }
    case 'Pow': return [ops.pow(T(0), legacyB(n, T(0), T(1), opset))];
    case 'Equal': return [ops.eq(T(0), legacyB(n, T(0), T(1), opset))];
    case 'Less': return [ops.lt(T(0), legacyB(n, T(0), T(1), opset))];
    case 'Greater': return [ops.gt(T(0), legacyB(n, T(0), T(1), opset))];
    case 'Where': {
      const c = T(0);
      return [ops.where(c.dtype === 'bool' ? c : ops.ne(c, 0), T(1), T(2))];
    }
    case 'Clip': {
      const lo = opset < 11 ? attrFloat(n, 'min', -Infinity) : ins[1] === undefined ? -Infinity : Number(T(1).dataSync()[0]);
      const hi = opset < 11 ? attrFloat(n, 'max', Infinity) : ins[2] === undefined ? Infinity : Number(T(2).dataSync()[0]);
      return [ops.minimum(ops.maximum(T(0), lo), hi)];
    }
    case 'MatMul': return [ops.matmul(T(0), T(1))];
    case 'Gemm': {
      let a = T(0), b = T(1);
      if (a.ndim !== 2 || b.ndim !== 2) refuse(`A and B must be 2-D, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
      if (attrInt(n, 'transA', 0) === 1) a = ops.transpose(a, 0, 1);
      if (attrInt(n, 'transB', 0) === 1) b = ops.transpose(b, 0, 1);
      let y = ops.mul(ops.matmul(a, b), attrFloat(n, 'alpha', 1));
      if (ins[2] !== undefined) {
        const c = T(2);
        // before opset 7: C broadcasts to (M, N) only with broadcast = 1; otherwise it must be (M, N)
        if (opset < 7 && attrInt(n, 'broadcast', 0) !== 1 && fmtShape(c.shape) !== fmtShape(y.shape)) {
          refuse(`C ${fmtShape(c.shape)} must be ${fmtShape(y.shape)} (M, N): at opset ${opset} C broadcasts only with broadcast = 1`);
        }
        if (c.ndim > 2 || broadcastShapes(n, y.shape, c.shape).join() !== y.shape.join()) refuse(`C ${fmtShape(c.shape)} does not broadcast to ${fmtShape(y.shape)} (M, N)`);
        y = ops.add(y, ops.mul(c, attrFloat(n, 'beta', 1)));
      }
      return [y];
    }
    case 'Transpose': {
      const x = T(0);
      const perm = attrInts(n, 'perm') ?? Array.from({ length: x.ndim }, (_, k) => x.ndim - 1 - k);
      if (perm.length !== x.ndim || [...perm].sort((p, q) => p - q).some((v, k) => v !== k)) refuse(`perm (${perm.join(', ')}) is not a permutation of ${x.ndim} dims`);
      return [ops.permute(x, perm)];
    }
    case 'Reshape': {
      const x = T(0);
      const shape = opset < 5 ? attrInts(n, 'shape') ?? refuse('no shape') : hostInts(ins[1] ?? refuseIn(n, 1));
      const allowzero = opset >= 14 && attrInt(n, 'allowzero', 0) === 1;
      const dims = shape.map((d, i) => (d === 0 && !allowzero ? x.shape[i] ?? refuse(`shape (${shape.join(', ')}) copies dim ${i}, which the input ${fmtShape(x.shape)} lacks`) : d));
      if (dims.filter((d) => d === -1).length > 1 || dims.some((d) => d < -1)) refuse(`shape (${shape.join(', ')}) is invalid`);
      const known = prod(dims.filter((d) => d !== -1));
      const full = dims.map((d) => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
      if (prod(full) !== x.size || full.some((d) => !Number.isInteger(d))) refuse(`cannot reshape ${fmtShape(x.shape)} to (${shape.join(', ')})`);
      return [ops.reshape(x, full)];
    }
    case 'Flatten': {
      const x = T(0);
      const a = attrInt(n, 'axis', 1);
      const ax = a < 0 ? a + x.ndim : a;
      if (ax < 0 || ax > x.ndim) refuse(`axis ${a} is out of range for rank ${x.ndim}`);
      return [ops.reshape(x, [prod(x.shape.slice(0, ax)), prod(x.shape.slice(ax))])];
    }
    case 'Squeeze': {
      const x = T(0);
      const axes = axesOf(n, opset, 13, ins, 1);
      if (axes === null || axes.length === 0) return [ops.reshape(x, x.shape.filter((d) => d !== 1))];
      const norm = axes.map((a) => normAxis(n, a, x.ndim));
      for (const a of norm) if (x.shape[a] !== 1) refuse(`axis ${a} of ${fmtShape(x.shape)} has size ${x.shape[a]}, not 1`);
      return [ops.reshape(x, x.shape.filter((_, i) => !norm.includes(i)))];
    }
    case 'Unsqueeze': {
      const x = T(0);
      const axes = axesOf(n, opset, 13, ins, 1) ?? refuse('no axes');
      const r = x.ndim + axes.length;
      const norm = axes.map((a) => normAxis(n, a, r)).sort((p, q) => p - q);
      if (new Set(norm).size !== norm.length) refuse(`axes (${axes.join(', ')}) repeat`);
      const shape = [...x.shape];
      for (const a of norm) shape.splice(a, 0, 1);
      return [ops.reshape(x, shape)];
    }
    case 'Concat': {
      const ts = ins.map((_, i) => T(i));
      if (ts.length === 0) refuse('no inputs');
      // the axis attribute is optional before opset 4, defaulting to 1 (required from 4)
      const axis = attrInt(n, 'axis', opset < 4 ? 1 : 0);
      return [ops.cat(ts, normAxis(n, axis, ts[0]!.ndim))];
    }
    case 'Split': {
      const x = T(0);
      const a = normAxis(n, attrInt(n, 'axis', 0), x.ndim);
      const k = n.output?.length ?? 1;
      // opset 1 also took the sizes as an optional second input; from 2 to 12 only the attribute
      let sizes = opset < 13 ? (opset < 2 && ins[1] !== undefined ? hostInts(ins[1]) : attrInts(n, 'split')) : ins[1] === undefined ? null : hostInts(ins[1]);
      const dim = x.shape[a]!;
      if (sizes === null || sizes.length === 0) {
        const num = opset >= 18 ? attrInt(n, 'num_outputs', k) : k;
        const each = opset >= 18 ? Math.ceil(dim / num) : dim / num;
        if (!Number.isInteger(each)) refuse(`axis ${a} of size ${dim} does not split into ${num} equal parts`);
        sizes = Array.from({ length: num }, (_, i) => Math.max(0, Math.min(each, dim - i * each)));
      }
      if (sizes.reduce((p, q) => p + q, 0) !== dim || sizes.some((s) => s < 0)) refuse(`split (${sizes.join(', ')}) does not add up to ${dim}`);
      let at = 0;
      return sizes.map((s) => { const t = ops.slice(x, a, at, at + s); at += s; return t; });
    }
    case 'Slice': {
      let x = T(0);
      let starts: number[], ends: number[], axes: number[] | null, steps: number[] | null;
      if (opset < 10) {
        starts = attrInts(n, 'starts') ?? refuse('no starts'); ends = attrInts(n, 'ends') ?? refuse('no ends'); axes = attrInts(n, 'axes'); steps = null;
      } else {
        starts = hostInts(ins[1] ?? refuseIn(n, 1)); ends = hostInts(ins[2] ?? refuseIn(n, 2));
        axes = ins[3] === undefined ? null : hostInts(ins[3]); steps = ins[4] === undefined ? null : hostInts(ins[4]);
      }
      if (ends.length !== starts.length || (axes !== null && axes.length !== starts.length) || (steps !== null && steps.length !== starts.length)) refuse('starts, ends, axes and steps must have the same length');
      for (let i = 0; i < starts.length; i++) {
        const a = normAxis(n, axes?.[i] ?? i, x.ndim);
        const step = steps?.[i] ?? 1;
        if (step === 0) refuse('step 0');
        x = sliceAxis(x, a, starts[i]!, ends[i]!, step);
      }
      return [x];
    }
    case 'Gather': return [gatherOp(n, T(0), attrInt(n, 'axis', 0), ins[1] ?? refuseIn(n, 1))];
    case 'Cast': {
      const to = castTo(n, opset);
      const x = T(0);
      if (to === ELEM.FLOAT || to === ELEM.DOUBLE) return [ops.to(x, 'float32')];
      if (INT_ELEMS.has(to)) {
        if (x.dtype === 'int32') return [x];
        const t = ops.mul(ops.sign(x), ops.floor(ops.abs(ops.to(x, x.dtype === 'bool' || x.dtype === 'uint8' ? 'float32' : x.dtype))));   // toward zero
        return [x.dtype === 'float64' ? t : ops.to(t, 'int32')];
      }
      if (to === ELEM.BOOL) return [ops.ne(x, 0)];
      return refuse(`to = ${onnx.TensorProto.DataType[to] ?? to} is not supported (FLOAT, DOUBLE, INT32, INT64, BOOL)`);
    }
    case 'Expand': {
      const x = T(0);
      const target = broadcastShapes(n, x.shape, hostInts(ins[1] ?? refuseIn(n, 1)));
      if (target.some((d) => d < 0) || prod(target) > MAX_COMPUTED) refuse(`shape (${target.join(', ')}) is negative or holds more than ${MAX_COMPUTED} elements; refused`);
      const src = target.length > x.ndim ? ops.reshape(x, [...new Array<number>(target.length - x.ndim).fill(1), ...x.shape]) : x;
      return [ops.contiguous(ops.expand(src, target))];
    }
    case 'ReduceMean': case 'ReduceSum': {
      const x = T(0);
      const axes = axesOf(n, opset, op === 'ReduceSum' ? 13 : 18, ins, 1);
      const keep = attrInt(n, 'keepdims', 1) === 1;
      if (axes === null || axes.length === 0) {
        if (attrInt(n, 'noop_with_empty_axes', 0) === 1) return [x];
        const all = Array.from({ length: x.ndim }, (_, i) => i);
        return [op === 'ReduceMean' ? ops.mean(x, all, keep) : ops.sum(x, all, keep)];
      }
      const norm = axes.map((a) => normAxis(n, a, x.ndim));
      return [op === 'ReduceMean' ? ops.mean(x, norm, keep) : ops.sum(x, norm, keep)];
    }
    case 'LayerNormalization': {
      // what the LayerNorm layer computes, plus the Mean and InvStdDev outputs when a graph reads them
      const x = T(0);
      const a = normAxis(n, attrInt(n, 'axis', -1), x.ndim);
      const axes = Array.from({ length: x.ndim - a }, (_, i) => a + i);
      const mean = ops.mean(x, axes, true);
      const d = ops.sub(x, mean);
      const inv = ops.reciprocal(ops.sqrt(ops.add(ops.mean(ops.mul(d, d), axes, true), attrFloat(n, 'epsilon', 1e-5))));
      let y = ops.mul(ops.mul(d, inv), T(1));
      if (ins[2] !== undefined) y = ops.add(y, T(2));
      return [y, mean, inv];
    }
    case 'Softmax': return [softmaxOp(n, T(0), opset, false)];
    case 'LogSoftmax': return [softmaxOp(n, T(0), opset, true)];
    case 'MaxPool': {
      if ((n.output?.length ?? 1) > 1 && n.output![1] !== '') refuse('the indices output is not supported');
      const w = windowAttrs(n);
      // pads wider than half the window: pad with -inf first (maxPool2d's own padding is at most half)
      if (w.pad[0] * 2 > w.k[0] || w.pad[1] * 2 > w.k[1]) {
        const x = padOp(T(0), [w.pad[0], w.pad[1], w.pad[0], w.pad[1]], [2, 3], -Infinity);
        return [ops.maxPool2d(x, w.k, { stride: w.stride, padding: [0, 0], dilation: w.dilation })];
      }
      return [ops.maxPool2d(T(0), w.k, { stride: w.stride, padding: w.pad, dilation: w.dilation })];
    }
    case 'AveragePool': {
      const w = windowAttrs(n);
      if ((w.pad[0] > 0 || w.pad[1] > 0) && attrInt(n, 'count_include_pad', 0) === 0) refuse('padding with count_include_pad = 0 is not supported');
      if (w.dilation[0] !== 1 || w.dilation[1] !== 1) refuse('dilations are not supported');
      return [new AvgPool2d(w.k, w.stride, w.pad).forward(T(0))];
    }
    case 'GlobalAveragePool': {
      const x = T(0);
      if (x.ndim < 3) refuse(`expects (N, C, ...), got ${fmtShape(x.shape)}`);
      return [ops.mean(x, Array.from({ length: x.ndim - 2 }, (_, i) => i + 2), true)];
    }
    case 'Pad': {
      const x = T(0);
      const mode = attrString(n, 'mode', 'constant');
      if (mode !== 'constant') refuse(`mode '${mode}' is not supported (only constant)`);
      const pads = opset < 11 ? attrInts(n, opset < 2 ? 'paddings' : 'pads') ?? refuse('no pads') : hostInts(ins[1] ?? refuseIn(n, 1));
      const value = opset < 11 ? attrFloat(n, 'value', 0) : ins[2] === undefined ? 0 : Number(T(2).dataSync()[0] ?? 0);
      const axes = opset >= 18 && ins[3] !== undefined ? hostInts(ins[3]).map((a) => normAxis(n, a, x.ndim)) : Array.from({ length: x.ndim }, (_, i) => i);
      if (pads.length !== 2 * axes.length) refuse(`pads has ${pads.length} values; ${2 * axes.length} expected`);
      return [padOp(x, pads, axes, value)];
    }
    default:
      return refuse(`op '${op}' is not supported`);
  }
}
