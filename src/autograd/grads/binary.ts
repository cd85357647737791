// Gradient rules of the binary elementwise kernels and where. Rules return gradients in the
// broadcast output shape; the tape sums them down to each input's shape.

import { div, eq, gt, log, lt, mul, neg, pow, sub, where, zerosLike } from '../../ops/index.js';
import type { Tensor } from '../../core/tensor.js';
import { defineGrad, type GradContext } from '../registry.js';

// d(a+b) = (dy, dy)
defineGrad('add', { grad: (dy) => [dy, dy] });
// d(a-b) = (dy, -dy)
defineGrad('sub', { grad: (dy, c) => [dy, c.needs[1] ? neg(dy) : null] });
// d(ab) = (dy b, dy a)
defineGrad('mul', {
  save: { inputs: [0, 1] },
  grad: (dy, c) => [c.needs[0] ? mul(dy, c.input(1)) : null, c.needs[1] ? mul(dy, c.input(0)) : null],
});
// d(a/b) = (dy / b, -dy a / b^2)
defineGrad('div', {
  save: { inputs: [0, 1] },
  grad: (dy, c) => {
    const a = c.input(0), b = c.input(1);
    return [c.needs[0] ? div(dy, b) : null, c.needs[1] ? neg(div(mul(dy, a), mul(b, b))) : null];
  },
});
// d(a^b) = (dy b a^(b-1), dy a^b log a), the second taken as 0 where a == 0 (as in PyTorch)
defineGrad('pow', {
  save: { inputs: [0, 1], output: true },
  grad: (dy, c) => {
    const a = c.input(0), b = c.input(1);
    const da = c.needs[0] ? mul(dy, mul(b, pow(a, sub(b, 1)))) : null;
    const db = c.needs[1] ? where(eq(a, 0), zerosLike(dy), mul(dy, mul(c.output(), log(a)))) : null;
    return [da, db];
  },
});
// max(a, b): the gradient goes to the larger input, split in half on ties (as in PyTorch)
function extremum(pick: typeof gt) {
  return (dy: Tensor, c: GradContext): (Tensor | null)[] => {
    const a = c.input(0), b = c.input(1);
    const half = mul(dy, 0.5);
    const zero = zerosLike(half);
    const ga = c.needs[0] ? where(pick(a, b), dy, where(eq(a, b), half, zero)) : null;
    const gb = c.needs[1] ? where(pick(b, a), dy, where(eq(a, b), half, zero)) : null;
    return [ga, gb];
  };
}
defineGrad('maximum', { save: { inputs: [0, 1] }, grad: (dy, c) => extremum(gt)(dy, c) });
defineGrad('minimum', { save: { inputs: [0, 1] }, grad: (dy, c) => extremum(lt)(dy, c) });
// where(cond, a, b): dy flows to a where cond, to b elsewhere; cond gets none
defineGrad('where', {
  save: { inputs: [0] },
  grad: (dy, c) => {
    const cond = c.input(0);
    const zero = zerosLike(dy);
    return [null, c.needs[1] ? where(cond, dy, zero) : null, c.needs[2] ? where(cond, zero, dy) : null];
  },
});
