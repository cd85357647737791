// Run folders and TensorBoard scalars: a RunLog writes run.json, metrics.jsonl and a TensorBoard
// event file; the event file is read back record by record with both CRCs checked, its payloads
// decoded by protobufjs against TensorBoard's Event schema (an encoder independent of ours), and a
// torn or corrupted record is caught. `tensorslim train` writes a run folder beside --out that
// `tensorslim report` charts; missing and malformed run folders get clear errors.
// (python3 has no tensorboard/tensorflow here, so the real reader is not run: the framing is checked
// against the format's definition instead.)

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, truncateSync, statSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { crc32c, maskedCrc32c, readTfRecords, tfRecord } from '../../src/report/tensorboard.js';
import { RunLog, defaultRunDir } from '../../src/report/run_log.js';
import { loadReportInputs } from '../../src/report/run_files.js';
import { renderReport } from '../../src/report/html.js';
import { cli } from '../cli/helpers.js';

const kernelFree = process.env['TENSORSLIM_BACKEND'] === 'reference'
  ? 'file formats and CLI plumbing exercise no kernel: run in the native pass only' : false;
const dir = mkdtempSync(join(tmpdir(), 'tensorslim-runlog-'));

const EVENT_PROTO = `syntax = "proto3";
message Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
message Summary { repeated Value value = 1; message Value { string tag = 1; float simple_value = 2; } }`;
const Event = protobuf.parse(EVENT_PROTO).root.lookupType('Event');

interface DecodedEvent { wallTime: number; step: number; fileVersion: string; summary: { value: { tag: string; simpleValue: number }[] } | null }
function decode(data: Uint8Array): DecodedEvent {
  const o = Event.toObject(Event.decode(data), { longs: Number, defaults: true }) as { wallTime: number; step: number; fileVersion: string; summary?: { value: { tag: string; simpleValue: number }[] } };
  return { wallTime: o.wallTime, step: o.step, fileVersion: o.fileVersion, summary: o.summary ?? null };
}

test('crc32c and the TFRecord frame match the format definition', { skip: kernelFree }, () => {
  // the CRC-32C check value of the Castagnoli polynomial (RFC 3720 B.4 lists more)
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  const data = new Uint8Array([1, 2, 3]);
  const rec = tfRecord(data);
  const dv = new DataView(rec.buffer);
  assert.equal(rec.length, 8 + 4 + 3 + 4);
  assert.equal(dv.getBigUint64(0, true), 3n);
  const c = crc32c(rec.subarray(0, 8));
  assert.equal(dv.getUint32(8, true), ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0, 'masked as ((c >> 15) | (c << 17)) + 0xa282ead8');
  assert.equal(dv.getUint32(15, true), maskedCrc32c(data));
});

test('RunLog: run.json, metrics.jsonl and TensorBoard events that protobufjs decodes', { skip: kernelFree }, () => {
  const run = join(dir, 'unit.run');
  const log = new RunLog(run, { command: 'train', config: { model: 'mlp', lr: 0.001 } });
  const cb = log.callback({ every: 2 });
  const view = { step: 0, epoch: 0, stepInEpoch: 0, stepsPerEpoch: 4, lr: 0.001 };
  for (let s = 1; s <= 4; s++) {
    Object.assign(view, { step: s, stepInEpoch: s });
    void cb.onStepEnd!(view as never, [], 1 / s);
  }
  void cb.onEpochEnd!(view as never, { epoch: 0, step: 4, batches: 4, trainLoss: 0.52, trainAccuracy: 0.8, lr: 0.001, seconds: 1, samplesPerSecond: 100, eval: { loss: 0.6, accuracy: 0.75, samples: 10, seconds: 0.1, samplesPerSecond: 100 } });
  log.log({ step: 5, loss: Number.NaN, other: 3 }, 'fine-tune');
  log.finish({ testAccuracy: 0.75 });

  const info = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(info['kind'], 'tensorslim-run');
  assert.deepEqual(info['config'], { model: 'mlp', lr: 0.001 });
  assert.deepEqual(info['summary'], { testAccuracy: 0.75 });
  assert.equal(typeof (info['machine'] as Record<string, unknown>)['cpuPath'], 'string');
  const rows = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(rows.map((r) => r['step']), [2, 4, 4, 5]);
  assert.equal(rows[0]!['loss'], (1 + 1 / 2) / 2, 'a step row holds the mean loss since the previous row');
  assert.equal(rows[2]!['valAccuracy'], 0.75);
  assert.deepEqual(rows[3], { stage: 'fine-tune', step: 5, loss: null, other: 3 }, 'NaN becomes null, the stage is kept');

  const events = readdirSync(run).filter((f) => f.startsWith('events.out.tfevents.'));
  assert.equal(events.length, 1);
  const file = join(run, events[0]!);
  const decoded = readTfRecords(file).map(decode);
  assert.equal(decoded[0]!.fileVersion, 'brain.Event:2');
  assert.ok(Math.abs(decoded[0]!.wallTime - Date.now() / 1000) < 600);
  const scalars = decoded.slice(1).flatMap((e) => e.summary!.value.map((v) => ({ step: e.step, tag: v.tag, v: v.simpleValue })));
  assert.deepEqual(scalars.filter((s) => s.tag === 'loss').map((s) => s.step), [2, 4]);
  assert.ok(Math.abs(scalars.find((s) => s.tag === 'valLoss')!.v - 0.6) < 1e-6, 'float32 of 0.6');
  assert.deepEqual(scalars.filter((s) => s.step === 5), [{ step: 5, tag: 'fine-tune/other', v: 3 }], 'NaN skipped, the stage prefixes the tag');

  // a torn last record and a flipped byte are caught
  const bytes = readFileSync(file);
  writeFileSync(join(dir, 'flip'), Uint8Array.from(bytes, (b, i) => (i === bytes.length - 6 ? b ^ 1 : b)));
  assert.throws(() => readTfRecords(join(dir, 'flip')), /bad data CRC/);
  truncateSync(file, statSync(file).size - 3);
  assert.throws(() => readTfRecords(file), /the file ends first/);

  // report reads the folder: the run section and grouped curves
  const inputs = loadReportInputs([run]);
  assert.equal(inputs.runs!.length, 1);
  assert.deepEqual(Object.keys(inputs.metrics[0]!.rows[3]!).sort(), ['fine-tune/other', 'step'], 'the stage prefixes the names, null is no value');
  assert.equal(defaultRunDir('models/mlp.safetensors'), 'models/mlp.run');
});

test('train writes a run folder beside --out, prune to --run-dir; report charts it; bad run folders get clear errors', { skip: kernelFree }, async () => {
  const out = join(dir, 'tiny.safetensors');
  const r = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '6', '--batch-size', '16', '--out', out, '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  const run = join(dir, 'tiny.run');
  assert.equal(r.json['runDir'], run);
  for (const f of ['run.json', 'metrics.jsonl']) assert.ok(existsSync(join(run, f)), f);
  const info = JSON.parse(readFileSync(join(run, 'run.json'), 'utf8')) as { config: Record<string, unknown>; summary: Record<string, unknown> };
  assert.equal(info.config['model'], 'mlp-tiny');
  assert.equal(info.summary['testAccuracy'], r.json['testAccuracy']);
  const html = await renderReport(loadReportInputs([run]));
  for (const s of ['Run: tensorslim train', 'data-chart="curves-loss"', 'data-chart="curves-accuracy"', 'mlp-tiny']) assert.ok(html.includes(s), s);
  const rep = await cli('report', run, '--out', join(dir, 'run.html'), '--json');
  assert.equal(rep.code, 0, rep.ctx.stderr.join('\n'));
  assert.deepEqual(rep.json['runs'], [join(run, 'run.json')]);

  // prune's fine-tuning logs to its run folder, each row tagged with its stage
  const pruneRun = join(dir, 'prune.run');
  const pr = await cli('prune', '--model', out, '--dataset', 'mnist', '--amount', '0.5', '--finetune-steps', '2', '--batch-size', '16', '--run-dir', pruneRun, '--json');
  assert.equal(pr.code, 0, pr.ctx.stderr.join('\n'));
  const pruneRows = readFileSync(join(pruneRun, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(pruneRows.length > 0 && pruneRows.every((row) => typeof row['stage'] === 'string'), JSON.stringify(pruneRows));
  assert.equal((JSON.parse(readFileSync(join(pruneRun, 'run.json'), 'utf8')) as { command: string }).command, 'prune');

  // an explicit --run-dir that is a file is refused before training
  writeFileSync(join(dir, 'afile'), 'x');
  const bad = await cli('train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '1', '--run-dir', join(dir, 'afile'));
  assert.equal(bad.code, 2);
  assert.match(bad.ctx.stderr.join('\n'), /--run-dir/);

  // run.json without metrics, and a malformed run.json
  const noMetrics = join(dir, 'nometrics.run');
  mkdirSync(noMetrics);
  writeFileSync(join(noMetrics, 'run.json'), readFileSync(join(run, 'run.json')));
  assert.match((await cli('report', noMetrics, '--out', join(dir, 'x.html'))).ctx.stderr.join('\n'), /has run\.json but no metrics\.jsonl/);
  const malformed = join(dir, 'malformed.run');
  mkdirSync(malformed);
  writeFileSync(join(malformed, 'run.json'), '{"kind": "tensorslim-run", "command": "train"}');
  writeFileSync(join(malformed, 'metrics.jsonl'), '{"step": 1, "loss": 1}\n');
  assert.match((await cli('report', malformed, '--out', join(dir, 'x.html'))).ctx.stderr.join('\n'), /malformed run\.json/);
  rmSync(join(malformed, 'run.json'));
  writeFileSync(join(malformed, 'metrics.jsonl'), '{"step": 1, "loss": 1}\n{"step": 2, "loss"\n');
  assert.match((await cli('report', malformed, '--out', join(dir, 'x.html'))).ctx.stderr.join('\n'), /metrics\.jsonl:2: not a JSON line/);
});
