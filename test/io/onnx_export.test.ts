// ONNX export checked by an outside runtime: every preset (and pruned, shrunk and hand-built models
// covering every exported layer) is written with exportOnnx/serializeOnnx, run in ONNX Runtime
// (npm onnxruntime-node) and compared with our own eval-mode outputs. Float32 tolerance: max
// relative error <= 1e-4, measured as max_i |ours_i - ort_i| / max_i |ort_i| (see onnx_helpers.ts).
// Without ONNX Runtime the comparisons skip, saying why; the file-format checks still run.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import onnxProto from 'onnx-proto';
import { manualSeed, noGrad, TensorslimError, type Tensor } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import {
  Conv2d, Dropout, Embedding, Module, Flatten, GELU, Identity, LayerNorm, Linear, LogSoftmax, MaxPool2d, ReLU, Sequential, Sigmoid, Softmax, Tanh,
  type AnyModule,
} from '../../src/nn/index.js';
import { createAnyModel, createModel, isGptModel, listModels } from '../../src/models/index.js';
import { prune } from '../../src/compress/index.js';
import { AvgPool2d, exportOnnx, FrozenBatchNorm, GlobalAvgPool2d, importOnnxBytes, Reshape, serializeOnnx, Transpose, type ExportOnnxOptions } from '../../src/io/onnx/index.js';
import { loadOrt, maxRelError, runOrt } from './onnx_helpers.js';
import { tempDir } from './helpers.js';

const TOL = 1e-4;
const { ort, why } = await loadOrt();
const skip = ort === null ? (why ?? true) : false;

function ours(model: AnyModule, x: Tensor): Tensor {
  const was = model.training;
  model.eval();
  try { return noGrad(() => (model as unknown as { call(x: Tensor): Tensor }).call(x)); } finally { model.train(was); }
}

/** Export, run in ONNX Runtime on `x` (default: the sample), compare with ours; returns the error. */
async function checkInOrt(model: AnyModule, sample: Tensor, opts: ExportOnnxOptions = {}, x: Tensor = sample): Promise<number> {
  const { bytes, result } = serializeOnnx(model, sample, opts);
  const got = await runOrt(ort!, bytes, result.inputs[0]!.name, x, result.outputs[0]!.name);
  const want = ours(model, x);
  assert.deepEqual(got.dims, want.shape);
  const err = maxRelError(got.data, want.dataSync());
  assert.ok(err <= TOL, `relative error ${err} > ${TOL} (${JSON.stringify(result.ops)})`);
  return err;
}

function decode(bytes: Uint8Array): onnxProto.onnx.ModelProto { return onnxProto.onnx.ModelProto.decode(bytes); }

describe('exportOnnx: every preset runs in ONNX Runtime with our outputs', () => {
  for (const p of listModels()) {
    it(`${p.name} (opset 17)`, { skip }, async () => {
      manualSeed(1);
      const m = createAnyModel(p.name);
      const x = isGptModel(m) ? ops.tensor([[72, 101, 108, 108, 111], [1, 2, 3, 250, 0]], { dtype: 'int32' }) : ops.randn([3, 784]);
      await checkInOrt(m, x);
    });
  }

  it('gpt-tiny with the decomposed forms (opset 13: LayerNorm and erf GELU by hand) and the single ops (opset 20)', { skip }, async () => {
    manualSeed(2);
    const m = createModel('gpt-tiny', { nLayer: 2 });
    const x = ops.tensor([[5, 6, 7], [8, 9, 10]], { dtype: 'int32' });
    const decomposed = decode(serializeOnnx(m, x, { opset: 13 }).bytes).graph!.node!.map((n) => n.opType);
    assert.ok(!decomposed.includes('LayerNormalization') && decomposed.includes('Erf') && decomposed.includes('ReduceMean'));
    const single = decode(serializeOnnx(m, x, { opset: 20 }).bytes).graph!.node!.map((n) => n.opType);
    assert.ok(single.includes('Gelu') && single.includes('LayerNormalization'));
    await checkInOrt(m, x, { opset: 13 });
    await checkInOrt(m, x, { opset: 20 });
  });

  it('a GPT exported at one sequence length runs at another (causal mask and positions cut to T)', { skip }, async () => {
    manualSeed(3);
    const m = createModel('gpt-tiny', { nLayer: 1, blockSize: 16 });
    await checkInOrt(m, ops.tensor([[1, 2, 3, 4]], { dtype: 'int32' }), {}, ops.tensor([[9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12, 13, 14, 15, 16], [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]], { dtype: 'int32' }));
  });
});

describe('exportOnnx: layers and options', () => {
  it('every supported layer: conv with stride/padding/dilation, pools, activations, GELU both forms, softmaxes, LayerNorm, Flatten ranges', { skip }, async () => {
    manualSeed(4);
    const net = new Sequential(
      new Conv2d(3, 4, 3, { stride: 2, padding: 1 }), new Sigmoid(), new Conv2d(4, 5, [3, 1], { dilation: [1, 2], bias: false }), new Tanh(),
      new MaxPool2d(3, { stride: 1, padding: 1 }), new AvgPool2d([2, 2], [2, 2], [0, 0]),
      new FrozenBatchNorm(ops.randn([5]), ops.randn([5]), ops.randn([5]), ops.add(ops.rand([5]), 0.5), 1e-5),
      new Flatten(2), new Transpose([0, 2, 1]), new LayerNorm(5), new GELU({ approximate: 'tanh' }), new Reshape([0, -1]),
      new Dropout(0.3), new Identity(), new Linear(3 * 5, 7), new GELU(), new ReLU(), new Linear(7, 6), new LogSoftmax(1), new Softmax(-1),
    );
    const x = ops.randn([2, 3, 9, 13]);
    for (const opset of [11, 13, 17, 20]) await checkInOrt(net, x, { opset });
    const g = new Sequential(new Conv2d(2, 3, 1), new GlobalAvgPool2d(), new Flatten(), new LayerNorm(3, { bias: false }), new LayerNorm(3, { elementwiseAffine: false }));
    await checkInOrt(g, ops.randn([4, 2, 5, 5]));
    await checkInOrt(g, ops.randn([4, 2, 5, 5]), { opset: 16 });
  });

  it('grouped and depthwise Conv2d export with their group attribute, run in ONNX Runtime and import back', { skip }, async () => {
    manualSeed(8);
    const net = new Sequential(
      new Conv2d(4, 6, 3, { padding: 1, groups: 2 }), new ReLU(), new Conv2d(6, 12, 3, { stride: 2, padding: 1, groups: 6 }), new ReLU(),
      new Conv2d(12, 12, 3, { padding: 1, groups: 12, bias: false }), new Conv2d(12, 3, 1),
    );
    const x = ops.randn([2, 4, 7, 7]);
    await checkInOrt(net, x);
    const bytes = serializeOnnx(net, x).bytes;
    const groups = decode(bytes).graph!.node!.filter((n) => n.opType === 'Conv').map((n) => Number(n.attribute!.find((a) => a.name === 'group')!.i));
    assert.deepEqual(groups, [2, 6, 12, 1]);
    const back = importOnnxBytes(bytes).model;
    assert.deepEqual(back.modules().filter((m): m is Conv2d => m instanceof Conv2d).map((m) => m.groups), [2, 6, 12, 1]);
    assert.ok(maxRelError(ours(back, x).dataSync(), ours(net, x).dataSync()) <= 1e-6);
  });

  it('Embedding exports as Gather', { skip }, async () => {
    manualSeed(5);
    const net = new Sequential(new Embedding(11, 4), new Flatten(), new Linear(12, 2));
    await checkInOrt(net, ops.tensor([[1, 2, 10], [0, 0, 3]], { dtype: 'int32' }));
  });

  it('dynamic batch: exported with batch 1, runs with batch 5; named input and output', { skip }, async () => {
    manualSeed(6);
    const m = createModel('lenet5');
    const { bytes, result } = serializeOnnx(m, ops.randn([1, 1, 28, 28]), { inputNames: ['pixels'], outputNames: ['scores'] });
    assert.deepEqual(result.inputs, [{ name: 'pixels', dtype: 'float32', shape: ['batch', 1, 28, 28] }]);
    assert.deepEqual(result.outputs, [{ name: 'scores', dtype: 'float32', shape: ['batch', 10] }]);
    const x = ops.randn([5, 1, 28, 28]);
    const got = await runOrt(ort!, bytes, 'pixels', x, 'scores');
    assert.ok(maxRelError(got.data, ours(m, x).dataSync()) <= TOL);
  });

  it('dynamicBatch: false writes fixed dims', () => {
    const { result } = serializeOnnx(createModel('mlp-tiny'), ops.zeros([2, 784]), { dynamicBatch: false });
    assert.deepEqual(result.inputs[0]!.shape, [2, 784]);
    assert.deepEqual(result.outputs[0]!.shape, [2, 10]);
  });

  it('writes the file atomically; the file states its opset, IR version and producer; initializers carry state-dict names', async () => {
    const { dir, cleanup } = tempDir();
    try {
      manualSeed(7);
      const m = createModel('mlp-tiny');
      const path = join(dir, 'm.onnx');
      const r = exportOnnx(m, ops.zeros([1, 784]), path, { opset: 15 });
      const bytes = new Uint8Array(readFileSync(path));
      assert.equal(r.bytes, bytes.length);
      const model = decode(bytes);
      assert.equal(model.opsetImport[0]!.version.toString(), '15');
      assert.equal(model.irVersion.toString(), '8');
      assert.equal(model.producerName, 'tensorslim');
      assert.deepEqual(model.graph!.initializer!.map((t) => t.name).sort(), [...m.stateDict().keys()].sort());
      if (ort !== null) {
        const s = await ort.InferenceSession.create(path);
        assert.deepEqual(s.inputNames, ['input']);
      }
    } finally { cleanup(); }
  });

  it('refuses an unknown layer (naming its path and class), a bad opset, float64 weights, bad names; the model keeps its mode', () => {
    class Unknown extends Module { forward(x: Tensor): Tensor { return x; } }
    const net = new Sequential(new Linear(4, 4), new Unknown());
    net.train();
    net.at(0).eval();   // mixed modes come back as they were
    assert.throws(() => serializeOnnx(net, ops.zeros([1, 4])), (e: Error) => e instanceof TensorslimError && /'1' is a Unknown/.test(e.message) && /supported:/.test(e.message));
    assert.deepEqual(net.modules().map((m) => m.training), [true, false, true]);
    assert.throws(() => serializeOnnx(net, ops.zeros([1, 4]), { opset: 9 }), /opset must be an integer in \[11, 21\], got 9/);
    assert.throws(() => serializeOnnx(new Sequential(new Linear(4, 2).to('float64')), ops.zeros([1, 4])), /float64.*model\.to\('float32'\)/);
    assert.throws(() => serializeOnnx(createModel('mlp-tiny'), ops.zeros([1, 784]), { inputNames: ['a', 'b'] }), /inputNames must hold exactly one/);
    assert.throws(() => serializeOnnx(createModel('gpt-tiny'), ops.zeros([1, 4])), /int32 token ids/);
  });
});

describe('exportOnnx: pruned models', () => {
  it('unstructured masks are written as dense weights with zeros and agree with ONNX Runtime', { skip }, async () => {
    manualSeed(8);
    const m = createModel('lenet5');
    prune.pruneWeights(m, 0.8);
    const { bytes } = serializeOnnx(m, ops.randn([2, 1, 28, 28]));
    const init = decode(bytes).graph!.initializer!.find((t) => t.name === '10.weight')!;   // Linear(120, 84)
    const w = new Float32Array(new Uint8Array(init.rawData!).buffer);
    const zeros = w.filter((v) => v === 0).length / w.length;
    assert.ok(zeros > 0.5, `expected most weights zero, got ${zeros}`);
    await checkInOrt(m, ops.randn([2, 1, 28, 28]));
  });

  it('a structured-shrunk MLP exports as plain smaller layers; a SparseLinear exports dense', { skip }, async () => {
    manualSeed(9);
    const m = createModel('mlp');
    const small = prune.shrink(m, { amount: 0.5, norm: 1 }).model;
    const { result } = serializeOnnx(small, ops.zeros([1, 784]));
    assert.deepEqual(result.ops, { Flatten: 1, Gemm: 3, Relu: 2 });
    await checkInOrt(small, ops.randn([3, 784]));
    const fc = new Linear(6, 5);
    prune.l1Unstructured(fc, 'weight', 0.6);
    const sparse = new Sequential(prune.SparseLinear.fromLinear(fc), new ReLU());
    await checkInOrt(sparse, ops.randn([4, 6]));
  });
});
