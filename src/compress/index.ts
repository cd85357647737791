// compress: model transforms (pruning; distillation and quantization follow), built on public seams.
export * as prune from './prune/index.js';
export * as distill from './distill/index.js';
