// int8 Conv2d: ObservedConv2d (prepared for static quantization: float conv + input/output
// observers), QatConv2d (prepared for QAT: fake-quantized input, weight and output) and
// QuantizedConv2d (int8 in, int8 out). The convolution is the backend's QuantizedKernels.int8Conv2d:
// an im2col over the integer input (padding reads the input's zero point, which is what quantizing a
// zero-padded float image gives) followed by the same int8 GEMM as Linear, with the requantization and
// fused ReLU inside the kernel (natively: native/src/int8_linear.cc, writing NCHW directly).
// groups = 1, like nn.Conv2d.

import { Tensor } from '../../core/tensor.js';
import { TensorslimError, ShapeError } from '../../core/errors.js';
import { noGrad } from '../../core/engine.js';
import * as ops from '../../ops/index.js';
import type { Conv2dGeometry } from '../../backend/backend.js';
import type { Int8Storage } from '../../backend/quantized.js';
import { Module } from '../../nn/module.js';
import type { Conv2d } from '../../nn/conv.js';
import type { Parameter } from '../../nn/parameter.js';
import { QuantizedTensor, checkScale, quantizePerChannel } from './qtensor.js';
import { ObserverBase, type QParams } from './observer.js';
import { FakeQuantize, LearnableFakeQuantize } from './fake_quantize.js';
import { quantizedKernels } from './kernels.js';
import { ActivationCodes, ObservedLayer, QatLayer, defaultWeightObserver, quantizeDynamicActivation, quantizeWeight, type ActivationQParams, type ObservedLayerOptions, type QatLayerOptions } from './modules.js';
import { int8Input, int8Output, type Int8Link } from './int8_flow.js';

/** The geometry of a Conv2d layer (everything but the input size): the Conv2d fields of the same names. */
export type Conv2dParams = Pick<Conv2d, 'inChannels' | 'outChannels' | 'kernelSize' | 'stride' | 'padding' | 'dilation'>;

function paramsOf(c: Conv2d): Conv2dParams {
  return { inChannels: c.inChannels, outChannels: c.outChannels, kernelSize: [...c.kernelSize], stride: [...c.stride], padding: [...c.padding], dilation: [...c.dilation] };
}

const label = (p: Conv2dParams): string => `Conv2d(${p.inChannels}, ${p.outChannels}, kernelSize=${p.kernelSize.join('x')})`;

/**
 * A Conv2d prepared for static quantization: computes as before (+ fused ReLU) and records its
 * input and output ranges. convertStatic turns it into a QuantizedConv2d.
 * @example prepareStatic(lenet); calibrate(lenet); convertStatic(lenet);
 */
export class ObservedConv2d extends ObservedLayer {
  readonly conv: Conv2dParams;

  constructor(c: Conv2d, opts: ObservedLayerOptions) {
    super(c, opts);
    this.conv = paramsOf(c);
  }

  forward(x: Tensor): Tensor {
    const squeeze = x.ndim === 3;
    const x4 = squeeze ? ops.unsqueeze(x, 0) : x;
    this.quantizeStep(this.input_observer, 'input', x4);
    let y = ops.conv2d(x4, this.weight, this.bias, { stride: this.conv.stride, padding: this.conv.padding, dilation: this.conv.dilation });
    if (this.relu) y = ops.relu(y);
    this.quantizeStep(this.activation_post_process, 'output', y);
    return squeeze ? ops.squeeze(y, 0) : y;
  }

  override extraRepr(): string { return `${label(this.conv)}, relu=${this.relu}`; }
}

/**
 * A statically quantized Conv2d (torch's nn.quantized.Conv2d / ConvReLU2d): int8 per-channel
 * weights (O, C, kh, kw), calibrated input and output qparams, int32 accumulation, requantization
 * (and ReLU) in the kernel. forward() takes and returns float NCHW (or CHW) tensors.
 * @example convertStatic(prepared).call(images)   // Conv2d layers run as QuantizedConv2d
 */
export class QuantizedConv2d extends Module {
  readonly conv: Conv2dParams;
  readonly weight: QuantizedTensor;
  readonly bias: Float32Array | null;
  readonly input: ActivationQParams;
  readonly output: ActivationQParams;
  readonly relu: boolean;
  /** How this layer exchanges int8 codes with its neighbours (linkInt8Layers sets it; default: float in and out). */
  link: Int8Link = { input: null, codesOut: false };

  constructor(conv: Conv2dParams, weight: QuantizedTensor, bias: Float32Array | null, input: ActivationQParams, output: ActivationQParams, relu = false) {
    super();
    checkConvWeight('QuantizedConv2d', conv, weight, bias);
    checkScale('QuantizedConv2d', input.scale, 'input scale');
    checkScale('QuantizedConv2d', output.scale, 'output scale');
    this.conv = conv; this.weight = weight; this.bias = bias; this.input = input; this.output = output; this.relu = relu;
  }

  /** int8 in (N, C, H, W), int8 out (N, O, OH, OW). @example m.forwardQuantized(quantizePerTensor(x, m.input.scale, m.input.zeroPoint, 'quint8')) */
  forwardQuantized(x: QuantizedTensor): QuantizedTensor {
    const op = `Quantized${label(this.conv)}`;
    if (!(x instanceof QuantizedTensor) || x.axis !== null || x.dtype !== this.input.dtype) throw new TensorslimError(op, `expected a per-tensor ${this.input.dtype} QuantizedTensor`);
    if (x.shape.length !== 4 || x.shape[1] !== this.conv.inChannels) throw new ShapeError(op, `input [${x.shape.join(', ')}] must be (N, ${this.conv.inChannels}, H, W)`);
    const g: Conv2dGeometry = ops.conv2dGeometry(op, x.shape, this.conv.kernelSize, this.conv.stride, this.conv.padding, this.conv.dilation);
    const kernels = quantizedKernels();
    if (!kernels.int8Conv2d) throw new TensorslimError(op, `backend has no int8Conv2d kernel (int8 path '${kernels.int8Path}'); use TENSORSLIM_BACKEND=reference or native`);
    const out = this.output;
    const O = this.conv.outChannels;
    // integer im2col + the int8 GEMM with requantization (and ReLU) in its epilogue, NCHW out
    const nchw = kernels.int8Conv2d(
      { data: x.data, rows: g.n, cols: g.c * g.h * g.w, scale: x.scale, zeroPoint: x.zeroPoint },
      { data: this.weight.data as Int8Array, rows: O, cols: g.c * g.kh * g.kw, scales: this.weight.scales, zeroPoints: this.weight.zeroPoints },
      this.bias, g, { kind: 'requantize', dtype: out.dtype === 'qint8' ? 'int8' : 'uint8', scale: out.scale, zeroPoint: out.zeroPoint, relu: this.relu },
    ) as Int8Storage;
    return new QuantizedTensor({ dtype: out.dtype, shape: [g.n, O, g.oh, g.ow], data: nchw, scales: Float32Array.of(out.scale), zeroPoints: Int32Array.of(out.zeroPoint), axis: null });
  }

  forward(x: Tensor): Tensor {
    const op = `Quantized${label(this.conv)}`;
    if (!(x instanceof Tensor) || (x.ndim !== 3 && x.ndim !== 4)) throw new ShapeError(op, 'expected input (N, C, H, W) or (C, H, W)');
    const squeeze = x.ndim === 3;
    const x4 = squeeze ? ops.unsqueeze(x, 0) : x;
    // inside a linked int8 run (linkInt8Layers, int8_flow.ts): uint8 codes in and/or out
    const y = int8Output(this.forwardQuantized(int8Input(op, x4, this.link.input, this.input)), this.link.codesOut);
    return squeeze ? ops.squeeze(y, 0) : y;
  }

  override extraRepr(): string { return `${label(this.conv)}, relu=${this.relu}`; }
}

/**
 * A Conv2d with int8 per-channel weights whose input is quantized per batch at run time (torch's
 * nn.quantized.dynamic.Conv2d): x -> uint8 with chooseDynamicQparams(min(x), max(x)) -> the int8
 * convolution (int32 accumulation) -> float32 NCHW out. quantizeDynamic(model, { types: ['Linear',
 * 'Conv2d'] }) builds it; no calibration.
 * @example const q = DynamicQuantizedConv2d.fromFloat(new Conv2d(1, 6, 5)); q.call(randn([2, 1, 28, 28])).shape  // [2, 6, 24, 24]
 */
export class DynamicQuantizedConv2d extends Module {
  readonly conv: Conv2dParams;
  readonly weight: QuantizedTensor;
  readonly bias: Float32Array | null;
  /** Quantize activations to 7 bits (0..127), as DynamicQuantizedLinear's option. */
  readonly reduceRange: boolean;

  constructor(conv: Conv2dParams, weight: QuantizedTensor, bias: Float32Array | null, opts: { reduceRange?: boolean } = {}) {
    super();
    checkConvWeight('DynamicQuantizedConv2d', conv, weight, bias);
    this.conv = conv; this.weight = weight; this.bias = bias; this.reduceRange = opts.reduceRange ?? false;
  }

  /**
   * Quantize a float Conv2d (groups 1): the weight through `weightObserver` (default per-channel
   * symmetric qint8 min-max), the bias kept in float32.
   * @example DynamicQuantizedConv2d.fromFloat(lenet.getSubmodule('1') as Conv2d)
   */
  static fromFloat(c: Conv2d, opts: { weightObserver?: ObserverBase; reduceRange?: boolean } = {}): DynamicQuantizedConv2d {
    const op = 'DynamicQuantizedConv2d.fromFloat';
    if (c.groups !== 1) throw new TensorslimError(op, `a grouped Conv2d (groups=${c.groups}) has no int8 convolution; int8 convolution supports groups=1 only`);
    const obs = opts.weightObserver ?? defaultWeightObserver();
    noGrad(() => obs.call(ops.detach(c.weight)));
    const qw = quantizeWeight(op, c.weight, obs.calculateQparams());
    return new DynamicQuantizedConv2d(paramsOf(c), qw, c.bias === null ? null : Float32Array.from(c.bias.dataSync()), { reduceRange: opts.reduceRange });
  }

  forward(x: Tensor): Tensor {
    const op = `DynamicQuantized${label(this.conv)}`;
    if (!(x instanceof Tensor) || (x.ndim !== 3 && x.ndim !== 4)) throw new ShapeError(op, 'expected input (N, C, H, W) or (C, H, W)');
    const squeeze = x.ndim === 3;
    const x4 = squeeze ? ops.unsqueeze(x, 0) : x;
    if (x4.shape[1] !== this.conv.inChannels) throw new ShapeError(op, `input [${x.shape.join(', ')}] must be (N, ${this.conv.inChannels}, H, W)`);
    const g = ops.conv2dGeometry(op, x4.shape, this.conv.kernelSize, this.conv.stride, this.conv.padding, this.conv.dilation);
    const kernels = quantizedKernels();
    if (!kernels.int8Conv2d) throw new TensorslimError(op, `backend has no int8Conv2d kernel (int8 path '${kernels.int8Path}'); use TENSORSLIM_BACKEND=reference or native`);
    const xa = quantizeDynamicActivation(op, x4, g.c * g.h * g.w, this.reduceRange, this.#codes);
    const O = this.conv.outChannels;
    const y = kernels.int8Conv2d(xa,
      { data: this.weight.data as Int8Array, rows: O, cols: g.c * g.kh * g.kw, scales: this.weight.scales, zeroPoints: this.weight.zeroPoints },
      this.bias, g, { kind: 'float32' }) as Float32Array;
    const out = new Tensor(y, 'float32', [g.n, O, g.oh, g.ow]);
    return squeeze ? ops.squeeze(out, 0) : out;
  }

  override extraRepr(): string { return `${label(this.conv)}, bias=${this.bias !== null}`; }

  /** The activation codes of the last batch: one buffer reused by every forward pass. */
  readonly #codes = new ActivationCodes();
}

/** The checks both int8 Conv2d layers make on their weight and bias. */
function checkConvWeight(op: string, conv: Conv2dParams, weight: QuantizedTensor, bias: Float32Array | null): void {
  const [kh, kw] = conv.kernelSize;
  const want = [conv.outChannels, conv.inChannels, kh, kw];
  if (weight.dtype !== 'qint8' || weight.axis !== 0 || weight.shape.join() !== want.join()) {
    throw new TensorslimError(op, `weight must be qint8 [${want.join(', ')}] per channel along axis 0, got ${weight.dtype} [${weight.shape.join(', ')}] axis ${weight.axis}`);
  }
  if (bias !== null && bias.length !== conv.outChannels) throw new ShapeError(op, `bias has ${bias.length} values, expected ${conv.outChannels}`);
}

function perTensor(op: string, q: QParams, what: string): ActivationQParams {
  if (q.axis !== null) throw new TensorslimError(op, `${what} qparams must be per tensor`);
  return { dtype: q.dtype, scale: q.scales[0]!, zeroPoint: q.zeroPoints[0]! };
}

function build(op: string, conv: Conv2dParams, weight: Tensor, wq: QParams, bias: Tensor | null, input: QParams, output: QParams, relu: boolean): QuantizedConv2d {
  return new QuantizedConv2d(conv, quantizeWeight(op, weight, wq), bias === null ? null : Float32Array.from(bias.dataSync()),
    perTensor(op, input, 'input'), perTensor(op, output, 'output'), relu);
}

/** Convert a calibrated ObservedConv2d; `name` goes into errors. */
export function convertObservedConv(name: string, m: ObservedConv2d): QuantizedConv2d {
  const op = 'convertStatic';
  const where = `layer '${name}' (${label(m.conv)})`;
  if (!m.input_observer.calibrated || !m.activation_post_process.calibrated) {
    throw new TensorslimError(op, `${where} has not been calibrated; calibrate first: run the prepared model on a few representative batches before convertStatic`);
  }
  try {
    const wObs = m.weightObserver();
    noGrad(() => wObs.call(ops.detach(m.weight)));
    return build(op, m.conv, m.weight, wObs.calculateQparams(), m.bias, m.input_observer.calculateQparams(),
      m.activation_post_process.calculateQparams(), m.relu);
  } catch (e) {
    throw new TensorslimError(op, `${where}: ${(e as Error).message}`);
  }
}

/**
 * A Conv2d prepared for quantization-aware training: act_fq(conv(in_fq(x), weight_fq(W), b))
 * (+ ReLU before act_fq when fused), over the original Parameter objects.
 * @example prepareQat(lenet); train(lenet); convertQat(lenet);
 */
export class QatConv2d extends QatLayer {
  readonly conv: Conv2dParams;

  constructor(c: Conv2d, opts: QatLayerOptions) {
    super(c, opts);
    this.conv = paramsOf(c);
  }

  forward(x: Tensor): Tensor {
    const squeeze = x.ndim === 3;
    const x4 = this.quantizeStep(this.input_fake_quant, 'input', squeeze ? ops.unsqueeze(x, 0) : x);
    const w = this.quantizeStep(this.weight_fake_quant, 'weight', this.weight);
    let y = ops.conv2d(x4, w, this.bias, { stride: this.conv.stride, padding: this.conv.padding, dilation: this.conv.dilation });
    if (this.relu) y = ops.relu(y);
    y = this.quantizeStep(this.activation_post_process, 'output', y);
    return squeeze ? ops.squeeze(y, 0) : y;
  }

  override extraRepr(): string { return `${label(this.conv)}, relu=${this.relu}`; }
}

/** Convert a trained QatConv2d to a QuantizedConv2d with the qparams its fake quantizers hold. */
export function convertQatConv(name: string, m: QatConv2d): QuantizedConv2d {
  const op = 'convertQat';
  const where = `layer '${name}' (${label(m.conv)})`;
  if (!m.input_fake_quant.activation_post_process.calibrated || !m.activation_post_process.activation_post_process.calibrated) {
    throw new TensorslimError(op, `${where} has never run; train (or calibrate) the prepared model first`);
  }
  try {
    const wfq = m.weight_fake_quant;
    noGrad(() => { if (wfq.observerEnabled) wfq.activation_post_process.call(ops.detach(m.weight)); });
    return build(op, m.conv, m.weight, wfq.calculateQparams(), m.bias, m.input_fake_quant.calculateQparams(),
      m.activation_post_process.calculateQparams(), m.relu);
  } catch (e) {
    throw new TensorslimError(op, `${where}: ${(e as Error).message}`);
  }
}
