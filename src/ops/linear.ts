// Kernel `linear`: y = x W^T + b, then ReLU when asked, as one recorded kernel.
//
// Every part of this kernel:
//   op, shape checks, composed reference  src/ops/linear.ts (this file)
//   gradient rule                         src/autograd/grads/linear.ts
//   backend members                       src/backend/backend.ts FusedKernels.linear, .linearBackward,
//                                         .linearChain (inference only: layers chained in one call)
//   native TS binding                     src/backends/native/linear.ts
//   native C++ kernel                     native/src/linear.cc
//   reference backend                     none (the composed reference below)
//   tests                                 test/ops/linear.test.ts, test/native/linear.test.ts,
//                                         test/autograd/gradcheck.test.ts
//   callers                               src/nn/functional.ts F.linear, src/nn/linear.ts Linear,
//                                         src/nn/inference.ts compileInference (linear, linearChain)

import { fmtShape } from '../backend/shape.js';
import { noGrad, record } from '../core/engine.js';
import { DTypeError, ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { add } from './binary.js';
import { fusedOr } from './fused_or.js';
import { matmul } from './matmul.js';
import { reshape, transpose } from './movement.js';
import { relu as reluOp } from './unary.js';

/**
 * The shape rule of linear, the one copy: weight (out, in) 2-D, x (..., in), bias (out,) or none.
 * Throws a ShapeError naming `op`; `fix` (e.g. how to rebuild a layer) ends the message.
 *
 * @example
 * checkLinearShapes('linear', x, weight, bias);   // x (32, 784), weight (300, 784), bias (300,)
 */
export function checkLinearShapes(op: string, x: Tensor, weight: Tensor, bias: Tensor | null | undefined, fix = ''): void {
  if (weight.ndim !== 2) throw new ShapeError(op, `weight must be 2-D (out, in), got ${fmtShape(weight.shape)}`);
  const inF = weight.shape[1]!;
  if (x.ndim === 0 || x.shape[x.ndim - 1] !== inF) {
    const last = x.ndim === 0 ? 'none (a scalar)' : String(x.shape[x.ndim - 1]);
    throw new ShapeError(op, `input last dimension ${last} does not match inFeatures ${inF}; input shape ${fmtShape(x.shape)}, weight ${fmtShape(weight.shape)}${fix ? `; ${fix}` : ''}`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== weight.shape[0])) {
    throw new ShapeError(op, `bias must be (${weight.shape[0]},) to match weight ${fmtShape(weight.shape)}, got ${fmtShape(bias.shape)}`);
  }
}

/**
 * linear composed from primitive ops (differentiated through its composition): the reference the
 * fused kernel is tested against. x (..., K), weight (N, K), bias (N,) or null -> (..., N).
 *
 * @example
 * const y = linearReference(x, fc.weight, fc.bias, true);   // relu(x W^T + b)
 */
export function linearReference(x: Tensor, weight: Tensor, bias: Tensor | null = null, relu = false): Tensor {
  let t = matmul(x, transpose(weight, 0, 1));
  if (bias) t = add(t, bias);
  return relu ? reluOp(t) : t;
}

/**
 * y = x W^T + b (then ReLU when `relu`), like torch.nn.functional.linear (+ relu), in one kernel on
 * backends that have it. x: (..., K), weight: (N, K), bias: (N,) or null -> (..., N).
 *
 * @example
 * const h = fusedLinear(x, fc.weight, fc.bias, { relu: true });   // (128, 784) -> (128, 1200)
 */
export function fusedLinear(x: Tensor, weight: Tensor, bias: Tensor | null = null, opts: { relu?: boolean } = {}): Tensor {
  const op = 'fusedLinear';
  const relu = opts.relu ?? false;
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new DTypeError(op, `x must be float32 or float64, got ${x.dtype}`);
  if (weight.dtype !== x.dtype || (bias && bias.dtype !== x.dtype)) {
    throw new DTypeError(op, `x, weight and bias must share one dtype, got ${x.dtype}, ${weight.dtype}${bias ? `, ${bias.dtype}` : ''}; convert with ops.to`);
  }
  checkLinearShapes(op, x, weight, bias);
  const [N, K] = weight.shape as [number, number];
  const lead = x.shape.slice(0, -1);
  const x2 = x.ndim === 2 ? x : reshape(x, [-1, K]);
  const shape = [x2.shape[0]!, N];
  const y = fusedOr('linear', true,
    (be) => new Tensor(be.linear(x2.view_(), weight.view_(), bias ? bias.view_() : null, relu), x.dtype, shape),
    () => new Tensor(noGrad(() => linearReference(x2, weight, bias, relu)).data, x.dtype, shape));
  const out = record('linear', bias ? [x2, weight, bias] : [x2, weight], y, { relu });
  return x.ndim === 2 ? out : reshape(out, [...lead, N]);
}
