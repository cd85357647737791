// Adam and AdamW, exactly as torch.optim.Adam / AdamW (their single-tensor path): per-parameter
// step counts, bias corrections 1 - beta^t, optional AMSGrad (max of the second moments so far),
// L2 weight decay added to the gradient (Adam) or decoupled, p *= 1 - lr * weightDecay (AdamW).
// The math is in adamUpdate (one parameter, flat arrays) so that a fused native kernel can
// replace it; the classes only keep state.
//
// Kernel `adam`, every part:
//   op (Adam/AdamW.step), reference (adamUpdate)  src/optim/adam.ts (this file)
//   gradient rule                         none (an optimizer step is not differentiated)
//   backend member                        src/backend/backend.ts FusedKernels.adamUpdate
//   native TS binding                     src/backends/native/adam.ts
//   native C++ kernel                     native/src/adam.cc
//   reference backend                     none (adamUpdate here)
//   tests                                 test/optim/optimizers.test.ts, test/native/adam.test.ts

import type { AdamHyper } from '../backend/backend.js';
import type { FloatDType } from '../backend/dtype.js';
import { TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { fusedOr } from '../ops/fused_or.js';
import { Optimizer, type ParamGroup, type ParamsInput } from './optimizer.js';
import { updateInPlace, zerosOf, type FloatArray } from './storage.js';

export interface AdamOptions {
  /** Learning rate (>= 0). Default 1e-3. */
  lr: number;
  /** Decay rates of the first and second moment averages, each in [0, 1). Default [0.9, 0.999]. */
  betas: readonly [number, number];
  /** Added to the denominator for numerical stability (>= 0). Default 1e-8. */
  eps: number;
  /** Adam: L2 penalty added to the gradient; AdamW: decoupled decay rate (>= 0). Default 0 (Adam), 1e-2 (AdamW). */
  weightDecay: number;
  /** Use the AMSGrad variant (max of past second moments). Default false. */
  amsgrad: boolean;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize: boolean;
}

/** The moment buffers of one parameter; `maxExpAvgSq` only with amsgrad. */
export interface AdamBuffers {
  expAvg: FloatArray;
  expAvgSq: FloatArray;
  maxExpAvgSq: FloatArray | null;
}

/**
 * One Adam/AdamW step for one parameter, in place (`param` and the buffers are updated).
 * `step` is this parameter's step count after incrementing (1 on the first step).
 *
 *   g = ±grad (+ weightDecay * p unless decoupled);  decoupled: p *= 1 - lr * weightDecay
 *   m = beta1 * m + (1 - beta1) * g
 *   v = beta2 * v + (1 - beta2) * g^2            (amsgrad: vmax = max(vmax, v), used below)
 *   p = p - (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 *
 * @example
 * const p = new Float64Array([1]);
 * adamUpdate(p, [0.5], { expAvg: new Float64Array(1), expAvgSq: new Float64Array(1), maxExpAvgSq: null }, 1,
 *   { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false }, false);
 * // the first Adam step moves each element by about lr: p[0] ≈ 0.9
 */
export function adamUpdate(param: FloatArray, grad: ArrayLike<number>, buffers: AdamBuffers, step: number, o: Readonly<AdamOptions>, decoupledWeightDecay: boolean): void {
  const { lr, eps, weightDecay, amsgrad, maximize } = o;
  const [beta1, beta2] = o.betas;
  const { expAvg: m, expAvgSq: v, maxExpAvgSq: vmax } = buffers;
  if (amsgrad && vmax === null) throw new TensorslimError('adamUpdate', 'amsgrad needs a maxExpAvgSq buffer');
  // Scalars computed in float64 as PyTorch does in Python.
  const biasCorrection1 = 1 - beta1 ** step;
  const biasCorrection2 = 1 - beta2 ** step;
  const stepSize = lr / biasCorrection1;
  const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < param.length; i++) {
    let g = maximize ? -grad[i]! : grad[i]!;
    if (decoupledWeightDecay) param[i] = param[i]! * decay;
    else if (weightDecay !== 0) g = g + weightDecay * param[i]!;
    m[i] = m[i]! * beta1 + (1 - beta1) * g;
    v[i] = v[i]! * beta2 + (1 - beta2) * g * g;
    let second = v[i]!;
    if (amsgrad) { vmax![i] = Math.max(vmax![i]!, second); second = vmax![i]!; }
    const denom = Math.sqrt(second) / biasCorrection2Sqrt + eps;
    param[i] = param[i]! + (-stepSize * m[i]!) / denom;
  }
}

/** Shared by Adam and AdamW: state handling; the two differ in weight decay only. */
abstract class AdamBase extends Optimizer<AdamOptions> {
  protected abstract get decoupledWeightDecay(): boolean;

  protected checkOptions(o: AdamOptions): void {
    const bad = (msg: string): never => { throw new TensorslimError(this.name, msg); };
    if (!(o.lr >= 0)) bad(`invalid learning rate: ${o.lr} (must be >= 0)`);
    if (!(o.eps >= 0)) bad(`invalid epsilon value: ${o.eps} (must be >= 0)`);
    if (!Array.isArray(o.betas) || o.betas.length !== 2) bad(`betas must be a pair [beta1, beta2], got ${JSON.stringify(o.betas)}`);
    o.betas.forEach((b, i) => { if (!(b >= 0 && b < 1)) bad(`invalid beta parameter at index ${i}: ${b} (must be in [0, 1))`); });
    if (!(o.weightDecay >= 0)) bad(`invalid weightDecay value: ${o.weightDecay} (must be >= 0)`);
  }

  protected updateGroup(group: ParamGroup<AdamOptions>): void {
    for (const p of group.params) {
      const grad = this.gradOf(p);
      if (grad === null) continue;
      const dtype = p.dtype as FloatDType;
      const state = this.state.get(p) ?? { step: 0, exp_avg: zerosOf(p, dtype), exp_avg_sq: zerosOf(p, dtype) };
      if (group.amsgrad && !(state['max_exp_avg_sq'] instanceof Tensor)) state['max_exp_avg_sq'] = zerosOf(p, dtype);
      const step = Number(state['step'] ?? 0) + 1;
      const buffers: AdamBuffers = {
        expAvg: tensorState(state, 'exp_avg', this.name),
        expAvgSq: tensorState(state, 'exp_avg_sq', this.name),
        maxExpAvgSq: group.amsgrad ? tensorState(state, 'max_exp_avg_sq', this.name) : null,
      };
      updateInPlace(p, `${this.name}.step`, (data) => {
        // the backend's fused kernel when it has one (native: one pass, SIMD, threaded); it
        // returns false, having changed nothing, for arrays it does not handle
        const h: AdamHyper = {
          lr: group.lr, beta1: group.betas[0], beta2: group.betas[1], eps: group.eps, weightDecay: group.weightDecay,
          amsgrad: group.amsgrad, maximize: group.maximize, decoupled: this.decoupledWeightDecay, step,
        };
        fusedOr('adamUpdate', true,
          (be) => be.adamUpdate(data, grad, buffers.expAvg, buffers.expAvgSq, buffers.maxExpAvgSq, h) || null,
          () => { adamUpdate(data, grad, buffers, step, group, this.decoupledWeightDecay); return true; });
      });
      state['step'] = step;
      this.state.set(p, state);
    }
  }
}

function tensorState(state: Record<string, Tensor | number>, key: string, name: string): FloatArray {
  const t = state[key];
  if (!(t instanceof Tensor)) throw new TensorslimError(`${name}.step`, `state '${key}' is missing (was a state dict from another optimizer loaded?)`);
  return t.data as FloatArray;
}

/**
 * Adam, like torch.optim.Adam (weightDecay adds an L2 term to the gradient).
 *
 * @example
 * const opt = new Adam(model.parameters(), { lr: 0.001 });
 * loss.backward();
 * opt.step();
 * opt.zeroGrad();
 */
export class Adam extends AdamBase {
  protected get name(): string { return 'Adam'; }
  protected get decoupledWeightDecay(): boolean { return false; }

  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, adamDefaults(options, 0));
  }
}

/**
 * AdamW, like torch.optim.AdamW: Adam with decoupled weight decay (p *= 1 - lr * weightDecay
 * before the Adam update); weightDecay defaults to 1e-2.
 *
 * @example
 * const opt = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
 */
export class AdamW extends AdamBase {
  protected get name(): string { return 'AdamW'; }
  protected get decoupledWeightDecay(): boolean { return true; }

  constructor(params: ParamsInput<AdamOptions>, options: Partial<AdamOptions> = {}) {
    super(params, adamDefaults(options, 1e-2));
  }
}

function adamDefaults(o: Partial<AdamOptions>, weightDecay: number): AdamOptions {
  return {
    lr: o.lr ?? 1e-3,
    betas: o.betas ?? [0.9, 0.999],
    eps: o.eps ?? 1e-8,
    weightDecay: o.weightDecay ?? weightDecay,
    amsgrad: o.amsgrad ?? false,
    maximize: o.maximize ?? false,
  };
}
