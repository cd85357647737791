// Shared helpers for the optim tests: float64 tensors from fixture data, and closeness checks.
// Built on the core only, so these tests do not depend on ops, autograd or nn.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromBuffer, type Tensor } from '../../src/core/tensor.js';
import { Adam, AdamW, SGD, type Optimizer, type ParamGroupInput } from '../../src/optim/index.js';

export interface FixtureTensor { shape: number[]; data: number[] }

export function loadFixture<T>(): T {
  return JSON.parse(readFileSync(new URL('../fixtures/optim.json', import.meta.url), 'utf8')) as T;
}

/** A float64 leaf tensor that requires grad, with the fixture's values (a fresh copy). */
export function param(f: FixtureTensor): Tensor {
  return fromBuffer(Float64Array.from(f.data), 'float64', f.shape).requiresGrad_(true);
}

export function f64(data: number[], shape: number[] = [data.length]): Tensor {
  return fromBuffer(Float64Array.from(data), 'float64', shape);
}

/** |actual - expected| <= atol + rtol * |expected| elementwise. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, rtol = 1e-10, atol = 1e-12): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      assert.fail(`${what}[${i}]: got ${a}, expected ${e} (diff ${Math.abs(a - e)})`);
    }
  }
}

export function values(t: Tensor): number[] {
  return Array.from(t.dataSync());
}

/** An optimizer fixture case: groups of parameter indices with their options, gradients per step, parameters after each step. */
export interface OptimizerCase {
  name: string;
  optimizer: 'SGD' | 'Adam' | 'AdamW';
  groups: Array<{ params: number[]; options: Record<string, unknown> }>;
  init: FixtureTensor[];
  grads: Array<Array<FixtureTensor | null>>;
  after: FixtureTensor[][];
}

/** The case's parameters (fresh float64 leaves) and its optimizer, one group per fixture group. */
export function build(c: OptimizerCase): { params: Tensor[]; opt: Optimizer } {
  const params = c.init.map(param);
  // The fixture's options are the constructor options of each group (camelCase, as ours).
  const groups = c.groups.map((g) => ({ ...g.options, params: g.params.map((i) => params[i]!) })) as unknown as ParamGroupInput[];
  const opt = c.optimizer === 'SGD' ? new SGD(groups as never) : c.optimizer === 'Adam' ? new Adam(groups as never) : new AdamW(groups as never);
  return { params, opt };
}

/** Set each parameter's .grad to the step's gradient (null = no gradient). */
export function setGrads(params: Tensor[], grads: Array<FixtureTensor | null>): void {
  params.forEach((p, i) => { const g = grads[i]; p.grad = g ? f64(g.data, g.shape) : null; });
}
