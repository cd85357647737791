// Gradient rules of gather, scatterAdd and cat.

import { Tensor } from '../../core/tensor.js';
import { fusedBackwardOr, gather, narrow, scatterAdd } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

// out = gather(x, axis, index): dx = scatterAdd(zeros like x, axis, index, dy). For the rows of a
// 2-D table (kernel `embedding`, ops/embedding.ts; attrs.rows is the 1-D index), the
// backend's embeddingBackward computes the same sum in one pass when the backward is not recorded.
defineGrad('gather', {
  save: { inputs: [1] },
  grad: (dy, c) => {
    const rows = c.attrs['rows'] as Tensor | undefined;
    const shape = c.inputShapes[0]!;
    return fusedBackwardOr('embeddingBackward', rows !== undefined && dy.ndim === 2 && dy.dtype === c.inputDtypes[0],
      (be) => [new Tensor(be.embeddingBackward(dy.view_(), rows!.view_(), shape[0]!), dy.dtype, [...shape]), null],
      () => [scatterAdd(shape, c.attrs['axis'] as number, c.input(1), dy), null]);
  },
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
