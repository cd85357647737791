// Gradient rules of gather, scatterAdd and cat.

import { Tensor } from '../../core/tensor.js';
import { fusedBackwardOr, gather, narrow, scatterAdd } from '../../ops/index.js';
import { defineGrad } from '../registry.js';

// out = gather(x, axis, index): dx = scatterAdd(zeros like x, axis, index, dy). For the rows of a
// 2-D table (kernel `embedding`, ops/embedding.ts; attrs.rows is the 1-D index), the
// backend's embeddingBackward computes the same sum in one pass when the backward is not recorded.
// When the table's gradient is already partly summed in storage the pass owns (a tied LM head's
// (V, D) gradient: GradContext.exclusiveLeafGrad), the rows are added into it in place: the
// embeddingBackward of the distinct rows only, (U, D), then row by row into the sum. Same sums in
// the same order as adding the dense (V, D) gradient, without allocating it (154 MB at GPT-2's
// vocabulary, at the very end of backward, where the step's memory peaks).
defineGrad('gather', {
  save: { inputs: [1] },
  grad: (dy, c) => {
    const rows = c.attrs['rows'] as Tensor | undefined;
    const shape = c.inputShapes[0]!;
    return fusedBackwardOr('embeddingBackward', rows !== undefined && dy.ndim === 2 && dy.dtype === c.inputDtypes[0],
      (be) => {
        const into = c.exclusiveLeafGrad?.(0) ?? null;
        if (into === null) return [new Tensor(be.embeddingBackward(dy.view_(), rows!.view_(), shape[0]!), dy.dtype, [...shape]), null];
        // distinct rows in order of first use, and each index's slot among them
        const idx = rows!.dataSync();
        const slotOf = new Map<number, number>();
        const distinct: number[] = [];
        const slots = new Int32Array(idx.length);
        for (let i = 0; i < idx.length; i++) {
          const r = idx[i]!;
          let s = slotOf.get(r);
          if (s === undefined) { s = distinct.length; slotOf.set(r, s); distinct.push(r); }
          slots[i] = s;
        }
        const part = be.embeddingBackward(dy.view_(), new Tensor(slots, 'int32', [idx.length]).view_(), distinct.length);  // (U, D)
        const d = shape[1]!, out = into.data, o = into.offset;
        for (let j = 0; j < distinct.length; j++) {
          const base = o + distinct[j]! * d, src = j * d;
          for (let k = 0; k < d; k++) out[base + k] = out[base + k]! + part[src + k]!;
        }
        into.version++;
        return [null, null];
      },
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
