// Helpers of the per-kernel op tests (test/ops/<kernel>.test.ts): run a function on a named
// backend, a backend that lacks every fused kernel, and compare tensors elementwise.

import assert from 'node:assert/strict';
import type { Backend, FusedKernels } from '../../src/backend/backend.js';
import { getBackend, listBackends, registerBackend, setBackend } from '../../src/backend/registry.js';
import { referenceBackend } from '../../src/backends/reference/index.js';
import type { Tensor } from '../../src/core/tensor.js';

/** Run `fn` with backend `name` active, then restore the previous one. */
export function withBackend<T>(name: string, fn: () => T): T {
  const prev = getBackend().name;
  setBackend(name);
  try { return fn(); } finally { setBackend(prev); }
}

const FUSED: readonly (keyof FusedKernels)[] = [
  'linear', 'linearBackward', 'softmaxCrossEntropy', 'softmaxCrossEntropyBackward', 'adamUpdate', 'attentionForward',
  'attentionBackward', 'layerNormForward', 'layerNormBackward', 'geluForward', 'geluBackward', 'embeddingForward',
  'embeddingBackward', 'csrLinear', 'linearCrossEntropy', 'reluBackward',
];

/** Register (once) and return the name of a backend with the primitives only: every op composes. */
export function primitivesOnly(): string {
  const name = 'test-primitives-only';
  if (!listBackends().includes(name)) {
    const be: Record<string, unknown> = { ...referenceBackend, name };
    for (const k of FUSED) delete be[k];
    registerBackend(name, () => be as unknown as Backend);  // built field by field above: a Backend with no fused kernels
  }
  return name;
}

/** Assert |a - b| <= atol + rtol |b| elementwise, same shape. */
export function assertClose(a: Tensor, b: Tensor, atol: number, rtol = 0, what = ''): void {
  assert.deepEqual([...a.shape], [...b.shape], `${what} shape`);
  const x = a.dataSync(), y = b.dataSync();
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    assert.ok(d <= atol + rtol * Math.abs(y[i]!), `${what} element ${i}: ${x[i]} vs ${y[i]} (|diff| ${d})`);
  }
}
