// Sizes a checkpoint declares, checked against what the file holds before anything is allocated: a
// config that says hidden [12000, 12000] next to 50,000 stored values must be refused at once, not
// after building a 1.3 GB model whose load then fails on the first shape. Pure arithmetic on the
// config (no module is built); it mirrors the layer shapes of models/presets.ts buildLayers.

import type { Tensor } from '../core/tensor.js';
import { TensorslimError } from '../core/errors.js';
import type { GptConfig, ModelConfig } from '../models/index.js';

/**
 * Parameters (weights and biases) of the image-classifier preset a config describes, computed
 * without building it. NaN for a config whose numbers are not positive integers.
 *
 * @example
 * configParameterCount({ arch: 'mlp', inFeatures: 784, hidden: [300, 100], numClasses: 10, dropout: 0, inputDropout: 0 });   // 266,610
 */
export function configParameterCount(c: ModelConfig): number {
  const linear = (i: number, o: number): number => i * o + o;
  let widths: number[];
  let count = 0;
  if (c.arch === 'mlp') widths = [c.inFeatures, ...c.hidden, c.numClasses];
  else {
    const [inC, h, w] = c.inputShape;
    const k = c.kernelSize;
    const h2 = Math.floor((Math.floor(h / 2) - k + 1) / 2);
    const w2 = Math.floor((Math.floor(w / 2) - k + 1) / 2);
    count += inC * c.channels[0] * k * k + c.channels[0] + c.channels[0] * c.channels[1] * k * k + c.channels[1];
    widths = [c.channels[1] * Math.max(0, h2) * Math.max(0, w2), ...c.fc, c.numClasses];
  }
  for (let i = 0; i + 1 < widths.length; i++) count += linear(widths[i]!, widths[i + 1]!);
  return count;
}

/**
 * Dense values a state dict stands for: every tensor's element count, where a CSR layer
 * (`<layer>.weight.values/crow_indices/col_indices/size`) counts as its dense `size`, and pruning
 * masks count too (a lower bound is all the check needs: a preset never has fewer values than this).
 */
function storedValues(tensors: ReadonlyMap<string, Tensor>): number {
  let n = 0;
  for (const [key, t] of tensors) {
    if (key.endsWith('.crow_indices') || key.endsWith('.col_indices') || key.endsWith('.values')) continue;
    if (key.endsWith('.weight.size')) {
      const d = t.contiguous().data;
      let p = 1;
      for (let i = 0; i < t.size; i++) p *= Number(d[t.contiguous().offset + i]);
      n += p;
    } else n += t.size;
  }
  return n;
}

/**
 * Refuse, before any allocation, a checkpoint whose config declares more parameters than the file
 * stores (a damaged or hand-edited config). Throws a TensorslimError naming both counts.
 *
 * @example
 * checkDeclaredSize(ckpt.config!, ckpt.model);   // throws for hidden [12000, 12000] with 50,890 stored values
 */
export function checkDeclaredSize(config: ModelConfig, tensors: ReadonlyMap<string, Tensor>, op = 'modelFromCheckpoint'): void {
  const declared = configParameterCount(config);
  const stored = storedValues(tensors);
  if (!(declared <= stored)) {
    const what = config.arch === 'mlp' ? `hidden [${config.hidden.join(', ')}]` : `fc [${config.fc.join(', ')}], channels [${config.channels.join(', ')}]`;
    throw new TensorslimError(op, `the checkpoint's config (${config.preset ?? config.arch}, ${what}) declares ${Number.isFinite(declared) ? declared.toLocaleString('en-US') : declared} parameters `
      + `but the file stores ${stored.toLocaleString('en-US')} values: the config does not match the weights (the file is damaged or its metadata was edited)`);
  }
}

/**
 * Values a GPT config needs at the least, without building it: the token and position embeddings
 * (vocabSize x nEmbd + blockSize x nEmbd) and, per block, the attention's four C x C projections and
 * the MLP's two C x 4C ones (12 C^2); biases, LayerNorms and an untied head only add to it. NaN for
 * numbers that are not positive integers.
 * @example gptValuesLowerBound({ nLayer: 4, nEmbd: 256, vocabSize: 256, blockSize: 128 })   // 3,211,264
 */
export function gptValuesLowerBound(c: Pick<GptConfig, 'nLayer' | 'nEmbd' | 'vocabSize' | 'blockSize'>): number {
  const ok = [c.nLayer, c.nEmbd, c.vocabSize, c.blockSize].every((v) => Number.isInteger(v) && v > 0);
  if (!ok) return NaN;
  return (c.vocabSize + c.blockSize) * c.nEmbd + c.nLayer * 12 * c.nEmbd * c.nEmbd;
}

/**
 * Refuse, before any allocation, a GPT checkpoint whose config declares more values than the file
 * stores (a config edited to nLayer 96, nEmbd 12288 beside a 3M-value file would otherwise build a
 * 175B-parameter model before the shapes disagree).
 * @example checkDeclaredGptSize(config, ckpt.model, 'loadGptCheckpoint');
 */
export function checkDeclaredGptSize(config: GptConfig, tensors: ReadonlyMap<string, Tensor>, op = 'loadGptCheckpoint'): void {
  const declared = gptValuesLowerBound(config);
  const stored = storedValues(tensors);
  if (!(declared <= stored)) {
    throw new TensorslimError(op, `the checkpoint's GPT config (${config.preset ?? 'gpt'}: ${config.nLayer} layers, width ${config.nEmbd}, vocabulary ${config.vocabSize}, context ${config.blockSize}) `
      + `needs at least ${Number.isFinite(declared) ? declared.toLocaleString('en-US') : declared} values but the file stores ${stored.toLocaleString('en-US')}: `
      + 'the config does not match the weights (the file is damaged or its metadata was edited)');
  }
}

