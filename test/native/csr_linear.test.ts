// Fuzz the native csrLinear kernel (native/src/csr_linear.cc) against csrLinearReference (the outside
// truth: a plain float64-accumulating loop in src/compress/prune/csr.ts), on every CPU path this
// machine has and with 1 and 2 threads: random shapes and densities (empty rows, empty matrices,
// zero batch, batch 1 and batches that cross the packed tile widths), float32 and float64, with
// and without bias. Tolerance: the classic sum bound n * eps * sum |terms| per output, with n the
// row's nonzeros + 1 and eps of the kernel's dtype. Corrupt matrices must throw, not read outside x.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { getNativeBackend } from '../../src/backends/native/index.js';
import { csrLinearReference, denseToCsr, type CsrMatrix, type FloatArray } from '../../src/compress/prune/csr.js';
import { EPS, alloc, rng, type FloatKind } from './helpers.js';
import { forEachSetting, CPU_PATHS as PATHS, nativeSkip as skip } from './helpers.js';

const nativeBackend = getNativeBackend();
const kernel = (): NonNullable<typeof nativeBackend>['csrLinear'] => nativeBackend!.csrLinear;


function randomCsr(r: () => number, kind: FloatKind, rows: number, cols: number, density: number): CsrMatrix {
  const dense = new Float64Array(rows * cols);
  const emptyRow = r() < 0.5 ? Math.floor(r() * rows) : -1;
  for (let i = 0; i < dense.length; i++) if (Math.floor(i / cols) !== emptyRow && r() < density) dense[i] = (r() - 0.5) * 4;
  return denseToCsr(dense, rows, cols, kind);
}

/** Worst |got - want| / bound over the outputs, with bound = (nnz_r + 1) eps (sum |w x| + |b|) + tiny. */
function check(kind: FloatKind, w: CsrMatrix, x: FloatArray, batch: number, bias: FloatArray | null, got: FloatArray, want: FloatArray, what: string): void {
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < w.rows; r++) {
      let mag = bias === null ? 0 : Math.abs(bias[r]!);
      const a = w.crowIndices[r]!, e = w.crowIndices[r + 1]!;
      for (let k = a; k < e; k++) mag += Math.abs(w.values[k]! * x[b * w.cols + w.colIndices[k]!]!);
      const tol = (e - a + 2) * EPS[kind] * mag + 1e-30;
      const i = b * w.rows + r;
      if (!(Math.abs(got[i]! - want[i]!) <= tol)) {
        assert.fail(`${what}: out[${b}, ${r}] = ${got[i]} but the reference gives ${want[i]} (tolerance ${tol})`);
      }
    }
  }
}

describe('native csrLinear vs csrLinearReference', { skip }, () => {
  test('the addon built from this source has csrLinear', () => {
    assert.equal(typeof nativeBackend!.csrLinear, 'function', 'native addon without csrLinear: it is stale; rebuild it with `node scripts/build-native.mjs`');
  });

  test('random shapes, densities and batches, every CPU path, 1 and 2 threads', () => {
    forEachSetting((setting) => {
      const r = rng(setting.length * 7919 + setting.charCodeAt(0));
      for (const kind of ['float32', 'float64'] as FloatKind[]) {
        for (let it = 0; it < 14; it++) {
          const rows = it === 0 ? 0 : 1 + Math.floor(r() * 70);
          const cols = it === 1 ? 1 : 1 + Math.floor(r() * 90);
          const density = [0, 0.03, 0.1, 0.5, 1][it % 5]!;
          const batch = [1, 0, 2, 3, 7, 16, 17, 33, 65, 130, 1, 8, 31, 64][it]!;
          const w = randomCsr(r, kind, rows, cols, density);
          const x = alloc(kind, batch * cols).map(() => (r() - 0.5) * 6) as FloatArray;
          const bias = r() < 0.5 ? null : alloc(kind, rows).map(() => r() - 0.5) as FloatArray;
          const want = alloc(kind, batch * rows), got = alloc(kind, batch * rows).fill(NaN);
          csrLinearReference(x, batch, w, bias, want);
          kernel()(x, batch, w, bias, got);
          check(kind, w, x, batch, bias, got, want, `${setting} ${kind} (${rows} x ${cols}, nnz ${w.values.length}) batch ${batch} bias ${bias !== null}`);
        }
      }
    });
  });

  test('a 90%-sparse 1200 x 1200 layer at batch 1 and 32 (the benchmark shape)', () => {
    forEachSetting((setting) => {
      const r = rng(42);
      const w = randomCsr(r, 'float32', 1200, 1200, 0.1);
      const bias = new Float32Array(1200).map(() => r() - 0.5);
      for (const batch of [1, 32]) {
        const x = new Float32Array(batch * 1200).map(() => r());
        const want = new Float32Array(batch * 1200), got = new Float32Array(batch * 1200);
        csrLinearReference(x, batch, w, bias, want);
        kernel()(x, batch, w, bias, got);
        check('float32', w, x, batch, bias, got, want, `${setting} 1200 x 1200 batch ${batch}`);
      }
    });
  });

  test('corrupt matrices and mismatched arrays throw, naming csrLinear', () => {
    const w = denseToCsr(new Float32Array([1, 0, 2, 0, 3, 0]), 2, 3);
    const x = new Float32Array([1, 2, 3]), out = new Float32Array(2);
    kernel()(x, 1, w, null, out);
    assert.deepEqual([...out], [7, 6]);
    forEachSetting((setting) => {
      for (const batch of [1, 2, 40]) {
        const xb = new Float32Array(batch * 3), ob = new Float32Array(batch * 2);
        for (const c of [3, -1, 1 << 30]) {
          const bad = { ...w, colIndices: Int32Array.from(w.colIndices, (v, i) => (i === 1 ? c : v)) };
          assert.throws(() => kernel()(xb, batch, bad, null, ob), /native csrLinear: a column index is outside \[0, 3\)/, `${setting} batch ${batch} col ${c}`);
        }
      }
    });
    const throwsWith = (re: RegExp, f: () => void): void => { assert.throws(f, re); };
    throwsWith(/crowIndices decreases at row 1 \(2 -> 1\)/, () => kernel()(x, 1, { ...w, crowIndices: new Int32Array([0, 2, 1]) }, null, out));
    throwsWith(/crowIndices must start at 0/, () => kernel()(x, 1, { ...w, crowIndices: new Int32Array([1, 2, 3]) }, null, out));
    throwsWith(/crowIndices ends at nnz = 9/, () => kernel()(x, 1, { ...w, crowIndices: new Int32Array([0, 2, 9]) }, null, out));
    throwsWith(/crowIndices has 2 entries, expected rows \+ 1 = 3/, () => kernel()(x, 1, { ...w, crowIndices: new Int32Array([0, 3]) }, null, out));
    throwsWith(/x has 3 values, fewer than batch x cols = 2 x 3/, () => kernel()(x, 2, w, null, new Float32Array(4)));
    throwsWith(/out has 2 values, fewer than batch x rows = 2 x 2/, () => kernel()(new Float32Array(6), 2, w, null, out));
    throwsWith(/bias has 3 values, expected rows = 2/, () => kernel()(x, 1, w, new Float32Array(3), out));
    throwsWith(/must share one float type/, () => kernel()(new Float64Array(3), 1, w, null, out));
  });
});
