// DDP communication hooks: what a gradient bucket goes through instead of the plain float32
// all-reduce average. The built-in 16-bit ones average the bucket with 16-bit floats on the wire,
// entirely on the communication thread (ProcessGroup.allReduceHalf, native/src/distributed/
// half_allreduce.cc: SIMD conversions, a reduce-scatter of 16-bit chunks summed in float32 and
// rounded once, an all-gather of the 16-bit sums, widened back into the bucket in place):
//   'bf16': as PyTorch's bf16_compress_hook: cast to bfloat16 (round to nearest even), divide by the
//           world size in bfloat16, sum, cast back.
//   'fp16': divide by the world size in float32 first, then cast to IEEE half (round to nearest even;
//           dividing first keeps large sums of gradients from overflowing half's 65504), sum, cast back.
// The sum of the N ranks' 16-bit values is added in float32 (in rank order) and rounded once to the
// format; PyTorch adds in the 16-bit type (N-1 roundings). On 2 ranks the two are the same (one
// addition); on more ranks ours is the more accurate. Either halves the bytes each all-reduce moves.
// PowerSGD (powersgd.ts) is the low-rank hook. A custom hook is any async function of the bucket.
// The conversions below match the native ones bit for bit (test/distributed/comm_hooks.test.ts).

import type { Tensor } from '../core/tensor.js';
import type { ProcessGroup } from './process_group.js';

/** One parameter's part of a gradient bucket, as a comm hook sees it. */
export interface CommHookTensor {
  /** The parameter's name in the model. */
  readonly name: string;
  /** Its shape in the bucket (a row piece of a split parameter: its rows). */
  readonly shape: readonly number[];
  /** Where its elements start in the bucket, and how many. */
  readonly offset: number;
  readonly size: number;
}

/** What DDP tells a comm hook about the bucket (PyTorch's GradBucket). */
export interface CommHookBucket {
  /** The bucket's index (0: the first reduced in a step, the last layers' gradients). */
  readonly index: number;
  /** How many buckets a step reduces. */
  readonly count: number;
  /** The gradients in the bucket, in bucket order. */
  readonly tensors: readonly CommHookTensor[];
}

/**
 * A communication hook: given this rank's flat gradient bucket (float32 or float64, 1-D), the
 * group and what the bucket holds, resolve with the bucket's average over ranks (same length and
 * dtype). Every rank must call the same collectives in the same order.
 * @example const hook: CommHook = async (bucket, group) => group.allReduce(bucket, 'avg');
 */
export type CommHook = (bucket: Tensor, group: ProcessGroup, info: CommHookBucket) => Promise<Tensor>;

/** A built-in hook by name or your own. */
export type CommHookSpec = 'bf16' | 'fp16' | CommHook;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The bfloat16 bits of a number (first rounded to float32), rounding to nearest even; NaN stays NaN.
 * @example floatToBf16(1 / 3)   // 0x3eab
 */
export function floatToBf16(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The float32 value of bfloat16 bits. @example bf16ToFloat(0x3f80)  // 1 */
export function bf16ToFloat(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/**
 * The IEEE half-precision bits of a number (first rounded to float32), rounding to nearest even;
 * subnormals kept, 65520 and above become infinity.
 * @example floatToHalf(65504)   // 0x7bff
 */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const u = u32[0]!;
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return sign | 0x7e00;
  if (a >= 0x477ff000) return sign | 0x7c00;
  if (a < 0x38800000) {
    const m = Math.abs(f32[0]!) * 16777216; // units of 2^-24, exact
    let r = Math.round(m);
    if (r - m === 0.5 && (r & 1) === 1) r -= 1; // Math.round rounds ties up: make them even
    return sign | r;
  }
  return sign | ((((a + 0xfff + ((a >>> 13) & 1)) >>> 13) - (112 << 10)) & 0xffff);
}

/** The float32 value of IEEE half bits. @example halfToFloat(0x3c00)  // 1 */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man === 0 ? sign * Infinity : NaN;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

/**
 * What the 'bf16' hook sends for one value on `worldSize` ranks: bf16(bf16(x) / worldSize).
 * @example bf16Compress(0.3, 2)
 */
export function bf16Compress(x: number, worldSize: number): number {
  return floatToBf16(Math.fround(bf16ToFloat(floatToBf16(x)) / worldSize));
}

/**
 * What the 'fp16' hook sends for one value on `worldSize` ranks: half(x / worldSize).
 * @example fp16Compress(0.3, 2)
 */
export function fp16Compress(x: number, worldSize: number): number {
  return floatToHalf(Math.fround(Math.fround(x) / worldSize));
}

/**
 * A built-in 16-bit compression hook ('bf16' or 'fp16', see the file header): the bucket's average
 * with 16-bit floats on the wire, the conversions and the sums on the communication thread. float64
 * buckets are averaged uncompressed. Writes the average into a contiguous bucket in place and
 * resolves with it (a non-contiguous one is averaged in a contiguous copy).
 * @example ddp.registerCommHook(compressionHook('bf16'))   // same as ddp.registerCommHook('bf16')
 */
export function compressionHook(format: 'bf16' | 'fp16'): CommHook {
  return async (bucket, group) => {
    if (bucket.dtype !== 'float32') return group.allReduce(bucket, 'avg');
    return group.allReduceHalf(bucket.isContiguous() ? bucket : bucket.contiguous(), format === 'bf16' ? 'bfloat16' : 'float16');
  };
}

/** The hook of a spec. @example resolveCommHook('fp16') */
export function resolveCommHook(spec: CommHookSpec): CommHook {
  if (spec === 'bf16' || spec === 'fp16') return compressionHook(spec);
  if (typeof spec !== 'function') throw new Error(`registerCommHook: expected 'bf16', 'fp16' or a function (bucket, group) => Promise<Tensor>, got ${JSON.stringify(spec)}`);
  return spec;
}
