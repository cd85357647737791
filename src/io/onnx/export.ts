// ONNX export: walks a module tree (Sequential and the known layer classes, a GPT by its
// structure) and writes the ONNX graph that computes the same function in eval mode. It runs the
// model once on the sample input, layer by layer, to learn each intermediate shape and to let
// forward pre-hooks (pruning masks) compute the effective weights, which are written dense.
// Initializer names are the state-dict keys of the effective tensors (`1.weight`, `transformer.wte.weight`).
// It never traces kernels and never changes the model (train/eval mode is restored).

import { Tensor } from '../../core/tensor.js';
import { noGrad } from '../../core/engine.js';
import { TensorslimError } from '../../core/errors.js';
import { fmtShape } from '../../backend/shape.js';
import * as ops from '../../ops/index.js';
import {
  Conv2d, Dropout, Embedding, Flatten, GELU, Identity, LayerNorm, Linear, LogSoftmax, MaxPool2d, ReLU, Sequential,
  Sigmoid, Softmax, Tanh, type AnyModule, type Block,
} from '../../nn/index.js';
import { GPT } from '../../models/gpt.js';
import { ImageView } from '../../models/presets.js';
import { writeFileAtomic } from '../files.js';
import { tensorslimVersion } from '../checkpoint_file.js';
import {
  ELEM, MAX_OPSET, MIN_OPSET, attr, onnx, encodeModel, floatTensor, int64Tensor, irVersionFor, valueInfo,
  type AttributeProto, type NodeProto, type TensorProto,
} from './proto.js';
import { OnnxLayer, type OnnxEmitContext } from './layers.js';
import { OnnxGraph, type GraphStep } from './graph.js';
import { exec, isConst, type GraphValue } from './exec.js';
import { nodeLabel, type Const } from './read.js';

/** Options of exportOnnx / serializeOnnx. */
export interface ExportOnnxOptions {
  /** ONNX opset to target, 11..21 (default 17). Gelu is a single op from 20, LayerNormalization from 17; older opsets get their decompositions. */
  opset?: number;
  /** Make the batch dimension (and a GPT's sequence dimension) symbolic, so any size runs (default true). */
  dynamicBatch?: boolean;
  /** Graph input name (default 'input', or 'input_ids' for a GPT). */
  inputNames?: readonly string[];
  /** Graph output name (default 'output', or 'logits' for a GPT). */
  outputNames?: readonly string[];
}

/** One graph input or output as written. */
export interface OnnxValueSummary {
  readonly name: string;
  readonly dtype: 'float32' | 'int32';
  /** Dims; symbolic ones by name ('batch', 'sequence'). */
  readonly shape: readonly (number | string)[];
}

/** What exportOnnx wrote. */
export interface ExportOnnxResult {
  readonly path: string | null;
  readonly bytes: number;
  readonly opset: number;
  readonly inputs: readonly OnnxValueSummary[];
  readonly outputs: readonly OnnxValueSummary[];
  /** Node count per op type, e.g. { Gemm: 3, Relu: 2 }. */
  readonly ops: Readonly<Record<string, number>>;
  readonly initializers: number;
}

const OP = 'exportOnnx';

/** A value in the graph under construction: its ONNX name and our tensor holding the same values. */
interface Sym { readonly name: string; readonly t: Tensor }

/** Collects nodes and initializers with unique names. */
class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  readonly #used = new Set<string>();
  readonly #weights = new Map<Tensor, string>();
  #causalMask: Map<string, string> = new Map();

  constructor(readonly opset: number) {}

  fresh(base: string): string {
    let name = base, i = 1;
    while (this.#used.has(name)) name = `${base}_${i++}`;
    this.#used.add(name);
    return name;
  }

  /** Add a node with one output; returns the output's name. */
  node(opType: string, inputs: readonly string[], attrs: readonly AttributeProto[] = [], base = opType): string {
    const out = this.fresh(base);
    this.nodes.push({ opType, input: [...inputs], output: [out], name: out, attribute: [...attrs] });
    return out;
  }

  /** A float32 initializer from a tensor; the same tensor (tied weights) is stored once. */
  weight(name: string, t: Tensor): string {
    const seen = this.#weights.get(t);
    if (seen !== undefined) return seen;
    if (t.dtype !== 'float32') {
      throw new TensorslimError(OP, `'${name}' is ${t.dtype}; ONNX export writes float32 models: convert with model.to('float32') first`);
    }
    const n = this.fresh(name);
    this.inits.push(floatTensor(n, t.shape, t.dataSync()));
    this.#weights.set(t, n);
    return n;
  }

  constF(base: string, dims: readonly number[], data: readonly number[]): string {
    const n = this.fresh(base);
    this.inits.push(floatTensor(n, dims, data));
    return n;
  }

  /** An initializer of element type `elem` (float/double as float32, 8-bit types as raw bytes, other integers in int32_data or int64). */
  constTensor(base: string, elem: number, dims: readonly number[], data: ArrayLike<number>): string {
    const n = this.fresh(base);
    if (elem === ELEM.FLOAT || elem === ELEM.DOUBLE) this.inits.push(floatTensor(n, dims, Array.from(data)));
    else if (elem === ELEM.INT64) this.inits.push(int64Tensor(n, dims, Array.from(data)));
    else if (elem === ELEM.INT8 || elem === ELEM.UINT8) {
      const raw = elem === ELEM.INT8 ? new Uint8Array(Int8Array.from(data).buffer) : Uint8Array.from(data);
      this.inits.push({ name: n, dims: [...dims], dataType: elem, rawData: raw });
    } else this.inits.push({ name: n, dims: [...dims], dataType: elem, int32Data: Array.from(data) });
    return n;
  }

  constI64(base: string, data: readonly number[]): string {
    const n = this.fresh(base);
    this.inits.push(int64Tensor(n, [data.length], data));
    return n;
  }

  /** (blockSize, blockSize) additive causal mask (0 on and below the diagonal, -inf above), cut to (T, T). */
  causalMask(blockSize: number, tLen: string): string {
    const key = `${blockSize}:${tLen}`;
    const hit = this.#causalMask.get(key);
    if (hit !== undefined) return hit;
    const m = new Array<number>(blockSize * blockSize);
    for (let i = 0; i < blockSize; i++) for (let j = 0; j < blockSize; j++) m[i * blockSize + j] = j <= i ? 0 : -Infinity;
    const full = this.constF('causal_mask', [blockSize, blockSize], m);
    const ends = this.node('Concat', [tLen, tLen], [attr('axis', 0)], 'causal_mask_ends');
    const cut = this.node('Slice', [full, this.constI64('zeros2', [0, 0]), ends, this.constI64('axes01', [0, 1])], [], 'causal_mask_TT');
    this.#causalMask.set(key, cut);
    return cut;
  }
}

function join(path: string, name: string): string { return path === '' ? name : `${path}.${name}`; }

/** The tensor a module's forward reads as `name` (pruning may have replaced the parameter with a computed one). */
function effective(m: AnyModule, name: string): Tensor | null {
  const v: unknown = Reflect.get(m, name);   // a layer attribute by name (weight, bias, ...), checked below
  return v instanceof Tensor ? v : null;
}

function emitLinear(g: GraphBuilder, m: Linear, path: string, x: Sym): Sym {
  const y = m.call(x.t);                         // runs pre-hooks: m.weight is the effective (masked) weight
  const w = g.weight(join(path, 'weight'), m.weight);
  const b = m.bias === null ? null : g.weight(join(path, 'bias'), effective(m, 'bias')!);
  if (x.t.ndim === 2) {
    return { name: g.node('Gemm', b === null ? [x.name, w] : [x.name, w, b], [attr('transB', 1)], `${path}/Gemm`), t: y };
  }
  // (..., in) @ W^T: MatMul broadcasts over the leading dims
  const wt = g.node('Transpose', [w], [attr('perm', [1, 0])], `${path}/weight_T`);
  const mm = g.node('MatMul', [x.name, wt], [], `${path}/MatMul`);
  return { name: b === null ? mm : g.node('Add', [mm, b], [], `${path}/Add`), t: y };
}

function scalar(g: GraphBuilder, v: number, base: string): string { return g.constF(base, [], [v]); }

function emitGelu(g: GraphBuilder, x: string, approximate: 'none' | 'tanh', path: string): string {
  if (g.opset >= 20) return g.node('Gelu', [x], approximate === 'tanh' ? [attr('approximate', 'tanh')] : [], `${path}/Gelu`);
  let inner: string;
  if (approximate === 'none') {
    // 0.5 x (1 + erf(x / sqrt 2))
    inner = g.node('Erf', [g.node('Div', [x, scalar(g, Math.SQRT2, 'sqrt2')], [], `${path}/Div`)], [], `${path}/Erf`);
  } else {
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const x3 = g.node('Mul', [x, g.node('Mul', [x, x], [], `${path}/Sq`)], [], `${path}/Cube`);
    const s = g.node('Add', [x, g.node('Mul', [x3, scalar(g, 0.044715, 'gelu_c')], [], `${path}/MulC`)], [], `${path}/AddC`);
    inner = g.node('Tanh', [g.node('Mul', [s, scalar(g, Math.sqrt(2 / Math.PI), 'sqrt_2_over_pi')], [], `${path}/MulK`)], [], `${path}/Tanh`);
  }
  const onePlus = g.node('Add', [inner, scalar(g, 1, 'one')], [], `${path}/AddOne`);
  return g.node('Mul', [g.node('Mul', [x, onePlus], [], `${path}/MulX`), scalar(g, 0.5, 'half')], [], `${path}/MulHalf`);
}

function emitSoftmax(g: GraphBuilder, op: 'Softmax' | 'LogSoftmax', dim: number, x: Sym, path: string): string {
  const rank = x.t.ndim;
  const axis = dim < 0 ? dim + rank : dim;
  // before opset 13 Softmax flattened the input to 2-D at `axis`; that equals ours only for the last axis
  if (g.opset < 13 && axis !== rank - 1) {
    throw new TensorslimError(OP, `${path}: ${op} over dim ${dim} of a rank-${rank} input needs opset >= 13 (older Softmax works on the last dim only); pass { opset: 13 } or more`);
  }
  return g.node(op, [x.name], [attr('axis', axis)], `${path}/${op}`);
}

function emitLayerNorm(g: GraphBuilder, m: LayerNorm, path: string, x: Sym): Sym {
  const y = m.call(x.t);
  const k = m.normalizedShape.length;
  const n = m.normalizedShape.reduce((a, b) => a * b, 1);
  const w = m.weight === null ? null : g.weight(join(path, 'weight'), effective(m, 'weight')!);
  const b = m.bias === null ? null : g.weight(join(path, 'bias'), effective(m, 'bias')!);
  if (g.opset >= 17) {
    const scale = w ?? g.constF(join(path, 'ones'), m.normalizedShape, new Array<number>(n).fill(1));
    const inputs = b === null ? [x.name, scale] : [x.name, scale, b];
    return { name: g.node('LayerNormalization', inputs, [attr('axis', -k), attr('epsilon', { float: m.eps })], `${path}/LayerNormalization`), t: y };
  }
  // (x - mean) / sqrt(var + eps) * w + b over the last k dims (biased variance, as LayerNorm uses)
  const axes = Array.from({ length: k }, (_, i) => i - k);
  const mean = g.node('ReduceMean', [x.name], [attr('axes', axes), attr('keepdims', 1)], `${path}/Mean`);
  const d = g.node('Sub', [x.name, mean], [], `${path}/Centered`);
  const v = g.node('ReduceMean', [g.node('Mul', [d, d], [], `${path}/Sq`)], [attr('axes', axes), attr('keepdims', 1)], `${path}/Var`);
  const std = g.node('Sqrt', [g.node('Add', [v, scalar(g, m.eps, join(path, 'eps'))], [], `${path}/AddEps`)], [], `${path}/Std`);
  let out = g.node('Div', [d, std], [], `${path}/Normalized`);
  if (w !== null) out = g.node('Mul', [out, w], [], `${path}/Scale`);
  if (b !== null) out = g.node('Add', [out, b], [], `${path}/Shift`);
  return { name: out, t: y };
}

const pads4 = (p: readonly [number, number]): number[] => [p[0], p[1], p[0], p[1]];

/** How a layer class defined above io/ (the int8 layers of compress/quant) writes itself: returns the output's name. */
export type OnnxEmitter = (m: AnyModule, g: OnnxEmitContext, x: string, input: Tensor) => string;

const emitters = new Map<unknown, OnnxEmitter>();

/**
 * Teach exportOnnx a layer class that lives in a higher layer of the code (compress/quant registers
 * its QuantizedLinear, DynamicQuantizedLinear and QuantizedConv2d as QDQ graphs this way).
 * @example registerOnnxEmitter(QuantizedLinear, (m, g, x) => g.node('Gemm', [x, ...]));
 */
export function registerOnnxEmitter(cls: abstract new (...args: never[]) => AnyModule, emit: OnnxEmitter): void { emitters.set(cls, emit); }

/** Emit one module applied to x. */
function emit(g: GraphBuilder, m: AnyModule, path: string, x: Sym): Sym {
  const where = path === '' ? 'the model' : `'${path}'`;
  if (m instanceof Sequential) {
    let cur = x;
    for (const [name, child] of m.namedChildren()) cur = emit(g, child, join(path, name), cur);
    return cur;
  }
  if (m instanceof Linear) return emitLinear(g, m, path, x);
  if (m instanceof Identity || m instanceof Dropout) return { name: x.name, t: x.t };   // eval mode: Dropout is the identity
  if (m instanceof ReLU) return { name: g.node('Relu', [x.name], [], `${path}/Relu`), t: m.call(x.t) };
  if (m instanceof Sigmoid) return { name: g.node('Sigmoid', [x.name], [], `${path}/Sigmoid`), t: m.call(x.t) };
  if (m instanceof Tanh) return { name: g.node('Tanh', [x.name], [], `${path}/Tanh`), t: m.call(x.t) };
  if (m instanceof GELU) return { name: emitGelu(g, x.name, m.approximate, path), t: m.call(x.t) };
  if (m instanceof Softmax) return { name: emitSoftmax(g, 'Softmax', m.dim, x, path), t: m.call(x.t) };
  if (m instanceof LogSoftmax) return { name: emitSoftmax(g, 'LogSoftmax', m.dim, x, path), t: m.call(x.t) };
  if (m instanceof LayerNorm) return emitLayerNorm(g, m, path, x);
  if (m instanceof Flatten) {
    const y = m.call(x.t);
    const rank = x.t.ndim;
    const start = m.startDim < 0 ? m.startDim + rank : m.startDim;
    const end = m.endDim < 0 ? m.endDim + rank : m.endDim;
    if (start === 1 && end === rank - 1) return { name: g.node('Flatten', [x.name], [attr('axis', 1)], `${path}/Flatten`), t: y };
    // other ranges: Reshape to the static output shape, copying the batch dim (0 = "keep this dim")
    const dims = y.shape.map((d, i) => (i === 0 && start > 0 ? 0 : d));
    return { name: g.node('Reshape', [x.name, g.constI64(join(path, 'shape'), dims)], [], `${path}/Reshape`), t: y };
  }
  if (m instanceof ImageView) {
    const y = m.call(x.t);
    if (x.t.ndim === 4) return { name: x.name, t: y };
    return { name: g.node('Reshape', [x.name, g.constI64(join(path, 'shape'), [-1, ...m.shape])], [], `${path}/Reshape`), t: y };
  }
  if (m instanceof Conv2d || m instanceof MaxPool2d) {
    if (x.t.ndim !== 4) throw new TensorslimError(OP, `${where}: ${m.constructor.name} export needs a batched (N, C, H, W) input, got ${fmtShape(x.t.shape)}`);
    const y = m.call(x.t);
    const a = [attr('kernel_shape', m.kernelSize), attr('strides', m.stride), attr('pads', pads4(m.padding)), attr('dilations', m.dilation)];
    if (m instanceof MaxPool2d) return { name: g.node('MaxPool', [x.name], a, `${path}/MaxPool`), t: y };
    const w = g.weight(join(path, 'weight'), m.weight);
    const inputs = m.bias === null ? [x.name, w] : [x.name, w, g.weight(join(path, 'bias'), effective(m, 'bias')!)];
    return { name: g.node('Conv', inputs, [...a, attr('group', m.groups)], `${path}/Conv`), t: y };
  }
  if (m instanceof Embedding) {
    const y = m.call(x.t);
    return { name: g.node('Gather', [g.weight(join(path, 'weight'), m.weight), x.name], [attr('axis', 0)], `${path}/Gather`), t: y };
  }
  if (m instanceof OnnxGraph) return emitGraph(g, m, path, x);
  const ctx = (): OnnxEmitContext => ({
    node: (op, inputs, attrs) => g.node(op, inputs, attrs, `${path}/${op}`), weight: (n, t) => g.weight(join(path, n), t),
    nodeMulti: (op, inputs, k, attrs) => {
      const outs = Array.from({ length: k }, (_, i) => g.fresh(`${path}/${op}_${i}`));
      g.nodes.push({ opType: op, input: [...inputs], output: outs, name: outs[0]!, attribute: [...(attrs ?? [])] });
      return outs;
    },
    constI64: (n, d) => g.constI64(join(path, n), d), constTensor: (n, e, dims, d) => g.constTensor(join(path, n), e, dims, d), opset: g.opset,
    emitModule: (child, name, xn, t) => emit(g, child, join(path, name), { name: xn, t }).name,
  });
  if (m instanceof OnnxLayer) return { name: m.emitOnnx(ctx(), x.name, x.t), t: m.call(x.t) };
  const emitter = emitters.get(m.constructor);
  if (emitter !== undefined) return { name: emitter(m, ctx(), x.name, x.t), t: m.call(x.t) };
  // a layer that can turn itself into a dense Linear (SparseLinear in compress/prune): export that
  const toLinear: unknown = Reflect.get(m, 'toLinear');
  if (typeof toLinear === 'function') {
    const lin = (toLinear as () => unknown).call(m);
    if (lin instanceof Linear) return emitLinear(g, lin, path, x);
  }
  throw new TensorslimError(OP, `${where} is a ${m.constructor.name}, which ONNX export does not know; supported: Sequential, Linear, Conv2d, MaxPool2d, ReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax, Flatten, LayerNorm, Dropout, Identity, Embedding, SparseLinear, the layers importOnnx builds, the int8 layers of compress/quant (QuantizedLinear, DynamicQuantizedLinear, QuantizedConv2d; opset >= 13), and GPT`);
}

/** Ops whose inputs or attributes changed between opsets: an imported graph is written back at its own opset. */
const OPSET_SENSITIVE = new Set(['Squeeze', 'Unsqueeze', 'Split', 'Slice', 'ReduceMean', 'ReduceSum', 'Softmax', 'LogSoftmax', 'Pad', 'Dropout', 'Reshape', 'Clip', 'Gelu', 'LayerNormalization', 'Shape', 'BatchNormalization']);

const LEGACY_BINARY = new Set(['Add', 'Sub', 'Mul', 'Div', 'Pow', 'Equal', 'Less', 'Greater']);

/**
 * The attributes of a node read at opset < 7, as opset 7+ writes them: consumed_inputs and is_test
 * dropped, Concat's default axis (1) made explicit, Cast's type name as its number, Gemm's and the
 * binary ops' broadcast dropped where numpy broadcasting gives the same result (B equal to A, one
 * element, or A's trailing dims); a legacy broadcast along a middle axis is refused.
 */
function modernAttrs(n: NodeProto, ins: readonly (GraphValue | undefined)[], opset: number, path: string): AttributeProto[] {
  const op = n.opType ?? '';
  let out = (n.attribute ?? []).filter((a) => a.name !== 'consumed_inputs' && a.name !== 'is_test');
  if (op === 'Gemm') out = out.filter((a) => a.name !== 'broadcast');
  if (op === 'Concat' && opset < 4 && !out.some((a) => a.name === 'axis')) out.push(attr('axis', 1));
  if (op === 'Cast' && opset < 6) {
    const name = new TextDecoder().decode(out.find((a) => a.name === 'to')?.s ?? new TextEncoder().encode('FLOAT')).toUpperCase();
    out = [...out.filter((a) => a.name !== 'to'), attr('to', (onnx.TensorProto.DataType as unknown as Record<string, number>)[name] ?? ELEM.FLOAT)];
  }
  if (LEGACY_BINARY.has(op)) {
    const sa = ins[0] === undefined ? [] : ins[0] instanceof Tensor ? ins[0].shape : ins[0].dims;
    const sb = ins[1] === undefined ? [] : ins[1] instanceof Tensor ? ins[1].shape : ins[1].dims;
    const axisA = out.find((a) => a.name === 'axis');
    const axis = axisA === undefined ? sa.length - sb.length : Number(axisA.i ?? 0) < 0 ? Number(axisA.i ?? 0) + sa.length : Number(axisA.i ?? 0);
    const one = sb.length <= sa.length && sb.reduce((p, d) => p * d, 1) === 1;
    if (!one && sa.join() !== sb.join() && axis !== sa.length - sb.length) {
      throw new TensorslimError(OP, `${path || 'the model'}: ${nodeLabel(n)} broadcasts B ${sb.join('x')} along axis ${axis} of A ${sa.join('x')} (opset ${opset}); numpy broadcasting (opset >= 7) cannot write that without a Reshape, which export does not add yet`);
    }
    out = out.filter((a) => a.name !== 'broadcast' && a.name !== 'axis');
  }
  return out;
}

/** A graph constant as an initializer of its declared element type. */
function constInit(g: GraphBuilder, base: string, c: Const): string {
  if (c.elem === undefined || c.elem === ELEM.FLOAT || c.elem === ELEM.DOUBLE) return g.constF(base, c.dims, Array.from(c.data));
  const name = g.fresh(base);
  if (c.elem === ELEM.INT64) { g.inits.push({ ...int64Tensor(name, c.dims, Array.from(c.data)) }); return name; }
  g.inits.push({ name, dims: [...c.dims], dataType: c.elem, int32Data: Array.from(c.data) });
  return name;
}

/**
 * An imported ONNX graph: each step written back as it was read (same op, attributes and opset
 * semantics), layers through their own emitters (effective, pruned weights), graph parameters as
 * initializers named after the module path. The sample input runs alongside to give each layer its shapes.
 */
function emitGraph(g: GraphBuilder, m: OnnxGraph, path: string, x: Sym): Sym {
  if (m.inputs.length !== 1 || m.outputs.length !== 1) throw new TensorslimError(OP, `${path || 'the model'}: an OnnxGraph with ${m.inputs.length} inputs and ${m.outputs.length} outputs cannot be exported through exportOnnx (one input, one output)`);
  if (g.opset !== m.opset) {
    const bad = m.steps.filter((st) => OPSET_SENSITIVE.has(st.node.opType ?? '')).map((st) => st.node.opType);
    if (bad.length > 0) {
      const fix = m.opset >= MIN_OPSET ? `export it with { opset: ${m.opset} }` : `export writes opsets ${MIN_OPSET}..${MAX_OPSET}, and converting them from opset ${m.opset} is not supported yet`;
      throw new TensorslimError(OP, `${path || 'the model'} was imported at opset ${m.opset} and holds ${[...new Set(bad)].join(', ')}, whose form depends on the opset; ${fix}`);
    }
  }
  const names = new Map<string, string>([[m.inputs[0]!.name, x.name]]);
  const written = new Map<string, string>();
  const nameOf = (onnxName: string, v: GraphValue | undefined): string => {
    if (onnxName === '') return '';
    const hit = names.get(onnxName) ?? written.get(onnxName);
    if (hit !== undefined) return hit;
    const held = m.heldAs(onnxName);
    let n: string;
    if (held !== undefined && v instanceof Tensor) n = g.weight(join(path, held), v);
    else if (v !== undefined && isConst(v)) n = constInit(g, join(path, onnxName.replace(/[^A-Za-z0-9_.]/g, '_') || 'const'), v);
    else throw new TensorslimError(OP, `internal error: graph value '${onnxName}' has no name`);
    written.set(onnxName, n);
    return n;
  };
  let result: Tensor | null = null;
  const outs = m.runWith({ [m.inputs[0]!.name]: x.t }, (step: GraphStep, ins: (GraphValue | undefined)[]) => {
    if (step.module !== null) {
      const child = m.getSubmodule(step.module);
      const src = ins[0]!;
      const sym: Sym = { name: nameOf(step.inputs[0]!, src), t: src instanceof Tensor ? src : ops.tensor(Int32Array.from(src.data), { shape: [...src.dims], dtype: 'int32' }) };
      const y = emit(g, child, join(path, step.module), sym);
      names.set(step.outputs[0]!, y.name);
      return [y.t];
    }
    const vals = exec(step.node, ins, m.opset, false);
    const inNames = step.inputs.map((nm, i) => nameOf(nm, ins[i]));
    const outNames = step.outputs.map((o) => (o === '' ? '' : g.fresh(join(path, o.replace(/[^A-Za-z0-9_./]/g, '_')))));
    const attribute = m.opset < 7 ? modernAttrs(step.node, ins, m.opset, path) : [...(step.node.attribute ?? [])];
    g.nodes.push({ opType: step.node.opType, input: inNames, output: outNames, name: outNames.find((o) => o !== '') ?? step.node.opType, attribute });
    step.outputs.forEach((o, i) => { if (o !== '') names.set(o, outNames[i]!); });
    return vals;
  });
  result = outs[m.outputs[0]!.name]!;
  return { name: nameOf(m.outputs[0]!.name, undefined), t: result };
}

/** One GPT block: x + attn(ln_1(x)); h + mlp(ln_2(h)), attention written with MatMul/Softmax and an additive causal mask. */
function emitBlock(g: GraphBuilder, blk: Block, path: string, x: Sym, tLen: string, blockSize: number): Sym {
  const a = blk.attn;
  const c = a.nEmbd, h = a.nHead, d = c / h;
  const ln1 = emitLayerNorm(g, blk.ln_1, join(path, 'ln_1'), x);
  const ap = join(path, 'attn');
  const qkv = emitLinear(g, a.c_attn, join(ap, 'c_attn'), ln1);               // (B, T, 3C)
  const axes2 = g.constI64('axis2', [2]);
  const heads = g.constI64('heads_shape', [0, 0, h, d]);
  const part = (i: number, perm: number[], nm: string): string => {
    const s = g.node('Slice', [qkv.name, g.constI64(`${ap}.${nm}_start`, [i * c]), g.constI64(`${ap}.${nm}_end`, [(i + 1) * c]), axes2], [], `${ap}/${nm}`);
    return g.node('Transpose', [g.node('Reshape', [s, heads], [], `${ap}/${nm}_heads`)], [attr('perm', perm)], `${ap}/${nm}_T`);
  };
  const q = part(0, [0, 2, 1, 3], 'q');                                         // (B, H, T, D)
  const kT = part(1, [0, 2, 3, 1], 'k');                                        // (B, H, D, T)
  const v = part(2, [0, 2, 1, 3], 'v');                                         // (B, H, T, D)
  const scores = g.node('Mul', [g.node('MatMul', [q, kT], [], `${ap}/QK`), scalar(g, 1 / Math.sqrt(d), `${ap}.scale`)], [], `${ap}/Scale`);
  const masked = g.node('Add', [scores, g.causalMask(blockSize, tLen)], [], `${ap}/Mask`);
  const probs = g.node('Softmax', [masked], [attr('axis', 3)], `${ap}/Softmax`);
  const o = g.node('MatMul', [probs, v], [], `${ap}/AV`);                      // (B, H, T, D)
  const merged = g.node('Reshape', [g.node('Transpose', [o], [attr('perm', [0, 2, 1, 3])], `${ap}/merge_T`), g.constI64('merge_shape', [0, 0, c])], [], `${ap}/merge`);
  const attnOut = emitLinear(g, a.c_proj, join(ap, 'c_proj'), { name: merged, t: ln1.t });
  const hSym: Sym = { name: g.node('Add', [x.name, attnOut.name], [], `${path}/residual1`), t: ops.add(x.t, a.call(ln1.t)) };
  const ln2 = emitLayerNorm(g, blk.ln_2, join(path, 'ln_2'), hSym);
  const mp = join(path, 'mlp');
  const fc = emitLinear(g, blk.mlp.c_fc, join(mp, 'c_fc'), ln2);
  const act = emitGelu(g, fc.name, blk.mlp.approximate, join(mp, 'gelu'));
  const proj = emitLinear(g, blk.mlp.c_proj, join(mp, 'c_proj'), { name: act, t: ops.gelu(fc.t, { approximate: blk.mlp.approximate }) });
  return { name: g.node('Add', [hSym.name, proj.name], [], `${path}/residual2`), t: ops.add(hSym.t, blk.mlp.call(ln2.t)) };
}

function emitGpt(g: GraphBuilder, m: GPT, x: Sym): Sym {
  const tr = m.transformer;
  const tok = emit(g, tr.wte, 'transformer.wte', x);
  // positions 0..T-1 of the position table, T read from the input's shape (works for any T <= blockSize)
  const tLen = g.node('Gather', [g.node('Shape', [x.name], [], 'input_shape'), g.constI64('index1', [1])], [attr('axis', 0)], 'seq_len');
  const wpe = g.weight('transformer.wpe.weight', tr.wpe.weight);
  const pos = g.node('Slice', [wpe, g.constI64('zero', [0]), tLen, g.constI64('axis0', [0])], [], 'transformer.wpe/Slice');
  const t = x.t.shape[1]!;
  let cur: Sym = { name: g.node('Add', [tok.name, pos], [], 'transformer/embed'), t: ops.add(tok.t, tr.wpe.call(ops.arange(0, t, 1, { dtype: 'int32' }))) };
  let i = 0;
  for (const blk of tr.h) cur = emitBlock(g, blk, `transformer.h.${i++}`, cur, tLen, m.config.blockSize);
  cur = emitLayerNorm(g, tr.ln_f, 'transformer.ln_f', cur);
  return emitLinear(g, m.lm_head, 'lm_head', cur);
}

/**
 * The ONNX bytes of `model` in eval mode (see exportOnnx), without writing a file.
 *
 * @example
 * const bytes = serializeOnnx(createModel('mlp'), ops.zeros([1, 784])).bytes;
 */
export function serializeOnnx(model: AnyModule, sampleInput: Tensor, opts: ExportOnnxOptions = {}): { bytes: Uint8Array; result: Omit<ExportOnnxResult, 'path' | 'bytes'> } {
  const opset = opts.opset ?? (model instanceof OnnxGraph && model.opset >= MIN_OPSET ? model.opset : 17);
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new TensorslimError(OP, `opset must be an integer in [${MIN_OPSET}, ${MAX_OPSET}], got ${opset}`);
  }
  if (!(sampleInput instanceof Tensor)) throw new TensorslimError(OP, 'sampleInput must be a Tensor (a batch like the ones the model reads)');
  if (sampleInput.ndim === 0) throw new TensorslimError(OP, 'sampleInput must have a batch dimension, got a scalar');
  const isGpt = model instanceof GPT;
  if (isGpt ? sampleInput.dtype !== 'int32' : sampleInput.dtype !== 'float32' && sampleInput.dtype !== 'int32') {
    throw new TensorslimError(OP, `sampleInput must be ${isGpt ? 'int32 token ids (batch, time)' : 'float32 (or int32 ids for a model that starts with an Embedding)'}, got ${sampleInput.dtype} ${fmtShape(sampleInput.shape)}`);
  }
  const dynamic = opts.dynamicBatch ?? true;
  const imported = model instanceof OnnxGraph ? model : null;   // keeps the names its file had
  const inName = opts.inputNames?.[0] ?? imported?.inputs[0]?.name ?? (isGpt ? 'input_ids' : 'input');
  const outName = opts.outputNames?.[0] ?? imported?.outputs[0]?.name ?? (isGpt ? 'logits' : 'output');
  for (const [what, names] of [['inputNames', opts.inputNames], ['outputNames', opts.outputNames]] as const) {
    if (names !== undefined && (names.length !== 1 || typeof names[0] !== 'string' || names[0] === '')) {
      throw new TensorslimError(OP, `${what} must hold exactly one non-empty name (these models have one input and one output), got ${JSON.stringify(names)}`);
    }
  }
  if (inName === outName) throw new TensorslimError(OP, `input and output names must differ, both are '${inName}'`);

  const g = new GraphBuilder(opset);
  g.fresh(inName);
  // eval mode for the walk; each module's own mode comes back afterwards (mixed modes included)
  const modes = model.namedModules('', false).map(([, m]) => [m, m.training] as const);
  model.eval();
  let out: Sym;
  try {
    out = noGrad(() => (isGpt ? emitGpt(g, model, { name: inName, t: sampleInput }) : emit(g, model, '', { name: inName, t: sampleInput })));
  } finally {
    for (const [m, t] of modes) m.training = t;
  }
  // name the result: rename the last node's output, or add an Identity when the graph is empty or the output is an input
  const last = g.nodes[g.nodes.length - 1];
  if (last !== undefined && last.output![0] === out.name) last.output = [outName];
  else g.nodes.push({ opType: 'Identity', input: [out.name], output: [outName], name: `${outName}/Identity` });

  const symbolic = (shape: readonly number[]): (number | string)[] =>
    shape.map((d, i) => (dynamic && i === 0 ? 'batch' : dynamic && isGpt && i === 1 ? 'sequence' : d));
  // an imported graph keeps the dims its file declared (symbolic ones by name) where the ranks agree
  const declared = (io: { readonly shape: readonly (number | string)[] } | undefined, actual: readonly number[]): (number | string)[] =>
    io !== undefined && io.shape.length === actual.length && dynamic ? io.shape.map((d, i) => (d === '?' ? `dim${i}` : d)) : symbolic(actual);
  const graphModel = model instanceof OnnxGraph ? model : null;
  const inputs: OnnxValueSummary[] = [{ name: inName, dtype: sampleInput.dtype === 'int32' ? 'int32' : 'float32', shape: graphModel ? declared(graphModel.inputs[0], sampleInput.shape) : symbolic(sampleInput.shape) }];
  const outputs: OnnxValueSummary[] = [{ name: outName, dtype: 'float32', shape: graphModel ? declared(graphModel.outputs[0], out.t.shape) : symbolic(out.t.shape) }];
  const modelProto = {
    irVersion: irVersionFor(opset),
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'tensorslim',
    producerVersion: tensorslimVersion(),
    graph: {
      name: 'tensorslim',
      node: g.nodes,
      initializer: g.inits,
      input: inputs.map((v) => valueInfo(v.name, v.dtype === 'int32' ? ELEM.INT32 : ELEM.FLOAT, v.shape)),
      output: outputs.map((v) => valueInfo(v.name, ELEM.FLOAT, v.shape)),
    },
  };
  const counts: Record<string, number> = {};
  for (const n of g.nodes) counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
  return { bytes: encodeModel(modelProto), result: { opset, inputs, outputs, ops: counts, initializers: g.inits.length } };
}

/**
 * Write `model` as an ONNX file that ONNX Runtime runs, computing what the model computes in eval
 * mode (Dropout dropped). `sampleInput` is one batch of the kind the model reads (float32 images or
 * features; int32 token ids (B, T) for a GPT): the export runs it once to learn the shapes. Pruned
 * layers are written with their effective (masked) dense weights. The file is written atomically.
 *
 * @example
 * const model = createModel('lenet5');
 * exportOnnx(model, ops.zeros([1, 1, 28, 28]), 'lenet5.onnx', { opset: 17 });
 * // python: onnxruntime.InferenceSession('lenet5.onnx').run(None, { 'input': x })
 */
export function exportOnnx(model: AnyModule, sampleInput: Tensor, path: string, opts: ExportOnnxOptions = {}): ExportOnnxResult {
  const { bytes, result } = serializeOnnx(model, sampleInput, opts);
  writeFileAtomic(path, bytes, OP);
  return { path, bytes: bytes.length, ...result };
}
