// Loads the compiled addon (native/build/Release/tensorslim.node, built by scripts/build-native.mjs
// at npm install) on first use, and types its raw entry points: the whole ABI, one member per entry
// point of native/src (each kernel file's Binding table). Importing this module loads nothing;
// loadAddon() does, once. Loading never throws: a missing, broken or stale addon gives null and a
// reason. The one check at load is the exact ABI version, so every member below is present.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypedArray } from '../../backend/dtype.js';

/**
 * The raw binding. Views travel as (typed array, slice of a Float64Array `meta`) packed by pack.ts
 * and read by native/src/binding.h; each entry point's argument order is documented at its C++ body.
 */
export interface NativeAddon {
  unary(op: number, x: TypedArray, meta: Float64Array, out: TypedArray): void;
  binary(op: number, a: TypedArray, b: TypedArray, meta: Float64Array, out: TypedArray): void;
  reduce(op: number, x: TypedArray, meta: Float64Array, out: TypedArray): void;
  copy(x: TypedArray, meta: Float64Array, out: TypedArray): void;
  assign(dst: TypedArray, src: TypedArray, meta: Float64Array): void;
  unfold2d(x: TypedArray, meta: Float64Array, padValue: number, out: TypedArray): void;
  fold2d(cols: TypedArray, meta: Float64Array, out: TypedArray): void;
  /** Max pooling with the argmax position (y * W + x in its plane) of every output; meta = view of x, then the geometry. */
  maxPool2dForward(x: TypedArray, meta: Float64Array, out: TypedArray, argmax: Int32Array): void;
  /** dx (zeroed) += dy scattered to the argmax positions; meta = view of dy, then the geometry. */
  maxPool2dBackward(dy: TypedArray, argmax: Int32Array, meta: Float64Array, out: TypedArray): void;
  /** Convolution, one sample's im2col in scratch at a time; meta = views of x and weight, then the geometry. */
  conv2dForward(x: TypedArray, w: TypedArray, bias: TypedArray | null, meta: Float64Array, out: TypedArray): void;
  /** Its gradients (dx zeroed; dw, db every element written); meta = views of dy, x and weight, then the geometry. */
  conv2dBackward(dy: TypedArray, x: TypedArray, w: TypedArray, meta: Float64Array, dx: TypedArray | null, dw: TypedArray | null, db: TypedArray | null): void;
  matmul(a: TypedArray, b: TypedArray, meta: Float64Array, out: TypedArray): void;
  linear(x: TypedArray, w: TypedArray, bias: TypedArray | null, meta: Float64Array, relu: boolean, out: TypedArray): void;
  softmaxCrossEntropy(logits: TypedArray, target: TypedArray, meta: Float64Array, loss: Float64Array, grad: TypedArray | null, scale: number): void;
  adam(p: TypedArray, g: TypedArray, m: TypedArray, v: TypedArray, vmax: TypedArray | null, hp: Float64Array): void;
  /** Bitwise, branch-free where for operands of any one dtype. */
  select(cond: TypedArray, a: TypedArray, b: TypedArray, meta: Float64Array, out: TypedArray): void;
  /** Comparisons (op codes 7..12) of int32 or uint8 operands -> uint8. */
  compareInt(op: number, a: TypedArray, b: TypedArray, meta: Float64Array, out: Uint8Array): void;
  /** Casts uint8 -> any, int32 -> int32/float, float -> float. */
  convert(x: TypedArray, meta: Float64Array, out: TypedArray): void;
  /** Backward of linear (+ReLU when y is given): g scratch (M*N, or null for native scratch), dx/dw/db: every element written (may be uninitialized). */
  linearBackward(dy: TypedArray, y: TypedArray | null, x: TypedArray, w: TypedArray, meta: Float64Array,
    g: TypedArray | null, dx: TypedArray | null, dw: TypedArray | null, db: TypedArray | null): void;
  layerNormForward(x: TypedArray, w: TypedArray | null, b: TypedArray | null, meta: Float64Array, eps: number,
    y: TypedArray, mean: TypedArray, rstd: TypedArray): void;
  layerNormBackward(dy: TypedArray, x: TypedArray, w: TypedArray | null, mean: TypedArray, rstd: TypedArray, meta: Float64Array,
    dx: TypedArray | null, dw: TypedArray | null, db: TypedArray | null): void;
  /** form: 0 erf, 1 tanh. */
  geluForward(x: TypedArray, meta: Float64Array, form: number, y: TypedArray): void;
  geluBackward(dy: TypedArray, x: TypedArray, meta: Float64Array, form: number, dx: TypedArray): void;
  /** params: [scale, causal, dropout, seed]; meta: q, k, v, then the view of out when it is a strided destination. */
  attentionForward(q: TypedArray, k: TypedArray, v: TypedArray, meta: Float64Array, params: Float64Array, out: TypedArray, lse: TypedArray): void;
  attentionBackward(q: TypedArray, k: TypedArray, v: TypedArray, out: TypedArray, dOut: TypedArray, lse: TypedArray,
    meta: Float64Array, params: Float64Array, dq: TypedArray, dk: TypedArray, dv: TypedArray): void;
  /** meta: the view of weight (V, D); indices contiguous. */
  embeddingForward(weight: TypedArray, meta: Float64Array, indices: Int32Array, out: TypedArray): void;
  embeddingBackward(dy: TypedArray, meta: Float64Array, indices: Int32Array, rows: number, out: TypedArray): void;
  csrLinear(x: TypedArray, batch: number, rows: number, cols: number, crow: Int32Array, col: Int32Array,
    values: TypedArray, bias: TypedArray | null, out: TypedArray): void;
  /** Packs w (rows x cols, int8 bits) for int8 path `path` (0 generic, 1 avx2, 2 avx512, 3 vnni) into `packed` (int8PackedBytes long). */
  int8Pack(w: Uint8Array, rows: number, cols: number, path: number, packed: Uint8Array, colsum: Int32Array): void;
  /** params: [kind (0 float32, 1 requantize), outScale, outZeroPoint, relu, outSigned]; int8 data as its bytes. */
  int8Linear(x: Uint8Array, xSigned: boolean, rows: number, cols: number, xScale: number, xZeroPoint: number, packed: Uint8Array,
    colsum: Int32Array, wScales: Float32Array, wZeroPoints: Int32Array, bias: Float32Array | null, params: Float64Array, out: Float32Array | Uint8Array): void;
  /** out = quantized x (int8 bits when signed); inv = fround(1 / fround(scale)). */
  int8Quantize(x: Float32Array, inv: number, zeroPoint: number, signed: boolean, out: Uint8Array): void;
  /** out = [min, max, index of the first non-finite value or -1]. */
  int8FloatRange(x: Float32Array, out: Float64Array): void;
  int8PackedBytes(path: string, rows: number, cols: number): number;
  int8Path(): string;
  setInt8Path(path: string): boolean;
  supportedInt8Paths(): string[];
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cpuPath(): string;
  setCpuPath(path: string): boolean;
  supportedPaths(): string[];
  /** Measure peak float32 FLOP/s of `path` (FMA loop on every pool thread) and copy bandwidth over `copyBytes` (roofline.cc). */
  rooflineProbe?(path: string, seconds: number, copyBytes: number): { path: string; threads: number; fmaGflops: number; copyGbps: number };
  /** Per-thread kernel timing of the pool (pool_trace.cc). */
  poolTrace?(on: boolean): void;
  poolTraceDrain?(): { spans: Float64Array; nowUs: number };
  readonly abiVersion: number;
}

const ABI_VERSION = 6;  // kAbiVersion in native/src/addon.cc (4: one view format for every entry point, embedding included; 5: maxPool2d, conv2d; 6: int8Linear)

/** The package root: the nearest directory above this file holding native/binding.gyp. */
function packageRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'native', 'binding.gyp'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

/** The outcome of loading the addon: it, or why not; and where it was looked for. */
export interface AddonLoad {
  readonly addon: NativeAddon | null;
  readonly error: string | null;
  readonly path: string | null;
}

function load(): AddonLoad {
  const root = packageRoot();
  if (root === null) return { addon: null, error: 'native/binding.gyp not found above the library', path: null };
  const path = process.env['TENSORSLIM_NATIVE_PATH'] || join(root, 'native', 'build', 'Release', 'tensorslim.node');
  if (!existsSync(path)) {
    return { addon: null, error: `the native addon is not built (${path} is missing); run \`node scripts/build-native.mjs\``, path };
  }
  try {
    const a = createRequire(import.meta.url)(path) as NativeAddon;
    if (a.abiVersion !== ABI_VERSION) {
      return { addon: null, error: `the native addon at ${path} is stale (ABI ${String(a.abiVersion)}, expected ${ABI_VERSION}); rebuild it with \`node scripts/build-native.mjs\``, path };
    }
    return { addon: a, error: null, path };
  } catch (e) {
    return { addon: null, error: `the native addon at ${path} failed to load: ${(e as Error).message}`, path };
  }
}

let loaded: AddonLoad | null = null;

/**
 * Loads the addon on the first call (later calls return the same outcome); never throws.
 * @example const { addon, error } = loadAddon(); if (!addon) console.log(error);
 */
export function loadAddon(): AddonLoad {
  loaded ??= load();
  return loaded;
}
