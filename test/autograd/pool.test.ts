// The storage pool (src/backend/pool.ts) under autograd: backward() and grad() give their
// temporaries back to the pool, and later allocations reuse them. Every test runs with the pool's
// check mode on (released buffers poisoned with NaN bytes, checked when handed out again), so a
// release of storage that something still uses fails here twice: as a wrong value in a tensor
// the test kept, and as the pool's "written after its release" error. The cases: views, kept
// forward intermediates, in-place writes, retainGraph, hooks that keep what they get, grad(),
// createGraph and checkpoint(); and step scopes (tidy()), which also give a step's activations and
// dropped gradients back, with the tensors a step keeps (result, keep(), hooks, module properties).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { configurePool, poolStats, resetPoolStats, acquire, beginScope, endScope, release, setBufferFreer, trimIdle } from '../../src/backend/pool.js';
import { checkpoint, checkpointWith } from '../../src/autograd/recompute.js';
import {
  add, embeddingRows, getBackend, grad, keep, Linear, linearCrossEntropy, manualSeed, matmul, mul, noGrad, randn, registerPostAccumulateGradHook, relu, ReLU,
  reshape, Sequential, SGD, StepScope, sum, tensor, tidy, Generator, type Tensor,
} from '../../src/index.js';

const snap = (t: Tensor): number[] => Array.from(t.dataSync());
// whether the backend registered a freer (the native addon's freeArrayBuffer): buffers the pool does
// not keep are then detached at once
const hasFreer = (): boolean => { getBackend(); const f = setBufferFreer(null); setBufferFreer(f); return f !== null; };

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

  test('a pass reuses its own dead temporaries at once (released after each rule, not only at its end)', () => {
    const x = randn([32, 12], { generator: new Generator(22) });
    const layers = Array.from({ length: 6 }, (_, i) => randn([12, 12], { generator: new Generator(30 + i) }));
    const run = (): number[][] => {
      const ws = layers.map((w) => w.clone().requiresGrad_());
      let h = x;
      for (const w of ws) h = relu(matmul(h, w));  // each layer's dx is dead once the layer below has run
      sum(mul(h, h)).backward();
      return ws.map((w) => snap(w.grad!));
    };
    configurePool({ capMB: 0 });
    const plain = run();
    configurePool({ capMB: 64 });         // empty free lists: nothing to reuse from earlier passes
    resetPoolStats();
    assert.deepEqual(run(), plain);
    const s = poolStats();
    assert.ok(s.reused > 0, `the first pass reused buffers released during it: ${JSON.stringify(s)}`);
  });

  test('a tied table: the embedding rows go into the head gradient in place, equal to the untied sum', () => {
    // W (V, D) is the LM head and the token table at once; its gradient = head's + embedding's
    const v = 300, d = 8;
    const ids = tensor([5, 17, 5, 299, 0, 17], { dtype: 'int32' });
    const targets = tensor([1, 2, 3, 4, 5, 6], { dtype: 'int32' });
    const w0 = randn([v, d], { generator: new Generator(24) });
    const lossOf = (table: Tensor, head: Tensor): Tensor => linearCrossEntropy(mul(embeddingRows(table, ids), 1.5), head, targets);
    const tied = w0.clone().requiresGrad_();
    const be = getBackend();
    const rowsSeen: number[] = [];
    const orig = be.embeddingBackward;
    if (orig) be.embeddingBackward = (dy, ix, rows) => { rowsSeen.push(rows); return orig.call(be, dy, ix, rows); };
    try { lossOf(tied, tied).backward(); } finally { be.embeddingBackward = orig; }
    const a = w0.clone().requiresGrad_(), b = w0.clone().requiresGrad_();
    lossOf(a, b).backward();
    const want = snap(add(a.grad!, b.grad!));
    snap(tied.grad!).forEach((g, i) => assert.ok(g === want[i], `grad[${i}] = ${g}, want ${want[i]}`));
    // where the head's gradient comes from the fused kernel (handed over whole), no dense (V, D) buffer
    if (be.linearCrossEntropy && orig) assert.deepEqual(rowsSeen, [4], 'embeddingBackward ran on the 4 distinct rows only');
  });

  test('checkpointWith stateless: both forwards give their temporaries back; gradients equal the plain graph', () => {
    const x = randn([16, 12], { generator: new Generator(18) });
    const plain = mlpParams(19);
    mlpLoss(plain, x).backward();
    const want = plain.map((w) => snap(w.grad!));
    const ck = mlpParams(19);
    const body = (t: Tensor): Tensor => relu(add(matmul(t, ck[0]!), ck[1]!));   // matmul's output: a pooled temporary
    configurePool({ capMB: 0 });
    configurePool({ capMB: 64 });
    for (let step = 0; step < 3; step++) {   // later steps reuse what earlier ones released
      for (const w of ck) w.grad = null;
      resetPoolStats();
      const h = checkpointWith({ stateless: true }, body, x.detach().requiresGrad_());
      assert.ok(poolStats().released > 0, `step ${step}: the first forward released its temporaries: ${JSON.stringify(poolStats())}`);
      const y = matmul(h, ck[2]!);
      const hv = snap(h);
      sum(mul(y, y)).backward();
      assert.deepEqual(snap(h), hv, 'the checkpoint output kept its storage');
      ck.forEach((w, i) => assert.deepEqual(snap(w.grad!), want[i], `step ${step}, parameter ${i}`));
    }
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

  test('giving memory back: a release beyond the cap and idle size classes are freed at once', () => {
    const prevFreer = setBufferFreer(null);
    const prevCfg = configurePool({ capMB: 0 });          // empty free lists
    const detached: ArrayBuffer[] = [];
    // a freer that records; the native addon's detaches (checked below where it is registered)
    setBufferFreer((b) => { detached.push(b); return true; });
    configurePool({ capMB: 1 / 64 });                     // 16 KiB of free buffers at most
    try {
      resetPoolStats();
      beginScope();
      const a = acquire(12000)!, b = acquire(12000)!, c = acquire(3000)!, d = acquire(3000)!;
      endScope(new Set([c, d]));                          // a fits (12 KiB), b is over the cap: freed
      assert.deepEqual(detached, [b]);
      release(d);
      assert.equal(poolStats().freeBytes, 12288 + 3072);
      trimIdle();                                         // a step ends: both were released during it
      assert.equal(detached.length, 1);
      const a2 = acquire(12000);                          // the next step asks for a's class only
      assert.equal(a2, a);
      release(a2!);
      assert.equal(trimIdle(), 3072, 'the class nobody asked for during the step is given back');
      assert.deepEqual(detached, [b, d]);
      assert.equal(poolStats().freeBytes, 12288);
      assert.deepEqual({ freed: poolStats().freed, dropped: poolStats().dropped }, { freed: 2, dropped: 1 });
      beginScope();
      assert.notEqual(acquire(3000), d, 'a freed buffer is never handed out again');
      endScope();
    } finally {
      configurePool({ capMB: 0 });
      setBufferFreer(prevFreer);
      configurePool(prevCfg);
    }
    if (hasFreer()) {                                     // the native addon's freer detaches for real
      beginScope();
      const e = acquire(4000)!;
      const view = new Float32Array(e, 0, 1000);
      endScope(new Set());                                // released into a free list
      configurePool({ capMB: 0 });                        // which is emptied: freed
      configurePool(prevCfg);
      assert.deepEqual([e.byteLength, view.length], [0, 0], 'the buffer is detached: its memory went back');
    }
  });
});

describe('step scopes (tidy)', () => {
  // a small model whose step is forward, loss, backward, SGD step, zeroGrad
  const setup = (seed: number) => {
    manualSeed(seed);
    // outputs of more than 128 elements: smaller ones are plain JS arrays (SMALL_JS_MAX), never pooled
    const model = new Sequential(new Linear(12, 32), new ReLU(), new Linear(32, 16));
    const opt = new SGD(model.parameters(), { lr: 0.01 });
    const x = randn([16, 12], { generator: new Generator(seed + 2) });
    return { model, opt, x };
  };

  test('steps reuse the last step\'s storage (nothing fresh after warm-up) and train exactly as without a scope', () => {
    const run = (scoped: boolean): { losses: number[]; fresh: number; freed: number } => {
      const { model, opt, x } = setup(40);
      const losses: number[] = [];
      let fresh = 0, freed = 0;
      for (let step = 0; step < 5; step++) {
        resetPoolStats();
        const body = (): number => { const y = model.call(x); const l = sum(mul(y, y)); l.backward(); opt.step(); opt.zeroGrad(); return l.item(); };
        losses.push(scoped ? tidy(body, { roots: [model], releaseGrads: true }) : body());
        if (step >= 2) { fresh += poolStats().fresh; freed += poolStats().freed; }
      }
      return { losses, fresh, freed };
    };
    const plain = run(false), scoped = run(true);
    assert.deepEqual(scoped.losses, plain.losses);
    assert.equal(scoped.fresh, 0, 'steps 3-5 took every buffer from the free lists');
    assert.equal(scoped.freed, 0, 'nothing was given back to the C heap');
  });

  test('what a step returns, keep()s, stashes in a hook or a module property stays intact; other activations are revoked', () => {
    const { model, opt, x } = setup(50);
    const hooked: Tensor[] = [];
    const h = model.at(0).registerForwardHook((_m, _a, out) => { hooked.push(out); });
    let kept: Tensor | undefined, dropped: Tensor | undefined, droppedView: Tensor | undefined;
    const step = (first: boolean): Tensor => tidy(() => {
      const y = model.call(x);
      const act = relu(mul(y, 2));
      if (first) { kept = keep(reshape(act, [256])); dropped = mul(y, 3); droppedView = reshape(dropped, [256]); }
      (model as unknown as { lastOut: Tensor }).lastOut = y;       // a module property: a root keeps it
      const l = add(sum(mul(act, act)), first ? sum(dropped!) : 0);   // dropped is part of the differentiated graph
      l.backward(); opt.step(); opt.zeroGrad();
      return y;
    }, { roots: [model], releaseGrads: true });
    const y0 = step(true);
    const want = { y0: snap(y0), kept: snap(kept!), hooked: snap(hooked[0]!), last: snap((model as unknown as { lastOut: Tensor }).lastOut) };
    for (let i = 0; i < 3; i++) step(false);        // later steps reuse the released storage
    h.remove();
    assert.deepEqual({ y0: snap(y0), kept: snap(kept!), hooked: snap(hooked[0]!), last: want.last }, want);
    assert.throws(() => dropped!.dataSync(), /tidy\(\) step/);
    assert.throws(() => add(droppedView!, 1), /keep\(t\)/);
  });

  test('a graph not yet differentiated, and a retained graph, can run backward after the scope', () => {
    const { model, x } = setup(60);
    const ps = model.parameters();
    const lossOf = (): Tensor => { const y = model.call(x); return sum(mul(y, y)); };
    lossOf().backward();
    const want = ps.map((p) => snap(p.grad!));
    for (const p of ps) p.grad = null;
    const later = tidy(() => lossOf());                          // differentiated after the scope
    const retained = tidy(() => { const l = lossOf(); l.backward(undefined, { retainGraph: true }); return l; });
    tidy(() => { lossOf(); });                                   // a step in between reuses free storage
    for (const p of ps) p.grad = null;
    later.backward();
    ps.forEach((p, i) => assert.deepEqual(snap(p.grad!), want[i]));
    for (const p of ps) p.grad = null;
    retained.backward();
    ps.forEach((p, i) => assert.deepEqual(snap(p.grad!), want[i]));
  });

  test('releaseSaved: activations go back during backward once used; views, in-place writes, keep() and retained graphs are safe', () => {
    const run = (grant: boolean): { losses: number[]; grads: number[][]; kept: number[]; released: number } => {
      const { model, opt, x } = setup(80);
      const losses: number[] = [];
      let kept: Tensor | undefined, released = 0;
      for (let step = 0; step < 4; step++) {
        const r0 = poolStats().released;
        losses.push(tidy(() => {
          const y = model.call(x);
          const v = reshape(y, [256]);                       // a view: y's storage is saved through it
          if (step === 0) kept = keep(reshape(mul(y, 2), [256]));
          noGrad(() => mul(x, 1)).mul_(3);                   // an in-place write to an unrecorded tensor
          const l = sum(mul(v, v));
          l.backward();
          released += poolStats().released - r0;
          opt.step(); opt.zeroGrad();
          return l.item();
        }, { roots: [model], releaseGrads: true, releaseSaved: grant }));
      }
      const grads = tidy(() => { const l = sum(mul(model.call(x), 1)); l.backward(undefined, { retainGraph: true }); l.backward(); return model.parameters().map((p) => snap(p.grad!)); }, { roots: [model], releaseSaved: grant });
      return { losses, grads, kept: snap(kept!), released };
    };
    const plain = run(false), granted = run(true);
    assert.deepEqual({ losses: granted.losses, grads: granted.grads, kept: granted.kept }, { losses: plain.losses, grads: plain.grads, kept: plain.kept });
    assert.ok(granted.released > plain.released, `activations went back during backward: ${granted.released} > ${plain.released} buffers`);
    const { model, x } = setup(81);
    let act: Tensor | undefined;
    tidy(() => { act = relu(model.call(x)); sum(mul(act, act)).backward(); assert.throws(() => act!.dataSync(), /keep\(t\)/); }, { releaseSaved: true });
  });

  test('in-place writes, an error inside the step, nested scopes and zeroGrad without releaseGrads', () => {
    const { model, opt, x } = setup(70);
    const y = tidy(() => { const t = model.call(x); noGrad(() => t.mul_(2)); return t; });  // written in place, returned
    const yv = snap(y);
    let inner: Tensor | undefined;
    assert.throws(() => tidy(() => { inner = mul(model.call(x), 5); throw new Error('boom'); }), /boom/);
    const innerV = snap(inner!);                                 // a failed step releases nothing
    const outer = tidy(() => tidy(() => mul(model.call(x), 7)));  // the inner result escapes the outer scope too
    const outerV = snap(outer);
    sum(model.call(x)).backward();
    const g = model.parameters()[0]!.grad!;
    const gv = snap(g);
    tidy(() => { opt.zeroGrad(); model.call(x); });             // releaseGrads not granted: g stays intact
    for (let i = 0; i < 2; i++) tidy(() => { sum(model.call(x)).backward(); opt.zeroGrad(); });
    assert.deepEqual({ y: snap(y), inner: snap(inner!), outer: snap(outer), g: snap(g) }, { y: yv, inner: innerV, outer: outerV, g: gv });
    const w = randn([16, 16], { generator: new Generator(71) }).requiresGrad_();
    const optW = new SGD([w], { lr: 0.01 });
    const s = new StepScope({ releaseGrads: true });
    sum(mul(mul(w, 3), w)).backward();                           // an elementwise gradient: pooled storage on both backends
    const g2 = w.grad!;
    optW.zeroGrad();                                             // granted: the old gradient is given back
    s.close();
    assert.throws(() => g2.dataSync(), /tidy\(\) step/);
  });
});
