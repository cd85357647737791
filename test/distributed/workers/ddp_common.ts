// The model, data and training loop shared by the DDP worker (N ranks) and the single-process
// reference in ddp.test.ts: a 6-8-3 tanh MLP, 12 fixed samples, MSE (mean), SGD with momentum.
import { Linear, MSELoss, SGD, Sequential, Tanh, manualSeed, randn, type Tensor } from '../../../src/index.js';

export const BATCH = 12;
export const STEPS = 4;

export function buildModel(seed: number): Sequential {
  manualSeed(seed);
  return new Sequential(new Linear(6, 8), new Tanh(), new Linear(8, 3));
}

export function data(): [Tensor, Tensor] {
  manualSeed(42);
  return [randn([BATCH, 6]), randn([BATCH, 3])];
}

export function optimizer(model: Sequential): SGD {
  return new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
}

const mse = new MSELoss();
/** Mean-squared error of rows [from, to) of the batch, scaled by `scale`. */
export function loss(model: Sequential, x: Tensor, y: Tensor, from: number, to: number, scale = 1): Tensor {
  return mse.call(model.call(x.slice(0, from, to)), y.slice(0, from, to)).mul(scale);
}

export function params(model: Sequential): number[][] {
  return model.parameters().map((p) => Array.from(p.data));
}
