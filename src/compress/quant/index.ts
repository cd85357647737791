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
