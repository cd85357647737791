// The storage pool (src/backend/pool.ts) under autograd: backward() and grad() give their
// temporaries back to the pool, and later allocations reuse them. Every test runs with the pool's
// check mode on (released buffers poisoned with NaN bytes, checked when handed out again), so a
// release of storage that something still uses fails here twice: as a wrong value in a tensor
// the test kept, and as the pool's "written after its release" error. The cases: views, kept
// forward intermediates, in-place writes, retainGraph, hooks that keep what they get, grad(),
// createGraph and checkpoint().

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { configurePool, poolStats, resetPoolStats, acquire, beginScope, endScope, release } from '../../src/backend/pool.js';
import { checkpoint } from '../../src/autograd/recompute.js';
import {
  add, grad, matmul, mul, noGrad, randn, registerPostAccumulateGradHook, relu, reshape, sum, Generator, type Tensor,
} from '../../src/index.js';

const snap = (t: Tensor): number[] => Array.from(t.dataSync());

let prev: { capMB: number; check: boolean };
before(() => { prev = configurePool({ capMB: 64, check: true }); });
after(() => { configurePool(prev); });

// a two-layer perceptron's loss on fixed data; every op's output is uninitialized storage (pooled)
function mlpLoss(ws: readonly Tensor[], x: Tensor): Tensor {
  const h = relu(add(matmul(x, ws[0]!), ws[1]!));
  const y = matmul(h, ws[2]!);
  return sum(mul(y, y));
}

function mlpParams(seed: number): Tensor[] {
  const g = new Generator(seed);
  return [randn([12, 16], { generator: g }), randn([16], { generator: g }), randn([16, 6], { generator: g })].map((t) => t.requiresGrad_());
}

describe('storage pool and autograd', () => {
  test('backward temporaries are reused, and the gradients equal those of a run without the pool', () => {
    const x = randn([8, 12], { generator: new Generator(1) });
    const run = (): number[][] => {
      const ws = mlpParams(2);
      const out: number[][] = [];
      for (let step = 0; step < 3; step++) {
        for (const w of ws) w.grad = null;
        mlpLoss(ws, x).backward();
        out.push(...ws.map((w) => snap(w.grad!)));
      }
      return out;
    };
    configurePool({ capMB: 0 });
    const plain = run();
    configurePool({ capMB: 64 });
    resetPoolStats();
    const pooled = run();
    assert.deepEqual(pooled, plain);
    const s = poolStats();
    assert.ok(s.released > 0 && s.reused > 0, `the pool released and reused buffers: ${JSON.stringify(s)}`);
  });

  test('kept forward intermediates, their views and gradients that are views of temporaries survive later passes', () => {
    const x = randn([4, 6], { generator: new Generator(3) }).requiresGrad_();
    const w = randn([24], { generator: new Generator(4) });
    const h = mul(x, 2);                 // a forward intermediate the user keeps
    const hv = reshape(h, [24]);         // and a view of it
    sum(mul(reshape(h, [24]), w)).backward();  // x.grad = reshape(dy * w) * 2: a view of a temporary, kept whole
    const want = { h: snap(h), hv: snap(hv), g: snap(x.grad!) };
    for (let i = 0; i < 4; i++) {        // passes of the same sizes: the free lists are drawn on
      const y = randn([4, 6], { generator: new Generator(10 + i) }).requiresGrad_();
      sum(mul(reshape(mul(y, 3), [24]), w)).backward();
      add(y, 1); mul(y, y);              // forward allocations outside any pass reuse free buffers
    }
    assert.deepEqual({ h: snap(h), hv: snap(hv), g: snap(x.grad!) }, want);
  });

  test('retainGraph: a second backward through the same graph reads intact saved tensors', () => {
    const ws = mlpParams(5);
    const x = randn([8, 12], { generator: new Generator(6) });
    const loss = mlpLoss(ws, x);
    loss.backward(undefined, { retainGraph: true });
    const first = ws.map((w) => snap(w.grad!));
    mlpLoss(mlpParams(7), x).backward();  // another pass in between, reusing the first one's temporaries
    loss.backward();
    ws.forEach((w, i) => assert.deepEqual(snap(w.grad!), first[i]!.map((v) => Math.fround(v + v))));
  });

  test('in-place writes to gradients and parameters between passes', () => {
    const ws = mlpParams(8);
    const x = randn([8, 12], { generator: new Generator(9) });
    mlpLoss(ws, x).backward();
    const g1 = ws.map((w) => snap(w.grad!));
    noGrad(() => { for (const w of ws) w.grad!.mul_(0.5); });
    mlpLoss(ws, x).backward();
    ws.forEach((w, i) => assert.deepEqual(snap(w.grad!), g1[i]!.map((v) => Math.fround(Math.fround(v * 0.5) + v))));
  });

  test('gradient hooks may keep what they receive and what they make', () => {
    const ws = mlpParams(11);
    const x = randn([8, 12], { generator: new Generator(12) });
    const kept: Tensor[] = [];
    const handles = ws.map((w) => registerPostAccumulateGradHook(w, (g) => { kept.push(g, mul(g, 2)); }));
    mlpLoss(ws, x).backward();
    handles.forEach((h) => h.remove());
    const want = kept.map(snap);
    for (let i = 0; i < 3; i++) { for (const w of ws) w.grad = null; mlpLoss(ws, x).backward(); }
    assert.deepEqual(kept.map(snap), want);
  });

  test('grad() results survive; createGraph keeps its temporaries (second derivative)', () => {
    const ws = mlpParams(13);
    const x = randn([8, 12], { generator: new Generator(14) });
    const gs = grad([mlpLoss(ws, x)], ws);
    const want = gs.map((g) => snap(g!));
    mlpLoss(ws, x).backward();
    assert.deepEqual(gs.map((g) => snap(g!)), want);
    const z = randn([64], { generator: new Generator(15) }).requiresGrad_();
    const [dz] = grad([sum(mul(mul(z, z), z))], [z], { createGraph: true });  // 3 z^2
    const [d2] = grad([sum(dz!)], [z]);                                        // 6 z
    const d2v = snap(d2!);
    mlpLoss(ws, x).backward();
    assert.deepEqual(snap(d2!), d2v);
    snap(z).forEach((v, i) => assert.ok(Math.abs(d2v[i]! - 6 * v) <= 1e-5 * Math.abs(6 * v), `d2[${i}] = ${d2v[i]}, want ${6 * v}`));
  });

  test('checkpoint(): the recomputed forward is not released; gradients equal the plain graph', () => {
    const x = randn([16, 12], { generator: new Generator(16) });  // h: 256 elements, pooled storage
    const plain = mlpParams(17);
    mlpLoss(plain, x).backward();
    const ck = mlpParams(17);
    const stash: Tensor[] = [];
    const body = (t: Tensor): Tensor => { const h = relu(add(matmul(t, ck[0]!), ck[1]!)); stash.push(h); return h; };
    const h = checkpoint(body, x.detach().requiresGrad_());
    const y = matmul(h, ck[2]!);
    sum(mul(y, y)).backward();
    assert.equal(stash.length, 2, 'the forward ran twice (once recomputed)');
    const recomputed = snap(stash[1]!);
    const grads = ck.map((w) => snap(w.grad!));
    ck.forEach((_, i) => assert.deepEqual(grads[i], snap(plain[i]!.grad!)));
    for (const w of ck) w.grad = null;
    mlpLoss(ck, x).backward();          // reuses the released temporaries
    assert.deepEqual(snap(stash[1]!), recomputed);
  });

  test('check mode: a write into released storage, and a double release, are errors', () => {
    beginScope();
    const buf = acquire(4000)!;
    endScope(new Set());                 // released: poisoned
    assert.ok(new Float32Array(buf).every(Number.isNaN), 'released storage reads as NaN');
    new Float32Array(buf)[7] = 1;        // a stale user writes
    assert.throws(() => acquire(4000), /written after its release/);
    beginScope();
    const b2 = acquire(4000)!;
    endScope(new Set());
    assert.throws(() => release(b2), /released twice/);
  });
});
