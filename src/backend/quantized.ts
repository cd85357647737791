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
   */
  quantizePerTensor?(x: Float32Array, scale: number, zeroPoint: number, dtype: 'int8' | 'uint8'): Int8Storage;
  /**
   * The range of x for dynamic activation quantization: min and max, and the index of the first NaN
   * or infinity (-1 when none; min and max are then meaningless). Empty x gives 0, 0, -1.
   */
  floatRange?(x: Float32Array): { min: number; max: number; nonFinite: number };
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
