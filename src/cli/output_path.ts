// Checks of the files a command will write (--out), run before any work so a bad path fails fast.
// Shared by the commands that write checkpoints (train, prune, distill); not about tensors (the
// in-place write check of ops is ops/util.ts's checkWritable).

import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from './command.js';

/**
 * Check that `--<flag> <path>` can be written before spending time on training: its directory
 * exists and the path is not a directory. Throws UsageError naming the command, flag and fix.
 *
 * @example
 * checkOutputPath('train', 'out', 'runs/mlp.safetensors');
 */
export function checkOutputPath(command: string, flag: string, path: string): void {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(command, `--${flag} ${path}: the directory ${dir} does not exist; create it first`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(command, `--${flag} ${path} is a directory; give a file name such as ${path.replace(/\/$/, '')}/model.safetensors`);
}
