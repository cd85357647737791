// `tensorslim quantize`: quantize a trained image classifier (dense, or pruned with CSR layers) to
// int8, dynamically, statically (calibrated) or with quantization-aware training, optionally with
// k-means weight sharing, and report float vs int8 test accuracy, size on disk and latency. The
// workflow is quant.runQuantize (src/compress/quant/run.ts); the file is
// quant.saveQuantizedCheckpoint. This file checks flags, calls them and prints the comparison.

import { existsSync } from 'node:fs';
import { quant } from '../../compress/index.js';
import { defaultGenerator } from '../../core/random.js';
import { fileBytes, loadCheckpoint, serializeCheckpoint, writeFileAtomic } from '../../io/index.js';
import type { PresetModel } from '../../models/index.js';
import { evaluateLm, gptConfigOf, loadGptCheckpoint, loadLmData } from '../../train/lm.js';
import { loadImageData, measureLatency } from '../../train/index.js';
import { formatFlags, THREADS_JSON_FLAGS, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { emitJson, fmtBytes, fmtInt, fmtLatency, fmtPct, fmtSeconds, formatTable, humanWriter } from '../output.js';
import { applyRuntimeFlags, checkpointHasGraph, fitImageData, isImportedFileModel, isOnnxPath, isTfjsPath, loadModelOrGraph, modelFromAnyCheckpoint, warnNonFinite, type ImportedFileModel } from '../runtime.js';
import { OnnxGraph, serializeOnnx } from '../../io/onnx/index.js';
import type { AnyModule } from '../../nn/index.js';
import * as ops from '../../ops/index.js';
import { checkOutputFile } from '../paths.js';
import { progressCallback } from '../train_progress.js';

const FLAGS = {
  model: { type: 'string', help: 'checkpoint of the trained float model (train --out), dense or pruned (prune --out); or an .onnx classifier or TF.js model.json (any graph: written as a QDQ .onnx)', metavar: 'FILE' },
  dataset: { type: 'string', help: 'mnist, fashion-mnist, or a directory of IDX files (calibration, QAT, test)', metavar: 'NAME|PATH' },
  data: { type: 'string', help: "folder overriding the dataset's default location", metavar: 'DIR' },
  mode: { type: 'string', help: 'dynamic (int8 weights, activations per batch; Linear only), static (calibrated int8 in/out; Linear and Conv2d), qat (quantization-aware fine-tuning, then static int8), weight-only (GPT: int8 / grouped int4 weights, float activations)', choices: [...quant.QUANT_MODES, 'weight-only'], default: 'static' },
  observer: { type: 'string', help: 'static: activation range observer', choices: quant.QUANT_OBSERVERS, default: 'histogram' },
  'calibration-batches': { type: 'int', help: 'static/qat: training batches the observers see before conversion', min: 0, default: 32, metavar: 'N' },
  bits: { type: 'int', help: 'weight bits: 8, or 4 with --mode weight-only (grouped int4)', default: 8, metavar: 'N' },
  'group-size': { type: 'int', help: 'weight-only: input columns per scale (default: per output channel for 8 bits, 128 for 4 bits)', min: 2, metavar: 'N' },
  scheme: { type: 'string', help: 'weight-only: symmetric (zero point fixed) or affine (an integer zero point per group)', choices: ['symmetric', 'affine'], default: 'symmetric' },
  dtype: { type: 'string', help: 'weight-only: storage of the weights that stay float (embeddings, LayerNorm, tied LM head): f32 or bf16', choices: ['f32', 'bf16'], default: 'f32' },
  embeddings: { type: 'string', help: 'weight-only: quantized (token/position embeddings with the same bits and groups, dequantized on lookup; a tied LM head reads the same table, stored once) or float', choices: ['float', 'quantized'], default: 'float' },
  windows: { type: 'int', help: 'weight-only with --dataset: held-out windows for the float vs quantized perplexity', min: 1, default: 64, metavar: 'N' },
  epochs: { type: 'int', help: 'qat: fine-tuning epochs (the epoch with the best validation accuracy is kept)', min: 0, default: 1, metavar: 'N' },
  lr: { type: 'number', help: 'qat: learning rate (Adam)', min: 0, exclusiveMin: true, default: 0.0001, metavar: 'X' },
  'batch-size': { type: 'int', help: 'calibration / qat batch size', min: 1, default: 64, metavar: 'N' },
  'share-weights': { type: 'int', help: 'k-means weight sharing: clusters per layer (2-256); the file stores codebook + indices', min: 2, max: 256, metavar: 'K' },
  layers: { type: 'string', help: 'comma-separated module paths to quantize (default: every supported layer)', metavar: 'A,B' },
  'validation-fraction': { type: 'number', help: 'share of the training set held out for validation (QAT picks its epoch there)', min: 0, max: 0.5, exclusiveMin: true, default: 0.1, metavar: 'X' },
  'latency-batch': { type: 'int', help: 'batch size of the latency measurement', min: 1, default: 64, metavar: 'N' },
  seed: { type: 'int', help: 'seed of the calibration sample, validation split and QAT data order', min: 0, default: 0, metavar: 'N' },
  out: { type: 'string', help: 'write the quantized model here (atomically): a checkpoint (eval, summary and bench read it), or with .onnx a QDQ ONNX graph (ONNX Runtime and eval read it)', metavar: 'FILE' },
  ...THREADS_JSON_FLAGS,
} as const satisfies FlagSpecs;

/** `tensorslim quantize --model <checkpoint> --dataset <name> ...`. @example await main(['quantize', '--model', 'mlp.safetensors', '--dataset', 'mnist', '--mode', 'static', '--json'], ctx) */
export const quantizeCommand: Command = {
  name: 'quantize',
  summary: 'quantize a trained checkpoint to int8 (dynamic, static or QAT) and compare with float32',
  usage: `Usage: tensorslim quantize --model <checkpoint> --dataset <name|path> [options]

Quantize a trained image classifier to 8-bit integers with PyTorch's workflows and numerics
(torch.ao.quantization): --mode dynamic gives Linear and Conv2d layers int8 per-channel weights
and quantizes activations per batch (an imported graph: Linear only); static calibrates activation ranges on --calibration-batches training
batches (--observer) and runs Linear/Conv2d (fused with a following ReLU) int8 in, int8 out; qat
fine-tunes with fake quantization for --epochs, keeps the epoch with the best validation accuracy,
then converts as static. Decisions use a validation split held out of the training set (never the
test set). Reports float32 and int8 test accuracy, bytes on disk (float32 weights file vs int8
file) and latency per batch.

--mode weight-only takes a GPT checkpoint (train --model gpt-* --out): every Linear of the blocks
gets int8 per-channel (--bits 8) or grouped int4 (--bits 4 --group-size N) weights that the matmul
reads directly; the token/position embeddings and the tied LM head stay float (--dtype bf16 stores
them as bfloat16), or with --embeddings quantized get the same bits and groups (one table for the
embedding and the tied LM head). --dataset (a text corpus) is optional there: with it, float and quantized
perplexity, bits/byte and tokens/s on --windows held-out windows are reported. tensorslim generate
and eval read the output file.

A pruned checkpoint (prune --out, CSR layers) is quantized as its dense layers with their zeros,
and the file stores each pruned int8 weight coded (relative positions + values; Deep Compression);
--share-weights K also clusters each layer's weights into K shared values (codebook + indices).
The output file is a checkpoint: tensorslim eval, summary and bench --model read it. With
--out x.onnx it is a QDQ ONNX graph instead (QuantizeLinear/DequantizeLinear around Gemm/Conv,
int8 weights, opset >= 13), which ONNX Runtime runs and tensorslim eval reads back.

--model also takes an .onnx file or a TF.js model.json: a preset layout (mlp, lenet5) is quantized
as that preset; any other graph importOnnx or importTfjs reads is quantized as it is (its Linear
layers, and with static/qat its Conv layers too; the dataset reshaped to the input it declares) and
written as a QDQ .onnx (--out must end in .onnx; --share-weights does not apply). The report's
layer names are the graph's layers, each with the ONNX node it came from.

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim quantize --model mlp.safetensors --dataset fashion-mnist --mode static --out mlp-int8.safetensors
  tensorslim quantize --model lenet5.safetensors --dataset fashion-mnist --mode qat --epochs 2 --json
  tensorslim quantize --model mlp-90.safetensors --dataset fashion-mnist --mode static --share-weights 16 --out mlp-dc.safetensors
  tensorslim quantize --model gpt.safetensors --mode weight-only --bits 4 --group-size 64 --dataset sotu --out gpt-int4.safetensors
  tensorslim eval --model mlp-int8.safetensors --dataset fashion-mnist
  tensorslim quantize --model model.onnx --dataset mnist --mode static --out model.int8.onnx
  tensorslim eval --model model.int8.onnx --dataset mnist`,
  async run(argv, ctx) {
    const { flags } = parseArgs('quantize', argv, FLAGS);
    const usage = (msg: string): never => { throw new UsageError('quantize', msg); };
    if (flags.model === undefined) usage('missing --model <checkpoint> (a file written by tensorslim train --out or prune --out)');
    if (flags.mode === 'weight-only') return quantizeGpt(flags, argv, ctx);
    for (const f of ['--group-size', '--scheme', '--dtype', '--windows', '--embeddings']) if (argv.includes(f)) usage(`${f} is for --mode weight-only (GPT checkpoints)`);
    if (flags.dataset === undefined) usage('missing --dataset (mnist, fashion-mnist or a directory of IDX files)');
    if (flags.bits !== 8) usage(`--bits ${flags.bits}: image classifiers quantize to 8 bits (int8 kernels); 4-bit grouped weights are for --mode weight-only (GPT)`);
    const mode = flags.mode as quant.QuantModeName;
    if (mode !== 'static' && argv.includes('--observer')) usage(`--observer chooses the activation observer of --mode static; --mode ${mode} ${mode === 'dynamic' ? 'measures each batch at run time' : 'uses moving-average min-max fake quantizers'}`);
    if (mode !== 'qat' && (argv.includes('--epochs') || argv.includes('--lr'))) usage(`--epochs and --lr are for --mode qat (--mode ${mode} does not train)`);
    if (mode === 'dynamic' && argv.includes('--calibration-batches')) usage('--calibration-batches is for --mode static or qat; dynamic quantization measures each batch at run time');
    if (!existsSync(flags.model!)) usage(`--model ${flags.model}: no such file`);
    if (flags.out !== undefined) checkOutputFile('quantize', 'out', flags.out, [{ flag: '--model', path: flags.model! }]);
    const layers = flags.layers?.split(',').map((s) => s.trim()).filter((s) => s !== '');
    applyRuntimeFlags('quantize', { threads: flags.threads });
    const say = humanWriter(ctx, flags.json);
    const t0 = performance.now();

    const imported = isOnnxPath(flags.model!) || isTfjsPath(flags.model!);
    const outOnnx = flags.out !== undefined && isOnnxPath(flags.out);
    let loaded: PresetModel | ImportedFileModel;
    if (imported || checkpointHasGraph(flags.model!)) {
      try { loaded = loadModelOrGraph(flags.model!, { command: 'quantize' }) as PresetModel | ImportedFileModel; } catch (e) { throw new Error(`--model ${flags.model}: ${(e as Error).message}`); }
    } else {
      const ckpt = loadCheckpoint(flags.model!);
      if (quant.isQuantizedCheckpoint(ckpt)) throw new Error(`--model ${flags.model}: already quantized (int8); quantize its float checkpoint instead`);
      const gpt = gptConfigOf(ckpt);
      if (gpt !== null) {
        throw new Error(`--model ${flags.model} holds a GPT language model (${gpt.preset ?? 'gpt'}); quantize it with --mode weight-only [--bits 8|4] `
          + '(static and qat do not apply: attention, LayerNorm and GELU have no int8 kernels; dynamic is quant.quantizeDynamic(model) in code)');
      }
      try { loaded = modelFromAnyCheckpoint(ckpt, { command: 'quantize', path: flags.model! }); } catch (e) { throw new Error(`--model ${flags.model}: ${(e as Error).message}`); }
    }
    // an imported graph that is not a preset layout: quantized as it is and written as a QDQ .onnx
    const graph = isImportedFileModel(loaded) ? loaded : null;
    if (graph !== null && flags.out !== undefined && !outOnnx) {
      usage(`--out ${flags.out}: ${flags.model} is ${graph.description}, not a preset layout, so the quantized model is written as a QDQ ONNX graph: give --out <file>.onnx (tensorslim eval reads it back)`);
    }
    const qdq = graph !== null && graph.model instanceof OnnxGraph ? graph.model.steps.filter((st) => /^(Dynamic)?(Q|Deq)uantizeLinear$/.test(st.node.opType ?? '')).map((st) => st.node.name || st.node.opType) : [];
    if (qdq.length > 0) throw new Error(`--model ${flags.model}: already quantized (QDQ nodes ${qdq.slice(0, 3).join(', ')}${qdq.length > 3 ? ', ...' : ''}); quantize its float model instead`);
    const asOnnx = graph !== null || outOnnx;
    if (asOnnx && flags['share-weights'] !== undefined) usage(`--share-weights stores a codebook per layer, which only tensorslim checkpoints hold; a QDQ .onnx stores int8 weights: drop --share-weights${graph === null ? ' or write a .safetensors --out' : ''}`);
    const model: AnyModule = graph?.model ?? (loaded as PresetModel);
    const preset = graph?.description ?? (loaded as PresetModel).config.preset ?? (loaded as PresetModel).config.arch;
    warnNonFinite(ctx, 'quantize', model, flags.model!);
    const rawData = loadImageData(flags.dataset!, flags.data);
    const data = graph === null ? rawData : fitImageData(rawData, graph, 'quantize');
    const densified = quant.densifySparseLayers(model);
    const inputBytes = fileBytes(flags.model!);
    const inputShape = graph !== null ? [...data.info.inputShape] : presetInputShape(loaded as PresetModel);
    // QDQ needs DequantizeLinear with an axis (opset 13); an imported graph keeps its own opset when newer
    const opset = Math.max(13, model instanceof OnnxGraph ? model.opset : 17);
    const onnxBytes = (m: AnyModule): Uint8Array => {
      try { return serializeOnnx(m, ops.zeros([1, ...inputShape]), { opset }).bytes; } catch (e) { throw new Error(`--model ${flags.model}: the quantized model cannot be written as ONNX: ${(e as Error).message}`); }
    };
    const floatBytes = asOnnx ? onnxBytes(model).length
      : serializeCheckpoint({ model: model as PresetModel, step: 0, epoch: 0, config: (model as PresetModel).config, rngState: defaultGenerator.getState() }).length;
    const latencyOf = (m: AnyModule): number => measureLatency(m, { inputShape, batch: flags['latency-batch'], iterations: 20, maxSeconds: 0.5, dataset: data.test }).secondsPerBatch;
    const floatLatency = latencyOf(model);
    say(`quantize ${preset} (${flags.model}${densified > 0 ? `, ${densified} CSR layers densified` : ''}) on ${data.info.name}: ${mode}`
      + `${mode === 'static' ? ` (${flags.observer} observer, ${flags['calibration-batches']} calibration batches of ${flags['batch-size']})` : ''}`
      + `${mode === 'qat' ? ` (${flags.epochs} epochs, adam lr ${flags.lr})` : ''}${flags['share-weights'] !== undefined ? `, weight sharing ${flags['share-weights']} clusters` : ''}`);
    let r: quant.RunQuantizeResult<AnyModule>;
    try {
      r = await quant.runQuantize<AnyModule>({
      model, data, mode, observer: flags.observer as 'minmax' | 'histogram' | 'entropy',
      // a preset's convolutions run int8 too (torch's dynamic Conv2d); an imported graph keeps Linear only
      dynamicTypes: graph === null ? ['Linear', 'Conv2d'] : ['Linear'],
      calibrationBatches: flags['calibration-batches'], batchSize: flags['batch-size'], epochs: flags.epochs, lr: flags.lr, seed: flags.seed,
      validationFraction: flags['validation-fraction'],
      ...(layers !== undefined ? { layers } : {}),
      ...(flags['share-weights'] !== undefined ? { shareWeights: flags['share-weights'] } : {}),
      progress: (label) => progressCallback(ctx, say, label),
      onEpoch: (e, acc) => say(`qat epoch ${e}: validation accuracy ${fmtPct(acc)} (fake-quantized)`),
      });
    } catch (e) { throw graph !== null ? new Error(`--model ${flags.model} (${graph.description}): ${(e as Error).message}`) : e; }
    const extra = { mode, observer: mode === 'static' ? flags.observer! : null, sharedClusters: flags['share-weights'] ?? null, source: flags.model! };
    const bytes = asOnnx ? onnxBytes(r.model) : quant.serializeQuantizedCheckpoint(r.model as PresetModel, extra);
    const nodeOf = (name: string): string | null => (model instanceof OnnxGraph ? model.steps.find((st) => st.module === name)?.node.name ?? null : null);
    if (flags.out !== undefined) writeFileAtomic(flags.out, bytes, 'quantize');
    const int8Latency = latencyOf(r.model);
    const seconds = (performance.now() - t0) / 1000;
    const result = {
      command: 'quantize', model: flags.model, preset, dataset: data.info.name, mode, format: asOnnx ? `onnx (QDQ, opset ${opset})` : 'checkpoint',
      observer: mode === 'static' ? flags.observer : null, bits: 8,
      testAccuracy: r.test.accuracy, floatTestAccuracy: r.floatTest.accuracy, accuracyDrop: r.floatTest.accuracy - r.test.accuracy,
      testLoss: r.test.loss, floatTestLoss: r.floatTest.loss,
      validationAccuracy: r.validation.accuracy, floatValidationAccuracy: r.floatValidation.accuracy,
      bytesOnDisk: bytes.length, floatBytesOnDisk: floatBytes, inputBytesOnDisk: inputBytes, compression: floatBytes / bytes.length,
      latencyMs: int8Latency * 1000, floatLatencyMs: floatLatency * 1000, latencyBatch: flags['latency-batch'],
      quantizedLayers: r.quantizedLayers.map((l) => ({ ...l, node: nodeOf(l.name) })), floatLayers: r.floatLayers, densifiedLayers: densified,
      calibrationSamples: r.calibrationSamples, bestEpoch: r.bestEpoch, sharing: r.sharing,
      layers: quant.quantizedLayerStats(r.model).map((l) => ({ name: l.name, type: l.type, storage: l.storage, nonzeroWeights: l.nonzeroWeights, weights: l.weights })),
      out: flags.out ?? null, seconds,
    };
    if (flags.json) { emitJson(ctx, result); return 0; }
    ctx.out('');
    ctx.out(formatTable(
      [{ header: 'model' }, { header: 'size on disk', align: 'right' }, { header: 'test acc', align: 'right' }, { header: `latency b=${flags['latency-batch']}`, align: 'right' }],
      [
        ['float32', fmtBytes(floatBytes), fmtPct(r.floatTest.accuracy), fmtLatency(floatLatency)],
        [`int8 ${mode}${flags['share-weights'] !== undefined ? ` + shared ${flags['share-weights']}` : ''}`, fmtBytes(bytes.length), fmtPct(r.test.accuracy), fmtLatency(int8Latency)],
      ],
    ));
    ctx.out(`int8 layers: ${r.quantizedLayers.map((l) => `${l.name} (${l.type})`).join(', ')}${r.floatLayers.length > 0 ? `; float32: ${r.floatLayers.join(', ')}` : ''}`);
    ctx.out(`${(floatBytes / bytes.length).toFixed(1)}x smaller than the float32 weights; accuracy ${fmtPct(r.test.accuracy)} vs float ${fmtPct(r.floatTest.accuracy)} `
      + `(${((r.test.accuracy - r.floatTest.accuracy) * 100).toFixed(2)} points); ${fmtInt(r.calibrationSamples)} calibration samples; ${fmtSeconds(seconds)}${flags.out ? `; wrote ${flags.out}` : ''}`);
    return 0;
  },
};

function presetInputShape(model: PresetModel): number[] {
  return model.config.arch === 'mlp' ? [model.config.inFeatures] : [...model.config.inputShape];
}

type QuantizeFlags = ReturnType<typeof parseArgs<typeof FLAGS>>['flags'];

/** `quantize --mode weight-only`: a GPT checkpoint to int8 / grouped int4 weights (see the usage text). */
async function quantizeGpt(flags: QuantizeFlags, argv: readonly string[], ctx: Parameters<Command['run']>[1]): Promise<number> {
  const usage = (msg: string): never => { throw new UsageError('quantize', msg); };
  if (flags.bits !== 8 && flags.bits !== 4) usage(`--bits ${flags.bits}: weight-only quantization stores 8 or 4 bits`);
  for (const f of ['--observer', '--calibration-batches', '--epochs', '--lr', '--share-weights', '--latency-batch']) if (argv.includes(f)) usage(`${f} does not apply to --mode weight-only`);
  if (!existsSync(flags.model!)) usage(`--model ${flags.model}: no such file`);
  if (isOnnxPath(flags.model!) || isTfjsPath(flags.model!)) usage(`--model ${flags.model}: --mode weight-only takes a GPT checkpoint (train --model gpt-* --out); an imported ONNX / TF.js graph quantizes with --mode dynamic, static or qat (written as a QDQ .onnx)`);
  if (flags.out !== undefined) checkOutputFile('quantize', 'out', flags.out, [{ flag: '--model', path: flags.model! }]);
  applyRuntimeFlags('quantize', { threads: flags.threads });
  const say = humanWriter(ctx, flags.json);
  const t0 = performance.now();
  const ckpt = loadCheckpoint(flags.model!);
  if (quant.isQuantizedCheckpoint(ckpt)) usage(`--model ${flags.model}: already quantized; quantize its float checkpoint instead`);
  if (gptConfigOf(ckpt) === null) usage(`--model ${flags.model}: --mode weight-only takes a GPT checkpoint (train --model gpt-tiny --out); image classifiers use --mode dynamic, static or qat`);
  const { model, config, tokenizer } = loadGptCheckpoint(ckpt);
  model.eval();
  const layers = flags.layers?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const data = flags.dataset !== undefined ? loadLmData(flags.dataset, tokenizer, config.blockSize) : null;
  const inputBytes = fileBytes(flags.model!);
  // the float32 weights file of this GPT (no optimizer state), what the quantized file replaces
  const floatBytes = serializeCheckpoint({ model, step: 0, epoch: 0, config: null, rngState: defaultGenerator.getState(), extra: { gpt: { ...config }, tokenizer } }).length;
  const before = data !== null ? evaluateLm(model, data, flags.windows) : null;
  const opts = { bits: flags.bits as 4 | 8, scheme: flags.scheme as quant.WeightOnlyScheme, ...(flags['group-size'] !== undefined ? { groupSize: flags['group-size'] } : {}), ...(layers !== undefined ? { layers } : {}), embeddings: flags.embeddings === 'quantized' };
  let swapped: string[];
  try { swapped = quant.quantizeWeightOnly(model, opts); } catch (e) { throw new Error(`--model ${flags.model}: ${(e as Error).message}`); }
  const groupSize = (model.getSubmodule(swapped[0]!) as quant.WeightOnlyLinear).weight.groupSize;
  say(`quantize ${config.preset ?? 'gpt'} (${flags.model}): weight-only int${flags.bits} ${flags.scheme}, ${flags.bits === 8 && flags['group-size'] === undefined ? 'per output channel' : `groups of ${groupSize}`}, ${swapped.length} layers${flags.embeddings === 'quantized' ? ' (embeddings and tied LM head included)' : ''}; float weights ${flags.dtype}`);
  const extra = { tokenizer, mode: 'weight-only', bits: flags.bits, groupSize, scheme: flags.scheme!, embeddings: flags.embeddings!, source: flags.model! };
  const bytes = quant.serializeQuantizedGpt(model, extra, { floatDType: flags.dtype === 'bf16' ? 'BF16' : 'F32' });
  if (flags.out !== undefined) writeFileAtomic(flags.out, bytes, 'quantize');
  // what the saved file computes (bf16 floats included)
  const after = data !== null ? evaluateLm(quant.loadQuantizedGpt(bytes).model, data, flags.windows) : null;
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    command: 'quantize', model: flags.model, preset: config.preset ?? 'gpt', mode: 'weight-only', bits: flags.bits,
    groupSize: flags.bits === 8 && flags['group-size'] === undefined ? null : groupSize, scheme: flags.scheme, floatDType: flags.dtype, embeddings: flags.embeddings,
    quantizedLayers: swapped, bytesOnDisk: bytes.length, floatBytesOnDisk: floatBytes, inputBytesOnDisk: inputBytes, compression: floatBytes / bytes.length,
    dataset: data?.info.name ?? null, windows: data !== null ? flags.windows : null,
    bitsPerByte: after?.bitsPerByte ?? null, floatBitsPerByte: before?.bitsPerByte ?? null,
    perplexity: after?.perplexity ?? null, floatPerplexity: before?.perplexity ?? null,
    bitsPerByteIncrease: before !== null && after !== null ? after.bitsPerByte / before.bitsPerByte - 1 : null,
    tokensPerSecond: after?.tokensPerSecond ?? null, floatTokensPerSecond: before?.tokensPerSecond ?? null,
    out: flags.out ?? null, seconds,
  };
  if (flags.json) { emitJson(ctx, result); return 0; }
  ctx.out('');
  if (before !== null && after !== null) {
    ctx.out(formatTable(
      [{ header: 'model' }, { header: 'size on disk', align: 'right' }, { header: 'bits/byte', align: 'right' }, { header: 'perplexity', align: 'right' }, { header: 'tokens/s (eval)', align: 'right' }],
      [
        ['float32', fmtBytes(floatBytes), before.bitsPerByte.toFixed(4), before.perplexity.toFixed(3), fmtInt(Math.round(before.tokensPerSecond))],
        [`int${flags.bits} weight-only`, fmtBytes(bytes.length), after.bitsPerByte.toFixed(4), after.perplexity.toFixed(3), fmtInt(Math.round(after.tokensPerSecond))],
      ],
    ));
  }
  ctx.out(`${(floatBytes / bytes.length).toFixed(1)}x smaller than the float32 weights (${fmtBytes(bytes.length)})${result.bitsPerByteIncrease !== null ? `; bits/byte ${result.bitsPerByteIncrease >= 0 ? '+' : ''}${(result.bitsPerByteIncrease * 100).toFixed(2)}%` : ''}; ${fmtSeconds(seconds)}${flags.out ? `; wrote ${flags.out}` : ''}`);
  return 0;
}
