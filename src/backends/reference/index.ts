// The reference backend: pure TypeScript, slow and obviously correct, float32 and float64.
// It lives forever: every fast kernel is tested against it, and float64 reference is the
// oracle for gradient checks. Readability beats speed here.

import type { Backend, BinaryOp, Conv2dGeometry, ReduceOp, UnaryOp, View } from '../../backend/backend.js';
import { allocate, allocateUninit, type DType, type TypedArray } from '../../backend/dtype.js';
import { contiguousStrides, forEachOffset, isContiguous, numel } from '../../backend/shape.js';
import { referenceQuantizedKernels } from './quantized.js';

// erf: Maclaurin series for |x| < 2 (converges to full double precision there), and Lentz's
// continued fraction for erfc beyond. Checked against PyTorch to ~1e-15 in test/parity.
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2) {
    // Maclaurin series: erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)); converges fast for |x|<2.
    let term = x;
    let sum = x;
    const x2 = x * x;
    for (let n = 1; n < 60; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc (Lentz), accurate for |x| >= 2.
  const z = ax;
  let f = z, c = z, d = 0;
  const tiny = 1e-300;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = z + an * d; if (d === 0) d = tiny; d = 1 / d;
    c = z + an / c; if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  return x > 0 ? 1 - erfc : erfc - 1;
}

function unaryFn(op: UnaryOp): (v: number) => number {
  switch (op) {
    case 'neg': return (v) => -v;
    case 'exp': return Math.exp;
    case 'log': return Math.log;
    case 'sqrt': return Math.sqrt;
    case 'abs': return Math.abs;
    case 'tanh': return Math.tanh;
    case 'sigmoid': return (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
    case 'relu': return (v) => (v <= 0 ? 0 : v);   // NaN stays NaN, as torch.relu
    case 'erf': return erf;
    case 'sign': return (v) => (v > 0 ? 1 : v < 0 ? -1 : 0);
    case 'sin': return Math.sin;
    case 'cos': return Math.cos;
    case 'floor': return Math.floor;
    case 'logicalNot': return (v) => (v ? 0 : 1);
  }
}

function binaryFn(op: BinaryOp, intDiv: boolean): (a: number, b: number) => number {
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    case 'mul': return (a, b) => a * b;
    case 'div': return intDiv ? (a, b) => Math.trunc(a / b) : (a, b) => a / b;
    case 'pow': return Math.pow;
    case 'maximum': return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a > b ? a : b);
    case 'minimum': return (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : a < b ? a : b);
    case 'eq': return (a, b) => (a === b ? 1 : 0);
    case 'ne': return (a, b) => (a !== b ? 1 : 0);
    case 'lt': return (a, b) => (a < b ? 1 : 0);
    case 'le': return (a, b) => (a <= b ? 1 : 0);
    case 'gt': return (a, b) => (a > b ? 1 : 0);
    case 'ge': return (a, b) => (a >= b ? 1 : 0);
    case 'logicalAnd': return (a, b) => (a && b ? 1 : 0);
    case 'logicalOr': return (a, b) => (a || b ? 1 : 0);
  }
}

// unary, binary, where and copy write every output element, so their outputs start uninitialized;
// `out` (unary, binary) is caller-owned storage of exactly numel elements (see Backend.unary).
function unary(op: UnaryOp, x: View, outDtype: DType, into?: TypedArray): TypedArray {
  const out = into ?? allocateUninit(outDtype, numel(x.shape));
  const f = unaryFn(op);
  const xd = x.data;
  if (isContiguous(x.shape, x.strides)) { // fast path: one flat loop
    for (let i = 0, o = x.offset; i < out.length; i++, o++) out[i] = f(xd[o]!);
    return out;
  }
  forEachOffset(x.shape, [x.strides], [x.offset], (o, i) => { out[i] = f(xd[o[0]!]!); });
  return out;
}

function binary(op: BinaryOp, a: View, b: View, outDtype: DType, into?: TypedArray): TypedArray {
  const out = into ?? allocateUninit(outDtype, numel(a.shape));
  const intDiv = outDtype === 'int32' || outDtype === 'uint8';
  const f = binaryFn(op, intDiv);
  const ad = a.data, bd = b.data;
  if (isContiguous(a.shape, a.strides) && isContiguous(b.shape, b.strides)) { // fast path: one flat loop
    for (let i = 0, oa = a.offset, ob = b.offset; i < out.length; i++, oa++, ob++) out[i] = f(ad[oa]!, bd[ob]!);
    return out;
  }
  forEachOffset(a.shape, [a.strides, b.strides], [a.offset, b.offset], (o, i) => {
    out[i] = f(ad[o[0]!]!, bd[o[1]!]!);
  });
  return out;
}

function where(cond: View, a: View, b: View, outDtype: DType): TypedArray {
  const out = allocateUninit(outDtype, numel(cond.shape));
  const cd = cond.data, ad = a.data, bd = b.data;
  forEachOffset(cond.shape, [cond.strides, a.strides, b.strides], [cond.offset, a.offset, b.offset], (o, i) => {
    out[i] = cd[o[0]!] ? ad[o[1]!]! : bd[o[2]!]!;
  });
  return out;
}

function reduce(op: ReduceOp, x: View, axes: readonly number[], outDtype: DType): TypedArray {
  const outShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const n = numel(outShape);
  const out = allocate(outDtype, n);
  if (numel(x.shape) === 0) {
    if (op === 'sum') return out;
    throw new Error(`reduce(${op}): cannot reduce an empty tensor of shape (${x.shape.join(', ')})`);
  }
  // Iterate x in order; the output offset uses strides with 0 on reduced axes.
  const outStrides = contiguousStrides(outShape).map((s, i) => (axes.includes(i) ? 0 : s));
  const xd = x.data;
  if (op === 'sum') {
    const acc = new Float64Array(n); // accumulate in float64 for accuracy
    forEachOffset(x.shape, [x.strides, outStrides], [x.offset, 0], (o) => { acc[o[1]!]! += xd[o[0]!]!; });
    for (let i = 0; i < n; i++) out[i] = acc[i]!;
    return out;
  }
  if (op === 'max' || op === 'min') {
    const best = new Float64Array(n).fill(op === 'max' ? -Infinity : Infinity);
    const better = op === 'max' ? (v: number, b: number) => v > b : (v: number, b: number) => v < b;
    forEachOffset(x.shape, [x.strides, outStrides], [x.offset, 0], (o) => {
      const v = xd[o[0]!]!;
      const j = o[1]!;
      if (Number.isNaN(v) || better(v, best[j]!)) best[j] = v; // NaN propagates, as in PyTorch
      else if (Number.isNaN(best[j]!)) { /* keep NaN */ }
    });
    for (let i = 0; i < n; i++) out[i] = best[i]!;
    return out;
  }
  // argmax / argmin along one axis: index along that axis of the first extreme value.
  const axis = axes[0]!;
  const best = new Float64Array(n).fill(op === 'argmax' ? -Infinity : Infinity);
  const seen = new Uint8Array(n);
  const axisStrides = x.shape.map((_, i) => (i === axis ? 1 : 0));
  forEachOffset(x.shape, [x.strides, outStrides, axisStrides], [x.offset, 0, 0], (o) => {
    const v = xd[o[0]!]!;
    const j = o[1]!;
    if (Number.isNaN(best[j]!)) return;
    const take = !seen[j] || Number.isNaN(v) || (op === 'argmax' ? v > best[j]! : v < best[j]!);
    if (take) { best[j] = v; out[j] = o[2]!; seen[j] = 1; }
  });
  return out;
}

function matmul(a: View, b: View, outDtype: DType): TypedArray {
  const [B, M, K] = a.shape as [number, number, number];
  const N = b.shape[2]!;
  const out = allocate(outDtype, B * M * N);
  const ad = a.data, bd = b.data;
  const [sab, sam, sak] = a.strides as [number, number, number];
  const [sbb, sbk, sbn] = b.strides as [number, number, number];
  // Pack one row of A and all of B^T (per batch) into contiguous float64 so the inner product is a
  // unit-stride loop over k whatever the operands' strides; accumulation is in float64.
  const row = new Float64Array(K);
  const bt = new Float64Array(N * K);
  for (let bi = 0; bi < B; bi++) {
    for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) bt[j * K + k] = bd[b.offset + bi * sbb + k * sbk + j * sbn]!;
    for (let i = 0; i < M; i++) {
      for (let k = 0; k < K; k++) row[k] = ad[a.offset + bi * sab + i * sam + k * sak]!;
      const o = (bi * M + i) * N;
      for (let j = 0; j < N; j++) {
        let acc = 0;
        const base = j * K;
        for (let k = 0; k < K; k++) acc += row[k]! * bt[base + k]!;
        out[o + j] = acc;
      }
    }
  }
  return out;
}

function copy(x: View, outDtype: DType): TypedArray {
  const out = allocateUninit(outDtype, numel(x.shape));
  const xd = x.data;
  const toBool = outDtype === 'bool';
  forEachOffset(x.shape, [x.strides], [x.offset], (o, i) => {
    const v = xd[o[0]!]!;
    out[i] = toBool ? (v !== 0 ? 1 : 0) : v;
  });
  return out;
}

function assign(dst: View, src: View): void {
  const dd = dst.data, sd = src.data;
  forEachOffset(dst.shape, [dst.strides, src.strides], [dst.offset, src.offset], (o) => { dd[o[0]!] = sd[o[1]!]!; });
}

function gather(x: View, axis: number, index: View): TypedArray {
  const out = allocate(dtypeOf(x.data), numel(index.shape));
  const xd = x.data, id = index.data;
  const sx = x.strides.slice();
  const ax = sx[axis]!;
  sx[axis] = 0;
  const axisLen = x.shape[axis]!;
  forEachOffset(index.shape, [index.strides, sx], [index.offset, x.offset], (o, i) => {
    const k = id[o[0]!]!;
    if (k < 0 || k >= axisLen) throw new Error(`gather: index ${k} is out of range for axis ${axis} of size ${axisLen}`);
    out[i] = xd[o[1]! + k * ax]!;
  });
  return out;
}

function dtypeOf(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof Int32Array) return 'int32';
  return 'uint8';
}

function scatterAdd(shape: readonly number[], axis: number, index: View, src: View, outDtype: DType): TypedArray {
  const out = allocate(outDtype, numel(shape));
  const os = contiguousStrides(shape);
  const ax = os[axis]!;
  os[axis] = 0;
  const id = index.data, sd = src.data;
  const axisLen = shape[axis]!;
  forEachOffset(index.shape, [index.strides, src.strides, os], [index.offset, src.offset, 0], (o) => {
    const k = id[o[0]!]!;
    if (k < 0 || k >= axisLen) throw new Error(`scatterAdd: index ${k} is out of range for axis ${axis} of size ${axisLen}`);
    out[o[2]! + k * ax]! += sd[o[1]!]!;
  });
  return out;
}

function unfold2d(x: View, p: Conv2dGeometry, padValue: number, outDtype: DType): TypedArray {
  const out = allocate(outDtype, p.n * p.c * p.kh * p.kw * p.oh * p.ow);
  const xd = x.data;
  const [sn, sc, sh, sw] = x.strides as [number, number, number, number];
  let q = 0;
  for (let n = 0; n < p.n; n++) for (let c = 0; c < p.c; c++) for (let i = 0; i < p.kh; i++) for (let j = 0; j < p.kw; j++) {
    for (let oy = 0; oy < p.oh; oy++) {
      const y = oy * p.strideH - p.padH + i * p.dilationH;
      for (let ox = 0; ox < p.ow; ox++) {
        const xx = ox * p.strideW - p.padW + j * p.dilationW;
        out[q++] = y < 0 || y >= p.h || xx < 0 || xx >= p.w ? padValue : xd[x.offset + n * sn + c * sc + y * sh + xx * sw]!;
      }
    }
  }
  return out;
}

function fold2d(cols: View, p: Conv2dGeometry, outDtype: DType): TypedArray {
  const out = allocate(outDtype, p.n * p.c * p.h * p.w);
  const cd = cols.data;
  const st = cols.strides;
  for (let n = 0; n < p.n; n++) for (let c = 0; c < p.c; c++) for (let i = 0; i < p.kh; i++) for (let j = 0; j < p.kw; j++) {
    for (let oy = 0; oy < p.oh; oy++) {
      const y = oy * p.strideH - p.padH + i * p.dilationH;
      if (y < 0 || y >= p.h) continue;
      for (let ox = 0; ox < p.ow; ox++) {
        const xx = ox * p.strideW - p.padW + j * p.dilationW;
        if (xx < 0 || xx >= p.w) continue;
        const src = cols.offset + n * st[0]! + c * st[1]! + i * st[2]! + j * st[3]! + oy * st[4]! + ox * st[5]!;
        out[((n * p.c + c) * p.h + y) * p.w + xx]! += cd[src]!;
      }
    }
  }
  return out;
}

// Embedding lookup (FusedKernels.embeddingForward): out[i, :] = weight[indices[i], :].
function embeddingForward(weight: View, indices: View): TypedArray {
  const [rows, d] = weight.shape as [number, number];
  const n = indices.shape[0]!;
  const out = allocate(dtypeOf(weight.data), n * d);
  const [rs, cs] = weight.strides as [number, number];
  for (let i = 0; i < n; i++) {
    const k = indices.data[indices.offset + i * indices.strides[0]!]!;
    if (k < 0 || k >= rows) throw new Error(`embeddingForward: index ${k} is out of range for ${rows} rows`);
    for (let j = 0; j < d; j++) out[i * d + j] = weight.data[weight.offset + k * rs + j * cs]!;
  }
  return out;
}

// Its adjoint (FusedKernels.embeddingBackward): dW[indices[i], :] += dy[i, :], i ascending.
function embeddingBackward(dy: View, indices: View, rows: number): TypedArray {
  const [n, d] = dy.shape as [number, number];
  const out = allocate(dtypeOf(dy.data), rows * d);
  const [rs, cs] = dy.strides as [number, number];
  for (let i = 0; i < n; i++) {
    const k = indices.data[indices.offset + i * indices.strides[0]!]!;
    if (k < 0 || k >= rows) throw new Error(`embeddingBackward: index ${k} is out of range for ${rows} rows`);
    for (let j = 0; j < d; j++) out[k * d + j]! += dy.data[dy.offset + i * rs + j * cs]!;
  }
  return out;
}

// Max pooling with argmax (FusedKernels.maxPool2dForward): per output the window's first maximum
// (a NaN, once seen, wins) and its position y * W + x in the (n, c) plane; padding is never read.
function maxPool2dForward(x: View, p: Conv2dGeometry): { y: TypedArray; argmax: Int32Array } {
  const count = p.n * p.c * p.oh * p.ow;
  const y = allocate(dtypeOf(x.data), count);
  const argmax = new Int32Array(count);
  const xd = x.data;
  const [sn, sc, sh, sw] = x.strides as [number, number, number, number];
  let q = 0;
  for (let n = 0; n < p.n; n++) for (let c = 0; c < p.c; c++) {
    const base = x.offset + n * sn + c * sc;
    for (let oy = 0; oy < p.oh; oy++) for (let ox = 0; ox < p.ow; ox++) {
      let best = -Infinity, at = -1;
      for (let i = 0; i < p.kh; i++) {
        const yy = oy * p.strideH - p.padH + i * p.dilationH;
        if (yy < 0 || yy >= p.h) continue;
        for (let j = 0; j < p.kw; j++) {
          const xx = ox * p.strideW - p.padW + j * p.dilationW;
          if (xx < 0 || xx >= p.w) continue;
          const v = xd[base + yy * sh + xx * sw]!;
          if (at < 0 || v > best || (Number.isNaN(v) && !Number.isNaN(best))) { best = v; at = yy * p.w + xx; }
        }
      }
      y[q] = best; argmax[q++] = at;
    }
  }
  return { y, argmax };
}

// Its adjoint (FusedKernels.maxPool2dBackward): dx (N, C, H, W) = 0, dx[n, c, argmax] += dy.
function maxPool2dBackward(dy: View, argmax: Int32Array, p: Conv2dGeometry): TypedArray {
  const hw = p.h * p.w;
  const out = allocate(dtypeOf(dy.data), p.n * p.c * hw);
  const [sn, sc, sh, sw] = dy.strides as [number, number, number, number];
  let q = 0;
  for (let n = 0; n < p.n; n++) for (let c = 0; c < p.c; c++) {
    for (let oy = 0; oy < p.oh; oy++) for (let ox = 0; ox < p.ow; ox++) {
      const at = argmax[q++]!;
      if (at >= 0) out[(n * p.c + c) * hw + at]! += dy.data[dy.offset + n * sn + c * sc + oy * sh + ox * sw]!;
    }
  }
  return out;
}

export const referenceBackend: Backend = {
  name: 'reference',
  unary, binary, where, reduce, matmul, copy, assign, gather, scatterAdd, unfold2d, fold2d,
  embeddingForward, embeddingBackward, maxPool2dForward, maxPool2dBackward,
  ...referenceQuantizedKernels,
};

