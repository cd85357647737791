// Loads the compiled addon (native/build/Release/tensorslim.node, built by scripts/build-native.mjs
// at npm install) and types its raw entry points. Loading never throws: a missing or broken
// addon leaves `addon` null and `loadError` saying why. No kernels or validation logic here.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypedArray } from '../../backend/dtype.js';

/** The raw binding. Views travel as (typed array, slice of a Float64Array `meta`); see native/src/addon.cc. */
export interface NativeAddon {
  unary(op: number, x: TypedArray, meta: Float64Array, out: TypedArray): void;
  binary(op: number, a: TypedArray, b: TypedArray, meta: Float64Array, out: TypedArray): void;
  reduce(op: number, x: TypedArray, meta: Float64Array, out: TypedArray): void;
  copy(x: TypedArray, meta: Float64Array, out: TypedArray): void;
  assign(dst: TypedArray, src: TypedArray, meta: Float64Array): void;
  unfold2d(x: TypedArray, meta: Float64Array, padValue: number, out: TypedArray): void;
  fold2d(cols: TypedArray, meta: Float64Array, out: TypedArray): void;
  matmul(a: TypedArray, b: TypedArray, meta: Float64Array, out: TypedArray): void;
  linear(x: TypedArray, w: TypedArray, bias: TypedArray | null, meta: Float64Array, relu: boolean, out: TypedArray): void;
  softmaxCrossEntropy(logits: TypedArray, target: TypedArray, meta: Float64Array, loss: Float64Array, grad: TypedArray | null, scale: number): void;
  adam(p: TypedArray, g: TypedArray, m: TypedArray, v: TypedArray, vmax: TypedArray | null, hp: Float64Array): void;
  /** Bitwise, branch-free where for operands of any one dtype. */
  select(cond: TypedArray, a: TypedArray, b: TypedArray, meta: Float64Array, out: TypedArray): void;
  /** Comparisons (op codes 7..12) of int32 or uint8 operands -> uint8. */
  compareInt?(op: number, a: TypedArray, b: TypedArray, meta: Float64Array, out: Uint8Array): void;
  /** Casts uint8 -> any, int32 -> int32/float, float -> float. */
  convert?(x: TypedArray, meta: Float64Array, out: TypedArray): void;
  /** Backward of linear (+ReLU when y is given): g scratch (M*N, or null for native scratch), dx/dw/db: every element written (may be uninitialized). */
  linearBackward?(dy: TypedArray, y: TypedArray | null, x: TypedArray, w: TypedArray, meta: Float64Array,
    g: TypedArray | null, dx: TypedArray | null, dw: TypedArray | null, db: TypedArray | null): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cpuPath(): string;
  setCpuPath(path: string): boolean;
  supportedPaths(): string[];
  readonly abiVersion: number;
}

const ABI_VERSION = 3;  // 3: linear / linearBackward overwrite their outputs (JS passes uninitialized storage)

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

function load(): { addon: NativeAddon | null; error: string | null; path: string | null } {
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

const loaded = load();

/** The addon, or null when it could not be loaded. */
export const addon: NativeAddon | null = loaded.addon;
/** Why the addon is not available (null when it is). */
export const loadError: string | null = loaded.error;
/** Where the addon was looked for. */
export const addonPath: string | null = loaded.path;
