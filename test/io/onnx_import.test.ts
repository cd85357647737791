// ONNX import: files written by PyTorch's exporter compared with PyTorch's outputs; round trips
// (every MLP/CNN preset exported, imported back, outputs agree with the
// original and with ONNX Runtime; the imported model trains a step and exports again), per-op
// semantics across opsets on hand-built graphs (Gemm attributes, Dropout ratio attribute vs input,
// BatchNormalization folded or kept, GELU's Erf form, Reshape/Transpose), and refusals of bad files
// (unsupported op named with its node, branches, truncation, sizes larger than the file, external
// data outside the model's folder); opsets 1..6 with their legacy semantics (broadcast/axis, Gemm's
// broadcast, Reshape's shape attribute, Concat's default axis, Cast's type name) against values
// computed in the test, an opset-4 graph against ONNX Runtime, and their refusals.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import onnxProto from 'onnx-proto';
import { manualSeed, noGrad, TensorslimError, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { Conv2d, F, GELU, Linear, ReLU, Sequential, type AnyModule } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { createModel, listModels } from '../../src/models/index.js';
import { exportOnnx, FrozenBatchNorm, importOnnx, importOnnxBytes, OnnxGraph, serializeOnnx } from '../../src/io/onnx/index.js';
import { attr, encodeModel, floatTensor, int64Tensor, valueInfo, ELEM } from '../../src/io/onnx/proto.js';
import { loadOrt, maxRelError, runOrt } from './onnx_helpers.js';
import { FIXTURES, tempDir } from './helpers.js';

const { ort } = await loadOrt();
const call = (m: AnyModule, x: Tensor): Tensor => { m.eval(); return noGrad(() => (m as Sequential).call(x)); };

type Node = onnxProto.onnx.INodeProto;
/** A one-input one-output model from nodes and initializers. */
function build(opset: number, nodes: Node[], inits: onnxProto.onnx.ITensorProto[], inDims: (number | string)[], outName = 'y'): Uint8Array {
  return encodeModel({
    irVersion: 7, opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: nodes, initializer: inits, input: [valueInfo('x', ELEM.FLOAT, inDims)], output: [valueInfo(outName, ELEM.FLOAT, [])] },
  });
}
const node = (opType: string, input: string[], output: string, attribute: onnxProto.onnx.IAttributeProto[] = [], name = output): Node => ({ opType, input, output: [output], attribute, name });

describe('importOnnx: round trips of the MLP/CNN presets', () => {
  for (const p of listModels({ task: 'image-classification' })) {
    it(`${p.name}: export -> import agrees with the original (and ONNX Runtime), trains a step, exports again`, async () => {
      manualSeed(11);
      const m = createModel(p.name);
      const x = ops.randn([4, 784]);
      const { bytes } = serializeOnnx(m, x, { opset: 13 });
      const imp = importOnnxBytes(bytes);
      assert.equal(imp.opset, 13);
      assert.ok(maxRelError(call(imp.model, x).dataSync(), call(m, x).dataSync()) <= 1e-5);
      if (ort !== null) {
        const got = await runOrt(ort, bytes, 'input', x, 'output');
        assert.ok(maxRelError(call(imp.model, x).dataSync(), got.data) <= 1e-4);
      }
      // trains: a few SGD steps on fixed labels lower the loss
      const model = imp.model;
      model.train();
      const y = ops.tensor(Int32Array.from([1, 2, 3, 4]), { dtype: 'int32' });
      const opt = new SGD(model.parameters(), { lr: 0.05 });
      const lossAt = (): number => noGrad(() => F.crossEntropy(model.call(x), y).item());
      const before = lossAt();
      for (let s = 0; s < 3; s++) { opt.zeroGrad(); F.crossEntropy(model.call(x), y).backward(); opt.step(); }
      assert.ok(lossAt() < before, `loss ${lossAt()} !< ${before}`);
      // and exports again
      const again = serializeOnnx(model, x, { opset: 17 });
      if (ort !== null) {
        const got = await runOrt(ort, again.bytes, 'input', x, 'output');
        assert.ok(maxRelError(got.data, call(model, x).dataSync()) <= 1e-4);
      }
    });
  }

  it('importOnnx reads a file; parameters name their source initializers', () => {
    const { dir, cleanup } = tempDir();
    try {
      manualSeed(12);
      const m = createModel('mlp-tiny');
      const path = join(dir, 'm.onnx');
      exportOnnx(m, ops.zeros([1, 784]), path);
      const imp = importOnnx(path);
      assert.deepEqual([...imp.model.stateDict().keys()], ['1.weight', '1.bias', '3.weight', '3.bias']);
      assert.deepEqual(imp.sources.get('1.weight'), ['1.weight', '1.bias']);
      assert.deepEqual(imp.inputShape, ['batch', 784]);
    } finally { cleanup(); }
  });
});

describe('importOnnx: files PyTorch wrote (tools/fixtures/onnx_fixtures.py) agree with PyTorch', () => {
  interface Case { file: string; opset: number; input: { shape: number[]; data: number[] }; output: { shape: number[]; data: number[] } }
  const cases = JSON.parse(readFileSync(join(FIXTURES, 'onnx_torch.json'), 'utf8')) as Record<string, Case>;
  for (const [name, c] of Object.entries(cases)) {
    it(`${name} (${c.file}, opset ${c.opset})`, async () => {
      const imp = importOnnx(join(FIXTURES, c.file));
      assert.equal(imp.opset, c.opset);
      const x = ops.tensor(Float32Array.from(c.input.data), { shape: c.input.shape });
      const y = call(imp.model, x);
      assert.deepEqual(y.shape, c.output.shape);
      assert.ok(maxRelError(y.dataSync(), c.output.data) <= 1e-5, `error ${maxRelError(y.dataSync(), c.output.data)}`);
      if (name === 'cnn') {
        // BatchNormalization folded into the Conv before it; GELU's Erf form (with Constant nodes between) is one GELU
        assert.ok((imp.model as Sequential).at(0) instanceof Conv2d);
        assert.ok((imp.model as Sequential).at(1) instanceof ReLU);
        assert.ok((imp.model as Sequential).children().some((m) => m instanceof GELU));
      }
      if (name === 'grouped') {
        // group 2, depthwise, depthwise with channel multiplier 2, pointwise (BatchNormalization folded into the first two)
        assert.deepEqual(imp.model.modules().filter((m): m is Conv2d => m instanceof Conv2d).map((m) => [m.groups, ...m.weight.shape]),
          [[2, 8, 2, 3, 3], [8, 8, 1, 3, 3], [8, 16, 1, 3, 3], [1, 6, 16, 1, 1]]);
      }
      if (ort !== null) {
        const again = serializeOnnx(imp.model, x);
        assert.ok(maxRelError((await runOrt(ort, again.bytes, 'input', x, 'output')).data, c.output.data) <= 1e-4);
      }
    });
  }
});

describe('importOnnx: op semantics', () => {
  it('Gemm with transB = 0, alpha and beta; MatMul + Add becomes one Linear', () => {
    const w = [1, 2, 3, 4, 5, 6];   // B (3, 2): y = alpha * x B + beta * c
    const bytes = build(13, [
      node('Gemm', ['x', 'B', 'C'], 'h', [attr('alpha', { float: 2 }), attr('beta', { float: 0.5 })]),
      node('MatMul', ['h', 'M'], 'mm'), node('Add', ['mm', 'b'], 'y'),
    ], [floatTensor('B', [3, 2], w), floatTensor('C', [2], [10, 20]), floatTensor('M', [2, 1], [1, -1]), floatTensor('b', [1], [0.25])], ['n', 3]);
    const imp = importOnnxBytes(bytes);
    assert.equal((imp.model as Sequential).length, 2);
    // x = [1, 1, 1]: x B = [9, 12]; *2 = [18, 24]; + 0.5*[10, 20] = [23, 34]; then 23 - 34 + 0.25
    assert.deepEqual(Array.from(call(imp.model, ops.tensor([[1, 1, 1]])).dataSync()), [-10.75]);
  });

  it('Dropout: ratio as an attribute (opset 10) and as an input (opset 13); identity in eval', () => {
    const a = importOnnxBytes(build(10, [node('Dropout', ['x'], 'y', [attr('ratio', { float: 0.25 })])], [], ['n', 2]));
    assert.equal(((a.model as Sequential).at(0) as unknown as { p: number }).p, 0.25);
    const b = importOnnxBytes(build(13, [node('Dropout', ['x', 'r'], 'y')], [floatTensor('r', [], [0.3])], ['n', 2]));
    assert.ok(Math.abs(((b.model as Sequential).at(0) as unknown as { p: number }).p - 0.3) < 1e-7);
    assert.deepEqual(Array.from(call(b.model, ops.tensor([[1, 2]])).dataSync()), [1, 2]);
  });

  it('BatchNormalization is folded into the Conv before it, or kept as FrozenBatchNorm; both match ONNX Runtime', async () => {
    const bn = (x: string, y: string): Node => node('BatchNormalization', [x, 's', 'bb', 'mu', 'var'], y, [attr('epsilon', { float: 1e-3 })]);
    const inits = [floatTensor('W', [2, 1, 3, 3], Array.from({ length: 18 }, (_, i) => (i % 5) - 2)), floatTensor('s', [2], [1.5, -0.5]),
      floatTensor('bb', [2], [0.1, 0.2]), floatTensor('mu', [2], [0.3, -0.4]), floatTensor('var', [2], [2, 0.5])];
    const folded = build(13, [node('Conv', ['x', 'W'], 'c', [attr('pads', [1, 1, 1, 1])]), bn('c', 'y')], inits, ['n', 1, 5, 5]);
    const kept = build(13, [bn('x', 'b0'), node('Relu', ['b0'], 'y')], inits.slice(1).map((t) => ({ ...t, dims: [1], rawData: (t.rawData as Uint8Array).slice(0, 4) })), ['n', 1, 4, 4]);
    const f = importOnnxBytes(folded), k = importOnnxBytes(kept);
    assert.equal((f.model as Sequential).length, 1);
    assert.ok((f.model as Sequential).at(0) instanceof Conv2d);
    assert.ok((k.model as Sequential).at(0) instanceof FrozenBatchNorm);
    if (ort !== null) {
      const x1 = ops.randn([2, 1, 5, 5]), x2 = ops.randn([2, 1, 4, 4]);
      assert.ok(maxRelError(call(f.model, x1).dataSync(), (await runOrt(ort, folded, 'x', x1, 'y')).data) <= 1e-5);
      assert.ok(maxRelError(call(k.model, x2).dataSync(), (await runOrt(ort, kept, 'x', x2, 'y')).data) <= 1e-5);
    }
  });

  it("GELU's Erf form (as PyTorch and exportOnnx below opset 20 write it) becomes one GELU; Reshape, Transpose, pools, LayerNormalization round-trip", async () => {
    manualSeed(13);
    const net = new Sequential(new Linear(6, 8), new GELU(), new Linear(8, 4));
    const x = ops.randn([3, 6]);
    const imp = importOnnxBytes(serializeOnnx(net, x, { opset: 13 }).bytes);
    assert.ok((imp.model as Sequential).at(1) instanceof GELU);
    assert.ok(maxRelError(call(imp.model, x).dataSync(), call(net, x).dataSync()) <= 1e-5);
    const cnn = build(17, [
      node('Conv', ['x', 'W', 'B'], 'c', [attr('strides', [2, 2])]), node('AveragePool', ['c'], 'p', [attr('kernel_shape', [2, 2]), attr('strides', [1, 1])]),
      node('MaxPool', ['p'], 'q', [attr('kernel_shape', [2, 2])]), node('GlobalAveragePool', ['q'], 'g'), node('Reshape', ['g', 'shape'], 'r'),
      node('Transpose', ['r'], 't', [attr('perm', [1, 0])]), node('Transpose', ['t'], 'u'), node('LayerNormalization', ['u', 'ls', 'lb'], 'v', [attr('epsilon', { float: 1e-4 })]),
      node('Softmax', ['v'], 'y'),
    ], [floatTensor('W', [3, 2, 3, 3], Array.from({ length: 54 }, (_, i) => Math.sin(i))), floatTensor('B', [3], [0.1, -0.1, 0.2]), int64Tensor('shape', [2], [0, -1]),
      floatTensor('ls', [3], [1, 2, 3]), floatTensor('lb', [3], [0, 0.5, -0.5])], ['n', 2, 9, 9]);
    const c = importOnnxBytes(cnn);
    const xc = ops.randn([2, 2, 9, 9]);
    if (ort !== null) assert.ok(maxRelError(call(c.model, xc).dataSync(), (await runOrt(ort, cnn, 'x', xc, 'y')).data) <= 1e-5);
    // and the imported CNN (AvgPool2d, GlobalAvgPool2d, Reshape, Transpose) exports again
    if (ort !== null) {
      const again = serializeOnnx(c.model, xc);
      assert.ok(maxRelError(call(c.model, xc).dataSync(), (await runOrt(ort, again.bytes, 'input', xc, 'output')).data) <= 1e-5);
    }
  });
});

describe('importOnnx: refusals', () => {
  it('an unsupported op, named with its node; a cyclic graph; an unsupported opset; padding a chain cannot fold becomes a graph', () => {
    assert.throws(() => importOnnxBytes(build(13, [node('Cos', ['x'], 'y', [], 'my_cos')], [], ['n', 2])), (e: Error) => e instanceof TensorslimError && /node 'my_cos' \(Cos\): op 'Cos' is not supported; supported: Abs, Add/.test(e.message));
    assert.throws(() => importOnnxBytes(build(13, [node('Add', ['x', 'c'], 'a', [], 'n1'), node('Relu', ['a'], 'c', [], 'n2'), node('Relu', ['a'], 'y')], [], ['n', 2])), /the graph has a cycle through .*node 'n1' \(Add\), node 'n2' \(Relu\); ONNX graphs must be acyclic/);
    assert.throws(() => importOnnxBytes(build(22, [node('Relu', ['x'], 'y')], [], ['n', 2])), /opset 22 is not supported; supported: 1\.\.21/);
    const pad = (next: Node, pads: number[]): Uint8Array => build(13, [node('Pad', ['x', 'p'], 'xp', [], 'my_pad'), next], [int64Tensor('p', [8], pads)], ['n', 1, 4, 4]);
    const g = importOnnxBytes(pad(node('MaxPool', ['xp'], 'y', [attr('kernel_shape', [2, 2])]), [0, 0, 1, 1, 0, 0, 1, 1])).model;
    assert.ok(g instanceof OnnxGraph);
    assert.deepEqual(call(g, ops.ones([1, 1, 4, 4])).shape, [1, 1, 5, 5]);
    const h = importOnnxBytes(pad(node('AveragePool', ['xp'], 'y', [attr('kernel_shape', [2, 2])]), [0, 0, 1, 0, 0, 0, 0, 0])).model;
    assert.deepEqual(Array.from(call(h, ops.ones([1, 1, 4, 4])).dataSync()).slice(0, 3), [0.5, 0.5, 0.5]);
  });

  it('truncated files, sizes larger than the data, wrong data types', () => {
    manualSeed(14);
    const bytes = serializeOnnx(createModel('mlp-tiny'), ops.zeros([1, 784])).bytes;
    for (const cut of [10, 1000, bytes.length - 7]) assert.throws(() => importOnnxBytes(bytes.slice(0, cut)), TensorslimError);
    const huge = build(13, [node('MatMul', ['x', 'W'], 'y')], [{ ...floatTensor('W', [2, 2], [1, 2, 3, 4]), dims: [100000, 100000] }], ['n', 2]);
    assert.throws(() => importOnnxBytes(huge), /initializer 'W': declares 100000x100000 elements, more than|declares 100000x100000 \(40000000000 bytes\) but holds 16 bytes/);
    const short = build(13, [node('MatMul', ['x', 'W'], 'y')], [{ ...floatTensor('W', [2, 2], [1, 2, 3, 4]), dims: [4, 2] }], ['n', 2]);
    assert.throws(() => importOnnxBytes(short), /declares 4x2 \(32 bytes\) but holds 16 bytes/);
    const half = build(13, [node('MatMul', ['x', 'W'], 'y')], [{ name: 'W', dims: [1, 1], dataType: 10, rawData: new Uint8Array(2) }], ['n', 1]);
    assert.throws(() => importOnnxBytes(half), /data type FLOAT16 is not supported/);
  });

  it('external data: read from inside the folder, refused when it escapes or from bytes', () => {
    const { dir, cleanup } = tempDir();
    try {
      mkdirSync(join(dir, 'model'));
      const w = new Float32Array([1, 2, 3, 4]);
      writeFileSync(join(dir, 'model', 'w.bin'), new Uint8Array(w.buffer));
      writeFileSync(join(dir, 'outside.bin'), new Uint8Array(w.buffer));
      const ext = (loc: string): Uint8Array => build(13, [node('MatMul', ['x', 'W'], 'y')], [{
        name: 'W', dims: [2, 2], dataType: ELEM.FLOAT, dataLocation: 1, externalData: [{ key: 'location', value: loc }, { key: 'length', value: '16' }],
      }], ['n', 2]);
      writeFileSync(join(dir, 'model', 'ok.onnx'), ext('w.bin'));
      writeFileSync(join(dir, 'model', 'escape.onnx'), ext('../outside.bin'));
      writeFileSync(join(dir, 'model', 'abs.onnx'), ext(join(dir, 'outside.bin')));
      const ok = importOnnx(join(dir, 'model', 'ok.onnx'));
      assert.deepEqual(Array.from(call(ok.model, ops.tensor([[1, 0]])).dataSync()), [1, 2]);
      assert.throws(() => importOnnx(join(dir, 'model', 'escape.onnx')), /leaves the model's folder; refused/);
      assert.throws(() => importOnnx(join(dir, 'model', 'abs.onnx')), /is absolute/);
      assert.throws(() => importOnnxBytes(ext('w.bin')), /external data, which needs the model's folder/);
    } finally { cleanup(); }
  });
});

describe('importOnnx: opsets 1..6 (old exporters), with each op\'s legacy semantics', () => {
  // files of IR version 3 list their initializers among the graph inputs too (ONNX Runtime requires it)
  const legacy = (opset: number, nodes: Node[], inits: onnxProto.onnx.ITensorProto[], inDims: number[]): Uint8Array => encodeModel({
    irVersion: 3, opsetImport: [{ domain: '', version: opset }],
    graph: {
      name: 'g', node: nodes, initializer: inits, output: [valueInfo('y', ELEM.FLOAT, [])],
      input: [valueInfo('x', ELEM.FLOAT, inDims), ...inits.map((t) => valueInfo(t.name!, ELEM.FLOAT, (t.dims ?? []).map(Number)))],
    },
  });
  const fattr = (name: string, f: number): onnxProto.onnx.IAttributeProto => ({ name, type: onnxProto.onnx.AttributeProto.AttributeType.FLOAT, f });
  const seq = (n: number, f: (i: number) => number): number[] => Array.from({ length: n }, (_, i) => f(i));
  const xs = seq(24, (i) => Math.sin(i + 1));
  const x3 = ops.tensor(Float32Array.from(xs), { shape: [2, 3, 4] });

  it('opset 6: Add/Mul broadcast = 1 along an axis and as a suffix, Sub of equal shapes; re-export refuses the middle-axis broadcast and writes the suffix one', async () => {
    const b = [1, 2, 3], s = [0.5, -1, 2, 3];
    const bytes = legacy(6, [
      node('Add', ['x', 'b'], 'a', [attr('broadcast', 1), attr('axis', 1)]),
      node('Mul', ['a', 's'], 'm', [attr('broadcast', 1)]),
      node('Sub', ['m', 'x'], 'e'),
      node('Relu', ['e'], 'y'),
    ], [floatTensor('b', [3], b), floatTensor('s', [4], s)], [2, 3, 4]);
    const imp = importOnnxBytes(bytes);
    assert.equal(imp.opset, 6);
    const want = xs.map((v, i) => Math.max(0, (v + b[Math.floor(i / 4) % 3]!) * s[i % 4]! - v));
    assert.ok(maxRelError(call(imp.model, x3).dataSync(), want) <= 1e-6);
    assert.throws(() => serializeOnnx(imp.model, x3), /node 'a' \(Add\) broadcasts B 3 along axis 1 of A 2x3x4 \(opset 6\)/);
    // a trailing-dims broadcast is numpy's too: exported at opset 17 (broadcast, consumed_inputs dropped), ONNX Runtime agrees
    const tail = importOnnxBytes(legacy(5, [node('Mul', ['x', 's'], 'm', [attr('broadcast', 1), attr('consumed_inputs', [0, 0])]), node('Sub', ['m', 'x'], 'y')], [floatTensor('s', [4], s)], [2, 3, 4])).model;
    const ours = call(tail, x3);
    assert.ok(maxRelError(ours.dataSync(), xs.map((v, i) => v * s[i % 4]! - v)) <= 1e-6);
    const again = serializeOnnx(tail, x3);
    assert.equal(again.result.opset, 17);
    if (ort !== null) assert.ok(maxRelError(ours.dataSync(), (await runOrt(ort, again.bytes, 'x', x3, 'y')).data) <= 1e-6);
  });

  it('opset 6: Gemm C with and without broadcast, Dropout (is_test) and BatchNormalization (is_test, consumed_inputs ignored)', async () => {
    const w = seq(12, (i) => (i % 5) - 2), c = [0.5, -1, 2], c2 = seq(6, (i) => i / 4);
    const sc = [1, 2, 0.5], bi = [0, 1, -1], mu = [0.1, -0.2, 0.3], va = [1, 4, 0.25];
    const bytes = legacy(6, [
      node('Gemm', ['x', 'w', 'c'], 'g', [attr('broadcast', 1)]),
      node('Gemm', ['x', 'w', 'c2'], 'g2', [fattr('beta', 2)]),
      node('Add', ['g', 'g2'], 's'),
      node('Dropout', ['s'], 'd', [attr('is_test', 1), fattr('ratio', 0.3)]),
      node('BatchNormalization', ['d', 'sc', 'bi', 'mu', 'va'], 'y', [attr('is_test', 1), fattr('epsilon', 1e-3), attr('spatial', 1), attr('consumed_inputs', [0, 0, 0, 1, 1])]),
    ], [floatTensor('w', [4, 3], w), floatTensor('c', [3], c), floatTensor('c2', [2, 3], c2), floatTensor('sc', [3], sc), floatTensor('bi', [3], bi), floatTensor('mu', [3], mu), floatTensor('va', [3], va)], [2, 4]);
    const x = ops.tensor(Float32Array.from(xs.slice(0, 8)), { shape: [2, 4] });
    const want: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) {
      let dot = 0;
      for (let k = 0; k < 4; k++) dot += xs[i * 4 + k]! * w[k * 3 + j]!;
      const v = (dot + c[j]!) + (dot + 2 * c2[i * 3 + j]!);
      want.push((v - mu[j]!) / Math.sqrt(va[j]! + 1e-3) * sc[j]! + bi[j]!);
    }
    const got = call(importOnnxBytes(bytes).model, x).dataSync();
    assert.ok(maxRelError(got, want) <= 1e-5);
  });

  it('opsets 3 and 4: Reshape\'s shape attribute, Concat\'s default axis 1, Cast\'s type name, consumed_inputs; opset 4 agrees with ONNX Runtime', async () => {
    const x = ops.tensor(Float32Array.from(xs.slice(0, 12)), { shape: [2, 6] });
    const m3 = importOnnxBytes(legacy(3, [
      node('Reshape', ['x'], 'r', [attr('shape', [2, 3, 2])]),
      node('Relu', ['r'], 'u', [attr('consumed_inputs', [0])]),
      node('Concat', ['u', 'u'], 'k'),
      node('Cast', ['k'], 'y', [attr('to', 'FLOAT')]),
    ], [], [2, 6])).model;
    const y = call(m3, x);
    assert.deepEqual(y.shape, [2, 6, 2]);
    const want: number[] = [];
    for (let i = 0; i < 2; i++) for (let r = 0; r < 2; r++) for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) want.push(Math.max(0, xs[i * 6 + j * 2 + k]!));
    assert.ok(maxRelError(y.dataSync(), want) <= 1e-6);
    const w = seq(6, (i) => i - 2.5);
    const b4 = legacy(4, [node('Reshape', ['x'], 'r', [attr('shape', [4, 3])]), node('MatMul', ['r', 'w'], 'm'), node('Softmax', ['m'], 'y')], [floatTensor('w', [3, 2], w)], [2, 6]);
    const ours = call(importOnnxBytes(b4).model, x);
    assert.deepEqual(ours.shape, [4, 2]);
    if (ort !== null) assert.ok(maxRelError(ours.dataSync(), (await runOrt(ort, b4, 'x', x, 'y')).data) <= 1e-5);
  });

  it('refusals name the node and the opset: unequal shapes without broadcast, a B that does not match at its axis, Gemm C not (M, N), ops newer than the file, opset 0', () => {
    const run = (bytes: Uint8Array, x: Tensor): Tensor => call(importOnnxBytes(bytes).model, x);
    const x2 = ops.ones([2, 3]);
    assert.throws(() => run(legacy(6, [node('Add', ['x', 'b'], 'y', [], 'nb')], [floatTensor('b', [3], [1, 2, 3])], [2, 3]), x2),
      /node 'nb' \(Add\): shapes \(2, 3\) and \(3,\) differ; at opset 6 \(no numpy broadcasting\) they must be equal unless broadcast = 1/);
    assert.throws(() => run(legacy(5, [node('Mul', ['x', 'b'], 'y', [attr('broadcast', 1), attr('axis', 0)], 'ax')], [floatTensor('b', [3], [1, 2, 3])], [2, 3]), x2),
      /node 'ax' \(Mul\): B \(3,\) does not match A \(2, 3\) at axis 0/);
    assert.throws(() => run(legacy(6, [node('Gemm', ['x', 'w', 'c'], 'y', [], 'gm')], [floatTensor('w', [3, 2], seq(6, (i) => i)), floatTensor('c', [2], [1, 2])], [2, 3]), x2),
      /node 'gm' \(Gemm\): C \(2,\) must be \(2, 2\) \(M, N\): at opset 6 C broadcasts only with broadcast = 1/);
    assert.throws(() => importOnnxBytes(legacy(6, [node('Erf', ['x'], 'y', [], 'er')], [], [2, 3])), /node 'er' \(Erf\): Erf is defined from opset 9; this model is opset 6/);
    assert.throws(() => importOnnxBytes(legacy(6, [node('Gelu', ['x'], 'y', [], 'ge')], [], [2, 3])), /Gelu is defined from opset 20; this model is opset 6/);
    assert.throws(() => importOnnxBytes(build(0, [node('Relu', ['x'], 'y')], [], ['n', 2])), /opset 0 is not supported; supported: 1\.\.21/);
  });
});
