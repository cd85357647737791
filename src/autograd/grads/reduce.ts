// Gradient rules of the reduction kernels. The input is x (shape S); dy has the reduced shape
// (keepdim or not); `axes` are the reduced axes of S.

import type { Tensor } from '../../core/tensor.js';
import { div, eq, expand, mul, reshape, sum, to } from '../../ops/index.js';
import { defineGrad, type GradContext } from '../registry.js';

/** dy viewed with size-1 reduced axes, then broadcast to the input shape. */
function spread(dy: Tensor, c: GradContext): Tensor {
  const shape = c.inputShapes[0]!;
  const axes = c.attrs['axes'] as number[];
  const keep = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return expand(reshape(dy, keep), shape);
}

// d/dx sum(x) = 1 at every element
defineGrad('sum', { grad: (dy, c) => [spread(dy, c)] });

// d/dx max(x): split dy equally among the elements equal to the maximum (torch.amax semantics)
function extremumGrad(dy: Tensor, c: GradContext): (Tensor | null)[] {
  const x = c.input(0);
  const axes = c.attrs['axes'] as number[];
  const shape = c.inputShapes[0]!;
  const keep = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const mask = to(eq(x, expand(reshape(c.output(), keep), shape)), x.dtype);
  const count = sum(mask, axes, true);
  return [mul(spread(dy, c), div(mask, count))];
}
defineGrad('max', { save: { inputs: [0], output: true }, grad: extremumGrad });
defineGrad('min', { save: { inputs: [0], output: true }, grad: extremumGrad });
