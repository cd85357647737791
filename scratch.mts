import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ops from './src/ops/index.js';
import { noGrad } from './src/index.js';
import { importOnnxGraph, GRAPH_OPS } from './src/io/onnx/index.js';
import { onnx } from './src/io/onnx/proto.js';
import { readTensor } from './src/io/onnx/read.js';
import { maxRelError } from './test/io/onnx_helpers.js';
const root = '/usr/share/libonnx-testdata/data/node';
const res: Record<string, string[]> = { pass: [], fail: [], refused: [], skip: [] };
for (const d of readdirSync(root).sort()) {
  const dir = join(root, d);
  const bytes = readFileSync(join(dir, 'model.onnx'));
  const m = onnx.ModelProto.decode(bytes);
  const opsUsed = [...new Set((m.graph?.node ?? []).map(n => n.opType!))];
  if (!opsUsed.every(o => GRAPH_OPS.includes(o))) { res.skip.push(d); continue; }
  try {
    const g = importOnnxGraph(bytes);
    const set = join(dir, 'test_data_set_0');
    const feeds: Record<string, any> = {};
    g.inputs.forEach((io, i) => { const t = onnx.TensorProto.decode(readFileSync(join(set, `input_${i}.pb`))); const c = readTensor('in', t, null); feeds[io.name] = (c.elem === 1 ? ops.tensor(Float32Array.from(c.data), { shape: c.dims }) : ops.tensor(Int32Array.from(c.data), { shape: c.dims, dtype: 'int32' })); });
    g.eval();
    const outs = noGrad(() => g.run(feeds));
    let worst = 0; let shapeBad = '';
    g.outputs.forEach((io, i) => { const t = onnx.TensorProto.decode(readFileSync(join(set, `output_${i}.pb`))); const c = readTensor('out', t, null); const o = outs[io.name]!; if (o.shape.join() !== c.dims.join()) shapeBad = `${o.shape} vs ${c.dims}`; else worst = Math.max(worst, maxRelError(Array.from(o.dataSync()), Array.from(c.data))); });
    if (shapeBad || !(worst <= 1e-4)) res.fail.push(`${d} ${shapeBad} ${worst}`); else res.pass.push(d);
  } catch (e) { res.refused.push(`${d}: ${(e as Error).message.slice(0, 150)}`); }
}
console.log('PASS', res.pass.length, 'SKIP', res.skip.length);
console.log('FAIL\n' + res.fail.join('\n'));
console.log('REFUSED\n' + res.refused.join('\n'));
