// Unit tests for ops/activation.ts: softmax / logSoftmax, gelu, dropout.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { dropout, gelu, Generator, logSoftmax, ones, softmax, tensor } from '../../src/index.js';
import { assertClose, vals } from '../core/helpers.js';

test('softmax of (0, ln 2, ln 3) is (1, 2, 3) / 6', () => {
  const x = tensor([[0, Math.log(2), Math.log(3)], [5, 5, 5]], { dtype: 'float64' });
  assertClose(softmax(x, -1), [1 / 6, 2 / 6, 3 / 6, 1 / 3, 1 / 3, 1 / 3], 'softmax', 1e-12, 1e-15);
  assertClose(logSoftmax(x, 1), [Math.log(1 / 6), Math.log(2 / 6), Math.log(3 / 6), -Math.log(3), -Math.log(3), -Math.log(3)], 'logSoftmax', 1e-12, 1e-15);
});

test('softmax along axis 0 and with huge logits', () => {
  // columns (0, ln 3): e^0 / (1 + 3) = 1/4, 3/4
  assertClose(softmax(tensor([[0, 0], [Math.log(3), Math.log(3)]]), 0), [0.25, 0.25, 0.75, 0.75]);
  assertClose(softmax(tensor([1000, 1000])), [0.5, 0.5]);
  assertClose(logSoftmax(tensor([1000, 0])), [0, -1000]);
});

test('gelu exact and tanh approximation', () => {
  // exact: x * Phi(x), Phi(1) = 0.8413447460685429, Phi(-1) = 0.15865525393145707
  assertClose(gelu(tensor([0, 1, -1], { dtype: 'float64' })), [0, 0.8413447460685429, -0.15865525393145707], 'gelu', 1e-12, 1e-15);
  // tanh: x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const f = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  assertClose(gelu(tensor([1, -2], { dtype: 'float64' }), { approximate: 'tanh' }), [f(1), f(-2)], 'gelu tanh', 1e-12, 1e-15);
});

test('dropout: identity when not training or p = 0; zeros when p = 1; survivors scaled by 1/(1-p)', () => {
  const x = ones([1000]);
  assert.equal(dropout(x, 0.5, false), x);
  assert.equal(dropout(x, 0), x);
  assert.deepEqual([...new Set(vals(dropout(x, 1)))], [0]);
  const y = vals(dropout(x, 0.25, true, new Generator(1)));
  assert.ok(y.every((v) => v === 0 || Math.abs(v - 4 / 3) < 1e-6));
  const kept = y.filter((v) => v !== 0).length; // ~750, sd sqrt(1000 * 0.25 * 0.75) = 13.7
  assert.ok(Math.abs(kept - 750) < 70, `kept ${kept}`);
  assert.deepEqual(vals(dropout(x, 0.25, true, new Generator(1))), y, 'same generator seed, same mask');
  assert.throws(() => dropout(x, 1.5), /dropout: probability must be in \[0, 1\], got 1.5/);
});
