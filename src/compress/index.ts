// compress: model transforms (pruning, distillation, quantization), built on public seams.
export * as prune from './prune/index.js';
export * as distill from './distill/index.js';
export * as quant from './quant/index.js';
