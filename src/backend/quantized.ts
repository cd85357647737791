// The kernel contract for int8 compute: a GEMM over 8-bit integers with int32 accumulation, as the
// quantized Linear layers (dynamic, static, QAT-converted) need it. Kernels do math only: they see
// typed arrays and sizes, never a Tensor, an observer or a module. A backend may provide these
// kernels; the reference backend always does (backends/reference/quantized.ts), and that pure
// TypeScript twin is the oracle every fast int8 kernel (AVX2 vpmaddubsw, AVX-512 VNNI) is fuzzed
// against.

import type { Conv2dGeometry } from './shape.js';

/** Integer storage of an 8-bit quantized operand: int8 (qint8) or uint8 (quint8). */
export type Int8Storage = Int8Array | Uint8Array;

/**
 * Quantized activations x: a contiguous row-major (M, K) matrix of int8 or uint8 with one
 * per-tensor scale and zero point: real value = (x - zeroPoint) * scale.
 */
export interface QuantizedActivation {
  readonly data: Int8Storage;
  readonly rows: number;
  readonly cols: number;
  readonly scale: number;
  readonly zeroPoint: number;
}

/**
 * Quantized weights w: a contiguous row-major (N, K) int8 matrix (one row per output channel, as
 * Linear stores its weight) with per-channel scales and zero points, each of length N (a
 * per-tensor weight repeats its one scale N times): real w[n, k] = (w[n, k] - zeroPoint[n]) * scale[n].
 */
export interface QuantizedWeight {
  readonly data: Int8Array;
  readonly rows: number;
  readonly cols: number;
  readonly scales: Float32Array;
  readonly zeroPoints: Int32Array;
}

/** Dynamic quantization: the int32 accumulator is scaled back to float32 and the bias added. */
export interface FloatOutput {
  readonly kind: 'float32';
}

/**
 * Static quantization: the result is requantized to 8 bits with the output's scale and zero
 * point (`dtype` names the storage), optionally through a fused ReLU.
 */
export interface RequantizedOutput {
  readonly kind: 'requantize';
  readonly dtype: 'int8' | 'uint8';
  readonly scale: number;
  readonly zeroPoint: number;
  readonly relu: boolean;
}

export type Int8LinearOutput = FloatOutput | RequantizedOutput;

/** The geometry of a quantized convolution or max pool: the same fields as a float one (shape.ts). */
export type Int8ConvGeometry = Conv2dGeometry;

/** What QuantizedKernels.quantizeDynamic returns: the activation's qparams, or where it is not finite. */
export interface DynamicQparams {
  readonly scale: number;
  readonly zeroPoint: number;
  /** Index of the first NaN or infinity in x, -1 when there is none. */
  readonly nonFinite: number;
}

/**
 * Optional int8 kernels of a backend. The math (every implementation must give these bits):
 *
 *   acc[m, n] = sum_k (x[m, k] - xZeroPoint) * (w[n, k] - wZeroPoint[n])          int32, wrapping
 *   real      = fround(fround(acc * fround(xScale * wScale[n])) + bias[n])          float32 steps
 *   float32 output:     y[m, n] = real
 *   requantized output: q = roundHalfEven(fround(real * fround(1 / outScale))) + outZeroPoint,
 *                       clamped to [lo, hi] of the dtype, lo raised to outZeroPoint under ReLU.
 *
 * The accumulator is exact for K <= 33025 (|(x - zx)(w - zw)| <= 255 * 255 and 2^31 / 65025 > 33025);
 * beyond that it wraps as a hardware int32 register would. The requantization rounds half to even
 * on x * (1 / scale) in float32, the rule torch.quantize_per_tensor uses.
 */
export interface QuantizedKernels {
  /** The int8 code path in use: 'vnni', 'avx512', 'avxvnni', 'avx2', 'generic' (native) or 'typescript' (reference). */
  readonly int8Path?: string;
  /**
   * y = x (M, K) @ w^T (w: (N, K)) + bias (N,) in int8 arithmetic; `bias` is float32 or null.
   * Returns (M, N) contiguous: Float32Array for a float32 output, Int8Array / Uint8Array for a
   * requantized one. A backend may cache a packed copy of `w.data` (the native one does, keyed by
   * the array), so a weight array must not change after its first use (quantized weights never do).
   */
  int8Linear?(x: QuantizedActivation, w: QuantizedWeight, bias: Float32Array | null, out: Int8LinearOutput): Float32Array | Int8Storage;
  /**
   * A quantized Conv2d (groups 1) of x (N, C, H, W) with w (O, C kh kw as rows of K = C kh kw): the
   * integer im2col of x (row (n, oy, ox), column (c, i, j); positions outside the image read
   * x.zeroPoint, which is what quantizing a zero-padded float image gives) times w^T as int8Linear
   * computes it, returned in NCHW order (N, O, OH, OW). `x.rows` is N and `x.cols` C H W; `g` gives
   * the geometry. Same caching rule for w.data as int8Linear.
   */
  int8Conv2d?(x: QuantizedActivation, w: QuantizedWeight, bias: Float32Array | null, g: Int8ConvGeometry, out: Int8LinearOutput): Float32Array | Int8Storage;
  /**
   * Quantize float32 values with one scale and zero point over the whole range of `dtype`: out[i] =
   * quantizeValue(x[i], fround(1 / fround(scale)), zeroPoint, lo, hi), the bits of
   * torch.quantize_per_tensor. Optional: compress/quant/qtensor.ts computes the same in TypeScript.
   * `out` (x's length, the array type of `dtype`) receives the codes instead of a new array.
   */
  quantizePerTensor?(x: Float32Array, scale: number, zeroPoint: number, dtype: 'int8' | 'uint8', out?: Int8Storage): Int8Storage;
  /**
   * The range of x for dynamic activation quantization: min and max, and the index of the first NaN
   * or infinity (-1 when none; min and max are then meaningless). Empty x gives 0, 0, -1.
   */
  floatRange?(x: Float32Array): { min: number; max: number; nonFinite: number };
  /**
   * A dynamic layer's activation quantization in one call, into the caller's `out` (uint8, x's
   * length; the layers reuse one): the range of x, { scale, zeroPoint } = chooseDynamicQparams(min,
   * max, 0, qmax), and out[i] = quantizeValue(x[i], fround(1 / scale), zeroPoint, 0, 255). nonFinite
   * is the index of the first NaN or infinity (-1 when none; out and the qparams are then
   * unspecified). quantizeDynamicValues below is the TypeScript twin (the reference backend's member).
   */
  quantizeDynamic?(x: Float32Array, qmax: number, out: Uint8Array): DynamicQparams;
  /**
   * Max pooling of uint8 codes x (N, C, H, W; `g` as for int8Conv2d with the window as the kernel) into
   * (N, C, OH, OW): the maximum over each window's positions inside the image (0 when a window has
   * none). Pooling the codes of a per-tensor quantized tensor pools its values (quantization is
   * monotone). The reference backend's TypeScript loop is the twin.
   */
  int8MaxPool2d?(x: Uint8Array, g: Int8ConvGeometry): Uint8Array;
}

/**
 * Round to the nearest integer, halves to the even neighbour (C's nearbyint in the default
 * rounding mode, which PyTorch's quantizers use). NaN stays NaN.
 * @example roundHalfEven(2.5) // 2; roundHalfEven(-3.5) // -4; roundHalfEven(1.5) // 2
 */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves go up (towards +inf)
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const TWO_POW_63 = 9223372036854775808;

/**
 * Quantize one float32 value as PyTorch's quantize_val does on x86: q = nearbyint(x * invScale)
 * in float32 (invScale = fround(1 / scale), the caller computes it once) + zeroPoint, clamped to
 * [qmin, qmax]. A product that is not finite or lies outside int64 converts to int64's minimum
 * in torch (x86 cvt "integer indefinite"), so NaN and +-Infinity land on qmin, as there.
 * @example quantizeValue(0.25, Math.fround(1 / 0.1), 0, -128, 127) // 2 (2.5 rounds to even)
 */
export function quantizeValue(x: number, invScale: number, zeroPoint: number, qmin: number, qmax: number): number {
  const r = roundHalfEven(Math.fround(x * invScale));
  if (!(Math.abs(r) < TWO_POW_63)) return qmin;
  const q = r + zeroPoint;
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

/**
 * Activation qparams for dynamic quantization, as ATen's ChooseQuantizationParams (the rule torch's
 * dynamic Linear applies to every batch): the range always includes 0; the zero point comes from
 * whichever end loses less precision, rounded half to even and clamped; a degenerate range gets
 * scale 0.1, and scales below 2^-14-ish (6.1e-5) are raised to that floor with the range scaled up.
 * The native twin is dynamic_qparams in native/src/int8_linear.cc (same double steps).
 * @example chooseDynamicQparams(-1, 3, 0, 255)  // { scale: 4 / 255, zeroPoint: 64 }
 */
export function chooseDynamicQparams(min: number, max: number, qmin: number, qmax: number): { scale: number; zeroPoint: number } {
  const SMALL = 6.1e-5;
  let lo = Math.min(Math.fround(min), 0), hi = Math.max(Math.fround(max), 0);
  let scale = (hi - lo) / (qmax - qmin);
  if (Math.fround(scale) === 0 || !Number.isFinite(1 / Math.fround(scale))) scale = 0.1;
  if (scale < Math.fround(SMALL)) {
    const org = scale;
    scale = Math.fround(SMALL);
    if (lo === 0) hi = scale * (qmax - qmin);
    else if (hi === 0) lo = -scale * (qmax - qmin);
    else { const amp = Math.fround(scale / org); lo = Math.fround(lo * amp); hi = Math.fround(hi * amp); }
  }
  const fromMin = qmin - lo / scale, fromMax = qmax - hi / scale;
  const errMin = Math.abs(qmin) - Math.abs(lo / scale), errMax = Math.abs(qmax) - Math.abs(hi / scale);
  const initial = errMin < errMax ? fromMin : fromMax;
  const zeroPoint = initial < qmin ? qmin : initial > qmax ? qmax : roundHalfEven(initial);
  return { scale: Math.fround(scale), zeroPoint };
}

/**
 * QuantizedKernels.quantizeDynamic in TypeScript, the twin of the native int8QuantizeDynamic: the range
 * of x (refusing NaN and infinities by index), chooseDynamicQparams(min, max, 0, qmax) and the uint8
 * codes of x written into `out`. Empty x gives the qparams of the range [0, 0].
 * @example
 * const out = new Uint8Array(3);
 * quantizeDynamicValues(Float32Array.of(-1, 0, 3), 255, out);  // { scale: 4 / 255, zeroPoint: 64, nonFinite: -1 }; out [0, 64, 255]
 */
export function quantizeDynamicValues(x: Float32Array, qmax: number, out: Uint8Array): DynamicQparams {
  if (out.length !== x.length) throw new Error(`quantizeDynamic: out holds ${out.length} values, x ${x.length}; pass an out of x's length`);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const e = x[i]!;
    if (!Number.isFinite(e)) return { scale: NaN, zeroPoint: NaN, nonFinite: i };
    if (e < lo) lo = e;
    if (e > hi) hi = e;
  }
  if (x.length === 0) { lo = 0; hi = 0; }
  const { scale, zeroPoint } = chooseDynamicQparams(lo, hi, 0, qmax);
  const inv = Math.fround(1 / scale);
  for (let i = 0; i < x.length; i++) out[i] = quantizeValue(x[i]!, inv, zeroPoint, 0, 255);
  return { scale, zeroPoint, nonFinite: -1 };
}
