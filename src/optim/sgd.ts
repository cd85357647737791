// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// exactly as torch.optim.SGD (its _single_tensor_sgd): the first momentum step sets the buffer
// to the gradient itself, later steps do buf = momentum * buf + (1 - dampening) * g.
// The math is in sgdUpdate (one parameter, flat arrays); the class only keeps state.

import { TensorslimError } from '../core/errors.js';
import { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';
import { updateInPlace, zerosOf, type FloatArray } from './storage.js';
import { Tensor } from '../core/tensor.js';
import type { FloatDType } from '../backend/dtype.js';

export interface SGDOptions {
  /** Learning rate (>= 0). Default 1e-3 like PyTorch 2 (PyTorch 1.x required it). */
  lr: number;
  /** Momentum factor (>= 0). Default 0. */
  momentum: number;
  /** Dampening for momentum. Default 0. */
  dampening: number;
  /** L2 penalty added to the gradient (>= 0). Default 0. */
  weightDecay: number;
  /** Nesterov momentum; needs momentum > 0 and dampening = 0. Default false. */
  nesterov: boolean;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize: boolean;
}

/**
 * One SGD step for one parameter, in place. `buf` is the momentum buffer (same length as
 * `param`), required when momentum != 0 and ignored otherwise; with `firstStep` it is
 * overwritten by the gradient, as PyTorch creates it on the first step.
 *
 *   d = ±g (+ weightDecay * p)
 *   buf = firstStep ? d : momentum * buf + (1 - dampening) * d
 *   d = nesterov ? d + momentum * buf : buf
 *   p = p - lr * d
 *
 * @example
 * const p = new Float64Array([1, 2]);
 * sgdUpdate(p, new Float64Array([0.5, 0.5]), null, false, { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false });
 * // p is now [0.95, 1.95]
 */
export function sgdUpdate(param: FloatArray, grad: ArrayLike<number>, buf: FloatArray | null, firstStep: boolean, o: Readonly<SGDOptions>): void {
  const { lr, momentum, dampening, weightDecay, nesterov, maximize } = o;
  const b = momentum === 0 ? null : buf;
  if (momentum !== 0 && (b === null || b.length !== param.length)) {
    throw new TensorslimError('sgdUpdate', `momentum ${momentum} needs a buffer of ${param.length} elements, got ${b === null ? 'none' : b.length}`);
  }
  for (let i = 0; i < param.length; i++) {
    const pi = param[i]!;
    let d = maximize ? -grad[i]! : grad[i]!;
    if (weightDecay !== 0) d = d + weightDecay * pi;
    if (b !== null) {
      b[i] = firstStep ? d : b[i]! * momentum + (1 - dampening) * d;
      const bi = b[i]!; // read back: rounded to the buffer's dtype, as PyTorch's buffer tensor is
      d = nesterov ? d + momentum * bi : bi;
    }
    param[i] = pi + -lr * d;
  }
}

/**
 * Stochastic gradient descent (optionally with momentum), like torch.optim.SGD.
 *
 * @example
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 */
export class SGD extends Optimizer<SGDOptions> {
  protected get name(): string { return 'SGD'; }

  constructor(params: ParamsInput<SGDOptions>, options: Partial<SGDOptions> = {}) {
    super(params, {
      lr: options.lr ?? 1e-3,
      momentum: options.momentum ?? 0,
      dampening: options.dampening ?? 0,
      weightDecay: options.weightDecay ?? 0,
      nesterov: options.nesterov ?? false,
      maximize: options.maximize ?? false,
    });
  }

  protected checkOptions(o: SGDOptions): void {
    const bad = (msg: string): never => { throw new TensorslimError('SGD', msg); };
    if (!(o.lr >= 0)) bad(`invalid learning rate: ${o.lr} (must be >= 0)`);
    if (!(o.momentum >= 0)) bad(`invalid momentum value: ${o.momentum} (must be >= 0)`);
    if (!(o.weightDecay >= 0)) bad(`invalid weightDecay value: ${o.weightDecay} (must be >= 0)`);
    if (!Number.isFinite(o.dampening)) bad(`invalid dampening value: ${o.dampening}`);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) bad(`Nesterov momentum requires a momentum and zero dampening (got momentum ${o.momentum}, dampening ${o.dampening})`);
  }

  protected updateGroup(group: ParamGroup<SGDOptions>): void {
    for (const p of group.params) {
      const grad = this.gradOf(p);
      if (grad === null) continue;
      if (group.momentum === 0) {
        updateInPlace(p, 'SGD.step', (data) => sgdUpdate(data, grad, null, false, group));
        continue;
      }
      const state = this.state.get(p) ?? {};
      const old = state['momentum_buffer'];
      const buf = old instanceof Tensor ? old : zerosOf(p, p.dtype as FloatDType);
      updateInPlace(p, 'SGD.step', (data) => sgdUpdate(data, grad, buf.data as FloatArray, !(old instanceof Tensor), group));
      state['momentum_buffer'] = buf;
      this.state.set(p, state);
    }
  }
}
