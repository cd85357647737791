// Fuzz the native fused LayerNorm kernels (native/src/layer_norm.cc; loops in
// native/src/layer_norm_gelu_impl.h) on every CPU path this machine has and with 1 and 2 threads,
// against math written out here in float64 (mean, biased variance, the closed-form backward).
// Random row counts and widths (0, 1, odd, beyond one SIMD vector), transposed and stepped views,
// weight and bias present or not. Tolerances come from rounding-error bounds (float32 kernels compute
// in float32; row sums in float32 lanes of at most 16 values, then float64; dweight / dbias in float32
// over tiles of 32 rows, then float64). Then the ops level: fusedLayerNorm (followed by fusedGelu,
// whose kernels gelu.test.ts fuzzes) on the native backend against layerNormReference /
// geluReference differentiated by autograd on the reference backend, first and second order.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { View } from '../../src/backend/backend.js';
import { getNativeBackend } from '../../src/backends/native/index.js';
import {
  abs, fusedGelu, fusedLayerNorm, geluReference, getBackend, grad, layerNormReference, max, mul, randn, setBackend, sub, sum, tensor, type Tensor,
} from '../../src/index.js';
import { EPS, KINDS, fmt, mismatch, randView, readView, rng, vec, type FloatKind } from './helpers.js';
import { forEachSetting, CPU_PATHS as PATHS, nativeSkip as skip } from './helpers.js';

const nat = getNativeBackend()!;

const normal = (r: () => number): number => (r() - 0.5) * 4;
const round = (kind: FloatKind, xs: number[]): number[] => (kind === 'float32' ? Array.from(Float32Array.from(xs)) : xs);

/** A random (rows, cols) view: row-major or transposed storage, sometimes stepped, random offset. */
function matrix(r: () => number, kind: FloatKind, rows: number, cols: number, fill: (r: () => number) => number): View {
  return randView(r, kind, [rows, cols], fill);
}

/** Row-wise LayerNorm statistics in float64: mean and 1/sqrt(biased var + eps). */
function stats(x: number[], rows: number, cols: number, eps: number): { mean: number[]; rstd: number[] } {
  const mean: number[] = [], rstd: number[] = [];
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[i * cols + j]!;
    const m = s / cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[i * cols + j]! - m) ** 2;
    mean.push(m);
    rstd.push(1 / Math.sqrt(v / cols + eps));
  }
  return { mean, rstd };
}

describe('native fused LayerNorm vs float64 math', { skip }, () => {
  test('layerNormForward: y, mean and rstd for random shapes, layouts, weight/bias present or not', () => {
    forEachSetting((setting) => {
      const r = rng(101);
      for (let it = 0; it < 40; it++) for (const kind of KINDS) {
        const rows = it === 0 ? 0 : it === 1 ? 1 : Math.floor(r() * 40);
        const cols = it === 2 ? 1 : it === 3 ? 300 : 1 + Math.floor(r() * 70);
        const eps = r() < 0.5 ? 1e-5 : 0.1;
        const shift = r() < 0.3 ? 3 : 0; // rows with a non-zero mean
        const xv = matrix(r, kind, rows, cols, (q) => normal(q) + shift);
        const w = r() < 0.7 ? randView(r, kind, [cols], normal) : null;
        const b = r() < 0.7 ? randView(r, kind, [cols], normal) : null;
        const got = nat.layerNormForward!(xv, w, b, eps);
        const x = readView(xv);
        const wv = w ? readView(w) : null, bv = b ? readView(b) : null;
        const st = stats(x, rows, cols, eps);
        const e = EPS[kind];
        const where = `${setting} ${kind} x ${fmt(xv)} weight ${w !== null} bias ${b !== null} eps ${eps}`;
        assert.equal(mismatch(got.mean, st.mean, 4 * e, 4 * e), null, `mean: ${where}`);
        assert.equal(mismatch(got.rstd, st.rstd, 8 * e), null, `rstd: ${where}`);
        const want: number[] = [], bound: number[] = [];
        for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) {
          const xj = x[i * cols + j]!, m = st.mean[i]!, rs = st.rstd[i]!;
          const wj = wv ? wv[j]! : 1, bj = bv ? bv[j]! : 0;
          want.push((xj - m) * rs * wj + bj);
          // x - mean rounds at the scale of |x| + |mean|; then three roundings (rstd, w, b)
          bound.push(8 * e * ((Math.abs(xj) + Math.abs(m)) * rs * Math.abs(wj) + Math.abs(bj)));
        }
        assert.equal(mismatch(got.y, want, 0, 0, bound), null, `y: ${where}`);
      }
    });
  });

  test('layerNormBackward: dx, dweight, dbias against the closed form, any subset requested', () => {
    forEachSetting((setting) => {
      const r = rng(202);
      for (let it = 0; it < 40; it++) for (const kind of KINDS) {
        // it 3: several fixed row blocks of float64 partial sums for dweight/dbias (blocks of 63 rows at D = 257),
        // each block's rows summed in tiles of 32 in the input's dtype; it 4: rows wider than 1024 (the
        // kernel then adds into float64 directly)
        const rows = it === 0 ? 0 : it === 1 ? 1 : it === 3 ? 300 : it === 4 ? 3 : Math.floor(r() * 100);
        const cols = it === 2 ? 1 : it === 3 ? 257 : it === 4 ? 1030 : 1 + Math.floor(r() * 40);
        const eps = 1e-5;
        const xv = matrix(r, kind, rows, cols, normal);
        const dyv = matrix(r, kind, rows, cols, normal);
        const w = r() < 0.7 ? randView(r, kind, [cols], normal) : null;
        const x = readView(xv), dy = readView(dyv), wv = w ? readView(w) : null;
        // the statistics the kernel is handed, in its dtype
        const st = stats(x, rows, cols, eps);
        const mean = round(kind, st.mean), rstd = round(kind, st.rstd);
        const needs: [boolean, boolean, boolean] = it < 5 ? [true, true, true] : [r() < 0.8, r() < 0.8, r() < 0.8];
        const got = nat.layerNormBackward!(dyv, xv, w, vec(kind, mean), vec(kind, rstd), needs);
        const e = EPS[kind];
        const where = `${setting} ${kind} x ${fmt(xv)} dy ${fmt(dyv)} weight ${w !== null} needs ${needs.join(',')}`;
        const dx: number[] = [], dxB: number[] = [], dw = new Array<number>(cols).fill(0), dwB = new Array<number>(cols).fill(0);
        const db = new Array<number>(cols).fill(0), dbB = new Array<number>(cols).fill(0);
        for (let i = 0; i < rows; i++) {
          const m = mean[i]!, rs = rstd[i]!;
          let c1 = 0, c2 = 0, a1 = 0, a2 = 0;
          const xh: number[] = [], xhErr: number[] = [], g: number[] = [];
          for (let j = 0; j < cols; j++) {
            const xj = x[i * cols + j]!;
            xh.push((xj - m) * rs);
            xhErr.push(4 * e * (Math.abs(xj) + Math.abs(m)) * rs);
            g.push(dy[i * cols + j]! * (wv ? wv[j]! : 1));
            c1 += g[j]!; c2 += g[j]! * xh[j]!; a1 += Math.abs(g[j]!); a2 += Math.abs(g[j]! * xh[j]!) + Math.abs(g[j]!) * xhErr[j]!;
          }
          c1 /= cols; c2 /= cols; a1 /= cols; a2 /= cols;
          for (let j = 0; j < cols; j++) {
            dx.push(rs * (g[j]! - c1 - xh[j]! * c2));
            dxB.push(8 * e * rs * (Math.abs(g[j]!) + Math.abs(c1) + a1 + Math.abs(xh[j]!) * (Math.abs(c2) + a2)) + rs * Math.abs(c2) * xhErr[j]!);
            const d = dy[i * cols + j]!;
            // dweight / dbias terms are added in the input's dtype over tiles of up to 32 rows: 32 roundings
            dw[j] += d * xh[j]!; dwB[j] += 36 * e * Math.abs(d * xh[j]!) + Math.abs(d) * xhErr[j]!;
            db[j] += d; dbB[j] += 36 * e * Math.abs(d);
          }
        }
        if (needs[0]) assert.equal(mismatch(got.dx!, dx, 0, 0, dxB), null, `dx: ${where}`); else assert.equal(got.dx, null);
        if (needs[1] && w) assert.equal(mismatch(got.dweight!, dw, 0, 0, dwB), null, `dweight: ${where}`); else assert.equal(got.dweight, null);
        if (needs[2]) assert.equal(mismatch(got.dbias!, db, 0, 0, dbB), null, `dbias: ${where}`); else assert.equal(got.dbias, null);
      }
    });
  });

  test('bad input reaching the kernels throws a JavaScript error naming the kernel', () => {
    const x: View = { data: new Float32Array(5), shape: [2, 3], strides: [3, 1], offset: 0 }; // needs 6 elements
    assert.throws(() => nat.layerNormForward!(x, null, null, 1e-5), /native layerNormForward: .*too short/);
    const ok: View = { data: new Float32Array(6), shape: [2, 3], strides: [3, 1], offset: 0 };
    assert.throws(() => nat.layerNormForward!(ok, vec('float64', [1, 1, 1]), null, 1e-5), /native layerNormForward: weight and bias must have x's dtype/);
    assert.throws(() => nat.layerNormForward!(ok, vec('float32', [1, 1]), null, 1e-5), /native layerNormForward: .*shape \(3,\)/);
  });
});

describe('fused LayerNorm (then GELU) ops on native vs the composed references on the reference backend', { skip }, () => {
  const onBackend = <T>(name: string, fn: () => T): T => {
    const prev = getBackend().name;
    setBackend(name);
    try { return fn(); } finally { setBackend(prev); }
  };
  const maxDiff = (a: Tensor, b: Tensor): number => max(abs(sub(a, b))).item();

  for (const dtype of ['float32', 'float64'] as const) {
    const tol = dtype === 'float32' ? 2e-5 : 1e-12;
    test(`${dtype}: values, first- and second-order gradients`, () => {
      const x = randn([3, 5, 24], { dtype, requiresGrad: true });
      const w = randn([24], { dtype, requiresGrad: true });
      const b = randn([24], { dtype, requiresGrad: true });
      const gy = randn([3, 5, 24], { dtype });
      // loss = sum(gelu(LN(x)) * gy); grads w.r.t. x, w, b, then d/dx of sum(dL/dx^2) (createGraph)
      const run = (ln: typeof fusedLayerNorm, gelu: typeof fusedGelu, form: 'none' | 'tanh'): Tensor[] => {
        const y = gelu(ln(x, w, b, 1e-5), form);
        const loss = sum(mul(y, gy));
        const [gx, gw, gb] = grad([loss], [x, w, b], { createGraph: true, retainGraph: true }) as Tensor[];
        const [ggx] = grad([sum(mul(gx!, gx!))], [x]) as Tensor[];
        return [y, gx!, gw!, gb!, ggx!];
      };
      for (const form of ['none', 'tanh'] as const) {
        const got = onBackend('native', () => run(fusedLayerNorm, fusedGelu, form));
        const want = onBackend('reference', () => run(layerNormReference, (t, f) => geluReference(t, f), form));
        const names = ['y', 'dx', 'dweight', 'dbias', 'second order dx'];
        got.forEach((g, i) => {
          const scale = Math.max(1, max(abs(want[i]!)).item());
          assert.ok(maxDiff(g, want[i]!) <= tol * scale, `${dtype} ${form} ${names[i]}: max |diff| ${maxDiff(g, want[i]!)} (scale ${scale})`);
        });
      }
    });
  }

  test('tensor-level errors name the op and the fix', () => {
    const x = tensor([[1, 2, 3]]);
    assert.throws(() => fusedLayerNorm(x, tensor([1, 2])), /fusedLayerNorm.*weight must have shape \(3,\)/);
    assert.throws(() => fusedLayerNorm(x, tensor([1, 2, 3], { dtype: 'float64' })), /fusedLayerNorm.*share one dtype/);
    assert.throws(() => fusedGelu(x, 'fast' as 'tanh'), /gelu.*approximate must be 'none' or 'tanh'/);
  });
});
