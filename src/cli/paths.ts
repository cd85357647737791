// Output-path checks of the CLI, run by every command before any work: an output file must be a new
// file or a regular file (or a symlink to one) in a directory that takes new files, and never one
// of the command's own inputs; an output directory is created level by level after the same probe.
// The rules themselves live in io/paths.ts; this turns their answers into usage errors (exit 2).

import { ensureOutputDirectory, outputPathProblem } from '../io/index.js';
import { UsageError } from './command.js';

/**
 * Refuse an output file that cannot or must not be written (exit 2), before any training:
 * an existing non-regular file, a missing or unwritable directory, or one of `inputs`.
 *
 * @example
 * checkOutputFile('prune', 'out', flags.out, [{ flag: '--model', path: flags.model }]);
 */
export function checkOutputFile(command: string, flag: string, path: string, inputs: readonly { flag: string; path: string }[] = []): void {
  const problem = outputPathProblem(path, { inputs });
  if (problem !== null) throw new UsageError(command, `--${flag} ${path}: ${problem}`);
}

/**
 * Create an output directory (and its missing parents) or refuse it (exit 2) when it is a file or
 * its nearest existing ancestor takes no new files.
 *
 * @example
 * checkOutputDirectory('demo', 'out-dir', 'runs/demo');
 */
export function checkOutputDirectory(command: string, flag: string, dir: string): void {
  const problem = ensureOutputDirectory(dir);
  if (problem !== null) throw new UsageError(command, `--${flag} ${dir}: ${problem}`);
}
