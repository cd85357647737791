// PowerSGD gradient compression (Vogels, Karimireddy and Jaggi, NeurIPS 2019) as a DDP comm hook.
// Options follow PyTorch's powerSGD_hook (matrix_approximation_rank, start_powerSGD_iter,
// use_error_feedback, warm_start, min_compression_rate); the code is our own. Per bucket and step:
//   1. the first startPowerSgdIter steps: the plain float32 average (vanilla all-reduce);
//   2. then: M = gradient (+ this rank's error feedback), for every matrix of the bucket (a gradient
//      of 2 or more dimensions, seen as shape[0] x the rest) whose low-rank form is at least
//      minCompressionRate times smaller; the other gradients (biases, tiny matrices) are averaged
//      uncompressed in one all-reduce;
//   3. P = M Q (Q: the last step's, warm start, or a fresh seeded random one, the same on every
//      rank), all-reduce sum of every P in one buffer, orthogonalize each P's columns
//      (Gram-Schmidt; a column dependent on the earlier ones becomes zero), Q = M^T P, all-reduce sum of every Q, Q /= world size, and the average is
//      approximated by P Q^T; error feedback keeps M - P Q^T for the next step.
// Each matrix of n x m elements sends (n + m) r instead of n m values. With r >= min(n, m) the result
// equals the plain average (up to float32 rounding): P's columns then span M's column space.
// The matrix products and the element-wise work (error feedback) run through the tensor ops (the
// active backend's kernels) on the JS thread; the Gram-Schmidt on P (n x r, r small) in JavaScript. Each bucket's collectives run after the previous
// bucket's, through one promise chain, so every rank issues them in the same order whenever its
// buckets become ready. State (error feedback, Q, the step counter) lives in the hook, not in the
// DDP's or the optimizer's state dict: a resumed run restarts them (PyTorch's PowerSGDState is not
// in the model's state dict either).

import { noGrad } from '../core/engine.js';
import { fromBuffer, type Tensor } from '../core/tensor.js';
import { add_, assign, matmul, sub, transpose } from '../ops/index.js';
import type { CommHook, CommHookBucket } from './comm_hooks.js';
import type { ProcessGroup } from './process_group.js';

/** Options of powerSgdHook (PyTorch's PowerSGDState names, camel-cased). */
export interface PowerSgdOptions {
  /** Rank r of each matrix's approximation (default 1; a matrix's smaller side caps it). */
  matrixApproximationRank?: number;
  /** Synced steps averaged uncompressed before compression starts (default 1000, PyTorch's; 0: from the first step). */
  startPowerSgdIter?: number;
  /** Keep each rank's compression error and add it to the next step's gradient (default true). */
  useErrorFeedback?: boolean;
  /** Start each step's power iteration from the last step's Q (default true); false: a fresh random Q each step. */
  warmStart?: boolean;
  /** A matrix is compressed only if n m > minCompressionRate (n + m) r (default 2). */
  minCompressionRate?: number;
  /** Added to a column's norm when it is normalized, so a zero column stays finite (default 1e-8). */
  orthogonalizationEpsilon?: number;
  /** Seed of the random Q (default 0; every rank must use the same). */
  seed?: number;
}

/** What a PowerSGD hook did in the last step it compressed (for benchmarks and tests). */
export interface PowerSgdStats {
  /** Synced steps seen so far (bucket 0 calls). */
  iter: number;
  /** Elements the last step all-reduced: compressed (P and Q) and uncompressed. */
  compressedElements: number;
  uncompressedElements: number;
  /** Elements of the gradients those stand for. */
  gradientElements: number;
  /** Matrices compressed in the last step. */
  matrices: number;
}

/** A PowerSGD comm hook with its running figures. */
export interface PowerSgdHook extends CommHook {
  /** A copy of the figures of the last compressed step. */
  stats(): PowerSgdStats;
}

interface MatrixState { q: Float32Array | null }
interface BucketState { error: Float32Array | null; matrices: Map<number, MatrixState> }

/**
 * A PowerSGD comm hook (see the file header; PyTorch's powerSGD_hook options).
 * @example
 * const ddp = await DistributedDataParallel.create(model);
 * ddp.registerCommHook(powerSgdHook({ matrixApproximationRank: 2, startPowerSgdIter: 10 }));
 */
export function powerSgdHook(opts: PowerSgdOptions = {}): PowerSgdHook {
  const rank = opts.matrixApproximationRank ?? 1;
  const start = opts.startPowerSgdIter ?? 1000;
  const minRate = opts.minCompressionRate ?? 2;
  const eps = opts.orthogonalizationEpsilon ?? 1e-8;
  const errorFeedback = opts.useErrorFeedback ?? true;
  const warm = opts.warmStart ?? true;
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(rank) || rank < 1) throw new Error(`powerSgdHook: matrixApproximationRank must be an integer >= 1, got ${rank}`);
  if (!Number.isInteger(start) || start < 0) throw new Error(`powerSgdHook: startPowerSgdIter must be an integer >= 0, got ${start}`);
  if (!(minRate >= 0)) throw new Error(`powerSgdHook: minCompressionRate must be a number >= 0, got ${minRate}`);
  if (!(eps >= 0)) throw new Error(`powerSgdHook: orthogonalizationEpsilon must be >= 0, got ${eps}`);
  const buckets = new Map<number, BucketState>();
  const st: PowerSgdStats = { iter: 0, compressedElements: 0, uncompressedElements: 0, gradientElements: 0, matrices: 0 };
  let chain: Promise<unknown> = Promise.resolve();

  const compress = async (bucket: Tensor, group: ProcessGroup, info: CommHookBucket, iter: number): Promise<Tensor> => {
    if (iter < start || bucket.dtype !== 'float32') return group.allReduce(bucket, 'avg');
    const g = bucket.isContiguous() ? bucket : bucket.contiguous();
    const flat = (g.data as Float32Array).subarray(g.offset, g.offset + g.size);
    let bs = buckets.get(info.index);
    if (bs === undefined || (bs.error !== null && bs.error.length !== flat.length)) buckets.set(info.index, bs = { error: null, matrices: new Map() });
    if (errorFeedback) {
      if (bs.error === null) bs.error = new Float32Array(flat.length);
      else { const err = bs.error; noGrad(() => add_(fromBuffer(flat, 'float32', [flat.length]), fromBuffer(err, 'float32', [err.length]))); }
    }
    // which gradients go compressed
    const mats: { k: number; off: number; n: number; m: number; r: number }[] = [];
    const plain: { off: number; size: number }[] = [];
    info.tensors.forEach((t, k) => {
      const n = t.shape[0] ?? 1, m = t.shape.length >= 2 ? t.size / n : 1;
      const r = Math.min(rank, n, m);
      if (t.shape.length >= 2 && t.size > 0 && (n + m) * r * minRate < n * m) mats.push({ k, off: t.offset, n, m, r });
      else plain.push({ off: t.offset, size: t.size });
    });
    // the uncompressed ones: one all-reduce of their elements packed together
    const plainSize = plain.reduce((s, p) => s + p.size, 0);
    const packed = new Float32Array(plainSize);
    let at = 0;
    for (const p of plain) { packed.set(flat.subarray(p.off, p.off + p.size), at); at += p.size; }
    const plainDone = plainSize > 0 ? group.allReduce(fromBuffer(packed, 'float32', [plainSize]), 'avg') : null;
    // P = M Q for every matrix, into one buffer
    const view = (off: number, rows: number, cols: number): Tensor => fromBuffer(flat.subarray(off, off + rows * cols), 'float32', [rows, cols]);
    const pSize = mats.reduce((s, x) => s + x.n * x.r, 0), qSize = mats.reduce((s, x) => s + x.m * x.r, 0);
    const ps = new Float32Array(pSize), qs = new Float32Array(qSize);
    noGrad(() => {
      let po = 0;
      for (const x of mats) {
        let ms = bs.matrices.get(x.k);
        if (ms === undefined || ms.q === null || ms.q.length !== x.m * x.r || !warm) {
          ms = { q: randomOrthonormal(x.m, x.r, seed, warm ? 0 : iter, info.index, x.k, eps) };
          bs.matrices.set(x.k, ms);
        }
        ps.set(dense(matmul(view(x.off, x.n, x.m), fromBuffer(ms.q!, 'float32', [x.m, x.r]))), po);
        po += x.n * x.r;
      }
    });
    if (pSize > 0) await group.allReduce(fromBuffer(ps, 'float32', [pSize]), 'sum');
    noGrad(() => {
      let po = 0, qo = 0;
      for (const x of mats) {
        const p = ps.subarray(po, po + x.n * x.r);
        orthogonalize(p, x.n, x.r, eps);
        qs.set(dense(transpose(matmul(transpose(fromBuffer(p, 'float32', [x.n, x.r]), 0, 1), view(x.off, x.n, x.m)), 0, 1)), qo);  // (P^T M)^T: M read in its own layout
        po += x.n * x.r; qo += x.m * x.r;
      }
    });
    if (qSize > 0) await group.allReduce(fromBuffer(qs, 'float32', [qSize]), 'avg');
    noGrad(() => {
      let po = 0, qo = 0;
      for (const x of mats) {
        const p = fromBuffer(ps.subarray(po, po + x.n * x.r), 'float32', [x.n, x.r]);
        const q = qs.slice(qo, qo + x.m * x.r);
        bs.matrices.get(x.k)!.q = q;
        const approx = matmul(p, transpose(fromBuffer(q, 'float32', [x.m, x.r]), 0, 1));
        const m = view(x.off, x.n, x.m);
        if (bs.error !== null) sub(m, approx, { out: fromBuffer(bs.error.subarray(x.off, x.off + x.n * x.m), 'float32', [x.n, x.m]) });
        assign(m, approx);
        po += x.n * x.r; qo += x.m * x.r;
      }
    });
    if (plainDone !== null) {
      await plainDone;
      at = 0;
      for (const p of plain) {
        flat.set(packed.subarray(at, at + p.size), p.off);
        if (bs.error !== null) bs.error.fill(0, p.off, p.off + p.size);
        at += p.size;
      }
    }
    Object.assign(st, { compressedElements: pSize + qSize, uncompressedElements: plainSize, gradientElements: flat.length, matrices: mats.length });
    g.version = g.version + 1;
    return g;
  };

  const hook = (async (bucket: Tensor, group: ProcessGroup, info: CommHookBucket): Promise<Tensor> => {
    if (info.index === 0) st.iter++;
    const iter = st.iter - 1;
    // one bucket after another, so the collectives line up on every rank
    const run = chain.then(() => compress(bucket, group, info, iter));
    chain = run.catch(() => undefined);
    return run;
  }) as PowerSgdHook;
  hook.stats = () => ({ ...st });
  return hook;
}

// A tensor's elements as a dense Float32Array (the op results of this file are contiguous float32).
function dense(t: Tensor): Float32Array {
  const c = t.contiguous();
  return (c.data as Float32Array).subarray(c.offset, c.offset + c.size);
}

// Gram-Schmidt on the r columns of the row-major n x r matrix a, in place (sums in float64). A
// column that is numerically in the span of the ones before it (what is left of it after the
// projections is below 1e-5 of its norm: float32 noise) becomes zero rather than a normalized
// direction of noise, so P P^T stays a projection when M has rank below r.
function orthogonalize(a: Float32Array, n: number, r: number, eps: number): void {
  for (let j = 0; j < r; j++) {
    let sq0 = 0;
    for (let i = 0; i < n; i++) sq0 += a[i * r + j]! ** 2;
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += a[i * r + j]! * a[i * r + k]!;
      for (let i = 0; i < n; i++) a[i * r + j] = a[i * r + j]! - dot * a[i * r + k]!;
    }
    let sq = 0;
    for (let i = 0; i < n; i++) sq += a[i * r + j]! ** 2;
    const inv = sq <= 1e-10 * sq0 ? 0 : 1 / (Math.sqrt(sq) + eps);
    for (let i = 0; i < n; i++) a[i * r + j] = a[i * r + j]! * inv;
  }
}

// A random m x r matrix with orthonormal columns, the same on every rank for the same arguments
// (a 32-bit mix of them seeds a mulberry32 stream; Box-Muller normals).
function randomOrthonormal(m: number, r: number, seed: number, iter: number, bucket: number, k: number, eps: number): Float32Array {
  let s = 0x9e3779b9 ^ seed;
  for (const v of [iter, bucket, k]) s = Math.imul(s ^ v, 0x85ebca6b) ^ (s >>> 13);
  const next = (): number => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const q = new Float32Array(m * r);
  for (let i = 0; i < q.length; i++) q[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  orthogonalize(q, m, r, eps);
  return q;
}
