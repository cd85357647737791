// ONNX export of the int8 layers as QDQ graphs (QuantizeLinear / DequantizeLinear around the float
// op, which ONNX Runtime fuses into integer kernels): weights stored as int8 with per-channel
// scales (DequantizeLinear axis 0, opset >= 13), activations quantized with the layer's calibrated
// qparams (static) or DynamicQuantizeLinear (dynamic). Registered with exportOnnx when this module
// loads (compress/quant/index.ts imports it), since io/ may not import compress/.

import { TensorslimError } from '../../core/errors.js';
import type { Tensor } from '../../core/tensor.js';
import { registerOnnxEmitter, type OnnxEmitContext } from '../../io/onnx/index.js';
import { ELEM, attr } from '../../io/onnx/proto.js';
import { DynamicQuantizedLinear, QuantizedLinear, type ActivationQParams } from './modules.js';
import { DynamicQuantizedConv2d, QuantizedConv2d } from './conv.js';
import { QuantizedMaxPool2d } from './int8_flow.js';
import type { QuantizedTensor } from './qtensor.js';

function needOpset(g: OnnxEmitContext, what: string): void {
  if (g.opset < 13) throw new TensorslimError('exportOnnx', `${what}: per-channel int8 weights need DequantizeLinear with an axis, opset >= 13; pass { opset: 13 } or more`);
}

/** DequantizeLinear of an int8 per-channel weight (axis 0) back to float. */
function weightDq(g: OnnxEmitContext, w: QuantizedTensor): string {
  const q = g.constTensor('weight_int8', ELEM.INT8, w.shape, w.data);
  const s = g.constTensor('weight_scale', ELEM.FLOAT, [w.scales.length], w.scales);
  const z = g.constTensor('weight_zero_point', ELEM.INT8, [w.zeroPoints.length], w.zeroPoints);
  return g.node('DequantizeLinear', [q, s, z], [attr('axis', 0)]);
}

/** Quantize then dequantize `x` with per-tensor qparams (what the int8 layer does to its input or output). */
function qdq(g: OnnxEmitContext, x: string, q: ActivationQParams, base: string): string {
  const s = g.constTensor(`${base}_scale`, ELEM.FLOAT, [], [q.scale]);
  const z = g.constTensor(`${base}_zero_point`, q.dtype === 'qint8' ? ELEM.INT8 : ELEM.UINT8, [], [q.zeroPoint]);
  return g.node('DequantizeLinear', [g.node('QuantizeLinear', [x, s, z]), s, z]);
}

function linear(g: OnnxEmitContext, x: string, rank: number, w: string, bias: Float32Array | null, out: number): string {
  const b = bias === null ? null : g.constTensor('bias', ELEM.FLOAT, [out], bias);
  if (rank === 2) return g.node('Gemm', b === null ? [x, w] : [x, w, b], [attr('transB', 1)]);
  const mm = g.node('MatMul', [x, g.node('Transpose', [w], [attr('perm', [1, 0])])]);
  return b === null ? mm : g.node('Add', [mm, b]);
}

registerOnnxEmitter(QuantizedLinear, (m, g, x, input: Tensor) => {
  const q = m as QuantizedLinear;
  needOpset(g, 'QuantizedLinear');
  // inside a linked int8 run the layer reads its producer's codes, with the producer's output qparams
  let y = linear(g, qdq(g, x, q.link.input ?? q.input, 'input'), input.ndim, weightDq(g, q.weight), q.bias, q.outFeatures);
  if (q.relu) y = g.node('Relu', [y]);
  return qdq(g, y, q.output, 'output');
});

registerOnnxEmitter(DynamicQuantizedLinear, (m, g, x, input: Tensor) => {
  const q = m as DynamicQuantizedLinear;
  needOpset(g, 'DynamicQuantizedLinear');
  if (q.reduceRange) throw new TensorslimError('exportOnnx', 'DynamicQuantizedLinear with reduceRange (7-bit activations) has no ONNX form (DynamicQuantizeLinear is 8-bit); quantize with reduceRange false to export');
  const [xq, s, z] = g.nodeMulti('DynamicQuantizeLinear', [x], 3) as [string, string, string];
  return linear(g, g.node('DequantizeLinear', [xq, s, z]), input.ndim, weightDq(g, q.weight), q.bias, q.outFeatures);
});

/** A float Conv node over the (dequantized) input `xdq` with the layer's dequantized int8 weight. */
function conv(g: OnnxEmitContext, xdq: string, q: QuantizedConv2d | DynamicQuantizedConv2d): string {
  const c = q.conv;
  const inputs = [xdq, weightDq(g, q.weight)];
  if (q.bias !== null) inputs.push(g.constTensor('bias', ELEM.FLOAT, [c.outChannels], q.bias));
  return g.node('Conv', inputs, [attr('kernel_shape', c.kernelSize), attr('strides', c.stride), attr('pads', [c.padding[0], c.padding[1], c.padding[0], c.padding[1]]), attr('dilations', c.dilation), attr('group', 1)]);
}

registerOnnxEmitter(QuantizedConv2d, (m, g, x) => {
  const q = m as QuantizedConv2d;
  needOpset(g, 'QuantizedConv2d');
  let y = conv(g, qdq(g, x, q.link.input ?? q.input, 'input'), q);
  if (q.relu) y = g.node('Relu', [y]);
  return qdq(g, y, q.output, 'output');
});

registerOnnxEmitter(DynamicQuantizedConv2d, (m, g, x) => {
  const q = m as DynamicQuantizedConv2d;
  needOpset(g, 'DynamicQuantizedConv2d');
  if (q.reduceRange) throw new TensorslimError('exportOnnx', 'DynamicQuantizedConv2d with reduceRange (7-bit activations) has no ONNX form (DynamicQuantizeLinear is 8-bit); quantize with reduceRange false to export');
  const [xq, s, z] = g.nodeMulti('DynamicQuantizeLinear', [x], 3) as [string, string, string];
  return conv(g, g.node('DequantizeLinear', [xq, s, z]), q);
});

// max pooling inside a linked int8 run (pooling the codes is pooling the dequantized values)
registerOnnxEmitter(QuantizedMaxPool2d, (m, g, x) => {
  const p = m as QuantizedMaxPool2d;
  return g.node('MaxPool', [x], [attr('kernel_shape', p.kernelSize), attr('strides', p.stride), attr('pads', [p.padding[0], p.padding[1], p.padding[0], p.padding[1]]), attr('dilations', p.dilation)]);
});
