// LeNet-5 inference layer by layer: float32, static int8 (int8 codes between the layers, int8 max
// pooling) and dynamic int8 (quantizeDynamic with Linear and Conv2d), each child of the Sequential
// timed alone on the output of the one before it, in one single-threaded process: median CPU ms per
// call (process.cpuUsage, the figure a loaded machine disturbs least), for each batch. Says where
// int8 wins or loses (first-layer quantization, the convolutions, pooling, the linears, the last
// layer's dequantization). Records benchmark 'quant-lenet5-layers' (bench/results/) with the machine,
// the CPU paths and the load average; prints one JSON object as its last stdout line.
//   usage: npx tsx bench/quant_lenet_layers.ts [batches=1,32,256]   (TENSORSLIM_CPU=avx2 for the AVX2 paths)
import os from 'node:os';
import { noGrad } from '../src/core/engine.js';
import { Generator, defaultGenerator } from '../src/core/random.js';
import type { Tensor } from '../src/core/tensor.js';
import * as ops from '../src/ops/index.js';
import type { AnyModule } from '../src/nn/module.js';
import { createModel } from '../src/models/presets.js';
import { quant } from '../src/compress/index.js';
import { applyThreads, machineInfo } from '../src/bench/machine.js';
import { cpuTimeIt } from '../src/bench/quant.js';
import { writeResult, type Json } from './common.js';

const batches = (process.argv[2] ?? '1,32,256').split(',').map(Number);
applyThreads(1);


/** Every child of the model's top Sequential, timed on its own input: [name: Class, CPU ms]. */
function perLayer(model: AnyModule, x: Tensor, calls: number): Array<[string, number]> {
  const rows: Array<[string, number]> = [];
  let v = x;
  for (const [name, m] of model.namedChildren()) {
    const input = v;
    const run = (): Tensor => noGrad(() => m.call(input) as Tensor);
    v = run();
    for (let i = 0; i < 3; i++) run();
    rows.push([`${name}: ${m.constructor.name}`, cpuTimeIt(run, calls)]);
  }
  return rows;
}

const results: Json[] = [];
for (const batch of batches) {
  const gen = new Generator(0);
  const state = defaultGenerator.getState();
  const float = createModel('lenet5');
  const prepared = createModel('lenet5');
  const dynamic = createModel('lenet5');
  defaultGenerator.setState(state);
  prepared.loadStateDict(float.stateDict());
  dynamic.loadStateDict(float.stateDict());
  float.eval();
  const images = (): Tensor => ops.rand([batch, 1, 28, 28], { generator: gen });
  const observed = quant.prepareStatic(prepared, { observer: 'minmax' });
  noGrad(() => { for (let i = 0; i < 4; i++) observed.call(images()); });
  const int8 = quant.convertStatic(observed);
  int8.eval();
  const dyn = quant.quantizeDynamic(dynamic, { types: ['Linear', 'Conv2d'] });
  dyn.eval();
  const x = images();
  const calls = Math.max(9, Math.min(301, Math.ceil(20000 / batch)));
  const sides = { float32: perLayer(float, x, calls), static: perLayer(int8, x, calls), dynamic: perLayer(dyn, x, calls) };
  const sum = (r: Array<[string, number]>): number => r.reduce((s, [, t]) => s + t, 0);
  const whole = (m: AnyModule): number => cpuTimeIt(() => noGrad(() => m.call(x)), calls);
  const wholeMs = { float32: whole(float), static: whole(int8), dynamic: whole(dyn) };
  results.push({
    batch, calls, layers: sides, sumMs: { float32: sum(sides.float32), static: sum(sides.static), dynamic: sum(sides.dynamic) }, wholeMs,
    staticVsFloat32: wholeMs.float32 / wholeMs.static, dynamicVsFloat32: wholeMs.float32 / wholeMs.dynamic,
  });
  process.stderr.write(`batch ${batch}: float32 ${wholeMs.float32.toFixed(3)} ms, static int8 ${wholeMs.static.toFixed(3)} ms, dynamic ${wholeMs.dynamic.toFixed(3)} ms (CPU, one thread)\n`);
}
const machine = machineInfo();
const int8Path = quant.quantizedKernels().int8Path;
const date = new Date().toISOString();
const bench = process.env['TENSORSLIM_CPU'] === 'avx2' ? 'quant-lenet5-layers-avx2' : 'quant-lenet5-layers';
const files = writeResult(bench, {
  date, machine: { ...machine, int8Path, loadavg: os.loadavg() }, batches, results,
  units: { ms: 'median CPU ms per call of one thread (process.cpuUsage), each layer on the previous layer\'s output; wholeMs: the model called at once' },
});
process.stdout.write(`${JSON.stringify({ ...files, int8Path, results: results.map((r) => ({ batch: r['batch'], wholeMs: r['wholeMs'], staticVsFloat32: r['staticVsFloat32'], dynamicVsFloat32: r['dynamicVsFloat32'] })) })}\n`);
