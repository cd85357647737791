// Fake quantization: forward bit for bit and gradients (straight-through with the clamp mask; the
// learnable scale and zero point of LSQ) against torch's fake_quantize_* (fixtures from
// tools/fixtures/quant_fixtures.py). Run on both backends.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Parameter, tensor, sum, mul } from '../../src/index.js';
import {
  fakeQuantizeLearnablePerTensorAffine, fakeQuantizePerChannelAffine, fakeQuantizePerTensorAffine,
} from '../../src/compress/quant/index.js';
import { fx, mismatches, type Json } from './quant_helpers.js';

const leaf = (v: number[], shape?: number[]): Parameter => new Parameter(tensor(new Float32Array(v), shape ? { shape } : {}));

describe('fake quantization (torch fixtures)', () => {
  test('per tensor and per channel: forward exact, gradient = dy * mask', () => {
    for (const c of fx.fakeQuant as Json[]) {
      const x = leaf(c.x, c.shape);
      const y = c.kind === 'perTensor'
        ? fakeQuantizePerTensorAffine(x, c.scale, c.zeroPoint, c.quantMin, c.quantMax)
        : fakeQuantizePerChannelAffine(x, c.scales, c.zeroPoints, c.axis, c.quantMin, c.quantMax);
      assert.equal(mismatches(y.dataSync(), c.y).length, 0, `${c.kind} forward`);
      sum(mul(y, tensor(new Float32Array(c.dy), { shape: y.shape }))).backward();
      assert.equal(mismatches(x.grad!.dataSync(), c.dx).length, 0, `${c.kind} gradient`);
    }
  });
  test('learnable scale and zero point (LSQ)', () => {
    for (const c of fx.learnable as Json[]) {
      const x = leaf(c.x);
      const s = leaf([c.scale]), z = leaf([c.zeroPoint]);
      const y = fakeQuantizeLearnablePerTensorAffine(x, s, z, c.quantMin, c.quantMax, c.gradFactor);
      assert.equal(mismatches(y.dataSync(), c.y).length, 0, 'forward');
      sum(mul(y, tensor(new Float32Array(c.dy)))).backward();
      assert.equal(mismatches(x.grad!.dataSync(), c.dx).length, 0, 'dx');
      // torch sums float32 per-element terms in its own order: agree to float32 summation error
      assert.ok(Math.abs(s.grad!.item() - c.dscale) <= 1e-5 * (1 + Math.abs(c.dscale)), `dscale ${s.grad!.item()} vs ${c.dscale}`);
      assert.ok(Math.abs(z.grad!.item() - c.dzeroPoint) <= 1e-5 * (1 + Math.abs(c.dzeroPoint)), `dzp ${z.grad!.item()} vs ${c.dzeroPoint}`);
    }
  });
  test('bad parameters', () => {
    assert.throws(() => fakeQuantizePerTensorAffine(tensor([1]), 0, 0, -128, 127), /fakeQuantizePerTensorAffine: scale must be a positive finite number, got 0/);
    assert.throws(() => fakeQuantizePerTensorAffine(tensor([1]), 0.1, 0, 5, 1), /quantMin < quantMax/);
    assert.throws(() => fakeQuantizePerChannelAffine(tensor([[1, 2]]), [0.1, 0.1], [0, 0], 0, -128, 127), /1 channels along axis 0, got 2 scales/);
  });
});
