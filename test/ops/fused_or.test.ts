// fusedOr / fusedBackwardOr (src/ops/fused_or.ts), the one place deciding "fused kernel, else
// compose": each branch on a backend that has the kernel and on one that lacks it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fusedBackwardOr, fusedOr, noGrad, enableGrad } from '../../src/index.js';
import { registerBackend } from '../../src/backend/registry.js';
import { referenceBackend } from '../../src/backends/reference/index.js';
import { primitivesOnly, withBackend } from './kernel_helpers.js';

registerBackend('test-with-gelu', () => ({ ...referenceBackend, name: 'test-with-gelu', geluForward: () => new Float32Array(0) }));

test('fusedOr: the kernel when present and usable; composed when absent, unusable or declined', () => {
  const pick = (usable: boolean, decline = false): string => fusedOr('geluForward', usable, () => (decline ? null : 'fused'), () => 'composed');
  withBackend('test-with-gelu', () => {
    assert.equal(pick(true), 'fused');
    assert.equal(pick(false), 'composed');
    assert.equal(pick(true, true), 'composed');
  });
  withBackend(primitivesOnly(), () => assert.equal(pick(true), 'composed'));
});

test('fusedBackwardOr: composed while the backward is recorded (createGraph)', () => {
  const pick = (): string => fusedBackwardOr('geluForward', true, () => 'fused', () => 'composed');
  withBackend('test-with-gelu', () => {
    assert.equal(noGrad(pick), 'fused');
    assert.equal(enableGrad(pick), 'composed');
  });
});
