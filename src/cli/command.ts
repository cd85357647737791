// The contract every `tensorslim <command>` fulfils, and the context it runs in.
// A command is a module src/cli/commands/<name>.ts exporting one `Command` object, registered in
// src/cli/index.ts. Commands parse flags with args.ts, write through the context (never
// console.log directly, so tests can run them in-process) and return an exit code.
// Exit codes: 0 ok, 1 failure while running, 2 usage error (unknown flag, bad value).

/** Where a command writes. `out` is stdout (results), `err` is stderr (progress, warnings). */
export interface CliContext {
  /** Write one line (a newline is added) to stdout. */
  out(line: string): void;
  /** Write one line (a newline is added) to stderr. */
  err(line: string): void;
  /** Write raw text to stderr (progress bars redraw with it). */
  errRaw(text: string): void;
  /** True when stderr is a terminal: progress bars may redraw; otherwise print plain lines. */
  readonly errIsTTY: boolean;
  /** True when stdout is a terminal. */
  readonly outIsTTY: boolean;
  /** Environment variables (process.env by default). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * One CLI command.
 *
 * @example
 * export const hello: Command = {
 *   name: 'hello', summary: 'print a greeting', usage: 'tensorslim hello [--json]',
 *   async run(argv, ctx) { ctx.out('hello'); return 0; },
 * };
 */
export interface Command {
  /** The word after `tensorslim` (lowercase, e.g. 'train'). */
  readonly name: string;
  /** One line for the global help list. */
  readonly summary: string;
  /** Full help text printed by `tensorslim <name> --help` (usage line, flags, examples). */
  readonly usage: string;
  /**
   * Run with the arguments after the command name (`--help` never reaches here: the dispatcher
   * prints `usage`). Return the exit code; throw UsageError for bad flags (exit 2); any other
   * throw is printed as `tensorslim <name>: <message>` with exit code 1.
   */
  run(argv: readonly string[], ctx: CliContext): Promise<number>;
}

/**
 * A bad command line: unknown flag, bad value, missing argument. The dispatcher prints the message
 * and a hint to run --help, and exits with code 2.
 *
 * @example
 * throw new UsageError('train', "--epochs must be a positive integer, got 'ten'");
 */
export class UsageError extends Error {
  readonly command: string;
  constructor(command: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/**
 * The context of a real process: writes to process.stdout / process.stderr.
 *
 * @example
 * const code = await main(process.argv.slice(2), processContext());
 */
export function processContext(): CliContext {
  return {
    out: (line) => { process.stdout.write(`${line}\n`); },
    err: (line) => { process.stderr.write(`${line}\n`); },
    errRaw: (text) => { process.stderr.write(text); },
    errIsTTY: process.stderr.isTTY === true,
    outIsTTY: process.stdout.isTTY === true,
    env: process.env,
  };
}

/** A context that records everything written (for tests), with the lines split out. */
export interface CapturedContext extends CliContext {
  readonly stdout: string[];
  readonly stderr: string[];
}

/**
 * A context that keeps what a command writes in memory: run commands in-process in tests.
 *
 * @example
 * const ctx = captureContext();
 * await main(['info', '--json'], ctx);
 * JSON.parse(ctx.stdout.at(-1)!).version;
 */
export function captureContext(env: Readonly<Record<string, string | undefined>> = process.env): CapturedContext {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout, stderr,
    out: (line) => { stdout.push(...line.split('\n')); },
    err: (line) => { stderr.push(...line.split('\n')); },
    errRaw: (text) => { stderr.push(text); },
    errIsTTY: false,
    outIsTTY: false,
    env,
  };
}
