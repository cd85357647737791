// Chrome trace export: a profiled run's trace obeys the trace-event format (units in microseconds,
// integer pid/tid, 'X' events nested per thread, counters numeric, thread names), and the
// validator itself rejects traces that break each rule.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../../src/backends/native/index.js';
import { manualSeed } from '../../src/core/random.js';
import { createAnyModel } from '../../src/models/index.js';
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
