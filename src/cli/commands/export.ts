// `tensorslim export`: write a checkpoint's model (or a fresh preset) as an ONNX file that ONNX
// Runtime runs. The work is exportOnnx (src/io/onnx/export.ts); this file only parses flags, loads
// the model, picks a sample input of the right kind and prints what was written.

import { existsSync } from 'node:fs';
import * as ops from '../../ops/index.js';
import { createAnyModel, isGptModel, listModels, type AnyPresetModel } from '../../models/index.js';
import { exportOnnx, type ExportOnnxResult } from '../../io/onnx/index.js';
import { ELEM, MAX_OPSET, MIN_OPSET } from '../../io/onnx/proto.js';
import { anyModelFromCheckpoint, importedFromCheckpoint, loadCheckpointOrHfGpt2, isOnnxPath, isTfjsPath, quantizedModelFromFile } from '../runtime.js';
import { importTfjs } from '../../io/tfjs/index.js';
import { importOnnx, OnnxGraph } from '../../io/onnx/index.js';
import type { AnyModule } from '../../nn/index.js';
import type { Tensor } from '../../core/tensor.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type Command, type CliContext } from '../command.js';
import { emitJson, fmtBytes } from '../output.js';

/** Lowest opset of the int8 QDQ graphs (DequantizeLinear with a per-channel axis). */
const QDQ_MIN_OPSET = 13;

const FLAGS = {
  model: { type: 'string', metavar: 'PATH|PRESET', help: 'checkpoint to export (.safetensors, float or int8), an .onnx model (written again), a TF.js model.json, or a preset name for fresh weights' },
  format: { type: 'string', help: 'output format', choices: ['onnx'], default: 'onnx' },
  out: { type: 'string', metavar: 'PATH', help: 'file to write (e.g. model.onnx); written atomically' },
  opset: { type: 'int', metavar: 'N', help: `ONNX opset (${MIN_OPSET}-${MAX_OPSET}); Gelu is one op from 20, LayerNormalization from 17`, default: 17, min: MIN_OPSET, max: MAX_OPSET },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

/** `tensorslim export --model ck.safetensors --format onnx --out m.onnx`. @example await main(['export', '--model', 'mlp', '--out', 'mlp.onnx'], ctx) */
export const exportCommand: Command = {
  name: 'export',
  summary: 'write a model as ONNX for ONNX Runtime (dynamic batch, opset 11-21)',
  usage: `Usage: tensorslim export --model <checkpoint|preset> --out <file.onnx> [--format onnx] [--opset N] [--json]

Write the model of a checkpoint (dense, pruned, structured-shrunk or sparse; an image classifier or
a GPT) as an ONNX graph computing its eval-mode outputs. A quantized checkpoint (tensorslim quantize
--out: dynamic, static or qat int8) becomes a QDQ graph (int8 weights with per-channel scales,
QuantizeLinear/DequantizeLinear of the activations; opset >= 13) that ONNX Runtime runs with its
integer kernels. An .onnx model (imported, pruned or trained by tensorslim, or any graph importOnnx
reads) is written again node for node with its current weights, at its own opset unless --opset is
given, keeping its input and output names and declared dims. A TF.js layers model (model.json with
its weight shards) is written with its (N, H, W, C) input, as TF.js takes it. A Hugging Face GPT-2
safetensors file (Conv1D layout; n_head from its metadata or the config.json beside it) is written
as our GPT (input_ids -> logits). The batch dimension (and a GPT's sequence
length) is symbolic. Inputs: 'input' (float32 images (N, 1, 28, 28) or (N, 784) as the model reads
them) or 'input_ids' (int32 (N, T)); outputs: 'output' (logits) or 'logits'. Verified against
ONNX Runtime in test/io/onnx_export.test.ts.

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim export --model mlp.safetensors --out mlp.onnx
  tensorslim export --model gpt.safetensors --out gpt.onnx --opset 20 --json
  tensorslim export --model mlp-int8.safetensors --out mlp-int8.onnx
  tensorslim export --model model.pruned.onnx --out model.opset17.onnx --opset 17`,
  async run(argv, ctx) {
    const { flags } = parseArgs('export', argv, FLAGS);
    if (flags.model === undefined) throw new UsageError('export', 'missing --model <checkpoint|preset>');
    if (flags.out === undefined) throw new UsageError('export', 'missing --out <file.onnx>');
    const opsetGiven = argv.some((a) => a === '--opset' || a.startsWith('--opset='));
    let model: AnyPresetModel;
    if (existsSync(flags.model) && isOnnxPath(flags.model)) {
      // an .onnx model (imported, pruned, trained): written again node for node at its own opset unless --opset says otherwise
      const imp = importOnnx(flags.model);
      return report(ctx, flags, exportOnnx(imp.model, onnxSample(imp.model, imp.inputShape), flags.out, opsetGiven ? { opset: flags.opset } : {}));
    }
    if (existsSync(flags.model) && isTfjsPath(flags.model)) {
      // a TF.js layers model (model.json): its layers, taking TF.js's (N, H, W, C) images
      const t = importTfjs(flags.model);
      return report(ctx, flags, exportOnnx(t.model, ops.zeros([1, ...t.inputShape]), flags.out, { opset: flags.opset }));
    }
    if (existsSync(flags.model)) {
      const { ckpt, hf } = loadCheckpointOrHfGpt2(flags.model);   // a Hugging Face GPT-2 file becomes our GPT
      if (hf !== null) return report(ctx, flags, exportOnnx(hf, ops.zeros([1, Math.min(8, hf.config.blockSize)], { dtype: 'int32' }), flags.out, { opset: flags.opset }));
      const g = importedFromCheckpoint(ckpt!, flags.model);   // a checkpoint of an imported graph (train --out) carries it
      if (g !== null) return report(ctx, flags, exportOnnx(g.model, onnxSample(g.model, g.imported.inputShape), flags.out, opsetGiven ? { opset: flags.opset } : {}));
      const int8 = quantizedModelFromFile(ckpt, flags.model);
      if (int8 !== null && flags.opset < QDQ_MIN_OPSET) {
        throw new UsageError('export', `${flags.model} is a quantized (int8) checkpoint: its QDQ graph needs per-channel DequantizeLinear (axis), opset >= ${QDQ_MIN_OPSET}; pass --opset ${QDQ_MIN_OPSET} or more (got ${flags.opset})`);
      }
      model = int8 ?? anyModelFromCheckpoint(ckpt);
    }
    else if (listModels().some((m) => m.name === flags.model)) model = createAnyModel(flags.model);
    else throw new UsageError('export', `'${flags.model}' is neither a file nor a preset (${listModels().map((m) => m.name).join(', ')})`);
    let sample;
    if (isGptModel(model)) sample = ops.zeros([1, Math.min(8, model.config.blockSize)], { dtype: 'int32' });
    else {
      const c = model.config;
      sample = ops.zeros(c.arch === 'mlp' ? [1, c.inFeatures] : [1, ...c.inputShape]);
    }
    return report(ctx, flags, exportOnnx(model, sample, flags.out, { opset: flags.opset }));
  },
};

/** A batch of one zero sample of an imported model's declared input (symbolic dims as 1; token ids as int32). */
function onnxSample(model: AnyModule, declared: readonly (number | string)[]): Tensor {
  const dims = declared.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  dims[0] = 1;
  const elem = model instanceof OnnxGraph ? model.inputs[0]?.elem : ELEM.FLOAT;
  return ops.zeros(dims, { dtype: elem === ELEM.INT32 || elem === ELEM.INT64 ? 'int32' : 'float32' });
}

/** Print (or emit as JSON, last stdout line) what exportOnnx wrote. */
function report(ctx: CliContext, flags: { model?: string | undefined; out?: string | undefined; json: boolean }, r: ExportOnnxResult): number {
  if (flags.json) {
    emitJson(ctx, { command: 'export', model: flags.model, format: 'onnx', out: flags.out, bytes: r.bytes, opset: r.opset, inputs: r.inputs, outputs: r.outputs, ops: r.ops, initializers: r.initializers });
    return 0;
  }
  const io = (v: typeof r.inputs): string => v.map((x) => `${x.name} ${x.dtype} (${x.shape.join(', ')})`).join(', ');
  ctx.out(`${flags.out}: ONNX opset ${r.opset}, ${fmtBytes(r.bytes)}; input ${io(r.inputs)} -> output ${io(r.outputs)}`);
  ctx.out(`nodes: ${Object.entries(r.ops).map(([k, v]) => `${k} ${v}`).join(', ')}; ${r.initializers} initializers`);
  return 0;
}
