// Parameter initializers, like torch.nn.init: each writes in place (under noGrad, so it is not
// recorded and works on leaves that require grad) and returns the tensor. Random draws come from
// the default generator of core/random.ts (or one passed in), so manualSeed(s) makes runs repeat.
// Values are drawn in float64 in row-major order, then stored in the tensor's dtype.

import { Tensor } from '../core/tensor.js';
import { noGrad } from '../core/engine.js';
import { TensorslimError } from '../core/errors.js';
import { defaultGenerator, type Generator } from '../core/random.js';
import { allocate, isFloat } from '../backend/dtype.js';
import { fmtShape } from '../backend/shape.js';
import * as ops from '../ops/index.js';

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fanIn' | 'fanOut';

/** Fill `t` with values from `draw()` (row-major), in place. */
function fillWith(op: string, t: Tensor, draw: () => number): Tensor {
  if (!isFloat(t.dtype)) throw new TensorslimError(`init.${op}`, `expects a floating-point tensor, got ${t.dtype}`);
  // a tensor that owns its whole storage is filled in place (no second buffer of its size for
  // the garbage collector: initializing GPT-2's 124 M parameters made ~500 MB of it); a view is
  // filled through a copy
  if (t.offset === 0 && t.isContiguous() && t.data.length === t.size) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) d[i] = draw();
    t.version++;
    return t;
  }
  const buf = allocate(t.dtype, t.size);
  for (let i = 0; i < buf.length; i++) buf[i] = draw();
  const src = new Tensor(buf, t.dtype, t.shape);
  noGrad(() => { ops.assign(t, src); });
  return t;
}

/**
 * The recommended gain for a nonlinearity (torch.nn.init.calculate_gain).
 * @example calculateGain('relu')  // Math.SQRT2
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d': case 'sigmoid': return 1;
    case 'tanh': return 5 / 3;
    case 'relu': return Math.SQRT2;
    case 'leaky_relu': { const s = param ?? 0.01; return Math.sqrt(2 / (1 + s * s)); }
    case 'selu': return 3 / 4;
  }
}

/**
 * fan_in and fan_out of a weight: (out, in, *kernel) -> in * prod(kernel), out * prod(kernel).
 * @example calculateFanInAndFanOut(ops.zeros([300, 784]))  // [784, 300]
 */
export function calculateFanInAndFanOut(t: Tensor): [number, number] {
  if (t.ndim < 2) {
    throw new TensorslimError('init.calculateFanInAndFanOut', `fan in and fan out need a tensor with at least 2 dimensions, got shape ${fmtShape(t.shape)}`);
  }
  let receptive = 1;
  for (let i = 2; i < t.ndim; i++) receptive *= t.shape[i]!;
  return [t.shape[1]! * receptive, t.shape[0]! * receptive];
}

/**
 * Fill with U(a, b), in place.
 * @example uniform_(w, -0.1, 0.1)
 */
export function uniform_(t: Tensor, a = 0, b = 1, generator: Generator = defaultGenerator): Tensor {
  return fillWith('uniform_', t, () => a + (b - a) * generator.uniform());
}

/**
 * Fill with N(mean, std^2), in place.
 * @example normal_(embedding.weight, 0, 0.02)
 */
export function normal_(t: Tensor, mean = 0, std = 1, generator: Generator = defaultGenerator): Tensor {
  return fillWith('normal_', t, () => mean + std * generator.normal());
}

/**
 * Fill with N(mean, std^2) truncated to [a, b] (by rejection), in place.
 * @example truncNormal_(w, 0, 0.02, -0.04, 0.04)
 */
export function truncNormal_(t: Tensor, mean = 0, std = 1, a = -2, b = 2, generator: Generator = defaultGenerator): Tensor {
  if (!(a < b)) throw new TensorslimError('init.truncNormal_', `needs a < b, got a=${a}, b=${b}`);
  return fillWith('truncNormal_', t, () => {
    for (let k = 0; k < 1000; k++) { const v = mean + std * generator.normal(); if (v >= a && v <= b) return v; }
    return Math.min(Math.max(mean, a), b);
  });
}

/**
 * Fill with a constant, in place.
 * @example constant_(ln.weight, 1)
 */
export function constant_(t: Tensor, value: number): Tensor {
  noGrad(() => { ops.fill_(t, value); });
  return t;
}

/** Fill with zeros, in place. @example zeros_(lin.bias!) */
export function zeros_(t: Tensor): Tensor { return constant_(t, 0); }

/** Fill with ones, in place. @example ones_(ln.weight) */
export function ones_(t: Tensor): Tensor { return constant_(t, 1); }

/**
 * Kaiming (He) uniform: U(-bound, bound), bound = gain * sqrt(3 / fan), gain = calculateGain(nonlinearity, a).
 * With the defaults Linear and Conv2d use (a = sqrt(5)), bound = 1 / sqrt(fan_in).
 * @example kaimingUniform_(lin.weight, { a: Math.sqrt(5) })
 */
export function kaimingUniform_(
  t: Tensor,
  opts: { a?: number; mode?: FanMode; nonlinearity?: Nonlinearity; generator?: Generator } = {},
): Tensor {
  const std = kaimingStd('kaimingUniform_', t, opts);
  const bound = Math.sqrt(3) * std;
  return uniform_(t, -bound, bound, opts.generator);
}

/**
 * Kaiming (He) normal: N(0, std^2), std = gain / sqrt(fan).
 * @example kaimingNormal_(conv.weight, { mode: 'fanOut', nonlinearity: 'relu' })
 */
export function kaimingNormal_(
  t: Tensor,
  opts: { a?: number; mode?: FanMode; nonlinearity?: Nonlinearity; generator?: Generator } = {},
): Tensor {
  return normal_(t, 0, kaimingStd('kaimingNormal_', t, opts), opts.generator);
}

function kaimingStd(op: string, t: Tensor, opts: { a?: number; mode?: FanMode; nonlinearity?: Nonlinearity }): number {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const fan = (opts.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  if (fan === 0) throw new TensorslimError(`init.${op}`, `cannot initialize a tensor with zero fan (shape ${fmtShape(t.shape)})`);
  const gain = calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0);
  return gain / Math.sqrt(fan);
}

/**
 * Xavier (Glorot) uniform: U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out)).
 * @example xavierUniform_(lin.weight)
 */
export function xavierUniform_(t: Tensor, gain = 1, generator: Generator = defaultGenerator): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  const bound = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -bound, bound, generator);
}

/**
 * Xavier (Glorot) normal: N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
 * @example xavierNormal_(lin.weight)
 */
export function xavierNormal_(t: Tensor, gain = 1, generator: Generator = defaultGenerator): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)), generator);
}

// camelCase aliases without the in-place marker, for those who prefer them.
/** Alias of uniform_. @example init.uniform(w, -1, 1) */
export const uniform = uniform_;
/** Alias of normal_. @example init.normal(w, 0, 0.02) */
export const normal = normal_;
/** Alias of constant_. @example init.constant(w, 0.5) */
export const constant = constant_;
/** Alias of zeros_. @example init.zeros(b) */
export const zeros = zeros_;
/** Alias of ones_. @example init.ones(w) */
export const ones = ones_;
/** Alias of kaimingUniform_. @example init.kaimingUniform(w, { a: Math.sqrt(5) }) */
export const kaimingUniform = kaimingUniform_;
/** Alias of kaimingNormal_. @example init.kaimingNormal(w) */
export const kaimingNormal = kaimingNormal_;
/** Alias of xavierUniform_. @example init.xavierUniform(w) */
export const xavierUniform = xavierUniform_;
/** Alias of xavierNormal_. @example init.xavierNormal(w) */
export const xavierNormal = xavierNormal_;
/** Alias of truncNormal_. @example init.truncNormal(w, 0, 0.02) */
export const truncNormal = truncNormal_;

/**
 * PyTorch's default init of Linear and Conv2d: weight ~ kaiming_uniform(a = sqrt(5)), which is
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same bound.
 * @example defaultLayerInit(fc.weight, fc.bias)
 */
export function defaultLayerInit(weight: Tensor, bias: Tensor | null): void {
  kaimingUniform_(weight, { a: Math.sqrt(5) });
  if (bias) {
    const [fanIn] = calculateFanInAndFanOut(weight);
    const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
    uniform_(bias, -bound, bound);
  }
}
