// Gradient rules of layout kernels: each is the adjoint view or copy.

import type { DType } from '../../backend/dtype.js';
import { padSlice, permute, reshape, slice, to } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

// cast: convert the gradient back to the input's dtype
defineGrad('cast', { grad: (dy, c) => [to(dy, c.inputDtypes[0] as DType)] });
// contiguous / clone: identity
defineGrad('contiguous', { grad: (dy) => [dy] });
// reshape: reshape back
defineGrad('reshape', { grad: (dy, c) => [reshape(dy, c.inputShapes[0]!)] });
// permute: apply the inverse permutation
defineGrad('permute', {
  grad: (dy, c) => {
    const dims = c.attrs['dims'] as number[];
    const inv = new Array<number>(dims.length);
    dims.forEach((d, i) => { inv[d] = i; });
    return [permute(dy, inv)];
  },
});
// expand: the tape's central broadcast reduction sums dy down to the input shape
defineGrad('expand', { grad: (dy) => [dy] });
// slice: write dy back into zeros at the sliced positions; padSlice: the reverse
defineGrad('slice', {
  grad: (dy, c) => [padSlice(dy, c.inputShapes[0]!, c.attrs['axis'] as number, c.attrs['start'] as number, c.attrs['step'] as number)],
});
defineGrad('padSlice', {
  grad: (dy, c) => {
    const axis = c.attrs['axis'] as number, start = c.attrs['start'] as number, step = c.attrs['step'] as number;
    const len = c.inputShapes[0]![axis]!;
    return [slice(dy, axis, start, start + (len - 1) * step + 1, step)];
  },
});
