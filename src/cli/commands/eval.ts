// `tensorslim eval`: accuracy and loss of a checkpoint on a dataset's test split.

import { existsSync } from 'node:fs';
import { createModel, denseParameterCount, listModels, type PresetModel } from '../../models/index.js';
import { prune, quant } from '../../compress/index.js';
import { loadCheckpoint, loadSafetensors } from '../../io/index.js';
import { evaluateLm, evaluateOn, gptConfigOf, loadGptCheckpoint, loadImageData, loadLmData } from '../../train/index.js';
import { formatFlags, THREADS_JSON_FLAGS, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { emitJson, fmtInt, fmtPct, fmtSeconds } from '../output.js';
import { applyRuntimeFlags, fitImageData, importedFromCheckpoint, isImportedFileModel, isOnnxPath, isTfjsPath, loadCheckpointOrHfGpt2, loadModelOrGraph, modelFromAnyCheckpoint, quantizedModelFromFile, warnNonFinite } from '../runtime.js';
import type { AnyModule } from '../../nn/index.js';

const FLAGS = {
  model: { type: 'string', help: 'checkpoint to evaluate (written by train --out), an .onnx classifier (any graph: the dataset is reshaped to its input) or a TF.js model.json', metavar: 'FILE' },
  preset: { type: 'string', help: 'read --model as plain safetensors weights (e.g. saved from PyTorch) for this preset', choices: listModels({ task: 'image-classification' }).map((m) => m.name), metavar: 'PRESET' },
  dataset: { type: 'string', help: 'mnist, fashion-mnist, or a directory of IDX files', metavar: 'NAME|PATH' },
  data: { type: 'string', help: "folder overriding the dataset's default location", metavar: 'DIR' },
  'batch-size': { type: 'int', help: 'evaluation batch size (default 1000 images, 16 GPT windows)', min: 1, metavar: 'N' },
  windows: { type: 'int', help: 'GPT: evenly spaced held-out windows of the test text (0: all)', min: 0, default: 256, metavar: 'N' },
  ...THREADS_JSON_FLAGS,
} as const satisfies FlagSpecs;

/** `tensorslim eval --model <checkpoint> --dataset <name>`. @example await main(['eval', '--model', 'mlp.safetensors', '--dataset', 'mnist'], ctx) */
export const evalCommand: Command = {
  name: 'eval',
  summary: "a checkpoint's test accuracy and loss on a dataset",
  usage: `Usage: tensorslim eval --model <checkpoint> --dataset <name|path> [options]

Rebuild the model stored in a checkpoint (its config is in the file) and evaluate it on the test
split of the dataset. A quantized checkpoint (tensorslim quantize --out) runs its int8 layers. An .onnx
model of another layout (or a TF.js layers model, model.json) than the presets is run as its graph, fed the dataset's images reshaped to the
per-sample shape its input declares (same number of values; its output must be (batch, classes)). A GPT
checkpoint (float, quantize --mode weight-only, or a Hugging Face GPT-2 model.safetensors with its
config.json beside it) is evaluated on --windows held-out windows of a text corpus (--dataset sotu,
moby-dick or a text file): loss, bits/byte, perplexity and tokens/s. With --preset, the file may be any safetensors file holding that preset's
state dict under PyTorch's keys (e.g. written from a torch.nn.Sequential); keys starting with
'optimizer.' are skipped.

Options:
${formatFlags(FLAGS)}

Example:
  tensorslim eval --model mlp.safetensors --dataset mnist --json
  tensorslim eval --model torch_mlp.safetensors --preset mlp --dataset fashion-mnist
  tensorslim eval --model gpt-int4.safetensors --dataset sotu --windows 64`,
  async run(argv, ctx) {
    const { flags } = parseArgs('eval', argv, FLAGS);
    if (flags.model === undefined) throw new UsageError('eval', 'missing --model <checkpoint> (a file written by tensorslim train --out)');
    if (flags.dataset === undefined) throw new UsageError('eval', 'missing --dataset (mnist, fashion-mnist or a directory of IDX files)');
    if (!existsSync(flags.model)) throw new UsageError('eval', `--model ${flags.model}: no such file (eval takes a checkpoint; to train a preset use tensorslim train)`);
    applyRuntimeFlags('eval', { threads: flags.threads });
    if (flags.preset === undefined && !isOnnxPath(flags.model) && !isTfjsPath(flags.model)) {
      const loaded = loadCheckpointOrHfGpt2(flags.model);
      const ck = loaded.ckpt;
      if (loaded.hf !== null || gptConfigOf(ck!) !== null) {
        const g = loaded.hf !== null ? { model: loaded.hf, config: loaded.hf.config, tokenizer: 'gpt2' }
          : quant.isQuantizedCheckpoint(ck!) ? quant.loadQuantizedGpt(flags.model) : loadGptCheckpoint(ck!);
        g.model.eval();
        const data = loadLmData(flags.dataset, g.tokenizer, g.config.blockSize);
        const r = evaluateLm(g.model, data, flags.windows, flags['batch-size'] ?? 16);
        const wo = quant.quantizedLayerStats(g.model);
        const result = {
          command: 'eval', model: flags.model, preset: g.config.preset ?? (loaded.hf !== null ? 'hf-gpt2' : 'gpt'), dataset: data.info.name, windows: flags.windows,
          testLoss: r.loss, bitsPerByte: r.bitsPerByte, perplexity: r.perplexity, tokens: r.tokens, seconds: r.seconds, tokensPerSecond: r.tokensPerSecond,
          quantizedLayers: wo.map((l) => l.name), quantization: wo[0]?.type ?? null,
        };
        if (flags.json) emitJson(ctx, result);
        else ctx.out(`${flags.model} (${result.preset}${wo.length > 0 ? `, ${wo.length} ${wo[0]!.storage} layers` : ''}) on ${data.info.name} test (${fmtInt(r.tokens)} tokens): loss ${r.loss.toFixed(4)}  bits/byte ${r.bitsPerByte.toFixed(4)}  perplexity ${r.perplexity.toFixed(3)}  ${fmtInt(Math.round(r.tokensPerSecond))} tokens/s  ${fmtSeconds(r.seconds)}`);
        return 0;
      }
    }
    let model: AnyModule;
    let name: string;
    let data = null;
    if (flags.preset !== undefined) {
      const p = createModel(flags.preset);
      model = p;
      const { tensors } = loadSafetensors(flags.model);
      p.loadStateDict(new Map([...tensors].filter(([k]) => !k.startsWith('optimizer.'))));
      name = p.config.preset ?? p.config.arch;
    } else if (isOnnxPath(flags.model) || isTfjsPath(flags.model)) {
      // a preset layout becomes that preset; any other graph is fed the dataset reshaped to its declared input
      const loaded = loadModelOrGraph(flags.model, { command: 'eval' });
      if (isImportedFileModel(loaded)) {
        model = loaded.model;
        name = loaded.description;
        data = fitImageData(loadImageData(flags.dataset, flags.data), loaded, 'eval');
      } else { model = loaded; name = loaded.config.preset ?? loaded.config.arch; }
    } else {
      const ckpt = loadCheckpoint(flags.model);
      const g = importedFromCheckpoint(ckpt, flags.model);   // a checkpoint of an imported graph (train/distill --out) carries it
      if (g !== null) {
        model = g.model;
        name = g.description;
        data = fitImageData(loadImageData(flags.dataset, flags.data), g, 'eval');
      } else {
        const m = quantizedModelFromFile(ckpt, flags.model) ?? modelFromAnyCheckpoint(ckpt, { command: 'eval', path: flags.model });
        model = m;
        name = m.config.preset ?? m.config.arch;
      }
    }
    // int8 layers hold no Parameters: their weights and biases count from the quantized tensors
    const int8 = quant.quantizedLayerStats(model);
    warnNonFinite(ctx, 'eval', model, flags.model);
    data ??= loadImageData(flags.dataset, flags.data);
    const m = evaluateOn(model, data, flags['batch-size'] ?? 1000);
    const result = {
      command: 'eval', model: flags.model, preset: name, dataset: data.info.name,
      testAccuracy: m.accuracy, testLoss: m.loss, samples: m.samples, params: denseParameterCount(model) + int8.reduce((a, l) => a + l.params, 0),
      nonzeroParams: prune.countNonzeros(model) + int8.reduce((a, l) => a + l.nonzeroWeights + (l.params - l.weights), 0),
      int8Layers: int8.map((l) => l.name), seconds: m.seconds, samplesPerSecond: m.samplesPerSecond,
    };
    if (flags.json) emitJson(ctx, result);
    else ctx.out(`${flags.model} (${result.preset}${int8.length > 0 ? `, int8: ${int8.length} layers` : ''}, ${fmtInt(result.params)} params, ${fmtInt(result.nonzeroParams)} non-zero) on ${data.info.name} test (${fmtInt(m.samples)} samples): accuracy ${fmtPct(m.accuracy)}  loss ${m.loss.toFixed(4)}  ${fmtSeconds(m.seconds)}`);
    return 0;
  },
};
