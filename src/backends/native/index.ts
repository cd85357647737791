// The native backend: the hot kernels run in the C++ addon (native/), reading and writing the
// JS-owned typed arrays in place; the rest is delegated, deliberately, to the reference backend.
//
// Native (float32 and float64): matmul (batched, any strides: transposed operands are packed, not
// copied), unary and binary elementwise (all ops incl. comparisons; strided, broadcast, contiguous
// fast path), where (a branch-free bitwise select, every dtype), reduce sum/max/min over any axes,
// copy (same dtype, float32 <-> float64, and the exact widening casts bool/uint8 -> int32/float and
// int32 -> float), assign (same dtype, distinct buffers), unfold2d/fold2d, comparisons of int32 or
// uint8 operands; and the fused kernels, each in a file named after it (the C++ entry points in
// native/src/<name>.cc): linear.ts (linear(+bias, +ReLU) and its backward), softmax_cross_entropy.ts
// (loss and backward), linear_cross_entropy.ts (the LM head fused with its loss, by chunks of rows,
// composed from the linear, matmul and softmax cross-entropy entry points), adam.ts, layer_norm.ts, gelu.ts, relu_backward.ts (ReLU's gradient in one pass), attention.ts, embedding.ts (row gather
// and its scatter-add adjoint), csr_linear.ts, max_pool2d.ts (pooling with argmax, and its
// scatter adjoint), conv2d.ts (convolution without a column tensor, and its backward) and
// int8_linear.ts (the int8 GEMM, QuantizedKernels). Views are packed for the addon by pack.ts.
//
// Delegated to the reference backend (listed, not silent):
//   - gather, scatterAdd: general indexing (the embedding lookup and its adjoint, the training hot
//     path, are native: embedding.ts);
//   - reduce argmax/argmin, and arithmetic/unary kernels on int32/uint8/bool inputs;
//   - casts to bool, from float to int32/uint8, and int32 -> uint8 (JavaScript's wrapping rules stay the reference's);
//   - assign between different dtypes or within one buffer (overlap semantics stay the reference's);
//   - views of rank > 16;
// Importing this module loads nothing: getNativeBackend() loads the addon (addon.ts) on first use;
// src/backends/index.ts registers it with the registry as a lazy provider, and the registry says
// once, on first use, when it falls back to the reference backend.

import type { Backend, BackendInfo, BinaryOp, Conv2dGeometry, FusedKernels, ReduceOp, UnaryOp, View } from '../../backend/backend.js';
import type { QuantizedKernels } from '../../backend/quantized.js';
import { allocate, allocateUninit, dtypeOfArray, isFloatArray, type DType, type TypedArray } from '../../backend/dtype.js';
import { numel } from '../../backend/shape.js';
import { setBufferFreer } from '../../backend/pool.js';
import { referenceBackend } from '../reference/index.js';
import { addonLoadState, loadAddon, type AddonLoad, type AddonSource, type NativeAddon, type PrebuiltManifest } from './addon.js';
import { adamKernels } from './adam.js';
import { attentionKernels } from './attention.js';
import { conv2dKernels } from './conv2d.js';
import { csrLinearKernels } from './csr_linear.js';
import { weightOnlyLinearKernels } from './weight_only_linear.js';
import { embeddingKernels } from './embedding.js';
import { geluKernels } from './gelu.js';
import { maxPool2dKernels } from './max_pool2d.js';
import { int8LinearKernels } from './int8_linear.js';
import { layerNormKernels } from './layer_norm.js';
import { linearChainKernel, linearKernels } from './linear.js';
import { linearCrossEntropyKernels } from './linear_cross_entropy.js';
import { reluBackwardKernels } from './relu_backward.js';
import { metaBuffer, packViews, putView } from './pack.js';
import { softmaxCrossEntropyKernels } from './softmax_cross_entropy.js';

// Op codes: must match native/src/common.h (UnaryCode, BinaryCode, ReduceCode).
const UNARY_CODES: Record<UnaryOp, number> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, abs: 4, tanh: 5, sigmoid: 6, relu: 7, erf: 8, sign: 9, sin: 10, cos: 11, floor: 12,
  logicalNot: 13,
};
const BINARY_CODES: Record<BinaryOp, number> = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6,
  eq: 7, ne: 8, lt: 9, le: 10, gt: 11, ge: 12, logicalAnd: 13, logicalOr: 14,
};
const REDUCE_CODES: Partial<Record<ReduceOp, number>> = { sum: 0, max: 1, min: 2 };
const MAX_DIMS = 16;

const small = (v: View): boolean => v.shape.length <= MAX_DIMS;

/**
 * Outputs of at most this many elements of add, sub, mul, div, relu, neg and abs are computed here, in JavaScript,
 * instead of crossing into the addon: for a fresh output of a few elements the N-API call (and V8
 * moving the tiny on-heap output array off the heap so the addon can see it) costs several times
 * the arithmetic (docs/NATIVE.md "Per-op overhead"). The results are bit for bit the addon's: a
 * float32 sum, difference, product or quotient rounded once from float64 is the correctly rounded
 * float32 result, as the addon computes it, and relu, neg and abs are exact. TENSORSLIM_SMALL_JS=N
 * sets the limit (0 turns it off).
 */
export const SMALL_JS_MAX = (() => {
  const e = typeof process !== 'undefined' ? process.env['TENSORSLIM_SMALL_JS'] : undefined;
  const v = e === undefined || e === '' ? 128 : Number(e);
  return Number.isInteger(v) && v >= 0 ? v : 128;
})();

// Whether view `v` of `n` elements reads its array densely from its offset (contiguous, broadcast: no).
function dense(v: View, n: number): boolean {
  let acc = 1;
  for (let i = v.shape.length - 1; i >= 0; i--) {
    const d = v.shape[i]!;
    if (d !== 1 && v.strides[i] !== acc) return false;
    acc *= d;
  }
  return acc === n;
}

// The same for relu, neg and abs of a dense float view (the addon's formulas: relu keeps NaN).
function smallUnary(op: 'relu' | 'neg' | 'abs', x: View, outDtype: DType): TypedArray | null {
  const n = numel(x.shape);
  if (n > SMALL_JS_MAX || !isFloatArray(x.data) || dtypeOfArray(x.data) !== outDtype || !dense(x, n)) return null;
  const out = outDtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  const d = x.data;
  let i = 0, p = x.offset;
  if (op === 'relu') for (; i < n; i++, p++) { const v = d[p]!; out[i] = v <= 0 ? 0 : v; }
  else if (op === 'neg') for (; i < n; i++, p++) out[i] = -d[p]!;
  else for (; i < n; i++, p++) out[i] = Math.abs(d[p]!);
  return out;
}

// The element-at-a-time path of SMALL_JS_MAX: add (0), sub (1), mul (2), div (3) of two float views of
// one dtype, each dense or a broadcast single element (all strides 0); null when it does not apply.
function smallArith(code: number, a: View, b: View, outDtype: DType): TypedArray | null {
  const n = numel(a.shape);
  if (n > SMALL_JS_MAX || !isFloatArray(a.data) || dtypeOfArray(b.data) !== outDtype || dtypeOfArray(a.data) !== outDtype) return null;
  const sa = dense(a, n) ? 1 : a.strides.every((s) => s === 0) ? 0 : -1;
  const sb = dense(b, n) ? 1 : b.strides.every((s) => s === 0) ? 0 : -1;
  if (sa < 0 || sb < 0) return null;
  const out = outDtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  const x = a.data, y = b.data;
  let i = 0, p = a.offset, q = b.offset;
  switch (code) {
    case 0: for (; i < n; i++, p += sa, q += sb) out[i] = x[p]! + y[q]!; break;
    case 1: for (; i < n; i++, p += sa, q += sb) out[i] = x[p]! - y[q]!; break;
    case 2: for (; i < n; i++, p += sa, q += sb) out[i] = x[p]! * y[q]!; break;
    default: for (; i < n; i++, p += sa, q += sb) out[i] = x[p]! / y[q]!; break;
  }
  return out;
}

/**
 * The native backend's type: a Backend with every fused kernel and every BackendInfo member present
 * (the members themselves are declared once, in backend/backend.ts).
 * @example const nat: NativeBackend | null = getNativeBackend(); nat?.linearBackward(dy, null, x, w, [true, true, true]);
 */
export type NativeBackend = Backend & Required<FusedKernels> & Required<QuantizedKernels> & Required<BackendInfo>;

function makeBackend(n: NativeAddon): NativeBackend {
  const ref = referenceBackend;

  // unary, binary, reduce, copy and where kernels write every output element: uninitialized outputs
  // (no zero-fill pass); `into` is caller-owned storage for out=/in-place ops (Backend.unary).
  function unary(op: UnaryOp, x: View, outDtype: DType, into?: TypedArray): TypedArray {
    if (into === undefined && (op === 'relu' || op === 'neg' || op === 'abs')) {
      const small = smallUnary(op, x, outDtype);
      if (small !== null) return small;
    }
    if (op === 'logicalNot' || !isFloatArray(x.data) || dtypeOfArray(x.data) !== outDtype || !small(x)) return ref.unary(op, x, outDtype, into);
    const out = into ?? allocateUninit(outDtype, numel(x.shape));
    n.unary(UNARY_CODES[op], x.data, packViews(x), out);
    return out;
  }

  function binary(op: BinaryOp, a: View, b: View, outDtype: DType, into?: TypedArray): TypedArray {
    const code = BINARY_CODES[op];
    const dt = dtypeOfArray(a.data);
    if (code <= 3 && into === undefined) {
      const small = smallArith(code, a, b, outDtype);
      if (small !== null) return small;
    }
    const want = code >= 7 ? 'bool' : dt;
    if (code >= 7 && code <= 12 && !isFloatArray(a.data) && dtypeOfArray(b.data) === dt && outDtype === 'bool' && small(a)) {
      const out = (into ?? allocateUninit('bool', numel(a.shape))) as Uint8Array;
      n.compareInt(code, a.data, b.data, packViews(a, b), out);
      return out;
    }
    if (!isFloatArray(a.data) || dtypeOfArray(b.data) !== dt || outDtype !== want || !small(a)) return ref.binary(op, a, b, outDtype, into);
    const out = into ?? allocateUninit(outDtype, numel(a.shape));
    n.binary(code, a.data, b.data, packViews(a, b), out);
    return out;
  }

  function reduce(op: ReduceOp, x: View, axes: readonly number[], outDtype: DType): TypedArray {
    const code = REDUCE_CODES[op];
    if (code === undefined || !isFloatArray(x.data) || dtypeOfArray(x.data) !== outDtype || !small(x) || numel(x.shape) === 0) {
      return ref.reduce(op, x, axes, outDtype); // argmax/argmin, ints, and empty inputs (the reference's errors)
    }
    const nd = x.shape.length;
    const m = metaBuffer(2 + 3 * nd);  // the view, then one flag per axis (1 = reduced)
    const at = putView(m, 0, x);
    let nout = 1;
    for (let i = 0; i < nd; i++) {
      const r = axes.includes(i);
      m[at + i] = r ? 1 : 0;
      if (!r) nout *= x.shape[i]!;
    }
    const out = allocateUninit(outDtype, nout);
    n.reduce(code, x.data, m, out);
    return out;
  }

  function matmul(a: View, b: View, outDtype: DType): TypedArray {
    const dt = dtypeOfArray(a.data);
    if (!isFloatArray(a.data) || dtypeOfArray(b.data) !== dt || outDtype !== dt) return ref.matmul(a, b, outDtype);
    // pooled, uninitialized storage: the kernel writes every element (C = A B), so a reused buffer
    // costs no zero fill and no page faults (a fresh zeroed one did: docs/NATIVE.md, session 6)
    const out = allocateUninit(outDtype, a.shape[0]! * a.shape[1]! * b.shape[2]!);
    n.matmul(a.data, b.data, packViews(a, b), out, true);
    return out;
  }

  function copy(x: View, outDtype: DType): TypedArray {
    const from = dtypeOfArray(x.data);
    // same dtype (not bool: a uint8 -> bool cast maps values to 0/1), or float32 <-> float64
    const ok = outDtype !== 'bool' && (from === outDtype || (isFloatArray(x.data) && (outDtype === 'float32' || outDtype === 'float64')));
    // exact widening casts (bool/uint8 -> int32/float, int32 -> float) through `convert`
    const widen = outDtype !== 'bool' && !ok &&
      (x.data instanceof Uint8Array || (x.data instanceof Int32Array && (outDtype === 'float32' || outDtype === 'float64')));
    if ((!ok && !widen) || !small(x)) return ref.copy(x, outDtype);
    const out = allocateUninit(outDtype, numel(x.shape));
    const m = packViews(x);
    if (widen) n.convert(x.data, m, out); else n.copy(x.data, m, out);
    return out;
  }

  function where(cond: View, a: View, b: View, outDtype: DType): TypedArray {
    const dt = dtypeOfArray(a.data);
    // select: a bitwise, branch-free where for every dtype (bool and uint8 share Uint8Array storage)
    const sameKind = dtypeOfArray(b.data) === dt && (outDtype === dt || (dt === 'uint8' && outDtype === 'bool'));
    if (!(cond.data instanceof Uint8Array) || !sameKind || !small(cond)) {
      return ref.where(cond, a, b, outDtype);
    }
    const out = allocateUninit(outDtype, numel(cond.shape));
    n.select(cond.data, a.data, b.data, packViews(cond, a, b), out);
    return out;
  }

  function assign(dst: View, src: View): void {
    if (dtypeOfArray(dst.data) !== dtypeOfArray(src.data) || dst.data.buffer === src.data.buffer || !small(dst)) {
      ref.assign(dst, src);
      return;
    }
    n.assign(dst.data, src.data, packViews(dst, src));
  }

  function geometry(m: Float64Array, at: number, p: Conv2dGeometry): void {
    const g = [p.n, p.c, p.h, p.w, p.kh, p.kw, p.strideH, p.strideW, p.padH, p.padW, p.dilationH, p.dilationW, p.oh, p.ow];
    for (let i = 0; i < g.length; i++) m[at + i] = g[i]!;
  }

  function unfold2d(x: View, p: Conv2dGeometry, padValue: number, outDtype: DType): TypedArray {
    if (!isFloatArray(x.data) || dtypeOfArray(x.data) !== outDtype) return ref.unfold2d(x, p, padValue, outDtype);
    const m = metaBuffer(2 + 2 * 4 + 14);  // the view (N, C, H, W), then the 14 geometry values
    geometry(m, putView(m, 0, x), p);
    const out = allocate(outDtype, p.n * p.c * p.kh * p.kw * p.oh * p.ow);
    n.unfold2d(x.data, m, padValue, out);
    return out;
  }

  function fold2d(cols: View, p: Conv2dGeometry, outDtype: DType): TypedArray {
    if (!isFloatArray(cols.data) || dtypeOfArray(cols.data) !== outDtype) return ref.fold2d(cols, p, outDtype);
    const m = metaBuffer(2 + 2 * 6 + 14);  // the view (N, C, kh, kw, OH, OW), then the geometry
    geometry(m, putView(m, 0, cols), p);
    const out = allocate(outDtype, p.n * p.c * p.h * p.w);
    n.fold2d(cols.data, m, out);
    return out;
  }

  return {
    name: 'native',
    unary, binary, reduce, matmul, copy, assign, unfold2d, fold2d,
    where, gather: ref.gather, scatterAdd: ref.scatterAdd,
    ...linearKernels(n),
    ...linearChainKernel(n),
    ...softmaxCrossEntropyKernels(n),
    ...linearCrossEntropyKernels(n),
    ...adamKernels(n),
    ...layerNormKernels(n),
    ...geluKernels(n),
    ...reluBackwardKernels(n),
    ...attentionKernels(n),
    ...embeddingKernels(n, { embeddingForward: ref.embeddingForward!, embeddingBackward: ref.embeddingBackward! }),
    ...csrLinearKernels(n),
    ...conv2dKernels(n),
    ...maxPool2dKernels(n, { maxPool2dForward: ref.maxPool2dForward!, maxPool2dBackward: ref.maxPool2dBackward! }),
    ...int8LinearKernels(n),
    ...weightOnlyLinearKernels(n),
    get threads() { return n.getNumThreads(); },
    setThreads(k: number) { setNumThreads(k); },
    get cpuPath() { return n.cpuPath(); },
    // after the spread of int8LinearKernels, which copied its int8Path getter's value once: the path
    // in force now (setInt8Path / setCpuPath change it after load)
    get int8Path() { return n.int8Path(); },
    rooflineProbe(seconds: number, copyBytes: number) {
      if (!n.rooflineProbe) throw new Error('native rooflineProbe: this addon build predates it; rebuild it with node scripts/build-native.mjs');
      return n.rooflineProbe(n.cpuPath(), seconds, copyBytes);
    },
    poolTrace(on: boolean) {
      if (!n.poolTrace) throw new Error('native poolTrace: this addon build predates it; rebuild it with node scripts/build-native.mjs');
      n.poolTrace(on);
    },
    poolTraceDrain() {
      if (!n.poolTraceDrain) throw new Error('native poolTraceDrain: this addon build predates it; rebuild it with node scripts/build-native.mjs');
      return n.poolTraceDrain();
    },
    trimHeap(minFreeBytes: number) {
      if (!n.mallocTrim) throw new Error('native trimHeap: this addon build predates it; rebuild it with node scripts/build-native.mjs');
      return n.mallocTrim(minFreeBytes);
    },
    description: 'C++ addon: packed SIMD GEMM, threaded kernels, int8 GEMM; general gather/scatterAdd (not embedding rows) and int arithmetic on reference',
  };
}

let backend: (NativeBackend) | null = null;

/**
 * The native backend, or null when the addon cannot be loaded (nativeStatus() says why). The first
 * call loads the addon and applies TENSORSLIM_NUM_THREADS.
 * @example const nat = getNativeBackend(); if (nat) nat.matmul(a, b, 'float32');
 */
export function getNativeBackend(): (NativeBackend) | null {
  if (backend) return backend;
  const { addon } = loadAddon();
  if (!addon) return null;
  const envThreads = Number(process.env['TENSORSLIM_NUM_THREADS']);
  if (Number.isInteger(envThreads) && envThreads >= 1) addon.setNumThreads(envThreads);
  backend = makeBackend(addon);
  // buffers the storage pool does not keep go back to the C heap at once (backend/pool.ts)
  const free = addon.freeArrayBuffer;
  if (free !== undefined) setBufferFreer((b) => free(b));
  return backend;
}

/** What nativeStatus() reports. */
export interface NativeStatus {
  loaded: boolean;
  /** The addon loaded, or where it was looked for. */
  path: string | null;
  error: string | null;
  /** Where the loaded addon came from: 'local' (native/build), 'prebuilt' (prebuilds/), 'env' (TENSORSLIM_NATIVE_PATH). */
  source: AddonSource | null;
  /** The prebuilt addon's manifest (compiler, glibc baseline, build time, ...) when source is 'prebuilt'. */
  manifest: PrebuiltManifest | null;
  /** Candidates skipped on the way, one line each (a mismatching prebuilt names why). */
  notes: readonly string[];
}

/** Whether the native addon loaded (loading it on first call), where from, and why not. @example nativeStatus().source  // 'prebuilt' */
export function nativeStatus(): NativeStatus {
  return statusOf(loadAddon());
}

function statusOf(l: AddonLoad): NativeStatus {
  return { loaded: l.addon !== null, path: l.path, error: l.error, source: l.source, manifest: l.manifest, notes: l.notes };
}

/**
 * nativeStatus() if the addon was already looked for, else null: loads nothing (so `tensorslim info`
 * under TENSORSLIM_BACKEND=reference stays free of the addon).
 * @example peekNativeStatus()?.loaded
 */
export function peekNativeStatus(): NativeStatus | null {
  const l = addonLoadState();
  return l === null ? null : statusOf(l);
}

/**
 * Threads used by native kernels (default: the CPUs this process may run on).
 * @example setNumThreads(1)   // single-threaded kernels
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected an integer >= 1, got ${n}`);
  const { addon } = loadAddon();
  if (addon) addon.setNumThreads(n);
}

/** Threads used by native kernels (1 without the addon). @example getNumThreads() // 2 */
export function getNumThreads(): number {
  const { addon } = loadAddon();
  return addon ? addon.getNumThreads() : 1;
}

/**
 * The SIMD path native kernels run: 'avx512', 'avx2', 'generic', or 'none' without the addon.
 * TENSORSLIM_CPU=avx2|generic at start-up forces a lower path.
 * @example cpuPath()  // 'avx512'
 */
export function cpuPath(): string {
  const { addon } = loadAddon();
  return addon ? addon.cpuPath() : 'none';
}

/** Paths this CPU supports, best first. @example supportedCpuPaths() // ['avx512', 'avx2', 'generic'] */
export function supportedCpuPaths(): string[] {
  const { addon } = loadAddon();
  return addon ? addon.supportedPaths() : [];
}

/**
 * Switch the SIMD path at run time (tests use it to cover every path in one process). Throws when
 * the CPU lacks it. @example setCpuPath('generic')
 */
export function setCpuPath(path: 'avx512' | 'avx2' | 'generic'): void {
  const { addon, error } = loadAddon();
  if (!addon) throw new Error(`setCpuPath: the native addon is not loaded (${error ?? ''})`);
  if (!addon.setCpuPath(path)) throw new Error(`setCpuPath: this CPU does not support '${path}'; supported: ${addon.supportedPaths().join(', ')}`);
}

/**
 * The int8 GEMM path int8Linear runs: 'vnni', 'avx512', 'avxvnni', 'avx2', 'generic' (or 'none'
 * without the addon). It follows the CPU path (avx512 -> vnni where the CPU has AVX-512 VNNI, avx2 ->
 * avxvnni where it has AVX-VNNI); TENSORSLIM_INT8 at start-up or setInt8Path() forces another one
 * (a path the CPU lacks is refused: int8 calls then throw, naming the supported paths).
 * @example int8Path()  // 'vnni'
 */
export function int8Path(): string {
  const { addon } = loadAddon();
  return addon ? addon.int8Path() : 'none';
}

/** int8 paths this CPU supports, best first. @example supportedInt8Paths() // ['vnni', 'avx512', 'avx2', 'generic'] (avxvnni between avx512 and avx2 where present) */
export function supportedInt8Paths(): string[] {
  const { addon } = loadAddon();
  return addon ? addon.supportedInt8Paths() : [];
}

/**
 * Force the int8 GEMM path ('auto' follows the CPU path again); tests use it to cover every path.
 * Throws when the CPU lacks it. @example setInt8Path('avx2')
 */
export function setInt8Path(path: 'vnni' | 'avx512' | 'avxvnni' | 'avx2' | 'generic' | 'auto'): void {
  const { addon, error } = loadAddon();
  if (!addon) throw new Error(`setInt8Path: the native addon is not loaded (${error ?? ''})`);
  if (!addon.setInt8Path(path)) throw new Error(`setInt8Path: this CPU does not support '${path}'; supported: ${addon.supportedInt8Paths().join(', ')}`);
}
