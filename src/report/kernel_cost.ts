// FLOPs and bytes moved per backend kernel call, from the call's arguments alone (shapes, strides,
// dtypes). Used by the profiler to turn a kernel's time into achieved GFLOP/s and GB/s. These are
// model counts, not hardware counters: a multiply-add counts 2 FLOPs, a transcendental counts 1,
// and "bytes" = distinct input elements read + output elements written (a broadcast axis, stride 0,
// is read once). Must not call the backend or allocate tensors.

import type { CsrArrays, View } from '../backend/backend.js';
import type { TypedArray } from '../backend/dtype.js';

/** The modelled cost of one kernel call. */
export interface KernelCost {
  /** Floating-point operations (a multiply-add counts 2). */
  readonly flops: number;
  /** Bytes read plus bytes written. */
  readonly bytes: number;
}

const NONE: KernelCost = { flops: 0, bytes: 0 };

function isView(v: unknown): v is View {
  // property reads, not the `in` operator: this runs on every profiled kernel call
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Partial<View>;
  return o.shape !== undefined && o.strides !== undefined && o.data !== undefined;
}

function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Elements of `v` that are distinct in memory: axes of stride 0 (broadcast) count once. */
function distinct(v: View): number {
  let n = 1;
  for (let i = 0; i < v.shape.length; i++) if (v.strides[i] !== 0) n *= v.shape[i]!;
  return n;
}

function viewBytes(v: View | null | undefined): number {
  return v ? distinct(v) * v.data.BYTES_PER_ELEMENT : 0;
}

function elemBytes(v: View): number { return v.data.BYTES_PER_ELEMENT; }

/** Output bytes of an elementwise result of `n` elements; the out dtype is not in the call, so use the input's. */
function outBytes(n: number, like: View): number { return n * elemBytes(like); }

// Per-element FLOP counts of the fused elementwise kernels (approximate, stated in docs/PROFILING.md).
const LAYER_NORM_FWD = 8, LAYER_NORM_BWD = 10, GELU_FWD = 10, GELU_BWD = 14, XENT_FWD = 4, XENT_BWD = 4, ADAM = 12;

/**
 * The modelled FLOPs and bytes of one call of backend method `method` with arguments `args`.
 * Unknown methods cost nothing (they still get timed).
 *
 * @example
 * const a = { data: new Float32Array(6), shape: [1, 2, 3], strides: [6, 3, 1], offset: 0 };
 * const b = { data: new Float32Array(12), shape: [1, 3, 4], strides: [12, 4, 1], offset: 0 };
 * kernelCost('matmul', [a, b, 'float32']); // { flops: 48, bytes: 104 }
 */
export function kernelCost(method: string, args: readonly unknown[]): KernelCost {
  const v = (i: number): View | null => (isView(args[i]) ? args[i] as View : null);
  switch (method) {
    case 'unary': {
      const x = v(1);
      if (!x) return NONE;
      const n = numel(x.shape);
      return { flops: n, bytes: viewBytes(x) + outBytes(n, x) };
    }
    case 'binary': {
      const a = v(1), b = v(2);
      if (!a || !b) return NONE;
      const n = numel(a.shape);
      return { flops: n, bytes: viewBytes(a) + viewBytes(b) + outBytes(n, a) };
    }
    case 'where': {
      const c = v(0), a = v(1), b = v(2);
      if (!c || !a || !b) return NONE;
      const n = numel(c.shape);
      return { flops: n, bytes: viewBytes(c) + viewBytes(a) + viewBytes(b) + outBytes(n, a) };
    }
    case 'reduce': {
      const x = v(1);
      const axes = args[2] as readonly number[] | undefined;
      if (!x || !axes) return NONE;
      const n = numel(x.shape);
      let out = n;
      for (const ax of axes) out /= x.shape[ax] ?? 1;
      return { flops: n, bytes: viewBytes(x) + outBytes(out, x) };
    }
    case 'matmul': {
      // a (B, M, K) @ b (B, K, N): 2 B M N K
      const a = v(0), b = v(1);
      if (!a || !b || a.shape.length < 3 || b.shape.length < 3) return NONE;
      const [B, M, K] = a.shape as [number, number, number];
      const N = b.shape[2]!;
      return { flops: 2 * B * M * N * K, bytes: viewBytes(a) + viewBytes(b) + B * M * N * elemBytes(a) };
    }
    case 'copy': {
      const x = v(0);
      return x ? { flops: 0, bytes: viewBytes(x) + numel(x.shape) * elemBytes(x) } : NONE;
    }
    case 'assign': {
      const d = v(0), s = v(1);
      return d && s ? { flops: 0, bytes: numel(d.shape) * elemBytes(d) + viewBytes(s) } : NONE;
    }
    case 'gather': {
      const x = v(0), idx = v(2);
      if (!x || !idx) return NONE;
      const n = numel(idx.shape);
      return { flops: 0, bytes: viewBytes(idx) + 2 * n * elemBytes(x) };
    }
    case 'scatterAdd': {
      const shape = args[0] as readonly number[] | undefined, idx = v(2), src = v(3);
      if (!shape || !idx || !src) return NONE;
      const n = numel(src.shape);
      return { flops: n, bytes: viewBytes(idx) + viewBytes(src) + numel(shape) * elemBytes(src) };
    }
    case 'unfold2d':
    case 'fold2d': {
      const x = v(0);
      const p = args[1] as { n: number; c: number; h: number; w: number; kh: number; kw: number; oh: number; ow: number } | undefined;
      if (!x || !p) return NONE;
      const cols = p.n * p.c * p.kh * p.kw * p.oh * p.ow, img = p.n * p.c * p.h * p.w;
      return { flops: method === 'fold2d' ? cols : 0, bytes: (cols + img) * elemBytes(x) };
    }
    case 'maxPool2dForward':
    case 'maxPool2dBackward': {
      // forward: one compare per window element, reads x, writes y and int32 argmax; backward: one
      // add per output, reads dy and argmax, writes dx
      const x = v(0);
      const p = args[method === 'maxPool2dForward' ? 1 : 2] as { n: number; c: number; h: number; w: number; kh: number; kw: number; oh: number; ow: number } | undefined;
      if (!x || !p) return NONE;
      const out = p.n * p.c * p.oh * p.ow, img = p.n * p.c * p.h * p.w;
      return method === 'maxPool2dForward'
        ? { flops: out * p.kh * p.kw, bytes: viewBytes(x) + out * (elemBytes(x) + 4) }
        : { flops: out, bytes: viewBytes(x) + out * 4 + img * elemBytes(x) };
    }
    case 'conv2dForward':
    case 'conv2dBackward': {
      // per sample a (O x C/G*kh*kw) by (C/G*kh*kw x OH*OW) product (G groups): 2 N O CKK L flops forward, that per
      // gradient asked for backward (dx and dW; db is N O L adds); reads x (and dy), writes y or the gradients
      const fwd = method === 'conv2dForward';
      const x = v(fwd ? 0 : 1), w = v(fwd ? 1 : 2), dy = fwd ? null : v(0);
      const p = args[3] as { n: number; c: number; h: number; w: number; kh: number; kw: number; oh: number; ow: number } | undefined;
      if (!x || !w || !p) return NONE;
      const groups = (args[fwd ? 4 : 5] as number | undefined) ?? 1;
      const o = w.shape[0]!, ckk = p.c * p.kh * p.kw / groups, l = p.oh * p.ow, eb = elemBytes(x);
      const gemm = 2 * p.n * o * ckk * l;
      if (fwd) return { flops: gemm + (v(2) ? p.n * o * l : 0), bytes: viewBytes(x) + viewBytes(w) + p.n * o * l * eb };
      const needs = (args[4] as readonly boolean[] | undefined) ?? [true, true, true];
      return {
        flops: (needs[0] ? gemm : 0) + (needs[1] ? gemm : 0) + (needs[2] ? p.n * o * l : 0),
        bytes: viewBytes(dy) + viewBytes(x) + viewBytes(w) + ((needs[0] ? p.n * p.c * p.h * p.w : 0) + (needs[1] ? o * ckk : 0) + (needs[2] ? o : 0)) * eb,
      };
    }
    case 'linear': {
      // x (M, K) @ w^T (w: (N, K)) + bias: 2 M N K (+ M N for the bias, + M N for ReLU)
      const x = v(0), w = v(1), bias = v(2);
      if (!x || !w) return NONE;
      const M = x.shape[0]!, K = x.shape[1]!, N = w.shape[0]!;
      return { flops: 2 * M * N * K + (bias ? M * N : 0) + (args[3] === true ? M * N : 0), bytes: viewBytes(x) + viewBytes(w) + viewBytes(bias) + M * N * elemBytes(x) };
    }
    case 'linearBackward': {
      // dy (M, N), x (M, K), w (N, K): dx = dy w (2MNK), dw = dy^T x (2MNK), db = sum dy (MN)
      const dy = v(0), y = v(1), x = v(2), w = v(3);
      const needs = (args[4] as readonly boolean[] | undefined) ?? [true, true, true];
      if (!dy || !x || !w) return NONE;
      const M = dy.shape[0]!, N = dy.shape[1]!, K = x.shape[1]!, eb = elemBytes(dy);
      const flops = (needs[0] ? 2 * M * N * K : 0) + (needs[1] ? 2 * M * N * K : 0) + (needs[2] ? M * N : 0);
      const written = (needs[0] ? M * K : 0) + (needs[1] ? N * K : 0) + (needs[2] ? N : 0);
      return { flops, bytes: viewBytes(dy) + viewBytes(y) + viewBytes(x) + viewBytes(w) + written * eb };
    }
    case 'softmaxCrossEntropy': {
      const l = v(0), t = v(1);
      if (!l || !t) return NONE;
      const n = numel(l.shape);
      return { flops: XENT_FWD * n, bytes: viewBytes(l) + viewBytes(t) + l.shape[0]! * 8 };
    }
    case 'softmaxCrossEntropyBackward': {
      const l = v(0), t = v(1);
      if (!l || !t) return NONE;
      const n = numel(l.shape);
      return { flops: XENT_BWD * n, bytes: viewBytes(l) + viewBytes(t) + n * elemBytes(l) };
    }
    case 'csrLinear': {
      // out (batch, rows) = x (batch, cols) @ W^T: 2 nnz batch
      const x = args[0] as TypedArray | undefined, batch = args[1] as number, w = args[2] as CsrArrays | undefined;
      const out = args[4] as TypedArray | undefined;
      if (!x || !w || !out) return NONE;
      const nnz = w.values.length;
      return { flops: 2 * nnz * batch, bytes: x.byteLength + w.values.byteLength + w.colIndices.byteLength + w.crowIndices.byteLength + out.byteLength };
    }
    case 'adamUpdate': {
      const p = args[0] as TypedArray | undefined, amsgrad = args[4] !== null && args[4] !== undefined;
      if (!p) return NONE;
      // reads p, g, m, v (+ vmax); writes p, m, v (+ vmax)
      return { flops: ADAM * p.length, bytes: p.byteLength * (amsgrad ? 9 : 7) };
    }
    case 'attentionForward':
    case 'attentionBackward': {
      // q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv): forward 2 B H Tq Tk (D + Dv); the backward
      // recomputes the scores and forms dV, dP, dQ, dK: 2.5x the forward (causal masks not subtracted).
      const q = v(0), k = v(1), vv = v(2);
      if (!q || !k || !vv) return NONE;
      const [B, H, Tq, D] = q.shape as [number, number, number, number];
      const Tk = k.shape[2]!, Dv = vv.shape[3]!;
      const fwd = 2 * B * H * Tq * Tk * (D + Dv);
      const io = viewBytes(q) + viewBytes(k) + viewBytes(vv) + B * H * Tq * (Dv + 1) * elemBytes(q);
      return method === 'attentionForward' ? { flops: fwd, bytes: io } : { flops: 2.5 * fwd, bytes: 2 * io + viewBytes(q) + viewBytes(k) + viewBytes(vv) };
    }
    case 'layerNormForward':
    case 'layerNormBackward': {
      const x = v(method === 'layerNormForward' ? 0 : 1);
      if (!x) return NONE;
      const n = numel(x.shape);
      return method === 'layerNormForward'
        ? { flops: LAYER_NORM_FWD * n, bytes: viewBytes(x) + n * elemBytes(x) }
        : { flops: LAYER_NORM_BWD * n, bytes: 3 * n * elemBytes(x) };
    }
    case 'geluForward':
    case 'geluBackward': {
      const x = v(0);
      if (!x) return NONE;
      const n = numel(x.shape);
      return method === 'geluForward'
        ? { flops: GELU_FWD * n, bytes: viewBytes(x) + n * elemBytes(x) }
        : { flops: GELU_BWD * n, bytes: viewBytes(x) + viewBytes(v(1)) + n * elemBytes(x) };
    }
    case 'embeddingForward': {
      const w = v(0), idx = v(1);
      if (!w || !idx) return NONE;
      const n = numel(idx.shape) * w.shape[1]!;
      return { flops: 0, bytes: viewBytes(idx) + 2 * n * elemBytes(w) };
    }
    case 'embeddingBackward': {
      const dy = v(0), idx = v(1), rows = args[2] as number;
      if (!dy || !idx) return NONE;
      const n = numel(dy.shape);
      return { flops: n, bytes: viewBytes(dy) + viewBytes(idx) + rows * dy.shape[1]! * elemBytes(dy) };
    }
    default:
      return NONE;
  }
}

/** The name a kernel call is reported under: the method, plus the op for unary/binary/reduce ('binary.add'). */
export function kernelName(method: string, args: readonly unknown[]): string {
  if ((method === 'unary' || method === 'binary' || method === 'reduce') && typeof args[0] === 'string') return `${method}.${args[0]}`;
  return method;
}
