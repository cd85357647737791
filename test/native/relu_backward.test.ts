// Fuzz the native fused ReLU gradient (native/src/relu_backward.cc, backend member reluBackward)
// on every CPU path this machine has and with 1 and 2 threads, against the reference backend's
// composed form where(le(y, 0), 0, dy) (the gradient rule's reluGradReference): N-d views of any
// layout (permuted, sliced, expanded dy), ties at 0, -0, NaN and infinities, a run long enough for
// two threads' chunks, zero-size; a select, so the results must be equal bit for bit. Errors
// (dtype and shape mismatches) name the kernel.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { View } from '../../src/backend/backend.js';
import { contiguousStrides } from '../../src/backend/shape.js';
import { referenceBackend as ref } from '../../src/backends/reference/index.js';
import { getNativeBackend } from '../../src/backends/native/index.js';
import { KINDS, fmt, normal, randShape, randView, rng, withTies } from './helpers.js';
import { forEachSetting, nativeSkip as skip } from './helpers.js';

const nat = getNativeBackend()!;

/** y's values: ties and NaN (withTies), sometimes -0, +-inf. */
const yFill = (r: () => number): number => { const u = r(); return u < 0.04 ? -0 : u < 0.06 ? Infinity : u < 0.08 ? -Infinity : withTies(r); };
/** dy's values: mostly uniform, sometimes NaN or inf where y masks them. */
const dyFill = (r: () => number): number => { const u = r(); return u < 0.03 ? NaN : u < 0.05 ? -Infinity : normal(r); };

describe('native fused ReLU gradient vs the reference backend', { skip }, () => {
  test('reluBackward equals where(le(y, 0), 0, dy) bit for bit, any layout, both float dtypes', () => {
    // the cases and their reference results once; then the kernel on every path and thread count
    const r = rng(1717);
    const cases: { y: View; dy: View; want: ArrayLike<number>; kind: string }[] = [];
    for (let it = 0; it < 16; it++) for (const kind of KINDS) {
      // the first: long enough for two threads' tasks (kReluGrain 65536 elements each)
      const shape = it === 0 ? [140000 + Math.floor(r() * 500)] : randShape(r, 4, 9);
      const expandAxes = shape.length > 0 && r() < 0.3 ? [Math.floor(r() * shape.length)] : [];
      const y = randView(r, kind, shape, yFill);
      const dy = randView(r, kind, shape, dyFill, { expandAxes });
      // the backend's binary and where take operands of one shape: 0 expanded (stride 0)
      const zero: View = { data: kind === 'float32' ? new Float32Array(1) : new Float64Array(1), shape: [...shape], strides: shape.map(() => 0), offset: 0 };
      const mask: View = { data: ref.binary('le', y, zero, 'bool'), shape: [...shape], strides: contiguousStrides(shape), offset: 0 };
      cases.push({ y, dy, want: ref.where(mask, zero, dy, kind), kind });
    }
    forEachSetting((setting) => {
      for (const { y, dy, want, kind } of cases) {
        const got = nat.reluBackward!(dy, y);
        assert.equal(got.constructor, want.constructor, `${setting} ${kind}: dtype`);
        assert.equal(got.length, want.length, `${setting} ${kind}: length`);
        for (let i = 0; i < want.length; i++) {
          if (!Object.is(got[i], want[i])) assert.fail(`${setting} ${kind} y ${fmt(y)} dy ${fmt(dy)}: element ${i}: ${got[i]} vs ${want[i]}`);
        }
      }
    });
  });

  test('reluBackward rejects mismatched dtypes and shapes, naming the kernel', () => {
    const f32 = (n: number): View => ({ data: new Float32Array(n), shape: [n], strides: [1], offset: 0 });
    const f64: View = { data: new Float64Array(4), shape: [4], strides: [1], offset: 0 };
    assert.throws(() => nat.reluBackward!(f64, f32(4)), /reluBackward.*operand dtypes differ: float64 and float32/);
    assert.throws(() => nat.reluBackward!(f32(3), f32(4)), /reluBackward.*operand shapes differ/);
  });
});
