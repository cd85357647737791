// The one place the CLI touches the backend registry: choose a backend, set threads, and describe
// the runtime for `info`. Optional backend capabilities (threads, CPU path) are read duck-typed so the
// CLI works with the reference backend and with the native one when it arrives.

import os from 'node:os';
import { getBackend, listBackends, setBackend } from '../backend/registry.js';
import type { Backend } from '../backend/backend.js';
import { UsageError } from './command.js';
import { modelFromCheckpoint, type Checkpoint } from '../io/index.js';
import { modelFromConfig, type PresetModel } from '../models/index.js';
import { prune } from '../compress/index.js';

/** What a backend may offer beyond the kernel interface. */
interface BackendExtras {
  readonly threads?: number;
  setThreads?(n: number): void;
  readonly cpuPath?: string;
  readonly description?: string;
}

/** Facts about the running process and backend, as `info` prints them. */
export interface RuntimeInfo {
  version: string;
  backend: string;
  backends: string[];
  /** SIMD path of the native kernels ('avx2+fma', ...) or 'n/a (pure TypeScript)' on reference. */
  cpuPath: string;
  /** Threads the backend uses for kernels (1 for reference). */
  threads: number;
  cpu: string;
  cores: number;
  node: string;
  platform: string;
}

/**
 * Apply `--backend` and `--threads` before any tensor work. Throws UsageError for an unknown backend.
 *
 * @example
 * applyRuntimeFlags('train', { threads: 2 });
 */
export function applyRuntimeFlags(command: string, opts: { threads?: number | undefined; backend?: string | undefined }): void {
  if (opts.threads !== undefined) process.env['TENSORSLIM_NUM_THREADS'] = String(opts.threads);
  if (opts.backend !== undefined) {
    if (!listBackends().includes(opts.backend)) {
      throw new UsageError(command, `--backend '${opts.backend}' is not available; available: ${listBackends().join(', ')}`);
    }
    setBackend(opts.backend);
  }
  const b = getBackend() as Backend & BackendExtras;
  if (opts.threads !== undefined && typeof b.setThreads === 'function') b.setThreads(opts.threads);
}

/**
 * Describe the runtime (version passed in by the caller, which knows where package.json is).
 *
 * @example
 * runtimeInfo('0.1.0').backend;  // 'reference'
 */
export function runtimeInfo(version: string): RuntimeInfo {
  const b = getBackend() as Backend & BackendExtras;
  return {
    version,
    backend: b.name,
    backends: listBackends(),
    cpuPath: typeof b.cpuPath === 'string' ? b.cpuPath : b.name === 'reference' ? 'n/a (pure TypeScript)' : 'unknown',
    threads: typeof b.threads === 'number' ? b.threads : 1,
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/**
 * Rebuild a model from a loaded checkpoint, dense or with the CSR sparse layers that
 * `tensorslim prune` writes (keys `<layer>.weight.values/crow_indices/col_indices`).
 * @example const model = modelFromAnyCheckpoint(loadCheckpoint('mlp.pruned.safetensors'));
 */
export function modelFromAnyCheckpoint(ckpt: Checkpoint): PresetModel {
  const sparse = [...ckpt.model.keys()].some((k) => k.endsWith('weight.crow_indices'));
  if (!sparse) return modelFromCheckpoint(ckpt);
  if (!ckpt.config) throw new Error('this sparse checkpoint has no model config, so its layers cannot be rebuilt');
  return prune.loadSparse(modelFromConfig(ckpt.config), ckpt.model);
}
