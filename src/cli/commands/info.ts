// `tensorslim info`: version, backend, CPU path, threads, CPU and Node.

import { formatFlags, JSON_FLAG, parseArgs, type FlagSpecs } from '../args.js';
import type { Command } from '../command.js';
import { emitJson, formatKeyValues } from '../output.js';
import { applyRuntimeFlags, runtimeInfo } from '../runtime.js';
import { version } from '../version.js';

const FLAGS = {
  backend: { type: 'string', help: 'backend to describe (default: TENSORSLIM_BACKEND or the best available)', metavar: 'NAME' },
  threads: { type: 'int', help: 'kernel threads to use', min: 1, metavar: 'N' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;

/** `tensorslim info [--json]`. @example await main(['info', '--json'], captureContext()) */
export const infoCommand: Command = {
  name: 'info',
  summary: 'version, backend, CPU path, threads',
  usage: `Usage: tensorslim info [options]

Print the version, the active backend (and the others available), the native CPU path, the kernel
threads, the CPU and Node.js.

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
    ]));
    return 0;
  },
};
