// Layers TF.js models use and nn/ has no class for: zero padding of images with its own amount on
// each side (TensorFlow's 'same' convolutions put the odd pixel after; Keras' ZeroPadding2D), and
// TfjsGraph, a functional model with branches and merges. Both write themselves to ONNX (Pad; the
// children's nodes plus Sum/Mul/Mean/Max/Min/Concat), so an imported model exports again.

import type { Tensor } from '../../core/tensor.js';
import { Sequential } from '../../nn/index.js';
import { ShapeError, TensorslimError } from '../../core/errors.js';
import { fmtShape } from '../../backend/shape.js';
import * as ops from '../../ops/index.js';
import { attr, ELEM } from '../onnx/proto.js';
import { OnnxLayer, type OnnxEmitContext } from '../onnx/layers.js';

/**
 * Pad (N, C, H, W) with zeros: `pads` = [top, bottom, left, right].
 * @example new ZeroPad2d([0, 1, 0, 1]).call(ops.zeros([1, 3, 4, 4])).shape  // [1, 3, 5, 5]
 */
export class ZeroPad2d extends OnnxLayer {
  constructor(readonly pads: readonly [number, number, number, number]) {
    super();
    if (!pads.every((p) => Number.isInteger(p) && p >= 0)) throw new TensorslimError('ZeroPad2d', `pads must be non-negative integers [top, bottom, left, right], got [${pads.join(', ')}]`);
  }
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4) throw new ShapeError('ZeroPad2d', `expects (N, C, H, W), got ${fmtShape(x.shape)}`);
    const [t, b, l, r] = this.pads;
    const [n, c, , w] = x.shape as [number, number, number, number];
    let y = x;
    if (l + r > 0) y = ops.cat([...(l > 0 ? [ops.zeros([n, c, y.shape[2]!, l], { dtype: x.dtype })] : []), y, ...(r > 0 ? [ops.zeros([n, c, y.shape[2]!, r], { dtype: x.dtype })] : [])], 3);
    const w2 = w + l + r;
    if (t + b > 0) y = ops.cat([...(t > 0 ? [ops.zeros([n, c, t, w2], { dtype: x.dtype })] : []), y, ...(b > 0 ? [ops.zeros([n, c, b, w2], { dtype: x.dtype })] : [])], 2);
    return y;
  }
  emitOnnx(g: OnnxEmitContext, x: string): string {
    const [t, b, l, r] = this.pads;
    const pads = [0, 0, t, l, 0, 0, b, r];
    return g.opset >= 11 ? g.node('Pad', [x, g.constI64('pads', pads)]) : g.node('Pad', [x], [attr('pads', pads)]);
  }
  override extraRepr(): string { return `pads=(top ${this.pads[0]}, bottom ${this.pads[1]}, left ${this.pads[2]}, right ${this.pads[3]})`; }
}

/**
 * ReLU capped at `maxValue`: min(max(x, 0), maxValue) (Keras' ReLU(max_value = 6), MobileNets' ReLU6).
 * Written to ONNX as Clip.
 * @example new ClippedReLU(6).call(ops.tensor([-1, 3, 9]))  // [0, 3, 6]
 */
export class ClippedReLU extends OnnxLayer {
  constructor(readonly maxValue: number) {
    super();
    if (!(maxValue > 0) || !Number.isFinite(maxValue)) throw new TensorslimError('ClippedReLU', `maxValue must be a positive finite number, got ${maxValue}`);
  }
  forward(x: Tensor): Tensor { return ops.clamp(x, 0, this.maxValue); }
  emitOnnx(g: OnnxEmitContext, x: string): string {
    if (g.opset < 11) return g.node('Clip', [x], [attr('min', { float: 0 }), attr('max', { float: this.maxValue })]);
    return g.node('Clip', [x, g.constTensor('min', ELEM.FLOAT, [], [0]), g.constTensor('max', ELEM.FLOAT, [], [this.maxValue])]);
  }
  override extraRepr(): string { return `maxValue=${this.maxValue}`; }
}

/** The merge layers of Keras functional models that TfjsGraph computes. */
export type TfjsMerge = 'Add' | 'Multiply' | 'Average' | 'Maximum' | 'Minimum' | 'Concatenate';

/** One Keras layer of a TfjsGraph, in the model's (topological) order. */
export interface TfjsNode {
  /** The Keras layer name (values are named after the layer that computes them). */
  readonly name: string;
  /** Names of the layers whose outputs it reads; none for the input layer (it reads the model's input). */
  readonly inputs: readonly string[];
  /** A merge of its inputs, or null for a layer computed by its child. */
  readonly merge: TfjsMerge | null;
  /** Concatenate's axis in our layout (1: channels of (N, C, H, W), features of (N, F)). */
  readonly axis: number;
  /** The child Sequential computing the layer (its name), or null when it computes nothing (identity, or a merge). */
  readonly child: string | null;
}

const ONNX_MERGE: Record<TfjsMerge, string> = { Add: 'Sum', Multiply: 'Mul', Average: 'Mean', Maximum: 'Max', Minimum: 'Min', Concatenate: 'Concat' };

/**
 * A Keras functional model with branches and merges, as importTfjs builds it: one child Sequential
 * per Keras layer (named after it), run in the model's order, merges computed between them. One
 * input, one output. Its parameters train, prune and export to ONNX like any model's.
 * @example const { model } = importTfjs('resnet_block/model.json'); // a TfjsGraph when the model branches
 */
export class TfjsGraph extends OnnxLayer {
  readonly nodes: readonly TfjsNode[];
  readonly output: string;

  constructor(nodes: readonly TfjsNode[], children: ReadonlyMap<string, Sequential>, output: string) {
    super();
    this.nodes = nodes;
    this.output = output;
    for (const [name, m] of children) this.registerModule(name, m);
  }

  /** Calls `each(node, inputs)` for every node in order; returns the output's value. */
  #run<V>(x: V, each: (n: TfjsNode, ins: V[]) => V): V {
    const values = new Map<string, V>();
    for (const n of this.nodes) {
      const ins = n.inputs.length === 0 ? [x] : n.inputs.map((i) => values.get(i)!);
      values.set(n.name, each(n, ins));
    }
    return values.get(this.output)!;
  }

  #child(n: TfjsNode): Sequential | null {
    return n.child === null ? null : (this.getSubmodule(n.child) as Sequential);
  }

  forward(x: Tensor): Tensor {
    return this.#run(x, (n, ins) => {
      if (n.merge !== null) return mergeValue(n, ins);
      const c = this.#child(n);
      return c === null ? ins[0]! : c.call(ins[0]!);
    });
  }

  emitOnnx(g: OnnxEmitContext, x: string, input?: Tensor): string {
    if (input === undefined || g.emitModule === undefined) throw new TensorslimError('TfjsGraph', 'ONNX export needs the sample input and a context that emits child modules (exportOnnx gives both)');
    const emit = g.emitModule;
    const out = this.#run<{ name: string; t: Tensor }>({ name: x, t: input }, (n, ins) => {
      if (n.merge === null) {
        const c = this.#child(n);
        return c === null ? ins[0]! : { name: emit(c, n.child!, ins[0]!.name, ins[0]!.t), t: c.call(ins[0]!.t) };
      }
      const names = ins.map((v) => v.name);
      const op = ONNX_MERGE[n.merge];
      let name: string;
      if (op === 'Mul') name = names.slice(1).reduce((a, b) => g.node('Mul', [a, b]), names[0]!);
      else name = g.node(op, names, op === 'Concat' ? [attr('axis', n.axis)] : []);
      return { name, t: mergeValue(n, ins.map((v) => v.t)) };
    });
    return out.name;
  }

  override extraRepr(): string { return `${this.nodes.length} layers, output '${this.output}'`; }
}

/** A merge node's value: its inputs summed, multiplied, averaged, maxed, minned or concatenated. */
function mergeValue(n: TfjsNode, ins: readonly Tensor[]): Tensor {
  switch (n.merge) {
    case 'Concatenate': return ops.cat(ins, n.axis);
    case 'Average': return ops.div(ins.slice(1).reduce((a, b) => ops.add(a, b), ins[0]!), ins.length);
    default: {
      const f = n.merge === 'Add' ? ops.add : n.merge === 'Multiply' ? ops.mul : n.merge === 'Maximum' ? ops.maximum : ops.minimum;
      return ins.slice(1).reduce((a, b) => f(a, b), ins[0]!);
    }
  }
}
