// Data augmentation for image classification: batch transforms a DataLoader applies to each batch
// after gathering it. Randomness comes only from the Generator the loader hands the transform, which
// the loader derives from its own state (the pass's start state, the epoch and the batch index), so a
// resumed run sees exactly the augmented batches an uninterrupted run would have seen.
// It must not: draw from the default generator, or change the batch it is given (it returns a copy).

import { fmtShape } from '../backend/shape.js';
import { ShapeError, TensorslimError } from '../core/errors.js';
import type { Generator } from '../core/random.js';
import { Tensor } from '../core/tensor.js';

/** What a DataLoader tells a batch transform about the batch it is transforming. */
export interface BatchTransformContext {
  /** The only source of randomness a transform may use; derived from (loader state, epoch, batch index). */
  readonly generator: Generator;
  /** 0-based epoch (pass) the batch belongs to. */
  readonly epoch: number;
  /** 0-based index of the batch within its epoch. */
  readonly index: number;
}

/** A function from a batch to a batch, applied by the DataLoader (see DataLoaderOptions.transform). */
export type BatchTransform<B> = (batch: B, ctx: BatchTransformContext) => B;

/** Options of randomShift. */
export interface RandomShiftOptions {
  /** Largest shift in pixels along each axis; shifts are uniform integers in [-maxShift, maxShift]. */
  maxShift: number;
  /**
   * Geometry of one image: [H, W] or [C, H, W]. Needed for flattened (B, C*H*W) batches unless the
   * images are square with one channel (784 -> 28x28); taken from (B, C, H, W) batches otherwise.
   * Pass a dataset's `info.inputShape` ([1, H, W], or [H*W] for square images loaded flat) directly.
   */
  imageShape?: readonly number[];
}

/**
 * Shift each image of a batch by whole pixels, filling the uncovered border with zeros:
 * out[b, c, i, j] = x[b, c, i - dy[b], j - dx[b]] (0 outside the image). `x` is (B, C, H, W),
 * (B, H, W) or flattened (B, C*H*W) with `geometry` given. Returns a new float tensor; `x` is unchanged.
 *
 * @example
 * const y = shiftImages(x, Int32Array.of(1), Int32Array.of(-2), [28, 28]); // image 0: 1 right, 2 up
 */
export function shiftImages(x: Tensor, dx: ArrayLike<number>, dy: ArrayLike<number>, geometry?: readonly number[]): Tensor {
  const op = 'shiftImages';
  const [c, h, w] = resolveGeometry(op, x, geometry);
  const b = x.shape[0]!;
  if (dx.length !== b || dy.length !== b) {
    throw new ShapeError(op, `expected one shift per image (${b}), got ${dx.length} horizontal and ${dy.length} vertical shifts`);
  }
  const src = x.dataSync();
  const out = new (src.constructor as Float32ArrayConstructor)(src.length);
  const plane = h * w;
  for (let n = 0; n < b; n++) {
    const sx = dx[n]!, sy = dy[n]!;
    if (!Number.isInteger(sx) || !Number.isInteger(sy)) throw new TensorslimError(op, `shifts must be integers, got (${sx}, ${sy}) for image ${n}`);
    // destination rows i with 0 <= i - sy < h, columns j with 0 <= j - sx < w
    const i0 = Math.max(0, sy), i1 = Math.min(h, h + sy);
    const j0 = Math.max(0, sx), j1 = Math.min(w, w + sx);
    if (i0 >= i1 || j0 >= j1) continue; // shifted out entirely: all zeros
    for (let ch = 0; ch < c; ch++) {
      const base = (n * c + ch) * plane;
      for (let i = i0; i < i1; i++) {
        const d = base + i * w, s = base + (i - sy) * w - sx;
        for (let j = j0; j < j1; j++) out[d + j] = src[s + j]!;
      }
    }
  }
  return new Tensor(out, x.dtype, x.shape);
}

/**
 * A batch transform that shifts every image by a random whole number of pixels in
 * [-maxShift, maxShift] along each axis (independently per image), zero fill: the same distribution
 * as torchvision's RandomCrop(size, padding=maxShift) on zero-padded images. The batch is an array
 * whose first element is the images ((B, C, H, W), (B, H, W) or flattened (B, C*H*W)); the other
 * elements (labels) are passed through. Use it as a DataLoader `transform`.
 *
 * @example
 * const loader = new DataLoader(data.train, { batchSize: 64, shuffle: true, seed: 0,
 *   transform: randomShift({ maxShift: 2, imageShape: data.info.inputShape }) });
 */
export function randomShift(o: RandomShiftOptions): BatchTransform<Tensor[]> {
  const op = 'randomShift';
  const k = o.maxShift;
  if (!Number.isInteger(k) || k < 0) throw new TensorslimError(op, `maxShift must be a non-negative integer (pixels), got ${String(k)}`);
  const geometry = o.imageShape === undefined ? undefined : checkGeometry(op, o.imageShape);
  return (batch, ctx) => {
    if (!Array.isArray(batch) || !(batch[0] instanceof Tensor)) {
      throw new TensorslimError(op, 'expected a batch [images, ...rest] whose first element is a tensor of images');
    }
    const x = batch[0];
    const b = x.shape[0] ?? 0;
    if (k === 0) return batch;
    const { dx, dy } = drawShifts(ctx.generator, b, k);
    return [shiftImages(x, dx, dy, geometry), ...batch.slice(1)];
  };
}

/**
 * The random shifts randomShift applies to a batch of `count` images: for each image in turn, a
 * horizontal then a vertical integer in [-maxShift, maxShift], drawn from `g`. Exposed so that code
 * which must know the shifts (e.g. looking up a teacher's logits precomputed per shift) draws exactly
 * what randomShift would.
 *
 * @example
 * const { dx, dy } = drawShifts(ctx.generator, 128, 2);
 */
export function drawShifts(g: Generator, count: number, maxShift: number): { dx: Int32Array; dy: Int32Array } {
  const dx = new Int32Array(count), dy = new Int32Array(count);
  for (let n = 0; n < count; n++) { dx[n] = g.randint(-maxShift, maxShift + 1); dy[n] = g.randint(-maxShift, maxShift + 1); }
  return { dx, dy };
}

/** The names `parseAugment` accepts: 'none', 'shift' (= shift:2) and 'shift:N'. */
export const AUGMENTATIONS = ['none', 'shift', 'shift:N'] as const;

/** A parsed augmentation spec. */
export type AugmentSpec = { readonly kind: 'none' } | { readonly kind: 'shift'; readonly maxShift: number };

/**
 * Parse an augmentation spec: 'none', 'shift' (random shifts of up to 2 pixels) or 'shift:N'
 * (up to N pixels, 0 <= N <= 8). Throws a message naming the accepted forms otherwise.
 *
 * @example
 * parseAugment('shift:3'); // { kind: 'shift', maxShift: 3 }
 */
export function parseAugment(spec: string): AugmentSpec {
  const s = spec.trim().toLowerCase();
  if (s === 'none' || s === '') return { kind: 'none' };
  if (s === 'shift') return { kind: 'shift', maxShift: 2 };
  const m = /^shift:(\d+)$/.exec(s);
  if (m) {
    const n = Number(m[1]);
    if (n <= 8) return n === 0 ? { kind: 'none' } : { kind: 'shift', maxShift: n };
  }
  throw new TensorslimError('augment', `unknown augmentation '${spec}'; use none, shift (up to 2 pixels) or shift:N with N an integer in 0..8`);
}

/**
 * The batch transform for an augmentation spec and an image geometry, or null for 'none'.
 *
 * @example
 * const t = augmentTransform('shift:2', data.info.inputShape);
 */
export function augmentTransform(spec: string | AugmentSpec, imageShape?: readonly number[]): BatchTransform<Tensor[]> | null {
  const a = typeof spec === 'string' ? parseAugment(spec) : spec;
  if (a.kind === 'none') return null;
  return randomShift({ maxShift: a.maxShift, ...(imageShape !== undefined ? { imageShape } : {}) });
}

function checkGeometry(op: string, g: readonly number[]): [number, number, number] {
  if (g.length === 1 && Number.isInteger(g[0]) && g[0]! > 0) {
    // a flat dataset's inputShape [H*W]: square single-channel images
    const side = Math.round(Math.sqrt(g[0]!));
    if (side * side === g[0]) return [1, side, side];
  }
  const ok = (g.length === 2 || g.length === 3) && g.every((d) => Number.isInteger(d) && d > 0);
  if (!ok) {
    const hint = g.length === 1 ? `; a flat shape of ${g[0]} values is not a square image: give [H, W] or [C, H, W]` : '';
    throw new ShapeError(op, `imageShape must be [H, W] or [C, H, W] with positive integers, got ${fmtShape(g)}${hint}`);
  }
  return g.length === 2 ? [1, g[0]!, g[1]!] : [g[0]!, g[1]!, g[2]!];
}

function resolveGeometry(op: string, x: Tensor, geometry: readonly number[] | undefined): [number, number, number] {
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TensorslimError(op, `expected float images, got ${x.dtype}`);
  const per = x.shape.slice(1).reduce((a, d) => a * d, 1);
  if (x.ndim < 2) throw new ShapeError(op, `expected a batch of images (B, C, H, W), (B, H, W) or (B, C*H*W), got ${fmtShape(x.shape)}`);
  let g: [number, number, number];
  if (geometry !== undefined) g = checkGeometry(op, geometry);
  else if (x.ndim === 4) g = [x.shape[1]!, x.shape[2]!, x.shape[3]!];
  else if (x.ndim === 3) g = [1, x.shape[1]!, x.shape[2]!];
  else {
    const side = Math.round(Math.sqrt(per));
    if (side * side !== per) throw new ShapeError(op, `flattened images of ${per} values are not square; give imageShape [H, W] or [C, H, W]`);
    g = [1, side, side];
  }
  if (g[0] * g[1] * g[2] !== per) {
    throw new ShapeError(op, `images of shape ${fmtShape(x.shape)} do not match imageShape ${fmtShape(g)} (${g[0] * g[1] * g[2]} values per image, got ${per})`);
  }
  return g;
}

/**
 * A Gamma(shape, 1) draw from `g` (Marsaglia and Tsang 2000; for shape < 1, Gamma(shape + 1) * U^(1/shape)).
 * Uses only `g`, so a transform stays reproducible from its context's generator.
 *
 * @example
 * const x = sampleGamma(new Generator(0), 2);  // mean 2, variance 2
 */
export function sampleGamma(g: Generator, shape: number): number {
  if (!(shape > 0) || !Number.isFinite(shape)) throw new TensorslimError('sampleGamma', `shape must be a finite number > 0, got ${String(shape)}`);
  if (shape < 1) {
    let u = 0;
    while (u === 0) u = g.uniform();
    return sampleGamma(g, shape + 1) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do { x = g.normal(); v = 1 + c * x; } while (v <= 0);
    v = v * v * v;
    const u = g.uniform();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/**
 * A Beta(a, b) draw from `g`: X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b).
 *
 * @example
 * const lam = sampleBeta(new Generator(0), 0.2, 0.2);  // mixup's mixing weight, mostly near 0 or 1
 */
export function sampleBeta(g: Generator, a: number, b: number): number {
  const x = sampleGamma(g, a), y = sampleGamma(g, b);
  return x + y > 0 ? x / (x + y) : (g.uniform() < a / (a + b) ? 1 : 0);
}

/** Options of mixup. */
export interface MixupOptions {
  /** Beta(alpha, alpha) concentration of the mixing weights, > 0 (Zhang et al. use 0.1-0.4 on images). */
  alpha: number;
  /** Number of classes: integer labels become one-hot rows of this width before mixing. */
  numClasses: number;
}

/**
 * Mixup (Zhang et al. 2018) as a batch transform, one mixing weight per sample: image i becomes
 * lam_i * x[i] + (1 - lam_i) * x[p[i]] and its label lam_i * onehot(y[i]) + (1 - lam_i) * onehot(y[p[i]]),
 * with lam_i ~ Beta(alpha, alpha) and p a random permutation of the batch, both drawn from the
 * context's generator (so a run, its resume and another model fed by a loader with the same seed
 * see the same mixed batches). The batch must be [images, labels]: labels int32 class indices (B,)
 * or float class probabilities (B, numClasses); the result's labels are float32 (B, numClasses)
 * probabilities (cross-entropy accepts them). A batch with more tensors (e.g. precomputed teacher
 * logits, which belong to the unmixed images) is refused. Returns new tensors; the batch is unchanged.
 *
 * @example
 * const loader = new DataLoader(data.train, { batchSize: 128, shuffle: true, seed: 0,
 *   transform: composeTransforms(randomShift({ maxShift: 1 }), mixup({ alpha: 0.2, numClasses: 10 })) });
 */
export function mixup(o: MixupOptions): BatchTransform<Tensor[]> {
  const op = 'mixup';
  const a = o?.alpha;
  if (typeof a !== 'number' || !Number.isFinite(a) || a <= 0) throw new TensorslimError(op, `alpha must be a finite number > 0 (the Beta(alpha, alpha) concentration; 0.2 is usual), got ${String(a)}`);
  const k = o.numClasses;
  if (!Number.isInteger(k) || k < 2) throw new TensorslimError(op, `numClasses must be an integer >= 2, got ${String(k)}`);
  return (batch, ctx) => {
    if (!Array.isArray(batch) || batch.length !== 2 || !(batch[0] instanceof Tensor) || !(batch[1] instanceof Tensor)) {
      const n = Array.isArray(batch) ? batch.length : 0;
      throw new TensorslimError(op, `expected a batch [images, labels] of two tensors, got ${Array.isArray(batch) ? `${n} element${n === 1 ? '' : 's'}` : typeof batch}; mixup cannot keep extra tensors (e.g. precomputed teacher logits) consistent with the mixed images`);
    }
    const [x, y] = batch as [Tensor, Tensor];
    if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TensorslimError(op, `expected float images, got ${x.dtype}`);
    const b = x.shape[0] ?? 0;
    if (x.ndim < 2 || b === 0) throw new ShapeError(op, `expected a non-empty batch of images (B, ...), got ${fmtShape(x.shape)}`);
    const soft = y.dtype === 'float32' || y.dtype === 'float64';
    if (soft ? !(y.ndim === 2 && y.shape[0] === b && y.shape[1] === k) : !(y.ndim === 1 && y.shape[0] === b)) {
      throw new ShapeError(op, `labels ${fmtShape(y.shape)} (${y.dtype}) do not fit images ${fmtShape(x.shape)}: expected class indices (${b}) or probabilities (${b}, ${k})`);
    }
    const yd = y.dataSync();
    if (!soft) {
      for (let n = 0; n < b; n++) {
        const c = yd[n]!;
        if (!Number.isInteger(c) || c < 0 || c >= k) throw new TensorslimError(op, `label ${c} of sample ${n} is not a class index in [0, ${k})`);
      }
    }
    const g = ctx.generator;
    // a random permutation (Fisher-Yates) and one weight per sample
    const perm = new Int32Array(b);
    for (let i = 0; i < b; i++) perm[i] = i;
    for (let i = b - 1; i > 0; i--) { const j = g.randint(0, i + 1); const t = perm[i]!; perm[i] = perm[j]!; perm[j] = t; }
    const lam = new Float64Array(b);
    for (let i = 0; i < b; i++) lam[i] = sampleBeta(g, a, a);
    const per = x.size / b;
    const src = x.dataSync();
    const out = new (src.constructor as Float32ArrayConstructor)(src.length);
    const labels = new Float32Array(b * k);
    for (let i = 0; i < b; i++) {
      const l = lam[i]!, m = 1 - l, j = perm[i]!;
      const oi = i * per, oj = j * per;
      for (let e = 0; e < per; e++) out[oi + e] = l * src[oi + e]! + m * src[oj + e]!;
      if (soft) for (let c = 0; c < k; c++) labels[i * k + c] = l * yd[i * k + c]! + m * yd[j * k + c]!;
      else { labels[i * k + yd[i]!] += l; labels[i * k + yd[j]!] += m; }
    }
    return [new Tensor(out, x.dtype, x.shape), new Tensor(labels, 'float32', [b, k])];
  };
}

/**
 * Apply batch transforms in order, each with the same context (so they draw from one generator,
 * one after the other); null entries are skipped. Returns null when there is nothing to apply.
 *
 * @example
 * const t = composeTransforms(augmentTransform('shift:1', [784]), mixup({ alpha: 0.2, numClasses: 10 }));
 */
export function composeTransforms<B>(...transforms: readonly (BatchTransform<B> | null | undefined)[]): BatchTransform<B> | null {
  const ts = transforms.filter((t): t is BatchTransform<B> => t !== null && t !== undefined);
  if (ts.some((t) => typeof t !== 'function')) throw new TensorslimError('composeTransforms', 'every transform must be a function (batch, ctx) => batch');
  if (ts.length === 0) return null;
  if (ts.length === 1) return ts[0]!;
  return (batch, ctx) => ts.reduce((b, t) => t(b, ctx), batch);
}
