// ONNX Runtime peer of `tensorslim bench infer` (run by bench/run_infer.ts): the same preset, built
// by tensorslim and exported with exportOnnx (opset 17, dynamic batch), run by onnxruntime-node (the
// dev dependency; its CPU execution provider) on a random input of the same shape: median / p10 / p90
// milliseconds of session.run per call, one JSON line. ONNX Runtime's graph optimizations are at
// their default (all); intra-op threads from the command line (the runner tries 1 and 2).
//   usage: npx tsx bench/peer_ort_infer.ts MODEL BATCH THREADS [ITERS]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { exportOnnx } from '../src/index.js';
import { createAnyModel } from '../src/models/index.js';
import { median } from '../src/bench/machine.js';
import { inferInput } from '../src/bench/infer.js';

const [name = 'mlp', batchArg = '1', threadsArg = '1', itersArg = '0'] = process.argv.slice(2);
const batch = Number(batchArg), threads = Number(threadsArg);
const model = createAnyModel(name);
model.eval();
const x = inferInput(model, batch);
const dir = mkdtempSync(join(tmpdir(), 'tensorslim-ort-infer-'));
try {
  const path = join(dir, `${name}.onnx`);
  const exported = exportOnnx(model, x, path, { opset: 17, dynamicBatch: true });
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
  const data = x.dataSync();
  const feed = { [exported.inputs[0]!.name]: x.dtype === 'int32' ? new ort.Tensor('int32', data as Int32Array, [...x.shape]) : new ort.Tensor('float32', data as Float32Array, [...x.shape]) };
  const call = async (): Promise<number> => { const t = process.hrtime.bigint(); await session.run(feed); return Number(process.hrtime.bigint() - t) / 1e6; };
  for (let i = 0; i < 10; i++) await call();
  const probe: number[] = [];
  for (let i = 0; i < 5; i++) probe.push(await call());
  const iters = Number(itersArg) || Math.max(20, Math.min(2000, Math.round(2000 / Math.max(1e-3, median(probe)))));
  const ts: number[] = [];
  const c0 = process.cpuUsage();  // every thread of the process, ONNX Runtime's pool included
  for (let i = 0; i < iters; i++) ts.push(await call());
  const c1 = process.cpuUsage(c0);
  const s = [...ts].sort((a, b) => a - b);
  const pct = (q: number): number => s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))]!;
  process.stdout.write(`${JSON.stringify({
    bench: 'infer', model: name, batch, medianMs: median(ts), p10Ms: pct(0.1), p90Ms: pct(0.9), iters, cpuMsPerCall: (c1.user + c1.system) / 1000 / iters,
    peer: { library: 'ONNX Runtime (onnxruntime-node)', version: ort.env.versions?.common ?? 'unknown', threads, opset: exported.opset, executionProvider: 'cpu', graphOptimization: 'default (all)' },
  })}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
