// Observers: min/max buffers and calculate_qparams match torch.ao.quantization's observers bit for
// bit (fixtures from tools/fixtures/quant_fixtures.py), and misuse gets a clear error.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tensor } from '../../src/index.js';
import {
  MinMaxObserver, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, PerChannelMinMaxObserver,
  type ObserverBase,
} from '../../src/compress/quant/index.js';
import { fx, mismatches, type Json } from './quant_helpers.js';

function make(kind: string, c: Json): ObserverBase {
  const o = { dtype: c.dtype, qscheme: c.qscheme, reduceRange: c.reduceRange, quantMin: c.quantMin, quantMax: c.quantMax };
  switch (kind) {
    case 'minmax': return new MinMaxObserver(o);
    case 'movingAverage': return new MovingAverageMinMaxObserver({ ...o, averagingConstant: c.averagingConstant });
    case 'perChannelMinmax': return new PerChannelMinMaxObserver({ ...o, chAxis: c.chAxis });
    case 'perChannelMovingAverage': return new MovingAveragePerChannelMinMaxObserver({ ...o, chAxis: c.chAxis, averagingConstant: c.averagingConstant });
    default: throw new Error(kind);
  }
}

describe('observers (torch fixtures)', () => {
  test('min/max buffers and qparams', () => {
    assert.ok((fx.observers as Json[]).length > 30);
    for (const [i, c] of (fx.observers as Json[]).entries()) {
      const obs = make(c.kind, c.config);
      for (const b of c.batches) obs.call(tensor(new Float32Array(b.data), { shape: b.shape }));
      const label = `#${i} ${c.kind} ${JSON.stringify(c.config)}`;
      const state = obs.stateDict();
      assert.equal(mismatches(state.get('min_val')!.dataSync(), c.minVal).length, 0, `${label}: min_val`);
      assert.equal(mismatches(state.get('max_val')!.dataSync(), c.maxVal).length, 0, `${label}: max_val`);
      const q = obs.calculateQparams();
      assert.deepEqual(Array.from(q.scales), c.scale, `${label}: scale`);
      assert.deepEqual(Array.from(q.zeroPoints), c.zeroPoint, `${label}: zero point`);
    }
  });
  test('an observer that saw nothing says to calibrate first', () => {
    assert.throws(() => new MinMaxObserver().calculateQparams(), /MinMaxObserver.calculateQparams: the observer has seen no data; calibrate first/);
    assert.throws(() => new PerChannelMinMaxObserver().calculateQparams(), /calibrate first/);
  });
  test('non-finite input and bad options are refused', () => {
    assert.throws(() => new MinMaxObserver().call(tensor([1, NaN])), /input holds NaN at flat index 1/);
    assert.throws(() => new MinMaxObserver({ qscheme: 'perTensorSymmetric', reduceRange: true }), /reduceRange is not supported for symmetric quint8/);
    assert.throws(() => new MinMaxObserver({ quantMin: 1, quantMax: 7 }), /must include 0/);
    assert.throws(() => new MinMaxObserver({ qscheme: 'perChannelAffine' }), /needs a per-channel observer/);
    const pc = new PerChannelMinMaxObserver();
    pc.call(tensor([[1, 2], [3, 4]]));
    assert.throws(() => pc.call(tensor([[1, 2, 3]])), /saw 2 channels before and 1 now/);
  });
});
