// Finite-difference gradient check: compares the tape's gradients of sum(f(inputs) * w), for a fixed
// random cotangent w, with central differences (f(x + eps) - f(x - eps)) / 2eps in float64.

import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { Generator } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import { detach, mul, randn, sum, clone } from '../ops/index.js';
import { grad } from './tape.js';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the random cotangent. */
  seed?: number;
}

export interface GradcheckResult {
  ok: boolean;
  /** Largest |analytic - numeric| over all checked elements. */
  maxAbsError: number;
  /** Description of the worst element when not ok. */
  message: string;
}

/**
 * Check the gradients of `fn` at `inputs` (float64 tensors; those with requiresGrad are checked).
 * @example
 * const x = randn([3, 4], { dtype: 'float64', requiresGrad: true });
 * assert.ok(gradcheck((a) => tanh(a), [x]).ok);
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], opts: GradcheckOptions = {}): GradcheckResult {
  const eps = opts.eps ?? 1e-6, atol = opts.atol ?? 1e-5, rtol = opts.rtol ?? 1e-3;
  for (const x of inputs) {
    if (x.requiresGrad && x.dtype !== 'float64') {
      throw new TensorslimError('gradcheck', `inputs that require grad must be float64 for accurate finite differences, got ${x.dtype}`);
    }
  }
  const out0 = fn(...inputs);
  const w = randn(out0.shape, { dtype: 'float64', generator: new Generator(opts.seed ?? 7) });
  const scalar = (o: Tensor): number => noGrad(() => sum(mul(detach(o).dtype === 'float64' ? detach(o) : detach(o), w)).item());
  const targets = inputs.filter((x) => x.requiresGrad);
  const analytic = grad([sum(mul(out0, w))], targets);
  let maxAbs = 0;
  let message = 'ok';
  let ok = true;
  targets.forEach((x, ti) => {
    const a = analytic[ti] ? analytic[ti]!.dataSync() : new Float64Array(x.size);
    // perturb a private contiguous copy so views and shared storage are handled uniformly
    const base = noGrad(() => clone(x));
    const vals = base.data;
    for (let i = 0; i < vals.length; i++) {
      const orig = vals[i]!;
      const at = (v: number): number => {
        vals[i] = v;
        const args = inputs.map((y) => (y === x ? base : y));
        return scalar(noGrad(() => fn(...args)));
      };
      const num = (at(orig + eps) - at(orig - eps)) / (2 * eps);
      vals[i] = orig;
      const err = Math.abs(a[i]! - num);
      if (err > maxAbs) maxAbs = err;
      if (!(err <= atol + rtol * Math.abs(num))) {
        if (ok) message = `input ${inputs.indexOf(x)} element ${i}: analytic ${a[i]} vs numeric ${num}`;
        ok = false;
      }
    }
  });
  return { ok, maxAbsError: maxAbs, message };
}
