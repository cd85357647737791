// `tensorslim bench gemm|mlp|...|quant`: measure this machine. gemm reports GFLOP/s of an N x N x N float32
// product; mlp the median time of one training step of the 784-1200-1200-10 MLP (ReLU,
// cross-entropy, Adam, batch 128). The work is in src/bench; this file parses flags and prints.

import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs, type ParsedFlags } from '../args.js';
import { UsageError, type CliContext, type Command } from '../command.js';
import { emitJson, formatKeyValues } from '../output.js';
import { applyRuntimeFlags } from '../runtime.js';
import { benchCnn } from '../../bench/cnn.js';
import { benchElementwise, type ElementwiseBenchResult } from '../../bench/elementwise.js';
import { benchGemm } from '../../bench/gemm.js';
import { benchMlp } from '../../bench/mlp.js';
import { benchGpt, benchGptGenerate, type GptBenchPreset } from '../../bench/gpt.js';
import { benchSparse } from '../../bench/sparse.js';
import { benchQuant, benchQuantLenet5 } from '../../bench/quant.js';
import { benchSparseModel } from '../../bench/sparse_model.js';
import { benchInfer } from '../../bench/infer.js';
import { existsSync } from 'node:fs';
import { loadCheckpoint } from '../../io/index.js';
import { createAnyModel, listModels, type AnyPresetModel } from '../../models/index.js';
import { anyModelFromCheckpoint } from '../runtime.js';

const FLAGS = {
  size: { type: 'int', help: 'gemm: matrix size N (default 1024); elementwise: elements (default 2^24, plus 2^18 in cache); quant: Linear(N, N) (default 1024)', min: 1, metavar: 'N' },
  threads: { type: 'int', help: 'kernel threads (default: all available cores)', min: 1, metavar: 'N' },
  batch: { type: 'int', help: 'mlp, cnn: batch size (default 128); gpt: (default 16); quant: (default 32); infer, sparse: (default 1)', min: 1, metavar: 'N' },
  steps: { type: 'int', help: 'mlp, cnn: timed steps (default 30); gpt: (default 10); gemm, quant: timed repeats; infer: timed calls (default: about 2 s worth)', min: 1, metavar: 'N' },
  fused: { type: 'boolean', help: 'mlp: use the fused linear+ReLU and softmax cross-entropy ops' },
  checkpointing: { type: 'boolean', help: 'gpt: recompute block activations in backward (activation checkpointing)' },
  'no-step-scope': { type: 'boolean', help: 'gpt: run the steps without a step scope (tidy()), so activations die only by garbage collection (for comparison; the gpt2 preset runs without one already; npx tsx bench/gpt_memory_timeline.ts gpt2 3 --step-scope compares)' },
  'unfused-loss': { type: 'boolean', help: 'gpt: LM head then cross-entropy as two kernels (materialized logits) instead of GPT.loss\'s fused linearCrossEntropy (for comparison)' },
  preset: { type: 'string', help: 'gpt: small (4 layers, d_model 256, batch 16; default) or gpt2 (12 layers, d_model 768, 12 heads, context 256, vocabulary 50257, batch 4)', metavar: 'NAME' },
  generate: { type: 'int', help: 'gpt: time greedy generation of N new tokens with the key/value cache (batch 1 unless --batch) instead of a training step', min: 2, metavar: 'N' },
  prompt: { type: 'int', help: 'gpt --generate: prompt tokens (default 32)', min: 1, metavar: 'T' },
  sparsity: { type: 'number', help: 'sparse: fraction of the weights pruned (default 0.9)', min: 0, max: 1, metavar: 'X' },
  model: { type: 'string', help: 'sparse: time this preset pruned (e.g. mlp = LeNet-300-100) instead of one N x N Linear; infer: a preset or a checkpoint file (default mlp); quant: lenet5 times only LeNet-5 float32 vs static and dynamic int8', metavar: 'PRESET|FILE' },
  context: { type: 'int', help: 'infer, GPT models: tokens per sequence (default: the model\'s context length)', min: 1, metavar: 'T' },
  backend: { type: 'string', help: 'backend to measure (default: TENSORSLIM_BACKEND or the best available)', metavar: 'NAME' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

/** `bench sparse`: one pruned Linear (benchSparse) or a pruned preset (benchSparseModel), dense vs CSR. */
function benchSparseWorkload(ctx: CliContext, flags: ParsedFlags<typeof FLAGS>): number {
  const sparsity = flags.sparsity ?? 0.9, batch = flags.batch ?? 1;
  if (flags.model !== undefined) {
    ctx.err(`bench sparse: ${flags.model} with ${(sparsity * 100).toFixed(0)}% of each Linear weight pruned, batch ${batch} ...`);
    const r = benchSparseModel({ model: flags.model, sparsity, batch, ...(flags.steps !== undefined ? { repeats: flags.steps } : {}) });
    if (flags.json) { emitJson(ctx, { ...r }); return 0; }
    ctx.out(formatKeyValues([
      ['sparse', `${r.model} (${r.params.toLocaleString('en-US')} params, ${r.nonzeros.toLocaleString('en-US')} non-zero), batch ${r.batch}`],
      ['dense', `${r.denseMs.toFixed(4)} ms median (${r.repeats} repeats)`],
      ['sparse (CSR)', `${r.sparseMs.toFixed(4)} ms median`],
      ['speedup', `${r.speedup.toFixed(2)}x`],
      ['backend', `${r.machine.backend} (${r.machine.cpuPath}, ${r.machine.threads} threads)`],
    ]));
    return 0;
  }
  const n = flags.size ?? 1200;
  ctx.err(`bench sparse: ${n} x ${n} Linear, ${(sparsity * 100).toFixed(0)}% pruned, batch ${batch} ...`);
  const r = benchSparse({ sparsity, batch, inFeatures: n, outFeatures: n, ...(flags.steps !== undefined ? { repeats: flags.steps } : {}) });
  if (flags.json) { emitJson(ctx, { ...r }); return 0; }
  ctx.out(formatKeyValues([
    ['sparse', `Linear(${r.inFeatures}, ${r.outFeatures}), ${r.nonzeros.toLocaleString('en-US')} non-zero weights (${(r.sparsity * 100).toFixed(1)}% pruned), batch ${r.batch}`],
    ['dense', `${r.denseMs.toFixed(4)} ms median (${r.repeats} repeats)`],
    ['sparse (CSR)', `${r.sparseMs.toFixed(4)} ms median`],
    ['speedup', `${r.speedup.toFixed(2)}x`],
    ['backend', r.backend],
  ]));
  return 0;
}

/** `bench infer`: forward latency of a preset or checkpoint at --batch (default 1). */
function benchInferWorkload(ctx: CliContext, flags: ParsedFlags<typeof FLAGS>): number {
  const target = flags.model ?? 'mlp';
  let model: AnyPresetModel;
  if (existsSync(target)) model = anyModelFromCheckpoint(loadCheckpoint(target));
  else if (listModels().some((m) => m.name === target)) model = createAnyModel(target);
  else throw new UsageError('bench', `--model '${target}' is neither a file nor a preset (${listModels().map((m) => m.name).join(', ')})`);
  if (flags.context !== undefined && model.config.arch !== 'gpt') throw new UsageError('bench', `--context applies to GPT models only; ${target} is an image classifier`);
  const batch = flags.batch ?? 1;
  ctx.err(`bench infer: ${target}, batch ${batch} ...`);
  const r = benchInfer(model, { batch, ...(flags.steps !== undefined ? { iters: flags.steps } : {}), ...(flags.context !== undefined ? { context: flags.context } : {}) });
  if (flags.json) { emitJson(ctx, { ...r, modelArg: target }); return 0; }
  const us = (ms: number): string => (ms < 1 ? `${(ms * 1000).toFixed(1)} us` : `${ms.toFixed(3)} ms`);
  ctx.out(formatKeyValues([
    ['infer', `${r.model} (${r.params.toLocaleString('en-US')} params), input [${r.inputShape.join(', ')}], eval mode, no graph`],
    ['latency', `${us(r.medianMs)} median (p10 ${us(r.p10Ms)}, p90 ${us(r.p90Ms)}, ${r.iters} calls, ${r.path === 'plan' ? 'inference plan' : 'model.call'})`],
    ...(r.path === 'plan' ? [['model.call', `${us(r.callMedianMs)} median (interleaved)`] as [string, string]] : []),
    ['throughput', `${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s`],
    ['cpu time', `${us(r.cpuMsPerCall)} per call (process, all threads)`],
    ['backend', `${r.machine.backend} (${r.machine.cpuPath}, ${r.threads} threads)`],
    ['cpu', `${r.machine.cpu} (${r.machine.cores} cores)`],
  ]));
  return 0;
}

/** `bench gpt --generate N`: greedy generation tokens/s with the key/value cache. */
function benchGptGenerateWorkload(ctx: CliContext, flags: ParsedFlags<typeof FLAGS>, preset: GptBenchPreset): number {
  if (flags.checkpointing) throw new UsageError('bench', '--checkpointing applies to training steps, not to bench gpt --generate');
  const newTokens = flags.generate ?? 64, promptTokens = flags.prompt ?? 32, batch = flags.batch ?? 1;
  ctx.err(`bench gpt --generate: ${preset} preset, prompt ${promptTokens} tokens, ${newTokens} new tokens, batch ${batch} ...`);
  const r = benchGptGenerate({ preset, newTokens, promptTokens, batch, threads: flags.threads, ...(flags.steps !== undefined ? { repeats: flags.steps } : {}) });
  if (flags.json) { emitJson(ctx, { ...r }); return 0; }
  ctx.out(formatKeyValues([
    ['gpt generate', `${r.config.nLayer} layers, d_model ${r.config.nEmbd}, vocabulary ${r.config.vocabSize}, ${(r.params / 1e6).toFixed(1)} M params; prompt ${r.promptTokens}, ${r.newTokens} new tokens, batch ${r.batch}, greedy, key/value cache`],
    ['tokens/s', `${r.tokensPerSecond.toFixed(1)} (prompt included), ${r.decodeTokensPerSecond.toFixed(1)} after the first token`],
    ['first token', `${r.firstTokenMs.toFixed(1)} ms (median of ${r.repeats})`],
    ['peak RSS', `${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`],
    ['backend', `${r.machine.backend} (${r.machine.cpuPath}, ${r.threads} threads)`],
    ['cpu', `${r.machine.cpu} (${r.machine.cores} cores)`],
  ]));
  return 0;
}

/** Rows of the `bench elementwise` table: each op's GB/s and its share of the roof (assign: a copy into an existing tensor). */
function elementwiseTable(r: ElementwiseBenchResult): [string, string][] {
  const mib = (r.size * 4) / 2 ** 20;
  return [
    ['size', `${r.size.toLocaleString('en-US')} float32 (${mib >= 1 ? mib.toFixed(0) : mib.toFixed(2)} MiB per tensor), ${r.threads} threads, ${r.repeats} repeats`],
    ['roof (assign)', `${r.assignGBs.toFixed(1)} GB/s: a copy into an existing tensor`],
    ['clone', `${r.copyGBs.toFixed(1)} GB/s  ${((r.copyGBs / r.assignGBs) * 100).toFixed(0)}% of roof  (${r.copyMs.toFixed(3)} ms; a copy into a new tensor)`],
    ...r.ops.map((o): [string, string] => [o.op, `${o.GBs.toFixed(1)} GB/s  ${(o.ofRoof * 100).toFixed(0)}% of roof  (${o.medianMs.toFixed(3)} ms)`]),
  ];
}

/** `tensorslim bench gemm|mlp|gpt|cnn|sparse|elementwise|quant|infer [--size N] [--threads N] [--json]`. @example await main(['bench', 'gemm', '--size', '512', '--json'], captureContext()) */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'measure GEMM GFLOP/s, elementwise GB/s, an MLP, GPT or CNN training step, int8 vs float32 Linear, or inference latency, on this machine',
  usage: `Usage: tensorslim bench gemm|mlp|gpt|cnn|sparse|elementwise|quant|infer [options]

gemm  GFLOP/s of one N x N x N float32 matrix product (median of repeats)
elementwise  memory bandwidth (GB/s, bytes read + written) of add, mul, relu, exp, a scalar add and
      sum on --size float32 elements (default 2^24, then 2^18 in cache), allocating, with { out } and
      in place, as a share of a copy into an existing tensor (assign, the roof)
mlp   median time of one training step: MLP 784-1200-1200-10, ReLU, cross-entropy, Adam, batch 128
gpt   median time of one training step: GPT 4 layers, d_model 256, 4 heads, context 128, batch 16,
      vocabulary 256, AdamW; tokens/s and peak resident memory (PyTorch peer: bench/peer_gpt.py);
      --preset gpt2: GPT-2 small's shape (124 M params, batch 4, context 256); --generate N: greedy
      generation tokens/s with the key/value cache instead
cnn   median time of one training step of the lenet5 preset (two 5x5 convolutions, max-pooling,
      FC 400-120-84-10), cross-entropy, Adam, batch 128, and of its forward without gradients
      (PyTorch peer: bench/peer_cnn.py)
sparse  forward pass of a --sparsity (0.9) magnitude-pruned N x N Linear (--size, default 1200) at
      --batch (default 1), dense vs CSR (SparseLinear); with --model, the whole pruned preset
quant  forward pass of Linear(N, N) (--size, default 1024) at --batch (default 32): float32 vs int8
      dynamic quantization (quant.DynamicQuantizedLinear: activations quantized per batch, int8 GEMM
      with int32 accumulation); --json fields int8Ms, float32Ms, speedup, int8KernelMs, cpu (the
      same in CPU time), cpuPath
infer  inference latency: the forward pass of --model (a preset or a checkpoint; default mlp) at
      --batch (default 1) in eval mode without a graph; median/p10/p90 per call, samples/s;
      image presets through compileInference's plan, and model.call() interleaved (callMedianMs)
      (peers PyTorch and ONNX Runtime: bench/run_infer.ts)

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim bench gemm --size 2048 --json
  tensorslim bench elementwise --threads 2 --json
  tensorslim bench mlp --threads 1
  tensorslim bench gpt --json
  tensorslim bench gpt --preset gpt2 --steps 3 --checkpointing
  tensorslim bench gpt --preset gpt2 --generate 64 --prompt 32
  tensorslim bench cnn --threads 2 --json
  tensorslim bench sparse --sparsity 0.9 --batch 1 --json
  tensorslim bench sparse --model mlp --batch 32
  tensorslim bench quant --size 1024 --batch 32 --json
  tensorslim bench infer --model mlp --batch 1 --json
  tensorslim bench infer --model gpt-tiny --context 64`,
  async run(argv, ctx) {
    const { flags, positionals } = parseArgs('bench', argv, FLAGS, { names: ['workload'], min: 1 });
    const what = positionals[0];
    if (what !== 'gemm' && what !== 'mlp' && what !== 'gpt' && what !== 'cnn' && what !== 'sparse' && what !== 'elementwise' && what !== 'quant' && what !== 'infer') {
      throw new UsageError('bench', `unknown workload '${String(what)}'; expected gemm, mlp, gpt, cnn, sparse, elementwise, quant or infer`);
    }
    applyRuntimeFlags('bench', { threads: flags.threads, backend: flags.backend });
    if (what === 'elementwise') {
      const big = flags.size ?? 1 << 24;
      ctx.err(`bench elementwise: ${big} float32 elements ...`);
      const r = benchElementwise({ size: big, threads: flags.threads, repeats: flags.steps });
      // without --size, also an in-cache size (1 MiB per tensor), where per-call overhead shows
      const small = flags.size === undefined ? benchElementwise({ size: 1 << 18, threads: flags.threads, repeats: flags.steps ?? 200 }) : undefined;
      if (flags.json) {
        emitJson(ctx, { ...r, ...(small ? { inCache: { size: small.size, repeats: small.repeats, copyGBs: small.copyGBs, copyMs: small.copyMs, assignGBs: small.assignGBs, ops: small.ops } } : {}) });
        return 0;
      }
      ctx.out(formatKeyValues(elementwiseTable(r)));
      if (small) { ctx.out(''); ctx.out(formatKeyValues(elementwiseTable(small))); }
      ctx.out('');
      ctx.out(formatKeyValues([
        ['backend', `${r.machine.backend} (${r.machine.cpuPath}, ${r.threads} threads)`],
        ['cpu', `${r.machine.cpu} (${r.machine.cores} cores)`],
      ]));
      return 0;
    }
    if (what === 'sparse') return benchSparseWorkload(ctx, flags);
    if (what === 'infer') return benchInferWorkload(ctx, flags);
    if (what === 'quant' && flags.model !== undefined) {
      if (flags.model !== 'lenet5') throw new UsageError('bench', `bench quant --model takes lenet5 (LeNet-5 float32 vs static int8), got '${flags.model}'`);
      ctx.err(`bench quant: lenet5 at batch ${flags.batch ?? 32}, float32 vs static and dynamic int8 ...`);
      const r = benchQuantLenet5({ batch: flags.batch ?? 32, threads: flags.threads, repeats: flags.steps });
      if (flags.json) { emitJson(ctx, { ...r }); return 0; }
      ctx.out(formatKeyValues([
        ['lenet5', `batch ${r.lenet5.batch}: float32 ${r.lenet5.float32Ms.toFixed(3)} ms, int8 ${r.lenet5.int8Ms.toFixed(3)} ms (${r.lenet5.speedup.toFixed(2)}x)`],
        ['dynamic', `int8 ${r.lenet5.dynamicMs.toFixed(3)} ms (${r.lenet5.dynamicSpeedup.toFixed(2)}x)`],
        ['int8 path', `${r.cpuPath} (float32: ${r.floatCpuPath}, ${r.threads} threads)`],
      ]));
      return 0;
    }
    if (what === 'quant') {
      const size = flags.size ?? 1024, batch = flags.batch ?? 32;
      ctx.err(`bench quant: Linear(${size}, ${size}) at batch ${batch}, float32 vs int8 dynamic ...`);
      const r = benchQuant({ size, batch, threads: flags.threads, repeats: flags.steps });
      if (flags.json) { emitJson(ctx, { ...r }); return 0; }
      ctx.out(formatKeyValues([
        ['quant', `Linear(${r.size}, ${r.size}) at batch ${r.batch}, dynamic int8 (per-channel weights, activations per batch)`],
        ['float32', `${r.float32Ms.toFixed(3)} ms median (${r.repeats} repeats)`],
        ['int8', `${r.int8Ms.toFixed(3)} ms median (the int8 GEMM alone: ${r.int8KernelMs.toFixed(3)} ms)`],
        ['speedup', `${r.speedup.toFixed(2)}x (CPU time: float32 ${r.cpu.float32Ms.toFixed(3)} ms, int8 ${r.cpu.int8Ms.toFixed(3)} ms, ${r.cpu.speedup.toFixed(2)}x)`],
        ['static int8', `${r.int8StaticMs.toFixed(3)} ms median (QuantizedLinear int8 in, int8 out)`],
        ['lenet5', `batch ${r.lenet5.batch}: float32 ${r.lenet5.float32Ms.toFixed(3)} ms, int8 ${r.lenet5.int8Ms.toFixed(3)} ms (${r.lenet5.speedup.toFixed(2)}x)`],
        ['int8 path', `${r.cpuPath} (float32: ${r.floatCpuPath}, ${r.threads} threads)`],
        ['cpu', `${r.machine.cpu} (${r.machine.cores} cores), load ${r.loadAverage.join(' ')}`],
      ]));
      return 0;
    }
    if (what === 'gemm') {
      ctx.err(`bench gemm: ${flags.size ?? 1024}^3 float32 ...`);
      const r = benchGemm({ size: flags.size, threads: flags.threads, repeats: flags.steps });
      if (flags.json) { emitJson(ctx, { ...r }); return 0; }
      ctx.out(formatKeyValues([
        ['gemm', `${r.size} x ${r.size} x ${r.size} float32`],
        ['GFLOP/s', `${r.gflops.toFixed(1)} (${r.cpuGflops.toFixed(1)} per CPU-second of this process: the per-core rate, whatever else runs)`],
        ['median', `${r.medianMs.toFixed(2)} ms (min ${r.minMs.toFixed(2)} ms, ${r.repeats} repeats)`],
        ['backend', `${r.machine.backend} (${r.machine.cpuPath}, ${r.threads} threads)`],
        ['cpu', `${r.machine.cpu} (${r.machine.cores} cores)`],
      ]));
      return 0;
    }
    if (what === 'gpt') {
      const preset = flags.preset ?? 'small';
      if (preset !== 'small' && preset !== 'gpt2') throw new UsageError('bench', `--preset '${preset}' is not a GPT bench preset; expected small or gpt2`);
      if (flags.generate !== undefined) return benchGptGenerateWorkload(ctx, flags, preset);
      if (flags.prompt !== undefined) throw new UsageError('bench', '--prompt applies to bench gpt --generate N only');
      ctx.err(preset === 'gpt2' ? 'bench gpt: gpt2 preset, 12 layers, d_model 768, context 256, vocabulary 50257, batch 4 ...' : 'bench gpt: 4 layers, d_model 256, context 128, batch 16 ...');
      const r = benchGpt({ preset, threads: flags.threads, steps: flags.steps, batch: flags.batch, checkpointing: flags.checkpointing, fusedLoss: flags['unfused-loss'] !== true, ...(flags['no-step-scope'] === true ? { stepScope: false } : {}), ...(preset === 'gpt2' ? { warmup: 1 } : {}) });
      if (flags.json) { emitJson(ctx, { ...r }); return 0; }
      ctx.out(formatKeyValues([
        ['gpt', `${r.config.nLayer} layers, d_model ${r.config.nEmbd}, ${r.config.nHead} heads, context ${r.context}, batch ${r.batch}, ${(r.params / 1e6).toFixed(2)} M params, AdamW${r.checkpointing ? ', checkpointing' : ''}`],
        ['step', `${r.stepMs.toFixed(1)} ms median (min ${r.minMs.toFixed(1)} ms, ${r.steps} steps), ${Math.round(r.tokensPerSecond)} tokens/s`],
        ['peak RSS', `${(r.peakRssBytes / 2 ** 20).toFixed(0)} MiB`],
        ['backend', `${r.machine.backend} (${r.machine.cpuPath}, ${r.threads} threads)`],
        ['cpu', `${r.machine.cpu} (${r.machine.cores} cores)`],
      ]));
      return 0;
    }
    if (what === 'cnn') {
      ctx.err(`bench cnn: lenet5, batch ${flags.batch ?? 128} ...`);
      const r = benchCnn({ threads: flags.threads, steps: flags.steps, batch: flags.batch });
      if (flags.json) { emitJson(ctx, { ...r }); return 0; }
      ctx.out(formatKeyValues([
        ['cnn', `lenet5 (${r.params.toLocaleString('en-US')} params), batch ${r.batch}, Adam`],
        ['step', `${r.stepMs.toFixed(2)} ms median (min ${r.minMs.toFixed(2)} ms, ${r.steps} steps)`],
        ['forward', `${r.forwardMs.toFixed(2)} ms median (no gradient recording)`],
        ['backend', `${r.machine.backend} (${r.machine.cpuPath}, ${r.threads} threads)`],
        ['cpu', `${r.machine.cpu} (${r.machine.cores} cores)`],
      ]));
      return 0;
    }
    ctx.err(`bench mlp: ${flags.fused ? 'fused' : 'modules'} variant ...`);
    const r = benchMlp({ batch: flags.batch, threads: flags.threads, steps: flags.steps, variant: flags.fused ? 'fused' : 'modules' });
    if (flags.json) { emitJson(ctx, { ...r }); return 0; }
    ctx.out(formatKeyValues([
      ['mlp', `${r.sizes.join('-')} batch ${r.batch} (${r.variant}), Adam`],
      ['step', `${r.stepMs.toFixed(2)} ms median (min ${r.minMs.toFixed(2)} ms, ${r.steps} steps)`],
      ['backend', `${r.machine.backend} (${r.machine.cpuPath}, ${r.threads} threads)`],
      ['cpu', `${r.machine.cpu} (${r.machine.cores} cores)`],
    ]));
    return 0;
  },
};
