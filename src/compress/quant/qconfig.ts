// QConfig: which observers (or fake quantizers) a prepared layer uses for its activations and its
// weight, as torch.ao.quantization.QConfig. Factories, so every layer gets its own instances.

import { ObserverBase, MinMaxObserver, MovingAverageMinMaxObserver, MovingAveragePerChannelMinMaxObserver, PerChannelMinMaxObserver } from './observer.js';
import { HistogramObserver, EntropyObserver } from './histogram.js';
import { FakeQuantize, LearnableFakeQuantize } from './fake_quantize.js';

/** Observer factories for a layer's activations (input and output) and its weight. */
export interface QConfig {
  activation: () => ObserverBase;
  weight: () => ObserverBase;
}

/** Fake-quantizer factories for quantization-aware training. */
export interface QatQConfig {
  activation: () => FakeQuantize | LearnableFakeQuantize;
  weight: () => FakeQuantize;
}

/** The activation observers prepareStatic offers by name. */
export type ActivationObserverKind = 'minmax' | 'histogram' | 'entropy';

/**
 * The default static (post-training) qconfig: activations quint8 affine with the chosen observer
 * (torch's default is the histogram observer), weights qint8 per-channel symmetric min-max.
 * @example prepareStatic(model, { qconfig: defaultStaticQConfig('minmax') })
 */
export function defaultStaticQConfig(observer: ActivationObserverKind = 'histogram'): QConfig {
  const activation = (): ObserverBase => {
    switch (observer) {
      case 'minmax': return new MinMaxObserver({ dtype: 'quint8' });
      case 'histogram': return new HistogramObserver({ dtype: 'quint8' });
      case 'entropy': return new EntropyObserver({ dtype: 'quint8' });
    }
  };
  return { activation, weight: () => new PerChannelMinMaxObserver({ dtype: 'qint8', qscheme: 'perChannelSymmetric', chAxis: 0 }) };
}

/**
 * The default QAT qconfig (torch's default_qat_qconfig_v2 without fusing observers): activations
 * fake-quantized quint8 with a moving-average min-max observer (optionally with a learnable scale),
 * weights qint8 per-channel symmetric with a moving-average per-channel observer.
 * @example prepareQat(model, { qconfig: defaultQatQConfig({ learnableScale: true }) })
 */
export function defaultQatQConfig(opts: { learnableScale?: boolean } = {}): QatQConfig {
  return {
    activation: () => opts.learnableScale
      ? new LearnableFakeQuantize(new MovingAverageMinMaxObserver({ dtype: 'quint8' }), { useGradScaling: true })
      : new FakeQuantize(new MovingAverageMinMaxObserver({ dtype: 'quint8' })),
    weight: () => new FakeQuantize(new MovingAveragePerChannelMinMaxObserver({ dtype: 'qint8', qscheme: 'perChannelSymmetric', chAxis: 0 })),
  };
}
