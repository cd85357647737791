// tensorslim public API: one entry point with full type declarations.

import './autograd/index.js';

export { Tensor, type NestedArray, type GradNode } from './core/tensor.js';
export { TensorslimError, ShapeError, DTypeError } from './core/errors.js';
export { Generator, manualSeed, defaultGenerator, type GeneratorState } from './core/random.js';
export type { DType, FloatDType, TypedArray } from './backend/dtype.js';
export type { Backend, View } from './backend/backend.js';
export { getBackend, listBackends, registerBackend } from './backend/registry.js';
export { setBackend } from './core/backend_select.js';
export { configurePool, poolStats, resetPoolStats, type PoolStats } from './backend/pool.js';
export { configureHeapTrim, trimFreeHeap } from './backend/heap.js';
export type { HeapTrimInfo } from './backend/backend.js';
export * from './ops/index.js';
export * from './autograd/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
export * from './compress/index.js';
/** Distributed training on Gloo (process group, collectives, DDP, launcher): see docs/DISTRIBUTED.md. */
export * as distributed from './distributed/index.js';
export * from './data/index.js';
export * from './io/index.js';
export * from './models/index.js';
export * from './train/index.js';
export * from './report/index.js';
export { exportOnnx, serializeOnnx, importOnnx, importOnnxBytes, type ExportOnnxOptions, type ExportOnnxResult, type OnnxValueSummary, type ImportedOnnx } from './io/onnx/index.js';
export * as onnx from './io/onnx/index.js';
export { importTfjs, importTfjsArtifacts, type ImportedTfjs } from './io/tfjs/index.js';
export * as tfjs from './io/tfjs/index.js';
