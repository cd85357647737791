// Fuzz the native embedding kernels (native/src/embedding.cc: embeddingForward, the row gather, and
// embeddingBackward, its scatter-add adjoint) on every CPU path this machine has and with 1 and 2
// threads, against the reference backend's general gather / scatterAdd (the outside truth: the
// same math written for any axis and any index) and against hand-written loops. Shapes include
// no rows, one row, widths 1, odd and beyond a SIMD vector and a column chunk, repeated indices,
// transposed and stepped tables and gradients, strided index vectors, float32 and float64. The
// backward sums each row in index order, so it must equal the sequential reference bit for bit.
// Then the ops level: indexSelect / nn.Embedding on the native backend record the gather kernel and
// their gradients match the reference backend's, with and without createGraph.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { View } from '../../src/backend/backend.js';
import { referenceBackend as ref } from '../../src/backends/reference/index.js';
import { getNativeBackend } from '../../src/backends/native/index.js';
import { Embedding, getBackend, grad, indexSelect, mul, randn, setBackend, sum, tensor, type Tensor } from '../../src/index.js';
import { fmt, randView, readView, rng, type FloatKind } from './helpers.js';
import { forEachSetting, CPU_PATHS as PATHS, nativeSkip as skip } from './helpers.js';

const nativeBackend = getNativeBackend();

const nat = nativeBackend!;
const KINDS: FloatKind[] = ['float32', 'float64'];


const normal = (r: () => number): number => (r() - 0.5) * 4;

/** A random int32 index vector of n entries in [0, rows), contiguous or stepped, with repeats. */
function indexVector(r: () => number, n: number, rows: number): View {
  const step = r() < 0.3 ? 2 : 1, offset = Math.floor(r() * 3);
  const data = new Int32Array(offset + n * step + 1).fill(-7);
  for (let i = 0; i < n; i++) data[offset + i * step] = r() < 0.3 && i > 0 ? data[offset + (i - 1) * step]! : Math.floor(r() * rows);
  return { data, shape: [n], strides: [step], offset };
}

/** The 1-D index broadcast over d columns as a stride-0 (n, d) view (what indexSelect hands gather). */
const broadcast = (ix: View, d: number): View => ({ data: ix.data, shape: [ix.shape[0]!, d], strides: [ix.strides[0]!, 0], offset: ix.offset });

const same = (got: ArrayLike<number>, want: ArrayLike<number>): string | null => {
  if (got.length !== want.length) return `length ${got.length} != ${want.length}`;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return `[${i}]: got ${got[i]}, want ${want[i]}`;
  return null;
};

const SIZES: [number, number, number][] = [
  // rows, width, number of indices
  [1, 1, 1], [3, 1, 0], [5, 7, 9], [4, 16, 3], [6, 17, 40], [2, 33, 5], [9, 64, 100], [7, 130, 23], [256, 256, 300],
];

describe('native embedding kernels vs the reference gather / scatterAdd', { skip }, () => {
  test('forward: rows of a strided table, every path and thread count, exact', () => {
    forEachSetting((setting) => {
      const r = rng(11);
      for (const kind of KINDS) for (const [rows, d, n] of SIZES) {
        const w = randView(r, kind, [rows, d], normal);
        const ix = indexVector(r, n, rows);
        const got = nat.embeddingForward!(w, ix);
        const want = ref.gather(w, 0, broadcast(ix, d));
        assert.ok(got instanceof (kind === 'float32' ? Float32Array : Float64Array), `${setting}: dtype`);
        const bad = same(got, want);
        assert.equal(bad, null, `${setting} ${kind} table ${fmt(w)} indices ${fmt(ix)}: ${bad}`);
        // hand-written: out[i, j] = w[ix[i], j]
        const wv = readView(w), iv = readView(ix);
        const hand = iv.flatMap((k) => wv.slice(k * d, (k + 1) * d));
        assert.equal(same(Array.from(got), kind === 'float32' ? Array.from(Float32Array.from(hand)) : hand), null, `${setting}: hand-written`);
      }
    });
  });

  test('backward: summed in index order, bitwise equal to the sequential scatterAdd', () => {
    forEachSetting((setting) => {
      const r = rng(12);
      for (const kind of KINDS) for (const [rows, d, n] of SIZES) {
        const dy = randView(r, kind, [n, d], normal);
        const ix = indexVector(r, n, rows);
        const got = nat.embeddingBackward!(dy, ix, rows);
        const want = ref.scatterAdd([rows, d], 0, broadcast(ix, d), dy, kind);
        const bad = same(got, want);
        assert.equal(bad, null, `${setting} ${kind} dy ${fmt(dy)} indices ${fmt(ix)} rows ${rows}: ${bad}`);
        // the reference backend's own embedding kernels are the same sums
        assert.equal(same(ref.embeddingBackward!(dy, ix, rows), want), null, 'reference embeddingBackward');
        assert.equal(same(ref.embeddingForward!({ data: want, shape: [rows, d], strides: [d, 1], offset: 0 }, ix),
          ref.gather({ data: want, shape: [rows, d], strides: [d, 1], offset: 0 }, 0, broadcast(ix, d))), null, 'reference embeddingForward');
      }
    });
  });

  test('hand-derived backward: repeated indices add up, unused rows stay zero', () => {
    const dy: View = { data: Float32Array.from([1, 2, 10, 20, 100, 200]), shape: [3, 2], strides: [2, 1], offset: 0 };
    const ix: View = { data: Int32Array.from([2, 0, 2]), shape: [3], strides: [1], offset: 0 };
    assert.deepEqual(Array.from(nat.embeddingBackward!(dy, ix, 4)), [10, 20, 0, 0, 101, 202, 0, 0]);
  });

  test('out-of-range indices and bad arguments are refused before anything is written', () => {
    const w: View = { data: new Float32Array(6), shape: [3, 2], strides: [2, 1], offset: 0 };
    for (const bad of [-1, 3]) {
      const ix: View = { data: Int32Array.from([0, bad]), shape: [2], strides: [1], offset: 0 };
      assert.throws(() => nat.embeddingForward!(w, ix), /out of range/);
      assert.throws(() => nat.embeddingBackward!({ data: new Float32Array(4), shape: [2, 2], strides: [2, 1], offset: 0 }, ix, 3), /out of range/);
    }
    // a table view that claims more than its array holds
    assert.throws(() => nat.embeddingForward!({ data: new Float32Array(5), shape: [3, 2], strides: [2, 1], offset: 0 },
      { data: Int32Array.from([0]), shape: [1], strides: [1], offset: 0 }), /reaches elements/);
  });
});

describe('ops: indexSelect / Embedding use the embedding kernels and keep their gradients', { skip }, () => {
  const onBackend = <T>(name: string, fn: () => T): T => {
    const prev = getBackend().name;
    setBackend(name);
    try { return fn(); } finally { setBackend(prev); }
  };
  const values = (t: Tensor): number[] => Array.from(t.dataSync());

  test('indexSelect rows: the same values and gradients as on the reference backend (float64, with createGraph)', () => {
    const w0 = randn([6, 5], { dtype: 'float64' }).dataSync();
    const ids = tensor([4, 0, 4, 5, 1, 4, 2], { dtype: 'int32' });
    const run = (): number[][] => {
      const w = tensor(Array.from(w0), { dtype: 'float64' }).reshape([6, 5]).requiresGrad_();
      const y = indexSelect(w, 0, ids);
      const loss = sum(mul(mul(y, y), y));
      const [g] = grad([loss], [w], { createGraph: true });
      const [gg] = grad([sum(mul(g!, g!))], [w]);
      return [values(y), values(g!), values(gg!)];
    };
    const nat_ = onBackend('native', run), ref_ = onBackend('reference', run);
    for (let i = 0; i < 3; i++) {
      nat_[i]!.forEach((v, j) => assert.ok(Math.abs(v - ref_[i]![j]!) <= 1e-12 * (1 + Math.abs(ref_[i]![j]!)), `output ${i}[${j}]: ${v} vs ${ref_[i]![j]}`));
    }
    // hand-derived: d/dw sum(y^3) = 3 w^2 summed over the picks; row 4 is picked three times, row 3 never
    const g = nat_[1]!;
    for (let j = 0; j < 5; j++) {
      assert.ok(Math.abs(g[4 * 5 + j]! - 9 * w0[4 * 5 + j]! ** 2) < 1e-12);
      assert.equal(g[3 * 5 + j], 0);
    }
  });

  test('nn.Embedding on a (B, T) batch records the gather kernel and matches the reference (float32)', () => {
    const run = (): number[][] => {
      const emb = new Embedding(10, 7);
      emb.weight.data.set(Float32Array.from({ length: 70 }, (_, i) => Math.sin(i)));
      const y = emb.call(tensor([[1, 9, 1], [0, 3, 9]], { dtype: 'int32' }));
      assert.deepEqual(y.shape, [2, 3, 7]);
      const loss = sum(mul(y, y));
      loss.backward();
      return [values(y), values(emb.weight.grad!)];
    };
    const a = onBackend('native', run), b = onBackend('reference', run);
    assert.deepEqual(a[0], b[0]);
    a[1]!.forEach((v, i) => assert.ok(Math.abs(v - b[1]![i]!) <= 1e-6, `grad[${i}]: ${v} vs ${b[1]![i]}`));
  });
});
