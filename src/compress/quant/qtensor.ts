// Quantized tensors: 8-bit integers plus the scale(s) and zero point(s) that map them back to real
// numbers, real = (q - zeroPoint) * scale, per tensor or per channel along one axis, as PyTorch's
// quantized tensors (qint8, quint8). Quantization is numerically PyTorch's on x86:
// q = clamp(nearbyint(fround(x * fround(1 / scale))) + zeroPoint, qmin, qmax), halves to even;
// dequantization is fround((q - zeroPoint) * scale). Fixtures from torch check both bit for bit.
// The core Tensor has no int8 dtype, so a QuantizedTensor is its own type (ARCHITECTURE.md:
// "quantized tensors are their own type"); intRepr() exposes the integers as an int32 Tensor.

import { Tensor } from '../../core/tensor.js';
import { TensorslimError, DTypeError, ShapeError } from '../../core/errors.js';
import { fmtShape } from '../../backend/shape.js';
import { quantizeValue, type Int8Storage } from '../../backend/quantized.js';
import { activationKernels } from './kernels.js';

const TWO_POW_63 = 9223372036854775808;

/** Quantized dtypes: signed int8 (qint8) and unsigned uint8 (quint8), PyTorch's names. */
export type QDType = 'qint8' | 'quint8';

/** How the quantization parameters are laid out. */
export type QScheme = 'perTensorAffine' | 'perChannelAffine';

/** The integer range [qmin, qmax] of a quantized dtype. @example qrange('quint8') // [0, 255] */
export function qrange(dtype: QDType): [number, number] {
  return dtype === 'qint8' ? [-128, 127] : [0, 255];
}

/** Throws unless `scale` is a positive finite float32. */
export function checkScale(op: string, scale: number, what = 'scale'): void {
  const f = Math.fround(scale);
  if (typeof scale !== 'number' || !Number.isFinite(f) || !(f > 0)) {
    throw new TensorslimError(op, `${what} must be a positive finite number, got ${scale}; a scale of 0 or NaN usually means the observer saw no data or only NaN (calibrate on real inputs)`);
  }
}

function checkZeroPoint(op: string, zp: number, dtype: QDType, what = 'zeroPoint'): void {
  const [lo, hi] = qrange(dtype);
  if (!Number.isInteger(zp) || zp < lo || zp > hi) {
    throw new TensorslimError(op, `${what} must be an integer in [${lo}, ${hi}] for ${dtype}, got ${zp}`);
  }
}

function checkDType(op: string, dtype: QDType): void {
  if (dtype !== 'qint8' && dtype !== 'quint8') throw new DTypeError(op, `dtype must be 'qint8' or 'quint8', got '${String(dtype)}'`);
}

function floatInput(op: string, x: Tensor): Float32Array | Float64Array {
  if (!(x instanceof Tensor)) throw new TensorslimError(op, 'expected a Tensor');
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new DTypeError(op, `expected a float32 or float64 tensor, got ${x.dtype}`);
  return x.dataSync() as Float32Array | Float64Array;
}

/**
 * An 8-bit quantized tensor. `data` holds the integers contiguously (row-major, `shape`);
 * per-tensor quantization has one scale and zero point, per-channel one per index of `axis`.
 *
 * @example
 * const q = quantizePerTensor(tensor([0.1, -0.25, 3]), 0.1, 0, 'qint8');
 * q.intRepr().toArray();     // [1, -2, 30]  (-2.5 rounds half to even)
 * dequantize(q).toArray();   // [0.1, -0.2, 3] (in float32)
 */
export class QuantizedTensor {
  readonly dtype: QDType;
  readonly shape: readonly number[];
  readonly data: Int8Storage;
  readonly qscheme: QScheme;
  /** float32 scales: one (per tensor) or shape[axis] (per channel). */
  readonly scales: Float32Array;
  readonly zeroPoints: Int32Array;
  /** The channel axis for per-channel quantization, else null. */
  readonly axis: number | null;

  constructor(init: { dtype: QDType; shape: readonly number[]; data: Int8Storage; scales: Float32Array; zeroPoints: Int32Array; axis: number | null }) {
    const op = 'QuantizedTensor';
    checkDType(op, init.dtype);
    const n = init.shape.reduce((a, b) => a * b, 1);
    if (init.data.length !== n) throw new ShapeError(op, `data holds ${init.data.length} values but shape ${fmtShape(init.shape)} needs ${n}`);
    if ((init.dtype === 'qint8') !== (init.data instanceof Int8Array)) {
      throw new DTypeError(op, `${init.dtype} data must be ${init.dtype === 'qint8' ? 'an Int8Array' : 'a Uint8Array'}`);
    }
    const channels = init.axis === null ? 1 : init.shape[init.axis];
    if (init.axis !== null && (channels === undefined || !Number.isInteger(init.axis) || init.axis < 0)) {
      throw new ShapeError(op, `axis ${init.axis} is out of range for shape ${fmtShape(init.shape)}`);
    }
    if (init.scales.length !== channels || init.zeroPoints.length !== channels) {
      throw new ShapeError(op, `expected ${channels} scale(s) and zero point(s), got ${init.scales.length} and ${init.zeroPoints.length}`);
    }
    for (let c = 0; c < init.scales.length; c++) {
      checkScale(op, init.scales[c]!, init.axis === null ? 'scale' : `scale of channel ${c}`);
      checkZeroPoint(op, init.zeroPoints[c]!, init.dtype, init.axis === null ? 'zeroPoint' : `zero point of channel ${c}`);
    }
    this.dtype = init.dtype;
    this.shape = [...init.shape];
    this.data = init.data;
    this.qscheme = init.axis === null ? 'perTensorAffine' : 'perChannelAffine';
    this.scales = init.scales;
    this.zeroPoints = init.zeroPoints;
    this.axis = init.axis;
  }

  /** Number of elements. */
  get size(): number { return this.data.length; }

  /** The per-tensor scale (throws for per-channel tensors). @example q.scale // 0.1 as float32 */
  get scale(): number { return this.#perTensor('scale', this.scales[0]!); }

  /** The per-tensor zero point (throws for per-channel tensors). */
  get zeroPoint(): number { return this.#perTensor('zeroPoint', this.zeroPoints[0]!); }

  #perTensor(what: string, v: number): number {
    if (this.axis !== null) throw new TensorslimError(`QuantizedTensor.${what}`, `this tensor is quantized per channel (axis ${this.axis}); read scales / zeroPoints instead`);
    return v;
  }

  /** The integers as an int32 Tensor of the same shape (torch's int_repr()). @example q.intRepr().toArray() */
  intRepr(): Tensor {
    return new Tensor(Int32Array.from(this.data), 'int32', this.shape);
  }

  /** Bytes of the integer payload plus the parameters (float32 scales, int32 zero points). */
  get nbytes(): number { return this.data.length + 8 * this.scales.length; }
}

/**
 * out[i] = quantizeValue(fround(src[i]), inv, zeroPoint, qmin, qmax) over the whole dtype range, ~5x
 * faster: a Uint8ClampedArray store rounds half to even and clamps to [0, 255] in one step. The value
 * is stored shifted by c = zeroPoint (+128 for int8, whose top bit is flipped afterwards); rounding
 * p + c equals rounding p then adding c when c is even (p + c is exact in float64 wherever the tie
 * matters), so an odd c is stored as p + (c - 1) and raised by 1 in a second pass, where a stored 0
 * is resolved from p (0 when p < 0.5 - c or not convertible, else 1). Non-finite p and |p| >= 2^63 give
 * qmin, as torch's int64 conversion on x86.
 */
function quantizeInto(src: Float32Array | Float64Array, inv: number, zeroPoint: number, signed: boolean, out: Int8Storage): void {
  const n = src.length;
  const c = zeroPoint + (signed ? 128 : 0);
  const odd = (c & 1) !== 0, stored = odd ? c - 1 : c;
  const bytes = new Uint8ClampedArray(out.buffer, out.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const p = Math.fround(Math.fround(src[i]!) * inv);
    bytes[i] = Math.abs(p) < TWO_POW_63 ? p + stored : 0;
  }
  if (odd) {
    for (let i = 0; i < n; i++) {
      const u = bytes[i]!;
      if (u !== 0) bytes[i] = u + 1;  // 255 stays 255 (clamped)
      else {
        const p = Math.fround(Math.fround(src[i]!) * inv);
        bytes[i] = !(Math.abs(p) < TWO_POW_63) || p < 0.5 - c ? 0 : 1;
      }
    }
  }
  if (signed) { const u8 = new Uint8Array(out.buffer, out.byteOffset, n); for (let i = 0; i < n; i++) u8[i] ^= 0x80; }
}

/**
 * Quantize a float tensor with one scale and zero point (torch.quantize_per_tensor).
 * @example quantizePerTensor(tensor([0.05, 1]), 0.1, 128, 'quint8').intRepr().toArray() // [128, 138]
 */
export function quantizePerTensor(x: Tensor, scale: number, zeroPoint: number, dtype: QDType): QuantizedTensor {
  const op = 'quantizePerTensor';
  checkDType(op, dtype);
  checkScale(op, scale);
  checkZeroPoint(op, zeroPoint, dtype);
  const src = floatInput(op, x);
  const inv = Math.fround(1 / Math.fround(scale));
  const kernel = activationKernels().quantizePerTensor;
  let out: Int8Storage;
  if (kernel && src instanceof Float32Array) out = kernel(src, scale, zeroPoint, dtype === 'qint8' ? 'int8' : 'uint8');
  else {
    out = dtype === 'qint8' ? new Int8Array(src.length) : new Uint8Array(src.length);
    quantizeInto(src, inv, zeroPoint, dtype === 'qint8', out);
  }
  return new QuantizedTensor({ dtype, shape: x.shape, data: out, scales: Float32Array.of(scale), zeroPoints: Int32Array.of(zeroPoint), axis: null });
}

/** Elements per channel step: (outer, channels, inner) split of `shape` around `axis`. */
function split(shape: readonly number[], axis: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i]!;
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i]!;
  return [outer, shape[axis]!, inner];
}

function toArray(v: Tensor | ArrayLike<number>): number[] {
  return v instanceof Tensor ? Array.from(v.dataSync()) : Array.from(v);
}

/**
 * Quantize with one scale and zero point per index of `axis` (torch.quantize_per_channel).
 * @example
 * const q = quantizePerChannel(w, [0.01, 0.02], [0, 0], 0, 'qint8');  // w: (2, K)
 */
export function quantizePerChannel(x: Tensor, scales: Tensor | ArrayLike<number>, zeroPoints: Tensor | ArrayLike<number>,
  axis: number, dtype: QDType): QuantizedTensor {
  const op = 'quantizePerChannel';
  checkDType(op, dtype);
  const src = floatInput(op, x);
  if (!Number.isInteger(axis) || axis < -x.ndim || axis >= x.ndim) throw new ShapeError(op, `axis ${axis} is out of range for shape ${fmtShape(x.shape)}`);
  const ax = axis < 0 ? axis + x.ndim : axis;
  const s = toArray(scales), z = toArray(zeroPoints);
  const [outer, channels, inner] = split(x.shape, ax);
  if (s.length !== channels || z.length !== channels) {
    throw new ShapeError(op, `shape ${fmtShape(x.shape)} has ${channels} channels along axis ${ax}, got ${s.length} scales and ${z.length} zero points`);
  }
  s.forEach((v, c) => checkScale(op, v, `scale of channel ${c}`));
  z.forEach((v, c) => checkZeroPoint(op, v, dtype, `zero point of channel ${c}`));
  const [lo, hi] = qrange(dtype);
  const out = dtype === 'qint8' ? new Int8Array(src.length) : new Uint8Array(src.length);
  for (let c = 0; c < channels; c++) {
    const inv = Math.fround(1 / Math.fround(s[c]!));
    const zp = z[c]!;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = base; i < base + inner; i++) out[i] = quantizeValue(Math.fround(src[i]!), inv, zp, lo, hi);
    }
  }
  return new QuantizedTensor({ dtype, shape: x.shape, data: out, scales: Float32Array.from(s), zeroPoints: Int32Array.from(z), axis: ax });
}

/**
 * Back to float32: (q - zeroPoint) * scale per element (torch's dequantize()).
 * @example dequantize(quantizePerTensor(x, 0.1, 0, 'qint8'))  // x rounded to multiples of 0.1
 */
export function dequantize(q: QuantizedTensor): Tensor {
  if (!(q instanceof QuantizedTensor)) throw new TensorslimError('dequantize', 'expected a QuantizedTensor (from quantizePerTensor / quantizePerChannel)');
  const out = new Float32Array(q.size);
  const [outer, channels, inner] = q.axis === null ? [1, 1, q.size] : split(q.shape, q.axis);
  // one 256-entry table per channel, indexed by the stored byte: table[b] = fround((value(b) - zp) * s),
  // the same bits as computing each element, in one monomorphic Uint8Array loop
  const bytes = q.data instanceof Uint8Array ? q.data : new Uint8Array(q.data.buffer, q.data.byteOffset, q.data.length);
  const signed = q.data instanceof Int8Array;
  const table = new Float32Array(256);
  for (let c = 0; c < channels; c++) {
    const s = q.scales[c]!, zp = q.zeroPoints[c]!;
    for (let b = 0; b < 256; b++) table[b] = ((signed && b > 127 ? b - 256 : b) - zp) * s;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = base; i < base + inner; i++) out[i] = table[bytes[i]!]!;
    }
  }
  return new Tensor(out, 'float32', q.shape);
}
