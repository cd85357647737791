// `tensorslim bench cnn` and benchCnn: the lenet5 preset trains on the benchmark's batch (the loss
// after a few steps is finite and the parameter count is lenet5's, 61,706), and the JSON line has
// the documented fields. Tiny batch, few steps: this checks the plumbing, never the speed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/native/index.js';
import { benchCnn } from '../../src/bench/cnn.js';
import { captureContext, main } from '../../src/cli/index.js';

test('benchCnn: lenet5 steps and forwards, timed, with the machine', () => {
  const r = benchCnn({ batch: 4, steps: 3, warmup: 1, threads: 1 });
  assert.equal(r.bench, 'cnn');
  assert.equal(r.model, 'lenet5');
  assert.equal(r.batch, 4);
  assert.equal(r.steps, 3);
  // conv 6*1*25+6, conv 16*6*25+16, fc 400*120+120, 120*84+84, 84*10+10
  assert.equal(r.params, 156 + 2416 + 48120 + 10164 + 850);
  assert.ok(Number.isFinite(r.finalLoss) && r.finalLoss > 0, `loss ${r.finalLoss}`);
  for (const k of ['stepMs', 'minMs', 'forwardMs', 'cpuMsPerStep'] as const) assert.ok(Number.isFinite(r[k]) && r[k] >= 0, `${k} ${r[k]}`);
  assert.ok(r.minMs <= r.stepMs);
  assert.ok(Number.isNaN(benchCnn({ batch: 2, steps: 1, warmup: 0, forward: false }).forwardMs));
  assert.throws(() => benchCnn({ batch: 0 }), /benchCnn: batch must be a positive integer/);
});

test('tensorslim bench cnn --json: one JSON object on the last line', { skip: process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'CLI plumbing only: benchCnn runs on both backends above' : false }, async () => {
  const ctx = captureContext({});
  const code = await main(['bench', 'cnn', '--batch', '2', '--steps', '2', '--threads', '1', '--json'], ctx);
  assert.equal(code, 0);
  const last = JSON.parse(ctx.stdout.filter((l) => l !== '').at(-1)!) as Record<string, unknown>;
  assert.equal(last['bench'], 'cnn');
  assert.equal(last['batch'], 2);
  assert.equal(typeof last['stepMs'], 'number');
  assert.equal(typeof (last['machine'] as Record<string, unknown>)['cpuPath'], 'string');
  const text = captureContext({});
  assert.equal(await main(['bench', 'cnn', '--batch', '2', '--steps', '1', '--threads', '1'], text), 0);
  assert.match(text.stdout.join('\n'), /lenet5 \(61,706 params\), batch 2, Adam/);
});
