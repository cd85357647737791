// The native backend's int8 kernels: the int8 GEMM (native/src/int8_linear.cc, micro-kernels in
// native/src/int8_gemm_{generic,avx2,avx512}.cc, layouts in native/src/int8_gemm_isa.h): the
// backend's `int8Linear` (QuantizedKernels in src/backend/quantized.ts), bit for bit the reference
// twin src/backends/reference/quantized.ts (fuzzed in test/native/int8_linear.test.ts on every int8
// path). Callers: the quantized layers in src/compress/quant/ (modules.ts, conv.ts) through
// quantizedKernels() in src/compress/quant/kernels.ts. Also quantizePerTensor, floatRange and
// quantizeDynamic (the per-batch activation quantization of dynamic layers: range, qparams and codes
// in one call, into the layer's reused buffer), in the same C++ file.
//
// Weights are packed once per weight array and CPU path (int8Pack) and the packed buffer is kept
// here, in a WeakMap keyed by the weight's Int8Array: a quantized layer's weight never changes, so
// its first call packs and later calls reuse the panels (and their column sums). Int8 data travels
// to the addon as a Uint8Array over the same bytes, with a flag saying it is signed.

import type { Int8ConvGeometry, Int8LinearOutput, Int8Storage, QuantizedActivation, QuantizedKernels, QuantizedWeight } from '../../backend/quantized.js';
import { allocateUninit } from '../../backend/dtype.js';
import type { NativeAddon } from './addon.js';

/** A weight packed for one int8 path: the panels (with their header) and the column sums. */
interface PackedWeight {
  readonly rows: number;
  readonly cols: number;
  readonly packed: Uint8Array;
  readonly colsum: Int32Array;
}

const OP = 'int8Linear (native)';

/** Path names -> the codes int8Pack takes (native/src/int8_linear.cc). */
const INT8_PATH_CODES: Readonly<Record<string, number>> = { generic: 0, avx2: 1, avx512: 2, vnni: 3, avxvnni: 4 };

/** The bytes of an int8 or uint8 array, as the Uint8Array the addon reads. */
function bytesOf(a: Int8Storage): Uint8Array {
  return a instanceof Uint8Array ? a : new Uint8Array(a.buffer, a.byteOffset, a.length);
}

/** n uninitialized bytes as an int8 or uint8 array. */
function bytes(n: number, dtype: 'int8' | 'uint8'): Int8Storage {
  const u = allocateUninit('uint8', n) as Uint8Array;
  return dtype === 'uint8' ? u : new Int8Array(u.buffer, u.byteOffset, n);
}

/** The activation zero point as the addon takes it (an int32; the contract allows any number, the addon does not). */
function zeroPointOf(zp: number): number {
  if (!Number.isInteger(zp) || Math.abs(zp) > 2 ** 31 - 1) throw new Error(`${OP}: the activation zero point must be an integer in int32, got ${zp}`);
  return zp;
}

function check(x: QuantizedActivation, w: QuantizedWeight, bias: Float32Array | null, out: Int8LinearOutput): void {
  if (x.cols !== w.cols) throw new Error(`${OP}: inner dimensions differ: x (${x.rows}, ${x.cols}) @ w^T with w (${w.rows}, ${w.cols})`);
  if (x.data.length !== x.rows * x.cols) throw new Error(`${OP}: x holds ${x.data.length} values, expected ${x.rows} x ${x.cols}`);
  checkWeight(w, bias, out);
}

function checkWeight(w: QuantizedWeight, bias: Float32Array | null, out: Int8LinearOutput): void {
  if (w.data.length !== w.rows * w.cols) throw new Error(`${OP}: w holds ${w.data.length} values, expected ${w.rows} x ${w.cols}`);
  if (w.scales.length !== w.rows || w.zeroPoints.length !== w.rows) {
    throw new Error(`${OP}: w needs one scale and zero point per output channel (${w.rows}), got ${w.scales.length} and ${w.zeroPoints.length}`);
  }
  if (bias !== null && bias.length !== w.rows) throw new Error(`${OP}: bias has ${bias.length} values, expected ${w.rows}`);
  if (out.kind === 'requantize' && !Number.isInteger(out.zeroPoint)) throw new Error(`${OP}: the output zero point must be an integer, got ${out.zeroPoint}`);
}

/**
 * The int8 kernels of `addon`: int8Linear, which packs each weight array for the current int8 path
 * on first use and reuses the packed panels afterwards.
 * @example const be = { ...otherKernels, ...int8LinearKernels(addon) };  // be.int8Linear(x, w, bias, { kind: 'float32' })
 */
export function int8LinearKernels(addon: NativeAddon): Required<QuantizedKernels> {
  const cache = new WeakMap<Int8Array, Map<string, PackedWeight>>();
  const params = new Float64Array(5);
  const range = new Float64Array(3);
  const geom = new Float64Array(14);

  function packed(w: QuantizedWeight): PackedWeight {
    const path = addon.int8Path();
    let byPath = cache.get(w.data);
    if (!byPath) { byPath = new Map(); cache.set(w.data, byPath); }
    const hit = byPath.get(path);
    if (hit && hit.rows === w.rows && hit.cols === w.cols) return hit;
    const p: PackedWeight = {
      rows: w.rows, cols: w.cols,
      packed: new Uint8Array(addon.int8PackedBytes(path, w.rows, w.cols)),
      colsum: new Int32Array(w.rows),
    };
    addon.int8Pack(bytesOf(w.data), w.rows, w.cols, INT8_PATH_CODES[path] ?? -1, p.packed, p.colsum);
    byPath.set(path, p);
    return p;
  }

  function setParams(out: Int8LinearOutput): Float64Array {
    if (out.kind === 'float32') { params[0] = 0; params[1] = 1; params[2] = 0; params[3] = 0; params[4] = 0; }
    else { params[0] = 1; params[1] = out.scale; params[2] = out.zeroPoint; params[3] = out.relu ? 1 : 0; params[4] = out.dtype === 'int8' ? 1 : 0; }
    return params;
  }

  // outputs the kernels write in full: uninitialized memory (no zero fill; TENSORSLIM_POISON_UNINIT
  // poisons it, so an unwritten element would show in the tests)
  function output(out: Int8LinearOutput, n: number): Float32Array | Int8Storage {
    if (out.kind === 'float32') return allocateUninit('float32', n) as Float32Array;
    return bytes(n, out.dtype);
  }

  function geometry(g: Int8ConvGeometry): Float64Array {
    geom[0] = g.n; geom[1] = g.c; geom[2] = g.h; geom[3] = g.w; geom[4] = g.kh; geom[5] = g.kw; geom[6] = g.strideH; geom[7] = g.strideW;
    geom[8] = g.padH; geom[9] = g.padW; geom[10] = g.dilationH; geom[11] = g.dilationW; geom[12] = g.oh; geom[13] = g.ow;
    return geom;
  }

  return {
    get int8Path() { return addon.int8Path(); },
    quantizePerTensor(x, scale, zeroPoint, dtype, into) {
      const op = 'quantizePerTensor (native)';
      if (!Number.isInteger(zeroPoint)) throw new Error(`${op}: the zero point must be an integer, got ${zeroPoint}`);
      if (into !== undefined && (into.length !== x.length || (dtype === 'int8') !== (into instanceof Int8Array))) {
        throw new Error(`${op}: out must be ${dtype === 'int8' ? 'an Int8Array' : 'a Uint8Array'} of x's length ${x.length}, got ${into.constructor.name} of ${into.length}`);
      }
      const out = into ?? bytes(x.length, dtype);
      addon.int8Quantize(x, Math.fround(1 / Math.fround(scale)), zeroPoint, dtype === 'int8', bytesOf(out));
      return out;
    },
    floatRange(x) {
      addon.int8FloatRange(x, range);
      return { min: range[0]!, max: range[1]!, nonFinite: range[2]! };
    },
    quantizeDynamic(x, qmax, out) {
      addon.int8QuantizeDynamic(x, qmax, out, range);
      return { scale: range[0]!, zeroPoint: range[1]!, nonFinite: range[2]! };
    },
    int8Linear(x, w, bias, out) {
      check(x, w, bias, out);
      const M = x.rows, N = w.rows;
      const y = output(out, M * N);
      const pw = packed(w);
      addon.int8Linear(bytesOf(x.data), x.data instanceof Int8Array, M, x.cols, x.scale, zeroPointOf(x.zeroPoint), pw.packed, pw.colsum,
        w.scales, w.zeroPoints, bias, setParams(out), y instanceof Float32Array ? y : bytesOf(y));
      return y;
    },
    int8MaxPool2d(x, g) {
      const y = bytes(g.n * g.c * g.oh * g.ow, 'uint8') as Uint8Array;
      addon.int8MaxPool2d(x, geometry(g), y);
      return y;
    },
    int8Conv2d(x, w, bias, g, out) {
      const op = 'int8Conv2d (native)';
      if (x.data.length !== g.n * g.c * g.h * g.w) throw new Error(`${op}: x holds ${x.data.length} values, expected (${g.n}, ${g.c}, ${g.h}, ${g.w})`);
      if (w.cols !== g.c * g.kh * g.kw) throw new Error(`${op}: w has ${w.cols} columns, expected C kh kw = ${g.c * g.kh * g.kw}`);
      checkWeight(w, bias, out);
      const pw = packed(w);
      const y = output(out, g.n * w.rows * g.oh * g.ow);
      addon.int8Conv2d(bytesOf(x.data), x.data instanceof Int8Array, geometry(g), x.scale, zeroPointOf(x.zeroPoint), pw.packed, pw.colsum,
        w.scales, w.zeroPoints, bias, setParams(out), y instanceof Float32Array ? y : bytesOf(y));
      return y;
    },
  };
}
