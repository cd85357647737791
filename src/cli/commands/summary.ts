// `tensorslim summary`: layers, parameters, bytes, FLOPs per sample and sparsity of a checkpoint
// (or of a fresh preset, given its name). Image classifiers are summarized for one image; GPT
// language models for one sequence of a full context (blockSize int32 token ids), with FLOPs per
// token beside.

import { existsSync } from 'node:fs';
import { createAnyModel, isGptModel, listModels, summarizeModel, type AnyPresetModel } from '../../models/index.js';
import { fileBytes } from '../../io/index.js';
import { gptConfigOf } from '../../train/lm.js';
import { anyModelFromCheckpoint, importedFromCheckpoint, loadCheckpointOrHfGpt2, isImportedFileModel, isOnnxPath, isTfjsPath, loadModelOrGraph, quantizedModelFromFile, warnNonFinite, type ImportedFileModel } from '../runtime.js';
import { OnnxGraph } from '../../io/onnx/index.js';
import { ELEM } from '../../io/onnx/proto.js';
import { quant } from '../../compress/index.js';
import type { ModelSummary } from '../../models/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type CliContext, type Command } from '../command.js';
import { emitJson, fmtBytes, fmtCount, fmtInt, fmtPct, formatTable } from '../output.js';

const FLAGS = { ...JSON_FLAG } as const satisfies FlagSpecs;

/** `tensorslim summary <checkpoint|preset>`. @example await main(['summary', 'mlp'], ctx) */
export const summaryCommand: Command = {
  name: 'summary',
  summary: 'layers, parameters, bytes, FLOPs per sample, sparsity per layer',
  usage: `Usage: tensorslim summary <checkpoint|preset> [--json]

Print each layer of a checkpoint's model (or of a fresh preset, e.g. 'mlp'): output shape,
parameters, bytes, FLOPs per sample (a multiply-add with a non-zero weight counts 2) and sparsity
(fraction of zero weights; masked weights of a pruned model count as zero). A quantized checkpoint
(tensorslim quantize --out) shows its int8 layers with their int8 bytes (1 per weight, 4 per
scale and bias, 4 per zero point of an affine weight), how the file stores each weight and the per-channel weight scales
(and, for static layers, the input/output activation scale and zero point). A pruned CSR layer is
one row, SparseLinear(in -> out), with its dense parameter count, sparsity and sparse FLOPs. A GPT (gpt-tiny, gpt-small, or a
checkpoint of train --model gpt-*) is summarized for one sequence of its full context: FLOPs of the
forward pass per sequence and per token, causal attention included (a tied embedding / LM-head
matrix counts once in the totals). An .onnx file of a preset's layout is summarized as that preset;
any other graph importOnnx reads, or a TF.js layers model (model.json), is summarized over its
declared input (symbolic dims as 1): its layers' rows (ops it evaluates, such as Add or Softmax,
have no row and no FLOPs), JSON preset 'onnx' or 'tfjs', config null and an 'imported' object
(format, opset, input and output names, declared input shape).

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim summary mlp.safetensors
  tensorslim summary lenet5 --json
  tensorslim summary gpt.safetensors`,
  async run(argv, ctx) {
    const { flags, positionals } = parseArgs('summary', argv, FLAGS, { names: ['checkpoint|preset'], min: 1 });
    const target = positionals[0]!;
    let model: AnyPresetModel;
    let file: number | null = null;
    let withOptimizer = false;
    if (existsSync(target)) {
      const read = isOnnxPath(target) || isTfjsPath(target) ? null : loadCheckpointOrHfGpt2(target);   // a Hugging Face GPT-2 file too
      const ckpt = read?.ckpt ?? null;
      const loaded = read?.hf ?? (ckpt === null ? loadModelOrGraph(target, { command: 'summary' })
        : importedFromCheckpoint(ckpt, target) ?? (quant.isQuantizedCheckpoint(ckpt) && gptConfigOf(ckpt) !== null ? quant.loadQuantizedGpt(target).model
          : quantizedModelFromFile(ckpt, target) ?? anyModelFromCheckpoint(ckpt)));
      if (isImportedFileModel(loaded)) return summarizeOnnx(ctx, loaded, flags.json);
      model = loaded;
      warnNonFinite(ctx, 'summary', model, target);
      withOptimizer = ckpt !== null && ckpt.optimizer !== null;
      file = fileBytes(target);
    } else if (listModels().some((m) => m.name === target)) {
      model = createAnyModel(target);
    } else {
      throw new UsageError('summary', `'${target}' is neither a file nor a preset (${listModels().map((m) => m.name).join(', ')})`);
    }
    const c = model.config;
    const gpt = isGptModel(model) ? model.config : null;
    const inputShape = gpt ? [gpt.blockSize] : c.arch === 'mlp' ? [c.inFeatures] : c.arch === 'lenet5' ? [...c.inputShape] : [];
    const int8 = quant.quantizedLayerStats(model);
    const floatWeights = model.namedParameters().filter(([k]) => k === 'weight' || k.endsWith('.weight')).reduce((a, [, p]) => a + p.size, 0);
    const s = withInt8Layers(summarizeModel(model, inputShape, gpt ? { dtype: 'int32' } : {}), int8, floatWeights);
    const scales = new Map(int8.map((l) => [l.name, fmtScales(l)]));
    const lm = gpt ? { contextLength: gpt.blockSize, flopsPerToken: s.flops / gpt.blockSize, tiedEmbedding: gpt.tieWeights } : {};
    if (flags.json) {
      emitJson(ctx, { command: 'summary', target, preset: c.preset ?? c.arch, config: c, ...s, ...lm, fileBytes: file, fileHasOptimizerState: withOptimizer, int8Layers: int8 });
      return 0;
    }
    ctx.out(gpt
      ? `${target}: ${c.preset ?? c.arch}, token ids (${gpt.blockSize}) -> logits (${s.outputShape.join(', ')}); ${gpt.nLayer} layers, width ${gpt.nEmbd}, ${gpt.nHead} heads, vocabulary ${gpt.vocabSize}`
      : `${target}: ${c.preset ?? c.arch}, input (${inputShape.join(', ')}) -> (${s.outputShape.join(', ')})`);
    const q = int8.length > 0;   // quantized: a column with each int8 layer's storage and scales
    ctx.out(formatTable(
      [{ header: 'layer' }, { header: 'type' }, { header: 'output' }, { header: 'params', align: 'right' }, { header: 'bytes', align: 'right' }, { header: 'FLOPs', align: 'right' }, { header: 'sparsity', align: 'right' },
        ...(q ? [{ header: 'int8 storage, scales' }] : [])],
      [
        ...s.layers.map((l) => [l.name, l.type, `(${l.outputShape.join(', ')})`, l.params ? fmtInt(l.params) : '-', l.bytes ? fmtBytes(l.bytes) : '-', l.flops ? fmtCount(l.flops) : '-', l.params ? fmtPct(l.sparsity, 1) : '-',
          ...(q ? [scales.get(l.name) ?? ''] : [])]),
        ['total', '', '', fmtInt(s.params), fmtBytes(s.bytes), fmtCount(s.flops), fmtPct(s.sparsity, 1), ...(q ? [''] : [])],
      ],
    ));
    const disk = file !== null ? `, ${fmtBytes(file)} on disk${withOptimizer ? ' (with optimizer state for --resume)' : ''}` : '';
    if (gpt) {
      ctx.out(`${fmtInt(s.params)} parameters${gpt.tieWeights ? ' (lm_head tied to transformer.wte, counted once)' : ''}, ${fmtBytes(s.bytes)}, `
        + `${fmtInt(s.flops)} FLOPs per ${gpt.blockSize}-token sequence = ${fmtInt(Math.round(s.flops / gpt.blockSize))} FLOPs per token (forward)${disk}`);
    } else {
      ctx.out(`${fmtInt(s.params)} parameters (${fmtInt(s.nonzeroParams)} non-zero), ${fmtInt(s.flops)} FLOPs per sample${disk}`);
    }
    return 0;
  },
};

/** `summary` of an ONNX graph that is not a preset: per-layer table from one pass over its declared input (symbolic dims as 1). */
function summarizeOnnx(ctx: CliContext, m: ImportedFileModel, json: boolean): number {
  const g = m.model instanceof OnnxGraph ? m.model : null;
  const elem = g?.inputs[0]?.elem ?? ELEM.FLOAT;
  const inputShape = m.imported.inputShape.slice(1).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  warnNonFinite(ctx, 'summary', m.model, m.path);
  const s = summarizeModel(m.model, inputShape, elem === ELEM.INT32 || elem === ELEM.INT64 ? { dtype: 'int32' } : {});
  const file = fileBytes(m.path);
  if (json) {
    emitJson(ctx, { command: 'summary', target: m.path, preset: m.format, config: null, imported: { format: m.format, opset: m.imported.opset, input: m.imported.inputName, inputShape: m.imported.inputShape, output: m.imported.outputName, description: m.description }, ...s, fileBytes: file, fileHasOptimizerState: false, int8Layers: [] });
    return 0;
  }
  ctx.out(`${m.path}: ${m.description}, input ${m.imported.inputName} (${m.imported.inputShape.join(', ')}) -> ${m.imported.outputName} (${s.outputShape.join(', ')}) for a batch of 1`);
  ctx.out(formatTable(
    [{ header: 'layer' }, { header: 'type' }, { header: 'output' }, { header: 'params', align: 'right' }, { header: 'bytes', align: 'right' }, { header: 'FLOPs', align: 'right' }, { header: 'sparsity', align: 'right' }],
    [
      ...s.layers.map((l) => [l.name, l.type, `(${l.outputShape.join(', ')})`, l.params ? fmtInt(l.params) : '-', l.bytes ? fmtBytes(l.bytes) : '-', l.flops ? fmtCount(l.flops) : '-', l.params ? fmtPct(l.sparsity, 1) : '-']),
      ['total', '', '', fmtInt(s.params), fmtBytes(s.bytes), fmtCount(s.flops), fmtPct(s.sparsity, 1)],
    ],
  ));
  ctx.out(`${fmtInt(s.params)} parameters (${fmtInt(s.nonzeroParams)} non-zero), ${fmtInt(s.flops)} FLOPs in its layers per sample (evaluated ops not counted), ${fmtBytes(file)} on disk`);
  return 0;
}

/** The summary with each int8 layer's row filled from its quantized weight (the layers hold no Parameters). */
function withInt8Layers(s: ModelSummary, int8: quant.QuantizedLayerStats[], floatWeightCount: number): ModelSummary {
  if (int8.length === 0) return s;
  const byName = new Map(int8.map((l) => [l.name, l]));
  let { params, nonzeroParams, bytes, flops } = s;
  let zeros = 0, weights = 0;
  const layers = s.layers.map((l) => {
    const q = byName.get(l.name);
    if (q === undefined) return l;
    // Linear: 2 per non-zero weight + 1 per bias, per sample; Conv2d: the same at every output position
    const positions = l.outputShape.length === 3 ? l.outputShape[1]! * l.outputShape[2]! : 1;
    const bias = q.params - q.weights;
    const f = positions * (2 * q.nonzeroWeights + bias);
    params += q.params; nonzeroParams += q.nonzeroWeights + bias; bytes += q.bytes - l.bytes; flops += f - l.flops;
    zeros += q.weights - q.nonzeroWeights; weights += q.weights;
    return { ...l, type: q.type, params: q.params, zeros: q.weights - q.nonzeroWeights, sparsity: 1 - q.nonzeroWeights / Math.max(1, q.weights), bytes: q.bytes, flops: f };
  });
  // model sparsity over all weights: the float layers' (s.sparsity is over their weights) plus the int8 ones
  const floatWeights = floatWeightCount;
  const sparsity = (s.sparsity * floatWeights + zeros) / Math.max(1, floatWeights + weights);
  return { ...s, layers, params, nonzeroParams, bytes, flops, sparsity };
}

/** 'int8 coded; w 1.2e-3..4.1e-3; in 0.0123/0 out 0.0456/128'. */
function fmtScales(l: quant.QuantizedLayerStats): string {
  const e = (x: number): string => x.toExponential(1);
  const act = l.input && l.output ? `; in ${e(l.input.scale)}/${l.input.zeroPoint} out ${e(l.output.scale)}/${l.output.zeroPoint}` : '';
  return `${l.storage}; w ${e(l.weightScale[0])}..${e(l.weightScale[1])}${act}`;
}
