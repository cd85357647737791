// The one place that decides "fused kernel present, else compose". Every op and gradient rule
// with an optional fused kernel (FusedKernels in backend/backend.ts) goes through fusedOr (a
// forward, or any call that is not itself recorded) or fusedBackwardOr (a gradient rule: the
// fused backward only when the backward is not being recorded, i.e. no createGraph, since a
// kernel call leaves no graph). Each caller keeps its own `usable` condition (non-empty input,
// matching dtypes, ...), evaluated before the kernel is looked up; it must be cheap and pure.

import type { Backend, FusedKernels } from '../backend/backend.js';
import { getBackend } from '../backend/registry.js';
import { isGradEnabled } from '../core/engine.js';

/** The active backend, known to have the fused kernel `K`. */
export type BackendWith<K extends keyof FusedKernels> = Backend & Required<Pick<FusedKernels, K>>;

/**
 * Run `fused` on the active backend when it has the kernel `kernel` and `usable` holds; otherwise,
 * or when `fused` declines by returning null (a kernel that cannot take these arrays), `composed`.
 *
 * @example
 * const y = fusedOr('geluForward', x.size > 0,
 *   (be) => new Tensor(be.geluForward(x.view_(), 'none'), x.dtype, [...x.shape]),
 *   () => noGrad(() => geluReference(x)));
 */
export function fusedOr<K extends keyof FusedKernels, T>(kernel: K, usable: boolean,
  fused: (be: BackendWith<K>) => T | null, composed: () => T): T {
  if (usable) {
    const be = getBackend();
    if (typeof be[kernel] === 'function') {
      // narrowing one optional member by a computed key: TypeScript cannot express it
      const r = fused(be as BackendWith<K>);
      if (r !== null) return r;
    }
  }
  return composed();
}

/**
 * fusedOr for a gradient rule: the fused backward runs only while the backward is not recorded
 * (no createGraph); recorded, the composed rule builds the differentiable graph.
 *
 * @example
 * return fusedBackwardOr('geluBackward', dy.dtype === x.dtype && x.size > 0,
 *   (be) => [new Tensor(be.geluBackward(dy.view_(), x.view_(), 'none'), x.dtype, [...x.shape])],
 *   () => [composedGeluGrad(dy, x)]);
 */
export function fusedBackwardOr<K extends keyof FusedKernels, T>(kernel: K, usable: boolean,
  fused: (be: BackendWith<K>) => T | null, composed: () => T): T {
  return fusedOr(kernel, usable && !isGradEnabled(), fused, composed);
}
