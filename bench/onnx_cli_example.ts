// The CLI worked example of docs/INTEROP.md, measured: the .onnx files that `tensorslim train`,
// `prune`, `quantize` and `export` wrote from a PyTorch-written residual CNN (tools/fixtures/
// onnx_cli_example.py) are each run in ONNX Runtime (one intra-op thread) on the whole mnist test
// split: accuracy, file and gzip size, latency per batch of 64 (median of rounds interleaved with
// ours); beside them our own evaluation of the same file (importOnnx; QDQ files computed as the spec
// defines QuantizeLinear/DequantizeLinear) and the largest difference between the two outputs.
//
//   npx tsx bench/onnx_cli_example.ts <folder holding the files named in docs/INTEROP.md>

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { noGrad, type Tensor } from '../src/index.js';
import { importOnnx } from '../src/io/onnx/index.js';
import { loadImageData } from '../src/train/index.js';
import { machineInfo, median, writeResult, type Json } from './common.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: npx tsx bench/onnx_cli_example.ts <folder with rescnn*.onnx written by the CLI commands>');
const FILES: [string, string][] = [
  ['rescnn.onnx', 'original (PyTorch export, untrained)'],
  ['rescnn.ft.onnx', 'fine-tuned 2 epochs (train, then export)'],
  ['rescnn.pruned.onnx', 'fine-tuned + pruned 50% (prune --out .onnx)'],
  ['rescnn.int8.onnx', 'fine-tuned + int8 static (quantize --out .onnx, QDQ)'],
  ['rescnn.pruned.int8.onnx', 'pruned 50% + int8 static (QDQ)'],
];
const data = loadImageData('mnist');
const n = data.test.length;
const [xAll, yAll] = data.test.getBatch(Array.from({ length: n }, (_, i) => i)) as [Tensor, Tensor];
const labels = yAll.dataSync();
const batch = 64;
const xb = data.test.getBatch(Array.from({ length: batch }, (_, i) => i))[0]!;

function argmaxRows(d: ArrayLike<number>, rows: number, k: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) { let b = 0; for (let j = 1; j < k; j++) if (d[r * k + j]! > d[r * k + b]!) b = j; out[r] = b; }
  return out;
}
const accuracy = (pred: Int32Array): number => pred.reduce((a, p, i) => a + (p === labels[i] ? 1 : 0), 0) / n;

const rows: Json[] = [];
for (const [file, what] of FILES) {
  const bytes = new Uint8Array(readFileSync(join(dir, file)));
  const imp = importOnnx(join(dir, file));
  imp.model.eval();
  const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  const feed = (x: Tensor): Record<string, ort.Tensor> => ({ [imp.inputName]: new ort.Tensor('float32', Float32Array.from(x.dataSync()), [...x.shape]) });
  const ortAll = (await s.run(feed(xAll)))[imp.outputName]!.data as Float32Array;
  const oursAll = noGrad(() => imp.model.call(xAll)).dataSync();
  let range = 0, err = 0;
  for (let i = 0; i < ortAll.length; i++) { range = Math.max(range, Math.abs(ortAll[i]!)); err = Math.max(err, Math.abs(ortAll[i]! - oursAll[i]!)); }
  // latency: rounds of 20 runs each, ORT and ours interleaved
  const tOrt: number[] = [], tOurs: number[] = [];
  const fb = feed(xb);
  for (let w = 0; w < 5; w++) { await s.run(fb); noGrad(() => imp.model.call(xb)); }
  for (let round = 0; round < 15; round++) {
    for (let i = 0; i < 20; i++) { const t0 = performance.now(); await s.run(fb); tOrt.push(performance.now() - t0); }
    for (let i = 0; i < 20; i++) { const t0 = performance.now(); noGrad(() => imp.model.call(xb)).dataSync(); tOurs.push(performance.now() - t0); }
  }
  rows.push({
    file, what, bytes: bytes.length, gzipBytes: gzipSync(bytes).length,
    ortAccuracy: accuracy(argmaxRows(ortAll, n, 10)), oursAccuracy: accuracy(argmaxRows(oursAll, n, 10)),
    maxAbsDiffOursVsOrt: err, outputRange: range,
    ortLatencyMsBatch64: median(tOrt), oursLatencyMsBatch64: median(tOurs),
  });
  console.error(`${file}: ORT accuracy ${rows.at(-1)!['ortAccuracy']}`);
}
const result = {
  date: new Date().toISOString(),
  what: `the CLI worked example of docs/INTEROP.md: files written by tensorslim train/prune/quantize/export from a PyTorch residual CNN, run on the ${n} mnist test images; ONNX Runtime ${ort.env.versions?.common ?? ''} with 1 intra-op thread is the peer`,
  rows,
  machine: machineInfo({ peer: 'onnxruntime-node, intraOpNumThreads 1' }),
};
const where = writeResult('onnx-cli-example', result);
console.log(JSON.stringify({ ...result, written: where }, null, 2));
