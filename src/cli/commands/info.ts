// `tensorslim info`: version, backend, CPU path, threads, CPU and Node.

import { formatFlags, THREADS_JSON_FLAGS, parseArgs, type FlagSpecs } from '../args.js';
import type { Command } from '../command.js';
import { emitJson, formatKeyValues } from '../output.js';
import { applyRuntimeFlags, runtimeInfo, type AddonInfo } from '../runtime.js';
import { version } from '../version.js';

const FLAGS = {
  backend: { type: 'string', help: 'backend to describe (default: TENSORSLIM_BACKEND or the best available)', metavar: 'NAME' },
  ...THREADS_JSON_FLAGS,
} as const satisfies FlagSpecs;

/** `tensorslim info [--json]`. @example await main(['info', '--json'], captureContext()) */
export const infoCommand: Command = {
  name: 'info',
  summary: 'version, backend, CPU path, threads',
  usage: `Usage: tensorslim info [options]

Print the version, the active backend (and the others available), the native CPU path, the kernel
threads, the CPU and Node.js, and which native addon loaded: 'local' (built here from source, in
native/build), 'prebuilt' (the package's binary for this platform, in prebuilds/; with its build
date, compiler and glibc baseline) or 'env' (TENSORSLIM_NATIVE_PATH); or why none did.

Options:
${formatFlags(FLAGS)}

Example:
  tensorslim info --json`,
  async run(argv, ctx) {
    const { flags } = parseArgs('info', argv, FLAGS);
    applyRuntimeFlags('info', { threads: flags.threads, backend: flags.backend });
    const info = runtimeInfo(version());
    if (flags.json) { emitJson(ctx, { command: 'info', ...info }); return 0; }
    ctx.out(formatKeyValues([
      ['version', info.version],
      ['backend', info.backend],
      ['backends', info.backends.join(', ')],
      ['cpu path', info.cpuPath],
      ['threads', String(info.threads)],
      ['cpu', `${info.cpu} (${info.cores} cores)`],
      ['node', `${info.node} ${info.platform}`],
      ...addonRows(info.addon),
    ]));
    return 0;
  },
};

function addonRows(a: AddonInfo | null): [string, string][] {
  if (a === null) return [];
  const rows: [string, string][] = [];
  if (a.loaded) {
    rows.push(['addon', `${a.source ?? 'unknown'}: ${a.path ?? ''}`]);
    if (a.prebuilt) rows.push(['addon build', `${a.prebuilt.builtAt}, ${a.prebuilt.compiler}, glibc >= ${a.prebuilt.glibc ?? 'n/a'}, N-API ${a.prebuilt.napiVersion}, ABI ${a.prebuilt.abiVersion}`]);
    for (const n of a.notes) rows.push(['addon note', n]);
  } else {
    rows.push(['addon', `not loaded: ${a.error ?? 'unknown reason'}`]); // the error includes every skipped candidate
  }
  return rows;
}
