// The ONNX import worked example (docs/INTEROP.md): openwakeword-js's hello_deepa.onnx, a
// third-party wake-word MLP, imported, compared with ONNX Runtime, pruned by magnitude (global
// over its three Linear weights) at several sparsities, exported, and run again in ONNX Runtime.
// Without the model's dataset there is no accuracy: the "agreement" rows compare the pruned
// model's wake decision (score > 0.5) and score with the original's on the same inputs (random
// feature windows drawn like the model's inputs, mean 0 and unit variance). Sizes: the .onnx file
// and its gzip (pruned weights are dense zeros, which compress). Latency: ONNX Runtime's
// session.run on one window (median of 300, after 30 warm-up runs), original and pruned files in
// the same session; ours (importOnnx's model, eval, noGrad) alongside. The int8 rows quantize the
// (pruned) model dynamically (quant.quantizeDynamic: int8 per-channel weights, activations quantized
// per batch) and export it as a QDQ graph (opset 13) that ONNX Runtime runs with its int8 kernels.
//
// Usage: npx tsx bench/onnx_hello_deepa.ts [windows]   (writes bench/results/onnx-hello-deepa.json)

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { manualSeed, noGrad, type Tensor } from '../src/index.js';
import * as ops from '../src/ops/index.js';
import { prune, quant } from '../src/compress/index.js';
import { importOnnx, serializeOnnx } from '../src/io/onnx/index.js';
import { machineInfo, median, root, writeResult, type Json } from './common.js';

const windows = Number(process.argv[2] ?? 200);
const path = join(root, 'node_modules', 'openwakeword-js', 'models', 'hello_deepa.onnx');
const original = readFileSync(path);

async function scores(bytes: Uint8Array, xs: readonly Tensor[], name: string, out: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes);
  const res = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const r = await s.run({ [name]: new ort.Tensor('float32', xs[i]!.dataSync() as Float32Array, [...xs[i]!.shape]) });
    res[i] = (r[out]!.data as Float32Array)[0]!;
  }
  return res;
}

async function ortLatencyMs(bytes: Uint8Array, x: Tensor, name: string): Promise<number> {
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const feed = { [name]: new ort.Tensor('float32', x.dataSync() as Float32Array, [...x.shape]) };
  for (let i = 0; i < 30; i++) await s.run(feed);
  const t: number[] = [];
  for (let i = 0; i < 300; i++) { const t0 = performance.now(); await s.run(feed); t.push(performance.now() - t0); }
  return median(t);
}

function oursLatencyMs(model: { call(x: Tensor): Tensor }, x: Tensor): number {
  for (let i = 0; i < 30; i++) noGrad(() => model.call(x));
  const t: number[] = [];
  for (let i = 0; i < 300; i++) { const t0 = performance.now(); noGrad(() => model.call(x)).dataSync(); t.push(performance.now() - t0); }
  return median(t);
}

manualSeed(16);
const imp = importOnnx(path);
imp.model.eval();
const xs = Array.from({ length: windows }, () => ops.randn([1, 25, 96]));
const ref = await scores(original, xs, imp.inputName, imp.outputName);
const ours = Float32Array.from(xs, (x) => noGrad(() => imp.model.call(x)).dataSync()[0]!);
let maxErr = 0;
for (let i = 0; i < windows; i++) maxErr = Math.max(maxErr, Math.abs(ours[i]! - ref[i]!));

const rows: Json[] = [];
const baseLatency = await ortLatencyMs(original, xs[0]!, imp.inputName);
rows.push({
  sparsity: 0, file: 'hello_deepa.onnx (original)', bytes: original.length, gzipBytes: gzipSync(original).length,
  wakeAgreement: 1, meanAbsScoreDiff: 0, ortLatencyMs: baseLatency, oursLatencyMs: oursLatencyMs(imp.model, xs[0]!),
  maxAbsErrorOursVsOrt: maxErr,
});
/** One row: `m` (already pruned and/or quantized) exported, run in ONNX Runtime, compared with the original. */
async function row(m: { call(x: Tensor): Tensor }, bytes: Uint8Array, fields: Json): Promise<Json> {
  const s = await scores(bytes, xs, imp.inputName, imp.outputName);
  let agree = 0, diff = 0, err = 0;
  for (let i = 0; i < windows; i++) {
    if ((s[i]! > 0.5) === (ref[i]! > 0.5)) agree++;
    diff += Math.abs(s[i]! - ref[i]!);
    err = Math.max(err, Math.abs(noGrad(() => m.call(xs[i]!)).dataSync()[0]! - s[i]!));
  }
  return {
    ...fields, bytes: bytes.length, gzipBytes: gzipSync(bytes).length,
    wakeAgreement: agree / windows, meanAbsScoreDiff: diff / windows, ortLatencyMs: await ortLatencyMs(bytes, xs[0]!, imp.inputName),
    oursLatencyMs: oursLatencyMs(m, xs[0]!), maxAbsErrorOursVsOrt: err,
  };
}
for (const sparsity of [0.5, 0.8, 0.9]) {
  const m = importOnnx(path).model;
  m.eval();
  prune.pruneToSparsity(prune.weightTargets(m), sparsity, { global: true });
  rows.push(await row(m, serializeOnnx(m, xs[0]!).bytes, { sparsity, file: `pruned ${sparsity * 100}% (global magnitude over the 3 Linear weights), exported` }));
}
// pruned and quantized: int8 weights (dynamic quantization), exported as QDQ (opset 13)
for (const sparsity of [0, 0.5, 0.8]) {
  const m = importOnnx(path).model;
  m.eval();
  if (sparsity > 0) {
    prune.pruneToSparsity(prune.weightTargets(m), sparsity, { global: true });
    for (const [mod, name] of prune.weightTargets(m)) prune.remove(mod, name);
  }
  quant.quantizeDynamic(m);
  rows.push(await row(m, serializeOnnx(m, xs[0]!, { opset: 13 }).bytes,
    { sparsity, int8: true, file: `${sparsity > 0 ? `pruned ${sparsity * 100}% + ` : ''}int8 (dynamic, per-channel weights), exported as QDQ` }));
}
const wakeRate = ref.filter((v) => v > 0.5).length / windows;
const result = {
  date: new Date().toISOString(),
  what: `hello_deepa.onnx (openwakeword-js) imported, pruned and/or int8-quantized, exported; ${windows} random (1, 25, 96) windows; ONNX Runtime ${ort.env.versions?.common ?? ''} with 1 intra-op thread is the peer`,
  originalWakeRateOnRandomInputs: wakeRate,
  rows,
  machine: machineInfo({ peer: 'onnxruntime-node, intraOpNumThreads 1' }),
};
const where = writeResult('onnx-hello-deepa', result);
console.log(JSON.stringify({ ...result, written: where }, null, 2));
