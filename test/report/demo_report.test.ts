// `tensorslim demo --report`: one report with every chart the report has (training curves of each
// stage, the accuracy / size / latency frontier of the demo's rows, op-time breakdown, roofline,
// step breakdown, memory timeline), opened in headless Chromium: no requests, no console output,
// marks in every chart, a screenshot in the test's temp folder. An unwritable --report path is
// refused before any training.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli } from '../cli/helpers.js';
import { findChromium, openHeadless } from './chromium.js';

const skip = process.env['TENSORSLIM_BACKEND'] === 'reference'
  ? 'native pass only: the demo measures four models (slow on reference); the rendering it checks is backend-independent and html.test.ts covers the reference pass' : false;
const dir = mkdtempSync(join(tmpdir(), 'tensorslim-demo-report-'));
const chromium = findChromium();

function charts(html: string): { name: string; marks: number }[] {
  return [...html.matchAll(/<figure class="chart" data-chart="([^"]+)">([\s\S]*?)<\/figure>/g)].map(([, name, body]) => {
    const groups = [...body!.matchAll(/<g class="mark-(?:rect|line|area|symbol)[^"]*role-mark[^"]*"[^>]*>([\s\S]*?)<\/g>/g)];
    return { name: name!, marks: groups.reduce((s, [, inner]) => s + (inner!.match(/<(path|rect|line)\b/g) ?? []).length, 0) };
  });
}

test('demo --report writes a report with every chart; Chromium shows it without requests or console output', { skip }, async (t) => {
  process.env['TENSORSLIM_CACHE_DIR'] = join(dir, 'cache');
  const out = join(dir, 'demo.html');
  let r;
  try {
    r = await cli('demo', '--steps', '3', '--out-dir', join(dir, 'out'), '--report', out, '--json');
  } finally {
    delete process.env['TENSORSLIM_CACHE_DIR'];
  }
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['report'], out);
  for (const f of ['run.json', 'metrics.jsonl', 'frontier.json', 'profile.json']) assert.ok(existsSync(join(dir, 'out', 'demo.run', f)), f);
  const html = readFileSync(out, 'utf8');
  const found = charts(html);
  assert.deepEqual(found.map((c) => c.name).sort(), ['curves-accuracy', 'curves-loss', 'curves-lr', 'curves-throughput', 'frontier-latency', 'frontier-size', 'memory', 'op-time', 'roofline', 'steps']);
  for (const c of found) assert.ok(c.marks > 0, `chart ${c.name} has no marks`);
  for (const stage of ['dense (trained)', 'pruned 90% (CSR)', 'student alone', 'distilled student']) assert.ok(html.includes(stage), stage);
  for (const curve of ['dense/loss', 'gradual/loss', 'distilled/valLoss']) assert.ok(html.includes(curve), curve);
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\(/i);

  if ('skip' in chromium) { t.skip(chromium.skip); return; }
  const shot = join(dir, 'demo.png');
  const page = openHeadless(chromium.path, out, dir, shot);
  assert.deepEqual(page.pageRequests, []);
  assert.deepEqual(page.console, []);
  const inBrowser = charts(page.dom);
  assert.equal(inBrowser.length, found.length);
  for (const c of inBrowser) assert.ok(c.marks > 0, `chart ${c.name} has no marks in the browser's DOM`);
  assert.ok(statSync(shot).size > 10_000);
  t.diagnostic(`screenshot: ${shot}`);
});

test('demo --report to an unwritable path is refused before training', { skip }, async () => {
  const r = await cli('demo', '--steps', '1', '--out-dir', join(dir, 'out2'), '--report', join(dir, 'no', 'such', 'dir', 'r.html'));
  assert.equal(r.code, 2);
  assert.match(r.ctx.stderr.join('\n'), /--report .*r\.html/);
  assert.ok(!existsSync(join(dir, 'out2', 'demo.run')), 'nothing trained');
});
