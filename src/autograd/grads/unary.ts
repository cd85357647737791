// Gradient rules of the unary elementwise kernels. dy: the output's gradient, same shape as x.

import { isFloat } from '../../backend/dtype.js';
import { shapeEquals } from '../../backend/shape.js';
import { Tensor } from '../../core/tensor.js';
import { cos, div, exp, fusedBackwardOr, le, mul, neg, sign, sin, sub, where, zerosLike } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

// d/dx (-x) = -1
defineGrad('neg', { grad: (dy) => [neg(dy)] });
// d/dx e^x = e^x (the saved output)
defineGrad('exp', { save: { output: true }, grad: (dy, c) => [mul(dy, c.output())] });
// d/dx log x = 1/x
defineGrad('log', { save: { inputs: [0] }, grad: (dy, c) => [div(dy, c.input(0))] });
// d/dx sqrt x = 1 / (2 sqrt x)
defineGrad('sqrt', { save: { output: true }, grad: (dy, c) => [div(dy, mul(c.output(), 2))] });
// d/dx |x| = sign(x) (0 at 0, as in PyTorch)
defineGrad('abs', { save: { inputs: [0] }, grad: (dy, c) => [mul(dy, sign(c.input(0)))] });
// d/dx tanh x = 1 - y^2
defineGrad('tanh', { save: { output: true }, grad: (dy, c) => { const y = c.output(); return [mul(dy, sub(1, mul(y, y)))]; } });
// d/dx sigmoid x = y (1 - y)
defineGrad('sigmoid', { save: { output: true }, grad: (dy, c) => { const y = c.output(); return [mul(dy, mul(y, sub(1, y)))]; } });
// d/dx relu x = 0 where y <= 0, else 1: 0 at 0, and the gradient passes where y is NaN, as PyTorch's
// threshold_backward (a NaN compares false). The backend's reluBackward (native/src/relu_backward.cc)
// does it in one pass when the backward is not recorded; reluGradReference is the composed form
// (differentiable, for createGraph, and the reference the kernel is tested against).
function reluGradReference(dy: Tensor, y: Tensor): Tensor { return where(le(y, 0), 0, dy); }
defineGrad('relu', {
  save: { output: true },
  grad: (dy, c) => {
    const y = c.output();
    const usable = dy.dtype === y.dtype && isFloat(y.dtype) && y.size > 0 && shapeEquals(dy.shape, y.shape);
    return [fusedBackwardOr('reluBackward', usable,
      (be) => new Tensor(be.reluBackward(dy.view_(), y.view_()), y.dtype, [...y.shape]),
      () => reluGradReference(dy, y))];
  },
});
// d/dx erf x = 2/sqrt(pi) e^(-x^2)
defineGrad('erf', { save: { inputs: [0] }, grad: (dy, c) => { const x = c.input(0); return [mul(dy, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))]; } });
// sign and floor are piecewise constant: zero gradient (PyTorch does the same)
defineGrad('sign', { grad: (dy) => [zerosLike(dy)] });
defineGrad('floor', { grad: (dy) => [zerosLike(dy)] });
// d/dx sin x = cos x; d/dx cos x = -sin x
defineGrad('sin', { save: { inputs: [0] }, grad: (dy, c) => [mul(dy, cos(c.input(0)))] });
defineGrad('cos', { save: { inputs: [0] }, grad: (dy, c) => [neg(mul(dy, sin(c.input(0))))] });

