// Shared helpers for the ONNX tests: whether ONNX Runtime (npm onnxruntime-node) can run here, running
// a model in it, and the error measure used to compare its outputs with ours.

import type { Tensor } from '../../src/index.js';
import { inCI } from '../helpers/requirements.js';

type Ort = typeof import('onnxruntime-node');

let cached: { ort: Ort | null; why: string | null } | null = null;

/**
 * ONNX Runtime, or null with the reason it cannot run here (not installed, native binary missing or
 * unloadable). Tests that need it skip with that reason; the check lives only here.
 */
export async function loadOrt(): Promise<{ ort: Ort | null; why: string | null }> {
  if (cached !== null) return cached;
  try {
    const ort = await import('onnxruntime-node');
    if (typeof ort.InferenceSession?.create !== 'function') throw new Error('the package has no InferenceSession');
    cached = { ort, why: null };
  } catch (e) {
    cached = { ort: null, why: `onnxruntime-node cannot load here (${(e as Error).message.split('\n')[0]}); install it with npm ci (ONNXRUNTIME_NODE_INSTALL=skip skips only its CUDA download)` };
    // in CI a missing ONNX Runtime is a failure, not a skip (test/helpers/requirements.ts's rule)
    if (inCI()) throw new Error(`required in CI: ${cached.why}`);
  }
  return cached;
}

/** Run `bytes` in ONNX Runtime on one input; returns the first output's data and dims. */
export async function runOrt(ort: Ort, bytes: Uint8Array, inputName: string, x: Tensor, outputName: string): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await ort.InferenceSession.create(bytes);
  const data = x.dataSync();
  const feed = { [inputName]: x.dtype === 'int32' ? new ort.Tensor('int32', data as Int32Array, [...x.shape]) : new ort.Tensor('float32', data as Float32Array, [...x.shape]) };
  const out = (await session.run(feed))[outputName];
  if (out === undefined) throw new Error(`ONNX Runtime produced no output '${outputName}'`);
  return { data: out.data as Float32Array, dims: out.dims.map(Number) };
}

/**
 * Relative error in the max norm: max_i |ours_i - ref_i| / max_i |ref_i| (the largest difference,
 * measured against the largest reference magnitude, so elements near zero do not blow it up).
 */
export function maxRelError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (ours.length !== ref.length) throw new Error(`length ${ours.length} != ${ref.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i]! - ref[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}
