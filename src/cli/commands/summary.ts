// `tensorslim summary`: layers, parameters, bytes, FLOPs per sample and sparsity of a checkpoint
// (or of a fresh preset, given its name). Image classifiers are summarized for one image; GPT
// language models for one sequence of a full context (blockSize int32 token ids), with FLOPs per
// token beside.

import { existsSync } from 'node:fs';
import { createAnyModel, isGptModel, listModels, summarizeModel, type AnyPresetModel } from '../../models/index.js';
import { fileBytes, loadCheckpoint } from '../../io/index.js';
import { anyModelFromCheckpoint, isOnnxPath, loadModelFile, warnNonFinite } from '../runtime.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { emitJson, fmtBytes, fmtCount, fmtInt, fmtPct, formatTable } from '../output.js';

const FLAGS = { ...JSON_FLAG } as const satisfies FlagSpecs;

/** `tensorslim summary <checkpoint|preset>`. @example await main(['summary', 'mlp'], ctx) */
export const summaryCommand: Command = {
  name: 'summary',
  summary: 'layers, parameters, bytes, FLOPs per sample, sparsity per layer',
  usage: `Usage: tensorslim summary <checkpoint|preset> [--json]

Print each layer of a checkpoint's model (or of a fresh preset, e.g. 'mlp'): output shape,
parameters, bytes, FLOPs per sample (a multiply-add with a non-zero weight counts 2) and sparsity
(fraction of zero weights; masked weights of a pruned model count as zero). A pruned CSR layer is
one row, SparseLinear(in -> out), with its dense parameter count, sparsity and sparse FLOPs. A GPT (gpt-tiny, gpt-small, or a
checkpoint of train --model gpt-*) is summarized for one sequence of its full context: FLOPs of the
forward pass per sequence and per token, causal attention included (a tied embedding / LM-head
matrix counts once in the totals).

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
      const ckpt = isOnnxPath(target) ? null : loadCheckpoint(target);
      model = ckpt === null ? loadModelFile(target, { command: 'summary' }) : anyModelFromCheckpoint(ckpt);
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
    const s = summarizeModel(model, inputShape, gpt ? { dtype: 'int32' } : {});
    const lm = gpt ? { contextLength: gpt.blockSize, flopsPerToken: s.flops / gpt.blockSize, tiedEmbedding: gpt.tieWeights } : {};
    if (flags.json) {
      emitJson(ctx, { command: 'summary', target, preset: c.preset ?? c.arch, config: c, ...s, ...lm, fileBytes: file, fileHasOptimizerState: withOptimizer });
      return 0;
    }
    ctx.out(gpt
      ? `${target}: ${c.preset ?? c.arch}, token ids (${gpt.blockSize}) -> logits (${s.outputShape.join(', ')}); ${gpt.nLayer} layers, width ${gpt.nEmbd}, ${gpt.nHead} heads, vocabulary ${gpt.vocabSize}`
      : `${target}: ${c.preset ?? c.arch}, input (${inputShape.join(', ')}) -> (${s.outputShape.join(', ')})`);
    ctx.out(formatTable(
      [{ header: 'layer' }, { header: 'type' }, { header: 'output' }, { header: 'params', align: 'right' }, { header: 'bytes', align: 'right' }, { header: 'FLOPs', align: 'right' }, { header: 'sparsity', align: 'right' }],
      [
        ...s.layers.map((l) => [l.name, l.type, `(${l.outputShape.join(', ')})`, l.params ? fmtInt(l.params) : '-', l.bytes ? fmtBytes(l.bytes) : '-', l.flops ? fmtCount(l.flops) : '-', l.params ? fmtPct(l.sparsity, 1) : '-']),
        ['total', '', '', fmtInt(s.params), fmtBytes(s.bytes), fmtCount(s.flops), fmtPct(s.sparsity, 1)],
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
