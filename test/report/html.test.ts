// The HTML report: rendered from a small profiled run and a metrics file, it is one self-contained
// file (no script, no external reference), and headless Chromium opening it makes no network
// request, logs nothing to the console, and finds marks in every chart; a screenshot is saved in
// the test's temp folder. The checker itself is shown to catch a page that does fetch. Bad inputs
// get clear errors.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync, statSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import '../../src/backends/native/index.js';
import { manualSeed } from '../../src/core/random.js';
import { createAnyModel } from '../../src/models/index.js';
import { renderReport } from '../../src/report/html.js';
import { loadReportInputs, makeProfileFile } from '../../src/report/run_files.js';
import { profileTraining } from '../../src/report/training.js';
import { machineRoofs } from '../../src/report/roofline.js';
import { cli } from '../cli/helpers.js';
import { findChromium, openHeadless } from './chromium.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-report-'));
const chromium = findChromium();

/** Each <figure class="chart"> with the number of drawn marks (path/rect/line/symbol elements inside role-mark groups). */
function chartMarks(html: string): { name: string; marks: number }[] {
  return [...html.matchAll(/<figure class="chart" data-chart="([^"]+)">([\s\S]*?)<\/figure>/g)].map(([, name, body]) => {
    const groups = [...body!.matchAll(/<g class="mark-(?:rect|line|area|symbol)[^"]*role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g)];
    const marks = groups.reduce((s, [, inner]) => s + (inner!.match(/<(path|rect|line)\b/g) ?? []).length, 0);
    return { name: name!, marks };
  });
}

async function buildRun(): Promise<string> {
  const run = join(dir, 'run');
  mkdirSync(run, { recursive: true });
  manualSeed(5);
  const r = await profileTraining(createAnyModel('mlp-tiny'), { batch: 8, steps: 2, warmup: 1 });
  const { roofs } = machineRoofs({ cachePath: join(dir, 'roofline.json'), seconds: 0.02, copyBytes: 4 * 2 ** 20 });
  writeFileSync(join(run, 'profile.json'), JSON.stringify(makeProfileFile('mlp-tiny', r, roofs)));
  writeFileSync(join(run, 'metrics.jsonl'), [1, 2, 3, 4].map((s) => JSON.stringify({ step: s, loss: 2 / s, valLoss: 2.2 / s })).join('\n') + '\n');
  return run;
}

test('report: self-contained HTML with every chart drawn; headless Chromium sees no requests, no console output, and marks', async (t) => {
  const run = await buildRun();
  const html = await renderReport(loadReportInputs([run]), { versions: { tensorslim: 'test' } });
  const file = join(dir, 'report.html');
  writeFileSync(file, html);
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(/i, 'no scripts and no external references');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  const charts = chartMarks(html);
  assert.deepEqual(charts.map((c) => c.name).sort(), ['curves-loss', 'memory', 'op-time', 'roofline', 'steps']);
  for (const c of charts) assert.ok(c.marks > 0, `chart ${c.name} has no marks`);
  for (const s of ['Op-time breakdown', 'Roofline', 'Memory timeline', 'Machine', 'Training curves', 'vega-lite']) assert.ok(html.includes(s), s);

  if ('skip' in chromium) { t.skip(chromium.skip); return; }
  const shot = join(dir, 'report.png');
  const page = openHeadless(chromium.path, file, dir, shot);
  assert.deepEqual(page.pageRequests, []);
  assert.deepEqual(page.console, []);
  const inBrowser = chartMarks(page.dom);
  assert.equal(inBrowser.length, charts.length, 'the browser shows every chart');
  for (const c of inBrowser) assert.ok(c.marks > 0, `chart ${c.name} has no marks in the browser's DOM`);
  assert.ok(existsSync(shot) && statSync(shot).size > 10_000, `screenshot at ${shot}`);
  t.diagnostic(`screenshot: ${shot}`);
});

test('report checker: a page that fetches and logs is caught', (t) => {
  if ('skip' in chromium) { t.skip(chromium.skip); return; }
  const bad = join(dir, 'bad.html');
  writeFileSync(bad, '<html><body><img src="http://127.0.0.1:9/x.png"><script>console.error("boom")</script></body></html>');
  const page = openHeadless(chromium.path, bad, dir, join(dir, 'bad.png'));
  assert.deepEqual(page.pageRequests, ['http://127.0.0.1:9/x.png']);
  assert.equal(page.console.length, 1);
});

test('report command: writes the file; missing, malformed and unwritable inputs get clear errors', async () => {
  const run = join(dir, 'run');
  if (!existsSync(run)) await buildRun();
  const out = join(dir, 'cli-report.html');
  const ok = await cli('report', run, '--out', out, '--json');
  assert.equal(ok.code, 0, ok.ctx.stderr.join('\n'));
  assert.ok(existsSync(out));
  assert.deepEqual(ok.json['metrics'], ['metrics.jsonl']);
  const missing = await cli('report', join(dir, 'nope'), '--out', out);
  assert.equal(missing.code, 1);
  assert.match(missing.ctx.stderr.join('\n'), /does not exist/);
  const malformed = join(dir, 'bad.jsonl');
  writeFileSync(malformed, '{"step": 1}\nnot json\n');
  const m = await cli('report', malformed, '--out', out);
  assert.equal(m.code, 1);
  assert.match(m.ctx.stderr.join('\n'), /bad\.jsonl:2: not a JSON line/);
  const notProfile = join(dir, 'other.json');
  writeFileSync(notProfile, '{"hello": 1}');
  assert.match((await cli('report', notProfile, '--out', out)).ctx.stderr.join('\n'), /neither a tensorslim profile .* nor a run\.json/);
  const broken = join(dir, 'broken.json');
  writeFileSync(broken, '{"kind": "tensorslim-profile", ');
  assert.match((await cli('report', broken, '--out', out)).ctx.stderr.join('\n'), /broken\.json: not valid JSON/);
  const empty = join(dir, 'empty');
  mkdirSync(empty, { recursive: true });
  assert.match((await cli('report', empty, '--out', out)).ctx.stderr.join('\n'), /holds no \.json or \.jsonl/);
  const unwritable = await cli('report', run, '--out', join(dir, 'no', 'dir', 'r.html'));
  assert.equal(unwritable.code, 1);
  assert.match(unwritable.ctx.stderr.join('\n'), /cannot write/);
  assert.equal((await cli('report', run)).code, 2, '--out is required');
});
