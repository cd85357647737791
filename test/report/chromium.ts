// Headless Chromium for the report tests (not a test file: the runner globs *.test.ts). Drives
// Debian's `chromium` from its command line (npm puppeteer-core / playwright-core are not
// installed): --dump-dom for the DOM the browser built, --screenshot for a PNG, --log-net-log to
// see every request the page made, and console output from --enable-logging=stderr.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inCI } from '../helpers/requirements.js';

/** The Chromium binary, or why there is none (the tests skip with that reason). */
export function findChromium(): { path: string } | { skip: string } {
  for (const p of [process.env['CHROMIUM_PATH'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((x): x is string => !!x)) {
    if (existsSync(p)) return { path: p };
  }
  const why = 'Chromium is not installed (apt-get install -y chromium, or set CHROMIUM_PATH); CI installs it';
  // in CI a missing browser is a failure, not a skip (test/helpers/requirements.ts's rule)
  if (inCI()) throw new Error(`required in CI: ${why}`);
  return { skip: why };
}

const QUIET = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--no-first-run', '--disable-default-apps', '--disable-extensions', '--hide-scrollbars'];

/** What the browser saw. */
export interface HeadlessPage {
  dom: string;
  /** URLs the page itself requested (browser housekeeping requests, initiator 'not an origin', left out). */
  pageRequests: string[];
  /** Console messages the page produced. */
  console: string[];
}

/** Open `htmlFile` in headless Chromium; also save a screenshot to `screenshot`. */
export function openHeadless(chromium: string, htmlFile: string, workDir: string, screenshot: string): HeadlessPage {
  const url = pathToFileURL(htmlFile).href;
  const netLog = join(workDir, 'netlog.json');
  const dump = spawnSync(chromium, [...QUIET, '--enable-logging=stderr', '--v=0', `--log-net-log=${netLog}`, '--dump-dom', url], { encoding: 'utf8', timeout: 60_000 });
  if (dump.status !== 0) throw new Error(`chromium --dump-dom exited ${dump.status}: ${dump.stderr}`);
  const shot = spawnSync(chromium, [...QUIET, '--window-size=1000,2400', `--screenshot=${screenshot}`, url], { encoding: 'utf8', timeout: 60_000 });
  if (shot.status !== 0) throw new Error(`chromium --screenshot exited ${shot.status}: ${shot.stderr}`);
  const log = JSON.parse(readFileSync(netLog, 'utf8')) as { constants: { logEventTypes: Record<string, number> }; events: { type: number; params?: Record<string, unknown> }[] };
  const startJob = log.constants.logEventTypes['URL_REQUEST_START_JOB'];
  const pageRequests = log.events.filter((e) => e.type === startJob && typeof e.params?.['url'] === 'string' && e.params['initiator'] !== 'not an origin').map((e) => String(e.params?.['url']));
  const consoleLines = dump.stderr.split('\n').filter((l) => l.includes(':CONSOLE'));
  return { dom: dump.stdout, pageRequests, console: consoleLines };
}
