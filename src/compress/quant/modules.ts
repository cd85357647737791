// Quantized and prepared layers that the workflows (workflow.ts) swap in for Linear:
//   DynamicQuantizedLinear  int8 per-channel weights; activations quantized per batch at run time
//                           (uint8 affine, as torch's dynamic quantization); float32 out.
//   QuantizedLinear         static: calibrated input and output qparams; int8 in, int8 out with the
//                           requantization (and a fused ReLU) inside the kernel.
//   ObservedLinear          static, prepared: the float layer plus observers on its input and output.
//   QatLinear               QAT: the float layer with fake-quantized input, weight and output.
// The int8 math runs in the kernels of backend/quantized.ts, reached through quantizedKernels().
// Prepared layers keep the original Parameter objects under the original names (weight, bias), so
// state-dict keys and optimizer references survive a swap.

import { Tensor } from '../../core/tensor.js';
import { TensorslimError, ShapeError } from '../../core/errors.js';
import { noGrad } from '../../core/engine.js';
import * as ops from '../../ops/index.js';
import { Module } from '../../nn/module.js';
import { Linear } from '../../nn/linear.js';
import type { Parameter } from '../../nn/parameter.js';
import { linear as linearFn } from '../../nn/functional.js';
import { chooseDynamicQparams, quantizeDynamicValues, type QuantizedActivation, type QuantizedWeight } from '../../backend/quantized.js';
import { QuantizedTensor, dequantize, quantizePerChannel, quantizePerTensor, checkScale } from './qtensor.js';
import { ObserverBase, PerChannelMinMaxObserver, type QParams } from './observer.js';
import { FakeQuantize, LearnableFakeQuantize } from './fake_quantize.js';
import { activationKernels, quantizedKernels } from './kernels.js';
import { int8Input, int8Output, type Int8Link } from './int8_flow.js';

/** chooseDynamicQparams lives with the kernel contract (backend/quantized.ts), which its kernels share. */
export { chooseDynamicQparams };

/** Quantize a Linear (N, K) or Conv2d (O, C, kh, kw) weight with its observer's qparams (per channel along axis 0, or per tensor). */
export function quantizeWeight(op: string, w: Tensor, q: QParams): QuantizedTensor {
  if (q.dtype !== 'qint8') throw new TensorslimError(op, `int8 kernels take qint8 weights, the weight observer gives ${q.dtype}`);
  if (q.axis === null) {
    const s = Array.from({ length: w.shape[0]! }, () => q.scales[0]!);
    const z = Array.from({ length: w.shape[0]! }, () => q.zeroPoints[0]!);
    return quantizePerChannel(w, s, z, 0, 'qint8');
  }
  if (q.axis !== 0) throw new TensorslimError(op, `a weight is quantized per output channel (axis 0), the observer uses axis ${q.axis}`);
  return quantizePerChannel(w, q.scales, q.zeroPoints, 0, 'qint8');
}

function weightOperand(w: QuantizedTensor): QuantizedWeight {
  return { data: w.data as Int8Array, rows: w.shape[0]!, cols: w.shape[1]!, scales: w.scales, zeroPoints: w.zeroPoints };
}

function floatBias(b: Tensor | null): Float32Array | null {
  return b === null ? null : Float32Array.from(b.dataSync());
}

function checkInput(op: string, x: Tensor, inF: number): void {
  if (!(x instanceof Tensor)) throw new TensorslimError(op, 'expected a Tensor');
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inF) {
    throw new ShapeError(op, `input last dimension ${x.ndim === 0 ? 'none (a scalar)' : x.shape[x.ndim - 1]} does not match inFeatures ${inF}; input shape [${x.shape.join(', ')}]`);
  }
}

/** What every int8 Linear shares: the quantized weight, the float bias and the sizes. */
export abstract class QuantizedLinearBase extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** int8 weight (outFeatures, inFeatures), one scale and zero point per output channel. */
  readonly weight: QuantizedTensor;
  /** float32 bias (outFeatures) or null. */
  readonly bias: Float32Array | null;

  constructor(weight: QuantizedTensor, bias: Float32Array | null) {
    super();
    const op = this.constructor.name;
    if (weight.dtype !== 'qint8' || weight.shape.length !== 2 || weight.axis !== 0) {
      throw new TensorslimError(op, `weight must be a 2-D qint8 tensor quantized per channel along axis 0, got ${weight.dtype} [${weight.shape.join(', ')}] axis ${weight.axis}`);
    }
    this.outFeatures = weight.shape[0]!;
    this.inFeatures = weight.shape[1]!;
    if (bias !== null && bias.length !== this.outFeatures) throw new ShapeError(op, `bias has ${bias.length} values, expected ${this.outFeatures}`);
    this.weight = weight;
    this.bias = bias;
  }

  /** The weight and bias back in float32 (what this layer computes with, up to activation rounding). */
  dequantizedWeight(): Tensor { return dequantize(this.weight); }

  override extraRepr(): string { return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, bias=${this.bias !== null}`; }
}

/**
 * A Linear with int8 weights whose activations are quantized per batch at run time (torch's
 * nn.quantized.dynamic.Linear): x -> uint8 with chooseDynamicQparams(min(x), max(x)) -> int8 GEMM
 * with int32 accumulation -> float32 y. Build it with quantizeDynamic(model) or fromFloat().
 * @example
 * const q = DynamicQuantizedLinear.fromFloat(new Linear(1024, 1024));
 * q.call(randn([32, 1024])).shape;  // [32, 1024]
 */
export class DynamicQuantizedLinear extends QuantizedLinearBase {
  /** Quantize activations to 7 bits (0..127), for int8 kernels whose int16 sums could saturate. */
  readonly reduceRange: boolean;

  constructor(weight: QuantizedTensor, bias: Float32Array | null, opts: { reduceRange?: boolean } = {}) {
    super(weight, bias);
    this.reduceRange = opts.reduceRange ?? false;
  }

  /**
   * Quantize a float Linear: the weight through `weightObserver` (default per-channel symmetric
   * qint8 min-max), the bias kept in float32.
   * @example DynamicQuantizedLinear.fromFloat(fc, { weightObserver: new MinMaxObserver({ dtype: 'qint8', qscheme: 'perTensorSymmetric' }) })
   */
  static fromFloat(lin: Linear, opts: { weightObserver?: ObserverBase; reduceRange?: boolean } = {}): DynamicQuantizedLinear {
    const obs = opts.weightObserver ?? defaultWeightObserver();
    const w = lin.weight;
    obs.call(ops.detach(w));
    const qw = quantizeWeight('DynamicQuantizedLinear.fromFloat', w, obs.calculateQparams());
    return new DynamicQuantizedLinear(qw, floatBias(lin.bias), { reduceRange: opts.reduceRange });
  }

  forward(x: Tensor): Tensor {
    const op = `DynamicQuantizedLinear(${this.inFeatures}, ${this.outFeatures})`;
    checkInput(op, x, this.inFeatures);
    const xa = quantizeDynamicActivation(op, x, this.inFeatures, this.reduceRange, this.#codes);
    const y = quantizedKernels().int8Linear(xa, weightOperand(this.weight), this.bias, { kind: 'float32' }) as Float32Array;
    return new Tensor(y, 'float32', [...x.shape.slice(0, -1), this.outFeatures]);
  }

  /** The activation codes of the last batch: one buffer reused by every forward pass. */
  readonly #codes = new ActivationCodes();
}

/**
 * A byte buffer for a dynamic layer's activation codes, reused from one forward pass to the next (it
 * grows to the largest batch seen): no allocation per call once warm. What take() returns is valid
 * until the next take().
 * @example const codes = new ActivationCodes(); const a = codes.take(1024); a.length  // 1024
 */
export class ActivationCodes {
  private bytes = new Uint8Array(0);

  /** n bytes of the buffer (contents unspecified). */
  take(n: number): Uint8Array {
    if (this.bytes.length < n) this.bytes = new Uint8Array(n);
    return this.bytes.length === n ? this.bytes : this.bytes.subarray(0, n);
  }
}

/**
 * Dynamic quantization of an activation (the dynamic layers' first step): uint8 codes of `x` with
 * chooseDynamicQparams over its own min and max (0..127 with `reduceRange`), as rows of `cols`
 * values. Refuses NaN and Inf, naming `op` and the index. float32 input goes through the backend's
 * quantizeDynamic (range, qparams and codes in one call; its TypeScript twin where the backend has
 * none), into `codes` when given (the codes are then valid until its next use), else a new array.
 * @example const xa = quantizeDynamicActivation('MyLayer', x, 784, false);  // xa.scale, xa.zeroPoint, xa.data
 */
export function quantizeDynamicActivation(op: string, x: Tensor, cols: number, reduceRange: boolean, codes?: ActivationCodes): QuantizedActivation {
  // the tensor's own buffer when it is one dense block (read only), else a copy
  const v = x.isContiguous() && x.offset === 0 && x.data.length === x.size ? x.data : x.dataSync();
  const nonFinite = (i: number): TensorslimError => new TensorslimError(op, `input holds ${v[i]} at flat index ${i}; int8 layers need finite inputs`);
  const qmax = reduceRange ? 127 : 255;
  if (v instanceof Float32Array) {
    const out = codes ? codes.take(v.length) : new Uint8Array(v.length);
    const q = (activationKernels().quantizeDynamic ?? quantizeDynamicValues)(v, qmax, out);
    if (q.nonFinite >= 0) throw nonFinite(q.nonFinite);
    return { data: out, rows: x.size / cols, cols, scale: q.scale, zeroPoint: q.zeroPoint };
  }
  // other dtypes (float64): the range of the values themselves, the codes of their float32 cast
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const e = v[i]!;
    if (!Number.isFinite(e)) throw nonFinite(i);
    if (e < lo) lo = e;
    if (e > hi) hi = e;
  }
  if (v.length === 0) { lo = 0; hi = 0; }
  const { scale, zeroPoint } = chooseDynamicQparams(lo, hi, 0, qmax);
  const data = quantizePerTensor(ops.to(x, 'float32'), scale, zeroPoint, 'quint8').data;
  return { data, rows: x.size / cols, cols, scale, zeroPoint };
}

/** The default weight observer: qint8, per output channel, symmetric (zero points 0). @example defaultWeightObserver().call(fc.weight) */
export function defaultWeightObserver(): ObserverBase {
  return new PerChannelMinMaxObserver({ dtype: 'qint8', qscheme: 'perChannelSymmetric', chAxis: 0 });
}

/** Per-tensor quint8/qint8 activation qparams: one scale and zero point. */
export interface ActivationQParams {
  readonly dtype: 'quint8' | 'qint8';
  readonly scale: number;
  readonly zeroPoint: number;
}

function activationQparams(op: string, q: QParams, what: string): ActivationQParams {
  if (q.axis !== null || q.scales.length !== 1) throw new TensorslimError(op, `${what} qparams must be per tensor`);
  checkScale(op, q.scales[0]!, `${what} scale`);
  return { dtype: q.dtype, scale: q.scales[0]!, zeroPoint: q.zeroPoints[0]! };
}

/**
 * A statically quantized Linear (torch's nn.quantized.Linear / LinearReLU): the input is quantized
 * with calibrated qparams, the int8 GEMM accumulates in int32, and the kernel requantizes straight
 * to the calibrated output qparams (through a fused ReLU when `relu`). forward() takes and returns
 * float tensors (the output is the exact dequantization of the int8 result); forwardQuantized()
 * stays in int8 end to end.
 * @example
 * const m = convertStatic(prepared);   // after calibration; each Linear is now a QuantizedLinear
 */
export class QuantizedLinear extends QuantizedLinearBase {
  readonly input: ActivationQParams;
  readonly output: ActivationQParams;
  readonly relu: boolean;
  /** How this layer exchanges int8 codes with its neighbours (linkInt8Layers sets it; default: float in and out). */
  link: Int8Link = { input: null, codesOut: false };

  constructor(weight: QuantizedTensor, bias: Float32Array | null, input: ActivationQParams, output: ActivationQParams, relu = false) {
    super(weight, bias);
    const op = this.constructor.name;
    for (const [what, q] of [['input', input], ['output', output]] as const) {
      checkScale(op, q.scale, `${what} scale`);
      const [lo, hi] = q.dtype === 'qint8' ? [-128, 127] : [0, 255];
      if (!Number.isInteger(q.zeroPoint) || q.zeroPoint < lo || q.zeroPoint > hi) throw new TensorslimError(op, `${what} zero point ${q.zeroPoint} is outside ${q.dtype}`);
    }
    this.input = input;
    this.output = output;
    this.relu = relu;
  }

  /** int8 in, int8 out: `x` must carry this layer's input qparams. @example m.forwardQuantized(quantizePerTensor(x, m.input.scale, m.input.zeroPoint, 'quint8')) */
  forwardQuantized(x: QuantizedTensor): QuantizedTensor {
    const op = `QuantizedLinear(${this.inFeatures}, ${this.outFeatures})`;
    if (!(x instanceof QuantizedTensor) || x.axis !== null || x.dtype !== this.input.dtype) {
      throw new TensorslimError(op, `expected a per-tensor ${this.input.dtype} QuantizedTensor`);
    }
    if (x.shape.length === 0 || x.shape[x.shape.length - 1] !== this.inFeatures) throw new ShapeError(op, `input shape [${x.shape.join(', ')}] does not end in inFeatures ${this.inFeatures}`);
    const rows = x.size / this.inFeatures;
    const xa: QuantizedActivation = { data: x.data, rows, cols: this.inFeatures, scale: x.scale, zeroPoint: x.zeroPoint };
    const out = this.output;
    const y = quantizedKernels().int8Linear(xa, weightOperand(this.weight), this.bias,
      { kind: 'requantize', dtype: out.dtype === 'qint8' ? 'int8' : 'uint8', scale: out.scale, zeroPoint: out.zeroPoint, relu: this.relu });
    return new QuantizedTensor({
      dtype: out.dtype, shape: [...x.shape.slice(0, -1), this.outFeatures], data: y as Int8Array | Uint8Array,
      scales: Float32Array.of(out.scale), zeroPoints: Int32Array.of(out.zeroPoint), axis: null,
    });
  }

  /**
   * Float32 in and out; inside a linked int8 run (linkInt8Layers, int8_flow.ts) uint8 codes in from
   * the producer and/or codes out to the consumer instead.
   */
  forward(x: Tensor): Tensor {
    const op = `QuantizedLinear(${this.inFeatures}, ${this.outFeatures})`;
    checkInput(op, x, this.inFeatures);
    return int8Output(this.forwardQuantized(int8Input(op, x, this.link.input, this.input)), this.link.codesOut);
  }

  override extraRepr(): string {
    return `${super.extraRepr()}, relu=${this.relu}, input=(${this.input.scale}, ${this.input.zeroPoint}), output=(${this.output.scale}, ${this.output.zeroPoint})`;
  }
}

/** Adopt a Linear's parameters (the same objects, same names) into `m`. */
function adopt(m: Module, lin: { weight: Tensor; bias: Tensor | null }): void {
  m.registerParameter('weight', lin.weight as Parameter);
  m.registerParameter('bias', (lin.bias ?? null) as Parameter | null);
}

/** How prepareStatic builds an observed layer: the fused ReLU and the observer factories of its qconfig. */
export interface ObservedLayerOptions {
  relu: boolean;
  /** The layer's path in the model, named by errors (prepareStatic sets it). */
  name?: string;
  activation: () => ObserverBase;
  weight: () => ObserverBase;
}

/**
 * What every prepared layer (observed or QAT) shares: the float layer's own Parameters (same objects,
 * same names, so an optimizer keeps training them) and the fused ReLU.
 * @example prepareQat(model); (model.getSubmodule('0') as PreparedLayer).relu
 */
export abstract class PreparedLayer extends Module {
  readonly relu: boolean;
  /** The layer's path in the model (prepareStatic / prepareQat set it), for errors. */
  readonly layerName: string | undefined;
  declare weight: Parameter;
  declare bias: Parameter | null;

  constructor(layer: { weight: Tensor; bias: Tensor | null }, opts: { relu: boolean; name?: string }) {
    super();
    this.relu = opts.relu;
    this.layerName = opts.name;
    adopt(this, layer);
  }

  /**
   * `quantizer.call(x)` (an observer or fake quantizer of this layer); its refusal (NaN or Inf in
   * `x`) is rethrown naming the layer and which tensor it was. Nothing is recorded on a refusal.
   */
  protected quantizeStep(quantizer: Module, what: 'input' | 'weight' | 'output', x: Tensor): Tensor {
    try {
      return quantizer.call(x) as Tensor;
    } catch (e) {
      const where = this.layerName !== undefined ? `layer '${this.layerName}' (${this.constructor.name})` : this.constructor.name;
      throw new TensorslimError(where, `${what}: ${(e as Error).message}`);
    }
  }
}

/**
 * What ObservedLinear and ObservedConv2d share: observers on the input and the output, and the
 * weight observer factory that convert uses. Subclasses compute the float layer and call the observers.
 * @example prepareStatic(model); model.getSubmodule('0') instanceof ObservedLayer  // true
 */
export abstract class ObservedLayer extends PreparedLayer {
  declare input_observer: ObserverBase;
  declare activation_post_process: ObserverBase;
  readonly weightObserver: () => ObserverBase;

  constructor(layer: { weight: Tensor; bias: Tensor | null }, opts: ObservedLayerOptions) {
    super(layer, opts);
    this.weightObserver = opts.weight;
    this.registerModule('input_observer', opts.activation());
    this.registerModule('activation_post_process', opts.activation());
  }
}

/**
 * A Linear prepared for static quantization: computes as before (with the fused ReLU when `relu`)
 * and records its input and output ranges in observers. convertStatic turns it into QuantizedLinear.
 * @example prepareStatic(model); for (const x of batches) model.call(x); convertStatic(model);
 */
export class ObservedLinear extends ObservedLayer {
  /** The float Linear's sizes, read off its weight (outFeatures, inFeatures). @example prepared.inFeatures  // 784 */
  get inFeatures(): number { return this.weight.shape[1]!; }
  get outFeatures(): number { return this.weight.shape[0]!; }

  forward(x: Tensor): Tensor {
    this.quantizeStep(this.input_observer, 'input', x);
    let y = linearFn(x, this.weight, this.bias, `ObservedLinear(${this.inFeatures}, ${this.outFeatures})`);
    if (this.relu) y = ops.relu(y);
    this.quantizeStep(this.activation_post_process, 'output', y);
    return y;
  }

  override extraRepr(): string { return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, relu=${this.relu}`; }
}

/** How prepareQat builds a QAT layer: the fused ReLU and the fake-quantizer factories of its qconfig. */
export interface QatLayerOptions {
  relu: boolean;
  /** The layer's path in the model, named by errors (prepareQat sets it). */
  name?: string;
  activation: () => FakeQuantize | LearnableFakeQuantize;
  weight: () => FakeQuantize;
}

/**
 * What QatLinear and QatConv2d share: fake quantizers on the input, the weight and the output.
 * @example prepareQat(model); model.getSubmodule('0') instanceof QatLayer  // true
 */
export abstract class QatLayer extends PreparedLayer {
  declare input_fake_quant: FakeQuantize | LearnableFakeQuantize;
  declare weight_fake_quant: FakeQuantize;
  declare activation_post_process: FakeQuantize | LearnableFakeQuantize;

  constructor(layer: { weight: Tensor; bias: Tensor | null }, opts: QatLayerOptions) {
    super(layer, opts);
    const fakeQuantizers = [['input_fake_quant', opts.activation], ['weight_fake_quant', opts.weight], ['activation_post_process', opts.activation]] as const;
    for (const [name, make] of fakeQuantizers) this.registerModule(name, make());
  }
}

/**
 * A Linear prepared for quantization-aware training: y = act_fq(linear(in_fq(x), weight_fq(W), b))
 * (+ ReLU before act_fq when fused). Trains with any optimizer over the same Parameter objects.
 * @example prepareQat(model); train(model); convertQat(model);
 */
export class QatLinear extends QatLayer {
  /** The float Linear's sizes, read off its weight (outFeatures, inFeatures). @example prepared.inFeatures  // 784 */
  get inFeatures(): number { return this.weight.shape[1]!; }
  get outFeatures(): number { return this.weight.shape[0]!; }

  forward(x: Tensor): Tensor {
    const xq = this.quantizeStep(this.input_fake_quant, 'input', x);
    const wq = this.quantizeStep(this.weight_fake_quant, 'weight', this.weight);
    let y = linearFn(xq, wq, this.bias, `QatLinear(${this.inFeatures}, ${this.outFeatures})`);
    if (this.relu) y = ops.relu(y);
    return this.quantizeStep(this.activation_post_process, 'output', y);
  }

  override extraRepr(): string { return `inFeatures=${this.inFeatures}, outFeatures=${this.outFeatures}, relu=${this.relu}`; }
}

/** Convert an ObservedLinear (calibrated) to a QuantizedLinear; `name` goes into errors. */
export function convertObserved(name: string, m: ObservedLinear): QuantizedLinear {
  const op = 'convertStatic';
  const label = `layer '${name}' (Linear(${m.inFeatures}, ${m.outFeatures}))`;
  if (!m.input_observer.calibrated || !m.activation_post_process.calibrated) {
    throw new TensorslimError(op, `${label} has not been calibrated; calibrate first: run the prepared model on a few representative batches before convertStatic`);
  }
  try {
    const wObs = m.weightObserver();
    noGrad(() => wObs.call(ops.detach(m.weight)));
    const qw = quantizeWeight(op, m.weight, wObs.calculateQparams());
    return new QuantizedLinear(qw, floatBias(m.bias), activationQparams(op, m.input_observer.calculateQparams(), 'input'),
      activationQparams(op, m.activation_post_process.calculateQparams(), 'output'), m.relu);
  } catch (e) {
    throw new TensorslimError(op, `${label}: ${(e as Error).message}`);
  }
}

/** Convert a trained QatLinear to a QuantizedLinear with the qparams its fake quantizers hold. */
export function convertQatLinear(name: string, m: QatLinear): QuantizedLinear {
  const op = 'convertQat';
  const label = `layer '${name}' (Linear(${m.inFeatures}, ${m.outFeatures}))`;
  const inObs = m.input_fake_quant.activation_post_process, outObs = m.activation_post_process.activation_post_process;
  if (!inObs.calibrated || !outObs.calibrated) {
    throw new TensorslimError(op, `${label} has never run; train (or calibrate) the prepared model first`);
  }
  try {
    const wfq = m.weight_fake_quant;
    noGrad(() => { if (wfq.observerEnabled) wfq.activation_post_process.call(ops.detach(m.weight)); });
    const qw = quantizeWeight(op, m.weight, wfq.calculateQparams());
    return new QuantizedLinear(qw, floatBias(m.bias), activationQparams(op, m.input_fake_quant.calculateQparams(), 'input'),
      activationQparams(op, m.activation_post_process.calculateQparams(), 'output'), m.relu);
  } catch (e) {
    throw new TensorslimError(op, `${label}: ${(e as Error).message}`);
  }
}
