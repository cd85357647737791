// clipGradNorm / clipGradValue against torch.nn.utils.clip_grad_norm_ / clip_grad_value_
// (test/fixtures/optim.json): total norm returned and gradients after clipping.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clipGradNorm, clipGradValue } from '../../src/optim/index.js';
import { assertClose, f64, loadFixture, param, values, type FixtureTensor } from './helpers.js';

interface NormCase { name: string; maxNorm: number; normType: number | 'inf'; grads: FixtureTensor[]; totalNorm: number; after: FixtureTensor[] }
interface ValueCase { name: string; clipValue: number; grads: FixtureTensor[]; after: FixtureTensor[] }

const fx = loadFixture<{ clipGradNorm: NormCase[]; clipGradValue: ValueCase[] }>();

function withGrads(grads: FixtureTensor[]): ReturnType<typeof param>[] {
  return grads.map((g) => { const p = param({ shape: g.shape, data: g.data.map(() => 0) }); p.grad = f64(g.data, g.shape); return p; });
}

describe('clipGradNorm matches PyTorch', () => {
  for (const c of fx.clipGradNorm) {
    it(c.name, () => {
      const params = withGrads(c.grads);
      const gradObjects = params.map((p) => p.grad);
      const total = clipGradNorm(params, c.maxNorm, c.normType === 'inf' ? Infinity : c.normType);
      assertClose([total], [c.totalNorm], 'total norm');
      params.forEach((p, i) => {
        assert.equal(p.grad, gradObjects[i], 'grad changed in place');
        assertClose(values(p.grad!), c.after[i]!.data, `grad ${i}`);
      });
    });
  }

  it('returns 0 without gradients; errorIfNonfinite throws and changes nothing', () => {
    assert.equal(clipGradNorm([f64([1]).requiresGrad_(true)], 1), 0);
    const p = f64([1, 2]).requiresGrad_(true);
    p.grad = f64([Infinity, 1]);
    assert.throws(() => clipGradNorm(p, 1, 2, { errorIfNonfinite: true }), /non-finite/);
    assert.deepEqual(values(p.grad), [Infinity, 1]);
  });
});

describe('clipGradValue matches PyTorch', () => {
  for (const c of fx.clipGradValue) {
    it(c.name, () => {
      const params = withGrads(c.grads);
      clipGradValue(params, c.clipValue);
      params.forEach((p, i) => assertClose(values(p.grad!), c.after[i]!.data, `grad ${i}`));
    });
  }
});
