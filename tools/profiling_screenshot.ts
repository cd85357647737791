// Regenerates docs/images/profiling-report.png: a real small run rendered by `tensorslim report`
// and photographed by headless Chromium (Debian's `chromium`, driven from its command line as the
// report tests do). The run: `tensorslim demo --steps N` (training curves of every stage and the
// accuracy / size / latency frontier, in <tmp>/out/demo.run), whose profile.json is then replaced
// by a profile of gpt-tiny (`tensorslim profile --model gpt-tiny --out`, with the machine's roofs),
// so the report shows all ten charts: four curve groups, two frontier charts, op time, roofline,
// step accounting and memory timeline.
//   usage: npx tsx tools/profiling_screenshot.ts [--steps N] [--out docs/images/profiling-report.png] [--keep]
// Needs the Fashion-MNIST data the demo uses and chromium (apt-get install -y chromium, or
// CHROMIUM_PATH). Takes a few minutes on a 2-core machine. The page is photographed in a 1100 x 5800
// window (the report of this run is about 5600 px tall: every section fits).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, dflt: string): string => { const i = process.argv.indexOf(`--${name}`); return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt; };
const steps = arg('steps', '40');
const outPng = resolve(arg('out', join(root, 'docs/images/profiling-report.png')));
const keep = process.argv.includes('--keep');
const CHARTS = ['curves-accuracy', 'curves-loss', 'curves-lr', 'curves-throughput', 'frontier-latency', 'frontier-size', 'memory', 'op-time', 'roofline', 'steps'];

const chromium = [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
if (!chromium) throw new Error('profiling_screenshot: Chromium is not installed (apt-get install -y chromium, or set CHROMIUM_PATH)');

const tmp = mkdtempSync(join(tmpdir(), 'tensorslim-screenshot-'));
function tensorslim(...args: string[]): void {
  console.error(`$ tensorslim ${args.join(' ')}`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, TENSORSLIM_CACHE_DIR: process.env['TENSORSLIM_CACHE_DIR'] ?? join(tmp, 'cache') } });
  if (r.status !== 0) throw new Error(`profiling_screenshot: 'tensorslim ${args.join(' ')}' exited ${String(r.status)}`);
}

try {
  const run = join(tmp, 'out', 'demo.run');
  tensorslim('demo', '--steps', steps, '--out-dir', join(tmp, 'out'), '--report', join(tmp, 'demo.html'));
  tensorslim('profile', '--model', 'gpt-tiny', '--batch', '4', '--steps', '2', '--out', join(run, 'profile.json'));
  const html = join(tmp, 'report.html');
  tensorslim('report', run, '--out', html, '--title', 'tensorslim report: demo run and gpt-tiny profile');
  const found = [...readFileSync(html, 'utf8').matchAll(/data-chart="([^"]+)"/g)].map((m) => m[1]!).sort();
  const missing = CHARTS.filter((c) => !found.includes(c));
  if (missing.length > 0) throw new Error(`profiling_screenshot: the report lacks the charts ${missing.join(', ')} (has ${found.join(', ')})`);
  const tmpPng = join(tmp, 'shot.png');
  const shot = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run',
    '--hide-scrollbars', '--window-size=1100,5800', `--screenshot=${tmpPng}`, pathToFileURL(html).href], { encoding: 'utf8', timeout: 120_000 });
  if (shot.status !== 0 || !existsSync(tmpPng)) throw new Error(`profiling_screenshot: chromium --screenshot exited ${String(shot.status)}: ${shot.stderr}`);
  // atomically, beside the target (the temp folder may be on another file system)
  writeFileSync(`${outPng}.tmp`, readFileSync(tmpPng));
  renameSync(`${outPng}.tmp`, outPng);
  console.error(`wrote ${outPng}`);
} finally {
  if (keep) console.error(`kept ${tmp}`); else rmSync(tmp, { recursive: true, force: true });
}
