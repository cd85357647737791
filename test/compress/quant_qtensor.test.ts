// Quantized tensors: quantize/dequantize match torch.quantize_per_tensor / quantize_per_channel bit
// for bit (fixtures include values exactly half a step from a level), and bad parameters are refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tensor } from '../../src/index.js';
import { dequantize, quantizePerChannel, quantizePerTensor, QuantizedTensor } from '../../src/compress/quant/index.js';
import { quantizeValue, roundHalfEven } from '../../src/backend/quantized.js';
import { fx, mismatches, type Json } from './quant_helpers.js';

describe('quantized tensors (torch fixtures)', () => {
  test('roundHalfEven', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, -2.5001].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2, -3]);
  });
  test('quantizePerTensor and dequantize', () => {
    for (const c of fx.perTensor as Json[]) {
      const q = quantizePerTensor(tensor(new Float32Array(c.x)), c.scale, c.zeroPoint, c.dtype);
      const bad = mismatches(q.data, c.q);
      assert.equal(bad.length, 0, `${c.dtype} scale ${c.scale} zp ${c.zeroPoint}: q differs at ${bad.slice(0, 5).map((i) => `${c.x[i]}: ${q.data[i]} vs ${c.q[i]}`)}`);
      const dq = dequantize(q).dataSync();
      assert.equal(mismatches(dq, c.dq).length, 0, 'dequantize differs');
    }
  });
  test('quantizePerTensor gives quantizeValue\'s bits for every zero point: ties, ends, NaN, Inf, huge', () => {
    let seed = 5;
    const rnd = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32; };
    for (const dtype of ['qint8', 'quint8'] as const) {
      const [lo, hi] = dtype === 'qint8' ? [-128, 127] : [0, 255];
      for (const zp of [lo, lo + 1, hi - 1, hi, 0, 1, 7, -7].filter((z) => z >= lo && z <= hi)) {
        const scale = [0.0173, 0.5, 1, 3e-3][Math.floor(rnd() * 4)]!;
        const xs: number[] = [NaN, Infinity, -Infinity, 1e30, -1e30, 3e9, -3e9, 0, -0];
        for (let k = -300; k <= 300; k++) xs.push((k + 0.5) * scale, k * scale, (k + 0.5) * scale * (1 + 1e-7), (k + 0.5) * scale * (1 - 1e-7));
        for (let k = 0; k < 500; k++) xs.push((rnd() - 0.5) * 600 * scale);
        const x = new Float32Array(xs);
        const q = quantizePerTensor(tensor(x), scale, zp, dtype).data;
        const inv = Math.fround(1 / Math.fround(scale));
        for (let i = 0; i < x.length; i++) {
          const want = quantizeValue(x[i]!, inv, zp, lo, hi);
          if (q[i] !== want) assert.fail(`${dtype} scale ${scale} zp ${zp}: x ${x[i]} gives ${q[i]}, quantizeValue ${want}`);
        }
      }
    }
  });
  test('quantizePerChannel and dequantize', () => {
    for (const c of fx.perChannel as Json[]) {
      const q = quantizePerChannel(tensor(new Float32Array(c.x), { shape: c.shape }), c.scales, c.zeroPoints, c.axis, c.dtype);
      assert.equal(mismatches(q.data, c.q).length, 0, `${c.dtype} axis ${c.axis}: q differs`);
      assert.equal(mismatches(dequantize(q).dataSync(), c.dq).length, 0, `${c.dtype} axis ${c.axis}: dequantize differs`);
      assert.deepEqual(q.shape, c.shape);
    }
  });
  test('non-finite values land on qmin as in torch on x86', () => {
    const q = quantizePerTensor(tensor([NaN, Infinity, -Infinity, 1e30]), 0.1, 3, 'qint8');
    assert.deepEqual(Array.from(q.data), [-128, -128, -128, -128]);
  });
  test('bad parameters are refused with the op named', () => {
    const x = tensor([1, 2]);
    assert.throws(() => quantizePerTensor(x, 0, 0, 'qint8'), /quantizePerTensor: scale must be a positive finite number, got 0/);
    assert.throws(() => quantizePerTensor(x, NaN, 0, 'qint8'), /scale must be a positive finite number, got NaN/);
    assert.throws(() => quantizePerTensor(x, 0.1, 200, 'qint8'), /zeroPoint must be an integer in \[-128, 127\] for qint8, got 200/);
    assert.throws(() => quantizePerChannel(tensor([[1, 2], [3, 4]]), [0.1], [0], 0, 'qint8'), /2 channels along axis 0, got 1 scales/);
    assert.throws(() => quantizePerChannel(tensor([[1, 2], [3, 4]]), [0.1, -1], [0, 0], 0, 'qint8'), /scale of channel 1 must be a positive/);
    assert.throws(() => quantizePerTensor(tensor([1], { dtype: 'int32' }), 0.1, 0, 'qint8'), /expected a float32 or float64 tensor, got int32/);
    assert.throws(() => new QuantizedTensor({ dtype: 'qint8', shape: [2], data: new Uint8Array(2), scales: Float32Array.of(1), zeroPoints: Int32Array.of(0), axis: null }), /qint8 data must be an Int8Array/);
  });
  test('per-channel accessors', () => {
    const q = quantizePerChannel(tensor([[1, 2], [3, 4]]), [0.1, 0.2], [0, 1], 0, 'qint8');
    assert.throws(() => q.scale, /quantized per channel/);
    assert.deepEqual(Array.from(q.intRepr().dataSync()), [10, 20, 16, 21]);
  });
});
