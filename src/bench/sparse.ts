// Benchmark: a pruned Linear run sparse (CSR kernel) against the same layer run dense, at one
// sparsity and batch size. Times forward passes under noGrad (median of repeats after warm-up) on
// the active backend and checks once that both give the same outputs. Reports numbers; asserts
// nothing about speed.

import { getBackend } from '../backend/registry.js';
import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { Generator, defaultGenerator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import { Linear } from '../nn/index.js';
import { prune } from '../compress/index.js';
import { medianMs as timeIt } from './machine.js';

/** Settings of benchSparse (defaults: the 90%-sparse 1200 x 1200 Linear at batch 1). */
export interface SparseBenchOptions {
  sparsity?: number;
  batch?: number;
  inFeatures?: number;
  outFeatures?: number;
  /** Timed repeats per variant (default: as many as fit in about `budgetMs`, between 5 and 200). */
  repeats?: number;
  /** Time budget per variant used to pick the repeats (default 300 ms). */
  budgetMs?: number;
  seed?: number;
}

/** The dense-vs-sparse timing both sparse benchmarks report (JSON-ready). */
export interface SparseTiming {
  bench: 'sparse';
  sparsity: number;
  batch: number;
  nonzeros: number;
  /** Median milliseconds of one forward pass. */
  denseMs: number;
  sparseMs: number;
  /** denseMs / sparseMs. */
  speedup: number;
  repeats: number;
  backend: string;
}

/** What benchSparse returns (JSON-ready): one layer's timing. */
export interface SparseBenchResult extends SparseTiming {
  inFeatures: number;
  outFeatures: number;
}

/**
 * Time a `sparsity`-pruned Linear(inFeatures, outFeatures) at `batch`, dense vs SparseLinear.
 * @example
 * benchSparse({ sparsity: 0.9, batch: 1, inFeatures: 1200, outFeatures: 1200 })
 * // { bench: 'sparse', sparsity: 0.9, denseMs: ..., sparseMs: ..., speedup: ..., ... }
 */
export function benchSparse(opts: SparseBenchOptions = {}): SparseBenchResult {
  const op = 'benchSparse';
  const sparsity = opts.sparsity ?? 0.9, batch = opts.batch ?? 1;
  const inF = opts.inFeatures ?? 1200, outF = opts.outFeatures ?? 1200;
  if (!(sparsity >= 0 && sparsity <= 1)) throw new TensorslimError(op, `sparsity must be in [0, 1], got ${sparsity}`);
  for (const [k, v] of [['batch', batch], ['inFeatures', inF], ['outFeatures', outF]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new TensorslimError(op, `${k} must be a positive integer, got ${v}`);
  }
  if (opts.repeats !== undefined && (!Number.isInteger(opts.repeats) || opts.repeats < 1)) throw new TensorslimError(op, `repeats must be a positive integer, got ${opts.repeats}`);
  const gen = new Generator(opts.seed ?? 0);
  const rng = defaultGenerator.getState();
  const dense = new Linear(inF, outF); // its default init draws from the default generator: put it back
  defaultGenerator.setState(rng);
  noGrad(() => {
    ops.assign(dense.weight, ops.rand([outF, inF], { generator: gen }));
    ops.assign(dense.bias!, ops.rand([outF], { generator: gen }));
  });
  prune.l1Unstructured(dense, 'weight', sparsity);
  prune.remove(dense, 'weight');
  dense.eval();
  const sparse = prune.SparseLinear.fromLinear(dense);
  sparse.eval();
  const x = ops.rand([batch, inF], { generator: gen });
  const runDense = (): Tensor => noGrad(() => dense.call(x));
  const runSparse = (): Tensor => noGrad(() => sparse.call(x));

  // same outputs (float32 sums in a different order: relative tolerance)
  const a = runDense().dataSync(), b = runSparse().dataSync();
  for (let i = 0; i < a.length; i++) {
    if (Math.abs(a[i]! - b[i]!) > 1e-4 * (1 + Math.abs(a[i]!))) {
      throw new TensorslimError(op, `sparse and dense outputs differ at ${i}: ${b[i]} vs ${a[i]}`);
    }
  }
  // warm-up, then pick repeats to fit the budget
  const once = Math.max(timeIt(runDense, 2), timeIt(runSparse, 2), 1e-3);
  const repeats = opts.repeats ?? Math.min(200, Math.max(5, Math.floor((opts.budgetMs ?? 300) / once)));
  const denseMs = timeIt(runDense, repeats);
  const sparseMs = timeIt(runSparse, repeats);
  return {
    bench: 'sparse', sparsity, batch, inFeatures: inF, outFeatures: outF, nonzeros: sparse.nnz,
    denseMs, sparseMs, speedup: sparseMs > 0 ? denseMs / sparseMs : Infinity, repeats, backend: getBackend().name,
  };
}
