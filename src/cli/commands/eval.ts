// `tensorslim eval`: accuracy and loss of a checkpoint on a dataset's test split.

import { existsSync } from 'node:fs';
import { createModel, denseParameterCount, listModels, type PresetModel } from '../../models/index.js';
import { prune, quant } from '../../compress/index.js';
import { loadCheckpoint, loadSafetensors } from '../../io/index.js';
import { evaluateOn, loadImageData } from '../../train/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { emitJson, fmtInt, fmtPct, fmtSeconds } from '../output.js';
import { applyRuntimeFlags, fitImageData, isImportedFileModel, isOnnxPath, isTfjsPath, loadModelOrGraph, modelFromAnyCheckpoint, quantizedModelFromFile, warnNonFinite } from '../runtime.js';
import type { AnyModule } from '../../nn/index.js';

const FLAGS = {
  model: { type: 'string', help: 'checkpoint to evaluate (written by train --out), an .onnx classifier (any graph: the dataset is reshaped to its input) or a TF.js model.json', metavar: 'FILE' },
  preset: { type: 'string', help: 'read --model as plain safetensors weights (e.g. saved from PyTorch) for this preset', choices: listModels({ task: 'image-classification' }).map((m) => m.name), metavar: 'PRESET' },
  dataset: { type: 'string', help: 'mnist, fashion-mnist, or a directory of IDX files', metavar: 'NAME|PATH' },
  data: { type: 'string', help: "folder overriding the dataset's default location", metavar: 'DIR' },
  'batch-size': { type: 'int', help: 'evaluation batch size', min: 1, default: 1000, metavar: 'N' },
  threads: { type: 'int', help: 'kernel threads (native backend)', min: 1, metavar: 'N' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

/** `tensorslim eval --model <checkpoint> --dataset <name>`. @example await main(['eval', '--model', 'mlp.safetensors', '--dataset', 'mnist'], ctx) */
export const evalCommand: Command = {
  name: 'eval',
  summary: "a checkpoint's test accuracy and loss on a dataset",
  usage: `Usage: tensorslim eval --model <checkpoint> --dataset <name|path> [options]

Rebuild the model stored in a checkpoint (its config is in the file) and evaluate it on the test
split of the dataset. A quantized checkpoint (tensorslim quantize --out) runs its int8 layers. An .onnx
model of another layout (or a TF.js layers model, model.json) than the presets is run as its graph, fed the dataset's images reshaped to the
per-sample shape its input declares (same number of values; its output must be (batch, classes)). With --preset, the file may be any safetensors file holding that preset's
state dict under PyTorch's keys (e.g. written from a torch.nn.Sequential); keys starting with
'optimizer.' are skipped.

Options:
${formatFlags(FLAGS)}

Example:
  tensorslim eval --model mlp.safetensors --dataset mnist --json
  tensorslim eval --model torch_mlp.safetensors --preset mlp --dataset fashion-mnist`,
  async run(argv, ctx) {
    const { flags } = parseArgs('eval', argv, FLAGS);
    if (flags.model === undefined) throw new UsageError('eval', 'missing --model <checkpoint> (a file written by tensorslim train --out)');
    if (flags.dataset === undefined) throw new UsageError('eval', 'missing --dataset (mnist, fashion-mnist or a directory of IDX files)');
    if (!existsSync(flags.model)) throw new UsageError('eval', `--model ${flags.model}: no such file (eval takes a checkpoint; to train a preset use tensorslim train)`);
    applyRuntimeFlags('eval', { threads: flags.threads });
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
      const m = quantizedModelFromFile(ckpt, flags.model) ?? modelFromAnyCheckpoint(ckpt, { command: 'eval', path: flags.model });
      model = m;
      name = m.config.preset ?? m.config.arch;
    }
    // int8 layers hold no Parameters: their weights and biases count from the quantized tensors
    const int8 = quant.quantizedLayerStats(model);
    warnNonFinite(ctx, 'eval', model, flags.model);
    data ??= loadImageData(flags.dataset, flags.data);
    const m = evaluateOn(model, data, flags['batch-size']);
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
