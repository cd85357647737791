// ONNX import of general graphs (OnnxGraph): every GPT preset exported, run in ONNX Runtime,
// imported back and exported again, all agreeing (tied head kept tied, other sequence lengths);
// the imported GPT trains a step; hand-built DAGs with residual Adds, Concat, Split, Slice,
// Shape-Gather-Unsqueeze-Concat-Reshape and Squeeze/Unsqueeze/Reduce axes as attributes (opset
// 11) or inputs (opset 13/18), checked against ONNX Runtime; openwakeword-js's hello_deepa.onnx
// imported, compared with ONNX Runtime, pruned, exported and re-run in ONNX Runtime.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import onnxProto from 'onnx-proto';
import { manualSeed, noGrad, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { F, Linear, type AnyModule } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { createModel, listModels } from '../../src/models/index.js';
import { prune, quant } from '../../src/compress/index.js';
import { importOnnx, importOnnxBytes, importOnnxGraph, OnnxGraph, serializeOnnx } from '../../src/io/onnx/index.js';
import { attr, encodeModel, floatTensor, int64Tensor, valueInfo, ELEM } from '../../src/io/onnx/proto.js';
import { loadOrt, maxRelError, runOrt } from './onnx_helpers.js';
import { HELLO_DEEPA, requireOrSkip } from '../helpers/requirements.js';

const { ort, why } = await loadOrt();
const call = (m: AnyModule, x: Tensor): Tensor => { m.eval(); return noGrad(() => (m as OnnxGraph).call(x)); };
const ids = (b: number, t: number, vocab: number): Tensor => ops.tensor(Int32Array.from({ length: b * t }, (_, i) => (i * 7 + 3) % vocab), { shape: [b, t], dtype: 'int32' });

type Node = onnxProto.onnx.INodeProto;
const node = (op: string, input: string[], output: string | string[], attribute: onnxProto.onnx.IAttributeProto[] = [], name?: string): Node =>
  ({ opType: op, input, output: Array.isArray(output) ? output : [output], attribute, name: name ?? (Array.isArray(output) ? output[0] : output) });
function build(opset: number, nodes: Node[], inits: onnxProto.onnx.ITensorProto[], inDims: (number | string)[]): Uint8Array {
  return encodeModel({
    irVersion: 7, opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: nodes, initializer: inits, input: [valueInfo('x', ELEM.FLOAT, inDims)], output: [{ name: 'y' }] },
  });
}

describe('importOnnx: GPT round trip (every preset)', () => {
  for (const p of listModels({ task: 'language-modeling' })) {
    it(`${p.name}: exported, run in ONNX Runtime, imported back, exported again: all agree`, { skip: ort === null ? why! : false }, async () => {
      manualSeed(16);
      const model = createModel(p.name as 'gpt-tiny');
      model.eval();
      const vocab = (model as unknown as { config: { vocabSize: number } }).config.vocabSize;
      const x = ids(2, 6, vocab);
      const ours = call(model, x);
      const bytes = serializeOnnx(model, x).bytes;
      const viaOrt = await runOrt(ort!, bytes, 'input_ids', x, 'logits');
      assert.ok(maxRelError(viaOrt.data, ours.dataSync()) <= 1e-4);
      const imp = importOnnxBytes(bytes);
      assert.ok(imp.model instanceof OnnxGraph);
      // the same parameters: layers named after their initializers, the tied head still tied
      assert.equal(imp.model.numParameters(), model.numParameters());
      assert.ok(imp.model.modules().filter((m) => m instanceof Linear).length >= 4 * (model as unknown as { config: { nLayer: number } }).config.nLayer);
      const back = call(imp.model, x);
      assert.ok(maxRelError(back.dataSync(), ours.dataSync()) <= 1e-4, `import error ${maxRelError(back.dataSync(), ours.dataSync())}`);
      // another sequence length and batch: shapes are computed at run time
      const x2 = ids(1, 3, vocab);
      assert.ok(maxRelError(call(imp.model, x2).dataSync(), call(model, x2).dataSync()) <= 1e-4);
      const again = serializeOnnx(imp.model, x).bytes;
      const viaOrt2 = await runOrt(ort!, again, 'input_ids', x2, 'logits');
      assert.ok(maxRelError(viaOrt2.data, call(model, x2).dataSync()) <= 1e-4);
    });
  }

  it('the imported GPT trains: one SGD step lowers the loss on its batch', () => {
    manualSeed(3);
    const model = createModel('gpt-tiny');
    const x = ids(2, 8, 64);
    const g = importOnnxBytes(serializeOnnx(model, x).bytes).model;
    g.train();
    const target = ops.tensor(Int32Array.from({ length: 16 }, (_, i) => (i * 5 + 1) % 64), { dtype: 'int32' });
    const loss = (): Tensor => F.crossEntropy(ops.reshape(g.call(x), [16, -1]), target);
    const opt = new SGD(g.parameters(), { lr: 0.5 });
    const l0 = loss();
    opt.zeroGrad(); l0.backward(); opt.step();
    const l1 = noGrad(loss);
    assert.ok(l1.item() < l0.item(), `${l1.item()} !< ${l0.item()}`);
  });
});

describe('importOnnx: DAGs against ONNX Runtime, per opset', () => {
  // x (n, 4, 6) -> residual block, Concat, Split, Slice, Shape-Gather-Unsqueeze-Concat-Reshape, Squeeze/Unsqueeze, ReduceMean, Softmax
  const graphAt = (opset: number): Uint8Array => {
    const axesIn = opset >= 13;
    const sq = (op: string, input: string, out: string, axes: number[]): Node[] => axesIn
      ? [node(op, [input, `${out}_axes`], out)] : [node(op, [input], out, [attr('axes', axes)])];
    const rm = (input: string, out: string, axes: number[]): Node[] => opset >= 18
      ? [node('ReduceMean', [input, `${out}_axes`], out, [attr('keepdims', 1)])] : [node('ReduceMean', [input], out, [attr('axes', axes), attr('keepdims', 1)])];
    const nodes: Node[] = [
      node('MatMul', ['x', 'W'], 'h0'), node('Add', ['h0', 'b'], 'h1'), node('Relu', ['h1'], 'h2'), node('Add', ['x', 'h2'], 'r'),   // residual
      node('Concat', ['r', 'x'], 'cat', [attr('axis', 2)]),                                                                     // (n, 4, 12)
      opset >= 13 ? node('Split', ['cat', 'split'], ['s0', 's1'], [attr('axis', 2)]) : node('Split', ['cat'], ['s0', 's1'], [attr('axis', 2), attr('split', [8, 4])]),
      node('Slice', ['s0', 'st', 'en', 'ax'], 'sl'),                                                                           // columns 1..6 of the first 8: (n, 4, 6)

      node('Shape', ['x'], 'shp'), node('Gather', ['shp', 'i0'], 'n0', [attr('axis', 0)]),
      ...sq('Unsqueeze', 'n0', 'n1', [0]), node('Concat', ['n1', 'rest'], 'newshape', [attr('axis', 0)]),
      node('Reshape', ['sl', 'newshape'], 'flat'),                                                                             // (n, 24)
      ...sq('Unsqueeze', 'flat', 'u', [1]), ...sq('Squeeze', 'u', 'sq', [1]),
      ...rm('s1', 'mean', [2]), node('Sub', ['s1', 'mean'], 'cent'), node('Reshape', ['cent', 'newshape2'], 'cflat'),            // (n, 16)
      node('Concat', ['sq', 'cflat'], 'both', [attr('axis', 1)]), node('Softmax', ['both'], 'y', [attr('axis', 1)]),
    ];
    manualSeed(5);
    const w = ops.randn([6, 6]).dataSync(), b = ops.randn([6]).dataSync();
    const inits = [floatTensor('W', [6, 6], w), floatTensor('b', [6], b), int64Tensor('st', [1], [1]), int64Tensor('en', [1], [7]), int64Tensor('ax', [1], [2]),
      { ...int64Tensor('i0', [], [0]) }, int64Tensor('rest', [1], [-1]), int64Tensor('newshape2', [2], [0, -1]), int64Tensor('split', [2], [8, 4]),
      int64Tensor('n1_axes', [1], [0]), int64Tensor('u_axes', [1], [1]), int64Tensor('sq_axes', [1], [1]), int64Tensor('mean_axes', [1], [2])];
    return build(opset, nodes, inits, ['n', 4, 6]);
  };
  for (const opset of [11, 13, 18]) {
    it(`opset ${opset}: residual, Concat, Split, Slice, shape chain, Squeeze/Unsqueeze, ReduceMean, Softmax agree with ONNX Runtime; exports again`, { skip: ort === null ? why! : false }, async () => {
      const bytes = graphAt(opset);
      const g = importOnnxBytes(bytes).model;
      assert.ok(g instanceof OnnxGraph);
      assert.equal(g.modules().filter((m) => m instanceof Linear).length, 1);   // MatMul + Add became one Linear
      for (const n of [1, 3]) {
        const x = ops.randn([n, 4, 6]);
        const ref = await runOrt(ort!, bytes, 'x', x, 'y');
        const ours = call(g, x);
        assert.deepEqual(ours.shape, ref.dims);
        assert.ok(maxRelError(ours.dataSync(), ref.data) <= 1e-5, `opset ${opset} n ${n}: ${maxRelError(ours.dataSync(), ref.data)}`);
        const again = await runOrt(ort!, serializeOnnx(g, x).bytes, 'x', x, 'y');
        assert.ok(maxRelError(again.data, ref.data) <= 1e-5);
      }
    });
  }

  it('Softmax before opset 13 flattens at its axis; from 13 it is per axis', { skip: ort === null ? why! : false }, async () => {
    for (const opset of [11, 13]) {
      const bytes = build(opset, [node('Softmax', ['x'], 'y', [attr('axis', 1)])], [], [2, 3, 4]);
      const x = ops.randn([2, 3, 4]);
      const ref = await runOrt(ort!, bytes, 'x', x, 'y');
      assert.ok(maxRelError(call(importOnnxBytes(bytes).model, x).dataSync(), ref.data) <= 1e-6, `opset ${opset}`);
    }
  });

  it('a shape computed inside the graph too large to allocate is refused (ConstantOfShape, Expand)', () => {
    const big = int64Tensor('s', [2], [1 << 20, 1 << 20]);
    assert.throws(() => importOnnxBytes(build(13, [node('ConstantOfShape', ['s'], 'c'), node('Add', ['x', 'c'], 'y')], [big], [2])), /ConstantOfShape\): shape \(1048576, 1048576\) is negative or holds more than 67108864 elements; refused/);
    const g = importOnnxBytes(build(13, [node('Expand', ['x', 's'], 'y')], [big], [1, 1])).model;
    assert.throws(() => call(g, ops.ones([1, 1])), /Expand\): shape \(1048576, 1048576\) is negative or holds more than/);
  });

  it('a graph with two inputs runs through importOnnxGraph; importOnnx refuses it naming them', () => {
    const bytes = encodeModel({
      irVersion: 7, opsetImport: [{ domain: '', version: 13 }],
      graph: { name: 'g', node: [node('Add', ['a', 'b'], 'y')], input: [valueInfo('a', ELEM.FLOAT, [2]), valueInfo('b', ELEM.FLOAT, [2])], output: [{ name: 'y' }] },
    });
    assert.deepEqual(Array.from(importOnnxGraph(bytes).run({ a: ops.tensor([1, 2]), b: ops.tensor([10, 20]) })['y']!.dataSync()), [11, 22]);
    assert.throws(() => importOnnxBytes(bytes), /the graph has 2 inputs \(a, b\); importOnnx reads one-input models/);
  });
});

describe("importOnnx: openwakeword-js's hello_deepa.onnx end to end", () => {
  const skip = requireOrSkip('openwakeword') || (ort === null ? why! : false);
  const path = HELLO_DEEPA;
  it('imported, agrees with ONNX Runtime; pruned 50%, exported, ONNX Runtime agrees with the pruned model; then int8 (QDQ) agrees too', { skip }, async () => {
    const bytes = readFileSync(path!);
    const imp = importOnnx(path!);
    assert.ok(imp.model instanceof OnnxGraph);
    assert.equal(imp.model.numParameters(), 32 * 2400 + 32 + 32 * 32 + 32 + 32 + 1 + 4 * 32);   // three Gemms and two decomposed LayerNorms' weight and bias
    manualSeed(7);
    const xs = [0, 1, 2].map(() => ops.randn([1, 25, 96]));
    for (const x of xs) {
      const ref = await runOrt(ort!, bytes, imp.inputName, x, imp.outputName);
      assert.ok(maxRelError(call(imp.model, x).dataSync(), ref.data) <= 1e-4);
    }
    prune.pruneWeights(imp.model, 0.5);
    assert.equal(prune.weightTargets(imp.model).length, 3);
    const pruned = serializeOnnx(imp.model, xs[0]!).bytes;
    for (const x of xs) {
      const ref = await runOrt(ort!, pruned, imp.inputName, x, imp.outputName);
      assert.ok(maxRelError(call(imp.model, x).dataSync(), ref.data) <= 1e-4);
    }
    const back = importOnnxBytes(pruned).model;
    const w = back.getSubmodule('layer1') as Linear;
    const zeros = w.weight.dataSync().filter((v) => v === 0).length;
    assert.equal(zeros, 32 * 2400 / 2);
    // then int8 (docs/INTEROP.md's worked example): the pruned graph quantized dynamically and exported
    // as QDQ at opset 13; ONNX Runtime's int8 run agrees with ours (both quantize the input per batch)
    for (const [m, name] of prune.weightTargets(imp.model)) prune.remove(m, name);
    quant.quantizeDynamic(imp.model);
    const int8 = serializeOnnx(imp.model, xs[0]!, { opset: 13 }).bytes;
    assert.ok(int8.length < bytes.length / 3, `int8 file ${int8.length} bytes vs ${bytes.length}`);
    for (const x of xs) {
      const ref = await runOrt(ort!, int8, imp.inputName, x, imp.outputName);
      const ours = call(imp.model, x).dataSync();
      for (let i = 0; i < ours.length; i++) assert.ok(Math.abs(ours[i]! - ref.data[i]!) <= 1e-4, `score ${ours[i]} vs ONNX Runtime ${ref.data[i]}`);
    }
  });
});
