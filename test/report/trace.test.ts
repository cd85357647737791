// Chrome trace export: a profiled run's trace obeys the trace-event format (units in microseconds,
// integer pid/tid, 'X' events nested per thread, counters numeric, thread names), and the
// validator itself rejects traces that break each rule. On the native backend, each pool thread's
// work is a track of its own and lies inside the kernel call it served.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/native/index.js';
import { manualSeed } from '../../src/core/random.js';
import { createAnyModel } from '../../src/models/index.js';
import * as ops from '../../src/ops/index.js';
import { toChromeTrace, validateChromeTrace } from '../../src/report/trace.js';
import { profileTraining } from '../../src/report/training.js';

test('toChromeTrace: a profiled training run gives a valid trace with kernels, regions, GC track and memory counters', async () => {
  manualSeed(4);
  const r = await profileTraining(createAnyModel('mlp-tiny'), { batch: 8, steps: 2, warmup: 0 });
  const trace = toChromeTrace(r.profile);
  const json: unknown = JSON.parse(JSON.stringify(trace));
  assert.deepEqual(validateChromeTrace(json), []);
  const ev = trace.traceEvents;
  const x = ev.filter((e) => e.ph === 'X');
  assert.ok(x.some((e) => e.cat === 'kernel') && x.some((e) => e.name === 'step') && x.some((e) => e.name === 'backward'));
  assert.ok(ev.some((e) => e.ph === 'C' && e.name === 'memory (bytes)'));
  assert.ok(ev.some((e) => e.ph === 'M' && e.name === 'thread_name'));
  // microseconds: each step's dur is the profile's step span (ms) * 1000; the statistics leave out
  // the profiler's own sampling, so stepMs = spans - overhead
  const spans = r.profile.events.filter((e) => e.name === 'step');
  const stepUs = x.filter((e) => e.name === 'step').reduce((s, e) => s + e.dur!, 0);
  assert.ok(Math.abs(stepUs - spans.reduce((s, e) => s + e.dur, 0) * 1000) < 1, `${stepUs} us`);
  const overhead = spans.reduce((s, e) => s + (e.overheadMs ?? 0), 0);
  assert.ok(Math.abs(r.profile.stepMs - (stepUs / 1000 - overhead)) < 1e-3);
  // every kernel sits inside a step on the same thread
  const steps = x.filter((e) => e.name === 'step');
  for (const k of x.filter((e) => e.cat === 'kernel')) assert.ok(steps.some((s) => s.tid === k.tid && s.ts <= k.ts && k.ts + k.dur! <= s.ts + s.dur! + 1e-3));
});

test('validateChromeTrace: rejects each broken rule', () => {
  const ok = { name: 'a', ph: 'X', ts: 0, dur: 10, pid: 1, tid: 1 };
  assert.deepEqual(validateChromeTrace({ traceEvents: [ok] }), []);
  assert.match(validateChromeTrace({})[0]!, /traceEvents/);
  assert.match(validateChromeTrace({ traceEvents: [{ ...ok, dur: undefined }] })[0]!, /dur/);
  assert.match(validateChromeTrace({ traceEvents: [{ ...ok, ts: -1 }] })[0]!, /ts/);
  assert.match(validateChromeTrace({ traceEvents: [{ ...ok, tid: 1.5 }] })[0]!, /tid/);
  assert.match(validateChromeTrace({ traceEvents: [{ ...ok, ph: 'Q' }] })[0]!, /ph/);
  assert.match(validateChromeTrace({ traceEvents: [{ name: 'c', ph: 'C', ts: 0, pid: 1, tid: 1, args: { v: 'x' } }] })[0]!, /numbers/);
  assert.match(validateChromeTrace({ traceEvents: [{ name: 'thread_name', ph: 'M', ts: 0, pid: 1, tid: 1, args: {} }] })[0]!, /args.name/);
  // [0, 10) and [5, 15) on one thread overlap without nesting; on two threads they are fine
  const b = { ...ok, ts: 5 };
  assert.match(validateChromeTrace({ traceEvents: [ok, b] })[0]!, /overlaps/);
  assert.deepEqual(validateChromeTrace({ traceEvents: [ok, { ...b, tid: 2 }] }), []);
  assert.deepEqual(validateChromeTrace({ traceEvents: [ok, { ...ok, ts: 2, dur: 3 }] }), [], 'nested is fine');
});

test('native pool timing: one trace track per pool thread, spans inside their kernel calls, native kernel times', { skip: process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'native pool timing: native pass only' : false }, async () => {
  const { getNativeBackend } = await import('../../src/backends/native/index.js');
  const nat = getNativeBackend();
  if (!nat) return;
  manualSeed(6);
  const r = await profileTraining(createAnyModel('mlp'), { batch: 64, steps: 1, warmup: 0 });
  const trace = toChromeTrace(r.profile);
  assert.deepEqual(validateChromeTrace(JSON.parse(JSON.stringify(trace))), []);
  const pool = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'native');
  assert.ok(pool.length > 0, 'the pool recorded work');
  const tids = new Set(pool.map((e) => e.tid));
  for (const tid of tids) {
    assert.ok(tid >= 100, `pool tracks are tid 100 + thread index, got ${tid}`);
    assert.ok(trace.traceEvents.some((e) => e.ph === 'M' && e.name === 'thread_name' && e.tid === tid && /native pool thread/.test(String(e.args?.['name']))), `track ${tid} is named`);
  }
  if (nat.threads >= 2) assert.ok([...tids].some((t) => t >= 101), `a worker thread recorded work (tracks ${[...tids].join(', ')})`);
  // each span lies within the JavaScript interval of the kernel call it is named after (clocks aligned to ~0.05 ms)
  const kernels = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'kernel');
  for (const s of pool.filter((e) => e.name !== 'pool work')) {
    assert.ok(kernels.some((k) => k.name === s.name && k.ts - 50 <= s.ts && s.ts + s.dur! <= k.ts + k.dur! + 50), `${s.name} span at ${s.ts} us is inside a ${s.name} call`);
  }
  const linear = r.profile.kernels.find((k) => k.name === 'linear')!;
  assert.ok(linear.nativeCalls > 0 && linear.nativeMs > 0 && linear.nativeMs <= linear.totalMs + 0.05 * linear.calls, JSON.stringify(linear));
  // the reference-delegated and JS-only kernels have no native time
  assert.ok(r.profile.kernels.every((k) => k.nativeCalls <= k.calls));
  // off after stop: nothing recorded outside a profile
  ops.matmul(ops.randn([256, 256]), ops.randn([256, 256])).dataSync();
  assert.equal(nat.poolTraceDrain().spans.length, 0);
});
