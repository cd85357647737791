// `tensorslim report`: one self-contained HTML file (charts as inline SVG, no scripts, no network)
// from profile files (`tensorslim profile --out`) and training metrics (JSON lines), or a folder of
// them. The work is in src/report (loadReportInputs, renderReport).

import { writeFileAtomic } from '../../io/index.js';
import { loadReportInputs, renderReport } from '../../report/index.js';
import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import { UsageError, type Command } from '../command.js';
import { emitJson, fmtBytes, humanWriter } from '../output.js';
import { version } from '../version.js';

const FLAGS = {
  out: { type: 'string', metavar: 'FILE', help: 'the HTML file to write (required)' },
  title: { type: 'string', metavar: 'TEXT', help: "the report's title", default: 'tensorslim report' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

// parseArgs takes a fixed list of positionals: allow up to 32 inputs (a folder counts as one)
const INPUT_NAMES = Array.from({ length: 32 }, (_, i) => (i === 0 ? 'file|folder' : `input ${i + 1}`));

/** `tensorslim report <files|folder> --out report.html`. @example await main(['report', 'mlp.profile.json', '--out', 'r.html'], ctx) */
export const reportCommand: Command = {
  name: 'report',
  summary: 'one self-contained HTML report from profiles and training metrics',
  usage: `Usage: tensorslim report <file|folder>... --out report.html [--title TEXT] [--json]

Write one HTML file, viewable offline (charts rendered to SVG here, no scripts, nothing fetched),
from profile files written by 'tensorslim profile --out' (op-time breakdown, step breakdown,
memory timeline, memory estimate vs peak, machine), run folders written by 'tensorslim train'
(--run-dir, default beside --out: run.json with the config and machine, metrics.jsonl: training
and validation curves) and training metrics as JSON lines (*.jsonl, one object per line, e.g.
{"step": 10, "loss": 0.42}). A folder means its .json and .jsonl files.

Options:
${formatFlags(FLAGS)}

Examples:
  tensorslim profile --model mlp --out runs/mlp/profile.json && tensorslim report runs/mlp --out report.html
  tensorslim train --model mlp --dataset mnist --epochs 3 --out mlp.safetensors && tensorslim report mlp.run --out report.html
  tensorslim report a.profile.json b.profile.json metrics.jsonl --out report.html`,
  async run(argv, ctx) {
    const { flags, positionals } = parseArgs('report', argv, FLAGS, { names: INPUT_NAMES, min: 1 });
    if (flags.out === undefined) throw new UsageError('report', '--out <file.html> is required');
    const inputs = loadReportInputs(positionals);
    const html = await renderReport(inputs, { title: flags.title, versions: { tensorslim: version() } });
    const data = new TextEncoder().encode(html);
    writeFileAtomic(flags.out, data, 'report --out');
    const say = humanWriter(ctx, flags.json);
    const runs = inputs.runs ?? [];
    say(`wrote ${flags.out} (${fmtBytes(data.length)}): ${inputs.profiles.length} profile(s), ${inputs.metrics.length} metrics file(s), ${runs.length} run(s)`);
    if (flags.json) emitJson(ctx, { command: 'report', out: flags.out, bytes: data.length, profiles: inputs.profiles.map((p) => p.name), metrics: inputs.metrics.map((m) => m.name), runs: runs.map((r) => r.name) });
    return 0;
  },
};
