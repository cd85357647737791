// Kernel `gelu`: GELU, exact (erf) or tanh form, as one recorded kernel.
//
// Every part of this kernel:
//   op (gelu, fusedGelu), composed reference  src/ops/gelu.ts (this file)
//   gradient rule                         src/autograd/grads/gelu.ts
//   backend members                       src/backend/backend.ts FusedKernels.geluForward, .geluBackward
//   native TS binding                     src/backends/native/gelu.ts
//   native C++ kernel                     native/src/gelu.cc
//   reference backend                     none (the composed reference below)
//   tests                                 test/ops/gelu.test.ts, test/native/gelu.test.ts,
//                                         test/autograd/gradcheck.test.ts
//   callers                               F.gelu / nn.GELU (src/nn), the transformer MLP (src/nn/transformer.ts)

import { noGrad, record } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { add, mul } from './binary.js';
import { fusedOr } from './fused_or.js';
import { erf, tanh } from './unary.js';
import { requireFloat } from './util.js';

/** The two GELU forms: 'none' (exact, erf) and 'tanh' (the tanh approximation). */
export type GeluApproximate = 'none' | 'tanh';

export interface GeluOptions { approximate?: GeluApproximate }

function checkApproximate(approximate: string): void {
  if (approximate !== 'none' && approximate !== 'tanh') throw new TensorslimError('gelu', `approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
}

/**
 * GELU composed from primitive ops (differentiated through its composition): the reference the
 * fused kernel is tested against. 'none': x/2 (1 + erf(x / sqrt 2)); 'tanh':
 * x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 *
 * @example
 * const y = geluReference(x, 'tanh');
 */
export function geluReference(x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  requireFloat('gelu', x);
  checkApproximate(approximate);
  if (approximate === 'tanh') {
    const inner = mul(add(x, mul(mul(mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
    return mul(mul(x, 0.5), add(tanh(inner), 1));
  }
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/**
 * GELU as one recorded kernel ('gelu', with its own gradient rule): fused forward and backward on
 * backends that have them (native), the composed reference elsewhere; same results either way.
 *
 * @example
 * const h = fusedGelu(x);            // exact (erf) form
 * const t = fusedGelu(x, 'tanh');    // tanh approximation
 */
export function fusedGelu(x: Tensor, approximate: GeluApproximate = 'none'): Tensor {
  requireFloat('gelu', x);
  checkApproximate(approximate);
  const y = fusedOr('geluForward', x.size > 0,
    (be) => new Tensor(be.geluForward(x.view_(), approximate), x.dtype, [...x.shape]),
    () => new Tensor(noGrad(() => geluReference(x, approximate)).data, x.dtype, [...x.shape]));
  return record('gelu', [x], y, { approximate });
}

/**
 * GELU. 'none': x/2 (1 + erf(x / sqrt 2)); 'tanh': x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * The public op (F.gelu, nn.GELU and the transformer MLP call it): fusedGelu with an options object.
 * @example gelu(x, { approximate: 'tanh' })
 */
export function gelu(x: Tensor, opts: GeluOptions = {}): Tensor {
  return fusedGelu(x, opts.approximate ?? 'none');
}
