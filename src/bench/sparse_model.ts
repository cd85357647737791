// Benchmark: a whole preset model (default `mlp`, LeNet-300-100) with `sparsity` of every Linear
// weight pruned by magnitude, run dense (masks baked into dense weights) against the same model
// with its Linear layers in CSR form (prune.toSparse), at one batch size. Forward passes under
// noGrad in eval mode; dense and sparse runs are interleaved so that load from other processes
// hits both alike; median of the repeats. Checks once that both give the same outputs. Reports
// numbers; asserts nothing about speed.

import { getBackend } from '../backend/registry.js';
import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { Generator, defaultGenerator } from '../core/random.js';
import type { Tensor } from '../core/tensor.js';
import * as ops from '../ops/index.js';
import type { Module } from '../nn/index.js';
import { createModel, isGptPreset, listModels, type PresetModel } from '../models/index.js';
import { prune } from '../compress/index.js';
import { machineInfo, median, type MachineInfo } from './machine.js';
import type { SparseTiming } from './sparse.js';

/** Settings of benchSparseModel. */
export interface SparseModelBenchOptions {
  /** Model preset (default 'mlp'). */
  model?: string;
  /** Fraction of each Linear weight pruned (default 0.9). */
  sparsity?: number;
  batch?: number;
  /** Timed repeats per variant (default: as many as fit in about `budgetMs`, between 5 and 300). */
  repeats?: number;
  /** Time budget per variant used to pick the repeats (default 400 ms). */
  budgetMs?: number;
  seed?: number;
}

/** What benchSparseModel returns (JSON-ready). */
export interface SparseModelBenchResult extends SparseTiming {
  model: string;
  params: number;
  machine: MachineInfo;
}

/**
 * Time a pruned preset model dense vs sparse (CSR Linear layers).
 * @example
 * benchSparseModel({ model: 'mlp', sparsity: 0.9, batch: 32 })
 * // { bench: 'sparse', model: 'mlp', denseMs: ..., sparseMs: ..., speedup: ..., ... }
 */
export function benchSparseModel(opts: SparseModelBenchOptions = {}): SparseModelBenchResult {
  const op = 'benchSparseModel';
  const name = opts.model ?? 'mlp', sparsity = opts.sparsity ?? 0.9, batch = opts.batch ?? 1;
  if (!(sparsity >= 0 && sparsity <= 1)) throw new TensorslimError(op, `sparsity must be in [0, 1], got ${sparsity}`);
  if (!Number.isInteger(batch) || batch < 1) throw new TensorslimError(op, `batch must be a positive integer, got ${batch}`);
  if (isGptPreset(name)) {
    throw new TensorslimError(op, `model ${name} is a GPT language model; the sparse benchmark times the image classifiers (${listModels({ task: 'image-classification' }).map((m) => m.name).join(', ')})`);
  }
  if (opts.repeats !== undefined && (!Number.isInteger(opts.repeats) || opts.repeats < 1)) throw new TensorslimError(op, `repeats must be a positive integer, got ${opts.repeats}`);
  // build both models from one seeded init, leaving the default generator where it was
  const rng = defaultGenerator.getState();
  let dense: PresetModel, sparse: PresetModel;
  try {
    defaultGenerator.manualSeed(opts.seed ?? 0);
    dense = createModel(name);
    defaultGenerator.manualSeed(opts.seed ?? 0);
    sparse = createModel(name);
  } finally {
    defaultGenerator.setState(rng);
  }
  const params = dense.numParameters();
  for (const m of [dense, sparse]) {
    prune.pruneWeights(m, sparsity, { layerTypes: ['Linear'] });
    for (const [layer] of prune.weightTargets(m, ['Linear'])) prune.remove(layer, 'weight');
    m.eval();
  }
  prune.toSparse(sparse, { minSparsity: 0 });
  const c = dense.config;
  const inputShape = c.arch === 'mlp' ? [c.inFeatures] : [...c.inputShape];
  const x = ops.rand([batch, ...inputShape], { generator: new Generator((opts.seed ?? 0) + 1) });
  // a preset model is a Module taking one Tensor; the PresetModel union hides call() behind its variants
  const run = (m: PresetModel) => (): Tensor => noGrad(() => (m as unknown as Module<[Tensor], Tensor>).call(x));
  const runDense = run(dense), runSparse = run(sparse);
  const a = runDense().dataSync(), b = runSparse().dataSync();
  for (let i = 0; i < a.length; i++) {
    if (Math.abs(a[i]! - b[i]!) > 1e-4 * (1 + Math.abs(a[i]!))) throw new TensorslimError(op, `sparse and dense outputs differ at ${i}: ${b[i]} vs ${a[i]}`);
  }
  const timeOnce = (f: () => Tensor): number => { const t0 = performance.now(); f().dataSync(); return performance.now() - t0; };
  for (let i = 0; i < 3; i++) { timeOnce(runDense); timeOnce(runSparse); }
  const once = Math.max(timeOnce(runDense), timeOnce(runSparse), 1e-3);
  const repeats = opts.repeats ?? Math.min(300, Math.max(5, Math.floor((opts.budgetMs ?? 400) / once)));
  const td: number[] = [], ts: number[] = [];
  for (let i = 0; i < repeats; i++) { td.push(timeOnce(runDense)); ts.push(timeOnce(runSparse)); }
  const denseMs = median(td), sparseMs = median(ts);
  return {
    bench: 'sparse', model: name, sparsity, batch, params, nonzeros: prune.countNonzeros(sparse),
    denseMs, sparseMs, speedup: sparseMs > 0 ? denseMs / sparseMs : Infinity, repeats, backend: getBackend().name, machine: machineInfo(),
  };
}
