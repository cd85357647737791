// FakeQuantize modules for quantization-aware training (torch.ao.quantization.FakeQuantize and
// _LearnableFakeQuantize): an observer that keeps tracking the tensor's range, and fake
// quantization with the observer's current qparams, so training sees int8 rounding while weights
// stay float. Children and buffers use torch's names (activation_post_process, scale, zero_point).

import { Tensor } from '../../core/tensor.js';
import { TensorslimError } from '../../core/errors.js';
import { noGrad } from '../../core/engine.js';
import * as ops from '../../ops/index.js';
import { roundHalfEven } from '../../backend/quantized.js';
import { Module } from '../../nn/module.js';
import { Parameter } from '../../nn/parameter.js';
import { ObserverBase, type QParams } from './observer.js';
import {
  fakeQuantizeLearnablePerTensorAffine, fakeQuantizePerChannelAffine, fakeQuantizePerTensorAffine,
} from './fake_quant.js';

/**
 * Observe, then fake-quantize with the observed qparams (torch's FakeQuantize). Per tensor or per
 * channel, following the observer's scheme. enable/disable the observer (freeze the range) and the
 * fake quantization separately, as in torch.
 * @example
 * const fq = new FakeQuantize(new MovingAverageMinMaxObserver({ dtype: 'quint8' }));
 * const y = fq.call(x);   // x rounded to the observed int8 grid; gradient straight through
 */
export class FakeQuantize extends Module {
  declare activation_post_process: ObserverBase;
  declare scale: Tensor;
  declare zero_point: Tensor;
  observerEnabled = true;
  fakeQuantEnabled = true;

  constructor(observer: ObserverBase) {
    super();
    if (!(observer instanceof ObserverBase)) throw new TensorslimError('FakeQuantize', 'expected an observer (MinMaxObserver, MovingAverageMinMaxObserver, ...)');
    this.registerModule('activation_post_process', observer);
    this.registerBuffer('scale', new Tensor(Float32Array.of(1), 'float32', [1]));
    this.registerBuffer('zero_point', new Tensor(Int32Array.of(0), 'int32', [1]));
  }

  get quantMin(): number { return this.activation_post_process.quantMin; }
  get quantMax(): number { return this.activation_post_process.quantMax; }

  /** The observer's qparams (throws "calibrate first" before it has seen data). */
  calculateQparams(): QParams { return this.activation_post_process.calculateQparams(); }

  forward(x: Tensor): Tensor {
    const obs = this.activation_post_process;
    if (this.observerEnabled) {
      obs.call(ops.detach(x));
      const q = obs.calculateQparams();
      this.scale = new Tensor(q.scales, 'float32', [q.scales.length]);
      this.zero_point = new Tensor(q.zeroPoints, 'int32', [q.zeroPoints.length]);
    }
    if (!this.fakeQuantEnabled) return x;
    if (!obs.calibrated) obs.calculateQparams(); // throws "calibrate first": there are no qparams yet
    const s = this.scale.dataSync(), z = this.zero_point.dataSync();
    const axis = (obs as { chAxis?: number }).chAxis;
    return obs.qscheme.startsWith('perChannel')
      ? fakeQuantizePerChannelAffine(x, s, z, axis ?? 0, obs.quantMin, obs.quantMax)
      : fakeQuantizePerTensorAffine(x, s[0]!, z[0]!, obs.quantMin, obs.quantMax);
  }

  /** Freeze (false) or resume (true) range tracking. @example fq.enableObserver(false) */
  enableObserver(on = true): this { this.observerEnabled = on; return this; }
  /** Turn fake quantization off (false: identity) or on. @example fq.enableFakeQuant(false) */
  enableFakeQuant(on = true): this { this.fakeQuantEnabled = on; return this; }
}

/**
 * Fake quantization with a learned per-tensor scale and zero point (LSQ; torch's
 * _LearnableFakeQuantize). While `staticEnabled` (the default until learning starts) the observer
 * sets scale and zero point; after enableLearning() they are Parameters trained by the optimizer
 * with the gradients of fakeQuantizeLearnablePerTensorAffine. With useGradScaling the gradients are
 * scaled by 1 / sqrt(numel * quantMax) as LSQ recommends.
 * @example
 * const fq = new LearnableFakeQuantize(new MovingAverageMinMaxObserver(), { useGradScaling: true });
 * fq.call(x);              // first batch initializes scale / zero point from the observer
 * fq.enableLearning();     // then scale and zero_point learn
 */
export class LearnableFakeQuantize extends Module {
  declare activation_post_process: ObserverBase;
  declare scale: Parameter;
  declare zero_point: Parameter;
  readonly useGradScaling: boolean;
  staticEnabled = true;
  learningEnabled = false;
  fakeQuantEnabled = true;

  constructor(observer: ObserverBase, opts: { useGradScaling?: boolean } = {}) {
    super();
    const op = 'LearnableFakeQuantize';
    if (!(observer instanceof ObserverBase)) throw new TensorslimError(op, 'expected an observer');
    if (!observer.qscheme.startsWith('perTensor')) throw new TensorslimError(op, `a learnable scale is per tensor here; got an observer with ${observer.qscheme}`);
    this.useGradScaling = opts.useGradScaling ?? false;
    this.registerModule('activation_post_process', observer);
    this.registerParameter('scale', new Parameter(new Tensor(Float32Array.of(1), 'float32', [1])));
    this.registerParameter('zero_point', new Parameter(new Tensor(Float32Array.of(0), 'float32', [1])));
  }

  get quantMin(): number { return this.activation_post_process.quantMin; }
  get quantMax(): number { return this.activation_post_process.quantMax; }

  /** Start learning scale and zero point (stops the observer from overwriting them). @example fq.enableLearning() */
  enableLearning(on = true): this { this.learningEnabled = on; if (on) this.staticEnabled = false; return this; }
  /** Let the observer set scale and zero point on every forward (true) or not. */
  enableStatic(on = true): this { this.staticEnabled = on; return this; }
  /** Turn fake quantization off (identity) or on. */
  enableFakeQuant(on = true): this { this.fakeQuantEnabled = on; return this; }

  /** The current qparams: scale as is, zero point rounded half to even and clamped to the range. */
  calculateQparams(): QParams {
    const obs = this.activation_post_process;
    if (!obs.calibrated) obs.calculateQparams();
    const z = Math.min(Math.max(roundHalfEven(this.zero_point.item()), obs.quantMin), obs.quantMax);
    return { dtype: obs.dtype, scales: Float32Array.of(this.scale.item()), zeroPoints: Int32Array.of(z), axis: null, quantMin: obs.quantMin, quantMax: obs.quantMax };
  }

  forward(x: Tensor): Tensor {
    const obs = this.activation_post_process;
    if (this.staticEnabled || !obs.calibrated) {
      obs.call(ops.detach(x));
      const q = obs.calculateQparams();
      noGrad(() => {
        this.scale.assign(new Tensor(Float32Array.of(q.scales[0]!), 'float32', [1]));
        this.zero_point.assign(new Tensor(Float32Array.of(q.zeroPoints[0]!), 'float32', [1]));
      });
    }
    if (!this.fakeQuantEnabled) return x;
    if (this.learningEnabled) {
      const gf = this.useGradScaling ? 1 / Math.sqrt(x.size * obs.quantMax) : 1;
      return fakeQuantizeLearnablePerTensorAffine(x, this.scale, this.zero_point, obs.quantMin, obs.quantMax, gf);
    }
    const q = this.calculateQparams();
    return fakeQuantizePerTensorAffine(x, q.scales[0]!, q.zeroPoints[0]!, obs.quantMin, obs.quantMax);
  }
}
