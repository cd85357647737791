// Reference int8 kernels: pure TypeScript, slow and obviously correct. The oracle that native int8
// kernels (AVX2, AVX-512 VNNI) are fuzzed against; it implements QuantizedKernels in
// backend/quantized.ts literally, one multiply-add per term, int32 accumulation with Math.imul.
// The reference backend's int8Linear (the quantized layers reach it through compress/quant/kernels.ts).

import {
  quantizeDynamicValues, quantizeValue, type Int8ConvGeometry, type Int8LinearOutput, type Int8Storage, type QuantizedActivation, type QuantizedKernels,
  type QuantizedWeight,
} from '../../backend/quantized.js';

function check(x: QuantizedActivation, w: QuantizedWeight, bias: Float32Array | null): void {
  const op = 'int8Linear (reference)';
  if (x.cols !== w.cols) throw new Error(`${op}: inner dimensions differ: x (${x.rows}, ${x.cols}) @ w^T with w (${w.rows}, ${w.cols})`);
  if (x.data.length !== x.rows * x.cols) throw new Error(`${op}: x holds ${x.data.length} values, expected ${x.rows} x ${x.cols}`);
  if (w.data.length !== w.rows * w.cols) throw new Error(`${op}: w holds ${w.data.length} values, expected ${w.rows} x ${w.cols}`);
  if (w.scales.length !== w.rows || w.zeroPoints.length !== w.rows) {
    throw new Error(`${op}: w needs one scale and zero point per output channel (${w.rows}), got ${w.scales.length} and ${w.zeroPoints.length}`);
  }
  if (bias !== null && bias.length !== w.rows) throw new Error(`${op}: bias has ${bias.length} values, expected ${w.rows}`);
}

/**
 * y = x @ w^T + bias with int32 accumulation; see QuantizedKernels.int8Linear for the exact math.
 * @example
 * const y = int8LinearReference({ data: new Uint8Array([130, 126]), rows: 1, cols: 2, scale: 0.5, zeroPoint: 128 },
 *   { data: new Int8Array([1, 1]), rows: 1, cols: 2, scales: new Float32Array([1]), zeroPoints: new Int32Array([0]) },
 *   null, { kind: 'float32' });  // Float32Array [0]: (2 - 2) * 0.5
 */
export function int8LinearReference(x: QuantizedActivation, w: QuantizedWeight, bias: Float32Array | null,
  out: Int8LinearOutput): Float32Array | Int8Storage {
  check(x, w, bias);
  const M = x.rows, N = w.rows, K = x.cols;
  const real = new Float32Array(M * N);
  for (let n = 0; n < N; n++) {
    const multiplier = Math.fround(x.scale * w.scales[n]!);
    const wz = w.zeroPoints[n]!;
    const b = bias === null ? 0 : bias[n]!;
    for (let m = 0; m < M; m++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc = (acc + Math.imul(x.data[m * K + k]! - x.zeroPoint, w.data[n * K + k]! - wz)) | 0;
      const scaled = Math.fround(acc * multiplier);
      real[m * N + n] = bias === null ? scaled : Math.fround(scaled + b);
    }
  }
  if (out.kind === 'float32') return real;
  const q = out.dtype === 'int8' ? new Int8Array(M * N) : new Uint8Array(M * N);
  const qmax = out.dtype === 'int8' ? 127 : 255;
  const qmin = Math.max(out.dtype === 'int8' ? -128 : 0, out.relu ? out.zeroPoint : -Infinity);
  const inv = Math.fround(1 / Math.fround(out.scale));
  for (let i = 0; i < real.length; i++) q[i] = quantizeValue(real[i]!, inv, out.zeroPoint, qmin, qmax);
  return q;
}

/**
 * A quantized Conv2d as QuantizedKernels.int8Conv2d defines it: integer im2col (outside the image
 * reads x.zeroPoint), int8LinearReference, then (N OH OW, O) -> (N, O, OH, OW).
 * @example
 * const g = { n: 1, c: 1, h: 2, w: 2, kh: 1, kw: 1, strideH: 1, strideW: 1, padH: 0, padW: 0, dilationH: 1, dilationW: 1, oh: 2, ow: 2 };
 * int8Conv2dReference({ data: new Uint8Array([1, 2, 3, 4]), rows: 1, cols: 4, scale: 1, zeroPoint: 0 },
 *   { data: new Int8Array([2]), rows: 1, cols: 1, scales: new Float32Array([1]), zeroPoints: new Int32Array([0]) },
 *   null, g, { kind: 'float32' });  // Float32Array [2, 4, 6, 8]
 */
export function int8Conv2dReference(x: QuantizedActivation, w: QuantizedWeight, bias: Float32Array | null, g: Int8ConvGeometry,
  out: Int8LinearOutput): Float32Array | Int8Storage {
  const op = 'int8Conv2d (reference)';
  const K = g.c * g.kh * g.kw, L = g.oh * g.ow, rows = g.n * L, O = w.rows;
  if (x.data.length !== g.n * g.c * g.h * g.w) throw new Error(`${op}: x holds ${x.data.length} values, expected (${g.n}, ${g.c}, ${g.h}, ${g.w})`);
  if (w.cols !== K) throw new Error(`${op}: w has ${w.cols} columns, expected C kh kw = ${K}`);
  const cols: Int8Storage = x.data instanceof Int8Array ? new Int8Array(rows * K) : new Uint8Array(rows * K);
  const zp = x.zeroPoint;
  for (let n = 0; n < g.n; n++) {
    for (let oh = 0; oh < g.oh; oh++) {
      for (let ow = 0; ow < g.ow; ow++) {
        let at = ((n * g.oh + oh) * g.ow + ow) * K;
        for (let c = 0; c < g.c; c++) {
          for (let i = 0; i < g.kh; i++) {
            const h = oh * g.strideH - g.padH + i * g.dilationH;
            for (let j = 0; j < g.kw; j++) {
              const wx = ow * g.strideW - g.padW + j * g.dilationW;
              cols[at++] = h >= 0 && h < g.h && wx >= 0 && wx < g.w ? x.data[((n * g.c + c) * g.h + h) * g.w + wx]! : zp;
            }
          }
        }
      }
    }
  }
  const y = int8LinearReference({ data: cols, rows, cols: K, scale: x.scale, zeroPoint: x.zeroPoint }, w, bias, out);
  const nchw = y instanceof Float32Array ? new Float32Array(y.length) : y instanceof Int8Array ? new Int8Array(y.length) : new Uint8Array(y.length);
  for (let n = 0; n < g.n; n++) for (let l = 0; l < L; l++) for (let o = 0; o < O; o++) nchw[(n * O + o) * L + l] = y[(n * L + l) * O + o]!;
  return nchw;
}

/**
 * Max pooling of uint8 codes as QuantizedKernels.int8MaxPool2d defines it: the maximum over each
 * window's positions inside the image, 0 for a window with none.
 * @example
 * const g = { n: 1, c: 1, h: 2, w: 2, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, dilationH: 1, dilationW: 1, oh: 1, ow: 1 };
 * int8MaxPool2dReference(new Uint8Array([1, 5, 3, 2]), g);  // Uint8Array [5]
 */
export function int8MaxPool2dReference(x: Uint8Array, g: Int8ConvGeometry): Uint8Array {
  if (x.length !== g.n * g.c * g.h * g.w) throw new Error(`int8MaxPool2d (reference): x holds ${x.length} values, expected (${g.n}, ${g.c}, ${g.h}, ${g.w})`);
  const planes = g.n * g.c;
  const out = new Uint8Array(planes * g.oh * g.ow);
  let o = 0;
  for (let p = 0; p < planes; p++) {
    const base = p * g.h * g.w;
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        let m = -1;
        for (let i = 0; i < g.kh; i++) {
          const y = oy * g.strideH - g.padH + i * g.dilationH;
          if (y < 0 || y >= g.h) continue;
          for (let j = 0; j < g.kw; j++) {
            const xx = ox * g.strideW - g.padW + j * g.dilationW;
            if (xx >= 0 && xx < g.w && x[base + y * g.w + xx]! > m) m = x[base + y * g.w + xx]!;
          }
        }
        out[o++] = m < 0 ? 0 : m;
      }
    }
  }
  return out;
}

/** The reference backend's int8 kernels. @example referenceQuantizedKernels.int8Linear!(x, w, null, { kind: 'float32' }) */
export const referenceQuantizedKernels: Required<Pick<QuantizedKernels, 'int8Linear' | 'int8Conv2d' | 'int8MaxPool2d' | 'quantizeDynamic' | 'int8Path'>> = {
  int8Linear: int8LinearReference, int8Conv2d: int8Conv2dReference, int8MaxPool2d: int8MaxPool2dReference, quantizeDynamic: quantizeDynamicValues,
  int8Path: 'typescript',
};
