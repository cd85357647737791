// src/bench/worker.ts: the benchmark worker's request/reply protocol (what bench/paired.ts drives
// and the Python peers' `serve` mirror): a "time" window runs the workload exactly `iters` times and
// replies wall and CPU per iteration; bad requests get an `error` reply naming the fix; "quit" ends
// the serve loop. Plumbing only, no kernel: native pass only, and no timing assertions.

import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { handleWorkerRequest, serveWorkloads, type WorkerSpec } from '../../src/bench/worker.js';

const skip = process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'protocol plumbing, no kernel: native pass only' : false;

function spec(): WorkerSpec & { calls: () => number; threads: () => number } {
  let n = 0, threads = 1;
  return {
    workloads: { count: () => { n++; } },
    info: () => ({ side: 'test', threads }),
    setThreads: (t) => { threads = t; },
    calls: () => n, threads: () => threads,
  };
}

test('handleWorkerRequest: time, threads, info and the errors', { skip }, () => {
  const s = spec();
  const r = handleWorkerRequest(s, '{"op":"time","workload":"count","iters":5}')!;
  assert.equal(s.calls(), 5);
  assert.equal(r['op'], 'time');
  assert.equal(r['iters'], 5);
  for (const k of ['wallMs', 'cpuMs', 'wallMsPerIter', 'cpuMsPerIter']) assert.ok(Number.isFinite(r[k] as number) && (r[k] as number) >= 0, `${k} ${String(r[k])}`);
  assert.equal(r['wallMsPerIter'], (r['wallMs'] as number) / 5);
  assert.deepEqual(handleWorkerRequest(s, '{"op":"threads","threads":2}'), { op: 'threads', side: 'test', threads: 2 });
  assert.equal(s.threads(), 2);
  assert.deepEqual(handleWorkerRequest(s, '{"op":"info"}'), { op: 'info', side: 'test', threads: 2 });
  assert.equal(handleWorkerRequest(s, '  '), null);
  assert.match(String(handleWorkerRequest(s, '{"op":"time","workload":"gemm","iters":1}')!['error']), /unknown workload 'gemm'; this worker serves count/);
  assert.match(String(handleWorkerRequest(s, '{"op":"time","workload":"count","iters":0}')!['error']), /iters must be a positive integer, got 0/);
  assert.match(String(handleWorkerRequest(s, '{"op":"threads","threads":1.5}')!['error']), /threads must be a positive integer/);
  assert.match(String(handleWorkerRequest(s, 'time count 3')!['error']), /is not JSON; send one JSON object a line/);
  assert.match(String(handleWorkerRequest(s, '{"op":"run"}')!['error']), /unknown op 'run'; expected time, threads, info or quit/);
  assert.equal(s.calls(), 5);
  const fixed: WorkerSpec = { workloads: {}, info: () => ({}) };
  assert.match(String(handleWorkerRequest(fixed, '{"op":"threads","threads":2}')!['error']), /cannot change its threads/);
});

test('serveWorkloads: one reply line per request, in order, until quit', { skip }, async () => {
  const s = spec();
  const input = new PassThrough(), output = new PassThrough();
  const chunks: string[] = [];
  output.on('data', (d: Buffer) => chunks.push(d.toString()));
  const served = serveWorkloads(s, input, output);
  input.write('{"op":"time","workload":"count","iters":3}\n\n{"op":"info"}\n');
  input.write('{"op":"quit"}\n{"op":"time","workload":"count","iters":100}\n');
  await served;
  const replies = chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(replies.map((r) => r['op']), ['time', 'info', 'quit']);
  assert.equal(s.calls(), 3, 'nothing after quit runs');
});
