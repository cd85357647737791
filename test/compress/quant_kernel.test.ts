// The reference int8 kernel (backends/reference/quantized.ts): a hand-computed case, agreement with
// float64 math on the dequantized operands over random odd sizes and extreme zero points, the
// requantization's rounding and fused ReLU, int32 wrap-around beyond K = 33025, and torch's static
// quantized Linear / LinearReLU outputs (fixtures).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { int8LinearReference } from '../../src/backends/reference/quantized.js';
import { roundHalfEven, type QuantizedActivation, type QuantizedWeight } from '../../src/backend/quantized.js';
import { Generator } from '../../src/index.js';
import { QuantizedLinear, QuantizedTensor } from '../../src/compress/quant/index.js';
import { fx, type Json } from './quant_helpers.js';

const w1 = (data: number[], rows: number, cols: number, scales: number[], zps: number[]): QuantizedWeight =>
  ({ data: Int8Array.from(data), rows, cols, scales: Float32Array.from(scales), zeroPoints: Int32Array.from(zps) });

describe('int8Linear reference kernel', () => {
  test('hand-computed: x = [2, -2] * 0.5, w = [1, 3] * 0.25, bias 1', () => {
    // acc = 2 * 1 + (-2) * 3 = -4; real = -4 * (0.5 * 0.25) + 1 = 0.5; requantized: 0.5 / 0.25 + 10 = 12
    const x: QuantizedActivation = { data: Uint8Array.of(130, 126), rows: 1, cols: 2, scale: 0.5, zeroPoint: 128 };
    const w = w1([1, 3], 1, 2, [0.25], [0]);
    assert.deepEqual(Array.from(int8LinearReference(x, w, Float32Array.of(1), { kind: 'float32' })), [0.5]);
    assert.deepEqual(Array.from(int8LinearReference(x, w, Float32Array.of(1), { kind: 'requantize', dtype: 'uint8', scale: 0.25, zeroPoint: 10, relu: false })), [12]);
    // ReLU: -1.5 / 0.25 = -6 -> clamped at the zero point
    assert.deepEqual(Array.from(int8LinearReference(x, w, Float32Array.of(-1), { kind: 'requantize', dtype: 'int8', scale: 0.25, zeroPoint: -3, relu: true })), [-3]);
    assert.deepEqual(Array.from(int8LinearReference(x, w, Float32Array.of(-1), { kind: 'requantize', dtype: 'int8', scale: 0.25, zeroPoint: -3, relu: false })), [-9]);
  });
  test('random odd sizes and extreme zero points agree with float64 math on dequantized operands', () => {
    const g = new Generator(42);
    const int = (lo: number, hi: number): number => lo + Math.floor(g.uniform() * (hi - lo + 1));
    for (let trial = 0; trial < 40; trial++) {
      const M = int(1, 7), K = int(1, 67), N = int(1, 9);
      const signed = trial % 2 === 0;
      const [lo, hi] = signed ? [-128, 127] : [0, 255];
      const zx = [lo, hi, int(lo, hi)][trial % 3]!;
      const x: QuantizedActivation = {
        data: signed ? Int8Array.from({ length: M * K }, () => int(lo, hi)) : Uint8Array.from({ length: M * K }, () => int(lo, hi)),
        rows: M, cols: K, scale: Math.fround(0.001 + g.uniform() * 0.1), zeroPoint: zx,
      };
      const w = w1(Array.from({ length: N * K }, () => int(-128, 127)), N, K,
        Array.from({ length: N }, () => 0.001 + g.uniform() * 0.05), Array.from({ length: N }, () => [-128, 127, 0][int(0, 2)]!));
      const bias = trial % 4 === 0 ? null : Float32Array.from({ length: N }, () => g.uniform() * 4 - 2);
      const y = int8LinearReference(x, w, bias, { kind: 'float32' }) as Float32Array;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let exact = 0; // float64 is exact here: |terms| <= 65025, K < 100
          for (let k = 0; k < K; k++) exact += (x.data[m * K + k]! - zx) * (w.data[n * K + k]! - w.zeroPoints[n]!);
          const want = exact * x.scale * w.scales[n]! + (bias ? bias[n]! : 0);
          const got = y[m * N + n]!;
          assert.ok(Math.abs(got - want) <= 1e-6 * (Math.abs(exact * x.scale * w.scales[n]!) + Math.abs(want)) + 1e-7, `trial ${trial}: ${got} vs ${want}`);
        }
      }
      // requantized output = the float output quantized with the output qparams (half to even, clamped)
      const out = { kind: 'requantize', dtype: 'int8', scale: 0.05, zeroPoint: int(-128, 127), relu: trial % 3 === 0 } as const;
      const q = int8LinearReference(x, w, bias, out);
      const inv = Math.fround(1 / Math.fround(out.scale));
      const lowest = out.relu ? out.zeroPoint : -128;
      assert.deepEqual(Array.from(q), Array.from(y, (v) => Math.min(127, Math.max(lowest, roundHalfEven(Math.fround(v * inv)) + out.zeroPoint))));
    }
  });
  test('int32 accumulation wraps beyond K = 33025', () => {
    const K = 34000; // 34000 * 255 * 255 = 2210850000 > 2^31 - 1
    const x: QuantizedActivation = { data: new Uint8Array(K).fill(255), rows: 1, cols: K, scale: 1, zeroPoint: 0 };
    const w = w1(new Array<number>(K).fill(127), 1, K, [1], [-128]);
    assert.deepEqual(Array.from(int8LinearReference(x, w, null, { kind: 'float32' })), [Math.fround(2210850000 - 2 ** 32)]);
  });
  test('shape errors name the op', () => {
    const x: QuantizedActivation = { data: new Uint8Array(6), rows: 2, cols: 3, scale: 1, zeroPoint: 0 };
    assert.throws(() => int8LinearReference(x, w1([1, 2], 1, 2, [1], [0]), null, { kind: 'float32' }), /int8Linear \(reference\): inner dimensions differ: x \(2, 3\) @ w\^T with w \(1, 2\)/);
  });
});

describe('QuantizedLinear against torch (fixtures)', () => {
  test("int8 in, int8 out: torch's quantized Linear / LinearReLU bits (onednn exactly, qnnpack within one level)", () => {
    assert.ok(fx.static.length >= 8);
    for (const c of fx.static as Json[]) {
      const w = new QuantizedTensor({ dtype: 'qint8', shape: [c.out, c.in], data: Int8Array.from(c.weightInt), scales: Float32Array.from(c.weightScales), zeroPoints: new Int32Array(c.out), axis: 0 });
      const m = new QuantizedLinear(w, Float32Array.from(c.bias), { dtype: 'quint8', scale: c.xScale, zeroPoint: c.xZeroPoint },
        { dtype: 'quint8', scale: c.yScale, zeroPoint: c.yZeroPoint }, c.relu);
      const x = new QuantizedTensor({ dtype: 'quint8', shape: [c.batch, c.in], data: Uint8Array.from(c.xInt), scales: Float32Array.of(c.xScale), zeroPoints: Int32Array.of(c.xZeroPoint), axis: null });
      const y = Array.from(m.forwardQuantized(x).data);
      if (c.engine === 'onednn') {
        // onednn: float bias added to the float-scaled accumulator, then rounded: our contract exactly
        assert.deepEqual(y, c.yInt, `${c.engine} relu=${c.relu} (${c.in} -> ${c.out})`);
      } else {
        // qnnpack quantizes the bias to int32 and requantizes with a fixed-point multiplier: off by
        // at most one level where the real value sits near a rounding boundary
        assert.ok(y.every((v, i) => Math.abs(v - c.yInt[i]) <= 1), `${c.engine} relu=${c.relu}: more than one level apart`);
      }
    }
  });
});
