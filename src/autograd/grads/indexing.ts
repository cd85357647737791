// Gradient rules of gather, scatterAdd and cat.

import { gather, narrow, scatterAdd } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

// out = gather(x, axis, index): dx = scatterAdd(zeros like x, axis, index, dy)
defineGrad('gather', {
  save: { inputs: [1] },
  grad: (dy, c) => [scatterAdd(c.inputShapes[0]!, c.attrs['axis'] as number, c.input(1), dy), null],
});
// out = scatterAdd(shape, axis, index, src): dsrc = gather(dy, axis, index), zero beyond index's extent
defineGrad('scatterAdd', {
  save: { inputs: [0] },
  grad: (dy, c) => [null, gather(dy, c.attrs['axis'] as number, c.input(0))],
});
// cat: each input gets its slice of dy
defineGrad('cat', {
  grad: (dy, c) => {
    const axis = c.attrs['axis'] as number;
    const sizes = c.attrs['sizes'] as number[];
    let pos = 0;
    return sizes.map((n, i) => {
      const g = c.needs[i] ? narrow(dy, axis, pos, n) : null;
      pos += n;
      return g;
    });
  },
});
