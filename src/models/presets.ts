// Model presets by name (`mlp`, `mlp-large`, `mlp-small`, `mlp-tiny`, `lenet5`), each described by a
// plain JSON config so a checkpoint can rebuild the model exactly: modelFromConfig(config) builds the
// same architecture, and the state-dict keys are those of the equivalent torch.nn.Sequential:
//
//   mlp:    nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
//           keys 1.weight, 1.bias, 3.weight, 3.bias, 5.weight, 5.bias
//   lenet5: nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
//           nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
//           nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
//
// MLPs start with Flatten so they accept (N, 784) and (N, 1, 28, 28) alike; lenet5 starts with an
// image view that accepts both too (PyTorch's nn.Unflatten takes only the flat form; it has no state,
// so keys line up).
//
// The GPT language models of gpt.ts (`gpt-tiny`, `gpt-small`) are presets here too: listModels lists
// them (task 'language-modeling'), createModel('gpt-tiny') builds a GPT, modelFromConfig(gpt.config)
// rebuilds one. Types stay sound for the image-classifier callers written before GPT presets:
// ModelConfig / PresetModel are the image classifiers, AnyModelConfig / AnyPresetModel add the GPT,
// and the overloads pick the type from a literal name or a config's type. This file builds modules
// only: no training, no files.

import type { Tensor } from '../core/tensor.js';
import { TensorslimError } from '../core/errors.js';
import * as ops from '../ops/index.js';
import { Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, type TensorModule } from '../nn/index.js';
import { GPT, GPT_PRESETS, gptConfig, validateGptConfig, type GptConfig, type GptOverrides, type GptPresetName } from './gpt.js';

/** A multi-layer perceptron: Flatten, then Linear+ReLU(+Dropout) per hidden width, then a Linear head. */
export interface MlpConfig {
  readonly arch: 'mlp';
  /** Input features after flattening (784 for 28x28 images). */
  readonly inFeatures: number;
  /** Hidden widths, e.g. [300, 100]. May be empty (a linear classifier). */
  readonly hidden: readonly number[];
  /** Classes (outputs of the last Linear). */
  readonly numClasses: number;
  /** Dropout probability after each hidden ReLU (0 = no Dropout modules at all). */
  readonly dropout: number;
  /** Dropout probability on the input (0 = none), as in Hinton et al.'s dropout nets. */
  readonly inputDropout: number;
}

/** LeNet-5 style CNN: conv(k, pad 2) -> ReLU -> pool 2 -> conv(k) -> ReLU -> pool 2 -> FC layers. */
export interface Lenet5Config {
  readonly arch: 'lenet5';
  /** Input image (channels, height, width), e.g. [1, 28, 28]. */
  readonly inputShape: readonly [number, number, number];
  /** Output channels of the two convolutions, e.g. [6, 16]. */
  readonly channels: readonly [number, number];
  /** Kernel size of both convolutions (5). */
  readonly kernelSize: number;
  /** Widths of the hidden fully connected layers, e.g. [120, 84]. */
  readonly fc: readonly number[];
  readonly numClasses: number;
}

/** Everything needed to rebuild an image-classifier preset (stored in checkpoints), plus the preset's name. */
export type ModelConfig = (MlpConfig | Lenet5Config) & { readonly preset?: string };

/** Any preset's config: an image classifier's or a GPT's (`arch` tells them apart). */
export type AnyModelConfig = ModelConfig | GptConfig;

/** Any preset model: an image classifier (PresetModel, a Sequential) or a GPT language model. */
export type AnyPresetModel = PresetModel | GPT;

/** What a preset does: classify images (input (N, 784) or (N, 1, 28, 28)) or model text (int32 token ids (B, T)). */
export type ModelTask = 'image-classification' | 'language-modeling';

/** Names of the image-classifier presets. */
export type ClassifierPresetName = 'mlp' | 'mlp-large' | 'mlp-small' | 'mlp-tiny' | 'lenet5';

/** Every preset name. */
export type PresetName = ClassifierPresetName | GptPresetName;

/** Fields a caller may override when creating a preset. */
export type ModelOverrides = Partial<Omit<MlpConfig, 'arch'>> & Partial<Omit<Lenet5Config, 'arch'>>;

/** A preset: its name, a one-line description, its task and its default config. */
export interface ModelPreset {
  readonly name: string;
  readonly description: string;
  readonly task: ModelTask;
  readonly config: AnyModelConfig;
}

/** An image-classifier preset, as listModels({ task: 'image-classification' }) lists it. */
export interface ClassifierModelPreset extends ModelPreset {
  readonly name: ClassifierPresetName;
  readonly task: 'image-classification';
  readonly config: ModelConfig;
}

/** A GPT preset, as listModels({ task: 'language-modeling' }) lists it. */
export interface GptModelPreset extends ModelPreset {
  readonly name: GptPresetName;
  readonly task: 'language-modeling';
  readonly config: GptConfig;
}

/** An image-classifier preset (internal table). */
interface ClassifierPreset {
  readonly name: ClassifierPresetName;
  readonly description: string;
  readonly config: ModelConfig;
}

const MNIST_MLP = { arch: 'mlp', inFeatures: 784, numClasses: 10, dropout: 0, inputDropout: 0 } as const;

const PRESETS: readonly ClassifierPreset[] = [
  { name: 'mlp', description: 'LeNet-300-100: 784-300-100-10 MLP, ReLU (Han et al. 2015 pruning baseline)', config: { ...MNIST_MLP, hidden: [300, 100], preset: 'mlp' } },
  { name: 'mlp-large', description: '784-1200-1200-10 MLP with dropout 0.5, the Hinton et al. 2015 teacher', config: { ...MNIST_MLP, hidden: [1200, 1200], dropout: 0.5, preset: 'mlp-large' } },
  { name: 'mlp-small', description: '784-800-800-10 MLP, the Hinton et al. 2015 student', config: { ...MNIST_MLP, hidden: [800, 800], preset: 'mlp-small' } },
  { name: 'mlp-tiny', description: '784-64-10 MLP, a small distillation student', config: { ...MNIST_MLP, hidden: [64], preset: 'mlp-tiny' } },
  {
    name: 'lenet5',
    description: 'LeNet-5 CNN: conv 6@5x5 pad 2, pool, conv 16@5x5, pool, 120-84-10',
    config: { arch: 'lenet5', inputShape: [1, 28, 28], channels: [6, 16], kernelSize: 5, fc: [120, 84], numClasses: 10, preset: 'lenet5' },
  },
];

/**
 * The presets, in display order: the image classifiers, then the GPT language models. `task`
 * keeps only the presets of one task (what an image-only command should offer; the configs are
 * then typed ModelConfig, or GptConfig for 'language-modeling').
 *
 * @example
 * listModels().map((p) => p.name);  // ['mlp', 'mlp-large', 'mlp-small', 'mlp-tiny', 'lenet5', 'gpt-tiny', 'gpt-small']
 * listModels({ task: 'image-classification' }).length;  // 5
 */
export function listModels(opts: { task: 'image-classification' }): ClassifierModelPreset[];
export function listModels(opts: { task: 'language-modeling' }): GptModelPreset[];
export function listModels(opts?: { task?: ModelTask }): ModelPreset[];
export function listModels(opts: { task?: ModelTask } = {}): ModelPreset[] {
  const all: ModelPreset[] = [
    ...PRESETS.map((p) => ({ name: p.name, description: p.description, task: 'image-classification' as const, config: cloneConfig(p.config) })),
    ...GPT_PRESETS.map((p) => ({ name: p.name, description: p.description, task: 'language-modeling' as const, config: cloneConfig(p.config) })),
  ];
  if (opts.task !== undefined && opts.task !== 'image-classification' && opts.task !== 'language-modeling') {
    throw new TensorslimError('listModels', `task must be 'image-classification' or 'language-modeling', got ${JSON.stringify(opts.task)}`);
  }
  return opts.task === undefined ? all : all.filter((p) => p.task === opts.task);
}

/**
 * Whether `name` is a GPT (language-model) preset.
 * @example isGptPreset('gpt-tiny');  // true
 */
export function isGptPreset(name: string): name is GptPresetName {
  return GPT_PRESETS.some((p) => p.name === name);
}

/**
 * Whether a config (a preset's, or read back from a checkpoint) describes a GPT.
 * @example isGptConfig(createModel('gpt-tiny').config);  // true
 */
export function isGptConfig(c: AnyModelConfig): c is GptConfig {
  return c.arch === 'gpt';
}

/**
 * Whether a preset model is a GPT language model (token ids in, logits (B, T, V) out).
 * @example isGptModel(createAnyModel('gpt-tiny'));  // true
 */
export function isGptModel(m: AnyPresetModel): m is GPT {
  return m instanceof GPT;
}

/**
 * The task of a preset model or config.
 * @example modelTask(createModel('mlp'));  // 'image-classification'
 */
export function modelTask(m: AnyPresetModel | AnyModelConfig): ModelTask {
  const arch = m instanceof Module ? m.config.arch : m.arch;
  return arch === 'gpt' ? 'language-modeling' : 'image-classification';
}

function presetNames(): string { return [...PRESETS, ...GPT_PRESETS].map((q) => q.name).join(', '); }

/**
 * The config of preset `name` with `overrides` applied (validated). Throws for an unknown name,
 * listing the known ones. A GPT preset's config is a GptConfig (see gpt.ts).
 *
 * @example
 * presetConfig('mlp', { hidden: [500, 150] }).hidden;  // [500, 150]
 * presetConfig('gpt-tiny', { nLayer: 2 }).nLayer;       // 2
 */
export function presetConfig(name: GptPresetName, overrides?: GptOverrides): GptConfig;
export function presetConfig(name: ClassifierPresetName, overrides?: ModelOverrides): ModelConfig;
export function presetConfig(name: string, overrides?: ModelOverrides | GptOverrides): AnyModelConfig;
export function presetConfig(name: string, overrides: ModelOverrides | GptOverrides = {}): AnyModelConfig {
  if (isGptPreset(name)) {
    return gptConfig(name, overrides as GptOverrides);
  }
  const p = PRESETS.find((q) => q.name === name);
  if (p === undefined) {
    throw new TensorslimError('createModel', `unknown model preset '${name}'; presets: ${presetNames()}`);
  }
  const allowed = new Set(Object.keys(p.config).filter((k) => k !== 'arch' && k !== 'preset'));
  for (const k of Object.keys(overrides)) {
    if (!allowed.has(k)) throw new TensorslimError('createModel', `preset '${name}' has no setting '${k}'; settings: ${[...allowed].join(', ')}`);
  }
  const config = { ...cloneConfig(p.config), ...cloneConfig(overrides as ModelConfig) } as ModelConfig;
  validateConfig(config);
  // An override that changes the architecture (widths, inputs, classes) makes it a different model: drop
  // the preset's name so checkpoints, tables and resume checks do not call a 784-128-10 MLP 'mlp-tiny'.
  // the config union has no index signature; read it as a plain record to copy it key by key
  const base = p.config as unknown as Record<string, unknown>;
  const changed = Object.keys(overrides).some((k) => k !== 'dropout' && k !== 'inputDropout'
    && JSON.stringify((overrides as Record<string, unknown>)[k]) !== JSON.stringify(base[k]));
  if (changed) {
    const { preset: _dropped, ...rest } = config;
    return rest as ModelConfig;
  }
  return config;
}

/**
 * Build preset `name` (optionally with some settings overridden). Parameters are initialized from
 * the default generator, so `manualSeed(s)` first makes the weights repeat. A GPT preset name
 * ('gpt-tiny', 'gpt-small') builds a GPT (float32).
 *
 * Typing: a literal GPT name gives a GPT, a literal classifier name a PresetModel. A name typed
 * `string` is typed PresetModel, as before GPT presets existed, although a GPT name still builds a
 * GPT at run time: when the name comes from a user and a GPT is possible, use createAnyModel
 * (typed PresetModel | GPT) or check isGptPreset(name) first.
 *
 * @example
 * manualSeed(0);
 * const net = createModel('mlp');
 * net.numParameters();  // 266610
 * net.config.preset;    // 'mlp'
 * createModel('gpt-tiny').countParameters(false);  // 842496
 */
export function createModel(name: GptPresetName, overrides?: GptOverrides): GPT;
export function createModel(name: ClassifierPresetName, overrides?: ModelOverrides): PresetModel;
/** @deprecated for names that may be GPT presets: use createAnyModel (typed PresetModel | GPT) or check isGptPreset(name) first. */
export function createModel(name: string, overrides?: ModelOverrides): PresetModel;
export function createModel(name: string, overrides: ModelOverrides | GptOverrides = {}): AnyPresetModel {
  return createAnyModel(name, overrides);
}

/**
 * Build any preset by a name known only at run time: a PresetModel for an image classifier, a GPT
 * for a language model (tell them apart with isGptModel).
 *
 * @example
 * const m = createAnyModel(process.argv[2] ?? 'mlp');
 * if (isGptModel(m)) m.generate(prompt, 50); else m.call(images);
 */
export function createAnyModel(name: string, overrides: ModelOverrides | GptOverrides = {}): AnyPresetModel {
  const config = presetConfig(name, overrides);
  return isGptConfig(config) ? new GPT(config) : new PresetModel(config);
}

/**
 * Rebuild a model from a config (as stored in a checkpoint's metadata, or `model.config` of any
 * preset model, GPT included). Validates the config first. The result's type follows the config's:
 * a GptConfig gives a GPT, a ModelConfig a PresetModel.
 *
 * @example
 * const again = modelFromConfig(JSON.parse(JSON.stringify(net.config)));
 * again.loadStateDict(net.stateDict());
 * const gpt = modelFromConfig(createModel('gpt-tiny').config);   // a GPT
 */
export function modelFromConfig(config: GptConfig): GPT;
export function modelFromConfig(config: ModelConfig): PresetModel;
export function modelFromConfig(config: AnyModelConfig): AnyPresetModel;
export function modelFromConfig(config: AnyModelConfig): AnyPresetModel {
  validateAnyConfig(config);
  return isGptConfig(config) ? new GPT(cloneConfig(config)) : new PresetModel(cloneConfig(config));
}

/**
 * A Sequential built from a ModelConfig, carrying that config (`model.config`) so checkpoints can
 * store it. Its keys and behaviour are exactly those of the Sequential it extends.
 *
 * @example
 * const net = createModel('lenet5');
 * net.call(ops.zeros([2, 1, 28, 28])).shape;  // [2, 10]
 */
export class PresetModel extends Sequential {
  readonly config: ModelConfig;

  constructor(config: ModelConfig) {
    super(...buildLayers(config));
    this.config = Object.freeze(cloneConfig(config));
  }
}

function buildLayers(c: ModelConfig): TensorModule[] {
  if (c.arch === 'mlp') {
    const layers: TensorModule[] = [new Flatten()];
    if (c.inputDropout > 0) layers.push(new Dropout(c.inputDropout));
    let width = c.inFeatures;
    for (const h of c.hidden) {
      layers.push(new Linear(width, h), new ReLU());
      if (c.dropout > 0) layers.push(new Dropout(c.dropout));
      width = h;
    }
    layers.push(new Linear(width, c.numClasses));
    return layers;
  }
  const [inC, h, w] = c.inputShape;
  const k = c.kernelSize;
  const pad = Math.floor(k / 2);
  // conv1 keeps the size (padding k/2), pool halves it; conv2 (no padding) shrinks by k-1, pool halves.
  const h2 = Math.floor((Math.floor(h / 2) - k + 1) / 2);
  const w2 = Math.floor((Math.floor(w / 2) - k + 1) / 2);
  const layers: TensorModule[] = [
    new ImageView(c.inputShape),
    new Conv2d(inC, c.channels[0], k, { padding: pad }), new ReLU(), new MaxPool2d(2),
    new Conv2d(c.channels[0], c.channels[1], k), new ReLU(), new MaxPool2d(2),
    new Flatten(),
  ];
  let width = c.channels[1] * h2 * w2;
  for (const f of c.fc) { layers.push(new Linear(width, f), new ReLU()); width = f; }
  layers.push(new Linear(width, c.numClasses));
  return layers;
}

/**
 * Views a batch as images (N, C, H, W): flat (N, C*H*W) input is reshaped, 4-D input of that shape
 * passes through. No state (PyTorch's equivalent is nn.Unflatten(1, (C, H, W))).
 *
 * @example
 * new ImageView([1, 28, 28]).call(ops.zeros([8, 784])).shape;  // [8, 1, 28, 28]
 */
export class ImageView extends Module {
  readonly shape: readonly [number, number, number];
  constructor(shape: readonly [number, number, number]) {
    super();
    this.shape = [...shape] as [number, number, number];
  }

  forward(x: Tensor): Tensor {
    const [c, h, w] = this.shape;
    if (x.ndim === 4 && x.shape[1] === c && x.shape[2] === h && x.shape[3] === w) return x;
    if (x.ndim === 2 && x.shape[1] === c * h * w) return ops.reshape(x, [x.shape[0]!, c, h, w]);
    throw new TensorslimError('ImageView', `expected input (N, ${c * h * w}) or (N, ${c}, ${h}, ${w}), got (${x.shape.join(', ')})`);
  }

  override extraRepr(): string { return `shape=(${this.shape.join(', ')})`; }
}

function isPosInt(v: unknown): v is number { return typeof v === 'number' && Number.isInteger(v) && v > 0; }
function isProb(v: unknown): v is number { return typeof v === 'number' && v >= 0 && v < 1; }

/**
 * Check a config (from a preset with overrides, or read back from a checkpoint); throws a
 * TensorslimError naming the bad field.
 *
 * @example
 * validateConfig({ arch: 'mlp', inFeatures: 784, hidden: [300], numClasses: 10, dropout: 0, inputDropout: 0 });
 */
export function validateConfig(c: unknown): asserts c is ModelConfig {
  const op = 'modelConfig';
  if (c === null || typeof c !== 'object') throw new TensorslimError(op, `expected a config object, got ${c === null ? 'null' : typeof c}`);
  const o = c as Record<string, unknown>;
  if (o['preset'] !== undefined && typeof o['preset'] !== 'string') throw new TensorslimError(op, 'preset must be a string');
  if (o['arch'] === 'mlp') {
    if (!isPosInt(o['inFeatures'])) throw new TensorslimError(op, `inFeatures must be a positive integer, got ${JSON.stringify(o['inFeatures'])}`);
    if (!Array.isArray(o['hidden']) || !o['hidden'].every(isPosInt)) throw new TensorslimError(op, `hidden must be an array of positive integers, got ${JSON.stringify(o['hidden'])}`);
    if (!isPosInt(o['numClasses'])) throw new TensorslimError(op, `numClasses must be a positive integer, got ${JSON.stringify(o['numClasses'])}`);
    if (!isProb(o['dropout'])) throw new TensorslimError(op, `dropout must be in [0, 1), got ${JSON.stringify(o['dropout'])}`);
    if (!isProb(o['inputDropout'])) throw new TensorslimError(op, `inputDropout must be in [0, 1), got ${JSON.stringify(o['inputDropout'])}`);
    return;
  }
  if (o['arch'] === 'lenet5') {
    const s = o['inputShape'];
    if (!Array.isArray(s) || s.length !== 3 || !s.every(isPosInt)) throw new TensorslimError(op, `inputShape must be [channels, height, width], got ${JSON.stringify(s)}`);
    const ch = o['channels'];
    if (!Array.isArray(ch) || ch.length !== 2 || !ch.every(isPosInt)) throw new TensorslimError(op, `channels must be two positive integers, got ${JSON.stringify(ch)}`);
    const k = o['kernelSize'];
    if (!isPosInt(k) || k % 2 !== 1) throw new TensorslimError(op, `kernelSize must be an odd positive integer, got ${JSON.stringify(k)}`);
    const h2 = Math.floor((Math.floor((s[1] as number) / 2) - k + 1) / 2);
    const w2 = Math.floor((Math.floor((s[2] as number) / 2) - k + 1) / 2);
    if (h2 < 1 || w2 < 1) throw new TensorslimError(op, `input ${s[1]}x${s[2]} is too small for two ${k}x${k} convolutions with 2x2 pooling`);
    if (!Array.isArray(o['fc']) || !o['fc'].every(isPosInt)) throw new TensorslimError(op, `fc must be an array of positive integers, got ${JSON.stringify(o['fc'])}`);
    if (!isPosInt(o['numClasses'])) throw new TensorslimError(op, `numClasses must be a positive integer, got ${JSON.stringify(o['numClasses'])}`);
    return;
  }
  if (o['arch'] === 'gpt') {
    throw new TensorslimError(op, "arch 'gpt' is a GPT language model's config, not an image classifier's; check it with validateAnyConfig (or validateGptConfig) and build it with modelFromConfig");
  }
  throw new TensorslimError(op, `unknown arch ${JSON.stringify(o['arch'])}; expected 'mlp' or 'lenet5' (or 'gpt', through validateAnyConfig)`);
}

/**
 * Check any preset config, an image classifier's (validateConfig) or a GPT's (validateGptConfig);
 * throws a TensorslimError naming the bad field.
 *
 * @example
 * validateAnyConfig(createModel('gpt-tiny').config);
 * validateAnyConfig({ arch: 'gpt', nLayer: 2, nEmbd: 30, nHead: 4 });  // throws: vocabSize ... (or nHead does not divide nEmbd)
 */
export function validateAnyConfig(c: unknown): asserts c is AnyModelConfig {
  if (c !== null && typeof c === 'object' && (c as { arch?: unknown }).arch === 'gpt') {
    validateGptConfig(c);
    return;
  }
  validateConfig(c);
}

function cloneConfig<T>(c: T): T { return JSON.parse(JSON.stringify(c)) as T; }
