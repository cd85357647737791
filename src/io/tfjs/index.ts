// TensorFlow.js interop: layers-model import (model.json + weight shards). See import.ts.
export { importTfjs, importTfjsArtifacts, TFJS_LAYERS, type ImportedTfjs, type TfjsWeightSpec } from './import.js';
export { ZeroPad2d } from './layers.js';
