// Kernel `attention`: scaled-dot-product attention, out = dropout(softmax(scale * q k^T + causal
// mask)) v, per batch and head. q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) -> out (B, H, Tq, Dv).
//
// Every part of this kernel:
//   op, composed reference, composed backward  src/ops/attention.ts (this file)
//   gradient rule                         src/autograd/grads/attention.ts
//   backend members                       src/backend/backend.ts FusedKernels.attentionForward, .attentionBackward
//   native TS binding                     src/backends/native/attention.ts
//   native C++ kernel                     native/src/attention.cc
//   reference backend                     none (the composed reference below)
//   tests                                 test/ops/attention.test.ts, test/nn/packed_attention.test.ts,
//                                         test/native/attention.test.ts
//   callers                               src/nn/attention.ts CausalSelfAttention, src/models/gpt.ts
//
// Two forms of the same math:
//  - attentionReference: composed from primitive ops (matmul, where, softmax, mul); autograd
//    differentiates the composition. It materializes the (Tq, Tk) score matrix. It is the reference
//    the fused kernel is tested against.
//  - scaledDotProductAttention: records one 'attention' kernel with its own gradient rule
//    (autograd/grads/attention.ts). On a backend with attentionForward/attentionBackward (native)
//    it runs flash style: key blocks with an online softmax, memory linear in T, the backward
//    recomputing the weights from the saved row log-sum-exp. Elsewhere the same kernel is computed
//    from primitives, so results and gradients do not depend on the backend.
//
// Causal masking is aligned to the last key: query i sees keys j <= i + (Tk - Tq). With Tq = Tk it
// is the usual lower triangle; with a key/value cache (Tq new tokens after Tk - Tq cached ones) each
// new query sees the whole cache and the new tokens up to itself.
//
// Dropout on the attention weights uses a counter-based mask, keep(b, h, i, j) =
// hash(seed, (b H + h) Tq + i, j) >= p 2^32 (attentionKeep below), so the fused backward can
// recompute it instead of storing it, and every backend draws the same mask from the same seed.

import type { AttentionParams, View } from '../backend/backend.js';
import { allocateUninit, type TypedArray } from '../backend/dtype.js';
import { fmtShape } from '../backend/shape.js';
import { isGradEnabled, noGrad, record } from '../core/engine.js';
import { DTypeError, ShapeError, TensorslimError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import { mul, sub, where } from './binary.js';
import { matmul } from './matmul.js';
import { contiguous, narrow, permute, reshape, transpose, unsqueeze } from './movement.js';
import { stack } from './indexing.js';
import { logsumexp, sum } from './reduce.js';
import { exp } from './unary.js';
import { fusedOr } from './fused_or.js';
import { backend } from './util.js';

/** Options of scaledDotProductAttention and attentionReference. */
export interface AttentionOptions {
  /** Mask keys after each query (aligned to the last key). Default false. */
  causal?: boolean;
  /** Multiplies q k^T. Default 1 / sqrt(D). */
  scale?: number;
  /** Dropout probability on the attention weights, in [0, 1). Default 0. */
  dropout?: number;
  /** Apply dropout only when true (pass module.training). Default true. */
  training?: boolean;
  /** Seed of the dropout mask; default: drawn from `generator`. */
  seed?: number;
  /** Generator the seed is drawn from (default: the default generator). */
  generator?: Generator;
}

interface Resolved extends AttentionParams {
  readonly b: number; readonly h: number; readonly tq: number; readonly tk: number; readonly d: number; readonly dv: number;
}

/** Validate q, k, v and the options; draws a dropout seed only when dropout is active. */
function resolve(op: string, q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): Resolved {
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) {
    if (!(t instanceof Tensor)) throw new TensorslimError(op, `${name} must be a Tensor`);
    if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new DTypeError(op, `${name} must be float32 or float64, got ${t.dtype}`);
    if (t.ndim !== 4) throw new ShapeError(op, `${name} must be 4-D (batch, heads, time, headDim), got ${fmtShape(t.shape)}`);
  }
  if (k.dtype !== q.dtype || v.dtype !== q.dtype) throw new DTypeError(op, `q, k and v must share one dtype, got ${q.dtype}, ${k.dtype}, ${v.dtype}`);
  const [b, h, tq, d] = q.shape as [number, number, number, number];
  const [kb, kh, tk, kd] = k.shape as [number, number, number, number];
  if (kb !== b || kh !== h || kd !== d) {
    throw new ShapeError(op, `k ${fmtShape(k.shape)} does not match q ${fmtShape(q.shape)}: batch, heads and headDim must agree`);
  }
  if (v.shape[0] !== b || v.shape[1] !== h || v.shape[2] !== tk) {
    throw new ShapeError(op, `v ${fmtShape(v.shape)} does not match k ${fmtShape(k.shape)}: batch, heads and key length must agree`);
  }
  if (tk === 0) throw new ShapeError(op, `k ${fmtShape(k.shape)} has no keys; attention needs at least one`);
  const causal = o.causal ?? false;
  if (causal && tq > tk) throw new ShapeError(op, `causal attention needs at least as many keys as queries, got ${tq} queries and ${tk} keys`);
  const scale = o.scale ?? 1 / Math.sqrt(d);
  if (!Number.isFinite(scale)) throw new TensorslimError(op, `scale must be finite, got ${scale}`);
  const p = o.dropout ?? 0;
  if (!(p >= 0 && p < 1)) throw new TensorslimError(op, `dropout must be in [0, 1), got ${p}`);
  const active = p > 0 && (o.training ?? true);
  let seed = 0;
  if (active) {
    seed = o.seed ?? (o.generator ?? defaultGenerator).nextUint32();
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new TensorslimError(op, `seed must be a uint32, got ${seed}`);
  }
  return { b, h, tq, tk, d, dv: v.shape[3]!, scale, causal, dropout: active ? p : 0, seed };
}

/** lowbias32, a 32-bit integer hash (C. Wellons); the native kernel implements the same. */
function mix32(x: number): number {
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15; x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The uint32 below which an attention weight is dropped, for probability p. @example attentionDropThreshold(0.5) // 2147483648 */
export function attentionDropThreshold(p: number): number { return Math.min(Math.floor(p * 4294967296), 4294967295); }

/**
 * Whether attention weight (row, col) survives dropout: row = (b H + h) Tq + i, col = j.
 * The fused kernel draws the same mask.
 * @example attentionKeep(7, 0, 3, attentionDropThreshold(0.1))  // true for about 90% of (row, col)
 */
export function attentionKeep(seed: number, row: number, col: number, threshold: number): boolean {
  const r = mix32((seed ^ row) >>> 0);
  return mix32((r + Math.imul(col, 0x9e3779b9)) >>> 0) >= threshold;
}

/** The dropout multiplier tensor (B, H, Tq, Tk): 1 / (1 - p) where kept, 0 where dropped. */
function dropoutScale(r: Resolved, dtype: 'float32' | 'float64'): Tensor {
  const n = r.b * r.h * r.tq * r.tk;
  const data = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
  const thr = attentionDropThreshold(r.dropout);
  const s = 1 / (1 - r.dropout);
  for (let row = 0, at = 0; row < r.b * r.h * r.tq; row++) {
    for (let j = 0; j < r.tk; j++, at++) data[at] = attentionKeep(r.seed, row, j, thr) ? s : 0;
  }
  return new Tensor(data, dtype, [r.b, r.h, r.tq, r.tk]);
}

/** Bool (Tq, Tk): true where query i may see key j (i + Tk - Tq >= j). */
function causalAllowed(tq: number, tk: number): Tensor {
  const m = new Uint8Array(tq * tk);
  const off = tk - tq;
  for (let i = 0; i < tq; i++) for (let j = 0; j <= i + off && j < tk; j++) m[i * tk + j] = 1;
  return new Tensor(m, 'bool', [tq, tk]);
}

/** scale * q k^T with masked entries at -inf: (B, H, Tq, Tk). */
function maskedScores(q: Tensor, k: Tensor, r: Resolved): Tensor {
  const s = mul(matmul(q, transpose(k, 2, 3)), r.scale);
  return r.causal ? where(causalAllowed(r.tq, r.tk), s, -Infinity) : s;
}

/**
 * Attention composed from primitive ops: the reference for the fused kernel (it keeps the whole
 * (Tq, Tk) weight matrix, so memory grows with T^2). Same options and mask as
 * scaledDotProductAttention; with dropout, pass the same `seed` to both to compare them.
 *
 * @example
 * const y = attentionReference(q, k, v, { causal: true });   // q, k, v: (2, 4, 16, 8) -> (2, 4, 16, 8)
 */
export function attentionReference(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const r = resolve('attentionReference', q, k, v, opts);
  const s = maskedScores(q, k, r);
  // softmax written out with the stable shift (logsumexp), so that the row LSE matches the kernel's
  let w = exp(sub(s, logsumexp(s, 3, true)));
  if (r.dropout > 0) w = mul(w, dropoutScale(r, q.dtype as 'float32' | 'float64'));
  return matmul(w, v);
}

/**
 * Scaled-dot-product attention, one recorded kernel: dropout(softmax(scale q k^T + mask)) v.
 * q (B, H, Tq, D), k (B, H, Tk, D), v (B, H, Tk, Dv) -> (B, H, Tq, Dv). Fused (memory linear in T)
 * on backends with the attention kernels, composed from primitives elsewhere; same results.
 *
 * @example
 * const y = scaledDotProductAttention(q, k, v, { causal: true, dropout: 0.1, training: model.training });
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  const r = resolve('scaledDotProductAttention', q, k, v, opts);
  const params: AttentionParams = { scale: r.scale, causal: r.causal, dropout: r.dropout, seed: r.seed };
  const [out, lse] = attentionForwardRaw(q, k, v, r, params);
  return record('attention', [q, k, v], out, { ...params, lse });
}

/** q, k, v (B, H, T, D) as strided views of a packed qkv (B, T, 3C), off the tape. */
function unpack(qkv: Tensor, h: number): [Tensor, Tensor, Tensor] {
  const src = qkv.isContiguous() ? qkv : noGrad(() => contiguous(qkv));
  const [b, t, c3] = src.shape as [number, number, number];
  const c = c3 / 3, d = c / h;
  // (B, T, 3, H, D) -> (B, H, T, D) for part i: strides (T 3C, D, 3C, 1), offset i C
  const st = [t * c3, d, c3, 1];
  const part = (i: number): Tensor => new Tensor(src.data, src.dtype, [b, h, t, d], st, src.offset + i * c);
  return [part(0), part(1), part(2)];
}

/**
 * Multi-head causal or full self-attention on a packed projection, one recorded kernel: qkv
 * (B, T, 3C) holds q | k | v along its last axis (nanoGPT's c_attn output), each split into
 * `nHead` heads of C / nHead features; the result is the heads merged back, (B, T, C). The same
 * math as scaledDotProductAttention on the (B, H, T, D) views of q, k and v followed by merging the
 * heads, but q, k and v are read in place and the gradient is one (B, T, 3C) tensor, written
 * directly (no zero-padded per-part gradients to sum).
 *
 * @example
 * const y = packedSelfAttention(cAttn.call(x), 4, { causal: true });   // (2, 16, 3 * 64) -> (2, 16, 64)
 */
export function packedSelfAttention(qkv: Tensor, nHead: number, opts: AttentionOptions = {}): Tensor {
  const op = 'packedSelfAttention';
  if (!(qkv instanceof Tensor)) throw new TensorslimError(op, 'qkv must be a Tensor');
  if (qkv.ndim !== 3) throw new ShapeError(op, `qkv must be 3-D (batch, time, 3 * channels), got ${fmtShape(qkv.shape)}`);
  if (!Number.isInteger(nHead) || nHead < 1) throw new TensorslimError(op, `nHead must be a positive integer, got ${nHead}`);
  const c3 = qkv.shape[2]!;
  if (c3 % (3 * nHead) !== 0) {
    throw new ShapeError(op, `the last dimension of qkv ${fmtShape(qkv.shape)} must be 3 * channels with channels divisible by nHead ${nHead}`);
  }
  const [q, k, v] = unpack(qkv, nHead);
  const r = resolve(op, q, k, v, opts);
  const params: AttentionParams = { scale: r.scale, causal: r.causal, dropout: r.dropout, seed: r.seed };
  const [b, t] = qkv.shape as [number, number];
  const c = c3 / 3;
  const [merged, lse] = fusedOr('attentionForward', b * t > 0,
    (be): [TypedArray, Tensor] => {
      // the kernel writes the heads straight into their (B, T, H, D) = (B, T, C) places (all of
      // them: uninitialized storage)
      const into = allocateUninit(qkv.dtype, b * t * c);
      const res = be.attentionForward(q.view_(), k.view_(), v.view_(), params, { data: into, shape: [b, nHead, t, r.dv], strides: [t * c, r.dv, c, 1], offset: 0 });
      return [into, new Tensor(res.lse, qkv.dtype, [b, nHead, t])];
    },
    (): [TypedArray, Tensor] => {
      const [out, l] = attentionForwardRaw(q, k, v, r, params);
      return [backend().copy({ data: out.data, shape: [b, t, nHead, r.dv], strides: [nHead * t * r.dv, r.dv, t * r.dv, 1], offset: 0 }, out.dtype), l];
    });
  return record('attention', [qkv], new Tensor(merged, qkv.dtype, [b, t, c]), { ...params, lse, packedHeads: nHead });
}

/** The forward of the attention kernel: out (B, H, Tq, Dv) contiguous and lse (B, H, Tq). */
function attentionForwardRaw(q: Tensor, k: Tensor, v: Tensor, r: Resolved, params: AttentionParams): [Tensor, Tensor] {
  return fusedOr('attentionForward', r.b * r.h * r.tq > 0, (be): [Tensor, Tensor] => {
    const res = be.attentionForward(q.view_(), k.view_(), v.view_(), params);
    return [new Tensor(res.out, q.dtype, [r.b, r.h, r.tq, r.dv]), new Tensor(res.lse, q.dtype, [r.b, r.h, r.tq])];
  }, () => noGrad((): [Tensor, Tensor] => {
    const s = maskedScores(q, k, r);
    const l = logsumexp(s, 3, true);
    let w = exp(sub(s, l));
    if (r.dropout > 0) w = mul(w, dropoutScale(r, q.dtype as 'float32' | 'float64'));
    const o = contiguous(matmul(w, v));
    return [new Tensor(o.data, q.dtype, o.shape), contiguous(reshape(l, [r.b, r.h, r.tq]))];
  }));
}

/**
 * Gradient of packedSelfAttention: qkv (B, T, 3C), its output y (B, T, C), lse and dy (B, T, C)
 * -> d(qkv) (B, T, 3C). Fused where the backend has attentionBackward; composed from
 * differentiable ops when recording (createGraph) or elsewhere.
 * @example const dqkv = packedAttentionBackward(qkv, y, lse, dy, 4, params);
 */
export function packedAttentionBackward(qkv: Tensor, y: Tensor, lse: Tensor, dy: Tensor, nHead: number, p: AttentionParams): Tensor {
  const [b, t, c3] = qkv.shape as [number, number, number];
  const c = c3 / 3, d = c / nHead;
  const heads = (x: Tensor): Tensor => permute(reshape(x, [b, t, nHead, d]), [0, 2, 1, 3]);   // (B, T, C) -> (B, H, T, D) view
  if (isGradEnabled()) {
    // recorded: views taken with ops so that the new graph reaches qkv and y
    const parts = [0, 1, 2].map((i) => permute(reshape(narrow(qkv, 2, i * c, c), [b, t, nHead, d]), [0, 2, 1, 3]));
    const g = attentionBackwardComposed(parts[0]!, parts[1]!, parts[2]!, heads(y), lse, heads(dy), p);
    return reshape(stack(g.map((x) => permute(x, [0, 2, 1, 3])), 2), [b, t, c3]);
  }
  const [q, k, v] = unpack(qkv, nHead);
  const yv = new Tensor(y.data, y.dtype, [b, nHead, t, d], [y.strides[0]!, d * y.strides[2]!, y.strides[1]!, y.strides[2]!], y.offset);
  const dyv = new Tensor(dy.data, dy.dtype, [b, nHead, t, d], [dy.strides[0]!, d * dy.strides[2]!, dy.strides[1]!, dy.strides[2]!], dy.offset);
  const out = new Tensor(allocateUninit(qkv.dtype, b * t * c3), qkv.dtype, [b, t, c3]);  // dq, dk, dv below fill all of it
  const part = (i: number): View => ({ data: out.data, shape: [b, nHead, t, d], strides: [t * c3, d, c3, 1], offset: i * c });
  const into: [View, View, View] = [part(0), part(1), part(2)];
  return fusedOr('attentionBackward', b * t > 0 && dy.dtype === qkv.dtype, (be) => {
    // the kernel writes dq, dk and dv straight into their places in the packed (B, T, 3C) gradient
    be.attentionBackward(q.view_(), k.view_(), v.view_(), yv.view_(), dyv.view_(), lse.view_(), p, into);
    return out;
  }, () => {
    const g = attentionBackward(q, k, v, yv, lse, dyv, p);
    g.forEach((x, i) => backend().assign(into[i]!, x.view_()));
    return out;
  });
}

/**
 * Gradients of scaledDotProductAttention: given the forward's inputs, output `out`, its row
 * log-sum-exp `lse` and the output gradient `dOut`, returns [dq, dk, dv]. Fused on backends with
 * attentionBackward (the weights are recomputed block by block), composed from ops elsewhere.
 * Not differentiable itself (the gradient rule composes a differentiable form for createGraph).
 *
 * @example
 * const [dq, dk, dv] = attentionBackward(q, k, v, out, lse, dOut, { scale: 0.125, causal: true, dropout: 0, seed: 0 });
 */
export function attentionBackward(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, dOut: Tensor, p: AttentionParams): [Tensor, Tensor, Tensor] {
  const [b, h, tq] = q.shape as [number, number, number];
  return fusedOr('attentionBackward', b * h * tq > 0 && dOut.dtype === q.dtype, (be): [Tensor, Tensor, Tensor] => {
    const g = be.attentionBackward(q.view_(), k.view_(), v.view_(), out.view_(), dOut.view_(), lse.view_(), p);
    return [new Tensor(g.dq, q.dtype, q.shape), new Tensor(g.dk, q.dtype, k.shape), new Tensor(g.dv, q.dtype, v.shape)];
  }, () => noGrad(() => attentionBackwardComposed(q, k, v, out, lse, dOut, p)));
}

/**
 * The attention backward in ops (also differentiable when recorded, for createGraph):
 *   P = exp(S - lse), Pd = P * Z (dropout multipliers), dV = Pd^T dO, dPd = dO V^T,
 *   dS = P * (dPd * Z - rowsum(dO * O)), dQ = scale dS K, dK = scale dS^T Q.
 * rowsum(dO * O) = rowsum(Pd * dPd) because O = Pd V.
 * @example const [dq, dk, dv] = attentionBackwardComposed(q, k, v, out, lse, dOut, params);
 */
export function attentionBackwardComposed(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Tensor, dOut: Tensor, p: AttentionParams): [Tensor, Tensor, Tensor] {
  const r = resolve('attentionBackward', q, k, v, { causal: p.causal, scale: p.scale, dropout: p.dropout, seed: p.seed, training: true });
  const s = maskedScores(q, k, r);
  // recorded (createGraph): the log-sum-exp must carry its dependence on q and k, so recompute it
  const l = isGradEnabled() ? logsumexp(s, 3, true) : unsqueeze(lse, 3);
  const w = exp(sub(s, l));                                                    // P (B, H, Tq, Tk)
  const z = r.dropout > 0 ? dropoutScale(r, q.dtype as 'float32' | 'float64') : null;
  const wd = z ? mul(w, z) : w;
  const dv = matmul(transpose(wd, 2, 3), dOut);
  let dp = matmul(dOut, transpose(v, 2, 3));
  if (z) dp = mul(dp, z);
  const rowDot = sum(mul(dOut, out), 3, true);
  const ds = mul(mul(w, sub(dp, rowDot)), r.scale);
  return [matmul(ds, k), matmul(transpose(ds, 2, 3), q), dv];
}
