// ONNX interop: export a model to an .onnx file that ONNX Runtime runs (export.ts), import an
// .onnx file as a trainable Module (import.ts), and the layers ONNX graphs need beyond nn/ (layers.ts).
// See docs/INTEROP.md for the supported ops each way.

export { exportOnnx, serializeOnnx, registerOnnxEmitter, type OnnxEmitter, type ExportOnnxOptions, type ExportOnnxResult, type OnnxValueSummary } from './export.js';
export { AvgPool2d, GlobalAvgPool2d, Reshape, Transpose, FrozenBatchNorm, OnnxLayer, type OnnxEmitContext } from './layers.js';
export { importOnnx, importOnnxBytes, IMPORT_OPS, IMPORT_MIN_OPSET, IMPORT_MAX_OPSET, type ImportedOnnx } from './import.js';
export { OnnxGraph, importOnnxGraph, GRAPH_OPS, type GraphStep, type GraphIO } from './graph.js';
