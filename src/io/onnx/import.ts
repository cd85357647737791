// ONNX import: reads an .onnx file whose graph is a chain (each node feeds the next, as in MLPs and
// CNNs) into a Sequential of our layers with trainable parameters. Supported ops, with each op's
// semantics for the file's opset: Gemm, MatMul (+ Add of a bias), Relu, Sigmoid, Tanh, Softmax,
// LogSoftmax, Conv, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape (constant shape),
// Transpose, Dropout, Identity, Constant, BatchNormalization (folded into the Conv/Gemm before it,
// or a FrozenBatchNorm), Gelu and its Erf decomposition, LayerNormalization, and a zero Pad folded
// into the Conv/AveragePool after it. Anything else is
// refused with the op's and the node's names. Sizes are checked against the file before any
// allocation; external data is read only from files inside the model's folder.

import { dirname, resolve } from 'node:path';
import type { Tensor } from '../../core/tensor.js';
import { noGrad } from '../../core/engine.js';
import { TensorslimError } from '../../core/errors.js';
import * as ops from '../../ops/index.js';
import {
  Conv2d, Dropout, Flatten, GELU, Identity, LayerNorm, Linear, LogSoftmax, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Tanh,
  type TensorModule,
} from '../../nn/index.js';
import { readFileBytes } from '../files.js';
import { ELEM, onnx, type NodeProto } from './proto.js';
import {
  OP, IMPORT_MAX_OPSET, IMPORT_MIN_OPSET, attrFloat, attrInt, attrInts, attrString, constantNodeValue, getAttr, nodeLabel, numberOf, readTensor, type Const,
} from './read.js';

export { IMPORT_MAX_OPSET, IMPORT_MIN_OPSET } from './read.js';
import { AvgPool2d, FrozenBatchNorm, GlobalAvgPool2d, Reshape, Transpose } from './layers.js';
import { OnnxGraph, buildGraph, decodeModel } from './graph.js';
import { OP_SINCE } from './exec.js';


/** The ops importOnnx understands. */
export const IMPORT_OPS = [
  'Gemm', 'MatMul', 'Add', 'Relu', 'Sigmoid', 'Tanh', 'Softmax', 'LogSoftmax', 'Conv', 'MaxPool', 'AveragePool', 'GlobalAveragePool',
  'Flatten', 'Reshape', 'Transpose', 'Dropout', 'Identity', 'Constant', 'BatchNormalization', 'Gelu', 'Erf', 'LayerNormalization',
  'Pad',
] as const;

/** What importOnnx read. */
export interface ImportedOnnx {
  /** A Sequential for chain graphs (MLPs, CNNs), an OnnxGraph for any other DAG. */
  readonly model: Sequential | OnnxGraph;
  readonly opset: number;
  readonly inputName: string;
  readonly outputName: string;
  /** Input dims; symbolic ones by name. */
  readonly inputShape: readonly (number | string)[];
  /** Which ONNX initializer each parameter came from (parameter name -> initializer names). */
  readonly sources: ReadonlyMap<string, readonly string[]>;
}

function tensorOf(c: Const, shape: readonly number[] = c.dims): Tensor {
  return ops.tensor(Float32Array.from(c.data), { shape: [...shape] });
}

/** Chain builder state. */
class Chain {
  readonly layers: TensorModule[] = [];
  readonly sources: string[][] = [];
  constructor(public rank: number) {}
  push(m: TensorModule, from: string[], rank = this.rank): void { this.layers.push(m); this.sources.push(from); this.rank = rank; }
  last(): TensorModule | undefined { return this.layers[this.layers.length - 1]; }
}

function load(m: Linear | Conv2d, w: Tensor, b: Tensor | null): void {
  noGrad(() => {
    ops.assign(m.weight, w);
    if (m.bias !== null && b !== null) ops.assign(m.bias, b);
  });
}

/** Parse an ONNX model from bytes; `folder` (the model's directory) is where external data may be read. */
function parseChain(bytes: Uint8Array, folder: string | null): ImportedOnnx {
  let model: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new TensorslimError(OP, `not an ONNX model: the protobuf does not decode (${(e as Error).message}); is the file truncated?`);
  }
  const g = model.graph;
  if (!g) throw new TensorslimError(OP, 'the model has no graph');
  const def = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (def === undefined) throw new TensorslimError(OP, 'the model imports no default-domain opset');
  const opset = numberOf(def.version);
  if (!(opset >= IMPORT_MIN_OPSET && opset <= IMPORT_MAX_OPSET)) {
    throw new TensorslimError(OP, `opset ${opset} is not supported; supported: ${IMPORT_MIN_OPSET}..${IMPORT_MAX_OPSET}`);
  }
  const consts = new Map<string, Const>();
  for (const t of g.initializer ?? []) consts.set(t.name ?? '', readTensor(`initializer '${t.name}'`, t, folder));
  const inputs = (g.input ?? []).filter((v) => !consts.has(v.name ?? ''));
  if (inputs.length !== 1) throw new TensorslimError(OP, `the graph has ${inputs.length} inputs (${inputs.map((v) => v.name).join(', ')}); importOnnx reads one-input models`);
  if ((g.output ?? []).length !== 1) throw new TensorslimError(OP, `the graph has ${(g.output ?? []).length} outputs; importOnnx reads one-output models`);
  const input = inputs[0]!;
  const tt = input.type?.tensorType;
  if (!tt || (tt.elemType !== ELEM.FLOAT)) throw new TensorslimError(OP, `input '${input.name}' must be a float32 tensor, got element type ${tt?.elemType ?? 'none'}`);
  const inputShape = (tt.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? numberOf(d.dimValue) : '?'));
  const outputName = g.output![0]!.name ?? '';

  const chain = new Chain(inputShape.length);
  let cur = input.name ?? '';
  const nodes = g.node ?? [];
  const constIn = (n: NodeProto, i: number, required = true): Const | null => {
    const name = n.input?.[i];
    if (name === undefined || name === '') {
      if (required) throw new TensorslimError(OP, `${nodeLabel(n)}: input ${i} is missing`);
      return null;
    }
    const c = consts.get(name);
    if (c === undefined) throw new TensorslimError(OP, `${nodeLabel(n)}: input ${i} ('${name}') must be a constant (an initializer or Constant); computed weights are not supported`);
    return c;
  };
  const scalarIn = (n: NodeProto, i: number): number | null => {
    const name = n.input?.[i];
    if (name === undefined) return null;
    const c = consts.get(name);
    return c !== undefined && c.data.length === 1 ? c.data[0]! : null;
  };
  const refuse = (n: NodeProto, why: string): never => { throw new TensorslimError(OP, `${nodeLabel(n)}: ${why}`); };

  // Constant nodes first: they have no inputs, and a pattern (GELU's erf form) may read one written after its first node
  for (const n of nodes) {
    if (n.opType !== 'Constant') continue;
    if (n.domain && n.domain !== 'ai.onnx') continue;
      consts.set(n.output?.[0] ?? '', constantNodeValue(n, folder));
  }

  let pending: { node: NodeProto; pad: [number, number] } | null = null;   // a Pad waiting for its Conv/AveragePool
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    const op = n.opType ?? '';
    if (n.domain && n.domain !== 'ai.onnx') refuse(n, `domain '${n.domain}' is not supported; only the default ONNX domain`);
    if (op === 'Constant') continue;
    if ((OP_SINCE[op] ?? 1) > opset) refuse(n, `${op} is defined from opset ${OP_SINCE[op]}; this model is opset ${opset}`);
    // every other node must read the chain's current value as its first input (and constants otherwise)
    if (n.input?.[0] !== cur) {
      refuse(n, `importOnnx reads chain graphs (each node consumes the previous one's output); this node reads '${n.input?.[0]}' instead of '${cur}' (residual or branching graphs are not supported yet)`);
    }
    for (let k = 1; k < (n.input?.length ?? 0); k++) {
      const nm = n.input![k]!;
      if (nm !== '' && !consts.has(nm)) refuse(n, `input ${k} ('${nm}') is computed, not constant; branching graphs are not supported yet`);
    }
    const out = n.output?.[0] ?? '';
    const from = (n.input ?? []).slice(1).filter((s) => s !== '');
    if (pending !== null && op !== 'Conv' && op !== 'AveragePool') {
      refuse(pending.node, `zero padding is supported only right before a Conv or an AveragePool, here before ${op}`);
    }
    switch (op) {
      case 'Pad': {
        // opset < 11: pads and value are attributes; from 11: inputs (pads, constant_value), from 18 also axes
        if (attrString(n, 'mode', 'constant') !== 'constant') refuse(n, `mode '${attrString(n, 'mode', 'constant')}' is not supported (only constant zeros)`);
        const pads = opset < 11 ? attrInts(n, 'pads') ?? [] : Array.from(constIn(n, 1)!.data);
        const value = opset < 11 ? attrFloat(n, 'value', 0) : scalarIn(n, 2) ?? 0;
        if (n.input?.[3]) refuse(n, 'the axes input is not supported');
        if (value !== 0) refuse(n, `padding value ${value} is not supported (only 0)`);
        if (pads.length !== 8 || pads[0] !== 0 || pads[1] !== 0 || pads[4] !== 0 || pads[5] !== 0 || pads[2] !== pads[6] || pads[3] !== pads[7] || pads.some((v) => v < 0)) {
          refuse(n, `pads (${pads.join(', ')}) must pad H and W of (N, C, H, W) by the same amount on both sides`);
        }
        if (pads[2]! > 0 || pads[3]! > 0) pending = { node: n, pad: [pads[2]!, pads[3]!] };
        break;
      }
      case 'Identity': break;
      case 'Relu': chain.push(new ReLU(), []); break;
      case 'Sigmoid': chain.push(new Sigmoid(), []); break;
      case 'Tanh': chain.push(new Tanh(), []); break;
      case 'Softmax': case 'LogSoftmax': {
        const axis = attrInt(n, 'axis', opset >= 13 ? -1 : 1);
        const a = axis < 0 ? axis + chain.rank : axis;
        // before opset 13 the input was flattened to 2-D at `axis`: the same as ours only for the last axis
        if (opset < 13 && a !== chain.rank - 1) refuse(n, `opset ${opset} ${op} over axis ${axis} of a rank-${chain.rank} input flattens the trailing dims; only the last axis is supported`);
        chain.push(op === 'Softmax' ? new Softmax(a) : new LogSoftmax(a), []);
        break;
      }
      case 'Gelu': chain.push(new GELU({ approximate: attrString(n, 'approximate', 'none') === 'tanh' ? 'tanh' : 'none' }), []); break;
      case 'Div': case 'Mul': {
        // GELU's erf form: Div(x, sqrt 2) | Mul(x, 1/sqrt 2) -> Erf -> Add 1 -> Mul x -> Mul 0.5 (the last two in either order)
        const c = scalarIn(n, 1);
        // GELU's erf form needs Erf (opset 9); before opset 7 a scalar B would also need broadcast = 1
        const end = opset >= 9 && c !== null && Math.abs((op === 'Div' ? c : 1 / c) - Math.SQRT2) < 1e-4 ? matchErfGelu(nodes, i, cur, out, consts) : -1;
        if (end < 0) refuse(n, `only as part of GELU's erf form (x / sqrt 2 -> Erf -> + 1 -> * x -> * 0.5); supported ops: ${IMPORT_OPS.join(', ')}`);
        chain.push(new GELU(), []);
        cur = nodes[end]!.output![0]!;
        i = end;
        continue;
      }
      case 'Dropout': {
        // opset < 12: ratio is an attribute; from 12: an optional constant input (training_mode too)
        const p = opset < 12 ? attrFloat(n, 'ratio', 0.5) : (n.input?.[1] ? scalarIn(n, 1) ?? refuse(n, 'ratio must be a constant scalar') : 0.5);
        if ((n.output?.length ?? 1) > 1 && n.output![1] !== '' && nodes.some((m) => m.input?.includes(n.output![1]!))) refuse(n, 'its mask output is used; only the data output is supported');
        chain.push(new Dropout(p), []);
        break;
      }
      case 'Flatten': {
        const axis = attrInt(n, 'axis', 1);
        if (axis === 1) chain.push(new Flatten(), [], 2);
        else if (axis === 0) chain.push(new Reshape([1, -1]), [], 2);
        else refuse(n, `axis ${axis} is not supported (only 0 and 1)`);
        break;
      }
      case 'Reshape': {
        const shape = opset < 5 ? attrInts(n, 'shape') : Array.from(constIn(n, 1)!.data);
        if (shape === null) refuse(n, 'no shape');
        if (attrInt(n, 'allowzero', 0) === 1 && shape!.includes(0)) refuse(n, 'allowzero = 1 with a 0 in the shape is not supported');
        chain.push(new Reshape(shape!), [], shape!.length);
        break;
      }
      case 'Transpose': {
        const perm = attrInts(n, 'perm') ?? Array.from({ length: chain.rank }, (_, k) => chain.rank - 1 - k);
        chain.push(new Transpose(perm), []);
        break;
      }
      case 'Gemm': {
        const alpha = attrFloat(n, 'alpha', 1), beta = attrFloat(n, 'beta', 1);
        if (attrInt(n, 'transA', 0) !== 0) refuse(n, 'transA = 1 is not supported');
        const b = constIn(n, 1)!;
        if (b.dims.length !== 2) refuse(n, `B must be 2-D, got ${b.dims.join('x')}`);
        const transB = attrInt(n, 'transB', 0) === 1;
        const [outF, inF] = transB ? [b.dims[0]!, b.dims[1]!] : [b.dims[1]!, b.dims[0]!];
        let w = tensorOf(b);
        if (!transB) w = ops.contiguous(ops.transpose(w, 0, 1));
        if (alpha !== 1) w = ops.mul(w, alpha);
        const c = constIn(n, 2, false);
        if (c !== null && c.data.length !== outF && c.data.length !== 1) refuse(n, `C must have ${outF} values (or 1), got ${c.dims.join('x')}`);
        // before opset 7 C broadcasts only with broadcast = 1 (the graph importer checks the other form per op)
        if (c !== null && opset < 7 && attrInt(n, 'broadcast', 0) !== 1) refuse(n, `at opset ${opset} C must be (M, N) unless broadcast = 1`);
        const bias = c === null ? null : ops.mul(c.data.length === 1 ? ops.full([outF], c.data[0]!) : tensorOf(c, [outF]), beta);
        const lin = new Linear(inF, outF, { bias: c !== null });
        load(lin, w, bias);
        chain.push(lin, from, 2);
        break;
      }
      case 'MatMul': {
        const b = constIn(n, 1)!;
        if (b.dims.length !== 2) refuse(n, `the constant operand must be 2-D (in, out), got ${b.dims.join('x')}`);
        const lin = new Linear(b.dims[0]!, b.dims[1]!, { bias: false });
        load(lin, ops.contiguous(ops.transpose(tensorOf(b), 0, 1)), null);
        chain.push(lin, from);
        break;
      }
      case 'Add': {
        const last = chain.last();
        const c = constIn(n, 1)!;
        // before opset 7: a bias broadcasts only with broadcast = 1 and no axis (B then matches A's trailing dims)
        if (opset < 7 && (attrInt(n, 'broadcast', 0) !== 1 || getAttr(n, 'axis') !== undefined || n.input?.[0] !== cur)) refuse(n, `at opset ${opset} Add needs broadcast = 1 (and no axis) to add a bias`);
        if (!(last instanceof Linear) || last.bias !== null || c.data.length !== last.outFeatures || (opset < 7 && c.dims.length !== 1)) {
          refuse(n, 'Add is supported as the bias of the MatMul right before it (a constant of its output width)');
        }
        const lin = last as Linear;
        const withBias = new Linear(lin.inFeatures, lin.outFeatures);
        load(withBias, lin.weight, tensorOf(c, [lin.outFeatures]));
        chain.layers[chain.layers.length - 1] = withBias;
        chain.sources[chain.sources.length - 1]!.push(...from);
        break;
      }
      case 'Conv': {
        const w = constIn(n, 1)!;
        if (w.dims.length !== 4) refuse(n, `only 2-D convolutions (4-D weights) are supported, got weight ${w.dims.join('x')}`);
        const group = attrInt(n, 'group', 1);
        const [o, cg, kh, kw] = w.dims as [number, number, number, number];
        if (group < 1 || o % group !== 0) refuse(n, `group ${group} must be >= 1 and divide the weight's ${o} output channels`);
        const c = cg * group;
        const geo = windowAttrs(n, refuse);
        if (pending !== null) { geo.pad = [geo.pad[0] + pending.pad[0], geo.pad[1] + pending.pad[1]]; pending = null; }
        const b = constIn(n, 2, false);
        const conv = new Conv2d(c, o, [kh, kw], { stride: geo.stride, padding: geo.pad, dilation: geo.dilation, groups: group, bias: b !== null });
        load(conv, tensorOf(w), b === null ? null : tensorOf(b, [o]));
        chain.push(conv, from, 4);
        break;
      }
      case 'MaxPool': case 'AveragePool': {
        const k = attrInts(n, 'kernel_shape');
        if (k === null || k.length !== 2) refuse(n, 'only 2-D pooling (kernel_shape of 2) is supported');
        if (attrInt(n, 'ceil_mode', 0) !== 0) refuse(n, 'ceil_mode = 1 is not supported');
        if ((n.output?.length ?? 1) > 1 && n.output![1] !== '') refuse(n, 'the indices output is not supported');
        const geo = windowAttrs(n, refuse);
        if (op === 'MaxPool') chain.push(new MaxPool2d([k![0]!, k![1]!], { stride: geo.stride, padding: geo.pad, dilation: geo.dilation }), [], 4);
        else {
          if ((geo.pad[0] > 0 || geo.pad[1] > 0) && attrInt(n, 'count_include_pad', 0) === 0) refuse(n, 'padding with count_include_pad = 0 is not supported');
          // a Pad before: its zeros are part of every window (what count_include_pad = 1 computes)
          if (pending !== null) { geo.pad = [geo.pad[0] + pending.pad[0], geo.pad[1] + pending.pad[1]]; pending = null; }
          chain.push(new AvgPool2d([k![0]!, k![1]!], geo.stride, geo.pad), [], 4);
        }
        break;
      }
      case 'GlobalAveragePool': chain.push(new GlobalAvgPool2d(), []); break;
      case 'BatchNormalization': {
        if ((n.output ?? []).filter((s) => s !== '').length > 1) refuse(n, 'training-mode outputs (running statistics) are not supported');
        if (opset < 9 && attrInt(n, 'spatial', 1) !== 1) refuse(n, 'spatial = 0 is not supported');
        const [s, bb, mean, vr] = [1, 2, 3, 4].map((k) => constIn(n, k)!);
        const eps = attrFloat(n, 'epsilon', 1e-5);
        const ch = s!.data.length;
        const scale = Array.from(s!.data, (v, k) => v / Math.sqrt(vr!.data[k]! + eps));
        const shift = Array.from(bb!.data, (v, k) => v - mean!.data[k]! * scale[k]!);
        const last = chain.last();
        if ((last instanceof Conv2d && last.outChannels === ch) || (last instanceof Linear && last.outFeatures === ch)) {
          // fold: W' = W * scale (per output channel), b' = b * scale + shift
          const cur0 = last;
          const wt = cur0.weight.dataSync();
          const per = wt.length / ch;
          const w2 = new Float32Array(wt.length);
          for (let k = 0; k < wt.length; k++) w2[k] = wt[k]! * scale[Math.floor(k / per)]!;
          const b0 = cur0.bias === null ? new Float32Array(ch) : cur0.bias.dataSync();
          const b2 = Float32Array.from(shift, (v, k) => v + b0[k]! * scale[k]!);
          const folded = cur0 instanceof Conv2d
            ? new Conv2d(cur0.inChannels, cur0.outChannels, cur0.kernelSize, { stride: cur0.stride, padding: cur0.padding, dilation: cur0.dilation, groups: cur0.groups })
            : new Linear(cur0.inFeatures, cur0.outFeatures);
          load(folded, ops.tensor(w2, { shape: [...cur0.weight.shape] }), ops.tensor(b2));
          chain.layers[chain.layers.length - 1] = folded;
          chain.sources[chain.sources.length - 1]!.push(...from);
        } else {
          chain.push(new FrozenBatchNorm(tensorOf(s!, [ch]), tensorOf(bb!, [ch]), tensorOf(mean!, [ch]), tensorOf(vr!, [ch]), eps), from);
        }
        break;
      }
      case 'LayerNormalization': {
        const s = constIn(n, 1)!;
        const axis = attrInt(n, 'axis', -1);
        const k = axis < 0 ? -axis : chain.rank - axis;
        if (s.dims.length !== k) refuse(n, `scale ${s.dims.join('x')} must cover the normalized dims (axis ${axis})`);
        const b = constIn(n, 2, false);
        const ln = new LayerNorm(s.dims, { eps: attrFloat(n, 'epsilon', 1e-5), bias: b !== null });
        noGrad(() => { ops.assign(ln.weight!, tensorOf(s)); if (b !== null) ops.assign(ln.bias!, tensorOf(b, s.dims)); });
        chain.push(ln, from);
        break;
      }
      default:
        refuse(n, `op '${op}' is not supported; supported: ${IMPORT_OPS.join(', ')}`);
    }
    cur = out;
  }
  if (pending !== null) refuse(pending.node, 'zero padding is supported only right before a Conv or an AveragePool');
  if (cur !== outputName) throw new TensorslimError(OP, `the chain ends at '${cur}' but the graph output is '${outputName}'`);
  const seq = new Sequential(...(chain.layers.length > 0 ? chain.layers : [new Identity()]));
  const sources = new Map<string, string[]>();
  chain.layers.forEach((m, k) => {
    const names = m.namedParameters().map(([p]) => `${k}.${p}`);
    for (const p of names) sources.set(p, chain.sources[k]!);
  });
  return { model: seq, opset, inputName: input.name ?? '', outputName, inputShape, sources };
}

/** strides/pads/dilations of a window op, symmetric pads only. */
function windowAttrs(n: NodeProto, refuse: (n: NodeProto, why: string) => never): { stride: [number, number]; pad: [number, number]; dilation: [number, number] } {
  const autoPad = attrString(n, 'auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') refuse(n, `auto_pad ${autoPad} is not supported (use explicit pads)`);
  const s = attrInts(n, 'strides') ?? [1, 1];
  const d = attrInts(n, 'dilations') ?? [1, 1];
  const p = attrInts(n, 'pads') ?? [0, 0, 0, 0];
  if (s.length !== 2 || d.length !== 2 || p.length !== 4) refuse(n, 'strides, dilations and pads must describe 2-D windows');
  if (p[0] !== p[2] || p[1] !== p[3]) refuse(n, `asymmetric pads (${p.join(', ')}) are not supported`);
  return { stride: [s[0]!, s[1]!], pad: [p[0]!, p[1]!], dilation: [d[0]!, d[1]!] };
}

/**
 * Whether the four non-Constant nodes after nodes[i] finish GELU's erf decomposition of `x`:
 * returns the index of the last one, or -1.
 */
function matchErfGelu(nodes: readonly NodeProto[], i: number, x: string, divOut: string, consts: ReadonlyMap<string, Const>): number {
  const idx: number[] = [];
  for (let j = i + 1; j < nodes.length && idx.length < 4; j++) if (nodes[j]!.opType !== 'Constant') idx.push(j);
  if (idx.length < 4) return -1;
  const [erf, add, m1, m2] = idx.map((j) => nodes[j]!) as [NodeProto, NodeProto, NodeProto, NodeProto];
  const isConst = (name: string | undefined, v: number): boolean => {
    const c = name === undefined ? undefined : consts.get(name);
    return c !== undefined && c.data.length === 1 && Math.abs(c.data[0]! - v) < 1e-6;
  };
  const other = (n: NodeProto, a: string): string | undefined => (n.input?.[0] === a ? n.input?.[1] : n.input?.[1] === a ? n.input?.[0] : undefined);
  if (erf.opType !== 'Erf' || erf.input?.[0] !== divOut) return -1;
  if (add.opType !== 'Add' || !isConst(other(add, erf.output![0]!), 1)) return -1;
  const a = add.output![0]!;
  if (m1.opType !== 'Mul' || m2.opType !== 'Mul') return -1;
  // in the order PyTorch (and exportOnnx) write it: Mul(x, 1 + erf) then Mul(., 0.5)
  return other(m1, a) === x && isConst(other(m2, m1.output![0]!), 0.5) ? idx[3]! : -1;
}

/** A chain becomes a Sequential; any other graph (or a chain with ops only the graph reads) an OnnxGraph. */
function parseModel(bytes: Uint8Array, folder: string | null): ImportedOnnx {
  try {
    return parseChain(bytes, folder);
  } catch (chainError) {
    if (!(chainError instanceof TensorslimError)) throw chainError;
  }
  const { model, opset } = decodeModel(bytes);
  const graph = buildGraph(model, opset, folder);
  if (graph.inputs.length !== 1) throw new TensorslimError(OP, `the graph has ${graph.inputs.length} inputs (${graph.inputs.map((v) => v.name).join(', ')}); importOnnx reads one-input models (importOnnxGraph reads any)`);
  if (graph.outputs.length !== 1) throw new TensorslimError(OP, `the graph has ${graph.outputs.length} outputs (${graph.outputs.map((v) => v.name).join(', ')}); importOnnx reads one-output models (importOnnxGraph reads any)`);
  const sources = new Map<string, string[]>();
  for (const [name, mod] of graph.namedChildren()) {
    const step = graph.steps.find((st) => st.module === name)!;
    const from = (step.node.input ?? []).slice(1).filter((v) => v !== '');
    for (const [p] of mod.namedParameters()) sources.set(`${name}.${p}`, from);
  }
  for (const [p] of graph.namedParameters('', false)) {
    const init = [...(model.graph!.initializer ?? [])].find((t) => graph.heldAs(t.name ?? '') === p);
    if (init !== undefined) sources.set(p, [init.name ?? '']);
  }
  return { model: graph, opset, inputName: graph.inputs[0]!.name, outputName: graph.outputs[0]!.name, inputShape: graph.inputs[0]!.shape, sources };
}

/**
 * Import the ONNX model in `bytes` (see importOnnx). External data cannot be read from bytes.
 * @example const { model } = importOnnxBytes(readFileSync('mlp.onnx'));
 */
export function importOnnxBytes(bytes: Uint8Array): ImportedOnnx {
  return parseModel(bytes, null);
}

/**
 * Read an .onnx file into a Sequential of tensorslim layers with trainable parameters (named
 * '0.weight', '1.bias', ...; `sources` tells which initializer each came from). The graph must be a
 * chain of supported ops (MLPs and CNNs; see docs/INTEROP.md); anything else is refused naming the
 * op and the node. The result trains, prunes and exports again like any model.
 *
 * @example
 * const { model, inputName } = importOnnx('model.onnx');
 * model.eval();
 * const y = noGrad(() => model.call(x));
 */
export function importOnnx(path: string): ImportedOnnx {
  const bytes = readFileBytes(path, OP);
  return parseModel(bytes, dirname(resolve(path)));
}
