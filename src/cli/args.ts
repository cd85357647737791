// Flag parsing for CLI commands: a typed spec in, typed values out, and a UsageError (exit code 2)
// that names the flag and the bad value for anything else. Accepts `--flag value` and
// `--flag=value`; booleans take no value; `--` ends the flags. No logic about what flags mean.

import { UsageError } from './command.js';

/** The kinds of values a flag takes. */
export type FlagType = 'string' | 'int' | 'number' | 'boolean';

/** One flag: its type, help line, and optional default, choices and bounds. */
export interface FlagSpec {
  readonly type: FlagType;
  /** One line of help. */
  readonly help: string;
  /** Shown in help after the flag name (`--epochs N`); defaults to the type. */
  readonly metavar?: string;
  readonly default?: string | number | boolean;
  /** Allowed values of a string flag. */
  readonly choices?: readonly string[];
  /** Inclusive lower bound of a number or int flag. */
  readonly min?: number;
  /** Inclusive upper bound of a number or int flag. */
  readonly max?: number;
  /** A number flag that must be > min rather than >= min. */
  readonly exclusiveMin?: boolean;
}

/** Flags by name, without the leading `--` (e.g. 'batch-size'). */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<F extends FlagSpec> = F['type'] extends 'boolean' ? boolean : F['type'] extends 'string' ? string : number;

/** Parsed values: flags with a default (and booleans) are always set; others may be undefined. */
export type ParsedFlags<S extends FlagSpecs> = {
  -readonly [K in keyof S]: S[K]['type'] extends 'boolean' ? boolean
    : S[K] extends { readonly default: string | number | boolean } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

/** What parseArgs returns: typed flags, positional arguments, and which flags were given explicitly. */
export interface ParsedArgs<S extends FlagSpecs> {
  flags: ParsedFlags<S>;
  positionals: string[];
  /** Names of the flags present on the command line. */
  given: Set<keyof S & string>;
}

/** How many positional arguments a command takes, and their names for messages. */
export interface PositionalSpec {
  readonly names: readonly string[];
  /** How many are required (the first `min` of names). */
  readonly min: number;
}

/**
 * Parse `argv` against `specs`. Throws UsageError naming the command and the flag for an unknown
 * flag, a missing or malformed value, a value out of range or not among the choices, or a wrong
 * number of positional arguments.
 *
 * @example
 * const { flags } = parseArgs('train', ['--epochs', '3', '--json'], {
 *   epochs: { type: 'int', help: 'epochs', min: 1, default: 1 },
 *   json: { type: 'boolean', help: 'JSON output' },
 * });
 * flags.epochs;  // 3
 */
export function parseArgs<S extends FlagSpecs>(command: string, argv: readonly string[], specs: S, positional: PositionalSpec = { names: [], min: 0 }): ParsedArgs<S> {
  const values: Record<string, string | number | boolean | undefined> = {};
  const given = new Set<string>();
  const positionals: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    values[name] = spec.type === 'boolean' ? (spec.default ?? false) : spec.default;
  }
  let flagsDone = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (flagsDone || !arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') { flagsDone = true; continue; }
    if (!arg.startsWith('--')) throw new UsageError(command, `unknown option '${arg}' (options start with --; see tensorslim ${command} --help)`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const spec = specs[name];
    if (spec === undefined) {
      const near = closest(name, Object.keys(specs));
      throw new UsageError(command, `unknown option '--${name}'${near ? ` (did you mean --${near}?)` : ''}; options: ${Object.keys(specs).map((k) => `--${k}`).join(', ')}`);
    }
    if (given.has(name)) throw new UsageError(command, `option --${name} was given twice`);
    given.add(name);
    if (spec.type === 'boolean') {
      if (eq >= 0) {
        const v = arg.slice(eq + 1);
        if (v !== 'true' && v !== 'false') throw new UsageError(command, `--${name} takes no value (or =true / =false), got '${v}'`);
        values[name] = v === 'true';
      } else values[name] = true;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(command, `option --${name} needs a value (${spec.metavar ?? spec.type})`);
      }
      raw = next;
      i++;
    }
    values[name] = convert(command, name, spec, raw);
  }
  const max = positional.names.length;
  if (positionals.length > max) {
    const extra = positionals.slice(max).map((p) => `'${p}'`).join(', ');
    throw new UsageError(command, max === 0 ? `takes no positional arguments, got ${extra}` : `too many arguments: ${extra} (expected ${positional.names.map((n) => `<${n}>`).join(' ')})`);
  }
  if (positionals.length < positional.min) {
    throw new UsageError(command, `missing argument <${positional.names[positionals.length]}>`);
  }
  return { flags: values as ParsedFlags<S>, positionals, given: given as Set<keyof S & string> };
}

function convert(command: string, name: string, spec: FlagSpec, raw: string): string | number {
  if (spec.type === 'string') {
    if (raw === '') throw new UsageError(command, `--${name} needs a non-empty value`);
    if (spec.choices && !spec.choices.includes(raw)) {
      throw new UsageError(command, `--${name} must be one of ${spec.choices.join(', ')}; got '${raw}'`);
    }
    return raw;
  }
  const n = spec.type === 'int' ? (/^[+-]?\d+$/.test(raw.trim()) ? Number(raw) : NaN) : (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw.trim()) ? Number(raw) : NaN);   // decimal only: no 0x10, 0b1, Infinity
  if (!Number.isFinite(n)) {
    throw new UsageError(command, `--${name} must be ${spec.type === 'int' ? 'an integer' : 'a number'}, got '${raw}'`);
  }
  if (spec.type === 'int' && !Number.isSafeInteger(n)) throw new UsageError(command, `--${name} is too large: ${raw}`);
  if (spec.min !== undefined && (spec.exclusiveMin ? n <= spec.min : n < spec.min)) {
    throw new UsageError(command, `--${name} must be ${spec.exclusiveMin ? '>' : '>='} ${spec.min}, got ${raw}`);
  }
  if (spec.max !== undefined && n > spec.max) throw new UsageError(command, `--${name} must be <= ${spec.max}, got ${raw}`);
  return n;
}

/** The known name nearest to `name` by edit distance, if it is close enough to be a typo. */
function closest(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(name, k);
    if (d < bestD) { bestD = d; best = k; }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/**
 * Help lines for a flag table, aligned: `  --epochs N        epochs to train (default: 1)`.
 *
 * @example
 * const usage = `Usage: tensorslim train [options]\n\nOptions:\n${formatFlags(TRAIN_FLAGS)}`;
 */
export function formatFlags(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const meta = s.type === 'boolean' ? '' : ` ${s.metavar ?? (s.choices ? 'NAME' : s.type === 'int' ? 'N' : s.type === 'number' ? 'X' : 'VALUE')}`;
    const choices = s.choices ? `: ${s.choices.join(', ')}` : '';
    const dflt = s.default !== undefined && s.type !== 'boolean' ? ` (default: ${s.default})` : '';
    return [`--${name}${meta}`, `${s.help}${choices}${dflt}`] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length), 10);
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`).join('\n');
}

/** The `--json` flag every command that produces results accepts. */
export const JSON_FLAG = {
  json: { type: 'boolean', help: 'progress to stderr; the last line of stdout is one JSON object with the results' },
} as const satisfies FlagSpecs;

/** `--threads` (kernel threads, native backend) and `--json`, for commands that run kernels and report results. */
export const THREADS_JSON_FLAGS = {
  threads: { type: 'int', help: 'kernel threads (native backend)', min: 1, metavar: 'N' },
  ...JSON_FLAG,
} as const satisfies FlagSpecs;
