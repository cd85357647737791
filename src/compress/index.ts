export * as prune from './prune/index.js';
