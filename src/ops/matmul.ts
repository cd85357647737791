// Matrix product with torch.matmul semantics: 1-D operands are promoted and the added axis removed;
// batch axes broadcast. The kernel sees only (B, M, K) @ (B, K, N).

import { promoteTypes } from '../backend/dtype.js';
import { fmtShape } from '../backend/shape.js';
import { record } from '../core/engine.js';
import { DTypeError, ShapeError } from '../core/errors.js';
import { Tensor } from '../core/tensor.js';
import { expand, reshape, to, unsqueeze, squeeze } from './movement.js';
import { backend, broadcastOrThrow } from './util.js';

/**
 * Matrix product. (.., M, K) @ (.., K, N) -> (.., M, N); 1-D vectors as in torch.matmul.
 * @example matmul(x, w.t())   // (32, 784) @ (784, 300) -> (32, 300)
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0) {
    throw new ShapeError('matmul', `both operands need at least one dimension, got ${fmtShape(a.shape)} @ ${fmtShape(b.shape)}; use mul for scalars`);
  }
  const dt = promoteTypes(a.dtype, b.dtype);
  if (dt === 'bool' || dt === 'uint8') throw new DTypeError('matmul', `unsupported dtype ${dt}`);
  if (a.dtype !== dt) a = to(a, dt);
  if (b.dtype !== dt) b = to(b, dt);
  const aVec = a.ndim === 1, bVec = b.ndim === 1;
  const A = aVec ? unsqueeze(a, 0) : a;   // (K,) -> (1, K)
  const B = bVec ? unsqueeze(b, 1) : b;   // (K,) -> (K, 1)
  const [M, K] = [A.shape[A.ndim - 2]!, A.shape[A.ndim - 1]!];
  const [K2, N] = [B.shape[B.ndim - 2]!, B.shape[B.ndim - 1]!];
  if (K !== K2) {
    throw new ShapeError('matmul', `inner dimensions differ: ${fmtShape(a.shape)} @ ${fmtShape(b.shape)} (${K} != ${K2})`);
  }
  const batch = broadcastOrThrow('matmul', A.shape.slice(0, -2), B.shape.slice(0, -2));
  const nb = batch.reduce((p, d) => p * d, 1);
  const A3 = reshape(expand(A, [...batch, M, K]), [nb, M, K]);
  const B3 = reshape(expand(B, [...batch, K, N]), [nb, K, N]);
  const out3 = record('matmul', [A3, B3], new Tensor(backend().matmul(A3.view_(), B3.view_(), dt), dt, [nb, M, N]));
  let out = reshape(out3, [...batch, M, N]);
  if (aVec) out = squeeze(out, -2);
  if (bVec) out = squeeze(out, -1);
  return out;
}
