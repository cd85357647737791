// Observers (torch.ao.quantization.observer): modules that watch the tensors flowing through them
// during calibration and turn what they saw into quantization parameters. forward(x) records and
// returns x unchanged. calculateQparams() is torch's _calculate_qparams, step by step in float32
// (every intermediate passes through Math.fround, as torch computes on float32 tensors), so scales
// and zero points match torch's bit for bit (fixtures: tools/fixtures/quant_fixtures.py).
// Unlike torch, an observer that has seen nothing refuses to guess (torch warns and returns
// scale 1, zero point 0): calculateQparams throws "calibrate first".

import { Tensor } from '../../core/tensor.js';
import { TensorslimError } from '../../core/errors.js';
import { roundHalfEven } from '../../backend/quantized.js';
import { Module } from '../../nn/module.js';
import { qrange, type QDType } from './qtensor.js';

/** Observer schemes: per tensor or per channel, symmetric (zero point fixed) or affine. */
export type ObserverQScheme = 'perTensorAffine' | 'perTensorSymmetric' | 'perChannelAffine' | 'perChannelSymmetric';

/** Quantization parameters: one scale/zero point (axis null) or one per channel along `axis`. */
export interface QParams {
  readonly dtype: QDType;
  readonly scales: Float32Array;
  readonly zeroPoints: Int32Array;
  readonly axis: number | null;
  readonly quantMin: number;
  readonly quantMax: number;
}

/** Options shared by every observer (torch's constructor arguments, camelCased). */
export interface ObserverOptions {
  /** 'quint8' (default, activations) or 'qint8' (weights). */
  dtype?: QDType;
  qscheme?: ObserverQScheme;
  /** Use one bit less of range (qint8 -64..63, quint8 0..127), for kernels whose int16 sums saturate. */
  reduceRange?: boolean;
  /** A custom integer range (both or neither); must include 0. */
  quantMin?: number;
  quantMax?: number;
  /** Smallest scale allowed (default float32 epsilon, 2^-23). */
  eps?: number;
}

const F32_EPS = 2 ** -23;

/** torch's calculate_qmin_qmax. */
function qminQmax(op: string, o: ObserverOptions, dtype: QDType): [number, number] {
  const custom = o.quantMin !== undefined || o.quantMax !== undefined;
  if (custom) {
    const lo = o.quantMin, hi = o.quantMax;
    if (lo === undefined || hi === undefined || !Number.isInteger(lo) || !Number.isInteger(hi)) {
      throw new TensorslimError(op, `quantMin and quantMax must be given together as integers, got ${lo} and ${hi}`);
    }
    if (!(lo <= 0 && 0 <= hi)) throw new TensorslimError(op, `the range [${lo}, ${hi}] must include 0`);
    if (!(lo < hi)) throw new TensorslimError(op, `quantMin ${lo} must be below quantMax ${hi}`);
    const [dlo, dhi] = qrange(dtype);
    if (lo < dlo || hi > dhi) throw new TensorslimError(op, `the range [${lo}, ${hi}] does not fit ${dtype} [${dlo}, ${dhi}]`);
    return o.reduceRange ? [Math.floor(lo / 2), Math.floor(hi / 2)] : [lo, hi];
  }
  if (dtype === 'qint8') return o.reduceRange ? [-64, 63] : [-128, 127];
  return o.reduceRange ? [0, 127] : [0, 255];
}

/** Throws on NaN or infinite values: they would make every scale NaN or infinite. */
function finiteValues(op: string, x: Tensor): Float32Array {
  if (!(x instanceof Tensor)) throw new TensorslimError(op, 'expected a Tensor');
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TensorslimError(op, `observers watch float tensors, got ${x.dtype}`);
  const v = Float32Array.from(x.dataSync());
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      throw new TensorslimError(op, `input holds ${v[i]} at flat index ${i} (shape [${x.shape.join(', ')}]); quantization needs finite values, so find where the model produces it before calibrating`);
    }
  }
  return v;
}

/**
 * Base of the observers: dtype, scheme, range and torch's qparams rule. Subclasses record data in
 * forward() and implement calculateQparams().
 */
export abstract class ObserverBase extends Module {
  readonly dtype: QDType;
  readonly qscheme: ObserverQScheme;
  readonly reduceRange: boolean;
  readonly quantMin: number;
  readonly quantMax: number;
  readonly eps: number;
  readonly #customRange: boolean;

  constructor(opts: ObserverOptions, defaults: { qscheme: ObserverQScheme }) {
    super();
    const op = this.constructor.name;
    this.dtype = opts.dtype ?? 'quint8';
    if (this.dtype !== 'qint8' && this.dtype !== 'quint8') throw new TensorslimError(op, `dtype must be 'qint8' or 'quint8', got '${String(this.dtype)}'`);
    this.qscheme = opts.qscheme ?? defaults.qscheme;
    const schemes: ObserverQScheme[] = ['perTensorAffine', 'perTensorSymmetric', 'perChannelAffine', 'perChannelSymmetric'];
    if (!schemes.includes(this.qscheme)) throw new TensorslimError(op, `qscheme must be one of ${schemes.join(', ')}, got '${String(this.qscheme)}'`);
    this.reduceRange = opts.reduceRange ?? false;
    if (this.reduceRange && this.dtype === 'quint8' && this.qscheme.endsWith('Symmetric')) {
      throw new TensorslimError(op, 'reduceRange is not supported for symmetric quint8 (torch refuses it too); use qint8 or an affine scheme');
    }
    this.#customRange = opts.quantMin !== undefined || opts.quantMax !== undefined;
    [this.quantMin, this.quantMax] = qminQmax(op, opts, this.dtype);
    this.eps = Math.fround(opts.eps ?? F32_EPS);
  }

  /** True once the observer has seen data (calculateQparams would succeed). */
  abstract get calibrated(): boolean;

  /** The quantization parameters for what was observed. Throws "calibrate first" before any data. */
  abstract calculateQparams(): QParams;

  protected uncalibrated(): never {
    throw new TensorslimError(`${this.constructor.name}.calculateQparams`, 'the observer has seen no data; calibrate first (run the prepared model on a few representative batches)');
  }

  /**
   * torch's _calculate_qparams for per-channel (or one-element) min/max arrays, in float32 steps.
   * @example obs.qparamsFor(Float32Array.of(-1), Float32Array.of(3), null)
   */
  qparamsFor(minVal: Float32Array, maxVal: Float32Array, axis: number | null): QParams {
    const n = minVal.length;
    const scales = new Float32Array(n);
    const zeroPoints = new Int32Array(n);
    const { quantMin: qmin, quantMax: qmax } = this;
    const symmetric = this.qscheme.endsWith('Symmetric');
    for (let c = 0; c < n; c++) {
      if (!(minVal[c]! <= maxVal[c]!)) {
        throw new TensorslimError(`${this.constructor.name}.calculateQparams`, `min ${minVal[c]} is above max ${maxVal[c]}${axis === null ? '' : ` in channel ${c}`}`);
      }
      const minNeg = Math.min(minVal[c]!, 0);
      let maxPos = Math.max(maxVal[c]!, 0);
      let scale: number;
      let zp = 0;
      if (symmetric) {
        maxPos = Math.max(-minNeg, maxPos);
        scale = Math.fround(maxPos / Math.fround((qmax - qmin) / 2));
        scale = Math.max(scale, this.eps);
        if (this.dtype === 'quint8') zp = this.#customRange ? Math.floor((qmin + qmax) / 2) : 128;
      } else {
        scale = Math.fround(Math.fround(maxPos - minNeg) / (qmax - qmin));
        scale = Math.max(scale, this.eps);
        zp = qmin - roundHalfEven(Math.fround(minNeg / scale));
        zp = Math.min(Math.max(zp, qmin), qmax);
      }
      scales[c] = scale;
      zeroPoints[c] = zp;
    }
    return { dtype: this.dtype, scales, zeroPoints, axis, quantMin: qmin, quantMax: qmax };
  }

  override extraRepr(): string {
    return `dtype=${this.dtype}, qscheme=${this.qscheme}, quantMin=${this.quantMin}, quantMax=${this.quantMax}`;
  }
}

/** A one-element float32 buffer. */
const scalar = (v: number): Tensor => new Tensor(Float32Array.of(v), 'float32', []);

/**
 * Running min and max of everything observed (torch's MinMaxObserver); per tensor.
 * @example
 * const obs = new MinMaxObserver({ dtype: 'quint8' });
 * obs.call(tensor([-1, 0.5, 3]));
 * obs.calculateQparams();  // scale 4/255, zero point 64
 */
export class MinMaxObserver extends ObserverBase {
  declare min_val: Tensor;
  declare max_val: Tensor;

  constructor(opts: ObserverOptions = {}) {
    super(opts, { qscheme: 'perTensorAffine' });
    if (!this.qscheme.startsWith('perTensor')) throw new TensorslimError(this.constructor.name, `qscheme ${this.qscheme} needs a per-channel observer (PerChannelMinMaxObserver)`);
    this.registerBuffer('min_val', scalar(Infinity));
    this.registerBuffer('max_val', scalar(-Infinity));
  }

  get calibrated(): boolean { return this.min_val.item() <= this.max_val.item(); }

  /** Combine the running values with this batch's min and max. */
  protected update(curMin: number, curMax: number): void {
    this.min_val = scalar(Math.min(curMin, this.min_val.item()));
    this.max_val = scalar(Math.max(curMax, this.max_val.item()));
  }

  forward(x: Tensor): Tensor {
    if (x.size === 0) return x;
    const v = finiteValues(`${this.constructor.name}.forward`, x);
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < v.length; i++) { const e = v[i]!; if (e < lo) lo = e; if (e > hi) hi = e; }
    this.update(lo, hi);
    return x;
  }

  calculateQparams(): QParams {
    if (!this.calibrated) this.uncalibrated();
    return this.qparamsFor(Float32Array.of(this.min_val.item()), Float32Array.of(this.max_val.item()), null);
  }

  /** Forget everything observed. @example obs.resetMinMaxVals() */
  resetMinMaxVals(): void {
    this.min_val = scalar(Infinity);
    this.max_val = scalar(-Infinity);
  }
}

/** min + c * (cur - min) in float32, as torch's moving average on float32 buffers. */
function movingAverage(old: number, cur: number, c: number): number {
  return Math.fround(old + Math.fround(c * Math.fround(cur - old)));
}

/**
 * Exponential moving average of each batch's min and max (torch's MovingAverageMinMaxObserver),
 * the default activation observer of quantization-aware training.
 * @example new MovingAverageMinMaxObserver({ averagingConstant: 0.01 })
 */
export class MovingAverageMinMaxObserver extends MinMaxObserver {
  readonly averagingConstant: number;

  constructor(opts: ObserverOptions & { averagingConstant?: number } = {}) {
    super(opts);
    const c = opts.averagingConstant ?? 0.01;
    if (!(c > 0 && c <= 1)) throw new TensorslimError(this.constructor.name, `averagingConstant must be in (0, 1], got ${c}`);
    this.averagingConstant = Math.fround(c);
  }

  protected override update(curMin: number, curMax: number): void {
    if (!this.calibrated) { super.update(curMin, curMax); return; }
    this.min_val = scalar(movingAverage(this.min_val.item(), curMin, this.averagingConstant));
    this.max_val = scalar(movingAverage(this.max_val.item(), curMax, this.averagingConstant));
  }
}

/**
 * Running min and max per channel along `chAxis` (torch's PerChannelMinMaxObserver), the
 * weight observer of per-channel quantization. Default scheme: perChannelAffine as in torch;
 * weights usually use { dtype: 'qint8', qscheme: 'perChannelSymmetric' }.
 * @example
 * const obs = new PerChannelMinMaxObserver({ chAxis: 0, dtype: 'qint8', qscheme: 'perChannelSymmetric' });
 * obs.call(linear.weight); obs.calculateQparams().scales;  // one per output feature
 */
export class PerChannelMinMaxObserver extends ObserverBase {
  readonly chAxis: number;
  declare min_val: Tensor;
  declare max_val: Tensor;

  constructor(opts: ObserverOptions & { chAxis?: number } = {}) {
    super(opts, { qscheme: 'perChannelAffine' });
    if (!this.qscheme.startsWith('perChannel')) throw new TensorslimError(this.constructor.name, `qscheme ${this.qscheme} is per tensor; use MinMaxObserver`);
    this.chAxis = opts.chAxis ?? 0;
    this.registerBuffer('min_val', new Tensor(new Float32Array(0), 'float32', [0]));
    this.registerBuffer('max_val', new Tensor(new Float32Array(0), 'float32', [0]));
  }

  get calibrated(): boolean { return this.min_val.size > 0; }

  protected update(curMin: Float32Array, curMax: Float32Array): void {
    const lo = this.min_val.dataSync(), hi = this.max_val.dataSync();
    for (let c = 0; c < curMin.length; c++) { curMin[c] = Math.min(curMin[c]!, lo[c]!); curMax[c] = Math.max(curMax[c]!, hi[c]!); }
  }

  forward(x: Tensor): Tensor {
    if (x.size === 0) return x;
    const op = `${this.constructor.name}.forward`;
    const ax = this.chAxis < 0 ? this.chAxis + x.ndim : this.chAxis;
    if (ax < 0 || ax >= x.ndim) throw new TensorslimError(op, `chAxis ${this.chAxis} is out of range for shape [${x.shape.join(', ')}]`);
    const v = finiteValues(op, x);
    const C = x.shape[ax]!;
    if (this.calibrated && this.min_val.size !== C) {
      throw new TensorslimError(op, `saw ${this.min_val.size} channels before and ${C} now (shape [${x.shape.join(', ')}], axis ${ax})`);
    }
    let inner = 1;
    for (let i = ax + 1; i < x.ndim; i++) inner *= x.shape[i]!;
    const lo = new Float32Array(C).fill(Infinity), hi = new Float32Array(C).fill(-Infinity);
    for (let i = 0; i < v.length; i++) {
      const c = Math.floor(i / inner) % C;
      const e = v[i]!;
      if (e < lo[c]!) lo[c] = e;
      if (e > hi[c]!) hi[c] = e;
    }
    if (this.calibrated) this.update(lo, hi);
    this.min_val = new Tensor(lo, 'float32', [C]);
    this.max_val = new Tensor(hi, 'float32', [C]);
    return x;
  }

  calculateQparams(): QParams {
    if (!this.calibrated) this.uncalibrated();
    return this.qparamsFor(Float32Array.from(this.min_val.dataSync()), Float32Array.from(this.max_val.dataSync()), this.chAxis);
  }

  override extraRepr(): string { return `${super.extraRepr()}, chAxis=${this.chAxis}`; }
}

/**
 * Per-channel exponential moving average of min and max (torch's MovingAveragePerChannelMinMaxObserver).
 * @example new MovingAveragePerChannelMinMaxObserver({ chAxis: 0, dtype: 'qint8', qscheme: 'perChannelSymmetric' })
 */
export class MovingAveragePerChannelMinMaxObserver extends PerChannelMinMaxObserver {
  readonly averagingConstant: number;

  constructor(opts: ObserverOptions & { chAxis?: number; averagingConstant?: number } = {}) {
    super(opts);
    const c = opts.averagingConstant ?? 0.01;
    if (!(c > 0 && c <= 1)) throw new TensorslimError(this.constructor.name, `averagingConstant must be in (0, 1], got ${c}`);
    this.averagingConstant = Math.fround(c);
  }

  protected override update(curMin: Float32Array, curMax: Float32Array): void {
    const lo = this.min_val.dataSync(), hi = this.max_val.dataSync();
    for (let c = 0; c < curMin.length; c++) {
      curMin[c] = movingAverage(lo[c]!, curMin[c]!, this.averagingConstant);
      curMax[c] = movingAverage(hi[c]!, curMax[c]!, this.averagingConstant);
    }
  }
}
