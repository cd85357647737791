// ONNX graph import beyond chains: any DAG of supported ops (residual Adds, Concat, attention with
// batched MatMuls, Shape -> Gather -> Unsqueeze -> Concat -> Reshape chains) becomes an OnnxGraph,
// a Module that runs the nodes in topological order. Nodes with weights become child layers named
// after their initializers (Gemm / MatMul + bias Add -> Linear, Conv -> Conv2d, LayerNormalization
// -> LayerNorm, Gather of a float table -> Embedding, BatchNormalization -> folded into the Conv or
// a FrozenBatchNorm), so pruning finds them; every other float initializer that the graph reads
// becomes a parameter of the OnnxGraph itself. It trains, prunes, distills and exports again
// (export.ts writes the same nodes back, with the layers' effective weights).

import { Tensor } from '../../core/tensor.js';
import { noGrad } from '../../core/engine.js';
import { TensorslimError } from '../../core/errors.js';
import * as ops from '../../ops/index.js';
import { Conv2d, Embedding, LayerNorm, Linear, Module, Parameter, type AnyModule } from '../../nn/index.js';
import { ELEM, onnx, type NodeProto, type ValueInfoProto } from './proto.js';
import {
  OP, IMPORT_MAX_OPSET, IMPORT_MIN_OPSET, attrFloat, attrInt, attrInts, attrString, constantNodeValue, getAttr, nodeLabel, numberOf, readTensor, type Const,
} from './read.js';
import { EXEC_OPS, OP_SINCE, constTensor, exec, isConst, type GraphValue } from './exec.js';
import { FrozenBatchNorm } from './layers.js';

/** Every op the graph importer reads: the evaluated ones plus those that become layers. */
export const GRAPH_OPS: readonly string[] = [...new Set([...EXEC_OPS, 'Constant', 'Conv', 'LayerNormalization', 'BatchNormalization'])].sort();

/** One node of the graph as run: the node itself, and the child layer computing it (if any). */
export interface GraphStep {
  readonly node: NodeProto;
  /** The child module computing the node (its data input is `inputs[0]`), or null for an evaluated op. */
  readonly module: string | null;
  /** Value names read (for a layer: the data input only). */
  readonly inputs: readonly string[];
  /** Value names written. */
  readonly outputs: readonly string[];
}

/** A graph input or output as declared in the file. */
export interface GraphIO {
  readonly name: string;
  /** ONNX element type (1 FLOAT, 6 INT32, 7 INT64, ...). */
  readonly elem: number;
  /** Dims; symbolic ones by name, unknown ones as '?'. */
  readonly shape: readonly (number | string)[];
}

/**
 * A Module computing an ONNX graph. Layers with weights are children (named after their weight
 * initializers, dots and slashes as '_'); other float initializers the graph reads are parameters
 * (or buffers, when they hold Inf/NaN such as attention masks) of this module.
 *
 * @example
 * const g = importOnnxGraph(readFileSync('gpt.onnx'));
 * const logits = g.call(ops.tensor([[1, 2, 3]], { dtype: 'int32' }));
 */
export class OnnxGraph extends Module<[Tensor], Tensor> {
  readonly #consts: ReadonlyMap<string, Const>;
  /** ONNX value name -> attribute name of the parameter or buffer holding it. */
  readonly #held: ReadonlyMap<string, string>;
  readonly #cache = new Map<Const, Tensor>();

  constructor(
    readonly opset: number,
    readonly inputs: readonly GraphIO[],
    readonly outputs: readonly GraphIO[],
    readonly steps: readonly GraphStep[],
    consts: ReadonlyMap<string, Const>,
    held: ReadonlyMap<string, string>,
  ) {
    super();
    this.#consts = consts;
    this.#held = held;
  }

  /** The value of a graph constant or held tensor by its ONNX name (undefined if it is computed). */
  constantOf(name: string): GraphValue | undefined {
    const attrName = this.#held.get(name);
    if (attrName !== undefined) {
      const v: unknown = Reflect.get(this, attrName);   // the parameter, or what a pruning hook computed in its place
      if (v instanceof Tensor) return v;
    }
    return this.#consts.get(name);
  }

  /** The parameter/buffer attribute holding ONNX value `name`, if any. */
  heldAs(name: string): string | undefined { return this.#held.get(name); }

  forward(x: Tensor): Tensor {
    if (this.inputs.length !== 1 || this.outputs.length !== 1) {
      throw new TensorslimError('OnnxGraph', `this graph has ${this.inputs.length} inputs and ${this.outputs.length} outputs; call run({ name: tensor, ... })`);
    }
    return this.run({ [this.inputs[0]!.name]: x })[this.outputs[0]!.name]!;
  }

  /**
   * Run the graph on named inputs; returns every graph output by name.
   * @example const { logits } = graph.run({ input_ids: ids });
   */
  run(feeds: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    return this.runWith(feeds, (step, ins) => {
      if (step.module !== null) return [(this.getSubmodule(step.module) as Module<[Tensor], Tensor>).call(asTensor(ins[0]!, this.#cache))];
      return exec(step.node, ins, this.opset, this.training);
    });
  }

  /**
   * Run the graph, computing each step with `f` (export.ts uses this to write nodes as it goes).
   * @example graph.runWith(feeds, (step, ins) => exec(step.node, ins, graph.opset, false));
   */
  runWith(feeds: Readonly<Record<string, Tensor>>, f: (step: GraphStep, ins: (GraphValue | undefined)[]) => GraphValue[]): Record<string, Tensor> {
    const vals = new Map<string, GraphValue>();
    for (const io of this.inputs) {
      const t = feeds[io.name];
      if (!(t instanceof Tensor)) throw new TensorslimError('OnnxGraph', `input '${io.name}' is missing; inputs: ${this.inputs.map((i) => i.name).join(', ')}`);
      const want = io.elem === ELEM.BOOL ? 'bool' : io.elem === ELEM.INT32 || io.elem === ELEM.INT64 || io.elem === ELEM.INT8 || io.elem === ELEM.UINT8 ? 'int32' : 'float32';
      if (t.dtype !== want) {
        throw new TensorslimError('OnnxGraph', `input '${io.name}' must be ${want} (the file declares ${onnx.TensorProto.DataType[io.elem] ?? io.elem}), got ${t.dtype}`);
      }
      vals.set(io.name, t);
    }
    const get = (name: string): GraphValue | undefined => {
      if (name === '') return undefined;
      const v = vals.get(name) ?? this.constantOf(name);
      if (v === undefined) throw new TensorslimError('OnnxGraph', `value '${name}' is not defined`);
      return v;
    };
    for (const step of this.steps) {
      const outs = f(step, step.inputs.map(get));
      step.outputs.forEach((o, i) => { if (o !== '' && outs[i] !== undefined) vals.set(o, outs[i]!); });
    }
    const res: Record<string, Tensor> = {};
    for (const io of this.outputs) res[io.name] = asTensor(get(io.name)!, this.#cache);
    return res;
  }

  override extraRepr(): string { return `opset=${this.opset}, inputs=(${this.inputs.map((i) => i.name).join(', ')}), nodes=${this.steps.length}`; }
}

function asTensor(v: GraphValue, cache: Map<Const, Tensor>): Tensor {
  if (v instanceof Tensor) return v;
  let t = cache.get(v);
  if (t === undefined) { t = constTensor(v, 'int32'); cache.set(v, t); }
  return t;
}

/** 'transformer.h.0.attn.c_attn.weight' -> 'transformer_h_0_attn_c_attn' (a module or attribute name). */
function sanitize(s: string): string {
  const t = s.replace(/[^A-Za-z0-9_]/g, '_').replace(/^_+|_+$/g, '');
  return t === '' ? 'v' : /^[0-9]/.test(t) ? `v${t}` : t;
}

/** What readGraph needs from a decoded model. */
export interface GraphSource {
  readonly model: ReturnType<typeof onnx.ModelProto.decode>;
  readonly folder: string | null;
}

/** Decode the bytes of a model and check its default-domain opset. */
export function decodeModel(bytes: Uint8Array): { model: ReturnType<typeof onnx.ModelProto.decode>; opset: number } {
  let model: ReturnType<typeof onnx.ModelProto.decode>;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new TensorslimError(OP, `not an ONNX model: the protobuf does not decode (${(e as Error).message}); is the file truncated?`);
  }
  if (!model.graph) throw new TensorslimError(OP, 'the model has no graph');
  const def = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (def === undefined) throw new TensorslimError(OP, 'the model imports no default-domain opset');
  const opset = numberOf(def.version);
  if (!(opset >= IMPORT_MIN_OPSET && opset <= IMPORT_MAX_OPSET)) {
    throw new TensorslimError(OP, `opset ${opset} is not supported; supported: ${IMPORT_MIN_OPSET}..${IMPORT_MAX_OPSET}`);
  }
  return { model, opset };
}

/**
 * Build an OnnxGraph from a decoded model: topological order (a cycle is refused naming its
 * nodes), constants folded, layers recognised, the rest evaluated per op. `folder` is where
 * external data may be read (null: none).
 */
export function buildGraph(model: ReturnType<typeof onnx.ModelProto.decode>, opset: number, folder: string | null): OnnxGraph {
  const g = model.graph!;
  const consts = new Map<string, Const>();
  const inits = new Set<string>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? '';
    consts.set(name, readTensor(`initializer '${name}'`, t, folder));
    inits.add(name);
  }
  const ioOf = (v: ValueInfoProto): GraphIO => {
    const tt = v.type?.tensorType ?? (v.type ? null : {});
    if (!tt) throw new TensorslimError(OP, `graph value '${v.name}' is not a tensor; only tensor inputs and outputs are supported`);
    const shape = (tt.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? numberOf(d.dimValue) : '?'));
    return { name: v.name ?? '', elem: tt.elemType ?? 0, shape };
  };
  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name ?? '')).map(ioOf);
  for (const io of inputs) {
    if (![ELEM.FLOAT, ELEM.INT32, ELEM.INT64, ELEM.INT8, ELEM.UINT8, ELEM.BOOL].includes(io.elem as 1 | 6 | 7 | 3 | 2 | 9)) {
      throw new TensorslimError(OP, `input '${io.name}' has element type ${onnx.TensorProto.DataType[io.elem] ?? io.elem}; supported: FLOAT, INT32, INT64 (token ids), INT8, UINT8 (fed as int32), BOOL`);
    }
  }
  const outputs = (g.output ?? []).map(ioOf);
  if (outputs.length === 0) throw new TensorslimError(OP, 'the graph has no outputs');

  // --- which nodes are needed, in topological order; cycles refused
  const nodes = g.node ?? [];
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    if (n.domain && n.domain !== 'ai.onnx') throw new TensorslimError(OP, `${nodeLabel(n)}: domain '${n.domain}' is not supported; only the default ONNX domain`);
    for (const o of n.output ?? []) {
      if (o === '') continue;
      if (producer.has(o) || consts.has(o) || inputs.some((io) => io.name === o)) throw new TensorslimError(OP, `${nodeLabel(n)}: value '${o}' is defined twice`);
      producer.set(o, i);
    }
  });
  const defined = (name: string): boolean => name === '' || producer.has(name) || consts.has(name) || inputs.some((io) => io.name === name);
  const needed = new Set<number>();
  const stack = outputs.map((o) => o.name);
  for (const o of outputs) if (!defined(o.name)) throw new TensorslimError(OP, `graph output '${o.name}' is not computed by any node`);
  while (stack.length > 0) {
    const v = stack.pop()!;
    const p = producer.get(v);
    if (p === undefined || needed.has(p)) continue;
    needed.add(p);
    for (const inp of nodes[p]!.input ?? []) {
      if (!defined(inp)) throw new TensorslimError(OP, `${nodeLabel(nodes[p]!)}: reads '${inp}', which no node, input or initializer defines`);
      stack.push(inp);
    }
  }
  const indeg = new Map<number, number>();
  const users = new Map<number, number[]>();
  for (const i of needed) {
    const deps = new Set((nodes[i]!.input ?? []).map((s) => producer.get(s)).filter((p): p is number => p !== undefined));
    indeg.set(i, deps.size);
    for (const d of deps) { const u = users.get(d) ?? []; u.push(i); users.set(d, u); }
  }
  const order: number[] = [];
  const ready = [...needed].filter((i) => indeg.get(i) === 0).sort((a, b) => b - a);
  while (ready.length > 0) {
    const i = ready.pop()!;
    order.push(i);
    for (const u of users.get(i) ?? []) {
      const d = indeg.get(u)! - 1;
      indeg.set(u, d);
      if (d === 0) { ready.push(u); ready.sort((a, b) => b - a); }
    }
  }
  if (order.length !== needed.size) {
    const stuck = [...needed].filter((i) => indeg.get(i)! > 0).map((i) => nodeLabel(nodes[i]!));
    throw new TensorslimError(OP, `the graph has a cycle through ${stuck.slice(0, 5).join(', ')}${stuck.length > 5 ? ` and ${stuck.length - 5} more` : ''}; ONNX graphs must be acyclic`);
  }

  // --- readers of each value (to fold a bias Add or a BatchNormalization into the layer before it)
  const readers = new Map<string, number[]>();
  for (const i of order) for (const inp of nodes[i]!.input ?? []) { if (inp !== '') { const r = readers.get(inp) ?? []; r.push(i); readers.set(inp, r); } }
  const isGraphOutput = (v: string): boolean => outputs.some((o) => o.name === v);
  const onlyReader = (v: string): number | null => { const r = readers.get(v) ?? []; return r.length === 1 && !isGraphOutput(v) ? r[0]! : null; };

  const graph = { children: new Map<string, AnyModule>(), steps: [] as GraphStep[] };
  const usedNames = new Set<string>();
  const freshName = (base: string): string => { let nm = sanitize(base), k = 2; while (usedNames.has(nm)) nm = `${sanitize(base)}_${k++}`; usedNames.add(nm); return nm; };
  const shared = new Map<string, Parameter>();   // initializer -> the Parameter holding it as stored (tied weights stay tied)
  const transposedOf = new Map<string, string>();   // folded Transpose(W) -> W
  const skip = new Set<number>();
  const alias = new Map<string, string>();   // a folded node's output -> the layer output replacing it
  const constIn = (n: NodeProto, k: number): Const | null => { const nm = n.input?.[k]; return nm === undefined || nm === '' ? null : consts.get(nm) ?? null; };
  const param = (t: Const, shape: readonly number[]): Parameter => new Parameter(ops.tensor(Float32Array.from(t.data), { shape: [...shape] }));
  const tie = (m: AnyModule, attrName: string, init: string | undefined, asStored: boolean): void => {
    if (init === undefined || !inits.has(init) || !asStored) return;
    const p = shared.get(init);
    const mine: unknown = Reflect.get(m, attrName);
    if (p !== undefined && mine instanceof Tensor && p.shape.join() === mine.shape.join()) m.registerParameter(attrName, p);
    else if (mine instanceof Parameter) shared.set(init, mine);
  };
  const addLayer = (n: NodeProto, base: string, m: AnyModule, data: string, out: string[]): void => {
    const name = freshName(base);
    graph.children.set(name, m);
    graph.steps.push({ node: n, module: name, inputs: [data], outputs: out });
  };
  const stripW = (s: string | undefined, n: NodeProto): string => (s !== undefined && s !== '' ? s.replace(/[._]weight$/, '') : n.name || n.opType || 'layer');
  const load = (m: Linear | Conv2d, w: Tensor, b: Tensor | null): void => noGrad(() => { ops.assign(m.weight, w); if (m.bias !== null && b !== null) ops.assign(m.bias, b); });

  for (const i of order) {
    const n = nodes[i]!;
    if (skip.has(i)) continue;
    const op = n.opType ?? '';
    const ins = (n.input ?? []).map((s) => alias.get(s) ?? s);
    const outs = [...(n.output ?? [])];
    const refuse = (why: string): never => { throw new TensorslimError(OP, `${nodeLabel(n)}: ${why}`); };
    if (op === 'Constant') { consts.set(outs[0] ?? '', constantNodeValue(n, folder)); continue; }
    if (!GRAPH_OPS.includes(op)) refuse(`op '${op}' is not supported; supported: ${GRAPH_OPS.join(', ')}`);
    if ((OP_SINCE[op] ?? 1) > opset) refuse(`${op} is defined from opset ${OP_SINCE[op]}; this model is opset ${opset}`);
    const allConst = ins.every((s) => s === '' || consts.has(s));
    if (allConst && ins.length > 0) {
      // fold: computed once here (a Transpose of a weight is remembered, so a MatMul after it reuses the weight)
      const vals = exec({ ...n, input: ins }, ins.map((s) => (s === '' ? undefined : consts.get(s))), opset, false);
      outs.forEach((o, k) => { const v = vals[k]; if (o !== '' && v !== undefined) consts.set(o, isConst(v) ? v : { dims: [...v.shape], data: Float32Array.from(v.dataSync()), elem: ELEM.FLOAT }); });
      if (op === 'Transpose' && inits.has(ins[0]!) && consts.get(ins[0]!)!.dims.length === 2) {
        const perm = attrInts(n, 'perm');
        if (perm === null || (perm[0] === 1 && perm[1] === 0)) transposedOf.set(outs[0]!, ins[0]!);
      }
      continue;
    }
    const x = ins[0] ?? '';
    // before opset 7 a C of (N) values is a bias only with broadcast = 1; otherwise it is evaluated (and checked) per op
    if (op === 'Gemm' && !consts.has(x) && attrInt(n, 'transA', 0) === 0 && (opset >= 7 || attrInt(n, 'broadcast', 0) === 1) && constIn({ input: ins }, 1)?.dims.length === 2 && (ins[2] === undefined || ins[2] === '' || consts.has(ins[2]))) {
      const b = consts.get(ins[1]!)!;
      const alpha = attrFloat(n, 'alpha', 1), beta = attrFloat(n, 'beta', 1);
      const transB = attrInt(n, 'transB', 0) === 1;
      const [outF, inF] = transB ? [b.dims[0]!, b.dims[1]!] : [b.dims[1]!, b.dims[0]!];
      let w = constTensor(b);
      if (!transB) w = ops.contiguous(ops.transpose(w, 0, 1));
      if (alpha !== 1) w = ops.mul(w, alpha);
      const c = constIn({ input: ins }, 2);
      if (c !== null && c.data.length !== outF && c.data.length !== 1) refuse(`C must have ${outF} values (or 1), got ${c.dims.join('x')}`);
      const bias = c === null ? null : ops.mul(c.data.length === 1 ? ops.full([outF], c.data[0]!) : ops.reshape(constTensor(c), [outF]), beta);
      const lin = new Linear(inF, outF, { bias: c !== null });
      load(lin, w, bias);
      tie(lin, 'weight', ins[1], transB && alpha === 1);
      tie(lin, 'bias', ins[2], beta === 1 && c !== null && c.dims.length === 1 && c.data.length === outF);
      addLayer(n, stripW(ins[1], n), lin, x, outs);
      continue;
    }
    if (op === 'MatMul' && !consts.has(x) && constIn({ input: ins }, 1)?.dims.length === 2) {
      const b = consts.get(ins[1]!)!;
      const src = transposedOf.get(ins[1]!);
      const lin0 = [b.dims[0]!, b.dims[1]!] as const;
      // a bias Add right after (its only reader) joins the Linear
      const r = onlyReader(outs[0]!);
      const addN = r === null ? null : nodes[r]!;
      let bias: Const | null = null, biasName: string | undefined;
      // before opset 7 an Add broadcasts only with broadcast = 1 and no axis (then B matches A's trailing dims, as numpy does)
      const legacyOk = opset >= 7 || (addN !== null && attrInt(addN, 'broadcast', 0) === 1 && addN.input?.[0] === outs[0] && getAttr(addN, 'axis') === undefined);
      if (addN !== null && addN.opType === 'Add' && legacyOk) {
        const other = addN.input?.[0] === outs[0] ? addN.input?.[1] : addN.input?.[0];
        const c = other === undefined ? undefined : consts.get(other);
        if (c !== undefined && c.data.length === lin0[1] && c.dims.length === 1 && c.elem === ELEM.FLOAT) { bias = c; biasName = other; skip.add(r!); }
      }
      const lin = new Linear(lin0[0], lin0[1], { bias: bias !== null });
      load(lin, ops.contiguous(ops.transpose(constTensor(b), 0, 1)), bias === null ? null : constTensor(bias));
      tie(lin, 'weight', src, true);
      tie(lin, 'bias', biasName, true);
      addLayer(n, stripW(src ?? ins[1], n), lin, x, bias === null ? outs : [...(nodes[r!]!.output ?? [])]);
      continue;
    }
    if (op === 'Conv') {
      const w = constIn({ input: ins }, 1);
      if (w === null) refuse('the weight must be a constant (an initializer); computed weights are not supported');
      if (w!.dims.length !== 4) refuse(`only 2-D convolutions (4-D weights) are supported, got weight ${w!.dims.join('x')}`);
      const group = attrInt(n, 'group', 1);
      const [o, cg, kh, kw] = w!.dims as [number, number, number, number];
      if (group < 1 || o % group !== 0) refuse(`group ${group} must be >= 1 and divide the weight's ${o} output channels`);
      const c = cg * group;
      const autoPad = attrString(n, 'auto_pad', 'NOTSET');
      if (autoPad !== 'NOTSET' && autoPad !== 'VALID') refuse(`auto_pad ${autoPad} is not supported (use explicit pads)`);
      const s = attrInts(n, 'strides') ?? [1, 1], d = attrInts(n, 'dilations') ?? [1, 1], p = attrInts(n, 'pads') ?? [0, 0, 0, 0];
      if (s.length !== 2 || d.length !== 2 || p.length !== 4) refuse('strides, dilations and pads must describe 2-D windows');
      if (p[0] !== p[2] || p[1] !== p[3]) refuse(`asymmetric pads (${p.join(', ')}) are not supported`);
      const bC = ins[2] ? constIn({ input: ins }, 2) : null;
      if (ins[2] && bC === null) refuse('the bias must be a constant');
      let wt = constTensor(w!), bt = bC === null ? null : ops.reshape(constTensor(bC), [o]);
      let outNames = outs;
      // a BatchNormalization right after (its only reader, inference form) folds into the weights
      const r = onlyReader(outs[0]!);
      const bn = r === null ? null : nodes[r]!;
      const bnConsts = bn?.opType === 'BatchNormalization' ? [1, 2, 3, 4].map((k) => constIn(bn, k)) : null;
      if (bn !== null && bnConsts !== null && (opset >= 9 || attrInt(bn, 'spatial', 1) === 1) && bnConsts.every((v) => v !== null && v.data.length === o) && (bn.output ?? []).filter((v) => v !== '').length === 1) {
        const [sc, sh, mean, vr] = bnConsts as Const[];
        const eps = attrFloat(bn, 'epsilon', 1e-5);
        const scale = Float32Array.from(sc!.data, (v, k) => v / Math.sqrt(vr!.data[k]! + eps));
        const shift = Float32Array.from(sh!.data, (v, k) => v - mean!.data[k]! * scale[k]!);
        wt = ops.mul(wt, ops.tensor(scale, { shape: [o, 1, 1, 1] }));
        bt = ops.add(ops.mul(bt ?? ops.zeros([o]), ops.tensor(scale)), ops.tensor(shift));
        skip.add(r!);
        outNames = [...(bn.output ?? [])];
      }
      const conv = new Conv2d(c, o, [kh, kw], { stride: [s[0]!, s[1]!], padding: [p[0]!, p[1]!], dilation: [d[0]!, d[1]!], groups: group, bias: bt !== null });
      load(conv, wt, bt);
      if (outNames === outs) { tie(conv, 'weight', ins[1], true); tie(conv, 'bias', ins[2], true); }
      addLayer(n, stripW(ins[1], n), conv, x, outNames);
      continue;
    }
    const extraUsed = outs.slice(1).some((o) => o !== '' && (readers.has(o) || isGraphOutput(o)));
    if (op === 'LayerNormalization' && !extraUsed) {
      const sc = constIn({ input: ins }, 1);
      const bC = ins[2] ? constIn({ input: ins }, 2) : null;
      if (sc === null || (ins[2] && bC === null)) refuse('scale and bias must be constants');
      const axis = attrInt(n, 'axis', -1);
      const k = axis < 0 ? -axis : sc!.dims.length;
      if (sc!.dims.length !== k) refuse(`scale ${sc!.dims.join('x')} must cover the normalized dims (axis ${axis})`);
      const ln = new LayerNorm(sc!.dims, { eps: attrFloat(n, 'epsilon', 1e-5), bias: bC !== null });
      noGrad(() => { ops.assign(ln.weight!, constTensor(sc!)); if (bC !== null) ops.assign(ln.bias!, ops.reshape(constTensor(bC), sc!.dims)); });
      tie(ln, 'weight', ins[1], true);
      if (bC !== null && bC.dims.join() === sc!.dims.join()) tie(ln, 'bias', ins[2], true);
      addLayer(n, stripW(ins[1], n), ln, x, outs.slice(0, 1));
      continue;
    }
    if (op === 'Gather' && consts.has(x) && consts.get(x)!.dims.length === 2 && consts.get(x)!.elem === ELEM.FLOAT && attrInt(n, 'axis', 0) === 0) {
      const table = consts.get(x)!;
      const emb = new Embedding(table.dims[0]!, table.dims[1]!);
      noGrad(() => ops.assign(emb.weight, constTensor(table)));
      tie(emb, 'weight', x, true);
      addLayer(n, stripW(x, n), emb, ins[1] ?? '', outs);
      continue;
    }
    if (op === 'BatchNormalization') {
      const ps = [1, 2, 3, 4].map((k) => constIn({ input: ins }, k));
      if (ps.some((v) => v === null)) refuse('scale, bias, mean and var must be constants');
      if (outs.filter((o) => o !== '').length > 1 || attrInt(n, 'training_mode', 0) === 1) refuse('training-mode outputs (running statistics) are not supported');
      if (opset < 9 && attrInt(n, 'spatial', 1) !== 1) refuse('spatial = 0 is not supported');
      const ch = ps[0]!.data.length;
      const t = (c: Const): Tensor => ops.reshape(constTensor(c), [ch]);
      const bn = new FrozenBatchNorm(t(ps[0]!), t(ps[1]!), t(ps[2]!), t(ps[3]!), attrFloat(n, 'epsilon', 1e-5));
      addLayer(n, stripW(ins[1], n).replace(/[._]scale$/, ''), bn, x, outs.slice(0, 1));
      continue;
    }
    if (op === 'Conv' || op === 'BatchNormalization') refuse('unsupported form');
    graph.steps.push({ node: n, module: null, inputs: ins, outputs: outs });
  }

  // float initializers read by evaluated steps: parameters (or buffers when not finite) of the graph
  const held = new Map<string, string>();
  const extra: [string, Tensor, boolean][] = [];
  for (const st of graph.steps) {
    if (st.module !== null) continue;
    for (const nm of st.inputs) {
      if (held.has(nm) || !inits.has(nm)) continue;
      const c = consts.get(nm)!;
      if (c.elem !== ELEM.FLOAT || c.data.length <= 1) continue;
      const finite = c.data.every((v) => Number.isFinite(v));
      const attrName = freshName(nm);
      held.set(nm, attrName);
      const p = shared.get(nm);
      extra.push([attrName, p ?? param(c, c.dims), finite]);
    }
  }
  for (const [nm] of held) consts.delete(nm);
  const out = new OnnxGraph(opset, inputs, outputs, graph.steps, consts, held);
  for (const [name, m] of graph.children) out.registerModule(name, m);
  for (const [name, t, finite] of extra) {
    if (finite) out.registerParameter(name, t instanceof Parameter ? t : new Parameter(t));
    else out.registerBuffer(name, ops.detach(t));
  }
  return out;
}

/**
 * Import an ONNX graph with any number of inputs and outputs as an OnnxGraph (see importOnnx for
 * the one-input form with its summary). `folder`: where external data may be read (null: none).
 * @example const g = importOnnxGraph(readFileSync('model.onnx')); const out = g.run({ x });
 */
export function importOnnxGraph(bytes: Uint8Array, folder: string | null = null): OnnxGraph {
  const { model, opset } = decodeModel(bytes);
  return buildGraph(model, opset, folder);
}
