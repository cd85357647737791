// Training checkpoints as safetensors files that PyTorch tools read directly.
//
// Layout of a checkpoint file (format version 1):
//   tensors
//     <model state-dict key>                e.g. '1.weight', '1.bias': the weights, under exactly the
//                                           keys of the equivalent torch.nn model's state_dict()
//     optimizer.state.<i>.<name>            optimizer state tensors of parameter i (PyTorch's index:
//                                           counting through all parameter groups in order), with
//                                           PyTorch's names: exp_avg, exp_avg_sq, max_exp_avg_sq,
//                                           momentum_buffer. Only when an optimizer is saved.
//   __metadata__ (every value a string; JSON where structured)
//     format                     'pt' (what Hugging Face loaders expect of PyTorch weights)
//     tensorslim.format_version  '1'
//     tensorslim.version         the package version that wrote the file
//     tensorslim.step            JSON integer: optimizer steps taken
//     tensorslim.epoch           JSON integer: epochs completed
//     tensorslim.config          JSON: the model's ModelConfig (preset name + constructor config), or null
//     tensorslim.rng_state       JSON: Generator.getState() ({s: [4 x uint32], spare})
//     tensorslim.optimizer       JSON, only with an optimizer: {type: 'Adam', paramGroups: [{lr, betas,
//                                ..., params: [0, 1]}], state: {'0': {step: 3}}} (the non-tensor part of
//                                optimizer.stateDict(); tensors are the optimizer.state.* entries)
//     tensorslim.scheduler       JSON, only with a scheduler: {type: 'StepLR', state: scheduler.stateDict()}
//     tensorslim.extra           JSON object: anything else the caller keeps (best accuracy, data order, ...)
//
// To read the weights in PyTorch: load every tensor whose key does not start with 'optimizer.' and
// call model.load_state_dict on them (or load_state_dict(..., strict=False)).
// Numbers travel as JSON, whose shortest round-trip form is exact for every finite double, so a
// resumed run continues bitwise like an uninterrupted one. Non-finite numbers are refused.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TensorslimError } from '../core/errors.js';
import { defaultGenerator, type Generator, type GeneratorState } from '../core/random.js';
import { Tensor } from '../core/tensor.js';
import { modelFromConfig, validateConfig, type ModelConfig, type PresetModel } from '../models/index.js';
import type { OptimizerStateDict, PackedParamGroup, ParamState, SchedulerStateDict } from '../optim/index.js';
import { readFileBytes, writeFileAtomic } from './files.js';
import { checkDeclaredSize } from './declared.js';
import { parseSafetensors, serializeSafetensors, type SafetensorsMetadata } from './safetensors.js';

/** A JSON value (what checkpoint metadata can hold). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object. */
export type JsonObject = { [key: string]: JsonValue };

/** The checkpoint format version this build writes and the newest it reads. */
export const CHECKPOINT_FORMAT_VERSION = 1;
/** Prefix of the optimizer state tensors: `optimizer.state.<i>.<name>`. */
export const OPTIMIZER_TENSOR_PREFIX = 'optimizer.state.';

/** Metadata keys of a checkpoint (see the layout at the top of this file). */
export const CHECKPOINT_METADATA_KEYS = {
  format: 'format',
  formatVersion: 'tensorslim.format_version',
  version: 'tensorslim.version',
  step: 'tensorslim.step',
  epoch: 'tensorslim.epoch',
  config: 'tensorslim.config',
  rngState: 'tensorslim.rng_state',
  optimizer: 'tensorslim.optimizer',
  scheduler: 'tensorslim.scheduler',
  extra: 'tensorslim.extra',
} as const;
const K = CHECKPOINT_METADATA_KEYS;

/** What a checkpoint needs of a model (any Module fits). */
export interface CheckpointModel {
  stateDict(): ReadonlyMap<string, Tensor>;
  loadStateDict(state: ReadonlyMap<string, Tensor>, opts?: { strict?: boolean }): unknown;
}

/** What a checkpoint needs of an optimizer (any Optimizer fits). Its `typeName` (else its class name) is stored as its type. */
export interface CheckpointOptimizer {
  stateDict(): OptimizerStateDict;
  loadStateDict(sd: OptimizerStateDict): void;
}

/** What a checkpoint needs of an LR scheduler (any LRScheduler fits). */
export interface CheckpointScheduler {
  stateDict(): SchedulerStateDict;
  loadStateDict(sd: SchedulerStateDict): void;
}

/** What saveCheckpoint writes. */
export interface CheckpointInput {
  /** The model, or its state dict. */
  model: CheckpointModel | ReadonlyMap<string, Tensor>;
  optimizer?: CheckpointOptimizer;
  scheduler?: CheckpointScheduler;
  /** Optimizer steps taken so far. */
  step: number;
  /** Epochs completed so far. */
  epoch: number;
  /** How to rebuild the model (a preset's `model.config`); null for a model built by hand. */
  config: ModelConfig | null;
  /** The generator's state (Generator.getState()), so data order and dropout continue exactly. */
  rngState: GeneratorState;
  /** Anything else to keep, as JSON. */
  extra?: JsonObject;
}

/** A checkpoint as loaded. */
export interface Checkpoint {
  /** Model tensors by PyTorch state-dict key. */
  model: Map<string, Tensor>;
  /** Optimizer class name and state dict, or null when none was saved. */
  optimizer: { type: string; stateDict: OptimizerStateDict } | null;
  /** Scheduler class name and state dict, or null when none was saved. */
  scheduler: { type: string; stateDict: SchedulerStateDict } | null;
  step: number;
  epoch: number;
  config: ModelConfig | null;
  rngState: GeneratorState;
  extra: JsonObject;
  /** Version of tensorslim that wrote the file. */
  tensorslimVersion: string;
  formatVersion: number;
  /** The raw `__metadata__`. */
  metadata: SafetensorsMetadata;
}

/** What restoreCheckpoint restores into; each part is optional. */
export interface RestoreTargets {
  model?: CheckpointModel;
  optimizer?: CheckpointOptimizer;
  scheduler?: CheckpointScheduler;
  /** The generator to set to the saved state; default the default generator, null to leave every generator alone. */
  generator?: Generator | null;
}

let cachedVersion: string | null = null;

/**
 * The version of the tensorslim package (from its package.json), or 'unknown'.
 *
 * @example
 * tensorslimVersion();  // '0.1.0'
 */
export function tensorslimVersion(): string {
  if (cachedVersion !== null) return cachedVersion;
  cachedVersion = 'unknown';
  // src/io or dist/io: walk up to the package root.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tensorslim' && typeof pkg.version === 'string') { cachedVersion = pkg.version; break; }
    } catch { /* keep walking */ }
    dir = dirname(dir);
  }
  return cachedVersion;
}

function fail(op: string, message: string): never {
  throw new TensorslimError(op, message);
}

/** JSON.stringify that refuses what JSON cannot carry exactly (NaN, Infinity, undefined in arrays, ...). */
function toJson(op: string, what: string, value: unknown): string {
  const check = (v: unknown, path: string): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) fail(op, `${path} is ${v}, which JSON cannot store; only finite numbers can be saved`);
      return;
    }
    if (Array.isArray(v)) { v.forEach((x, i) => check(x, `${path}[${i}]`)); return; }
    if (typeof v === 'object' && !(v instanceof Tensor)) {
      for (const [k, x] of Object.entries(v)) if (x !== undefined) check(x, `${path}.${k}`);
      return;
    }
    fail(op, `${path} is ${v instanceof Tensor ? 'a Tensor' : typeof v}, which cannot be stored as JSON`);
  };
  check(value, what);
  return JSON.stringify(value);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkRngState(op: string, s: unknown): asserts s is GeneratorState {
  const ok = isObject(s) && Array.isArray(s['s']) && s['s'].length === 4
    && s['s'].every((x) => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 0xffffffff)
    && (s['s'] as number[]).some((x) => x !== 0)
    && (s['spare'] === null || (typeof s['spare'] === 'number' && Number.isFinite(s['spare'])));
  if (!ok) fail(op, `rngState must be Generator.getState() ({s: [4 uint32, not all 0], spare: number | null}), got ${JSON.stringify(s)}`);
}

/**
 * The type stored for an optimizer or scheduler: its `typeName` (tensorslim's optimizers and
 * schedulers fix it per class), else, for a duck-typed object of the user's, its class name.
 */
function typeName(o: object): string {
  const t = (o as { typeName?: unknown }).typeName;
  if (typeof t === 'string' && t.length > 0) return t;
  return o.constructor?.name || 'Object';
}

function isCheckpointModel(m: unknown): m is CheckpointModel {
  return isObject(m) && typeof m['stateDict'] === 'function' && typeof m['loadStateDict'] === 'function';
}

/**
 * The tensors and metadata of a checkpoint, as written by saveCheckpoint (no file I/O).
 *
 * @example
 * const bytes = serializeCheckpoint({ model, optimizer: opt, step: 100, epoch: 1, config: model.config, rngState: defaultGenerator.getState() });
 */
export function serializeCheckpoint(input: CheckpointInput): Uint8Array {
  const op = 'saveCheckpoint';
  if (!isObject(input)) fail(op, 'expected {model, optimizer?, scheduler?, step, epoch, config, rngState, extra?}');
  const { model, optimizer, scheduler, step, epoch, config, rngState, extra } = input;
  if (!isCount(step)) fail(op, `step must be a non-negative integer, got ${String(step)}`);
  if (!isCount(epoch)) fail(op, `epoch must be a non-negative integer, got ${String(epoch)}`);
  checkRngState(op, rngState);
  if (config === undefined) fail(op, "config is required: pass the model's config (model.config for presets), or null for a model built by hand");
  if (config !== null) {
    try { validateConfig(config); } catch (e) { fail(op, `config is not a valid model config: ${(e as Error).message}`); }
  }
  if (extra !== undefined && !isObject(extra)) fail(op, 'extra must be a JSON object');

  let modelState: ReadonlyMap<string, Tensor>;
  if (model instanceof Map) modelState = model;
  else if (isCheckpointModel(model)) modelState = model.stateDict();
  else fail(op, 'model must be a Module (anything with stateDict()) or a Map of tensors');
  const tensors = new Map<string, Tensor>(modelState);

  const metadata: SafetensorsMetadata = {
    [K.format]: 'pt',
    [K.formatVersion]: String(CHECKPOINT_FORMAT_VERSION),
    [K.version]: tensorslimVersion(),
    [K.step]: String(step),
    [K.epoch]: String(epoch),
    [K.config]: toJson(op, 'config', config),
    [K.rngState]: toJson(op, 'rngState', { s: [...rngState.s], spare: rngState.spare }),
  };
  if (optimizer !== undefined) {
    const clash = [...modelState.keys()].find((k) => k.startsWith('optimizer.'));
    if (clash !== undefined) fail(op, `model key '${clash}' would collide with the optimizer's tensors (prefix 'optimizer.'); rename the submodule or save the optimizer separately`);
    const sd = optimizer.stateDict();
    const scalars: Record<string, Record<string, number>> = {};
    for (const [index, state] of Object.entries(sd.state)) {
      for (const [name, v] of Object.entries(state)) {
        if (v instanceof Tensor) {
          if (name.includes('.')) fail(op, `optimizer state name '${name}' must not contain '.'`);
          tensors.set(`${OPTIMIZER_TENSOR_PREFIX}${index}.${name}`, v);
        } else {
          (scalars[index] ??= {})[name] = v;
        }
      }
    }
    metadata[K.optimizer] = toJson(op, 'optimizer', { type: typeName(optimizer), paramGroups: sd.paramGroups, state: scalars });
  }
  if (scheduler !== undefined) {
    metadata[K.scheduler] = toJson(op, 'scheduler', { type: typeName(scheduler), state: scheduler.stateDict() });
  }
  metadata[K.extra] = toJson(op, 'extra', extra ?? {});
  return serializeSafetensors(tensors, metadata);
}

/**
 * Save a training checkpoint (weights, optimizer and scheduler state, step, epoch, model config,
 * RNG state) as a safetensors file, atomically: the previous file stays intact until the new one
 * is complete. Returns the bytes written. See the layout at the top of src/io/checkpoint_file.ts.
 *
 * @example
 * saveCheckpoint('run/ckpt.safetensors', {
 *   model, optimizer: opt, scheduler: sched, step, epoch,
 *   config: model.config, rngState: defaultGenerator.getState(), extra: { bestAccuracy: 0.97 },
 * });
 */
export function saveCheckpoint(path: string, input: CheckpointInput): number {
  const bytes = serializeCheckpoint(input);
  writeFileAtomic(path, bytes, 'saveCheckpoint');
  return bytes.length;
}

/**
 * Read a checkpoint from safetensors bytes, checking every part.
 *
 * @example
 * const ckpt = parseCheckpoint(readFileSync('ckpt.safetensors'));
 */
export function parseCheckpoint(bytes: Uint8Array, opts: { op?: string } = {}): Checkpoint {
  const op = opts.op ?? 'loadCheckpoint';
  const { tensors, metadata } = parseSafetensors(bytes, { op });
  const fv = metadata[K.formatVersion];
  if (fv === undefined) {
    fail(op, `not a tensorslim checkpoint (its metadata has no '${K.formatVersion}'); to load plain weights use loadSafetensors(path) and model.loadStateDict(tensors)`);
  }
  const formatVersion = Number(fv);
  if (!Number.isInteger(formatVersion) || formatVersion < 1) fail(op, `metadata '${K.formatVersion}' is '${fv}', expected a positive integer`);
  if (formatVersion > CHECKPOINT_FORMAT_VERSION) {
    fail(op, `checkpoint format version ${formatVersion} is newer than this tensorslim reads (${CHECKPOINT_FORMAT_VERSION}); upgrade tensorslim`);
  }
  const json = (key: string, required: boolean): unknown => {
    const s = metadata[key];
    if (s === undefined) {
      if (required) fail(op, `checkpoint metadata lacks '${key}'; the file is damaged or was not written by saveCheckpoint`);
      return undefined;
    }
    try { return JSON.parse(s) as unknown; } catch (e) { fail(op, `metadata '${key}' is not valid JSON (${(e as Error).message})`); }
  };

  const step = json(K.step, true);
  if (!isCount(step)) fail(op, `metadata '${K.step}' must be a non-negative integer, got ${metadata[K.step]}`);
  const epoch = json(K.epoch, true);
  if (!isCount(epoch)) fail(op, `metadata '${K.epoch}' must be a non-negative integer, got ${metadata[K.epoch]}`);
  const rngState = json(K.rngState, true);
  checkRngState(op, rngState);
  const config = json(K.config, true);
  if (config !== null) {
    try { validateConfig(config); } catch (e) { fail(op, `metadata '${K.config}' is not a valid model config: ${(e as Error).message}`); }
  }
  const extra = json(K.extra, false) ?? {};
  if (!isObject(extra)) fail(op, `metadata '${K.extra}' must be a JSON object`);

  const model = new Map<string, Tensor>();
  let optimizer: Checkpoint['optimizer'] = null;
  const optMeta = json(K.optimizer, false);
  if (optMeta !== undefined) {
    const bad: (why: string) => never = (why) => fail(op, `metadata '${K.optimizer}' is malformed: ${why}`);
    if (!isObject(optMeta) || typeof optMeta['type'] !== 'string') bad('expected {type, paramGroups, state}');
    const groups = optMeta['paramGroups'];
    if (!Array.isArray(groups) || !groups.every((g) => isObject(g) && Array.isArray(g['params']) && g['params'].every(isCount))) {
      bad('paramGroups must be a list of {params: [indices], ...hyper-parameters}');
    }
    const scalars = optMeta['state'];
    if (!isObject(scalars)) bad('state must be an object');
    const state: Record<number, ParamState> = {};
    for (const [index, s] of Object.entries(scalars)) {
      if (!/^\d+$/.test(index) || !isObject(s)) bad(`state['${index}'] must be keyed by a parameter index and hold an object`);
      for (const [name, v] of Object.entries(s)) if (typeof v !== 'number') bad(`state['${index}'].${name} must be a number`);
      state[Number(index)] = { ...(s as Record<string, number>) };
    }
    const pattern = /^optimizer\.state\.(\d+)\.([^.]+)$/;
    for (const [key, t] of tensors) {
      const m = pattern.exec(key);
      if (m === null) { model.set(key, t); continue; }
      const slot = (state[Number(m[1])] ??= {});
      slot[m[2]!] = t;
    }
    optimizer = { type: optMeta['type'] as string, stateDict: { state, paramGroups: groups as PackedParamGroup[] } };
  } else {
    for (const [key, t] of tensors) model.set(key, t);
  }

  let scheduler: Checkpoint['scheduler'] = null;
  const schedMeta = json(K.scheduler, false);
  if (schedMeta !== undefined) {
    if (!isObject(schedMeta) || typeof schedMeta['type'] !== 'string' || !isObject(schedMeta['state'])) {
      fail(op, `metadata '${K.scheduler}' is malformed: expected {type, state}`);
    }
    // JSON object -> SchedulerStateDict: its fields are checked by the scheduler's loadStateDict, which names the fault
    scheduler = { type: schedMeta['type'] as string, stateDict: schedMeta['state'] as unknown as SchedulerStateDict };
  }

  return {
    model, optimizer, scheduler, step, epoch,
    config: config as ModelConfig | null,
    rngState: { s: [rngState.s[0], rngState.s[1], rngState.s[2], rngState.s[3]], spare: rngState.spare },
    extra: extra as JsonObject,
    tensorslimVersion: metadata[K.version] ?? 'unknown',
    formatVersion,
    metadata,
  };
}

/**
 * Load a checkpoint written by saveCheckpoint. Nothing is restored yet: pass the result to
 * restoreCheckpoint (or use its parts).
 *
 * @example
 * const ckpt = loadCheckpoint('run/ckpt.safetensors');
 * console.log(ckpt.step, ckpt.epoch, ckpt.config?.preset);
 */
export function loadCheckpoint(path: string): Checkpoint {
  return parseCheckpoint(readFileBytes(path, 'loadCheckpoint'), { op: `loadCheckpoint('${path}')` });
}

/**
 * Restore a checkpoint into a model, optimizer, scheduler and generator (each optional; the
 * generator defaults to the default generator). The objects must be built like the saved ones
 * (same architecture, same optimizer and scheduler classes over the same parameters). All or
 * nothing: if any part fails, the parts already restored are rolled back and the error is thrown.
 *
 * @example
 * const ckpt = loadCheckpoint('run/ckpt.safetensors');
 * const model = modelFromConfig(ckpt.config!);
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 * restoreCheckpoint(ckpt, { model, optimizer: opt });
 * let step = ckpt.step;  // continue training from here
 */
export function restoreCheckpoint(ckpt: Checkpoint, targets: RestoreTargets, opts: { strict?: boolean } = {}): void {
  const op = 'restoreCheckpoint';
  const { model, optimizer, scheduler } = targets;
  const generator = targets.generator === undefined ? defaultGenerator : targets.generator;
  if (optimizer !== undefined) {
    if (ckpt.optimizer === null) fail(op, 'the checkpoint has no optimizer state (it was saved without an optimizer); leave out the optimizer or start it fresh');
    if (typeName(optimizer) !== ckpt.optimizer.type) fail(op, `the checkpoint holds ${ckpt.optimizer.type} state, but the optimizer is ${typeName(optimizer)}; build a ${ckpt.optimizer.type}`);
  }
  if (scheduler !== undefined) {
    if (ckpt.scheduler === null) fail(op, 'the checkpoint has no scheduler state; leave out the scheduler or start it fresh');
    if (typeName(scheduler) !== ckpt.scheduler.type) fail(op, `the checkpoint holds ${ckpt.scheduler.type} state, but the scheduler is ${typeName(scheduler)}; build a ${ckpt.scheduler.type}`);
  }
  const undo: Array<() => void> = [];
  try {
    if (model !== undefined) {
      const before = new Map([...model.stateDict()].map(([k, t]) => [k, new Tensor(t.dataSync(), t.dtype, t.shape)] as const));
      model.loadStateDict(ckpt.model, { strict: opts.strict ?? true });
      undo.push(() => model.loadStateDict(before, { strict: false }));
    }
    if (optimizer !== undefined) {
      const before = optimizer.stateDict();
      optimizer.loadStateDict(ckpt.optimizer!.stateDict);
      undo.push(() => optimizer.loadStateDict(before));
    }
    if (scheduler !== undefined) {
      const before = scheduler.stateDict();
      scheduler.loadStateDict(ckpt.scheduler!.stateDict);
      undo.push(() => scheduler.loadStateDict(before));
    }
    if (generator !== null) generator.setState(ckpt.rngState);
  } catch (e) {
    for (const u of undo.reverse()) u();
    throw e;
  }
}

/**
 * Rebuild a preset model from a checkpoint's config and load its weights.
 *
 * @example
 * const model = modelFromCheckpoint(loadCheckpoint('mlp.safetensors'));
 * model.eval();
 */
export function modelFromCheckpoint(ckpt: Checkpoint): PresetModel {
  if (ckpt.config === null) {
    fail('modelFromCheckpoint', 'the checkpoint has no model config (the model was built by hand); build the model yourself and call restoreCheckpoint(ckpt, { model })');
  }
  checkDeclaredSize(ckpt.config, ckpt.model);   // before allocating the model
  const model = modelFromConfig(ckpt.config);
  model.loadStateDict(ckpt.model);
  return model;
}
