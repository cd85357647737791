// Module: registration (explicit and by field), PyTorch key names, hooks, train/eval, stateDict
// round trips, strict/non-strict loading that changes nothing on error, the pruning seam, to().

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ops from '../../src/ops/index.js';
import type { Tensor } from '../../src/core/tensor.js';
import { manualSeed } from '../../src/core/random.js';
import {
  Module, Parameter, Linear, ReLU, Sequential, ModuleList, ModuleDict, Dropout, cloneStateDict, Identity,
} from '../../src/nn/index.js';

class Block extends Module {
  fc = new Linear(3, 3);
  forward(x: Tensor): Tensor { return ops.relu(this.fc.call(x)); }
}

class Net extends Module {
  layer1 = new Linear(2, 3);
  blocks = new ModuleList([new Block(), new Block()]);
  head: Linear;
  drop = new Dropout(0.5);
  constructor() {
    super();
    this.head = new Linear(3, 1, { bias: false });
    this.registerBuffer('steps', ops.zeros([1]));
    this.registerBuffer('scratch', ops.zeros([2]), false);
  }
  forward(x: Tensor): Tensor {
    let h = this.layer1.call(x);
    for (const b of this.blocks) h = b.call(h);
    return this.head.call(this.drop.call(h));
  }
}

test('PyTorch key names: Sequential and a nested custom module', () => {
  const seq = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1));
  assert.deepEqual([...seq.stateDict().keys()], ['0.weight', '0.bias', '2.weight', '2.bias']);
  assert.deepEqual(seq.namedChildren().map(([n]) => n), ['0', '1', '2']);
  const net = new Net();
  // PyTorch order: a module's own parameters and buffers first, then its children in order;
  // 'scratch' is not persistent so it is not saved
  assert.deepEqual([...net.stateDict().keys()], [
    'steps', 'layer1.weight', 'layer1.bias', 'blocks.0.fc.weight', 'blocks.0.fc.bias', 'blocks.1.fc.weight', 'blocks.1.fc.bias',
    'head.weight',
  ]);
  assert.deepEqual(net.namedParameters().map(([n]) => n), [
    'layer1.weight', 'layer1.bias', 'blocks.0.fc.weight', 'blocks.0.fc.bias', 'blocks.1.fc.weight', 'blocks.1.fc.bias', 'head.weight',
  ]);
  assert.deepEqual(net.namedBuffers().map(([n]) => n), ['steps', 'scratch']);
  assert.deepEqual(net.namedModules().map(([n]) => n), ['', 'layer1', 'blocks', 'blocks.0', 'blocks.0.fc', 'blocks.1', 'blocks.1.fc', 'head', 'drop']);
  assert.equal(net.getSubmodule('blocks.1.fc'), net.blocks.at(1).fc);
  assert.equal(net.getParameter('blocks.0.fc.bias'), net.blocks.at(0).fc.bias);
  assert.equal(net.parameters(false).length, 0);
  // 2*3+3 + 2*(3*3+3) + 3 = 9 + 24 + 3
  assert.equal(net.numParameters(), 36);
  const dict = new ModuleDict({ cls: new Linear(2, 2), reg: new Linear(2, 1) });
  assert.deepEqual([...dict.stateDict().keys()], ['cls.weight', 'cls.bias', 'reg.weight', 'reg.bias']);
});

test('parameter identity is stable across calls, stateDict and loadStateDict', () => {
  const net = new Net();
  const before = net.parameters();
  assert.deepEqual(net.parameters(), before);
  net.call(ops.ones([4, 2]));
  const sd = cloneStateDict(net.stateDict());
  net.loadStateDict(sd);
  const after = net.parameters();
  for (let i = 0; i < before.length; i++) assert.equal(after[i], before[i]);
  assert.ok(before.every((p) => p instanceof Parameter && p.isLeaf && p.requiresGrad));
});

test('stateDict round trip restores values; stateDict values are detached views', () => {
  manualSeed(1);
  const a = new Net();
  const b = new Net();
  const x = ops.randn([5, 2]);
  a.eval(); b.eval();
  assert.notDeepEqual(a.call(x).toArray(), b.call(x).toArray());
  b.loadStateDict(a.stateDict());
  assert.deepEqual(b.call(x).toArray(), a.call(x).toArray());
  const sd = a.stateDict();
  const w = sd.get('layer1.weight')!;
  assert.equal(w.requiresGrad, false);
  assert.equal(w.data, a.layer1.weight.data);   // shares storage, like PyTorch
  // plain-object state dicts are accepted too
  b.loadStateDict(Object.fromEntries(cloneStateDict(a.stateDict())));
});

test('loadStateDict strict: one error listing every problem, and nothing changed', () => {
  const net = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1));
  const snapshot = cloneStateDict(net.stateDict());
  const bad = cloneStateDict(net.stateDict());
  bad.delete('2.bias');                                   // missing
  bad.set('9.weight', ops.zeros([4, 4]));                 // unexpected
  bad.set('0.weight', ops.ones([3, 2]));                  // fine on its own (must not be applied)
  bad.set('0.bias', ops.zeros([4]));                      // wrong shape
  bad.set('2.weight', ops.zeros([1, 3], { dtype: 'int32' })); // wrong dtype kind
  assert.throws(() => net.loadStateDict(bad), (e: Error) => {
    assert.match(e.message, /^loadStateDict\(Sequential\): nothing was loaded/);
    assert.match(e.message, /missing keys .*: 2\.bias \(1,\)/);
    assert.match(e.message, /unexpected keys .*: 9\.weight \(4, 4\)/);
    assert.match(e.message, /0\.bias: shape \(4,\) in the state dict vs \(3,\) in the model/);
    assert.match(e.message, /2\.weight: dtype int32 in the state dict vs float32 in the model/);
    assert.match(e.message, /strict: false/);
    return true;
  });
  for (const [k, v] of net.stateDict()) assert.deepEqual(v.toArray(), snapshot.get(k)!.toArray(), k);
});

test('loadStateDict non-strict: reports missing/unexpected, loads the rest, still refuses shape mismatch', () => {
  const net = new Sequential(new Linear(2, 3), new ReLU(), new Linear(3, 1));
  const partial = new Map<string, Tensor>([['0.weight', ops.ones([3, 2])], ['extra', ops.zeros([1])]]);
  const r = net.loadStateDict(partial, { strict: false });
  assert.deepEqual(r, { missingKeys: ['0.bias', '2.weight', '2.bias'], unexpectedKeys: ['extra'] });
  assert.deepEqual(net.at(0).stateDict().get('weight')!.toArray(), [[1, 1], [1, 1], [1, 1]]);
  assert.throws(() => net.loadStateDict(new Map([['0.weight', ops.ones([2, 2])]]), { strict: false }), /0\.weight: shape \(2, 2\)/);
  // float64 values load into float32 parameters (converted), as PyTorch's copy_ does
  net.loadStateDict(new Map([['0.bias', ops.tensor([1, 2, 3], { dtype: 'float64' })]]), { strict: false });
  assert.deepEqual(net.at(0).stateDict().get('bias')!.toArray(), [1, 2, 3]);
});

test('forward hooks run in order, can replace args/output, and are removable', () => {
  const lin = new Linear(2, 2);
  const calls: string[] = [];
  const h1 = lin.registerForwardPreHook((_m, [x]) => { calls.push('pre'); return [ops.mul(x, 0)]; });
  const h2 = lin.registerForwardHook((_m, _args, out) => { calls.push('post'); return ops.add(out, 100); });
  const y = lin.call(ops.ones([1, 2]));
  assert.deepEqual(calls, ['pre', 'post']);
  // input zeroed -> output = bias + 100
  const b = lin.bias!.dataSync();
  const yd = y.dataSync();
  assert.ok(Math.abs(yd[0]! - (b[0]! + 100)) < 1e-4 && Math.abs(yd[1]! - (b[1]! + 100)) < 1e-4);
  h1.remove(); h2.remove(); h2.remove();
  calls.length = 0;
  const z = lin.call(ops.zeros([1, 2]));
  assert.deepEqual(calls, []);
  assert.deepEqual(z.toArray(), [[...b]]);
});

test('a prepended forward pre-hook runs before the ones registered earlier; removing it keeps the order of the rest', { skip: process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'hook bookkeeping, no kernel: native pass only' : false }, () => {
  const lin = new Linear(2, 2);
  const calls: string[] = [];
  lin.registerForwardPreHook(() => { calls.push('a'); });
  lin.registerForwardPreHook(() => { calls.push('b'); });
  const first = lin.registerForwardPreHook(() => { calls.push('first'); }, { prepend: true });
  lin.call(ops.ones([1, 2]));
  assert.deepEqual(calls, ['first', 'a', 'b']);
  first.remove();
  calls.length = 0;
  lin.call(ops.ones([1, 2]));
  assert.deepEqual(calls, ['a', 'b']);
});

test('train/eval propagate to every descendant; Dropout is the identity in eval', () => {
  const net = new Net();
  assert.ok(net.modules().every((m) => m.training));
  net.eval();
  assert.ok(net.modules().every((m) => !m.training));
  const d = new Dropout(0.5);
  const x = ops.ones([100]);
  d.eval();
  assert.equal(d.call(x), x);
  net.train();
  assert.ok(net.modules().every((m) => m.training));
  d.train();
  const y = d.call(x).dataSync();
  // inverted dropout: survivors scaled by 1 / (1 - 0.5) = 2
  assert.ok([...y].every((v) => v === 0 || v === 2));
  assert.ok([...y].some((v) => v === 0) && [...y].some((v) => v === 2));
});

test('automatic registration: field assignment, replacement, null and delete follow PyTorch rules', () => {
  class M extends Module {
    a = new Linear(1, 1);
    scale = new Parameter(ops.ones([1]));
    forward(x: Tensor): Tensor { return x; }
  }
  const m = new M();
  // own parameters before the children's, as in PyTorch
  assert.deepEqual(m.namedParameters().map(([n]) => n), ['scale', 'a.weight', 'a.bias']);
  // assigning a new module/parameter to a registered name replaces it in place (same position)
  const a2 = new Linear(1, 1);
  m.a = a2;
  assert.equal(m.getSubmodule('a'), a2);
  // late fields register on the next inspection
  (m as unknown as Record<string, unknown>)['late'] = new Parameter(ops.zeros([2]));
  assert.deepEqual(m.namedParameters().map(([n]) => n), ['scale', 'late', 'a.weight', 'a.bias']);
  // a plain tensor cannot silently replace a parameter
  assert.throws(() => { (m as unknown as Record<string, unknown>)['scale'] = ops.ones([1]); }, /cannot assign a Tensor of shape \(1,\) to parameter 'scale'.*deleteParameter\('scale'\)/);
  // `delete` is noticed lazily
  delete (m as unknown as Record<string, unknown>)['late'];
  assert.deepEqual(m.namedParameters().map(([n]) => n), ['scale', 'a.weight', 'a.bias']);
  // registering over an existing non-parameter attribute is refused
  (m as unknown as Record<string, unknown>)['note'] = 'hello';
  assert.throws(() => m.registerParameter('note', new Parameter(ops.ones([1]))), /attribute 'note' already exists/);
  assert.throws(() => m.registerParameter('train', new Parameter(ops.ones([1]))), /shadow/);
  assert.throws(() => m.registerParameter('a.b', null), /must not contain '\.'/);
  assert.throws(() => m.registerParameter('p', ops.ones([1]) as Parameter), /must be a Parameter or null.*new Parameter\(t\)/);
});

test('pruning seam: weight -> weight_orig + weight_mask, pre-hook recomputes a plain tensor weight', () => {
  const lin = new Linear(2, 2);
  const x = ops.tensor([[1, 1]]);
  const orig = lin.deleteParameter('weight')!;
  lin.registerParameter('weight_orig', orig);
  lin.registerBuffer('weight_mask', ops.tensor([[1, 0], [0, 1]]));
  const self = lin as unknown as { weight_orig: Tensor; weight_mask: Tensor };
  lin.weight = ops.mul(self.weight_orig, self.weight_mask);
  const h = lin.registerForwardPreHook((m) => { m.weight = ops.mul(self.weight_orig, self.weight_mask); });
  assert.deepEqual(lin.namedParameters().map(([n]) => n), ['bias', 'weight_orig']);
  assert.deepEqual([...lin.stateDict().keys()], ['bias', 'weight_orig', 'weight_mask']);
  const y = lin.call(x);
  const w = orig.dataSync(), b = lin.bias!.dataSync(), yd = y.dataSync();
  // y = x (W * M)^T + b with x = [1, 1], M = I: y_j = W_jj + b_j
  assert.ok(Math.abs(yd[0]! - (w[0]! + b[0]!)) < 1e-6 && Math.abs(yd[1]! - (w[3]! + b[1]!)) < 1e-6);
  ops.sum(y).backward();
  // masked entries get zero gradient
  assert.deepEqual([...orig.grad!.dataSync()], [1, 0, 0, 1]);
  // remove: bake the mask in and restore a 'weight' parameter
  h.remove();
  const baked = new Parameter(ops.detach(ops.mul(self.weight_orig, self.weight_mask)));
  delete (lin as unknown as Record<string, unknown>)['weight'];
  lin.deleteParameter('weight_orig');
  lin.deleteBuffer('weight_mask');
  lin.registerParameter('weight', baked);
  assert.deepEqual([...lin.stateDict().keys()], ['bias', 'weight']);
  assert.deepEqual(lin.call(x).toArray(), y.toArray());
});

test('zeroGrad, requiresGrad_, apply and module swapping', () => {
  const seq = new Sequential(new Linear(2, 2), new ReLU());
  ops.sum(seq.call(ops.ones([1, 2]))).backward();
  assert.ok(seq.parameters().every((p) => p.grad !== null));
  seq.zeroGrad(false);
  assert.ok(seq.parameters().every((p) => p.grad !== null && [...p.grad.dataSync()].every((v) => v === 0)));
  seq.zeroGrad();
  assert.ok(seq.parameters().every((p) => p.grad === null));
  seq.requiresGrad_(false);
  assert.ok(seq.parameters().every((p) => !p.requiresGrad));
  const names: string[] = [];
  seq.apply((m) => { names.push(m.constructor.name); });
  assert.deepEqual(names, ['Linear', 'ReLU', 'Sequential']);
  seq.set(0, new Identity());
  assert.deepEqual([...seq.stateDict().keys()], []);
  assert.deepEqual(seq.call(ops.tensor([[-1, 2]])).toArray(), [[0, 2]]);
});

test('to(dtype) converts float parameters and buffers, keeps tied parameters tied', () => {
  const a = new Linear(2, 2);
  const seq = new Sequential(a, new ReLU());
  const tied = new Linear(2, 2);
  tied.weight = a.weight;
  seq.append(tied);
  seq.to('float64');
  assert.ok(seq.parameters().every((p) => p.dtype === 'float64' && p instanceof Parameter && p.requiresGrad));
  assert.equal(a.weight, tied.weight);
  assert.equal(seq.call(ops.ones([1, 2], { dtype: 'float64' })).dtype, 'float64');
  assert.throws(() => seq.to('int32'), /only floating-point dtypes/);
});

test('toString prints the tree like PyTorch', () => {
  const seq = new Sequential(new Linear(2, 3), new ReLU(), new Sequential(new Dropout(0.1)));
  assert.equal(String(seq), [
    'Sequential(',
    '  (0): Linear(inFeatures=2, outFeatures=3, bias=true)',
    '  (1): ReLU()',
    '  (2): Sequential(',
    '    (0): Dropout(p=0.1)',
    '  )',
    ')',
  ].join('\n'));
});

test('lookup errors name the path and the choices', () => {
  const net = new Net();
  assert.throws(() => net.getSubmodule('blocks.7.fc'), /getSubmodule: ModuleList at 'blocks' has no submodule '7' \(looking up 'blocks\.7\.fc'\); children: \[0, 1\]/);
  assert.throws(() => net.getParameter('layer1.gamma'), /Linear has no parameter 'gamma'.*parameters: \[weight, bias\]/);
  assert.throws(() => net.deleteParameter('nope'), /Net\.deleteParameter: no parameter named 'nope'/);
  assert.throws(() => net.blocks.forward(), /ModuleList: has no forward\(\)/);
});

test('hasForwardHooks and childrenVersion: hooks counted on the module itself; the version moves with every child registry change', () => {
  const lin = new Linear(2, 2);
  const seq = new Sequential(lin, new ReLU());
  assert.equal(lin.hasForwardHooks, false);
  const h = lin.registerForwardHook(() => undefined);
  assert.equal(lin.hasForwardHooks, true);
  assert.equal(seq.hasForwardHooks, false, "a child's hooks are not the parent's");
  h.remove();
  const p = lin.registerForwardPreHook(() => undefined);
  assert.equal(lin.hasForwardHooks, true);
  p.remove();
  assert.equal(lin.hasForwardHooks, false);
  const v0 = seq.childrenVersion;
  seq.append(new ReLU());
  const v1 = seq.childrenVersion;
  seq.set(1, new Linear(2, 2));
  const v2 = seq.childrenVersion;
  seq.deleteModule('2');
  const v3 = seq.childrenVersion;
  assert.equal(new Set([v0, v1, v2, v3]).size, 4, `versions ${[v0, v1, v2, v3].join(', ')}`);
  void seq.length;  // a traversal that changes nothing
  assert.equal(seq.childrenVersion, v3);
});

test('Sequential.forward caches its children: every way of changing them is seen at the next call', () => {
  const add = (c: number): Module => new (class extends Module { forward(x: Tensor): Tensor { return ops.add(x, c); } })();
  const seq = new Sequential(add(1), add(2));
  const x = ops.zeros([1]);
  const run = (): number => seq.call(x).data[0]!;
  assert.equal(run(), 3);
  assert.equal(run(), 3);
  seq.append(add(4));
  assert.equal(run(), 7, 'append');
  seq.set(0, add(8));
  assert.equal(run(), 14, 'set');
  seq.deleteModule('1');
  assert.equal(run(), 12, 'deleteModule');
  (seq as unknown as Record<string, unknown>)['0'] = add(16);
  assert.equal(run(), 20, 'a registered name assigned');
  (seq as unknown as Record<string, unknown>)['extra'] = add(32);
  assert.equal(run(), 52, 'a module stored in a new field is registered, as PyTorch does');
  delete (seq as unknown as Record<string, unknown>)['2'];
  assert.equal(run(), 48, 'a deleted accessor drops the child');
});
