// The HTML report: one self-contained file (no scripts, no network: charts are SVG rendered in
// Node by Vega-Lite + Vega, styles inlined, a Content-Security-Policy that forbids every load) with
// the op-time breakdown, the step breakdown, the memory timeline, memory estimate vs peak, the
// machine and versions, and training curves from metrics JSON lines. Renders; never measures.

import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { FrontierFile, ProfileFile, ReportInputs } from './run_files.js';
import type { RunFile } from './run_log.js';
import { placeKernels, type MachineRoofs } from './roofline.js';

/** Settings of renderReport. */
export interface ReportOptions {
  title?: string;
  /** Extra version lines for the machine section, e.g. { tensorslim: '0.1.0' }. */
  versions?: Record<string, string>;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : '-');
function bytes(n: number): string {
  const u = ['B', 'KB', 'MB', 'GB'];
  let i = 0, x = n;
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
  return `${x.toFixed(i === 0 ? 0 : 1)} ${u[i]}`;
}

/** Render a Vega-Lite spec to an SVG string in Node (no canvas, no browser). @example await chartSvg({ mark: 'bar', data: { values: [] } }) */
export async function chartSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const WIDTH = 640;

// one color per step phase in every chart
const PHASE_DOMAIN = ['data', 'forward', 'backward', 'optimizer', 'comm', 'other'];
const PHASE_RANGE = ['#9e9e9e', '#4c78a8', '#f58518', '#e45756', '#b279a2', '#72b7b2'];
// the step accounting's parts (they sum to the step; docs/PROFILING.md "Accounting")
const PART_DOMAIN = ['ops: kernels', 'ops: dispatch', 'optimizer', 'data', 'garbage collection', 'communication', 'unattributed'];
const PART_RANGE = ['#4c78a8', '#9ecae9', '#e45756', '#9e9e9e', '#54a24b', '#b279a2', '#000000'];

function figure(name: string, caption: string, svg: string): string {
  return `<figure class="chart" data-chart="${esc(name)}">${svg}<figcaption>${esc(caption)}</figcaption></figure>`;
}

async function profileSection(name: string, f: ProfileFile, index: number): Promise<string> {
  const p = f.profile;
  const top = p.kernels.slice(0, 15);
  const opRows = top.flatMap((k) => ([['data', k.phaseMs.data], ['forward', k.phaseMs.forward], ['backward', k.phaseMs.backward], ['optimizer', k.phaseMs.optimizer], ['comm', k.phaseMs.comm ?? 0], ['other', k.phaseMs.other]] as const)
    .filter(([, v]) => v > 0).map(([phase, ms]) => ({ kernel: k.name, phase, ms })));
  const ops = await chartSvg({
    width: WIDTH, height: { step: 16 }, data: { values: opRows }, mark: 'bar',
    encoding: {
      y: { field: 'kernel', type: 'nominal', sort: top.map((k) => k.name), title: null },
      x: { field: 'ms', type: 'quantitative', aggregate: 'sum', title: 'time in kernel (ms, all profiled steps)' },
      color: { field: 'phase', type: 'nominal', scale: { domain: PHASE_DOMAIN, range: PHASE_RANGE } },
    },
  });
  // profiles written before the accounting existed show their phases instead
  const partsOf = (st: (typeof p.steps)[number]): (readonly [string, number])[] => (st.accounting
    ? [['ops: kernels', st.accounting.opsKernel], ['ops: dispatch', st.accounting.ops - st.accounting.opsKernel], ['optimizer', st.accounting.optimizer], ['data', st.accounting.data],
      ['garbage collection', st.accounting.gc], ['communication', st.accounting.comm], ['unattributed', Math.max(0, st.accounting.unattributed)]]
    : [['data', st.dataMs], ['forward', st.forwardMs], ['backward', st.backwardMs], ['optimizer', st.optimizerMs], ['other', st.otherMs]]);
  const hasParts = p.steps.every((st) => st.accounting !== undefined);
  const stepRows = p.steps.flatMap((st) => partsOf(st).map(([part, ms], o) => ({ step: `step ${st.index + 1}`, part, ms, o })));
  const steps = await chartSvg({
    width: WIDTH, height: { step: 22 }, data: { values: stepRows }, mark: 'bar',
    encoding: {
      y: { field: 'step', type: 'nominal', title: null },
      x: { field: 'ms', type: 'quantitative', title: 'ms' },
      color: { field: 'part', type: 'nominal', title: hasParts ? 'accounting' : 'phase', scale: hasParts ? { domain: PART_DOMAIN, range: PART_RANGE } : { domain: PHASE_DOMAIN, range: PHASE_RANGE } },
      order: { field: 'o', type: 'quantitative' },
    },
  });
  const memRows = p.memory.timeline.flatMap((m) => ([['parameters', m.params], ['gradients', m.grads], ['optimizer state', m.optimizerState], ['activations', m.activations]] as const)
    .map(([part, b]) => ({ t: m.t, part, MB: b / 2 ** 20 })));
  const memory = await chartSvg({
    width: WIDTH, height: 220, data: { values: memRows }, mark: { type: 'area', interpolate: 'step-after' },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'time since start (ms)' },
      y: { field: 'MB', type: 'quantitative', stack: 'zero', title: 'MiB' },
      color: { field: 'part', type: 'nominal', scale: { domain: ['parameters', 'gradients', 'optimizer state', 'activations'] } },
    },
  });
  const roofline = f.roofs ? await rooflineFigure(f.roofs, p.kernels) : '';
  const kernelTable = top.map((k) => `<tr><td>${esc(k.name)}</td><td>${k.calls}</td><td>${fmt(k.totalMs)}</td><td>${k.opSelfMs !== undefined ? fmt(k.opSelfMs) : '-'}</td><td>${fmt(k.phaseMs.forward)}</td><td>${fmt(k.phaseMs.backward)}</td>`
    + `<td>${k.flops > 0 ? fmt(k.gflops) : '-'}</td><td>${k.bytes > 0 ? fmt(k.gbps) : '-'}</td><td>${fmt(100 * k.share, 1)}%</td></tr>`).join('');
  const e = f.estimate;
  const stepMean = p.steps.length ? p.stepMs / p.steps.length : 0;
  const m = p.machine;
  return `<section id="profile-${index}">
<h2>${esc(f.model)} <small>${esc(name)}</small></h2>
<p>${esc(p.backend)} backend, batch ${f.batch}, ${p.steps.length} profiled steps, ${fmt(stepMean)} ms per step; GC ${p.gc.count} times, ${fmt(p.gc.ms)} ms; losses ${f.losses.map((l) => fmt(l, 4)).join(', ')}</p>
<h3>Op-time breakdown</h3>
${figure('op-time', 'Time per backend kernel, split by the step phase that called it.', ops)}
<table><thead><tr><th>kernel</th><th>calls</th><th>total ms</th><th>op self ms</th><th>fwd ms</th><th>bwd ms</th><th>GFLOP/s</th><th>GB/s</th><th>share</th></tr></thead><tbody>${kernelTable}</tbody></table>
${roofline}
<h3>Step breakdown</h3>
${figure('steps', hasParts
    ? 'Each profiled step as parts that sum to it: ops (kernels and the JavaScript dispatch before each), optimizer, data, garbage collection, communication and the unattributed rest.'
    : 'Each profiled step by phase (GC time is inside the phases it paused).', steps)}
<h3>Memory timeline</h3>
${figure('memory', 'Bytes of parameters, gradients, optimizer state and saved activations, sampled at every phase boundary.', memory)}
<table><tbody>
<tr><th>estimate before training</th><td>params ${bytes(e.params)} + grads ${bytes(e.grads)} + optimizer ${bytes(e.optimizerState)} + activations ${bytes(e.activations)} = ${bytes(e.total)}</td></tr>
<tr><th>measured peak (same parts)</th><td>${bytes(p.memory.peakAccounted)}${p.memory.peakAccounted > 0 ? ` (estimate ${fmt(100 * (e.total / p.memory.peakAccounted - 1), 1)}%)` : ''}</td></tr>
<tr><th>all ArrayBuffers / RSS peak</th><td>${bytes(p.memory.peakArrayBuffers)} / ${bytes(p.memory.peakRss)}</td></tr>
</tbody></table>
<h3>Machine</h3>
<table><tbody><tr><th>CPU</th><td>${esc(m.cpu)} (${m.cores} cores)</td></tr><tr><th>Node</th><td>${esc(m.node)} ${esc(m.platform)}</td></tr><tr><th>date</th><td>${esc(m.date)}</td></tr></tbody></table>
</section>`;
}

// curves are grouped so that one y axis holds comparable numbers
const CURVE_GROUPS: { name: string; title: string; test: (k: string) => boolean }[] = [
  { name: 'loss', title: 'loss', test: (k) => /loss/i.test(k) },
  { name: 'accuracy', title: 'accuracy', test: (k) => /acc/i.test(k) },
  { name: 'lr', title: 'learning rate', test: (k) => /(^|\/)lr$/.test(k) },
  { name: 'throughput', title: 'samples/s', test: (k) => /samplesPerSecond|tokensPerSecond/.test(k) },
];
const NOT_CURVES = new Set(['step', 'epoch', 'time', 'seconds']);

async function metricsSection(name: string, rows: readonly Record<string, number>[], index: number): Promise<string> {
  const x = rows.every((r) => typeof r['step'] === 'number') ? 'step' : rows.every((r) => typeof r['epoch'] === 'number') ? 'epoch' : null;
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((k) => k !== x && !NOT_CURVES.has(k));
  const groups = CURVE_GROUPS.map((g) => ({ ...g, keys: keys.filter((k) => g.test(k)) }));
  const rest = keys.filter((k) => !CURVE_GROUPS.some((g) => g.test(k)));
  if (rest.length > 0) groups.push({ name: 'other', title: 'value', test: () => false, keys: rest });
  const figures: string[] = [];
  for (const g of groups) {
    if (g.keys.length === 0) continue;
    const values = rows.flatMap((r, i) => g.keys.filter((k) => typeof r[k] === 'number').map((k) => ({ x: x ? r[x]! : i, metric: k, value: r[k]! })));
    const many = values.length / g.keys.length > 60;
    const svg = await chartSvg({
      width: WIDTH, height: g.name === 'loss' ? 240 : 160, data: { values }, mark: { type: 'line', point: !many },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: x ?? 'row' },
        y: { field: 'value', type: 'quantitative', title: g.title, scale: { zero: false } },
        color: { field: 'metric', type: 'nominal', legend: { labelLimit: 280 } },
      },
    });
    figures.push(figure(`curves-${g.name}`, `${g.keys.join(', ')} by ${x ?? 'row'}.`, svg));
  }
  return `<section id="metrics-${index}"><h2>Training curves <small>${esc(name)} (${rows.length} rows)</small></h2>${figures.join('\n')}</section>`;
}

/** The rows no other row beats on both axes (lower cost, higher accuracy), sorted by cost. */
function pareto<T extends { testAccuracy: number }>(rows: readonly T[], cost: (r: T) => number): T[] {
  const sorted = [...rows].sort((a, b) => cost(a) - cost(b) || b.testAccuracy - a.testAccuracy);
  const out: T[] = [];
  for (const r of sorted) if (out.length === 0 || r.testAccuracy > out[out.length - 1]!.testAccuracy) out.push(r);
  return out;
}

async function frontierSection(name: string, f: FrontierFile, index: number): Promise<string> {
  const rows = f.rows.map((r) => ({ ...r, accuracy: 100 * r.testAccuracy, kb: r.bytesOnDisk / 1024, us: r.latencyBatch1 * 1e6 }));
  const chart = async (field: 'kb' | 'us', title: string): Promise<string> => {
    const front = pareto(rows, (r) => r[field]);
    return chartSvg({
      width: WIDTH / 2 - 30, height: 260,
      layer: [
        { data: { values: front }, mark: { type: 'line', color: '#bbb', strokeDash: [4, 3] }, encoding: { x: { field, type: 'quantitative', scale: { type: 'log' }, title }, y: { field: 'accuracy', type: 'quantitative', scale: { zero: false }, title: 'test accuracy (%)' } } },
        { data: { values: rows }, mark: { type: 'point', filled: true, size: 90 }, encoding: { x: { field, type: 'quantitative', scale: { type: 'log' } }, y: { field: 'accuracy', type: 'quantitative' }, color: { field: 'stage', type: 'nominal', legend: null } } },
        { data: { values: rows }, mark: { type: 'text', align: 'left', dx: 7, dy: -7, fontSize: 10 }, encoding: { x: { field, type: 'quantitative', scale: { type: 'log' } }, y: { field: 'accuracy', type: 'quantitative' }, text: { field: 'stage' }, color: { field: 'stage', type: 'nominal', legend: null } } },
      ],
    });
  };
  const table = f.rows.map((r) => `<tr><td>${esc(r.stage)}</td><td>${esc(r.model)}</td><td>${r.params}</td><td>${r.nonzeroParams}</td><td>${bytes(r.bytesOnDisk)}</td><td>${fmt(100 * r.testAccuracy)}%</td>`
    + `<td>${fmt(r.latencyBatch1 * 1e6, 1)} µs</td><td>${r.latencyBatch256 !== undefined ? `${fmt(r.latencyBatch256 * 1e6, 2)} µs` : '-'}</td></tr>`).join('');
  return `<section id="frontier-${index}"><h2>Accuracy / size / latency <small>${esc(name)}, ${esc(f.dataset)}</small></h2>
<div class="cols">${figure('frontier-size', 'Test accuracy against size on disk (log scale); the dashed line joins the rows no other row beats.', await chart('kb', 'size on disk (KB)'))}
${figure('frontier-latency', 'Test accuracy against latency per sample at batch 1 (log scale).', await chart('us', 'latency per sample, batch 1 (µs)'))}</div>
<table><thead><tr><th>stage</th><th>model</th><th>params</th><th>non-zero</th><th>size</th><th>test acc</th><th>latency b=1</th><th>latency b=256</th></tr></thead><tbody>${table}</tbody></table></section>`;
}

function value(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
  if (typeof v === 'string') return esc(v);
  return esc(JSON.stringify(v) ?? 'null');
}

function runSection(name: string, f: RunFile, index: number): string {
  const m = f.machine;
  const rows = (o: Record<string, unknown>): string => Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${value(v)}</td></tr>`).join('');
  return `<section id="run-${index}"><h2>Run: tensorslim ${esc(f.command)} <small>${esc(name)}</small></h2>
<p>started ${esc(f.started)}${f.finished ? `, finished ${esc(f.finished)}` : ' (not finished: it is still running or it stopped before the end)'}</p>
<div class="cols"><table><thead><tr><th colspan="2">configuration</th></tr></thead><tbody>${rows(f.config)}</tbody></table>
${f.summary ? `<table><thead><tr><th colspan="2">result</th></tr></thead><tbody>${rows(f.summary)}</tbody></table>` : ''}</div>
<table><tbody><tr><th>CPU</th><td>${esc(m.cpu)} (${m.cores} cores), ${esc(m.backend)} backend, CPU path ${esc(m.cpuPath)}, ${m.threads} thread(s)</td></tr><tr><th>Node</th><td>${esc(m.node)} ${esc(m.platform)}</td></tr></tbody></table>
</section>`;
}

async function rooflineFigure(r: MachineRoofs, kernels: ProfileFile['profile']['kernels']): Promise<string> {
  const places = placeKernels(kernels, r);
  const onChart = places.filter((k) => k.intensity > 0 && k.gflops > 0);
  const lo = Math.min(1 / 16, ...onChart.map((k) => k.intensity / 2)), hi = Math.max(256, ...onChart.map((k) => k.intensity * 2));
  const roof = Array.from({ length: 41 }, (_, i) => lo * (hi / lo) ** (i / 40)).map((x) => ({ x, y: Math.min(r.fmaGflops, r.copyGbps * x), line: `roof: ${fmt(r.copyGbps, 1)} GB/s, ${fmt(r.fmaGflops, 1)} GFLOP/s` }));
  const gemm = [{ x: lo, y: r.gemmGflops, line: `our GEMM ${fmt(r.gemmGflops, 1)} GFLOP/s` }, { x: hi, y: r.gemmGflops, line: `our GEMM ${fmt(r.gemmGflops, 1)} GFLOP/s` }];
  const ymin = Math.min(...onChart.map((k) => k.gflops / 2), r.copyGbps * lo);
  const svg = await chartSvg({
    width: WIDTH, height: 320,
    layer: [
      {
        data: { values: [...roof, ...gemm] }, mark: { type: 'line' },
        encoding: {
          x: { field: 'x', type: 'quantitative', scale: { type: 'log', domain: [lo, hi] }, title: 'arithmetic intensity (FLOP per byte moved)' },
          y: { field: 'y', type: 'quantitative', scale: { type: 'log', domain: [ymin, Math.max(r.fmaGflops, ...onChart.map((k) => k.gflops)) * 1.5] }, title: 'GFLOP/s' },
          color: { field: 'line', type: 'nominal', scale: { range: ['#555', '#bbb'] }, title: null, legend: { labelLimit: 360, orient: 'bottom' } },
          strokeDash: { field: 'line', type: 'nominal', legend: null },
        },
      },
      {
        data: { values: onChart.map((k) => ({ ...k, pct: 100 * k.share })) }, mark: { type: 'point', filled: true },
        encoding: {
          x: { field: 'intensity', type: 'quantitative', scale: { type: 'log' } },
          y: { field: 'gflops', type: 'quantitative', scale: { type: 'log' } },
          size: { field: 'pct', type: 'quantitative', title: '% of step', scale: { range: [30, 600] } },
          shape: { field: 'bound', type: 'nominal', scale: { domain: ['memory', 'compute'] } },
        },
      },
      {
        data: { values: onChart.filter((k) => k.share >= 0.03) }, mark: { type: 'text', align: 'left', dx: 8, dy: -6, fontSize: 10 },
        encoding: { x: { field: 'intensity', type: 'quantitative' }, y: { field: 'gflops', type: 'quantitative' }, text: { field: 'name' } },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  });
  const rows = places.slice(0, 15).map((k) => `<tr><td>${esc(k.name)}</td><td>${k.intensity > 0 ? fmt(k.intensity) : '-'}</td><td>${k.bound}</td><td>${fmt(100 * k.ofRoof, 1)}%</td><td>${fmt(100 * k.share, 1)}%</td></tr>`).join('');
  return `<h3>Roofline</h3>
${figure('roofline', `Kernels against this machine's roofs (${r.cpuPath} path, ${r.threads} threads, measured ${r.measured.slice(0, 10)}): copy bandwidth ${fmt(r.copyGbps, 1)} GB/s, multiply-add peak ${fmt(r.fmaGflops, 1)} GFLOP/s, our GEMM ${fmt(r.gemmGflops, 1)} GFLOP/s. Size: share of the step. Kernels without FLOPs are in the table only.`, svg)}
<table><thead><tr><th>kernel</th><th>FLOP/byte</th><th>bound</th><th>of its roof</th><th>share</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:900px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}h2 small{color:#888;font-weight:normal;font-size:.6em}
table{border-collapse:collapse;margin:.8em 0}td,th{padding:.2em .7em;border-bottom:1px solid #eee;text-align:right}td:first-child,th:first-child{text-align:left}
figure{margin:1em 0}figcaption{color:#666;font-size:.9em}.cols{display:flex;gap:2em;flex-wrap:wrap;align-items:flex-start}`;

/**
 * Render a report of profiles and training metrics as one self-contained HTML document.
 * @example writeFileSync('report.html', await renderReport(loadReportInputs(['mlp.profile.json'])));
 */
export async function renderReport(inputs: ReportInputs, opts: ReportOptions = {}): Promise<string> {
  if (inputs.profiles.length === 0 && inputs.metrics.length === 0 && (inputs.frontiers ?? []).length === 0) throw new Error('renderReport: nothing to report (no profiles, metrics or frontiers)');
  const sections: string[] = [];
  for (const [i, r] of (inputs.runs ?? []).entries()) sections.push(runSection(r.name, r.file, i));
  for (const [i, m] of inputs.metrics.entries()) sections.push(await metricsSection(m.name, m.rows, i));
  for (const [i, f] of (inputs.frontiers ?? []).entries()) sections.push(await frontierSection(f.name, f.file, i));
  for (const [i, p] of inputs.profiles.entries()) sections.push(await profileSection(p.name, p.file, i));
  const versions = { ...opts.versions, vega: vega.version, 'vega-lite': vl.version, node: process.version };
  const title = opts.title ?? 'tensorslim report';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body><h1>${esc(title)}</h1>
<p>${(inputs.runs ?? []).length} run(s), ${inputs.metrics.length} metrics file(s), ${(inputs.frontiers ?? []).length} frontier(s), ${inputs.profiles.length} profile(s). Versions: ${Object.entries(versions).map(([k, v]) => `${esc(k)} ${esc(v)}`).join(', ')}.</p>
${sections.join('\n')}
</body></html>
`;
}
