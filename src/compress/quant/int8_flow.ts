// int8 end to end between static quantized layers. After convertStatic / convertQat / loadQuantized,
// linkInt8Layers(model) walks every Sequential and links each quantized layer (QuantizedLinear,
// QuantizedConv2d with quint8 activations) to the next one when only int8-transparent modules lie
// between them: Identity (a fused ReLU's slot), Flatten, ImageView (views), and MaxPool2d, which is
// swapped for QuantizedMaxPool2d (max commutes with the monotone quantization, so pooling the codes
// gives the codes of the pooled values). A linked producer returns its output codes as a uint8 Tensor
// instead of dequantizing them; the linked consumer reads those codes with the producer's output
// scale and zero point (torch's semantics: a quantized tensor carries its own qparams, and
// nn.quantized layers use the input's), so no float round trip happens between the layers. The first
// layer of a run still quantizes its float input, the last one dequantizes its output.
//
// The structure and the state dict do not change (QuantizedMaxPool2d has no state and the same
// geometry), the model is linked in place, and a linked layer still accepts float input (it then
// quantizes with its own calibrated input qparams, as before).

import { Tensor } from '../../core/tensor.js';
import { ShapeError, TensorslimError } from '../../core/errors.js';
import * as ops from '../../ops/index.js';
import { getBackend } from '../../backend/registry.js';
import type { Conv2dGeometry } from '../../backend/backend.js';
import { Module, type AnyModule } from '../../nn/module.js';
import { Identity } from '../../nn/linear.js';
import { Flatten } from '../../nn/dropout.js';
import { Sequential } from '../../nn/container.js';
import { MaxPool2d } from '../../nn/conv.js';
import { ImageView } from '../../models/presets.js';
import { QuantizedTensor, dequantize, quantizePerTensor } from './qtensor.js';
import { quantizedKernels } from './kernels.js';

/** Per-tensor activation qparams (the shape of modules.ts's ActivationQParams, restated to keep imports one-way). */
interface ActivationQParams {
  readonly dtype: 'quint8' | 'qint8';
  readonly scale: number;
  readonly zeroPoint: number;
}

/** How a static int8 layer exchanges data with its neighbours in a linked run (set by linkInt8Layers). */
export interface Int8Link {
  /** The qparams of the uint8 codes this layer receives from its producer, or null (float input only). */
  input: ActivationQParams | null;
  /** Return the output codes as a uint8 Tensor (a linked consumer follows) instead of dequantizing. */
  codesOut: boolean;
}

/** A layer that can join an int8 run. */
interface Int8Linkable {
  readonly input: ActivationQParams;
  readonly output: ActivationQParams;
  link: Int8Link;
}

/**
 * The layer's input as a QuantizedTensor: a uint8 Tensor from a linked producer is read as codes with
 * the producer's qparams (no copy when contiguous); a float tensor is quantized with the layer's own.
 * @example const qx = int8Input('QuantizedLinear(400, 120)', x, layer.link.input, layer.input);
 */
export function int8Input(op: string, x: Tensor, linked: ActivationQParams | null, own: ActivationQParams): QuantizedTensor {
  if (x.dtype !== 'uint8') return quantizePerTensor(x, own.scale, own.zeroPoint, own.dtype);
  if (linked === null) {
    throw new TensorslimError(op, 'got a uint8 tensor, but this layer is not linked to an int8 producer (linkInt8Layers) and takes float32 input; pass float32 values');
  }
  const data = x.isContiguous() && x.offset === 0 && x.data.length === x.size ? x.data as Uint8Array : x.dataSync() as Uint8Array;
  return new QuantizedTensor({ dtype: 'quint8', shape: x.shape, data, scales: Float32Array.of(linked.scale), zeroPoints: Int32Array.of(linked.zeroPoint), axis: null });
}

/**
 * The layer's output: the codes as a uint8 Tensor (same storage) when a linked consumer follows,
 * else the float32 dequantization.
 * @example return int8Output(this.forwardQuantized(qx), this.link.codesOut);
 */
export function int8Output(q: QuantizedTensor, codesOut: boolean): Tensor {
  if (!codesOut) return dequantize(q);
  if (!(q.data instanceof Uint8Array)) throw new TensorslimError('int8Output', 'only quint8 outputs travel as codes; unlink this layer');
  return new Tensor(q.data, 'uint8', q.shape);
}

/**
 * Max pooling of uint8 codes (N, C, H, W) -> (N, C, OH, OW): the maximum over each window's positions
 * inside the image (a float MaxPool2d pads with -infinity, which never wins), on the active backend's
 * int8MaxPool2d kernel (native: native/src/int8_linear.cc; reference: its TypeScript twin).
 * @example int8MaxPool2d(new Uint8Array([1, 5, 3, 2]), geometry)  // Uint8Array [5] for a 2x2 window on 1x1x2x2
 */
export function int8MaxPool2d(x: Uint8Array, g: Conv2dGeometry): Uint8Array {
  const k = quantizedKernels().int8MaxPool2d;
  if (k === undefined) throw new TensorslimError('int8MaxPool2d', `backend '${getBackend().name}' has no int8MaxPool2d kernel; use TENSORSLIM_BACKEND=reference or native`);
  return k(x, g);
}

/**
 * MaxPool2d over the uint8 codes of a linked int8 run (linkInt8Layers puts it in a MaxPool2d's slot):
 * the same geometry and no state. Float input is pooled in float32, as MaxPool2d does.
 * @example new QuantizedMaxPool2d(new MaxPool2d(2)).call(codes)   // uint8 (N, C, H/2, W/2)
 */
export class QuantizedMaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly float: MaxPool2d;

  constructor(pool: MaxPool2d) {
    super();
    this.kernelSize = [...pool.kernelSize]; this.stride = [...pool.stride]; this.padding = [...pool.padding]; this.dilation = [...pool.dilation];
    this.float = pool;
  }

  forward(x: Tensor): Tensor {
    if (x.dtype !== 'uint8') return this.float.call(x);
    const op = `QuantizedMaxPool2d(kernelSize=${this.kernelSize.join('x')})`;
    if (x.ndim !== 4 && x.ndim !== 3) throw new ShapeError(op, `expected codes (N, C, H, W) or (C, H, W), got [${x.shape.join(', ')}]`);
    const shape = x.ndim === 3 ? [1, ...x.shape] : [...x.shape];
    const g = ops.conv2dGeometry(op, shape, this.kernelSize, this.stride, this.padding, this.dilation);
    const data = x.isContiguous() && x.offset === 0 && x.data.length === x.size ? x.data as Uint8Array : x.dataSync() as Uint8Array;
    const y = int8MaxPool2d(data, g);
    return new Tensor(y, 'uint8', x.ndim === 3 ? [g.c, g.oh, g.ow] : [g.n, g.c, g.oh, g.ow]);
  }

  override extraRepr(): string {
    return `kernelSize=${this.kernelSize.join('x')}, stride=${this.stride.join('x')}, padding=${this.padding.join('x')}, dilation=${this.dilation.join('x')}`;
  }
}

function linkable(m: AnyModule): m is AnyModule & Int8Linkable {
  const l = m as Partial<Int8Linkable>;
  return l.link !== undefined && l.input !== undefined && l.output !== undefined;
}

/** A module int8 codes pass through unchanged (views) or that pools them. */
function transparent(m: AnyModule): boolean {
  if (m instanceof Identity || m instanceof Flatten || m instanceof ImageView || m instanceof QuantizedMaxPool2d) return true;
  // a window always holds an image position when padding <= kernel / 2 (torch requires it too)
  return m instanceof MaxPool2d && 2 * m.padding[0] <= m.kernelSize[0] && 2 * m.padding[1] <= m.kernelSize[1];
}

/**
 * Link the static int8 layers of `model` (in place) so that int8 codes flow between them: see the
 * top of this file. Called by convertStatic, convertQat and loadQuantized; calling it again relinks
 * (after a swap). Returns the number of links made.
 * @example quant.convertStatic(lenet);   // links conv1 -> pool -> conv2 -> pool -> flatten -> fc1 -> fc2 -> fc3
 */
export function linkInt8Layers(model: AnyModule): number {
  let links = 0;
  for (const [, m] of model.namedModules()) {
    if (linkable(m)) m.link = { input: null, codesOut: false };
  }
  for (const [, seq] of model.namedModules()) {
    if (!(seq instanceof Sequential)) continue;
    const kids = seq.namedChildren();
    let producer: (AnyModule & Int8Linkable) | null = null;
    let between: [string, AnyModule][] = [];
    for (const [name, m] of kids) {
      if (linkable(m)) {
        if (producer !== null && producer.output.dtype === 'quint8' && m.input.dtype === 'quint8') {
          for (const [pn, pm] of between) if (pm instanceof MaxPool2d) seq.registerModule(pn, new QuantizedMaxPool2d(pm));
          producer.link = { ...producer.link, codesOut: true };
          m.link = { ...m.link, input: producer.output };
          links++;
        }
        producer = m;
        between = [];
      } else if (producer !== null && transparent(m)) {
        between.push([name, m]);
      } else {
        producer = null;
        between = [];
      }
    }
  }
  // a QuantizedMaxPool2d left outside any run (a relink after a swap) pools floats as MaxPool2d does
  return links;
}
