// The public pruning functions, with torch.nn.utils.prune's names in camelCase.

import { shapeEquals } from '../../backend/shape.js';
import { ShapeError, TensorslimError } from '../../core/errors.js';
import type { Generator } from '../../core/random.js';
import type { Tensor } from '../../core/tensor.js';
import type { AnyModule, Module } from '../../nn/index.js';
import { validateAmount, type Amount } from './amount.js';
import {
  l1UnstructuredMethod, lnStructuredMethod, nmStructuredMethod, randomStructuredMethod, randomUnstructuredMethod,
  scoresOf, type NormOrder, type PruningMethod,
} from './methods.js';
import { applyMethod, currentMask, installMask, originalParameter } from './reparam.js';

/**
 * Reparametrize without removing anything (an all-ones mask).
 * @example prune.identity(lin, 'weight')
 */
export function identity(module: AnyModule, name: string): void {
  const orig = originalParameter('prune.identity', module, name);
  installMask('prune.identity', module, name, currentMask(module, name, orig.size), 'identity');
}

/**
 * Zero the `amount` of (still unpruned) entries with the smallest |value| (or |importanceScores|).
 * `amount`: a fraction in [0, 1] or an integer count (> 1), or { count } / { fraction }.
 * @example prune.l1Unstructured(model.fc1, 'weight', 0.9)
 */
export function l1Unstructured(module: AnyModule, name: string, amount: Amount, opts: { importanceScores?: Tensor } = {}): void {
  validateAmount('prune.l1Unstructured', amount);
  applyMethod('prune.l1Unstructured', module, name, l1UnstructuredMethod(amount), opts.importanceScores);
}

/** Zero `amount` of the unpruned entries chosen at random (seeded). @example prune.randomUnstructured(lin, 'weight', 0.5) */
export function randomUnstructured(module: AnyModule, name: string, amount: Amount, opts: { generator?: Generator } = {}): void {
  validateAmount('prune.randomUnstructured', amount);
  applyMethod('prune.randomUnstructured', module, name, randomUnstructuredMethod(amount, opts.generator));
}

/**
 * Zero whole slices along `dim` with the smallest L_n norm (dim 0 of a Linear weight = output neurons).
 * @example prune.lnStructured(conv, 'weight', 0.5, 2, 0)   // half of the filters, by L2 norm
 */
export function lnStructured(module: AnyModule, name: string, amount: Amount, n: NormOrder, dim: number, opts: { importanceScores?: Tensor } = {}): void {
  validateAmount('prune.lnStructured', amount);
  applyMethod('prune.lnStructured', module, name, lnStructuredMethod(amount, n, dim), opts.importanceScores);
}

/** Zero random whole slices along `dim`. @example prune.randomStructured(lin, 'weight', 0.25, 0) */
export function randomStructured(module: AnyModule, name: string, amount: Amount, dim: number, opts: { generator?: Generator } = {}): void {
  validateAmount('prune.randomStructured', amount);
  applyMethod('prune.randomStructured', module, name, randomStructuredMethod(amount, dim, opts.generator));
}

/**
 * N:M semi-structured sparsity along the input axis: keep the N largest of every M weights.
 * @example prune.nmStructured(lin, 'weight', 2, 4)   // 2:4 sparsity
 */
export function nmStructured(module: AnyModule, name: string, n = 2, m = 4): void {
  applyMethod('prune.nmStructured', module, name, nmStructuredMethod(n, m));
}

/**
 * Prune with a mask you computed (1 = keep, 0 = prune); combined with an existing mask.
 * @example prune.customFromMask(lin, 'weight', mask)
 */
export function customFromMask(module: AnyModule, name: string, mask: Tensor): void {
  const orig = originalParameter('prune.customFromMask', module, name);
  if (!shapeEquals(mask.shape, orig.shape)) {
    throw new ShapeError('prune.customFromMask', `mask shape (${mask.shape.join(', ')}) must equal ${name}'s shape (${orig.shape.join(', ')})`);
  }
  const cur = currentMask(module, name, orig.size);
  const m = scoresOf('prune.customFromMask', mask.dtype === 'float32' || mask.dtype === 'float64' ? mask : mask.to('float32'));
  installMask('prune.customFromMask', module, name, cur.map((c, i) => (c !== 0 && m[i] !== 0 ? 1 : 0)), 'customFromMask');
}

export type GlobalMethod = 'l1' | 'random' | ((amount: Amount) => PruningMethod);

/**
 * Prune the `amount` least important entries across ALL the given parameters together (one
 * threshold for the whole model), like torch.nn.utils.prune.global_unstructured.
 * @example prune.globalUnstructured([[m.fc1, 'weight'], [m.fc2, 'weight']], { amount: 0.9 })
 */
export function globalUnstructured(
  parameters: readonly (readonly [AnyModule, string])[],
  opts: { amount: Amount; method?: GlobalMethod; importanceScores?: ReadonlyMap<readonly [AnyModule, string], Tensor>; generator?: Generator },
): void {
  const op = 'prune.globalUnstructured';
  validateAmount(op, opts.amount);
  if (parameters.length === 0) throw new TensorslimError(op, 'parameters must list at least one (module, name) pair');
  const method = opts.method === undefined || opts.method === 'l1' ? l1UnstructuredMethod(opts.amount)
    : opts.method === 'random' ? randomUnstructuredMethod(opts.amount, opts.generator) : opts.method(opts.amount);
  if (method.type !== 'unstructured') throw new TensorslimError(op, `global pruning needs an unstructured method, got ${method.name}`);
  // flatten scores and current masks of every parameter into one vector
  const parts = parameters.map(([m, name]) => {
    const orig = originalParameter(op, m, name);
    const s = opts.importanceScores?.get(parameters.find((p) => p[0] === m && p[1] === name)!) ?? orig;
    if (!shapeEquals(s.shape, orig.shape)) throw new ShapeError(op, `importance scores for ${name} have shape (${s.shape.join(', ')}), expected (${orig.shape.join(', ')})`);
    return { m, name, scores: scoresOf(op, s), mask: currentMask(m, name, orig.size) };
  });
  const total = parts.reduce((n, p) => n + p.scores.length, 0);
  const scores = new Float64Array(total), mask = new Float64Array(total);
  let off = 0;
  for (const p of parts) { scores.set(p.scores, off); mask.set(p.mask, off); off += p.scores.length; }
  const newMask = method.computeMask(scores, [total], mask);
  // install per parameter; roll back the ones already installed if a later one fails
  const done: { m: AnyModule; name: string; old: Float64Array }[] = [];
  off = 0;
  try {
    for (const p of parts) {
      installMask(op, p.m, p.name, newMask.subarray(off, off + p.scores.length), `global:${method.name}`);
      done.push({ m: p.m, name: p.name, old: p.mask });
      off += p.scores.length;
    }
  } catch (e) {
    for (const d of done.reverse()) installMask(op, d.m, d.name, d.old, 'rollback');
    throw e;
  }
}

export interface PruneWeightsOptions {
  /** Module classes to prune (by constructor name). Default: Linear and Conv2d. */
  layerTypes?: readonly string[];
  /** One threshold across all layers (true) or the same fraction per layer (false, default). */
  global?: boolean;
  /** 'l1' (default) or 'random'. */
  method?: 'l1' | 'random';
}

/**
 * What the seed's prune_weights meant: prune the `weight` of every layer of the chosen types.
 * (The seed looped over named_parameters() testing name.startswith('weight'); parameter names are
 * 'layer1.weight', so nothing was ever pruned. We select modules by type instead.)
 * Returns the pruned (module path, module) pairs.
 * @example prune.pruneWeights(model, 0.5)   // every Linear/Conv2d weight, 50% by magnitude
 */
export function pruneWeights(model: AnyModule, amount: Amount, opts: PruneWeightsOptions = {}): [string, AnyModule][] {
  validateAmount('prune.pruneWeights', amount);
  const types = opts.layerTypes ?? ['Linear', 'Conv2d'];
  const targets = (model as Module<never, unknown>).namedModules().filter(([, m]) => types.includes(m.constructor.name));
  if (targets.length === 0) {
    throw new TensorslimError('prune.pruneWeights', `no module of type ${types.join('/')} in the model`);
  }
  if (opts.global) {
    globalUnstructured(targets.map(([, m]) => [m, 'weight'] as const), { amount, method: opts.method ?? 'l1' });
  } else {
    for (const [, m] of targets) {
      if (opts.method === 'random') randomUnstructured(m, 'weight', amount);
      else l1Unstructured(m, 'weight', amount);
    }
  }
  return targets;
}

/**
 * Zhu & Gupta (2017) gradual pruning schedule: s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3
 * for t0 <= t <= t0 + n dt, s_i before and s_f after.
 * @example agpSparsity(step, { initial: 0, final: 0.9, startStep: 0, numSteps: 10, frequency: 100 })
 */
export function agpSparsity(step: number, s: { initial: number; final: number; startStep: number; numSteps: number; frequency: number }): number {
  if (step <= s.startStep) return s.initial;
  const span = s.numSteps * s.frequency;
  if (span <= 0 || step >= s.startStep + span) return s.final;
  const frac = 1 - (step - s.startStep) / span;
  return s.final + (s.initial - s.final) * frac * frac * frac;
}
