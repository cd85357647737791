// The kernel contract of weight-only quantized Linear layers (the GPT's int8 / grouped int4
// weights, issue #20): y = x @ dequant(W)^T + b with float32 activations, where the kernel reads the
// packed integer weight and never holds more than a slice of it in float. Kernels do math only
// (typed arrays and sizes). weightOnlyLinearReference below is the TypeScript twin that a native
// kernel is fuzzed against, and the fallback wherever a backend has no such kernel.
//
// Layout of a weight-only matrix W (N rows = output features, K columns = input features), grouped
// along K in groups of G consecutive columns (G divides K; int8 per channel is G = K):
//   bits 8: data = Int8Array (N*K), row-major, q in [-128, 127]
//   bits 4: data = Uint8Array (N*K/2), row-major, two columns per byte: column 2j in the low
//           nibble, 2j+1 in the high nibble (K and G even), q in [0, 15]
//   scales: Float32Array (N * K/G), row-major (row n, group g at n*(K/G)+g)
//   zeroPoints: Int32Array (N * K/G), same order; symmetric formats hold 0 (int8) or 8 (int4)
//   dequant(W)[n, k] = fround(scale[n, g] * (q[n, k] - zeroPoint[n, g])),  g = floor(k / G)

/** A packed weight-only matrix (see the file header for the layout). */
export interface WeightOnlyWeight {
  readonly bits: 4 | 8;
  readonly rows: number;
  readonly cols: number;
  readonly groupSize: number;
  readonly data: Int8Array | Uint8Array;
  readonly scales: Float32Array;
  readonly zeroPoints: Int32Array;
}

/** Optional weight-only kernel of a backend (compress/quant falls back to the reference twin). */
export interface WeightOnlyKernels {
  /**
   * y (M, N) = x (M, K) @ dequant(w)^T + bias, float32 in and out. Every implementation computes
   * the dequantized values exactly (fround(scale * (q - z))) and sums the K products in float32 or
   * wider, in any order: results agree with the twin to rounding of the sum.
   */
  weightOnlyLinear?(x: Float32Array, rows: number, w: WeightOnlyWeight, bias: Float32Array | null): Float32Array;
}

/**
 * Dequantize row `n` of a weight-only matrix into `out` (length K): the slice a kernel holds in
 * float while it multiplies.
 * @example const row = new Float32Array(w.cols); dequantizeRow(w, 0, row);
 */
export function dequantizeRow(w: WeightOnlyWeight, n: number, out: Float32Array): void {
  const K = w.cols, G = w.groupSize, nG = K / G;
  for (let g = 0; g < nG; g++) {
    const s = w.scales[n * nG + g]!, z = w.zeroPoints[n * nG + g]!;
    const k0 = g * G;
    if (w.bits === 8) {
      const d = w.data as Int8Array, base = n * K;
      for (let k = k0; k < k0 + G; k++) out[k] = s * (d[base + k]! - z);
    } else {
      const d = w.data as Uint8Array, base = (n * K) >> 1;
      for (let k = k0; k < k0 + G; k += 2) {
        const b = d[base + (k >> 1)]!;
        out[k] = s * ((b & 15) - z);
        out[k + 1] = s * ((b >> 4) - z);
      }
    }
  }
}

/**
 * The TypeScript twin of weightOnlyLinear: one dequantized weight row at a time (K floats), each
 * dot product summed in double and rounded to float32 once with the bias.
 * @example weightOnlyLinearReference(x, 2, w, null)  // Float32Array(2 * w.rows)
 */
export function weightOnlyLinearReference(x: Float32Array, rows: number, w: WeightOnlyWeight, bias: Float32Array | null): Float32Array {
  const N = w.rows, K = w.cols;
  const y = new Float32Array(rows * N);
  const row = new Float32Array(K);
  for (let n = 0; n < N; n++) {
    dequantizeRow(w, n, row);
    const b = bias === null ? 0 : bias[n]!;
    for (let m = 0; m < rows; m++) {
      const xo = m * K;
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[xo + k]! * row[k]!;
      y[m * N + n] = acc + b;
    }
  }
  return y;
}

/**
 * Rows `indices` of a weight-only matrix, dequantized into `out` (indices.length x K floats): the
 * lookup of a quantized embedding table (dequantize on gather; only the gathered rows are ever
 * float). Indices must be integers in [0, N); the caller checks them.
 * @example weightOnlyGather(w, Int32Array.of(3, 0))  // Float32Array(2 * w.cols): rows 3 and 0
 */
export function weightOnlyGather(w: WeightOnlyWeight, indices: ArrayLike<number>, out = new Float32Array(indices.length * w.cols)): Float32Array {
  const K = w.cols;
  for (let i = 0; i < indices.length; i++) dequantizeRow(w, indices[i]!, out.subarray(i * K, (i + 1) * K));
  return out;
}
