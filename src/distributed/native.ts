// Loads the Gloo addon (native/build/Release/tensorslim_dist.node), built by scripts/build-native.mjs
// only where Gloo's headers are installed, on first use (importing the library does not load Gloo).
// Loading never throws: a missing addon gives null and a reason that says how to get it. No logic
// beyond typing the raw binding.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Buffers the binding accepts: contiguous, read and written in place until the Promise settles. */
export type CommArray = Float32Array | Float64Array | Int32Array;

/** Reduction codes of native/src/distributed/dist_addon.cc. */
export const REDUCE_CODES = { sum: 0, avg: 1, max: 2, min: 3 } as const;
export type ReduceOp = keyof typeof REDUCE_CODES;
/** All-reduce algorithm codes of the binding (0: Gloo's default, the ring; 3: ours, ring_allreduce.cc). */
export const ALGORITHM_CODES = { ring: 1, bcube: 2, pipelined: 3 } as const;

/** One Gloo context and its communication thread. Every method queues in issue order. */
export interface NativeProcessGroup {
  connect(storeHost: string, storePort: number, token: string, prefix: string, deviceHost: string): Promise<void>;
  /**
   * segmentBytes > 0: the ring's largest segment (Gloo's default 1 MiB); algorithm: ALGORITHM_CODES;
   * depth > 0: the pipelined ring's temp segments (default 4).
   */
  allReduce(buf: CommArray, op: number, timeoutMs?: number, segmentBytes?: number, algorithm?: number, depth?: number): Promise<void>;
  /** The same allreduce, queued in order, but blocking the JS thread until done (throws on failure). */
  allReduceSync(buf: CommArray, op: number, timeoutMs?: number, segmentBytes?: number, algorithm?: number, depth?: number): void;
  /**
   * Queues an in-place all-gather (buf: worldSize equal chunks, chunk `rank` this rank's) and
   * returns its id for waitSync; buf must not be touched until waitSync(id) returns.
   */
  allGatherStart(buf: CommArray, timeoutMs?: number): number;
  /** Blocks the JS thread until the operation `id` (allGatherStart) is done; throws its error. */
  waitSync(id: number): void;
  broadcast(buf: CommArray, root: number, timeoutMs?: number): Promise<void>;
  allGather(input: CommArray, output: CommArray, timeoutMs?: number): Promise<void>;
  /**
   * A ring reduce-scatter: buf holds worldSize consecutive chunks, chunk r of counts[r] elements;
   * afterwards chunk `rank` holds the reduction (the other chunks are scratch).
   */
  reduceScatter(buf: CommArray, op: number, counts: number[], timeoutMs?: number): Promise<void>;
  barrier(timeoutMs?: number): Promise<void>;
  /** Sum of 16-bit floats in place (format 0 bfloat16, 1 float16), each addition rounded to the format. */
  allReduce16(buf: Uint16Array, format: number, timeoutMs?: number): Promise<void>;
  send(buf: CommArray, dst: number, tag: number, timeoutMs?: number): Promise<void>;
  recv(buf: CommArray, src: number, tag: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface DistAddon {
  ProcessGroup: new (rank: number, worldSize: number, timeoutMs: number) => NativeProcessGroup;
  readonly abiVersion: number;
}

const ABI_VERSION = 6;
/** What to run to get the Gloo addon. */
export const GLOO_HINT = 'install Gloo with `apt-get install -y libgloo-dev` and rebuild with `node scripts/build-native.mjs` (in the tensorslim package folder: the prebuilt addon has no Gloo; docs/NATIVE.md)';

function load(): { addon: DistAddon | null; error: string | null } {
  let dir = dirname(fileURLToPath(import.meta.url));
  let root: string | null = null;
  for (let i = 0; i < 6 && root === null; i++) {
    if (existsSync(join(dir, 'native', 'binding.gyp'))) root = dir;
    dir = dirname(dir);
  }
  const path = process.env['TENSORSLIM_DIST_NATIVE_PATH'] || (root === null ? null : join(root, 'native', 'build', 'Release', 'tensorslim_dist.node'));
  if (path === null || !existsSync(path)) {
    return { addon: null, error: `the Gloo addon is not built (${path ?? 'native/build/Release/tensorslim_dist.node'} is missing): ${GLOO_HINT}` };
  }
  try {
    const a = createRequire(import.meta.url)(path) as DistAddon;
    if (a.abiVersion !== ABI_VERSION) return { addon: null, error: `the Gloo addon at ${path} is stale (ABI ${String(a.abiVersion)}, expected ${ABI_VERSION}); rebuild with \`node scripts/build-native.mjs\`` };
    return { addon: a, error: null };
  } catch (e) {
    return { addon: null, error: `the Gloo addon at ${path} failed to load (${(e as Error).message}): ${GLOO_HINT}` };
  }
}

let loaded: { addon: DistAddon | null; error: string | null } | null = null;
/** The Gloo binding, or null (then distLoadError() says why). */
export function distAddon(): DistAddon | null { return (loaded ??= load()).addon; }
/** Why the Gloo binding is unavailable (null when it loaded). */
export function distLoadError(): string | null { return (loaded ??= load()).error; }
