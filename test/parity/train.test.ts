// PyTorch parity for a tiny training loop: nn (Sequential, Linear, ReLU, losses) + optim (Adam, SGD).
// The expected losses and parameters come from test/fixtures/train.json, written by PyTorch 1.13
// through tools/fixtures/train_fixtures.py (the outside truth; never paste tensorslim output here).
// Model: Sequential(Linear(4, 8), ReLU(), Linear(8, 3)) in float64, loaded from the fixture's initial
// state dict; each run does `steps` iterations of zeroGrad; loss = lossFn(model(x), target);
// backward; step, and compares the loss of every iteration and the final state dict within 1e-9.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { tensor, type DType, type Tensor } from '../../src/index.js';
import { CrossEntropyLoss, Linear, MSELoss, ReLU, Sequential } from '../../src/nn/index.js';
import { Adam, SGD } from '../../src/optim/index.js';

interface Stored { shape: number[]; dtype: DType; data: number[] }
type OptimDesc =
  | { type: 'Adam'; lr: number; betas: [number, number]; eps: number; weightDecay: number }
  | { type: 'SGD'; lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number };
interface Run {
  name: string;
  loss: 'CrossEntropyLoss' | 'MSELoss';
  target: 'targetClass' | 'targetFloat';
  optimizer: OptimDesc;
  steps: number;
  losses: number[];
  finalState: Record<string, Stored>;
}
interface TrainFixture {
  torch: string;
  initialState: Record<string, Stored>;
  input: Stored;
  targetClass: Stored;
  targetFloat: Stored;
  runs: Run[];
}

const fx = JSON.parse(readFileSync(new URL('../fixtures/train.json', import.meta.url), 'utf8')) as TrainFixture;
const TOL = 1e-9;

function build(s: Stored): Tensor {
  const data = s.dtype === 'int32' ? Int32Array.from(s.data) : Float64Array.from(s.data);
  return tensor(data, { dtype: s.dtype, shape: s.shape });
}

function initialState(): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(fx.initialState).map(([k, v]) => [k, build(v)]));
}

function makeOptimizer(d: OptimDesc, params: Tensor[]): { zeroGrad(): void; step(): void } {
  if (d.type === 'Adam') return new Adam(params, { lr: d.lr, betas: d.betas, eps: d.eps, weightDecay: d.weightDecay });
  return new SGD(params, {
    lr: d.lr, momentum: d.momentum, dampening: d.dampening, nesterov: d.nesterov, weightDecay: d.weightDecay,
  });
}

function close(label: string, actual: number, expected: number): void {
  const diff = Math.abs(actual - expected);
  assert.ok(diff <= TOL * Math.max(1, Math.abs(expected)),
    `${label}: expected ${expected}, actual ${actual}, |diff| ${diff.toExponential(2)} (tol ${TOL})`);
}

/** Train `model` as the run says and compare with PyTorch. */
function checkRun(run: Run, model: Sequential): void {
  assert.deepEqual([...model.stateDict().keys()].sort(), Object.keys(fx.initialState).sort(),
    'state-dict keys must be PyTorch\'s');
  model.loadStateDict(initialState());
  const params = model.parameters();
  const opt = makeOptimizer(run.optimizer, params);
  const lossFn = run.loss === 'CrossEntropyLoss' ? new CrossEntropyLoss() : new MSELoss();
  const x = build(fx.input);
  const target = build(fx[run.target]);
  const losses: number[] = [];
  for (let i = 0; i < run.steps; i++) {
    opt.zeroGrad();
    const loss = lossFn.call(model.call(x), target);
    assert.equal(loss.dtype, 'float64', `${run.name}: loss dtype`);
    loss.backward();
    opt.step();
    losses.push(loss.item());
  }
  run.losses.forEach((e, i) => close(`${run.name}: loss at step ${i}`, losses[i]!, e));
  // the optimizer updates the same parameter objects the model holds
  model.parameters().forEach((p, i) => assert.equal(p, params[i], `${run.name}: parameter ${i} was replaced`));
  const state = model.stateDict();
  for (const [key, want] of Object.entries(run.finalState)) {
    const got = state.get(key);
    assert.ok(got, `${run.name}: final state has no ${key}`);
    assert.deepEqual([...got.shape], want.shape, `${run.name}: ${key} shape`);
    assert.equal(got.dtype, 'float64', `${run.name}: ${key} dtype`);
    const g = got.dataSync();
    want.data.forEach((e, i) => close(`${run.name}: final ${key}[flat ${i}]`, g[i]!, e));
  }
}

function mlp(dtype?: 'float64'): Sequential {
  const opts = dtype ? { dtype } : {};
  return new Sequential(new Linear(4, 8, opts), new ReLU(), new Linear(8, 3, opts));
}

for (const run of fx.runs) {
  test(`train parity (PyTorch ${fx.torch}): ${run.name}, built with { dtype: 'float64' }`, () => {
    checkRun(run, mlp('float64'));
  });
}

test('train parity: a float32 model converted with .to(\'float64\') trains like PyTorch', () => {
  const run = fx.runs[0]!;
  checkRun(run, mlp().to('float64'));
});
