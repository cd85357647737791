// Quantization (issue #20): quantized tensors, observers, fake quantization and the dynamic /
// static / quantization-aware workflows, built on the nn public seams (module swaps). See
// docs/QUANTIZATION.md.
export {
  QuantizedTensor, quantizePerTensor, quantizePerChannel, dequantize, qrange, type QDType, type QScheme,
} from './qtensor.js';
export {
  ObserverBase, MinMaxObserver, MovingAverageMinMaxObserver, PerChannelMinMaxObserver, MovingAveragePerChannelMinMaxObserver,
  type ObserverOptions, type ObserverQScheme, type QParams,
} from './observer.js';
export { fakeQuantizePerTensorAffine, fakeQuantizePerChannelAffine, fakeQuantizeLearnablePerTensorAffine } from './fake_quant.js';
export { HistogramObserver, EntropyObserver, histc } from './histogram.js';
export { FakeQuantize, LearnableFakeQuantize } from './fake_quantize.js';
export { defaultStaticQConfig, defaultQatQConfig, type QConfig, type QatQConfig, type ActivationObserverKind } from './qconfig.js';
export {
  DynamicQuantizedLinear, QuantizedLinear, QuantizedLinearBase, ObservedLinear, QatLinear, chooseDynamicQparams, ActivationCodes,
  quantizeDynamicActivation,
  PreparedLayer, ObservedLayer, QatLayer, defaultWeightObserver, type ActivationQParams, type ObservedLayerOptions, type QatLayerOptions,
} from './modules.js';
export {
  quantizeDynamic, prepareStatic, convertStatic, prepareQat, convertQat,
  type QuantizeDynamicOptions, type PrepareStaticOptions, type PrepareQatOptions,
} from './workflow.js';
export { serializeQuantized, saveQuantized, loadQuantized, QUANTIZED_METADATA_KEY, type SaveQuantizedOptions } from './quantized_file.js';
export { ObservedConv2d, QatConv2d, QuantizedConv2d, DynamicQuantizedConv2d, type Conv2dParams } from './conv.js';
export { encodeWeight, decodeWeight, encodeInt8Weight, weightFromCodes, type CodedWeight, type WeightQParams } from './weight_coding.js';
export { shareWeights, sharedWeightOf, attachSharedWeight, isQuantizedLayer, kmeans1d, type SharedWeight, type ShareReport, type QuantizedLayer } from './sharing.js';
export {
  isQuantizedCheckpoint, serializeQuantizedCheckpoint, saveQuantizedCheckpoint, loadQuantizedCheckpoint, quantizedLayerStats,
  serializeQuantizedGpt, loadQuantizedGpt,
  type QuantizedLayerStats,
} from './checkpoint.js';
export {
  runQuantize, densifySparseLayers, QUANT_MODES, QUANT_OBSERVERS, type QuantModeName, type RunQuantizeOptions, type RunQuantizeResult,
} from './run.js';
export { quantizedKernels } from './kernels.js';
export { linkInt8Layers, QuantizedMaxPool2d, int8MaxPool2d, type Int8Link } from './int8_flow.js';
export {
  WeightOnlyLinear, WeightOnlyEmbedding, quantizeWeightOnly, quantizeWeightOnlyTensor, dequantizeWeightOnly, checkWeightOnly, resolveGroupSize,
  type WeightOnlyOptions, type WeightOnlyScheme, type QuantizeWeightOnlyOptions,
} from './weight_only.js';
import './onnx.js';   // registers the int8 layers' ONNX (QDQ) export with exportOnnx
