// Sparse execution: CSR arrays match PyTorch's to_sparse_csr (fixture from
// tools/fixtures/prune_sparse_fixtures.py), SparseLinear gives the dense-masked outputs (PyTorch's
// and ours), gradients of the composed path match finite differences, toSparse/loadSparse keep
// outputs through a safetensors round trip, and the bytes shrink at 90% sparsity.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import {
  Linear, ReLU, Sequential, Tensor, manualSeed, noGrad, randn, tensor, sum, mul,
} from '../../src/index.js';
import { prune } from '../../src/compress/index.js';
import { createModel, modelFromConfig } from '../../src/models/index.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { stateDictBytes } from '../../src/io/size.js';
import { benchSparse } from '../../src/bench/sparse.js';

interface Fx { shape: number[]; data: number[] }
const fx = JSON.parse(readFileSync(new URL('../fixtures/prune_sparse.json', import.meta.url), 'utf8')) as {
  weight: Fx; bias: number[]; mask: number[]; crow_indices: number[]; col_indices: number[]; values: number[]; x: Fx; y: number[];
};
const vals = (t: Tensor): number[] => Array.from(t.dataSync());
const f64 = (f: Fx): Tensor => tensor(new Float64Array(f.data), { shape: f.shape });

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol * (1 + Math.abs(b[i]!)), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

/** The fixture's layer, pruned with the fixture's mask (float64). */
function fixtureLinear(): Linear {
  const lin = new Linear(12, 7, { dtype: 'float64' });
  noGrad(() => { lin.weight.assign(f64(fx.weight)); lin.bias!.assign(tensor(new Float64Array(fx.bias))); });
  prune.customFromMask(lin, 'weight', tensor(new Float64Array(fx.mask), { shape: fx.weight.shape }));
  return lin;
}

describe('CSR format', () => {
  test('denseToCsr of the pruned weight equals torch to_sparse_csr (crow, col, values)', () => {
    const lin = fixtureLinear();
    const sp = prune.SparseLinear.fromLinear(lin);
    const w = sp.weight.csr();
    assert.deepEqual(Array.from(w.crowIndices), fx.crow_indices);
    assert.deepEqual(Array.from(w.colIndices), fx.col_indices);
    assert.deepEqual(Array.from(w.values), fx.values);
    assert.equal(sp.nnz, fx.values.length);
    // row 3 is empty in the fixture
    assert.equal(fx.crow_indices[4], fx.crow_indices[3]);
  });

  test('csrToDense inverts denseToCsr', () => {
    const d = new Float32Array([0, 1.5, 0, -2, 0, 0, 0, 0, 3, 0, 0, 4]);
    const w = prune.denseToCsr(d, 3, 4);
    // hand-derived: row 0 -> cols 1, 3; row 1 empty; row 2 -> cols 0, 3
    assert.deepEqual(Array.from(w.crowIndices), [0, 2, 2, 4]);
    assert.deepEqual(Array.from(w.colIndices), [1, 3, 0, 3]);
    assert.deepEqual(Array.from(w.values), [1.5, -2, 3, 4]);
    assert.deepEqual(Array.from(prune.csrToDense(w)), Array.from(d));
    assert.equal(prune.csrBytes(w), 4 * 4 + 4 * 4 + 4 * 4);
  });

  test('the reference kernel computes x W^T + b (hand-derived, batch 5 covers the 4-row block and the tail)', () => {
    const w = prune.denseToCsr(new Float64Array([0, 2, 0, 1, 0, 0, 0, 0, -1, 0, 3, 0]), 3, 4, 'float64');
    const x = Float64Array.from({ length: 20 }, (_, i) => i - 7);
    const out = new Float64Array(15);
    prune.csrLinearReference(x, 5, w, new Float64Array([0.5, -1, 2]), out);
    for (let b = 0; b < 5; b++) {
      const r = x.subarray(b * 4, b * 4 + 4);
      assert.deepEqual(Array.from(out.subarray(b * 3, b * 3 + 3)), [2 * r[1]! + r[3]! + 0.5, -1, -r[0]! + 3 * r[2]! + 2]);
    }
  });

  test('checkCsr refuses malformed arrays', () => {
    const ok = prune.denseToCsr(new Float32Array([1, 0, 0, 2]), 2, 2);
    const bad = (patch: Partial<prune.CsrMatrix>, re: RegExp): void => assert.throws(() => prune.checkCsr('t', { ...ok, ...patch }), re);
    bad({ crowIndices: new Int32Array([0, 1]) }, /crow_indices has 2 entries, expected rows \+ 1 = 3/);
    bad({ colIndices: new Int32Array([0, 5]) }, /column index 5 at entry 1 \(row 1\) is out of range for 2 columns/);
    bad({ crowIndices: new Int32Array([0, 2, 1]) }, /crow_indices must start at 0 and end at nnz = 2/);
    bad({ colIndices: new Int32Array([1, 0]), crowIndices: new Int32Array([0, 2, 2]) }, /not strictly ascending/);
    bad({ values: new Float32Array([1]) }, /values has 1 entries but col_indices has 2/);
  });
});

describe('SparseLinear', () => {
  test('same outputs as PyTorch and as the dense masked layer (float64, kernel path)', () => {
    const lin = fixtureLinear();
    const sp = prune.SparseLinear.fromLinear(lin);
    const x = f64(fx.x);
    const ys = noGrad(() => sp.call(x));
    assert.deepEqual([...ys.shape], [5, 7]);
    close(vals(ys), fx.y, 1e-12, 'sparse vs torch');
    close(vals(ys), vals(noGrad(() => lin.call(x))), 1e-12, 'sparse vs dense masked');
  });

  test('leading batch dims are kept; float32 matches dense within 1e-6', () => {
    manualSeed(1);
    const lin = new Linear(16, 9);
    prune.l1Unstructured(lin, 'weight', 0.8);
    const sp = prune.SparseLinear.fromLinear(lin);
    const x = randn([2, 3, 16]);
    const ys = noGrad(() => sp.call(x));
    assert.deepEqual([...ys.shape], [2, 3, 9]);
    close(vals(ys), vals(noGrad(() => lin.call(x))), 1e-6, 'float32');
  });

  test('gradients (composed path) match the dense masked layer and finite differences', () => {
    const lin = fixtureLinear();
    const sp = prune.SparseLinear.fromLinear(lin, { requiresGrad: true });
    const x = f64(fx.x).requiresGrad_();
    const loss = (y: Tensor): Tensor => sum(mul(y, y));
    loss(sp.call(x)).backward();
    const gx = vals(x.grad!), gv = vals(sp.weight.values.grad!), gb = vals(sp.bias!.grad!);
    x.grad = null;
    loss(lin.call(x)).backward();
    close(gx, vals(x.grad!), 1e-12, 'dL/dx');
    close(gb, vals(lin.bias!.grad!), 1e-12, 'dL/db');
    // dL/dvalues[k] = dL/dW[row, col] of the dense layer at the stored positions
    const gW = vals((lin as unknown as Record<string, Tensor>)['weight_orig']!.grad!);
    const w = sp.weight.csr();
    const expect: number[] = [];
    for (let r = 0; r < w.rows; r++) for (let k = w.crowIndices[r]!; k < w.crowIndices[r + 1]!; k++) expect.push(gW[r * 12 + w.colIndices[k]!]!);
    close(gv, expect, 1e-12, 'dL/dvalues');
    // central differences on one value
    const h = 1e-6, k = 3, v = sp.weight.values;
    const f = (): number => noGrad(() => loss(sp.call(f64(fx.x))).item());
    const v0 = v.data[k]!;
    v.data[k] = v0 + h; const fp = f();
    v.data[k] = v0 - h; const fm = f();
    v.data[k] = v0;
    assert.ok(Math.abs((fp - fm) / (2 * h) - gv[k]!) < 1e-6);
  });

  test('state-dict keys use PyTorch sparse CSR names', () => {
    const sp = prune.SparseLinear.fromLinear(fixtureLinear());
    assert.deepEqual([...sp.stateDict().keys()], ['bias', 'weight.values', 'weight.crow_indices', 'weight.col_indices', 'weight.size']);
    const sd = sp.stateDict();
    assert.equal(sd.get('weight.crow_indices')!.dtype, 'int32');
    assert.equal(sd.get('weight.col_indices')!.dtype, 'int32');
    assert.deepEqual(vals(sd.get('weight.size')!), [7, 12]);
  });

  test('bad input: wrong width, wrong dtype', () => {
    const sp = prune.SparseLinear.fromLinear(fixtureLinear());
    assert.throws(() => sp.call(randn([2, 5], { dtype: 'float64' })), /SparseLinear\(12, 7\): input last dimension 5 does not match inFeatures 12/);
    assert.throws(() => sp.call(randn([2, 12])), /input is float32 but the layer is float64/);
  });
});

describe('toSparse and loadSparse', () => {
  test('LeNet-300-100 at 90%: same outputs, nonzeros counted, state dict about 5x smaller, checkpoint round trip', () => {
    manualSeed(2);
    const model = createModel('mlp');
    model.eval();
    prune.pruneWeights(model, 0.9);
    const x = randn([4, 784]);
    const yDense = vals(noGrad(() => model.call(x)));
    // hand count: weights 784*300 + 300*100 + 100*10 = 266200, 10% kept per layer (23520 + 3000 + 100), biases 410
    assert.equal(prune.countNonzeros(model), 23520 + 3000 + 100 + 410);
    const denseBytes = stateDictBytes(new Map([...model.stateDict()].filter(([k]) => !k.endsWith('_mask'))));
    assert.equal(denseBytes, 266610 * 4);

    prune.toSparse(model);
    assert.deepEqual(model.namedModules().filter(([, m]) => m instanceof prune.SparseLinear).map(([n]) => n), ['1', '3', '5']);
    close(vals(noGrad(() => model.call(x))), yDense, 1e-5, 'sparse model');
    assert.equal(prune.countNonzeros(model), 23520 + 3000 + 100 + 410);
    const layers = prune.sparseLayers(model);
    assert.deepEqual(layers.map((l) => l.nonzeros), [23520, 3000, 100]);
    // CSR bytes: 8 per nonzero + 4 per row pointer (rows + 1) + 8 for the size buffer, plus float32 biases
    const sparseBytes = stateDictBytes(model);
    assert.equal(sparseBytes, 8 * 26620 + 4 * (301 + 101 + 11) + 3 * 8 + 4 * 410);
    assert.ok(sparseBytes < denseBytes / 4.5, `${sparseBytes} vs ${denseBytes}`);

    // through a safetensors file into a dense model built from the config
    const parsed = parseSafetensors(serializeSafetensors(model.stateDict()));
    const fresh = prune.loadSparse(modelFromConfig(model.config), parsed.tensors);
    fresh.eval();
    close(vals(noGrad(() => fresh.call(x))), yDense, 1e-5, 'reloaded');
  });

  test('toSparse skips dense layers by default, converts named ones, refuses non-Linear names', () => {
    manualSeed(3);
    const net = new Sequential(new Linear(6, 5), new ReLU(), new Linear(5, 3));
    prune.l1Unstructured(net.at(0) as unknown as Linear, 'weight', 0.6);
    prune.toSparse(net);
    assert.ok(net.at(0) instanceof prune.SparseLinear);
    assert.ok(net.at(2) instanceof Linear);
    prune.toSparse(net, { layers: ['2'] });
    assert.ok(net.at(2) instanceof prune.SparseLinear);
    assert.throws(() => prune.toSparse(net, { layers: ['1'] }), /'1' is a ReLU, not a Linear/);
    assert.throws(() => prune.toSparse(net, { layers: ['7'] }), /no module '7'/);
  });

  test('loadSparse refuses corrupt arrays and leaves the model unchanged', () => {
    manualSeed(4);
    const net = new Sequential(new Linear(6, 5), new ReLU(), new Linear(5, 3));
    const before = [...net];
    const good = (() => {
      const src = new Sequential(new Linear(6, 5), new ReLU(), new Linear(5, 3));
      prune.l1Unstructured(src.at(0) as unknown as Linear, 'weight', 0.5);
      return prune.toSparse(src).stateDict();
    })();
    const withKey = (k: string, t: Tensor): Map<string, Tensor> => new Map([...good, [k, t]]);
    assert.throws(() => prune.loadSparse(net, withKey('0.weight.col_indices', tensor(new Int32Array(15).fill(9), { dtype: 'int32' }))), /column index 9 .* out of range for 6 columns/);
    assert.throws(() => prune.loadSparse(net, withKey('0.weight.size', tensor(new Int32Array([5, 7]), { dtype: 'int32' }))), /'0.weight.size' is \(5, 7\) but '0' is \(5, 6\)/);
    assert.throws(() => prune.loadSparse(net, new Map([...good].filter(([k]) => k !== '0.weight.values'))), /'0.weight.values' is missing/);
    assert.throws(() => prune.loadSparse(net, new Map([...good].filter(([k]) => k !== '2.bias'))), /missing keys/);
    assert.deepEqual([...net], before);
    prune.loadSparse(net, good);
    assert.ok(net.at(0) instanceof prune.SparseLinear);
  });
});

describe('benchSparse', () => {
  test('returns the documented fields (no timing assertions)', () => {
    const r = benchSparse({ sparsity: 0.9, batch: 2, inFeatures: 40, outFeatures: 30, repeats: 3 });
    assert.equal(r.bench, 'sparse');
    assert.equal(r.sparsity, 0.9);
    assert.equal(r.nonzeros, 120); // 10% of 1200
    for (const k of ['denseMs', 'sparseMs', 'speedup'] as const) assert.ok(Number.isFinite(r[k]) && r[k] > 0, k);
    assert.throws(() => benchSparse({ sparsity: 2 }), /sparsity must be in \[0, 1\]/);
  });
});

