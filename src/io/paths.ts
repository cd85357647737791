// Output-path rules shared by every writer (the atomic writer) and every CLI command with an output:
// what may be replaced (only a regular file, or a regular file reached through a symlink), whether a
// directory takes new files (probed by creating one, which also catches the proc filesystem, where
// the directory exists but creating anything fails), whether an output is one of the command's own
// inputs (same device and inode, so `./a`, `d/../a`, symlinks and hard links all count), and the
// temporary files of writers that were killed. Checks only; no command logic here.

import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, realpathSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';

/** A short reason for a system error (ENOENT -> 'no such file or directory'). */
export function systemReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'it is a directory';
    case 'ENOSPC': return 'no space left on the device';
    case 'EROFS': return 'read-only file system';
    default: return err.message ?? String(e);
  }
}

/** What kind of file `st` is, in words ('a directory', 'a FIFO', ...). */
function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

/** The name of a writer's temporary file for `target` (an absolute path): `.<name>.<pid>.<hex>.tmp` beside it. */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Where a write to `path` really lands: `path` itself, or, when `path` is a symbolic link to a
 * regular file, the file it points to (tensorslim writes through symlinks on purpose, so
 * `latest.safetensors -> run3.safetensors` keeps being a link). Returns a problem in words when
 * `path` exists and is not a regular file (a device node, a FIFO, a socket, a directory, a dangling
 * link): writers never replace those.
 *
 * @example
 * resolveOutputTarget('model.safetensors');   // { target: '/abs/model.safetensors', problem: null }
 * resolveOutputTarget('/dev/null').problem;  // "'/dev/null' is a character device, ..."
 */
export function resolveOutputTarget(path: string): { target: string; problem: string | null } {
  const abs = resolve(path);
  let lst: Stats;
  try { lst = lstatSync(abs); } catch { return { target: abs, problem: null }; }   // a new file
  if (lst.isFile()) return { target: abs, problem: null };
  if (lst.isSymbolicLink()) {
    let real: string;
    try { real = realpathSync(abs); } catch {
      return { target: abs, problem: `'${path}' is a symbolic link to a missing file; remove the link or give another file name` };
    }
    const st = statSync(real);
    if (st.isFile()) return { target: real, problem: null };
    return { target: abs, problem: `'${path}' is a symbolic link to ${kindOf(st)} ('${real}'), not to a regular file; give a file name` };
  }
  const hint = lst.isDirectory() ? `give a file name such as ${join(path, 'model.safetensors')}` : 'only regular files are replaced; give another file name';
  return { target: abs, problem: `'${path}' is ${kindOf(lst)}, not a regular file; ${hint}` };
}

/**
 * Can new files be created in directory `dir`? Creates and removes one temporary file (permission
 * bits are not enough: as root everything looks writable, and in the proc filesystem creating a
 * file fails although the directory exists). Returns the problem in words, or null.
 *
 * @example
 * directoryProblem('/proc');  // "cannot create files in '/proc' (no such file or directory)"
 */
export function directoryProblem(dir: string): string | null {
  let st: Stats;
  try { st = statSync(dir); } catch { return `the directory ${dir} does not exist; create it first`; }
  if (!st.isDirectory()) return `${dir} is ${kindOf(st)}, not a directory`;
  const probe = tempPathFor(join(dir, 'probe'));
  try {
    closeSync(openSync(probe, 'wx', 0o600));
  } catch (e) {
    return `cannot create files in ${dir} (${systemReason(e)})`;
  }
  try { unlinkSync(probe); } catch { /* gone already */ }
  return null;
}

/**
 * True when `a` and `b` name the same existing file (same device and inode, following symlinks):
 * `ck`, `./ck`, `d/../ck`, a symlink to `ck` and a hard link to it are all the same file.
 *
 * @example
 * sameFile('teach.safetensors', './teach.safetensors');   // true
 */
export function sameFile(a: string, b: string): boolean {
  let sa: Stats, sb: Stats;
  try { sa = statSync(a); sb = statSync(b); } catch { return false; }
  return sa.dev === sb.dev && sa.ino === sb.ino;
}

/**
 * Everything wrong with `path` as an output file, or null: it exists and is not a regular file
 * (see resolveOutputTarget), its directory is missing or takes no new files (see
 * directoryProblem), or it is the same file as one of `inputs` (which must not be overwritten).
 * Meant to run before any work, so a command fails in a moment instead of after an epoch.
 *
 * @example
 * outputPathProblem('pruned.safetensors', { inputs: [{ flag: '--model', path: 'dense.safetensors' }] });   // null
 */
export function outputPathProblem(path: string, opts: { inputs?: readonly { flag: string; path: string }[] } = {}): string | null {
  const { target, problem } = resolveOutputTarget(path);
  if (problem !== null) return problem;
  for (const input of opts.inputs ?? []) {
    if (sameFile(path, input.path)) return `'${path}' is the same file as ${input.flag} ${input.path}; it would be overwritten; write to another file`;
  }
  return directoryProblem(dirname(target));
}

/**
 * Create directory `dir` and its missing parents one level at a time (never a recursive create,
 * which does not return in the proc filesystem on some Node versions), after checking that the
 * nearest existing ancestor is a directory that takes new files. Returns the problem, or null.
 *
 * @example
 * ensureOutputDirectory('runs/demo-1');   // null: runs/ and runs/demo-1/ exist now
 */
export function ensureOutputDirectory(dir: string): string | null {
  const abs = resolve(dir);
  const missing: string[] = [];
  let cur = abs;
  while (!existsSync(cur)) {
    missing.unshift(cur);
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  if (missing.length === 0) {
    const st = statSync(abs);
    if (!st.isDirectory()) return `${dir} is ${kindOf(st)}, not a directory`;
    return directoryProblem(abs);
  }
  const problem = directoryProblem(cur);
  if (problem !== null) return problem;
  for (const d of missing) {
    try { mkdirSync(d); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return `cannot create the directory ${d} (${systemReason(e)})`;
    }
  }
  return null;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/**
 * Remove the temporary files that writers of `target` left when they were killed mid-write
 * (`.<name>.<pid>.<hex>.tmp` beside it, whose process no longer runs). Files of live processes
 * and of other targets are left alone. Returns how many were removed; never throws.
 *
 * @example
 * removeStaleTempFiles('/runs/model.safetensors');   // 1 after a kill -9 during a save
 */
export function removeStaleTempFiles(target: string): number {
  const name = basename(target);
  const dir = dirname(resolve(target));
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return 0; }
  const prefix = `.${name}.`;
  let removed = 0;
  for (const e of entries) {
    if (!e.startsWith(prefix) || !e.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-f]+\.tmp$/.exec(e.slice(prefix.length));
    if (m === null || processAlive(Number(m[1]))) continue;
    try { unlinkSync(join(dir, e)); removed++; } catch { /* raced with another cleaner */ }
  }
  return removed;
}
