// The tensorslim CLI dispatcher: finds the command, answers --help / --version, runs it, and maps
// errors to exit codes (2 usage, 1 failure). Commands live in ./commands/<name>.ts; to add one,
// import it here and append it to COMMANDS (see src/cli/README-commands.md).
// This module has no side effects on import: src/cli/main.ts (tsx) and bin/tensorslim.js (dist)
// call main().

import { UsageError, processContext, type CliContext, type Command } from './command.js';
import { emitJson } from './output.js';
import { version } from './version.js';
import { infoCommand } from './commands/info.js';
import { trainCommand } from './commands/train.js';
import { evalCommand } from './commands/eval.js';
import { summaryCommand } from './commands/summary.js';
import { exportCommand } from './commands/export.js';
import { demoCommand } from './commands/demo.js';
import { benchCommand } from './commands/bench.js';
import { generateCommand } from './commands/generate.js';
import { pruneCommand } from './commands/prune.js';
import { distillCommand } from './commands/distill.js';
import { launchCommand } from './commands/launch.js';
import { profileCommand } from './commands/profile.js';
import { reportCommand } from './commands/report.js';
import { quantizeCommand } from './commands/quantize.js';

export { type Command, type CliContext, UsageError, processContext, captureContext, type CapturedContext } from './command.js';
export { version } from './version.js';
export { parseArgs, formatFlags, JSON_FLAG, type FlagSpec, type FlagSpecs, type ParsedArgs, type ParsedFlags } from './args.js';

/** Every command, in the order the global help lists them. */
export const COMMANDS: readonly Command[] = [demoCommand, trainCommand, evalCommand, summaryCommand, generateCommand, pruneCommand, quantizeCommand, distillCommand, exportCommand, launchCommand, benchCommand, profileCommand, reportCommand, infoCommand];

/** The global help text. @example console.log(globalHelp()) */
export function globalHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    `tensorslim ${version()}: train, shrink and measure neural networks in TypeScript`,
    '',
    'Usage: tensorslim <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Global options:',
    '  --help, -h     help (also: tensorslim <command> --help)',
    '  --version, -v  the version',
    '',
    'Every command that produces results takes --json: progress goes to stderr and the last line',
    'of stdout is one JSON object. Exit codes: 0 ok, 1 failure, 2 bad command line.',
    '',
    'Start with: tensorslim demo',
  ].join('\n');
}

/**
 * Run the CLI on `argv` (the arguments after `tensorslim`) and return the exit code.
 * Never calls process.exit, so tests can run it in-process with captureContext().
 *
 * @example
 * const ctx = captureContext();
 * const code = await main(['train', '--model', 'mlp-tiny', '--dataset', 'mnist', '--steps', '20', '--json'], ctx);
 * const result = JSON.parse(ctx.stdout.at(-1)!);
 */
export async function main(argv: readonly string[], ctx: CliContext = processContext()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic !== undefined) {
      const cmd = COMMANDS.find((c) => c.name === topic);
      if (cmd === undefined) return unknownCommand(ctx, topic);
      ctx.out(cmd.usage);
      return 0;
    }
    ctx.out(globalHelp());
    return 0;
  }
  if (first === '--version' || first === '-v') {
    ctx.out(version());
    return 0;
  }
  if (first.startsWith('-')) {
    ctx.err(`tensorslim: unknown option '${first}' (put options after the command)\n\n${globalHelp()}`);
    if (argv.includes('--json')) emitJson(ctx, { error: `unknown option '${first}' (put options after the command)`, exitCode: 2 });
    return 2;
  }
  const cmd = COMMANDS.find((c) => c.name === first);
  if (cmd === undefined) return unknownCommand(ctx, first, rest.includes('--json'));
  const flagArgs = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (flagArgs.includes('--help') || flagArgs.includes('-h')) {
    ctx.out(cmd.usage);
    return 0;
  }
  const json = flagArgs.includes('--json');
  try {
    return await cmd.run(rest, ctx);
  } catch (e) {
    const usage = e instanceof UsageError;
    const code = usage ? 2 : 1;
    const msg = e instanceof Error ? e.message : String(e);
    ctx.err(`tensorslim ${cmd.name}: ${usage ? '' : 'error: '}${msg}`);
    if (usage) ctx.err(`Run 'tensorslim ${cmd.name} --help' for usage.`);
    else if (ctx.env['TENSORSLIM_DEBUG'] && e instanceof Error && e.stack) ctx.err(e.stack);
    if (json) emitJson(ctx, { error: msg, exitCode: code });
    return code;
  }
}

function unknownCommand(ctx: CliContext, name: string, json = false): number {
  const msg = `unknown command '${name}'; commands: ${COMMANDS.map((c) => c.name).join(', ')}`;
  ctx.err(`tensorslim: ${msg}\nRun 'tensorslim --help' for usage.`);
  if (json) emitJson(ctx, { error: msg, exitCode: 2 });
  return 2;
}
