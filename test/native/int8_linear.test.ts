// Fuzz the native int8Linear and int8Conv2d (native/src/int8_linear.cc + int8_gemm_{generic,avx2,avx512}.cc)
// against int8LinearReference / int8Conv2dReference (src/backends/reference/quantized.ts, the outside
// truth), and the native quantizer and range finder against quantizeValue, on every int8 path this
// machine has (vnni, avx512, avxvnni, avx2, generic as available; avxvnni only on CPUs with AVX-VNNI,
// which this test then covers like the others) with 1 and 2 threads. int32
// accumulation is exact and the epilogue follows the reference's float steps, so results must be
// bit-identical: odd sizes (1, 3, 17, 65, 257, ...), zero points at the ends of the range (0, 255,
// -128, 127), the all-255 x all-(-128) worst case of vpmaddubsw's int16 saturation, int32
// wrap-around beyond K = 33025, bias / ReLU / int8 and uint8 requantization, non-finite biases.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { quantizeDynamicValues, quantizeValue, type Int8ConvGeometry, type Int8LinearOutput, type Int8Storage, type QuantizedActivation, type QuantizedWeight } from '../../src/backend/quantized.js';
import { int8Conv2dReference, int8LinearReference, int8MaxPool2dReference } from '../../src/backends/reference/quantized.js';
import { getNativeBackend, getNumThreads, int8Path, nativeStatus, setInt8Path, setNumThreads, supportedInt8Paths } from '../../src/backends/native/index.js';
import { nativeSkip as skip, rng } from './helpers.js';

const nat = getNativeBackend();
type Int8PathName = 'vnni' | 'avx512' | 'avxvnni' | 'avx2' | 'generic';
const PATHS = (nat ? supportedInt8Paths() : []) as Int8PathName[];

/** Runs body on every int8 path with 1 and 2 threads, then restores the automatic path and the threads. */
function forEachInt8Path(body: (setting: string) => void): void {
  const prev = getNumThreads();
  try {
    for (const path of PATHS) for (const threads of [1, 2]) {
      setInt8Path(path);
      setNumThreads(threads);
      body(`${path}, ${threads} thread(s)`);
    }
  } finally {
    setInt8Path('auto');
    setNumThreads(prev);
  }
}

const f32bits = (v: number): number => new Uint32Array(Float32Array.of(v).buffer)[0]!;

/** Bit-identical outputs (float32: same bits, any NaN matches any NaN). */
function same(got: Float32Array | Int8Storage, want: Float32Array | Int8Storage, what: string): void {
  assert.equal(got.constructor.name, want.constructor.name, `${what}: output type`);
  assert.equal(got.length, want.length, `${what}: output length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!, w = want[i]!;
    if (got instanceof Float32Array) {
      if (Number.isNaN(g) && Number.isNaN(w)) continue;
      if (f32bits(g) !== f32bits(w)) assert.fail(`${what}: out[${i}] = ${g} but the reference gives ${w}`);
    } else if (g !== w) assert.fail(`${what}: out[${i}] = ${g} but the reference gives ${w}`);
  }
}

interface Case { x: QuantizedActivation; w: QuantizedWeight; bias: Float32Array | null; out: Int8LinearOutput; what: string }

function randomCase(r: () => number, M: number, K: number, N: number, trial: number): Case {
  const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
  const signed = trial % 2 === 1;
  const [lo, hi] = signed ? [-128, 127] : [0, 255];
  const zx = [lo, hi, int(lo, hi), 0][trial % 4]!;
  const xs = Array.from({ length: M * K }, () => (r() < 0.1 ? (r() < 0.5 ? lo : hi) : int(lo, hi)));
  const x: QuantizedActivation = { data: signed ? Int8Array.from(xs) : Uint8Array.from(xs), rows: M, cols: K, scale: 0.001 + r() * 0.1, zeroPoint: zx };
  const w: QuantizedWeight = {
    data: Int8Array.from({ length: N * K }, () => (r() < 0.1 ? (r() < 0.5 ? -128 : 127) : int(-128, 127))), rows: N, cols: K,
    scales: Float32Array.from({ length: N }, () => 0.0005 + r() * 0.05),
    zeroPoints: Int32Array.from({ length: N }, () => [0, 0, -128, 127, int(-128, 127)][int(0, 4)]!),
  };
  const bias = r() < 0.25 ? null : Float32Array.from({ length: N }, () => (r() - 0.5) * 4);
  const kind = trial % 5;
  const out: Int8LinearOutput = kind === 0 || kind === 3 ? { kind: 'float32' } : {
    kind: 'requantize', dtype: kind === 1 ? 'uint8' : 'int8', scale: [0.01, 0.1, 1, 0.003][int(0, 3)]!,
    zeroPoint: kind === 1 ? [0, 255, int(0, 255)][int(0, 2)]! : [-128, 127, int(-128, 127)][int(0, 2)]!, relu: r() < 0.5,
  };
  return { x, w, bias, out, what: `M ${M} K ${K} N ${N}, x ${signed ? 'int8' : 'uint8'} zp ${zx}, ${out.kind === 'float32' ? 'float32' : `${out.dtype} zp ${out.zeroPoint} relu ${out.relu}`}, bias ${bias !== null}` };
}

describe('native int8Linear', { skip }, () => {
  test('the native backend has its own int8Linear, on an int8 path the CPU supports', () => {
    assert.ok(PATHS.includes('generic'));
    assert.ok(PATHS.includes(int8Path() as Int8PathName), int8Path());
    assert.notEqual(nat!.int8Linear, int8LinearReference);
  });

  test('random odd sizes and extreme zero points: bit-identical to the reference on every path', () => {
    const r = rng(20);
    const sizes = [1, 3, 17, 65, 257];
    const cases: Case[] = [];
    for (let trial = 0; trial < 30; trial++) {
      const M = [1, 3, 7, 17, 33][trial % 5]!, K = sizes[Math.floor(r() * sizes.length)]!, N = [1, 3, 17, 65, 130][Math.floor(r() * 5)]!;
      cases.push(randomCase(r, M, K, N, trial));
    }
    // more rows than one row block (48 on the 6-row kernels), K over one K block (256 on vnni)
    for (let trial = 0; trial < 5; trial++) cases.push(randomCase(r, [97, 50, 61, 32, 13][trial]!, [300, 257, 65, 521, 1031][trial]!, [17, 65, 3, 70, 16][trial]!, trial));
    const wants = cases.map((c) => int8LinearReference(c.x, c.w, c.bias, c.out));
    forEachInt8Path((setting) => {
      cases.forEach((c, i) => same(nat!.int8Linear(c.x, c.w, c.bias, c.out), wants[i]!, `${setting}, ${c.what}`));
    });
  });

  test('worst case of int16 saturation: all 255 x all -128 (and x 255 x 127), K odd and even', () => {
    for (const K of [257, 1024]) {
      for (const wv of [-128, 127]) {
        const M = 7, N = 70;
        const x: QuantizedActivation = { data: new Uint8Array(M * K).fill(255), rows: M, cols: K, scale: 0.02, zeroPoint: 0 };
        const w: QuantizedWeight = { data: new Int8Array(N * K).fill(wv), rows: N, cols: K, scales: new Float32Array(N).fill(0.01), zeroPoints: new Int32Array(N) };
        const want = int8LinearReference(x, w, null, { kind: 'float32' }) as Float32Array;
        assert.equal(want[0], Math.fround(Math.fround(255 * wv * K * Math.fround(0.02 * Math.fround(0.01)))));
        // int8 activations at -128 with zero point 127: (x - zx) = -255, with w = -128: +32640 per term
        const xs: QuantizedActivation = { data: new Int8Array(M * K).fill(-128), rows: M, cols: K, scale: 0.02, zeroPoint: 127 };
        const wantS = int8LinearReference(xs, w, null, { kind: 'float32' });
        forEachInt8Path((setting) => {
          same(nat!.int8Linear(x, w, null, { kind: 'float32' }), want, `${setting}, K ${K}, 255 x ${wv}`);
          same(nat!.int8Linear(xs, w, null, { kind: 'float32' }), wantS, `${setting}, K ${K}, int8 -128 (zp 127) x ${wv}`);
        });
      }
    }
  });

  test('int32 wrap-around beyond K = 33025 matches the reference', () => {
    const K = 40001, M = 2, N = 3;
    const x: QuantizedActivation = { data: new Uint8Array(M * K).fill(255), rows: M, cols: K, scale: 1, zeroPoint: 0 };
    const w: QuantizedWeight = { data: new Int8Array(N * K).fill(-128), rows: N, cols: K, scales: Float32Array.of(1, 0.5, 2), zeroPoints: Int32Array.of(0, 127, -5) };
    const want = int8LinearReference(x, w, null, { kind: 'float32' });
    forEachInt8Path((setting) => same(nat!.int8Linear(x, w, null, { kind: 'float32' }), want, `${setting}, K ${K}`));
  });

  test('non-finite biases: float32 NaN/Inf out, requantized to the ends as the reference', () => {
    const r = rng(7);
    const M = 5, K = 19, N = 4;
    const x: QuantizedActivation = { data: Uint8Array.from({ length: M * K }, () => Math.floor(r() * 256)), rows: M, cols: K, scale: 0.05, zeroPoint: 128 };
    const w: QuantizedWeight = { data: Int8Array.from({ length: N * K }, () => Math.floor(r() * 256) - 128), rows: N, cols: K, scales: new Float32Array(N).fill(0.01), zeroPoints: new Int32Array(N) };
    const bias = Float32Array.of(NaN, Infinity, -Infinity, 1e30);
    const outs: Int8LinearOutput[] = [{ kind: 'float32' }, { kind: 'requantize', dtype: 'uint8', scale: 0.1, zeroPoint: 3, relu: false },
      { kind: 'requantize', dtype: 'int8', scale: 0.1, zeroPoint: -3, relu: true }];
    for (const out of outs) {
      const want = int8LinearReference(x, w, bias, out);
      forEachInt8Path((setting) => same(nat!.int8Linear(x, w, bias, out), want, `${setting}, ${out.kind}`));
    }
  });

  test('a packed weight is reused across calls and repacked when the path changes', () => {
    const r = rng(3);
    const c = randomCase(r, 9, 65, 33, 0);
    const want = int8LinearReference(c.x, c.w, c.bias, c.out);
    forEachInt8Path((setting) => {
      same(nat!.int8Linear(c.x, c.w, c.bias, c.out), want, `${setting}, first call`);
      same(nat!.int8Linear(c.x, c.w, c.bias, c.out), want, `${setting}, second call`);
    });
  });

  test('empty products and bad arguments', () => {
    const w: QuantizedWeight = { data: new Int8Array(0), rows: 0, cols: 5, scales: new Float32Array(0), zeroPoints: new Int32Array(0) };
    const x: QuantizedActivation = { data: new Uint8Array(10), rows: 2, cols: 5, scale: 1, zeroPoint: 0 };
    assert.equal(nat!.int8Linear(x, w, null, { kind: 'float32' }).length, 0);
    const x0: QuantizedActivation = { data: new Uint8Array(0), rows: 0, cols: 3, scale: 1, zeroPoint: 0 };
    const w3: QuantizedWeight = { data: new Int8Array(6), rows: 2, cols: 3, scales: new Float32Array(2).fill(1), zeroPoints: new Int32Array(2) };
    assert.equal(nat!.int8Linear(x0, w3, null, { kind: 'float32' }).length, 0);
    assert.throws(() => nat!.int8Linear(x, w3, null, { kind: 'float32' }), /int8Linear \(native\): inner dimensions differ: x \(2, 5\) @ w\^T with w \(2, 3\)/);
    assert.throws(() => nat!.int8Linear({ ...x, cols: 3 }, w3, null, { kind: 'float32' }), /int8Linear \(native\): x holds 10 values, expected 2 x 3/);
    assert.throws(() => nat!.int8Linear({ ...x, cols: 3, rows: 2, data: new Uint8Array(6) }, w3, Float32Array.of(1), { kind: 'float32' }), /bias has 1 values, expected 2/);
    assert.throws(() => nat!.int8Linear({ ...x, data: new Uint8Array(6), cols: 3, zeroPoint: 0.5 }, w3, null, { kind: 'float32' }), /zero point must be an integer/);
    assert.throws(() => setInt8Path('sse9' as 'generic'), /does not support 'sse9'/);
    // the backend reports the path in force, also after setInt8Path (benchmarks record it)
    forEachInt8Path(() => assert.equal(nat!.int8Path, int8Path()));
    assert.equal(nat!.int8Path, int8Path());
  });

  test('requantization with zero points beyond float32\'s exact integers (the epilogue\'s scalar fallback)', () => {
    const r = rng(5);
    const c = randomCase(r, 7, 33, 40, 1);
    for (const zeroPoint of [2 ** 25 + 1, -(2 ** 25) - 1, 16777217]) {
      for (const dtype of ['int8', 'uint8'] as const) {
        const out: Int8LinearOutput = { kind: 'requantize', dtype, scale: 0.01, zeroPoint, relu: false };
        const want = int8LinearReference(c.x, c.w, c.bias, out);
        forEachInt8Path((setting) => same(nat!.int8Linear(c.x, c.w, c.bias, out), want, `${setting}, zp ${zeroPoint} ${dtype}`));
      }
    }
  });

  test('quantizePerTensor: quantizeValue\'s bits for every zero point (ties, ends, NaN, Inf, huge), on every path', () => {
    const r = rng(11);
    forEachInt8Path((setting) => {
      for (const dtype of ['int8', 'uint8'] as const) {
        const [lo, hi] = dtype === 'int8' ? [-128, 127] : [0, 255];
        for (const zp of [lo, lo + 1, hi - 1, hi, 0, 7, -7].filter((z) => z >= lo && z <= hi)) {
          const scale = [0.0173, 0.5, 1, 3e-3][Math.floor(r() * 4)]!;
          const xs: number[] = [NaN, Infinity, -Infinity, 1e30, -1e30, 3e9, -3e9, 1e19, -1e19, 0, -0];
          for (let k = -300; k <= 300; k++) xs.push((k + 0.5) * scale, k * scale, (k + 0.5) * scale * (1 + 1e-7), (k + 0.5) * scale * (1 - 1e-7));
          while (xs.length < 10000) xs.push((r() - 0.5) * 600 * scale);
          const x = new Float32Array(xs);
          const q = nat!.quantizePerTensor(x, scale, zp, dtype);
          assert.ok(dtype === 'int8' ? q instanceof Int8Array : q instanceof Uint8Array);
          const inv = Math.fround(1 / Math.fround(scale));
          for (let i = 0; i < x.length; i++) {
            const want = quantizeValue(x[i]!, inv, zp, lo, hi);
            if (q[i] !== want) assert.fail(`${setting}, ${dtype} scale ${scale} zp ${zp}: x ${x[i]} gives ${q[i]}, quantizeValue ${want}`);
          }
        }
        // zero points beyond 2^24 (the vector quantizers hand them to the scalar one)
        for (const zp of [2 ** 25 + 1, -(2 ** 25) - 1]) {
          const x = Float32Array.from({ length: 37 }, (_, i) => (i - 18) * 1e6);
          const q = nat!.quantizePerTensor(x, 0.5, zp, dtype);
          for (let i = 0; i < x.length; i++) assert.equal(q[i], quantizeValue(x[i]!, 2, zp, lo, hi), `${setting}, ${dtype} zp ${zp}, x ${x[i]}`);
        }
      }
    });
  });

  test('floatRange: min, max and the first non-finite index, on every path', () => forEachInt8Path((setting) => {
    const r = rng(12);
    for (const n of [0, 1, 7, 4096, 4097, 10000, 8197]) {
      const x = Float32Array.from({ length: n }, () => (r() - 0.5) * 10);
      const got = nat!.floatRange(x);
      let lo = Infinity, hi = -Infinity;
      for (const v of x) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
      assert.deepEqual(got, n === 0 ? { min: 0, max: 0, nonFinite: -1 } : { min: lo, max: hi, nonFinite: -1 }, `${setting}, n ${n}`);
      if (n > 5) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const y = x.slice(); const at = Math.floor(r() * n); y[at] = bad; if (at + 3 < n) y[at + 3] = NaN;
          assert.equal(nat!.floatRange(y).nonFinite, at, `${setting}, n ${n}, ${bad} at ${at}`);
        }
      }
    }
  }));

  test('quantizeDynamic (range + qparams + codes in one call) equals its TypeScript twin, on every path', () => {
    const r = rng(13);
    const inputs: Array<[string, Float32Array]> = [];
    for (const n of [0, 1, 3, 31, 32, 33, 63, 65, 127, 4097, 8197]) inputs.push([`randn ${n}`, Float32Array.from({ length: n }, () => (r() - 0.3) * 8)]);
    for (const v of [0, -0, 5, -3, 1e-8, -1e-8]) inputs.push([`all ${v}`, new Float32Array(67).fill(v)]);
    inputs.push(['tiny range', Float32Array.from({ length: 99 }, () => (r() - 0.5) * 1e-6)], ['one-signed', Float32Array.from({ length: 70 }, () => 2 + r())]);
    inputs.push(['wide', Float32Array.from({ length: 70 }, () => (r() - 0.5) * 3e38)], ['parallel codes', Float32Array.from({ length: 270001 }, () => r() * 4 - 1)]);
    const twin = inputs.map(([, x]) => [127, 255].map((qmax) => { const out = new Uint8Array(x.length); return { q: quantizeDynamicValues(x, qmax, out), out }; }));
    forEachInt8Path((setting) => {
      inputs.forEach(([what, x], i) => [127, 255].forEach((qmax, j) => {
        const out = new Uint8Array(x.length).fill(3);
        assert.deepEqual(nat!.quantizeDynamic(x, qmax, out), twin[i]![j]!.q, `${setting}, ${what}, qmax ${qmax}`);
        same(out, twin[i]![j]!.out, `${setting}, ${what}, qmax ${qmax}`);
      }));
      // the first NaN or infinity, wherever it lies (vector body, tail), is reported by index
      for (const n of [5, 40, 100, 4099]) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const x = Float32Array.from({ length: n }, () => r() - 0.5), at = Math.floor(r() * n);
          x[at] = bad; if (at + 2 < n) x[at + 2] = NaN;
          assert.equal(nat!.quantizeDynamic(x, 255, new Uint8Array(n)).nonFinite, at, `${setting}, n ${n}, ${bad} at ${at}`);
        }
      }
    });
    assert.throws(() => nat!.quantizeDynamic(new Float32Array(4), 255, new Uint8Array(3)), /quantizeDynamic.*out holds 3 values, x 4/);
    // quantizePerTensor into a caller's array: the same codes as a fresh one
    const x = Float32Array.from({ length: 77 }, () => r() * 3 - 1);
    const into = new Int8Array(77);
    assert.equal(nat!.quantizePerTensor(x, 0.02, -5, 'int8', into), into);
    same(into, nat!.quantizePerTensor(x, 0.02, -5, 'int8'), 'quantizePerTensor into out');
    assert.throws(() => nat!.quantizePerTensor(x, 0.02, 5, 'uint8', into), /out must be a Uint8Array of x's length 77, got Int8Array of 77/);
  });

  test('int8Conv2d: integer im2col + GEMM + NCHW epilogue bit-identical to the reference, odd geometries', () => {
    const r = rng(21);
    const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
    const geoms: Array<[n: number, c: number, h: number, w: number, kh: number, kw: number, s: number, p: number, d: number]> = [
      [2, 1, 9, 7, 5, 5, 1, 2, 1], [1, 3, 8, 8, 3, 3, 2, 1, 1], [3, 2, 6, 5, 2, 3, 1, 0, 2], [1, 5, 3, 3, 3, 3, 1, 0, 1], [2, 4, 7, 7, 1, 1, 3, 0, 1], [1, 2, 4, 4, 5, 5, 1, 2, 1],
    ];
    geoms.forEach(([n, c, h, w, kh, kw, s, p, d], trial) => {
      const oh = Math.floor((h + 2 * p - d * (kh - 1) - 1) / s) + 1, ow = Math.floor((w + 2 * p - d * (kw - 1) - 1) / s) + 1;
      const g: Int8ConvGeometry = { n, c, h, w, kh, kw, strideH: s, strideW: s, padH: p, padW: p, dilationH: d, dilationW: d, oh, ow };
      const O = [1, 6, 17, 16, 65, 3][trial]!, K = c * kh * kw;
      const base = randomCase(r, 1, K, O, trial);
      const signed = trial % 2 === 1;
      const [lo, hi] = signed ? [-128, 127] : [0, 255];
      const xs = Array.from({ length: n * c * h * w }, () => int(lo, hi));
      const x: QuantizedActivation = { data: signed ? Int8Array.from(xs) : Uint8Array.from(xs), rows: n, cols: c * h * w, scale: 0.03, zeroPoint: [lo, hi, int(lo, hi)][trial % 3]! };
      for (const out of [base.out, { kind: 'float32' } as const, { kind: 'requantize', dtype: 'uint8', scale: 0.05, zeroPoint: 255, relu: true } as const]) {
        const want = int8Conv2dReference(x, base.w, base.bias, g, out);
        forEachInt8Path((setting) => same(nat!.int8Conv2d!(x, base.w, base.bias, g, out), want, `${setting}, conv ${JSON.stringify(g)} O ${O}, ${out.kind}`));
      }
    });
    const g: Int8ConvGeometry = { n: 1, c: 1, h: 3, w: 3, kh: 3, kw: 3, strideH: 1, strideW: 1, padH: 0, padW: 0, dilationH: 1, dilationW: 1, oh: 2, ow: 1 };
    const w: QuantizedWeight = { data: new Int8Array(9), rows: 1, cols: 9, scales: Float32Array.of(1), zeroPoints: Int32Array.of(0) };
    const x: QuantizedActivation = { data: new Uint8Array(9), rows: 1, cols: 9, scale: 1, zeroPoint: 0 };
    assert.throws(() => nat!.int8Conv2d!(x, w, null, g, { kind: 'float32' }), /output size does not follow/);
    assert.throws(() => nat!.int8Conv2d!({ ...x, data: new Uint8Array(8) }, w, null, { ...g, oh: 1 }, { kind: 'float32' }), /x holds 8 values/);
  });

  test('int8Conv2d direct path (stride 1, <= 32 channels, pixels along the lanes): bit-identical, many lane blocks, large products, NaN bias, symmetric weights', () => {
    const r = rng(33);
    const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
    // n, c, h, w, kh, kw, padH, padW, dilH, dilW, O: several lane blocks per image (h x w past 64 lanes), 1..33 channels (33: the GEMM)
    const geoms: Array<[number, number, number, number, number, number, number, number, number, number, number]> = [
      [3, 1, 28, 28, 5, 5, 2, 2, 1, 1, 6], [2, 6, 14, 13, 5, 5, 0, 0, 1, 1, 16], [1, 2, 11, 17, 3, 2, 1, 0, 2, 3, 7], [2, 3, 5, 9, 3, 3, 0, 1, 1, 1, 32],
      [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1], [2, 2, 9, 9, 3, 3, 1, 1, 1, 1, 33], [1, 4, 6, 6, 6, 6, 0, 0, 1, 1, 12],
      // K = 600 and 1200: channels whose 255 sum |w - zw| passes 2^24 take the epilogue's double product, the others its float one
      [1, 24, 5, 6, 5, 5, 2, 2, 1, 1, 9], [1, 48, 4, 5, 5, 5, 2, 2, 1, 1, 5],
      // 48 planes of 10 x 10 per image: one image per chunk of planes, so a call walks several chunks
      [3, 48, 8, 8, 3, 3, 1, 1, 1, 1, 5], [3, 48, 8, 8, 3, 3, 1, 1, 1, 1, 5],
    ];
    // weights without zero points (per-channel symmetric, as our layers quantize them) take the four-tap
    // vpdpbusd planes on the vnni / avxvnni paths: int8 and uint8 input, dilation, K = 1200, chunks
    const symmetric = new Set([0, 1, 2, 6, 8, 9]);
    geoms.forEach(([n, c, h, w, kh, kw, ph, pw, dh, dw, O], trial) => {
      const oh = h + 2 * ph - dh * (kh - 1), ow = w + 2 * pw - dw * (kw - 1);
      const g: Int8ConvGeometry = { n, c, h, w, kh, kw, strideH: 1, strideW: 1, padH: ph, padW: pw, dilationH: dh, dilationW: dw, oh, ow };
      const base = randomCase(r, 1, c * kh * kw, O, trial);
      if (symmetric.has(trial)) base.w = { ...base.w, zeroPoints: new Int32Array(O) };
      const signed = trial % 2 === 0;
      const [lo, hi] = signed ? [-128, 127] : [0, 255];
      const xs = Array.from({ length: n * c * h * w }, () => (r() < 0.2 ? (r() < 0.5 ? lo : hi) : int(lo, hi)));
      const x: QuantizedActivation = { data: signed ? Int8Array.from(xs) : Uint8Array.from(xs), rows: n, cols: c * h * w, scale: 0.02, zeroPoint: [lo, hi, int(lo, hi)][trial % 3]! };
      const bias = trial === 3 ? Float32Array.from({ length: O }, (_, i) => [NaN, Infinity, -Infinity, 1e30][i % 4]!) : base.bias;
      const outs: Int8LinearOutput[] = [base.out, { kind: 'float32' }, { kind: 'requantize', dtype: 'uint8', scale: 0.05, zeroPoint: 255, relu: true },
        { kind: 'requantize', dtype: 'int8', scale: 1e-9, zeroPoint: -128, relu: false }, { kind: 'requantize', dtype: 'uint8', scale: 3, zeroPoint: 0, relu: true }];
      for (const out of outs) {
        const want = int8Conv2dReference(x, base.w, bias, g, out);
        forEachInt8Path((setting) => same(nat!.int8Conv2d!(x, base.w, bias, g, out), want, `${setting}, direct conv ${JSON.stringify(g)} O ${O}, ${JSON.stringify(out)}`));
      }
    });
  });

  test('int8MaxPool2d: bit-identical to the reference (2x2 fast path, padding, stride, dilation, odd sizes)', () => {
    const r = rng(41);
    // n, c, h, w, kh, kw, s, p, d
    const geoms: Array<[number, number, number, number, number, number, number, number, number]> = [
      [3, 6, 28, 28, 2, 2, 2, 0, 1], [2, 5, 7, 9, 2, 2, 2, 0, 1], [1, 3, 9, 8, 3, 3, 2, 1, 1], [2, 2, 7, 7, 3, 2, 1, 1, 2], [1, 1, 1, 1, 1, 1, 1, 0, 1], [40, 16, 10, 10, 2, 2, 2, 0, 1],
    ];
    for (const [n, c, h, w, kh, kw, s, p, d] of geoms) {
      const oh = Math.floor((h + 2 * p - d * (kh - 1) - 1) / s) + 1, ow = Math.floor((w + 2 * p - d * (kw - 1) - 1) / s) + 1;
      const g: Int8ConvGeometry = { n, c, h, w, kh, kw, strideH: s, strideW: s, padH: p, padW: p, dilationH: d, dilationW: d, oh, ow };
      const x = Uint8Array.from({ length: n * c * h * w }, () => (r() < 0.1 ? 255 : Math.floor(r() * 256)));
      const want = int8MaxPool2dReference(x, g);
      forEachInt8Path((setting) => same(nat!.int8MaxPool2d!(x, g), want, `${setting}, max pool ${JSON.stringify(g)}`));
    }
    const g: Int8ConvGeometry = { n: 1, c: 1, h: 4, w: 4, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, dilationH: 1, dilationW: 1, oh: 3, ow: 2 };
    assert.throws(() => nat!.int8MaxPool2d!(new Uint8Array(16), g), /output size does not follow/);
    assert.throws(() => nat!.int8MaxPool2d!(new Uint8Array(15), { ...g, oh: 2 }), /x holds 15 values/);
  });

  test('TENSORSLIM_INT8 forces a lower path at load, TENSORSLIM_CPU lowers it with the float kernels', { skip: process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'no kernel here (start-up switches); runs in the native pass' : false }, () => {
    const addonPath = nativeStatus().path!;
    const probe = (env: Record<string, string>): string => {
      const res = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(addonPath)}).int8Path())`],
        { env: { ...process.env, TENSORSLIM_INT8: '', TENSORSLIM_CPU: '', ...env }, encoding: 'utf8' });
      assert.equal(res.status, 0, res.stderr);
      return res.stdout;
    };
    assert.equal(probe({}), PATHS[0]);
    assert.equal(probe({ TENSORSLIM_INT8: 'generic' }), 'generic');
    if (PATHS.includes('avx2')) {
      assert.equal(probe({ TENSORSLIM_INT8: 'avx2' }), 'avx2');
      assert.equal(probe({ TENSORSLIM_CPU: 'avx2' }), 'avx2');
    }
    assert.equal(probe({ TENSORSLIM_CPU: 'generic' }), 'generic');
    // a forced path the CPU lacks (or an unknown name) is refused with the supported list, never replaced silently
    const refused = (value: string): string => {
      const res = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addonPath)}).int8Path()`],
        { env: { ...process.env, TENSORSLIM_INT8: value, TENSORSLIM_CPU: '' }, encoding: 'utf8' });
      assert.notEqual(res.status, 0, `TENSORSLIM_INT8=${value} was accepted`);
      return res.stderr;
    };
    for (const lacking of (['vnni', 'avx512', 'avxvnni', 'avx2'] as const).filter((p) => !PATHS.includes(p))) {
      assert.match(refused(lacking), new RegExp(`TENSORSLIM_INT8=${lacking} forces a path this CPU lacks; it supports: ${PATHS.join(', ')}`));
    }
    assert.match(refused('sse9'), /TENSORSLIM_INT8=sse9 is not an int8 path/);
  });
});
