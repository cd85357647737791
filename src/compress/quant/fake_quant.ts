// Fake quantization: quantize then dequantize in one step, so a float model sees the rounding and
// clamping it will meet in int8 (torch.fake_quantize_per_tensor_affine / _per_channel_affine and
// the learnable-scale variant behind torch's _LearnableFakeQuantize, LSQ). The forward is PyTorch's
// arithmetic bit for bit; the backward is the straight-through estimator with the clamp mask:
// dx = dy where the value quantized inside [quantMin, quantMax], else 0; for a learnable scale,
// dscale = sum dy * ((xfq - x) / scale inside, quantMin/Max - zp outside) * gradFactor and
// dzeroPoint = sum dy * (-scale * gradFactor outside, 0 inside).
//
// How the gradient is attached: ops/kernels.ts is a closed kernel list with one registered rule
// per kernel (a meta-test enforces it), so a layer above ops cannot register a new recorded kernel.
// Instead the result is composed from recorded ops: y = fq + (g - detach(g)), where fq is the exact
// fake-quantized value (a constant) and g is a cheap expression whose gradient is the rule above:
// g = where(mask, x, 0) + scale * cScale + zeroPoint * cZero with per-element constants computed here.
// g - detach(g) is exactly 0 in the forward pass, so the output is fq bit for bit, and the tape's
// own rules (where, mul, sub, add, with sumTo for the broadcast scale) give exactly the STE gradient.

import { Tensor } from '../../core/tensor.js';
import { TensorslimError } from '../../core/errors.js';
import { isGradEnabled } from '../../core/engine.js';
import * as ops from '../../ops/index.js';
import { roundHalfEven } from '../../backend/quantized.js';
import { checkScale } from './qtensor.js';

const TWO_POW_63 = 9223372036854775808;

function checkRange(op: string, qmin: number, qmax: number): void {
  if (!Number.isInteger(qmin) || !Number.isInteger(qmax) || !(qmin < qmax) || qmin < -128 || qmax > 255) {
    throw new TensorslimError(op, `need integers quantMin < quantMax within [-128, 255], got ${qmin} and ${qmax}`);
  }
}

function floatInput(op: string, x: Tensor): Float32Array {
  if (!(x instanceof Tensor)) throw new TensorslimError(op, 'expected a Tensor');
  if (x.dtype !== 'float32' && x.dtype !== 'float64') throw new TensorslimError(op, `expected a float tensor, got ${x.dtype}`);
  return Float32Array.from(x.dataSync());
}

/** The integer torch computes before clamping: zp + nearbyint(x * inv) (int64 minimum if that overflows). */
function rawLevel(x: number, inv: number, zp: number): number {
  const r = roundHalfEven(Math.fround(x * inv));
  return Math.abs(r) < TWO_POW_63 ? r + zp : -TWO_POW_63;
}

/** dy/dx = 1 where mask, else 0, with the forward value 0 (see the file header). */
function maskedIdentity(x: Tensor, mask: Uint8Array): Tensor {
  const m = new Tensor(mask, 'bool', x.shape);
  const g = ops.where(m, x, 0);
  return ops.sub(g, ops.detach(g));
}

/** Forward-zero term whose gradient with respect to `p` (broadcast) is `coef`. */
function linearTerm(p: Tensor, coef: Float32Array, shape: readonly number[], dtype: 'float32' | 'float64'): Tensor {
  const c = new Tensor(dtype === 'float32' ? coef : Float64Array.from(coef), dtype, shape);
  const g = ops.mul(p, c);
  return ops.sub(g, ops.detach(g));
}

function result(x: Tensor, fq: Float32Array): Tensor {
  return new Tensor(x.dtype === 'float32' ? fq : Float64Array.from(fq), x.dtype, x.shape);
}

/**
 * Quantize-dequantize with one scale and zero point (torch.fake_quantize_per_tensor_affine);
 * gradient: straight through where the value fell inside [quantMin, quantMax], zero outside.
 * @example fakeQuantizePerTensorAffine(x, 0.1, 0, -128, 127)  // x rounded to multiples of 0.1, clamped
 */
export function fakeQuantizePerTensorAffine(x: Tensor, scale: number, zeroPoint: number, quantMin: number, quantMax: number): Tensor {
  const op = 'fakeQuantizePerTensorAffine';
  checkScale(op, scale);
  checkRange(op, quantMin, quantMax);
  if (!Number.isInteger(zeroPoint) || zeroPoint < quantMin || zeroPoint > quantMax) {
    throw new TensorslimError(op, `zeroPoint must be an integer in [${quantMin}, ${quantMax}], got ${zeroPoint}`);
  }
  const v = floatInput(op, x);
  const s = Math.fround(scale), inv = Math.fround(1 / s);
  const fq = new Float32Array(v.length);
  const mask = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const q = rawLevel(v[i]!, inv, zeroPoint);
    mask[i] = q >= quantMin && q <= quantMax ? 1 : 0;
    fq[i] = (Math.min(Math.max(q, quantMin), quantMax) - zeroPoint) * s;
  }
  const y = result(x, fq);
  return x.requiresGrad && isGradEnabled() ? ops.add(y, maskedIdentity(x, mask)) : y;
}

/**
 * Quantize-dequantize with one scale and zero point per index of `axis`
 * (torch.fake_quantize_per_channel_affine); gradient as fakeQuantizePerTensorAffine.
 * @example fakeQuantizePerChannelAffine(weight, [0.01, 0.02], [0, 0], 0, -128, 127)
 */
export function fakeQuantizePerChannelAffine(x: Tensor, scales: ArrayLike<number>, zeroPoints: ArrayLike<number>, axis: number,
  quantMin: number, quantMax: number): Tensor {
  const op = 'fakeQuantizePerChannelAffine';
  checkRange(op, quantMin, quantMax);
  const v = floatInput(op, x);
  const ax = axis < 0 ? axis + x.ndim : axis;
  if (!Number.isInteger(ax) || ax < 0 || ax >= x.ndim) throw new TensorslimError(op, `axis ${axis} is out of range for shape [${x.shape.join(', ')}]`);
  const C = x.shape[ax]!;
  if (scales.length !== C || zeroPoints.length !== C) {
    throw new TensorslimError(op, `shape [${x.shape.join(', ')}] has ${C} channels along axis ${ax}, got ${scales.length} scales and ${zeroPoints.length} zero points`);
  }
  let inner = 1;
  for (let i = ax + 1; i < x.ndim; i++) inner *= x.shape[i]!;
  const fq = new Float32Array(v.length);
  const mask = new Uint8Array(v.length);
  const s = Float32Array.from(scales);
  const inv = s.map((e, c) => { checkScale(op, e, `scale of channel ${c}`); return 1 / e; });
  for (let i = 0; i < v.length; i++) {
    const c = Math.floor(i / inner) % C;
    const zp = zeroPoints[c]!;
    const q = rawLevel(v[i]!, inv[c]!, zp);
    mask[i] = q >= quantMin && q <= quantMax ? 1 : 0;
    fq[i] = (Math.min(Math.max(q, quantMin), quantMax) - zp) * s[c]!;
  }
  const y = result(x, fq);
  return x.requiresGrad && isGradEnabled() ? ops.add(y, maskedIdentity(x, mask)) : y;
}

/**
 * Fake quantization with a learnable scale and zero point (torch's
 * _fake_quantize_learnable_per_tensor_affine, LSQ). `scale` and `zeroPoint` are one-element float
 * tensors (usually Parameters); the zero point used is round-half-even(zeroPoint) clamped to the
 * range, as in torch. `gradFactor` scales both parameter gradients (LSQ uses 1/sqrt(numel * quantMax)).
 * @example
 * const s = new Parameter(tensor([0.1])), z = new Parameter(tensor([0]));
 * fakeQuantizeLearnablePerTensorAffine(x, s, z, -128, 127).sum().backward();  // s.grad, z.grad set
 */
export function fakeQuantizeLearnablePerTensorAffine(x: Tensor, scale: Tensor, zeroPoint: Tensor, quantMin: number, quantMax: number,
  gradFactor = 1): Tensor {
  const op = 'fakeQuantizeLearnablePerTensorAffine';
  checkRange(op, quantMin, quantMax);
  if (!(scale instanceof Tensor) || scale.size !== 1 || !(zeroPoint instanceof Tensor) || zeroPoint.size !== 1) {
    throw new TensorslimError(op, 'scale and zeroPoint must be one-element tensors');
  }
  const s = Math.fround(scale.item());
  checkScale(op, s);
  const zRaw = zeroPoint.item();
  if (!Number.isFinite(zRaw)) throw new TensorslimError(op, `zeroPoint must be finite, got ${zRaw}`);
  const zp = Math.min(Math.max(roundHalfEven(zRaw), quantMin), quantMax);
  const gf = Math.fround(gradFactor);
  const v = floatInput(op, x);
  const inv = Math.fround(1 / s);
  const n = v.length;
  const fq = new Float32Array(n), mask = new Uint8Array(n), cScale = new Float32Array(n), cZero = new Float32Array(n);
  const small = quantMin - zp, big = quantMax - zp;
  for (let i = 0; i < n; i++) {
    // torch's learnable kernels round zp + x * inv as one (fused) expression, unlike the fixed-scale
    // ones (zp + nearbyint(x * inv)): values half a step below a level can differ, so do as it does.
    const t = roundHalfEven(Math.fround(v[i]! * inv + zp));
    const q = Math.abs(t) < TWO_POW_63 ? t : -TWO_POW_63;
    const inside = q >= quantMin && q <= quantMax;
    mask[i] = inside ? 1 : 0;
    // the forward itself is fake_quantize_per_tensor_affine's: zp + nearbyint(x * inv)
    fq[i] = (Math.min(Math.max(rawLevel(v[i]!, inv, zp), quantMin), quantMax) - zp) * s;
    const xfq = Math.fround((Math.min(Math.max(q, quantMin), quantMax) - zp) * s);
    if (inside) {
      cScale[i] = Math.fround(Math.fround(Math.fround(xfq - v[i]!) * inv) * gf);
    } else {
      cScale[i] = Math.fround((q < quantMin ? small : big) * gf);
      cZero[i] = Math.fround(-s * gf);
    }
  }
  let y = result(x, fq);
  if (!isGradEnabled()) return y;
  if (x.requiresGrad) y = ops.add(y, maskedIdentity(x, mask));
  const dt = x.dtype as 'float32' | 'float64';
  if (scale.requiresGrad) y = ops.add(y, linearTerm(ops.reshape(scale, [1]), cScale, x.shape, dt));
  if (zeroPoint.requiresGrad) y = ops.add(y, linearTerm(ops.reshape(zeroPoint, [1]), cZero, x.shape, dt));
  return y;
}
