// Loads the compiled addon on first use: the one built here (native/build/Release/tensorslim.node, by
// scripts/build-native.mjs at npm install), else the package's prebuilt one for this platform
// (prebuilds/<platform>-<arch>/, put there by `npm pack`: scripts/prebuild.mjs) when its manifest
// matches this process (binding ABI, N-API, arch, glibc), and types its raw entry points: the whole ABI, one member per entry
// point of native/src (each kernel file's Binding table). Importing this module loads nothing;
// loadAddon() does, once. Loading never throws: a missing, broken or stale addon gives null and a
// reason. The one check at load is the exact ABI version, so every member below is present.

import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeapTrimInfo } from '../../backend/backend.js';
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
  /** Its gradients (dx, dw, db: every element written, may be uninitialized); meta = views of dy, x and weight, then the geometry. */
  conv2dBackward(dy: TypedArray, x: TypedArray, w: TypedArray, meta: Float64Array, dx: TypedArray | null, dw: TypedArray | null, db: TypedArray | null): void;
  /** out += a @ b (batched, any strides), or out = a @ b when `overwrite` (out may then be uninitialized storage). */
  matmul(a: TypedArray, b: TypedArray, meta: Float64Array, out: TypedArray, overwrite?: boolean): void;
  linear(x: TypedArray, w: TypedArray, bias: TypedArray | null, meta: Float64Array, relu: boolean, out: TypedArray): void;
  /** linearChain(meta, out, x, w0, b0 | null, w1, b1 | null, ...): L linear layers in one call (native/src/linear.cc); absent in addon builds that predate it. */
  linearChain?(meta: Float64Array, out: TypedArray, x: TypedArray, ...weightsAndBiases: (TypedArray | null)[]): void;
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
  /** dx = y <= 0 ? 0 : dy (relu_backward.cc). */
  reluBackward(dy: TypedArray, y: TypedArray, meta: Float64Array, dx: TypedArray): void;
  /** params: [scale, causal, dropout, seed]; meta: q, k, v, then the view of out when it is a strided destination. */
  attentionForward(q: TypedArray, k: TypedArray, v: TypedArray, meta: Float64Array, params: Float64Array, out: TypedArray, lse: TypedArray): void;
  attentionBackward(q: TypedArray, k: TypedArray, v: TypedArray, out: TypedArray, dOut: TypedArray, lse: TypedArray,
    meta: Float64Array, params: Float64Array, dq: TypedArray, dk: TypedArray, dv: TypedArray): void;
  /** meta: the view of weight (V, D); indices contiguous. */
  embeddingForward(weight: TypedArray, meta: Float64Array, indices: Int32Array, out: TypedArray): void;
  embeddingBackward(dy: TypedArray, meta: Float64Array, indices: Int32Array, rows: number, out: TypedArray): void;
  csrLinear(x: TypedArray, batch: number, rows: number, cols: number, crow: Int32Array, col: Int32Array,
    values: TypedArray, bias: TypedArray | null, out: TypedArray): void;
  /** Packs w (rows x cols, int8 bits) for int8 path `path` (0 generic, 1 avx2, 2 avx512, 3 vnni, 4 avxvnni) into `packed` (int8PackedBytes long). */
  int8Pack(w: Uint8Array, rows: number, cols: number, path: number, packed: Uint8Array, colsum: Int32Array): void;
  /** params: [kind (0 float32, 1 requantize), outScale, outZeroPoint, relu, outSigned]; int8 data as its bytes. */
  int8Linear(x: Uint8Array, xSigned: boolean, rows: number, cols: number, xScale: number, xZeroPoint: number, packed: Uint8Array,
    colsum: Int32Array, wScales: Float32Array, wZeroPoints: Int32Array, bias: Float32Array | null, params: Float64Array, out: Float32Array | Uint8Array): void;
  /**
   * int8 Conv2d (groups 1): integer im2col of x (N, C, H, W; int8 bits when xSigned; padding reads
   * xZeroPoint), the int8Linear GEMM with `packed` (O, C kh kw), out in NCHW order; geometry: the 14
   * values of Conv2dGeometry; the other arguments as int8Linear.
   */
  int8Conv2d(x: Uint8Array, xSigned: boolean, geometry: Float64Array, xScale: number, xZeroPoint: number, packed: Uint8Array,
    colsum: Int32Array, wScales: Float32Array, wZeroPoints: Int32Array, bias: Float32Array | null, params: Float64Array, out: Float32Array | Uint8Array): void;
  /** out = quantized x (int8 bits when signed); inv = fround(1 / fround(scale)). */
  int8Quantize(x: Float32Array, inv: number, zeroPoint: number, signed: boolean, out: Uint8Array): void;
  /** out = [min, max, index of the first non-finite value or -1]. */
  int8FloatRange(x: Float32Array, out: Float64Array): void;
  /** Range, chooseDynamicQparams(min, max, 0, qmax) and uint8 codes of x into out (x's length) in one call; result: [scale, zeroPoint, first non-finite index or -1]. */
  int8QuantizeDynamic(x: Float32Array, qmax: number, out: Uint8Array, result: Float64Array): void;
  /** Max pooling of uint8 codes x (N, C, H, W) into out (N, C, OH, OW); geometry: the 14 values of Conv2dGeometry. */
  int8MaxPool2d(x: Uint8Array, geometry: Float64Array, out: Uint8Array): void;
  /** Weight-only int8 / int4 matmul (native/src/weight_only_linear.cc); absent in addon builds that predate it. int8 data as its bytes. */
  weightOnlyLinear?(x: Float32Array, rows: number, n: number, k: number, groupSize: number, bits: number, data: Uint8Array,
    scales: Float32Array, zeroPoints: Int32Array, bias: Float32Array | null, out: Float32Array): void;
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
  /** malloc_trim(0) when glibc's free bytes are at least minFreeBytes (alloc.cc trim_heap). */
  mallocTrim?(minFreeBytes: number): HeapTrimInfo;
  /** Free the calling thread's GEMM packing scratch above TENSORSLIM_GEMM_SCRATCH_MB (alloc.cc). */
  releaseScratch?(): void;
  /** Set the GEMM's kept packing scratch and its block budget in bytes (TENSORSLIM_GEMM_SCRATCH_MB / _BLOCK_MB; alloc.cc); returns the previous values. Tests. */
  gemmScratch?(keepBytes?: number, blockBytes?: number): { keepBytes: number; blockBytes: number };
  /** Detach an ArrayBuffer so its memory goes back to the C heap now; false if it cannot be detached (alloc.cc). */
  freeArrayBuffer?(buf: ArrayBuffer): boolean;
  readonly abiVersion: number;
}

const ABI_VERSION = 12;  // kAbiVersion in native/src/addon.cc (4: one view format for every entry point, embedding included; 5: maxPool2d, conv2d; 6: int8Linear; 7: int8Conv2d, avxvnni; 8: conv2d groups or int8MaxPool2d; 9: both; 10: int8QuantizeDynamic; 11: matmul's overwrite flag; 12: reluBackward)

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

/**
 * What scripts/prebuild.mjs records beside a prebuilt addon (prebuilds/<platform>-<arch>/manifest.json).
 * @example const m = loadAddon().manifest; if (m) console.log(m.glibc);  // '2.34'
 */
export interface PrebuiltManifest {
  /** The binding table's ABI (kAbiVersion of native/src/addon.cc, read from the built binary). */
  readonly abiVersion: number;
  /** The N-API version it was compiled against (a Node.js with at least this one can load it). */
  readonly napiVersion: number;
  readonly platform: string;
  readonly arch: string;
  /** The highest GLIBC_ symbol version the binary needs (objdump -T); null off glibc. */
  readonly glibc: string | null;
  readonly compiler: string;
  /** ISO 8601 time of the build. */
  readonly builtAt: string;
  /** sha256 of native/binding.gyp and every file under native/src it was built from. */
  readonly sourceHash: string;
  /** The addon's file name in the same folder. */
  readonly file: string;
}

/** Where the loaded addon came from: TENSORSLIM_NATIVE_PATH, native/build (built here), or prebuilds/. */
export type AddonSource = 'env' | 'local' | 'prebuilt';

/** The outcome of loading the addon: it, or why not; where it was looked for and where it came from. */
export interface AddonLoad {
  readonly addon: NativeAddon | null;
  readonly error: string | null;
  readonly path: string | null;
  /** Which candidate loaded (null when none did). */
  readonly source: AddonSource | null;
  /** The prebuilt addon's manifest when source is 'prebuilt'. */
  readonly manifest: PrebuiltManifest | null;
  /** One line per candidate skipped on the way (a stale local build, a mismatching prebuilt). */
  readonly notes: readonly string[];
}

/** The facts of this process a prebuilt addon is checked against. */
export interface HostFacts {
  readonly platform: string;
  readonly arch: string;
  /** glibc version of this process (process.report's glibcVersionRuntime); null off glibc (musl). */
  readonly glibc: string | null;
  /** process.versions.napi. */
  readonly napi: number;
}

/**
 * This process's platform, architecture, glibc and N-API versions.
 * @example hostFacts()  // { platform: 'linux', arch: 'x64', glibc: '2.36', napi: 10 }
 */
export function hostFacts(): HostFacts {
  let glibc: string | null = null;
  if (process.platform === 'linux') {
    const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
    glibc = header?.glibcVersionRuntime ?? null;
  }
  return { platform: process.platform, arch: process.arch, glibc, napi: Number(process.versions.napi ?? 0) };
}

/** -1, 0 or 1 as dotted version a is below, equal to or above b ('2.9' < '2.34'). */
function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

const ELF_MACHINES: Record<number, string> = { 0x3e: 'x64', 0xb7: 'arm64', 0x03: 'ia32', 0x28: 'arm', 0xf3: 'riscv64', 0x15: 'ppc64', 0x16: 's390x' };

/**
 * Why a prebuilt addon with this manifest cannot serve this process (one line), or null when it can.
 * Checked before the binary is opened, so a mismatching one is never loaded.
 * @example checkPrebuiltManifest(m, hostFacts())  // 'built for arm64, this machine is x64'
 */
export function checkPrebuiltManifest(m: unknown, host: HostFacts, abiVersion: number = ABI_VERSION): string | null {
  if (typeof m !== 'object' || m === null) return 'its manifest is not a JSON object';
  const f = m as Record<string, unknown>;
  for (const [key, type] of [['abiVersion', 'number'], ['napiVersion', 'number'], ['platform', 'string'], ['arch', 'string'], ['file', 'string']] as const) {
    if (typeof f[key] !== type) return `its manifest lacks ${key} (a ${type})`;
  }
  if (f['platform'] !== host.platform || f['arch'] !== host.arch) {
    return `built for ${String(f['platform'])}-${String(f['arch'])}, this machine is ${host.platform}-${host.arch}`;
  }
  if (f['abiVersion'] !== abiVersion) return `binding ABI ${String(f['abiVersion'])}, this library needs ABI ${abiVersion}`;
  if ((f['napiVersion'] as number) > host.napi) return `needs N-API ${String(f['napiVersion'])}, this Node.js ${process.version} has N-API ${host.napi}`;
  const glibc = f['glibc'];
  if (host.platform === 'linux') {
    if (typeof glibc !== 'string' || !/^\d+(\.\d+)*$/.test(glibc)) return 'its manifest lacks glibc (the glibc version it needs)';
    if (host.glibc === null) return `needs glibc ${glibc}, this process runs without glibc (musl?)`;
    if (compareVersions(host.glibc, glibc) < 0) return `needs glibc ${glibc}, this machine has glibc ${host.glibc}`;
  }
  return null;
}

/** The architecture an ELF file is built for (from its header), or null when it is not ELF. */
function elfArch(path: string): string | null {
  const head = Buffer.alloc(20);
  const fd = openSync(path, 'r');
  try { readSync(fd, head, 0, 20, 0); } finally { closeSync(fd); }
  if (head.readUInt32BE(0) !== 0x7f454c46) return null;
  const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  return ELF_MACHINES[machine] ?? `ELF machine ${machine}`;
}

type Tried = { addon: NativeAddon; error: null } | { addon: null; error: string };

function tryLoad(path: string): Tried {
  try {
    const a = createRequire(import.meta.url)(path) as NativeAddon;
    if (a.abiVersion !== ABI_VERSION) {
      return { addon: null, error: `the native addon at ${path} is stale (ABI ${String(a.abiVersion)}, expected ${ABI_VERSION}); rebuild it with \`node scripts/build-native.mjs\`` };
    }
    return { addon: a, error: null };
  } catch (e) {
    return { addon: null, error: `the native addon at ${path} failed to load: ${(e as Error).message}` };
  }
}

/** The prebuilt addon of `root` for this host: loaded, or a note saying why it was skipped (null note: none shipped). */
function loadPrebuiltFrom(root: string, host: HostFacts): { addon: NativeAddon | null; path: string | null; manifest: PrebuiltManifest | null; note: string | null } {
  const base = join(root, 'prebuilds');
  if (!existsSync(base)) return { addon: null, path: null, manifest: null, note: null };
  const dir = join(base, `${host.platform}-${host.arch}`);
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) {
    const have = readdirSync(base).filter((d) => existsSync(join(base, d, 'manifest.json')));
    return { addon: null, path: null, manifest: null, note: `no prebuilt addon for ${host.platform}-${host.arch} in ${base} (it has: ${have.join(', ') || 'none'})` };
  }
  let m: unknown;
  try { m = JSON.parse(readFileSync(manifestPath, 'utf8')); } catch (e) {
    return { addon: null, path: null, manifest: null, note: `prebuilt addon skipped: ${manifestPath} is not valid JSON (${(e as Error).message})` };
  }
  const why = checkPrebuiltManifest(m, host);
  const manifest = m as PrebuiltManifest;
  const path = join(dir, typeof manifest.file === 'string' ? manifest.file : 'tensorslim.node');
  if (why !== null) return { addon: null, path, manifest: null, note: `prebuilt addon ${path} skipped: ${why}` };
  if (!existsSync(path)) return { addon: null, path, manifest: null, note: `prebuilt addon skipped: ${path} is missing` };
  const arch = elfArch(path);
  if (host.platform === 'linux' && arch !== host.arch) return { addon: null, path, manifest: null, note: `prebuilt addon ${path} skipped: the file is ${arch === null ? 'not an ELF binary' : `built for ${arch}`}, this machine is ${host.arch}` };
  const r = tryLoad(path);
  return r.addon ? { addon: r.addon, path, manifest, note: null } : { addon: null, path, manifest: null, note: `prebuilt addon skipped: ${r.error}` };
}

function load(): AddonLoad {
  const root = packageRoot();
  if (root === null) return { addon: null, error: 'native/binding.gyp not found above the library', path: null, source: null, manifest: null, notes: [] };
  const envPath = process.env['TENSORSLIM_NATIVE_PATH'];
  if (envPath) {
    if (!existsSync(envPath)) return { addon: null, error: `the native addon is not built (${envPath} is missing); run \`node scripts/build-native.mjs\``, path: envPath, source: null, manifest: null, notes: [] };
    const r = tryLoad(envPath);
    return { addon: r.addon, error: r.error, path: envPath, source: r.addon ? 'env' : null, manifest: null, notes: [] };
  }
  // 1. built here (from source); 2. the package's prebuilt one for this platform; 3. none
  const notes: string[] = [];
  const local = join(root, 'native', 'build', 'Release', 'tensorslim.node');
  let localError: string | null = null;
  if (existsSync(local)) {
    const r = tryLoad(local);
    if (r.addon) return { addon: r.addon, error: null, path: local, source: 'local', manifest: null, notes };
    localError = r.error;
    notes.push(`local addon skipped: ${r.error}`);
  }
  const pre = loadPrebuiltFrom(root, hostFacts());
  if (pre.note !== null) notes.push(pre.note);
  if (pre.addon) {
    for (const n of notes) process.stderr.write(`tensorslim: ${n}\n`);
    return { addon: pre.addon, error: null, path: pre.path, source: 'prebuilt', manifest: pre.manifest, notes };
  }
  const error = localError ?? `the native addon is not built (${local} is missing); run \`node scripts/build-native.mjs\``;
  return { addon: null, error: [error, ...(pre.note === null ? [] : [pre.note])].join('; '), path: local, source: null, manifest: null, notes };
}

/**
 * Only the package's prebuilt addon (prebuilds/<platform>-<arch>), checked against its manifest and
 * loaded; the install step (scripts/build-native.mjs) uses it to skip compiling. Never throws.
 * @example const r = loadPrebuiltAddon(); if (!r.addon) console.log(r.notes.join('; '));
 */
export function loadPrebuiltAddon(): AddonLoad {
  const root = packageRoot();
  if (root === null) return { addon: null, error: 'native/binding.gyp not found above the library', path: null, source: null, manifest: null, notes: [] };
  const pre = loadPrebuiltFrom(root, hostFacts());
  const notes = pre.note === null ? [] : [pre.note];
  return pre.addon
    ? { addon: pre.addon, error: null, path: pre.path, source: 'prebuilt', manifest: pre.manifest, notes }
    : { addon: null, error: pre.note ?? `no prebuilt addon in ${join(root, 'prebuilds')}`, path: pre.path, source: null, manifest: null, notes };
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

/**
 * The outcome of loading the addon if it was already attempted, else null; loads nothing
 * (`tensorslim info` uses it to describe the addon without loading one under the reference backend).
 * @example addonLoadState()?.source  // 'prebuilt'
 */
export function addonLoadState(): AddonLoad | null {
  return loaded;
}
