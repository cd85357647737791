// NaN propagates as in PyTorch (issue 14, defect 2) through relu, the fused kernels and every
// reduction, on the reference backend and, when the addon is built, on every native CPU path with 1
// and 2 threads. The expected NaN positions are derived by hand from IEEE arithmetic, as PyTorch
// computes them: relu(NaN) = NaN (torch.relu uses x <= 0 ? 0 : x) and its gradient passes there; a NaN weight row poisons that
// output column of linear; max/min/sum of a set holding NaN is NaN and argmax/argmin point at the
// first NaN; layer norm, softmax and softmax-cross-entropy of a row holding NaN are NaN in the whole
// row; GELU(NaN) = NaN; attention output of a query is NaN when it, or any key/value it attends
// to, holds NaN. Sizes exceed one SIMD vector and one GEMM tile so the blocked and tail loops run.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  argmax, argmin, fusedGelu, fusedLayerNorm, fusedLinear, getBackend, listBackends, max, min, relu, setBackend, softmax,
  softmaxCrossEntropy, scaledDotProductAttention, sum, tensor, type Tensor,
} from '../../src/index.js';
import { forEachSetting } from '../native/helpers.js';

type Kind = 'float32' | 'float64';

/** Deterministic values in [-2, 2) (no randomness: the NaN positions are what matters). */
function values(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (((i * 7919 + seed * 104729) % 1000) / 250) - 2);
}

function mat(rows: number, cols: number, seed: number, kind: Kind, nanAt: [number, number][] = []): Tensor {
  const v = values(rows * cols, seed);
  for (const [i, j] of nanAt) v[i * cols + j] = NaN;
  return tensor(kind === 'float32' ? Float32Array.from(v) : Float64Array.from(v), { shape: [rows, cols], dtype: kind });
}

const flat = (t: Tensor): number[] => { const c = t.contiguous(); return Array.from(c.data as ArrayLike<number>).slice(c.offset, c.offset + c.size); };

function checkAll(where: string): void {
  for (const kind of ['float32', 'float64'] as const) {
    const at = `${where}, ${kind}`;
    // relu: NaN stays NaN, negatives become 0
    const x = mat(3, 37, 1, kind, [[0, 0], [1, 17], [2, 36]]);
    const y = flat(relu(x));
    const xs = flat(x);
    xs.forEach((v, i) => assert.ok(Number.isNaN(v) ? Number.isNaN(y[i]!) : y[i] === Math.max(v, 0), `${at}: relu at ${i}: ${v} -> ${y[i]}`));

    // fused linear (+ ReLU): x (13, 40) @ w (35, 40)^T + b; NaN in w row 5 -> column 5 NaN; NaN in x row 2 -> row 2 NaN
    for (const withRelu of [false, true]) {
      const xl = mat(13, 40, 2, kind, [[2, 39]]);
      const w = mat(35, 40, 3, kind, [[5, 0]]);
      const b = mat(1, 35, 4, kind).reshape([35]);
      const out = flat(fusedLinear(xl, w, b, { relu: withRelu }));
      for (let i = 0; i < 13; i++) for (let j = 0; j < 35; j++) {
        const v = out[i * 35 + j]!;
        if (i === 2 || j === 5) assert.ok(Number.isNaN(v), `${at}: linear relu=${withRelu} (${i}, ${j}) should be NaN, got ${v}`);
        else assert.ok(Number.isFinite(v) && (!withRelu || v >= 0), `${at}: linear relu=${withRelu} (${i}, ${j}) = ${v}`);
      }
    }

    // gradients: relu passes dy where its output is NaN and where it is > 0, 0 where it is <= 0
    // (PyTorch's threshold_backward; before the fix NaN got 0); the same for fused linear + ReLU,
    // checked through the bias gradient, which is the column sums of that mask
    {
      const xr = mat(3, 37, 1, kind, [[0, 0], [1, 17], [2, 36]]).detach().requiresGrad_();
      sum(relu(xr)).backward();
      const g = flat(xr.grad!);
      flat(xr).forEach((v, i) => assert.equal(g[i], Number.isNaN(v) || v > 0 ? 1 : 0, `${at}: relu grad at ${i} (x ${v})`));
      const xl = mat(13, 40, 2, kind, [[2, 39]]).detach().requiresGrad_();
      const w = mat(35, 40, 3, kind).detach().requiresGrad_();
      const b = mat(1, 35, 4, kind).reshape([35]).detach().requiresGrad_();
      const out = fusedLinear(xl, w, b, { relu: true });
      sum(out).backward();
      const o = flat(out);
      const want = Array.from({ length: 35 }, (_, j) => { let c = 0; for (let i = 0; i < 13; i++) c += o[i * 35 + j]! <= 0 ? 0 : 1; return c; });
      assert.deepEqual(flat(b.grad!), want, `${at}: fused linear+ReLU bias gradient (row 2 is all NaN and passes)`);
    }

    // reductions: row 1 holds a NaN at column 17 (and row 2 one at 36); rows 0.. of r have none
    const r = mat(4, 37, 5, kind, [[1, 17], [2, 36]]);
    for (const [name, f] of [['max', max], ['min', min], ['sum', sum]] as const) {
      const v = flat(f(r, 1));
      assert.ok(!Number.isNaN(v[0]!) && Number.isNaN(v[1]!) && Number.isNaN(v[2]!) && !Number.isNaN(v[3]!), `${at}: ${name} over rows: ${v}`);
      assert.ok(Number.isNaN(f(r).item()), `${at}: ${name} of everything should be NaN`);
      const cols = flat(f(r, 0));
      cols.forEach((c, j) => assert.equal(Number.isNaN(c), j === 17 || j === 36, `${at}: ${name} over columns, column ${j} = ${c}`));
    }
    for (const [name, f] of [['argmax', argmax], ['argmin', argmin]] as const) {
      const v = flat(f(r, 1));
      assert.equal(v[1], 17, `${at}: ${name} row 1 should point at the NaN`);
      assert.equal(v[2], 36, `${at}: ${name} row 2 should point at the NaN`);
      assert.equal(f(r).item(), 37 + 17, `${at}: ${name} of everything should point at the first NaN`);
    }

    // layer norm, softmax, GELU: a NaN poisons its whole row (GELU: only its element)
    const ln = flat(fusedLayerNorm(r));
    const sm = flat(softmax(r, 1));
    const ge = flat(fusedGelu(r));
    for (let i = 0; i < 4; i++) for (let j = 0; j < 37; j++) {
      const k = i * 37 + j;
      assert.equal(Number.isNaN(ln[k]!), i === 1 || i === 2, `${at}: layerNorm (${i}, ${j}) = ${ln[k]}`);
      assert.equal(Number.isNaN(sm[k]!), i === 1 || i === 2, `${at}: softmax (${i}, ${j}) = ${sm[k]}`);
      assert.equal(Number.isNaN(ge[k]!), (i === 1 && j === 17) || (i === 2 && j === 36), `${at}: gelu (${i}, ${j}) = ${ge[k]}`);
    }

    // softmax cross-entropy: one NaN logit (in a row whose label is elsewhere) makes the mean loss NaN
    const labels = tensor([0, 3, 5, 9], { dtype: 'int32' });
    assert.ok(Number.isNaN(softmaxCrossEntropy(mat(4, 10, 6, kind, [[1, 7]]), labels).item()), `${at}: softmaxCrossEntropy with a NaN logit`);
    assert.ok(Number.isFinite(softmaxCrossEntropy(mat(4, 10, 6, kind), labels).item()), `${at}: softmaxCrossEntropy without NaN`);

    // attention (B 1, H 1, T 9, D 8), causal: NaN in key 4 -> queries 4..8 NaN (every score of theirs
    // meets it through the softmax), 0..3 finite; NaN in query 2 -> only output row 2 NaN; NaN in
    // value (6, 7) -> column 7 of queries 6..8 NaN, every other column finite. Column 7 of queries
    // 0..5 (weight exactly 0 on value 6) is left open: PyTorch's math path gives 0 * NaN = NaN
    // there, a flash kernel skips the masked block.
    const T = 9, D = 8;
    const qkv = (nq: [number, number][], nk: [number, number][], nv: [number, number][]): Tensor[] =>
      [mat(T, D, 7, kind, nq), mat(T, D, 8, kind, nk), mat(T, D, 9, kind, nv)].map((t) => t.reshape([1, 1, T, D]));
    const cases: [string, Tensor[], (row: number, col: number) => boolean | null][] = [
      ['key 4', qkv([], [[4, 3]], []), (row) => row >= 4],
      ['query 2', qkv([[2, 0]], [], []), (row) => row === 2],
      ['value 6', qkv([], [], [[6, 7]]), (row, col) => (col !== 7 ? false : row >= 6 ? true : null)],
    ];
    for (const [name, [q, k, v], nanAt] of cases) {
      const o = flat(scaledDotProductAttention(q!, k!, v!, { causal: true }));
      for (let i = 0; i < T; i++) for (let d = 0; d < D; d++) {
        const want = nanAt(i, d);
        if (want !== null) assert.equal(Number.isNaN(o[i * D + d]!), want, `${at}: attention with NaN ${name}, output (${i}, ${d}) = ${o[i * D + d]}`);
      }
    }
  }
}

describe('NaN propagates like PyTorch through relu, fused kernels and reductions', () => {
  test('reference backend', () => {
    const prev = getBackend().name;
    setBackend('reference');
    try { checkAll('reference'); } finally { setBackend(prev); }
  });

  test('native backend, every CPU path and 1-2 threads', { skip: listBackends().includes('native') ? false : 'native addon not built' }, () => {
    const prev = getBackend().name;
    setBackend('native');
    try { forEachSetting((setting) => checkAll(`native ${setting}`)); } finally { setBackend(prev); }
  });
});
