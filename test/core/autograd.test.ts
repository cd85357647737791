// Unit tests for the autograd semantics (not gradient values: those are gradchecked elsewhere):
// accumulation, noGrad, detach, requiresGrad propagation, backward's argument checks, retainGraph,
// detection of in-place writes to saved tensors, the post-accumulate-grad hook and the grad-chunk hook.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  add, backward, checkpoint, detach, enableGrad, exp, fusedLinear, grad, gt, isGradEnabled, manualSeed, mul, noGrad, ones, randn, registerBackwardStartHook,
  registerGradChunkHook, registerPostAccumulateGradHook, slice, sum, tensor, TensorslimError, type Tensor,
} from '../../src/index.js';
import { vals } from './helpers.js';

const leaf = (v: number[]): Tensor => tensor(v, { requiresGrad: true });

describe('accumulation', () => {
  test('grads accumulate over two backward() calls', () => {
    // d/dx sum(2x) = 2 per call
    const x = leaf([1, 2, 3]);
    sum(mul(x, 2)).backward();
    assert.deepEqual(vals(x.grad!), [2, 2, 2]);
    sum(mul(x, 2)).backward();
    assert.deepEqual(vals(x.grad!), [4, 4, 4]);
  });

  test('a stored grad is not aliased by later accumulation', () => {
    const x = leaf([1]);
    sum(mul(x, 3)).backward();
    const first = x.grad!;
    sum(mul(x, 3)).backward();
    assert.deepEqual(vals(first), [3]);   // the earlier grad object was not overwritten in place
    assert.deepEqual(vals(x.grad!), [6]);
  });

  test('a leaf used twice gets the sum of both paths', () => {
    // d/dx sum(x * x + x) = 2x + 1
    const x = leaf([1, 2, 3]);
    sum(add(mul(x, x), x)).backward();
    assert.deepEqual(vals(x.grad!), [3, 5, 7]);
  });
});

describe('grad mode', () => {
  test('noGrad records nothing', () => {
    const x = leaf([1, 2]);
    const y = noGrad(() => mul(x, 2));
    assert.equal(y.gradFn, null);
    assert.equal(y.requiresGrad, false);
    assert.equal(isGradEnabled(), true);
  });

  test('noGrad restores the mode after a throw, and nests', () => {
    assert.throws(() => noGrad(() => { throw new Error('boom'); }), /boom/);
    assert.equal(isGradEnabled(), true);
    noGrad(() => {
      assert.equal(isGradEnabled(), false);
      enableGrad(() => {
        assert.equal(isGradEnabled(), true);
        const y = mul(leaf([1]), 2);
        assert.notEqual(y.gradFn, null, 'enableGrad inside noGrad records');
      });
      assert.equal(isGradEnabled(), false);
      assert.throws(() => enableGrad(() => { throw new Error('inner'); }), /inner/);
      assert.equal(isGradEnabled(), false);
    });
    assert.equal(isGradEnabled(), true);
  });

  test('noGrad returns the callback value', () => {
    assert.equal(noGrad(() => 42), 42);
  });
});

describe('requiresGrad propagation and detach', () => {
  test('results of recorded ops require grad and are not leaves', () => {
    const x = leaf([1, 2]);
    const c = tensor([3, 4]);
    const y = add(x, c);
    assert.equal(y.requiresGrad, true);
    assert.equal(y.isLeaf, false);
    assert.equal(y.gradFn?.kernel, 'add');
    const z = add(c, c);
    assert.equal(z.requiresGrad, false);
    assert.equal(z.gradFn, null);
    assert.equal(slice(x, 0, 0, 1).requiresGrad, true, 'views of a leaf require grad too');
    assert.equal(gt(x, 0).requiresGrad, false, 'comparisons are not differentiable');
  });

  test('detach cuts the tape', () => {
    const x = leaf([1, 2, 3]);
    const d = detach(x);
    assert.equal(d.requiresGrad, false);
    assert.equal(d.gradFn, null);
    assert.equal(mul(d, 2).requiresGrad, false);
    // d/dx sum(x * stop(x)) = stop(x) = x, not 2x
    sum(mul(x, x.detach())).backward();
    assert.deepEqual(vals(x.grad!), [1, 2, 3]);
  });
});

describe('backward arguments', () => {
  test('a non-scalar without a gradient throws naming the shape', () => {
    const y = mul(leaf([1, 2, 3, 4, 5, 6]).reshape([2, 3]), 2);
    assert.throws(() => y.backward(), (e: unknown) => e instanceof TensorslimError
      && /backward: a gradient can be created implicitly only for one-element outputs, got shape \(2, 3\)/.test(e.message));
  });

  test('a non-scalar with an explicit gradient', () => {
    // y = 3x, dy = [[1, 2], [3, 4]] -> dx = 3 dy
    const x = leaf([1, 2, 3, 4]);
    const y = mul(x.reshape([2, 2]), 3);
    y.backward(tensor([[1, 2], [3, 4]]));
    assert.deepEqual(vals(x.grad!), [3, 6, 9, 12]);
    const y2 = mul(x.reshape([2, 2]), 3);
    assert.throws(() => backward(y2, ones([4])), /backward: gradient shape \(4\) does not match the tensor's shape \(2, 2\)/);
  });

  test('a one-element non-0-d output is fine without a gradient', () => {
    const x = leaf([2]);
    mul(x, x).backward(); // d/dx x^2 = 2x = 4
    assert.deepEqual(vals(x.grad!), [4]);
  });

  test('backward on a tensor that does not require grad throws', () => {
    assert.throws(() => sum(tensor([1, 2])).backward(), /backward: the tensor does not require grad/);
  });

  test('backward twice without retainGraph throws; with retainGraph it accumulates', () => {
    // y = sum(x^2): dy/dx = 2x = [2, 4, 6]
    const x = leaf([1, 2, 3]);
    const y = sum(mul(x, x));
    y.backward();
    assert.throws(() => y.backward(), /backward: trying to backward through the graph a second time \(kernel '.*'\); pass \{ retainGraph: true \}/);
    const x2 = leaf([1, 2, 3]);
    const y2 = sum(mul(x2, x2));
    y2.backward(undefined, { retainGraph: true });
    y2.backward();
    assert.deepEqual(vals(x2.grad!), [4, 8, 12]);
  });

  test('grad() returns gradients without touching .grad', () => {
    const x = leaf([1, 2]);
    const [dx] = grad([sum(mul(x, x))], [x]);
    assert.deepEqual(vals(dx!), [2, 4]);
    assert.equal(x.grad, null);
  });
});

describe('in-place writes and the tape', () => {
  test('overwriting an input saved for backward is detected at backward', () => {
    const x = leaf([1, 2, 3]);
    const w = tensor([1, 1, 1]); // saved by mul for d/dx = w
    const y = sum(mul(x, w));
    w.assign(tensor([5, 5, 5])); // allowed: w does not require grad
    assert.throws(() => y.backward(), (e: unknown) => e instanceof TensorslimError
      && /backward: an input of 'mul' saved for backward was modified in place \(version 0 -> 1\); clone it before writing/.test(e.message));
  });

  test('overwriting an output saved for backward is detected at backward', () => {
    const x = leaf([0, 1]);
    const e = exp(x); // exp saves its output
    const y = sum(e);
    noGrad(() => e.assign(0));
    assert.throws(() => y.backward(), /backward: the output of 'exp' saved for backward was modified in place/);
  });

  test('overwriting a saved input through a view is detected at backward', () => {
    const x = leaf([1, 2, 3]);
    const w = tensor([1, 1, 1]);
    const y = sum(mul(x, w));
    slice(w, 0, 0, 1).assign(5);
    assert.throws(() => y.backward(), /backward: an input of 'mul' saved for backward was modified in place/);
  });

  test('a failed backward leaves .grad unchanged', () => {
    // nodes run sum -> add -> mul; add reaches x directly before mul finds its saved w overwritten
    const x = leaf([1, 2, 3]);
    const w = tensor([1, 1, 1]);
    const y = sum(add(mul(x, w), x));
    w.assign(2);
    assert.throws(() => y.backward(), /saved for backward was modified in place/);
    assert.equal(x.grad, null);
  });

  test('assign on a requiresGrad leaf outside noGrad throws and changes nothing', () => {
    const x = leaf([1, 2]);
    assert.throws(() => x.assign(tensor([3, 4])), /assign: in-place write to a tensor that requires grad while gradients are recorded/);
    assert.deepEqual(vals(x), [1, 2]);
    assert.equal(x.version, 0);
    noGrad(() => x.assign(tensor([3, 4])));
    assert.deepEqual(vals(x), [3, 4]);
  });

  test('assign on a non-leaf result that requires grad outside noGrad throws', () => {
    const y = mul(leaf([1, 2]), 2);
    assert.throws(() => y.assign(0), /assign: in-place write/);
  });

  test('requiresGrad on int32 throws', () => {
    assert.throws(() => tensor([1, 2], { dtype: 'int32' }).requiresGrad_(true), /requiresGrad: only floating-point tensors can require gradients, got int32/);
  });
});

describe('registerPostAccumulateGradHook', () => {
  test('fires once per accumulation with the accumulated grad; remove() stops it', () => {
    const x = leaf([1, 2, 3]);
    const seen: number[][] = [];
    const h = registerPostAccumulateGradHook(x, (g) => seen.push(vals(g)));
    sum(mul(x, 3)).backward();
    assert.deepEqual(seen, [[3, 3, 3]]);
    sum(mul(x, 3)).backward();
    assert.deepEqual(seen, [[3, 3, 3], [6, 6, 6]]);
    h.remove();
    sum(mul(x, 3)).backward();
    assert.equal(seen.length, 2);
  });

  test('fires once per backward when the leaf is used by several ops', () => {
    // d/dx sum(x * x) = 2x
    const x = leaf([1, 2, 3]);
    const seen: number[][] = [];
    registerPostAccumulateGradHook(x, (g) => seen.push(vals(g)));
    sum(mul(x, x)).backward();
    assert.deepEqual(seen, [[2, 4, 6]]);
  });

  test('fires during backward, as soon as the leaf has no pending contribution (DDP overlap)', () => {
    // loss = sum((w2 * exp(w1 * x)) * w1): backward meets w1 first (outer mul) but w1 is final only
    // after the inner mul; w2 is final at the middle mul, so its hook fires first, mid-backward.
    const x = tensor([0.5, -1]);
    const w1 = leaf([1, 2]), w2 = leaf([3, 4]);
    const order: string[] = [];
    registerPostAccumulateGradHook(w2, () => order.push(`w2 (w1.grad ${w1.grad === null ? 'unset' : 'set'})`));
    registerPostAccumulateGradHook(w1, () => order.push('w1'));
    sum(mul(mul(w2, exp(mul(w1, x))), w1)).backward();
    assert.deepEqual(order, ['w2 (w1.grad unset)', 'w1']);
    // d/dw1 = w2 e^(w1 x) (1 + w1 x)
    const want = [0, 1].map((i) => [3, 4][i]! * Math.exp([1, 2][i]! * [0.5, -1][i]!) * (1 + [1, 2][i]! * [0.5, -1][i]!));
    vals(w1.grad!).forEach((g, i) => assert.ok(Math.abs(g - want[i]!) < 1e-5, `w1.grad[${i}] = ${g}, want ${want[i]}`));
  });

  test('a leaf used at two depths fires once, after its last contribution, with the sum', () => {
    // d/dx sum(exp(x) * x) = exp(x) * x + exp(x): contributions from the mul node, then from exp
    const x = leaf([0, 1]);
    const seen: number[][] = [];
    registerPostAccumulateGradHook(x, (g) => seen.push(vals(g)));
    sum(mul(exp(x), x)).backward();
    assert.equal(seen.length, 1);
    assert.ok(Math.abs(seen[0]![0]! - 1) < 1e-6 && Math.abs(seen[0]![1]! - 2 * Math.E) < 1e-5, `got ${seen[0]}`);
  });

  test('registerBackwardStartHook sees the reachable leaves and may refuse before anything is written', () => {
    const x = leaf([1, 2]), unused = leaf([3]);
    let seen: ReadonlySet<Tensor> | null = null;
    const h = registerBackwardStartHook((leaves) => { seen = leaves; throw new Error('refused'); });
    try {
      assert.throws(() => sum(mul(x, 2)).backward(), /refused/);
      assert.ok(seen!.has(x) && !seen!.has(unused));
      assert.equal(x.grad, null, 'no gradient was written');
    } finally { h.remove(); }
    sum(mul(x, 2)).backward();
    assert.deepEqual(vals(x.grad!), [2, 2]);
  });

  test('registerBackwardStartHook: a checkpoint() recomputation is a nested backward; its outer graph says recomputes', () => {
    const w = leaf([2, 3]);
    const x = leaf([1, 1]);
    const seen: { leaves: number; nested: boolean; recomputes: boolean; hasW: boolean }[] = [];
    const h = registerBackwardStartHook((leaves, info) => seen.push({ leaves: leaves.size, ...info, hasW: leaves.has(w) }));
    try { sum(checkpoint((t) => mul(t, w), x)).backward(); } finally { h.remove(); }
    assert.deepEqual(seen, [
      { leaves: 1, nested: false, recomputes: true, hasW: false }, // outer: x only; w is inside the checkpoint
      { leaves: 2, nested: true, recomputes: false, hasW: true },  // the recomputation's backward
    ]);
    assert.deepEqual(vals(w.grad!), [1, 1]);
  });

  test('does not fire for other leaves', () => {
    const x = leaf([1]), z = leaf([2]);
    let calls = 0;
    registerPostAccumulateGradHook(z, () => { calls++; });
    sum(mul(x, 2)).backward();
    assert.equal(calls, 0);
  });
});

describe('registerGradChunkHook', () => {
  // loss = sum(relu(x W1^T + b1) W2^T * c): x needs no gradient, so W1's gradient is the first
  // layer's rule's result alone and may come in row blocks; a run on fresh, equal leaves without
  // the hook is the truth (bit for bit: each block sums the same rows of dy in the same order).
  const net = (xGrad = false): { x: Tensor; params: Tensor[]; loss: () => Tensor } => {
    manualSeed(11);
    const x = randn([5, 7], { requiresGrad: xGrad }), w1 = randn([10, 7], { requiresGrad: true }), b1 = randn([10], { requiresGrad: true });
    const w2 = randn([3, 10], { requiresGrad: true }), c = randn([5, 3]);
    return { x, params: [w1, b1, w2], loss: () => sum(mul(fusedLinear(fusedLinear(x, w1, b1, { relu: true }), w2), c)) };
  };
  const grads = (ts: Tensor[]): Float32Array[] => ts.map((t) => Float32Array.from(t.grad!.data as Float32Array));

  test('hands out the weight gradient in row blocks before .grad is set, bit-identical to unsplit', () => {
    const ref = net();
    ref.loss().backward();
    const n = net();
    const events: string[] = [];
    const rows: Float32Array[] = [];
    const h = registerGradChunkHook(n.params[0]!, 4, (r0, g) => { events.push(`${r0}+${g.shape[0]} (grad ${n.params[0]!.grad === null ? 'unset' : 'set'})`); rows.push(Float32Array.from(g.contiguous().data as Float32Array)); });
    registerPostAccumulateGradHook(n.params[0]!, () => events.push('final'));
    n.loss().backward();
    assert.deepEqual(events, ['0+4 (grad unset)', '4+4 (grad unset)', '8+2 (grad unset)', 'final']);
    assert.deepEqual(grads(n.params), grads(ref.params));
    const joined = new Float32Array(70);
    rows.forEach((r, i) => joined.set(r, i * 28));
    assert.deepEqual(joined, grads(n.params)[0]);
    // a second backward accumulates into .grad: the sum is not one rule's result, so no blocks
    events.length = 0;
    n.loss().backward();
    assert.deepEqual(events, ['final']);
    h.remove();
  });

  test('no blocks when the input needs a gradient too, through grad(), or after remove()', () => {
    const n = net(true);
    let blocks = 0;
    const h = registerGradChunkHook(n.params[0]!, 3, () => { blocks++; });
    n.loss().backward();
    grad([n.loss()], [n.params[0]!]);
    assert.equal(blocks, 0);
    const m = net();
    const h2 = registerGradChunkHook(m.params[0]!, 3, () => { blocks++; });
    h2.remove();
    m.loss().backward();
    assert.equal(blocks, 0);
    h.remove();
    assert.throws(() => registerGradChunkHook(m.params[0]!, 0, () => {}), /rows must be a positive integer/);
  });
});

describe('gradient storage', () => {
  test('leaves never share gradient storage, even when a rule hands one tensor to both inputs', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([4, 5, 6], { requiresGrad: true });
    // d(a + b)/da and d(a + b)/db are the same upstream tensor inside the add rule
    sum(add(a, b)).backward();
    assert.notEqual(a.grad!.data.buffer, b.grad!.data.buffer);
    noGrad(() => a.grad!.zero_());
    assert.deepEqual(vals(b.grad!), [1, 1, 1]);
  });
  test("a caller's gradient tensor is not adopted as a leaf's .grad", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const g = tensor([5, 7]);
    x.backward(g);
    g.assign(0);
    assert.deepEqual(vals(x.grad!), [5, 7]);
  });
});
