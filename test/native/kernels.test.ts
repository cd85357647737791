// Fuzz the native primitive kernels (unary, binary, reduce, matmul, where, copy/casts/assign,
// unfold2d/fold2d, the float32 exp) against the reference backend, on every CPU path this machine has
// (switched in-process with setCpuPath) and with 1 and 2 threads; each fused kernel has its own file
// named after it (test/native/<op>.test.ts). Random shapes including zero-size and size-1 axes,
// broadcast (stride-0), permuted, sliced and transposed views, float32 and float64.
// Tolerances come from rounding-error bounds: float64 to a few ulps; float32 kernels compute in
// float32 (the reference in float64, then rounds), so they get float32 ulps; sums and products get
// the classic n * eps * sum|terms| bound.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { BinaryOp, UnaryOp, View } from '../../src/backend/backend.js';
import { broadcastStrides, numel } from '../../src/backend/shape.js';
import { referenceBackend as ref } from '../../src/backends/reference/index.js';
import { getNativeBackend, SMALL_JS_MAX } from '../../src/backends/native/index.js';
import { loadAddon } from '../../src/backends/native/addon.js';
import { packViews } from '../../src/backends/native/pack.js';
import { EPS, KINDS, fmt, mismatch, normal, randShape, randView, rng, withTies, type FloatKind } from './helpers.js';
import { forEachPathAndThreads as forEachSetting, CPU_PATHS as PATHS, nativeSkip as skip } from './helpers.js';

const nativeBackend = getNativeBackend();

const nat = nativeBackend!;

const UNARY: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'abs', 'tanh', 'sigmoid', 'relu', 'erf', 'sign', 'sin', 'cos', 'floor'];
const EXACT_UNARY = new Set<UnaryOp>(['neg', 'abs', 'relu', 'sign', 'floor']);
const BINARY: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr'];

const positive = (r: () => number): number => 0.05 + r() * 4;


/** Shapes of a broadcast pair: b drops leading axes and has some axes of size 1. */
function broadcastPair(r: () => number, shape: number[]): number[] {
  const drop = Math.floor(r() * (shape.length + 1));
  return shape.slice(drop).map((d) => (r() < 0.3 ? 1 : d));
}

function asBroadcast(v: View, target: readonly number[]): View {
  return { data: v.data, shape: [...target], strides: broadcastStrides(v.shape, v.strides, target), offset: v.offset };
}

describe('native kernels vs reference', { skip }, () => {
  test('every CPU path is available to the tests', () => {
    assert.ok(PATHS.includes('generic'), 'the portable path is always compiled in');
    assert.ok(PATHS.length >= 1);
  });

  test('unary: all ops, strided and zero-size views', () => {
    forEachSetting((path, threads) => {
      const r = rng(11 + threads);
      for (const kind of KINDS) for (const op of UNARY) for (let it = 0; it < 6; it++) {
        const big = it === 5;
        const shape = big ? [3, 129, 97] : randShape(r);
        const fill = op === 'log' || op === 'sqrt' ? positive : op === 'relu' || op === 'sign' || op === 'abs' ? withTies : normal;
        const x = randView(r, kind, shape, fill);
        const want = ref.unary(op, x, kind);
        const got = nat.unary(op, x, kind);
        assert.equal(got.constructor, want.constructor);
        const rtol = EXACT_UNARY.has(op) ? 0 : kind === 'float64' ? 64 * EPS.float64 : 4 * EPS.float32;
        const atol = op === 'sin' || op === 'cos' || op === 'erf' || op === 'tanh' ? 4 * EPS[kind] : 0;
        const bad = mismatch(got, want, rtol, atol);
        assert.equal(bad, null, `${path}/${threads}t ${kind} ${op} ${fmt(x)}: ${bad}`);
      }
    });
  });

  test('binary: all ops with broadcasting, comparisons give bool', () => {
    forEachSetting((path, threads) => {
      const r = rng(23 + threads);
      for (const kind of KINDS) for (const op of BINARY) for (let it = 0; it < 6; it++) {
        const shape = it === 5 ? [64, 3, 300] : randShape(r);
        const bShape = broadcastPair(r, shape);
        const cmp = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logicalAnd', 'logicalOr'].includes(op);
        const fillA = op === 'pow' ? positive : cmp || op === 'maximum' || op === 'minimum' ? withTies : normal;
        const fillB = op === 'div' ? positive : op === 'pow' ? normal : fillA;
        const a = randView(r, kind, shape, fillA);
        const b = asBroadcast(randView(r, kind, bShape, fillB), shape);
        const out = cmp ? 'bool' : kind;
        const want = ref.binary(op, a, b, out);
        const got = nat.binary(op, a, b, out);
        assert.equal(got.constructor, want.constructor, `${op} output type`);
        const rtol = cmp || op === 'maximum' || op === 'minimum' ? 0 : op === 'pow' ? 8 * EPS[kind] : EPS[kind];
        const bad = mismatch(got, want, rtol);
        assert.equal(bad, null, `${path}/${threads}t ${kind} ${op} a: ${fmt(a)} b: ${fmt(b)}: ${bad}`);
      }
    });
  });

  test('small outputs computed in JavaScript (SMALL_JS_MAX) equal the addon bit for bit, special values included', () => {
    const addon = loadAddon().addon!;
    const r = rng(71);
    const specials = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -3e-39, 3.4e38, -3.4e38, 1e-310, 1.5, -2.25];
    const fill = (kind: FloatKind, n: number): Float32Array | Float64Array => {
      const d = kind === 'float32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) d[i] = r() < 0.3 ? specials[Math.floor(r() * specials.length)]! : normal(r) * 10 ** Math.floor(r() * 8 - 4);
      return d;
    };
    const same = (got: ArrayLike<number>, want: ArrayLike<number>): boolean =>
      got.length === want.length && Array.from(got).every((g, i) => Object.is(g, want[i]) || (Number.isNaN(g) && Number.isNaN(want[i]!)));
    assert.ok(SMALL_JS_MAX >= 16, `the default limit is on (got ${SMALL_JS_MAX})`);
    for (const kind of KINDS) for (const n of [1, 7, 10, SMALL_JS_MAX]) {
      // a (offset 3 into a larger array), b dense or one broadcast element
      const a: View = { data: fill(kind, n + 3), shape: [1, n], strides: [n, 1], offset: 3 };
      const bd: View = { data: fill(kind, n), shape: [1, n], strides: [n, 1], offset: 0 };
      const bs: View = { data: fill(kind, 2), shape: [1, n], strides: [0, 0], offset: 1 };
      for (const b of [bd, bs]) for (const op of ['add', 'sub', 'mul', 'div'] as const) {
        const got = nat.binary(op, a, b, kind);
        const want = kind === 'float32' ? new Float32Array(n) : new Float64Array(n);
        addon.binary(BINARY.indexOf(op), a.data, b.data, packViews(a, b), want);
        assert.ok(same(got, want), `${kind} ${op} n=${n} b ${fmt(b)}: JS ${Array.from(got)} addon ${Array.from(want)}`);
      }
      for (const op of ['relu', 'neg', 'abs'] as const) {
        const got = nat.unary(op, a, kind);
        const want = kind === 'float32' ? new Float32Array(n) : new Float64Array(n);
        addon.unary(UNARY.indexOf(op), a.data, packViews(a), want);
        assert.ok(same(got, want), `${kind} ${op} n=${n}: JS ${Array.from(got)} addon ${Array.from(want)}`);
      }
    }
  });

  test('reduce: sum/max/min over random axis sets; argmax delegated', () => {
    forEachSetting((path, threads) => {
      const r = rng(37 + threads);
      for (const kind of KINDS) for (const op of ['sum', 'max', 'min'] as const) for (let it = 0; it < 14; it++) {
        const shape = it === 12 ? [256, 1200] : it === 13 ? [40, 3, 700] : randShape(r, 4, 9, op === 'sum' ? 0.05 : 0);
        const axes = shape.map((_, i) => i).filter(() => r() < 0.5);
        if (it === 12) axes.splice(0, axes.length, 0);
        const x = randView(r, kind, shape, op === 'sum' ? normal : withTies, { expandAxes: shape.map((d, i) => (d === 1 ? i : -1)) });
        const want = ref.reduce(op, x, axes, kind);
        const got = nat.reduce(op, x, axes, kind);
        // sums: both accumulate in float64; only the order differs (n * eps64 * sum|x|), then one rounding
        const n = axes.reduce((p, a) => p * shape[a]!, 1);
        const absSum = op === 'sum' ? ref.reduce('sum', { ...x, data: x.data.map(Math.abs) }, axes, 'float64') : null;
        const bound = absSum ? Array.from(absSum, (s) => n * EPS.float64 * s) : undefined;
        const bad = mismatch(got, want, op === 'sum' ? EPS[kind] : 0, 0, bound);
        assert.equal(bad, null, `${path}/${threads}t ${kind} ${op} axes [${axes}] ${fmt(x)}: ${bad}`);
      }
      const x = randView(r, 'float32', [4, 5], normal);
      assert.deepEqual(Array.from(nat.reduce('argmax', x, [1], 'int32')), Array.from(ref.reduce('argmax', x, [1], 'int32')));
    });
  });

  test('matmul: batched, all transpose combinations, strided, skinny and zero-size', () => {
    forEachSetting((path, threads) => {
      const r = rng(51 + threads);
      const shapes: [number, number, number, number][] = [
        [1, 1, 1, 1], [1, 0, 5, 3], [2, 3, 0, 4], [1, 5, 7, 0], [3, 13, 17, 35], [2, 1, 300, 1], [1, 1, 257, 300],
        [1, 300, 257, 1], [4, 33, 65, 47], [1, 129, 400, 131], [1, 128, 784, 100], [7, 12, 32, 16], [1, 250, 1030, 70],
      ];
      for (const kind of KINDS) for (const [B, M, K, N] of shapes) for (let it = 0; it < 2; it++) {
        const aBroadcast = B > 1 && r() < 0.3;
        const a = randView(r, kind, [B, M, K], normal, { expandAxes: aBroadcast ? [0] : [] });
        const b = randView(r, kind, [B, K, N], normal);
        const aView = aBroadcast ? { ...a, strides: [0, a.strides[1]!, a.strides[2]!] } : a;
        const want = ref.matmul(aView, b, kind);
        const got = nat.matmul(aView, b, kind);
        const absA = { ...aView, data: aView.data.map(Math.abs) }, absB = { ...b, data: b.data.map(Math.abs) };
        const bound = Array.from(ref.matmul(absA, absB, 'float64'), (s) => (K + 2) * EPS[kind] * s);
        const bad = mismatch(got, want, 0, 0, bound);
        assert.equal(bad, null, `${path}/${threads}t ${kind} (${B}, ${M}, ${K}, ${N}) a: ${fmt(aView)} b: ${fmt(b)}: ${bad}`);
      }
    });
  });

  test('where: bool condition, broadcast float operands', () => {
    forEachSetting((path, threads) => {
      const r = rng(61 + threads);
      for (const kind of KINDS) for (let it = 0; it < 20; it++) {
        const shape = it === 0 ? [128, 1200] : randShape(r);
        const cond = randView(r, 'int32', shape, (q) => (q() < 0.5 ? 1 : 0));
        const condU8: View = { ...cond, data: Uint8Array.from(cond.data) };
        const a = asBroadcast(randView(r, kind, broadcastPair(r, shape), normal), shape);
        const b = asBroadcast(randView(r, kind, broadcastPair(r, shape), normal), shape);
        assert.deepEqual(Array.from(nat.where(condU8, a, b, kind)), Array.from(ref.where(condU8, a, b, kind)), `${path}/${threads}t where ${fmt(condU8)}`);
      }
    });
  });

  test('copy, casts and assign on strided views', () => {
    forEachSetting((path, threads) => {
      const r = rng(67 + threads);
      for (let it = 0; it < 40; it++) {
        const shape = it === 0 ? [70, 600] : it === 1 ? [3, 300, 257] : randShape(r);
        const kind: FloatKind = r() < 0.5 ? 'float32' : 'float64';
        const x0 = randView(r, kind, shape, normal, { slice: it !== 1 });
        const x: View = it === 1 ? { ...x0, strides: [300 * 257, 1, 300] } : x0; // transposed last pair
        for (const to of ['float32', 'float64'] as const) {
          assert.deepEqual(Array.from(nat.copy(x, to)), Array.from(ref.copy(x, to)), `${path} copy ${kind}->${to} ${fmt(x)}`);
        }
        const xi = randView(r, 'int32', shape, (q) => Math.floor(q() * 100));
        assert.deepEqual(Array.from(nat.copy(xi, 'int32')), Array.from(ref.copy(xi, 'int32')), `copy int32 ${fmt(xi)}`);
        assert.deepEqual(Array.from(nat.copy(xi, 'float32')), Array.from(ref.copy(xi, 'float32')), `cast int32 -> float32`);
        // assign: write a broadcast source into a strided window of a destination
        const d1 = randView(r, kind, shape, normal), d2 = { ...d1, data: d1.data.slice() };
        const src = asBroadcast(randView(r, kind, broadcastPair(r, shape), normal), shape);
        ref.assign(d1, src);
        nat.assign(d2, src);
        assert.deepEqual(Array.from(d2.data), Array.from(d1.data), `${path}/${threads}t assign ${fmt(d1)} <- ${fmt(src)}`);
      }
    });
  });

  test('unfold2d / fold2d: padding, stride, dilation, strided input', () => {
    forEachSetting((path, threads) => {
      const r = rng(79 + threads);
      for (const kind of KINDS) for (let it = 0; it < 8; it++) {
        const n = 1 + Math.floor(r() * 3), c = 1 + Math.floor(r() * 3), h = 1 + Math.floor(r() * 9), w = 1 + Math.floor(r() * 9);
        const kh = 1 + Math.floor(r() * 3), kw = 1 + Math.floor(r() * 3);
        const strideH = 1 + Math.floor(r() * 2), strideW = 1 + Math.floor(r() * 2), padH = Math.floor(r() * 2), padW = Math.floor(r() * 2);
        const dilationH = 1 + Math.floor(r() * 2), dilationW = 1 + Math.floor(r() * 2);
        const oh = Math.floor((h + 2 * padH - dilationH * (kh - 1) - 1) / strideH) + 1;
        const ow = Math.floor((w + 2 * padW - dilationW * (kw - 1) - 1) / strideW) + 1;
        if (oh <= 0 || ow <= 0) continue;
        const p = { n, c, h, w, kh, kw, strideH, strideW, padH, padW, dilationH, dilationW, oh, ow };
        const x = randView(r, kind, [n, c, h, w], normal);
        const pad = it % 2 ? -Infinity : 0;
        assert.deepEqual(Array.from(nat.unfold2d(x, p, pad, kind)), Array.from(ref.unfold2d(x, p, pad, kind)), `${path} unfold2d ${JSON.stringify(p)}`);
        const cols = randView(r, kind, [n, c, kh, kw, oh, ow], normal);
        const bad = mismatch(nat.fold2d(cols, p, kind), ref.fold2d(cols, p, kind), 8 * EPS[kind], 1e-12);
        assert.equal(bad, null, `${path}/${threads}t fold2d ${JSON.stringify(p)}: ${bad}`);
      }
    });
  });

  test('where on int32, uint8 and bool operands (bitwise select), NaN and -0 kept exactly', () => {
    forEachSetting((path, threads) => {
      const r = rng(71 + threads);
      for (let it = 0; it < 24; it++) {
        const shape = it === 0 ? [128, 1200] : randShape(r);
        const cond = randView(r, 'int32', shape, (q) => (q() < 0.5 ? 1 : 0));
        const condU8: View = { ...cond, data: Uint8Array.from(cond.data) };
        const kind = (['int32', 'uint8', 'bool', 'float32', 'float64'] as const)[it % 5]!;
        const special = (q: () => number): number => (q() < 0.1 ? NaN : q() < 0.1 ? -0 : Math.floor(q() * 200) - 100);
        const mk = (): View => {
          const v = randView(r, kind === 'uint8' || kind === 'bool' ? 'int32' : kind, broadcastPair(r, shape), kind === 'float32' || kind === 'float64' ? special : (q) => Math.floor(q() * 2 ** 31) * (q() < 0.5 ? -1 : 1));
          const data = kind === 'uint8' || kind === 'bool' ? Uint8Array.from(v.data, (x) => x & (kind === 'bool' ? 1 : 255)) : v.data;
          return asBroadcast({ ...v, data }, shape);
        };
        const a = mk(), b = mk();
        const got = nat.where(condU8, a, b, kind), want = ref.where(condU8, a, b, kind);
        assert.equal(got.constructor, want.constructor);
        const same = Array.from(got).every((g, i) => Object.is(g, want[i]));
        assert.ok(same, `${path}/${threads}t where ${kind} ${fmt(condU8)}`);
      }
    });
  });

  test('comparisons of int32 and uint8 operands give bool', () => {
    forEachSetting((path, threads) => {
      const r = rng(73 + threads);
      for (const op of ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const) for (let it = 0; it < 8; it++) {
        const shape = it === 0 ? [128, 10] : randShape(r);
        const u8 = it % 2 === 1;
        const fill = (q: () => number): number => Math.floor(q() * 5) - (u8 ? 0 : 2);
        const conv = (v: View): View => (u8 ? { ...v, data: Uint8Array.from(v.data) } : v);
        const a = conv(randView(r, 'int32', shape, fill));
        const b = asBroadcast(conv(randView(r, 'int32', broadcastPair(r, shape), fill)), shape);
        const got = nat.binary(op, a, b, 'bool'), want = ref.binary(op, a, b, 'bool');
        assert.equal(got.constructor, Uint8Array);
        assert.deepEqual(Array.from(got), Array.from(want), `${path}/${threads}t ${u8 ? 'uint8' : 'int32'} ${op} ${fmt(a)} vs ${fmt(b)}`);
      }
    });
  });

  test('widening casts: bool/uint8 -> int32/float, int32 -> float (float32 rounding as a typed-array store)', () => {
    forEachSetting((path, threads) => {
      const r = rng(79 + threads);
      for (let it = 0; it < 12; it++) {
        const shape = it === 0 ? [3, 300, 257] : randShape(r);
        const xi = randView(r, 'int32', shape, (q) => Math.floor((q() - 0.5) * 2 ** 32)); // large values round in float32
        const xu: View = { ...xi, data: Uint8Array.from(xi.data, (v) => v & 255) };
        for (const to of ['float32', 'float64'] as const) {
          assert.deepEqual(Array.from(nat.copy(xi, to)), Array.from(ref.copy(xi, to)), `${path}/${threads}t int32 -> ${to} ${fmt(xi)}`);
        }
        for (const to of ['float32', 'float64', 'int32', 'uint8'] as const) {
          assert.deepEqual(Array.from(nat.copy(xu, to)), Array.from(ref.copy(xu, to)), `${path}/${threads}t uint8 -> ${to} ${fmt(xu)}`);
        }
        assert.deepEqual(Array.from(nat.copy(xu, 'bool')), Array.from(ref.copy(xu, 'bool')), 'uint8 -> bool stays exact (delegated)');
        const xf = randView(r, 'float32', shape, (q) => (q() - 0.5) * 1e10);
        assert.deepEqual(Array.from(nat.copy(xf, 'int32')), Array.from(ref.copy(xf, 'int32')), 'float -> int32 wraps as JavaScript does (delegated)');
      }
    });
  });

  test('float32 exp (vectorized polynomial): within 2 ulp of Math.exp over the whole range, inf, 0, NaN, subnormals', () => {
    const n = 200_003;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = -110 + (200 * i) / n; // -110 .. 90: underflow, subnormal, normal, overflow
    const special = [0, -0, 1, -1, 1e-8, -1e-8, 0.34657, -0.34658, 88.72283, 88.7228394, 88.73, 100, -87.3, -100, -103.97, -103.98, -150, Infinity, -Infinity, NaN];
    data.set(special, 0);
    const x: View = { data, shape: [n], strides: [1], offset: 0 };
    const sub = 2 ** -149, minNormal = 2 ** -126;
    forEachSetting((path, threads) => {
      const got = nat.unary('exp', x, 'float32');
      for (let i = 0; i < n; i++) {
        const want = Math.fround(Math.exp(data[i]!)), g = got[i]!;
        if (Number.isNaN(want) ? Number.isNaN(g) : g === want) continue;
        // one float32 ulp at want (subnormals: the fixed spacing 2^-149)
        const ulp = want < minNormal ? sub : 2 ** (Math.floor(Math.log2(want)) - 23);
        if (!(Math.abs(g - want) <= 2 * ulp)) assert.fail(`${path}/${threads}t exp(${data[i]}) = ${g}, want ${want} (${(Math.abs(g - want) / ulp).toFixed(2)} ulp)`);
      }
    });
  });

  test('large contiguous outputs (>= 8 MiB: huge-page advice before the first write) match hand-computed values', () => {
    // 2^21 + 37 float32 elements: the output starts off a 2 MiB boundary, so the advised interior
    // leaves a head and a tail; every element is checked against plain JavaScript arithmetic.
    const n = (1 << 21) + 37;
    const r = rng(97);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = r() < 0.1 ? 0 : (r() - 0.5) * 8;
    const x: View = { data, shape: [n], strides: [1], offset: 0 };
    const half: View = { data, shape: [n - 5], strides: [1], offset: 5 }; // an offset (sliced) input
    const scalar: View = { data: new Float32Array([1.5]), shape: [n - 5], strides: [0], offset: 0 };
    forEachSetting((path, threads) => {
      const tag = `${path}/${threads}t`;
      const relu = nat.unary('relu', x, 'float32');
      const sum = nat.binary('add', half, scalar, 'float32');
      const prod = nat.binary('mul', x, x, 'float32');
      const copy = nat.copy(half, 'float32');
      const wide = nat.copy(x, 'float64');
      for (let i = 0; i < n; i++) {
        const v = data[i]!;
        if (relu[i] !== (v > 0 ? v : 0)) assert.fail(`${tag} relu[${i}] = ${relu[i]}, want ${v > 0 ? v : 0}`);
        if (prod[i] !== Math.fround(v * v)) assert.fail(`${tag} mul[${i}] = ${prod[i]}, want ${Math.fround(v * v)}`);
        if (wide[i] !== v) assert.fail(`${tag} float64 copy[${i}] = ${wide[i]}, want ${v}`);
        if (i < n - 5) {
          const w = data[i + 5]!;
          if (sum[i] !== Math.fround(w + 1.5)) assert.fail(`${tag} add scalar[${i}] = ${sum[i]}, want ${Math.fround(w + 1.5)}`);
          if (copy[i] !== w) assert.fail(`${tag} copy[${i}] = ${copy[i]}, want ${w}`);
        }
      }
    });
  });

  test('numel helper sanity (zero-size views produce empty outputs)', () => {
    const x = randView(rng(1), 'float32', [3, 0, 2], normal);
    assert.equal(numel(x.shape), 0);
    assert.equal(nat.unary('exp', x, 'float32').length, 0);
    assert.equal(nat.reduce('sum', x, [1], 'float32').length, 6);
  });
});
