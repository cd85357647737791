// TensorFlow.js interop: layers-model import (model.json + weight shards). See import.ts.
export { importTfjs, importTfjsArtifacts, TFJS_LAYERS, type ImportedTfjs, type TfjsWeightSpec } from './import.js';
export { ClippedReLU, TfjsGraph, ZeroPad2d, type TfjsMerge, type TfjsNode } from './layers.js';
