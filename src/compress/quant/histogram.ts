// Histogram-based observers. HistogramObserver is torch.ao.quantization.HistogramObserver: a
// histogram of everything observed (re-binned onto a wider grid when a batch exceeds the range),
// and calculateQparams searches the [min, max] that minimizes the L2 error of quantizing that
// histogram (caffe2's NonlinearQuantizationParamsSearch, as torch implements it), every step in
// float32 like torch's tensors. One deliberate difference from torch 1.13: its forward passes
// int(min) and int(max) to torch.histc, truncating the histogram's range (values beyond the
// truncated bounds are dropped, and a range inside (-1, 1) collapses); later torch releases pass the
// float bounds, and so do we. The fixture generator checks us against torch with that fix applied.
// EntropyObserver reuses the histogram and picks the clipping range by KL divergence (TensorRT's
// entropy calibration), which torch does not ship.

import { Tensor } from '../../core/tensor.js';
import { TensorslimError } from '../../core/errors.js';
import { roundHalfEven } from '../../backend/quantized.js';
import { ObserverBase, type ObserverOptions, type QParams } from './observer.js';

const f = Math.fround;
/** Floor for Q's probabilities in the KL divergence (MXNet's smoothing uses 1e-4 likewise). */
const SMOOTH = 1e-4;

/** torch.histc(x, bins, lo, hi) on float32 values: bin = floor((x - lo) * bins / (hi - lo)). */
export function histc(values: Float32Array, bins: number, lo: number, hi: number): Float32Array {
  let L = f(lo), H = f(hi);
  if (L === H && values.length > 0) {
    L = Infinity; H = -Infinity;
    for (const v of values) { if (v < L) L = v; if (v > H) H = v; }
  }
  if (L === H) { L = f(L - 1); H = f(H + 1); }
  const out = new Float32Array(bins);
  const width = f(H - L);
  for (const v of values) {
    if (!(v >= L && v <= H)) continue;
    let pos = Math.floor(f(f(f(v - L) * bins) / width));
    if (pos === bins) pos = bins - 1;
    out[pos]! += 1;
  }
  return out;
}

/** Python's float floor division a // b, in float32 steps (torch.div(..., rounding_mode='floor')). */
function floorDiv(a: number, b: number): number {
  const mod = a % b; // C fmod: exact
  let div = f(f(a - mod) / b);
  if (mod !== 0 && (b < 0) !== (mod < 0)) div = f(div - 1);
  if (div === 0) return 0;
  let fl = Math.floor(div);
  if (div - fl > 0.5) fl += 1;
  return fl;
}

/** density * (end^3 - begin^3) / 3 in float32 (torch's _get_norm). */
function l2(db: number, de: number, density: number): number {
  const e3 = f(f(de * de) * de), b3 = f(f(db * db) * db);
  return f(density * f(f(e3 - b3) / 3));
}

function finite(op: string, x: Tensor): Float32Array {
  if (!(x instanceof Tensor)) throw new TensorslimError(op, 'expected a Tensor');
  const v = Float32Array.from(x.dataSync());
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) throw new TensorslimError(op, `input holds ${v[i]} at flat index ${i}; quantization needs finite values`);
  }
  return v;
}

/**
 * torch's HistogramObserver: per-tensor, default 2048 bins, quint8 affine; calculateQparams runs
 * the L2-error range search, so outliers do not stretch the scale.
 * @example
 * const obs = new HistogramObserver();
 * for (const x of batches) obs.call(x);
 * const { scales, zeroPoints } = obs.calculateQparams();
 */
export class HistogramObserver extends ObserverBase {
  readonly bins: number;
  readonly upsampleRate: number;
  declare histogram: Tensor;
  declare min_val: Tensor;
  declare max_val: Tensor;

  constructor(opts: ObserverOptions & { bins?: number; upsampleRate?: number } = {}) {
    super(opts, { qscheme: 'perTensorAffine' });
    const op = this.constructor.name;
    if (!this.qscheme.startsWith('perTensor')) throw new TensorslimError(op, `only per-tensor schemes are supported, got ${this.qscheme}`);
    this.bins = opts.bins ?? 2048;
    this.upsampleRate = opts.upsampleRate ?? 128;
    if (!Number.isInteger(this.bins) || this.bins < 1) throw new TensorslimError(op, `bins must be a positive integer, got ${this.bins}`);
    this.registerBuffer('histogram', new Tensor(new Float32Array(this.bins), 'float32', [this.bins]));
    this.registerBuffer('min_val', new Tensor(Float32Array.of(Infinity), 'float32', []));
    this.registerBuffer('max_val', new Tensor(Float32Array.of(-Infinity), 'float32', []));
  }

  /** 256 destination bins for 8-bit types (torch: 2 ** bits). */
  protected get dstBins(): number { return 256; }

  get calibrated(): boolean { return this.min_val.item() <= this.max_val.item(); }

  #set(hist: Float32Array, lo: number, hi: number): void {
    this.histogram = new Tensor(hist, 'float32', [this.bins]);
    this.min_val = new Tensor(Float32Array.of(lo), 'float32', []);
    this.max_val = new Tensor(Float32Array.of(hi), 'float32', []);
  }

  forward(x: Tensor): Tensor {
    if (x.size === 0) return x;
    const v = finite(`${this.constructor.name}.forward`, x);
    let lo = Infinity, hi = -Infinity;
    for (const e of v) { if (e < lo) lo = e; if (e > hi) hi = e; }
    const minVal = this.min_val.item(), maxVal = this.max_val.item();
    if (!this.calibrated || minVal === maxVal) {
      this.#set(histc(v, this.bins, lo, hi), lo, hi);
      return x;
    }
    let cMin = Math.min(lo, minVal), cMax = Math.max(hi, maxVal);
    // _adjust_min_max: a common grid whose bins are an integer number of the old histogram's
    // upsampled bins; only the max is relaxed, so one-sided ranges keep min at zero.
    const B = this.bins, U = this.upsampleRate;
    const histBinWidth = f(f(maxVal - minVal) / (B * U));
    const downsample = Math.ceil(f(f(cMax - cMin) / f(B * histBinWidth)));
    const e = f(f(downsample * f(B * histBinWidth)) - f(cMax - cMin));
    cMax = f(cMax + e);
    const startIdx = roundHalfEven(f(f(minVal - cMin) / histBinWidth));
    const combined = histc(v, B, cMin, cMax);
    const old = this.histogram.dataSync() as Float32Array;
    if (cMin === minVal && cMax === maxVal) {
      for (let i = 0; i < B; i++) combined[i] = f(combined[i]! + old[i]!);
    } else {
      // _combine_histograms: upsample the old histogram by U (spreading each bin evenly), place it at
      // startIdx on a grid of B * downsample fine bins, integrate (float64) and read every
      // downsample-th value, difference, and divide by U.
      const fine = new Float32Array(B * downsample);
      for (let i = 0; i < B * U && startIdx + i < fine.length; i++) fine[startIdx + i] = old[Math.floor(i / U)]!;
      let acc = 0;
      const integral = new Float64Array(B);
      for (let i = 0; i < fine.length; i++) {
        acc += fine[i]!;
        if ((i + 1) % downsample === 0) integral[(i + 1) / downsample - 1] = acc;
      }
      for (let i = 0; i < B; i++) {
        const shifted = i === 0 ? 0 : f(integral[i - 1]!);
        combined[i] = f(combined[i]! + f((integral[i]! - shifted) / U));
      }
    }
    this.#set(combined, cMin, cMax);
    return x;
  }

  /** L2 error of quantizing the histogram with the range [startBin, endBin] (torch's _compute_quantization_error). */
  protected quantizationError(startBin: number, endBin: number): number {
    const B = this.bins, D = this.dstBins;
    const bw = (this.max_val.item() - this.min_val.item()) / B;
    const dbw = bw * (endBin - startBin + 1) / D;
    if (dbw === 0) return 0;
    const bw32 = f(bw), dbw32 = f(dbw), half = f(dbw / 2), negHalf = f(-dbw / 2);
    const hist = this.histogram.dataSync();
    const middle = l2(negHalf, half, 1); // per unit density
    let total = 0;
    for (let i = 0; i < B; i++) {
      const begin = f((i - startBin) * bw32);
      const end = f(begin + bw32);
      const dBegin = Math.min(Math.max(floorDiv(begin, dbw32), 0), D - 1);
      const dEnd = Math.min(Math.max(floorDiv(end, dbw32), 0), D - 1);
      const density = f(hist[i]! / bw32);
      const beginCenter = f(f(dBegin + 0.5) * dbw32);
      let norm = l2(f(begin - beginCenter), half, density);
      norm = f(norm + f((dEnd - dBegin - 1) * f(density * f(middle / 1))));
      const endCenter = f(f(dEnd * dbw32) + half);
      norm = f(norm + l2(negHalf, f(end - endCenter), density));
      total += norm;
    }
    return total;
  }

  /** torch's _non_linear_param_search: shrink [min, max] from the side holding less mass while the L2 error falls. */
  protected searchRange(): [number, number] {
    const B = this.bins;
    const hist = this.histogram.dataSync();
    const minVal = this.min_val.item(), maxVal = this.max_val.item();
    const binWidth = f(f(maxVal - minVal) / B);
    let total = 0;
    const cSum = new Float32Array(B);
    for (let i = 0; i < B; i++) { total += hist[i]!; cSum[i] = total; }
    total = f(total);
    const step = 1e-5;
    let alpha = 0, beta = 1, startBin = 0, endBin = B - 1, normMin = Infinity;
    while (alpha < beta) {
      const nextAlpha = alpha + step, nextBeta = beta - step;
      let l = startBin, r = endBin;
      const lo = f(nextAlpha * total), hi = f(nextBeta * total);
      while (l < endBin && cSum[l]! < lo) l++;
      while (r > startBin && cSum[r]! > hi) r--;
      let nextStart = startBin, nextEnd = endBin;
      if (l - startBin > endBin - r) { nextStart = l; alpha = nextAlpha; } else { nextEnd = r; beta = nextBeta; }
      if (nextStart === startBin && nextEnd === endBin) continue;
      const norm = this.quantizationError(nextStart, nextEnd);
      if (norm > normMin) break;
      normMin = norm; startBin = nextStart; endBin = nextEnd;
    }
    return [f(minVal + f(binWidth * startBin)), f(minVal + f(binWidth * (endBin + 1)))];
  }

  calculateQparams(): QParams {
    if (!this.calibrated) this.uncalibrated();
    const [lo, hi] = this.searchRange();
    return this.qparamsFor(Float32Array.of(lo), Float32Array.of(hi), null);
  }
}

/**
 * Entropy calibration (TensorRT's KL method) on HistogramObserver's histogram: among clipping
 * ranges that shrink the observed [min, max] towards 0 (the max side, then the min side, 100
 * candidates each, never below one histogram bin per quantization level), pick the one whose
 * quantized histogram Q is closest to the clipped reference P in KL(P || Q);
 * values beyond the range are folded into the edge bins of P, so clipping is paid for.
 * @example
 * const obs = new EntropyObserver();
 * obs.call(x); obs.calculateQparams();
 */
export class EntropyObserver extends HistogramObserver {
  /** KL(P || Q) for the bins [s, e] (inclusive) of the histogram; lower is better. */
  klDivergence(s: number, e: number): number {
    const hist = this.histogram.dataSync();
    const n = e - s + 1;
    const levels = this.quantMax - this.quantMin + 1;
    const p = new Float64Array(n);
    for (let i = 0; i < n; i++) p[i] = hist[s + i]!;
    for (let i = 0; i < s; i++) p[0]! += hist[i]!;
    for (let i = e + 1; i < hist.length; i++) p[n - 1]! += hist[i]!;
    // Q: merge the n unclipped bins into `levels` groups and spread each group's mass evenly over
    // the bins that are non-empty in P (as TensorRT / MXNet do); clipped mass is not in Q, which is
    // what makes clipping cost something.
    const q = new Float64Array(n);
    for (let g = 0; g < levels; g++) {
      const a = Math.floor((g * n) / levels), b = Math.floor(((g + 1) * n) / levels);
      let mass = 0, nonEmpty = 0;
      for (let i = a; i < b; i++) { mass += hist[s + i]!; if (p[i]! > 0) nonEmpty++; }
      for (let i = a; i < b; i++) q[i] = p[i]! > 0 ? mass / nonEmpty : 0;
    }
    let sp = 0, sq = 0;
    for (let i = 0; i < n; i++) { sp += p[i]!; sq += q[i]!; }
    if (sp === 0 || sq === 0) return sp === 0 ? 0 : Infinity;
    let kl = 0;
    for (let i = 0; i < n; i++) {
      if (p[i]! === 0) continue;
      const pi = p[i]! / sp, qi = Math.max(q[i]! / sq, SMOOTH); // smoothing: a bin Q left empty costs a lot, not infinity
      kl += pi * Math.log(pi / qi);
    }
    return kl;
  }

  override calculateQparams(): QParams {
    if (!this.calibrated) this.uncalibrated();
    const B = this.bins;
    const minVal = this.min_val.item(), maxVal = this.max_val.item();
    const bw = (maxVal - minVal) / B;
    const levels = this.quantMax - this.quantMin + 1;
    // the bin holding 0: clipping shrinks the range towards it, one side at a time (the max side
    // first, then the min side with the chosen max), 100 candidates per side
    const zeroBin = bw === 0 ? 0 : Math.min(Math.max(Math.floor((0 - minVal) / bw), 0), B - 1);
    const minBins = Math.min(levels, B);
    let best: [number, number] = [0, B - 1];
    let bestKl = this.klDivergence(0, B - 1);
    const steps = 100;
    for (let k = 1; k < steps; k++) {
      const e = Math.round(B - 1 - ((B - 1 - zeroBin) * k) / steps);
      if (e - best[0] + 1 < minBins || e <= zeroBin) break;
      const kl = this.klDivergence(best[0], e);
      if (kl < bestKl) { bestKl = kl; best = [best[0], e]; }
    }
    const end = best[1];
    for (let k = 1; k < steps; k++) {
      const st = Math.round((zeroBin * k) / steps);
      if (end - st + 1 < minBins || st >= zeroBin) break;
      const kl = this.klDivergence(st, end);
      if (kl < bestKl) { bestKl = kl; best = [st, end]; }
    }
    const lo = f(minVal + f(f(bw) * best[0])), hi = f(minVal + f(f(bw) * (best[1] + 1)));
    return this.qparamsFor(Float32Array.of(lo), Float32Array.of(hi), null);
  }
}
