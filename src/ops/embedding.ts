// Kernel `embedding`: the rows of a 2-D table picked by a 1-D int32 index (an embedding lookup),
// one kernel on backends that have it. It is recorded on the tape as 'gather' along axis 0 (the
// same math, so one gradient rule serves both) with the 1-D index in attrs.rows, which lets the
// gather rule use the backend's embeddingBackward.
//
// Every part of this kernel:
//   op (indexSelect, embeddingRows)       src/ops/embedding.ts (this file)
//   composed reference                    gather, src/ops/indexing.ts
//   gradient rule                         src/autograd/grads/indexing.ts ('gather', attrs.rows)
//   backend members                       src/backend/backend.ts FusedKernels.embeddingForward, .embeddingBackward
//   native TS binding                     src/backends/native/embedding.ts
//   native C++ kernel                     native/src/embedding.cc
//   reference backend                     src/backends/reference/index.ts (embeddingForward, embeddingBackward)
//   tests                                 test/ops/embedding.test.ts, test/native/embedding.test.ts
//   callers                               src/nn/functional.ts F.embedding,
//                                         src/nn/embedding.ts Embedding

import { fmtShape } from '../backend/shape.js';
import { record } from '../core/engine.js';
import { normAxis, ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { fusedOr } from './fused_or.js';
import { gather } from './indexing.js';
import { expand, reshape } from './movement.js';
import { requireInt } from './util.js';

/**
 * Rows `index` (1-D int32, each in [0, V): the caller checks) of the table `x` (V, D) -> (N, D).
 * One kernel where the backend has embeddingForward; a gather with the index broadcast over the
 * columns (a stride-0 view) elsewhere. ops.indexSelect(x, 0, index) calls it for 2-D tables.
 *
 * @example
 * const rows = embeddingRows(table, ops.tensor([3, 1, 3], { dtype: 'int32' }));   // (3, D)
 */
export function embeddingRows(x: Tensor, index: Tensor): Tensor {
  const shape = [index.shape[0]!, x.shape[1]!];
  const broadcast = (): Tensor => expand(reshape(index, [index.shape[0]!, 1]), shape);
  return fusedOr('embeddingForward', true,
    (be) => record('gather', [x, broadcast()], new Tensor(be.embeddingForward(x.view_(), index.view_()), x.dtype, shape), { axis: 0, rows: index }),
    () => gather(x, 0, broadcast()));
}

/**
 * Select entries along `axis` by a 1-D int32 index, like torch.index_select.
 * @example indexSelect(embeddingTable, 0, tokenIds)
 */
export function indexSelect(x: Tensor, axis: number, index: Tensor): Tensor {
  requireInt('indexSelect', index);
  if (index.ndim !== 1) throw new ShapeError('indexSelect', `index must be 1-D, got ${fmtShape(index.shape)}`);
  const ax = normAxis('indexSelect', axis, x.ndim);
  const n = x.shape[ax]!;
  const idx = index.dataSync();
  for (const k of idx) {
    if (k < 0 || k >= n) throw new ShapeError('indexSelect', `index ${k} is out of range for dimension ${ax} of size ${n} in ${fmtShape(x.shape)}`);
  }
  // a 2-D table's rows: the embedding kernel
  if (ax === 0 && x.ndim === 2) return embeddingRows(x, index);
  // gather with the 1-D index broadcast (a stride-0 view, no copy) over the other axes
  const shape = [...x.shape]; shape[ax] = index.shape[0]!;
  const view = index.ndim === x.ndim ? index : reshape(index, x.shape.map((_, i) => (i === ax ? index.shape[0]! : 1)));
  return gather(x, ax, expand(view, shape));
}
