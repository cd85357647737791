// `tensorslim bench elementwise` and benchElementwise: the byte accounting is hand-derived (float32:
// a copy reads n and writes n floats = 8n bytes, add/mul read two and write one = 12n, relu/exp and
// a scalar add 8n, a full sum reads 4n; the same for the out= and in-place forms), and the JSON line
// has the documented fields. Tiny sizes, few repeats: this checks the plumbing, never the speed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/native/index.js';
import { benchElementwise } from '../../src/bench/elementwise.js';
import { captureContext, main } from '../../src/cli/index.js';

test('benchElementwise: bytes per op and form, GB/s and share of the roof', () => {
  const n = 1000;
  const r = benchElementwise({ size: n, threads: 1, repeats: 5 });
  assert.equal(r.bench, 'elementwise');
  assert.equal(r.size, n);
  const bytes = Object.fromEntries(r.ops.map((o) => [o.op, o.bytes]));
  assert.deepEqual(bytes, {
    add: 12 * n, mul: 12 * n, relu: 8 * n, exp: 8 * n, addScalar: 8 * n, sum: 4 * n,
    'add(out)': 12 * n, 'mul(out)': 12 * n, 'relu(out)': 8 * n, 'exp(out)': 8 * n, 'addScalar(out)': 8 * n,
    add_: 12 * n, mul_: 12 * n, relu_: 8 * n, exp_: 8 * n, addScalar_: 8 * n,
  });
  assert.deepEqual(r.ops.map((o) => o.form), [...Array(6).fill('alloc'), ...Array(5).fill('out'), ...Array(5).fill('inplace')]);
  assert.ok(r.copyGBs > 0 && Number.isFinite(r.copyGBs) && r.assignGBs > 0);
  assert.ok(Math.abs(r.copyGBs - (8 * n) / (r.copyMs * 1e6)) < 1e-9 * r.copyGBs);
  for (const o of r.ops) {
    assert.ok(Math.abs(o.GBs - o.bytes / (o.medianMs * 1e6)) <= 1e-9 * o.GBs, o.op);
    assert.ok(Math.abs(o.ofCopy - o.GBs / r.copyGBs) <= 1e-12, o.op);
    assert.ok(Math.abs(o.ofRoof - o.GBs / r.assignGBs) <= 1e-12, o.op);
  }
  assert.throws(() => benchElementwise({ size: 0 }), /benchElementwise.*positive integer/);
});

test('tensorslim bench elementwise --json: one JSON object on the last line', async () => {
  const ctx = captureContext({});
  const code = await main(['bench', 'elementwise', '--size', '4096', '--steps', '5', '--threads', '1', '--json'], ctx);
  assert.equal(code, 0);
  const last = JSON.parse(ctx.stdout.filter((l) => l !== '').at(-1)!) as Record<string, unknown>;
  assert.equal(last['bench'], 'elementwise');
  assert.equal(last['size'], 4096);
  assert.equal(last['threads'], 1);
  assert.equal(typeof last['copyGBs'], 'number');
  assert.deepEqual((last['ops'] as { op: string }[]).map((o) => o.op), ['add', 'mul', 'relu', 'exp', 'addScalar', 'sum',
    'add(out)', 'mul(out)', 'relu(out)', 'exp(out)', 'addScalar(out)', 'add_', 'mul_', 'relu_', 'exp_', 'addScalar_']);
  assert.equal(last['inCache'], undefined, 'an explicit --size measures that size only');
  const text = captureContext({});
  assert.equal(await main(['bench', 'elementwise', '--size', '2048', '--steps', '5', '--threads', '1'], text), 0);
  assert.match(text.stdout.join('\n'), /roof \(assign\)/);
  assert.match(text.stdout.join('\n'), /addScalar .* GB\/s .*% of roof/);
  assert.match(text.stdout.join('\n'), /relu_ .* GB\/s .*% of roof/);
});
