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
// so keys line up). This file builds modules only: no training, no files.

import type { Tensor } from '../core/tensor.js';
import { TensorslimError } from '../core/errors.js';
import * as ops from '../ops/index.js';
import { Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential, type TensorModule } from '../nn/index.js';

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

/** Everything needed to rebuild a preset model (stored in checkpoints), plus the preset's name. */
export type ModelConfig = (MlpConfig | Lenet5Config) & { readonly preset?: string };

/** Fields a caller may override when creating a preset. */
export type ModelOverrides = Partial<Omit<MlpConfig, 'arch'>> & Partial<Omit<Lenet5Config, 'arch'>>;

/** A preset: its name, a one-line description and its default config. */
export interface ModelPreset {
  readonly name: string;
  readonly description: string;
  readonly config: ModelConfig;
}

const MNIST_MLP = { arch: 'mlp', inFeatures: 784, numClasses: 10, dropout: 0, inputDropout: 0 } as const;

const PRESETS: readonly ModelPreset[] = [
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
 * The presets, in display order.
 *
 * @example
 * listModels().map((p) => p.name);  // ['mlp', 'mlp-large', 'mlp-small', 'mlp-tiny', 'lenet5']
 */
export function listModels(): ModelPreset[] {
  return PRESETS.map((p) => ({ ...p, config: cloneConfig(p.config) }));
}

/**
 * The config of preset `name` with `overrides` applied (validated). Throws for an unknown name,
 * listing the known ones.
 *
 * @example
 * presetConfig('mlp', { hidden: [500, 150] }).hidden;  // [500, 150]
 */
export function presetConfig(name: string, overrides: ModelOverrides = {}): ModelConfig {
  const p = PRESETS.find((q) => q.name === name);
  if (p === undefined) {
    throw new TensorslimError('createModel', `unknown model preset '${name}'; presets: ${PRESETS.map((q) => q.name).join(', ')}`);
  }
  const allowed = new Set(Object.keys(p.config).filter((k) => k !== 'arch' && k !== 'preset'));
  for (const k of Object.keys(overrides)) {
    if (!allowed.has(k)) throw new TensorslimError('createModel', `preset '${name}' has no setting '${k}'; settings: ${[...allowed].join(', ')}`);
  }
  const config = { ...cloneConfig(p.config), ...cloneConfig(overrides as ModelConfig) } as ModelConfig;
  validateConfig(config);
  return config;
}

/**
 * Build preset `name` (optionally with some settings overridden). Parameters are initialized from
 * the default generator, so `manualSeed(s)` first makes the weights repeat.
 *
 * @example
 * manualSeed(0);
 * const net = createModel('mlp');
 * net.numParameters();  // 266610
 * net.config.preset;    // 'mlp'
 */
export function createModel(name: string, overrides: ModelOverrides = {}): PresetModel {
  return new PresetModel(presetConfig(name, overrides));
}

/**
 * Rebuild a model from a config (as stored in a checkpoint's metadata). Validates the config first.
 *
 * @example
 * const again = modelFromConfig(JSON.parse(JSON.stringify(net.config)));
 * again.loadStateDict(net.stateDict());
 */
export function modelFromConfig(config: ModelConfig): PresetModel {
  validateConfig(config);
  return new PresetModel(cloneConfig(config));
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
  throw new TensorslimError(op, `unknown arch ${JSON.stringify(o['arch'])}; expected 'mlp' or 'lenet5'`);
}

function cloneConfig<T>(c: T): T { return JSON.parse(JSON.stringify(c)) as T; }
