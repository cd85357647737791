// The one place the CLI touches the backend registry: choose a backend, set threads, and describe
// the runtime for `info`. Optional backend capabilities (threads, CPU path) are the Backend's optional
// BackendInfo members, absent on the reference backend.

import os from 'node:os';
import { getBackend, listBackends, setBackend } from '../backend/registry.js';
import { UsageError } from './command.js';
import { TensorslimError } from '../core/errors.js';
import { checkDeclaredSize, modelFromCheckpoint, type Checkpoint } from '../io/index.js';
import { listModels, modelFromConfig, type AnyPresetModel, type PresetModel } from '../models/index.js';
import { prune, quant } from '../compress/index.js';
import { gptConfigOf, loadGptCheckpoint } from '../train/lm.js';

/** The most kernel threads --threads accepts (far above any core count; more only adds overhead). */
const MAX_THREADS = 1024;

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
  if (opts.threads !== undefined && opts.threads > MAX_THREADS) {
    throw new UsageError(command, `--threads must be <= ${MAX_THREADS} (this machine has ${os.availableParallelism()} cores), got ${opts.threads}`);
  }
  if (opts.threads !== undefined) process.env['TENSORSLIM_NUM_THREADS'] = String(opts.threads);
  if (opts.backend !== undefined) {
    if (!listBackends().includes(opts.backend)) {
      throw new UsageError(command, `--backend '${opts.backend}' is not available; available: ${listBackends().join(', ')}`);
    }
    setBackend(opts.backend);
  }
  const b = getBackend();
  if (opts.threads !== undefined && typeof b.setThreads === 'function') b.setThreads(opts.threads);
}

/**
 * Describe the runtime (version passed in by the caller, which knows where package.json is).
 *
 * @example
 * runtimeInfo('0.1.0').backend;  // 'reference'
 */
export function runtimeInfo(version: string): RuntimeInfo {
  const b = getBackend();
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
 * Rebuild an image classifier from a loaded checkpoint, dense or with the CSR sparse layers that
 * `tensorslim prune` writes (keys `<layer>.weight.values/crow_indices/col_indices`). A GPT
 * checkpoint is refused with a message naming the commands that take one (this is what the
 * image-only commands call); anyModelFromCheckpoint accepts both.
 * @example const model = modelFromAnyCheckpoint(loadCheckpoint('mlp.pruned.safetensors'), { command: 'eval' });
 */
export function modelFromAnyCheckpoint(ckpt: Checkpoint, opts: { command?: string; path?: string } = {}): PresetModel {
  const gpt = gptConfigOf(ckpt);
  if (gpt !== null) {
    const what = opts.path !== undefined ? `'${opts.path}'` : 'the checkpoint';
    const cmd = opts.command !== undefined ? `tensorslim ${opts.command}` : 'this command';
    const classifiers = listModels({ task: 'image-classification' }).map((m) => m.name).join(', ');
    throw new TensorslimError(opts.command ?? 'load', `${what} holds a GPT language model (${gpt.preset ?? 'gpt'}: ${gpt.nLayer} layers, width ${gpt.nEmbd}), `
      + `but ${cmd} works on image classifiers (${classifiers}); for a GPT use tensorslim summary, tensorslim generate, or tensorslim train --resume`);
  }
  const sparse = [...ckpt.model.keys()].some((k) => k.endsWith('weight.crow_indices'));
  if (!sparse) return modelFromCheckpoint(ckpt);
  if (!ckpt.config) throw new Error('this sparse checkpoint has no model config, so its layers cannot be rebuilt');
  checkDeclaredSize(ckpt.config, ckpt.model, 'load');   // before allocating the dense model
  return prune.loadSparse(modelFromConfig(ckpt.config), ckpt.model);
}

/**
 * Rebuild any preset model from a loaded checkpoint: a GPT (config in metadata extra.gpt, as
 * `train --model gpt-*` writes it) or an image classifier (dense or sparse, as modelFromAnyCheckpoint).
 * @example const model = anyModelFromCheckpoint(loadCheckpoint('gpt.safetensors'));   // a GPT
 */
export function anyModelFromCheckpoint(ckpt: Checkpoint): AnyPresetModel {
  return gptConfigOf(ckpt) !== null ? loadGptCheckpoint(ckpt).model : modelFromAnyCheckpoint(ckpt);
}

/**
 * Names of the tensors of `tensors` holding NaN or Inf (float tensors only), for the warning that
 * every command loading a checkpoint prints: a model with non-finite weights computes NaN, and its
 * accuracy, loss or pruning result would mean nothing.
 * @example nonFiniteTensors(model.stateDict());   // ['0.weight'] after a diverged run
 */
export function nonFiniteTensors(tensors: ReadonlyMap<string, { dtype: string; contiguous(): { data: ArrayLike<number> } }>): string[] {
  const bad: string[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
    const d = t.contiguous().data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) { bad.push(name); break; }
  }
  return bad;
}

/**
 * Warn on stderr when a loaded model has non-finite weights (NaN/Inf), naming the file and tensors.
 * @example warnNonFinite(ctx, 'eval', model, 'mlp.safetensors');
 */
export function warnNonFinite(ctx: { err(line: string): void }, command: string, model: { stateDict(): ReadonlyMap<string, { dtype: string; contiguous(): { data: ArrayLike<number> } }> }, path: string): void {
  const bad = nonFiniteTensors(model.stateDict());
  if (bad.length === 0) return;
  const names = bad.length > 4 ? `${bad.slice(0, 4).join(', ')} and ${bad.length - 4} more` : bad.join(', ');
  ctx.err(`tensorslim ${command}: warning: ${path} holds non-finite weights (NaN or Inf) in ${names}; `
    + 'the model computes NaN and its results mean nothing: retrain, or resume from an earlier checkpoint');
}

/**
 * The model of a quantized checkpoint (`tensorslim quantize --out`): the float architecture from
 * its config with the int8 layers swapped in; null when `ckpt` is not quantized (then load it as
 * usual). `path` is read again for the int8 tensors (loadCheckpoint widens them to int32).
 * @example const model = quantizedModelFromFile(ckpt, path) ?? modelFromAnyCheckpoint(ckpt);
 */
export function quantizedModelFromFile(ckpt: Checkpoint, path: string): PresetModel | null {
  if (!quant.isQuantizedCheckpoint(ckpt)) return null;
  return quant.loadQuantizedCheckpoint(path).model;
}

/**
 * Refuse a quantized checkpoint in a command that cannot take one (`export`), naming what can.
 * @example refuseQuantized(ckpt, 'export', path);
 */
export function refuseQuantized(ckpt: Checkpoint, command: string, path: string, why: string): void {
  if (!quant.isQuantizedCheckpoint(ckpt)) return;
  throw new TensorslimError(command, `${path} is a quantized (int8) checkpoint; ${why}. tensorslim eval and summary take it; `
    + `tensorslim ${command} takes the float checkpoint it was quantized from`);
}
