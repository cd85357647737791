// File I/O for the io layer: atomic writes (temporary file in the same directory, fsync, rename,
// fsync of the directory) so that a crash or a kill mid-write leaves the previous file intact, and
// reads that turn system errors into messages naming the path. Also on-disk sizes for reports.
// Synchronous on purpose: a checkpoint is written between training steps, and a kill test can
// then reason about exactly one write in flight.

import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TensorslimError } from '../core/errors.js';
import { parseSafetensors, serializeSafetensors, type ParsedSafetensors, type SafetensorsMetadata, type TensorMap } from './safetensors.js';

function systemMessage(e: unknown): string {
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

/**
 * Write `bytes` to `path` atomically: the data goes to a temporary file next to it, is flushed to
 * disk (fsync), then renamed over `path`. Readers see the old file or the new one, never a part.
 * On failure the temporary file is removed and `path` is untouched. A process killed mid-write
 * may leave a `.<name>.<pid>.<random>.tmp` file behind; the target is still intact.
 *
 * @example
 * writeFileAtomic('out/model.safetensors', bytes);
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, op = 'writeFileAtomic'): void {
  const target = resolve(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o666);
  } catch (e) {
    throw new TensorslimError(op, `cannot write '${path}': cannot create a file in '${dir}' (${systemMessage(e)})${(e as NodeJS.ErrnoException).code === 'ENOENT' ? '; create the directory first' : ''}`);
  }
  try {
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw new TensorslimError(op, `cannot write '${path}' (${systemMessage(e)}); the previous file, if any, is unchanged`);
  }
  // Make the rename itself durable. Not every platform can open a directory; the data is safe anyway.
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* best effort */ }
}

/** Read a whole file, with an error naming the path. */
export function readFileBytes(path: string, op = 'readFileBytes'): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new TensorslimError(op, `cannot read '${path}' (${systemMessage(e)})`);
  }
}

/**
 * Save tensors to a safetensors file, atomically (see writeFileAtomic). Returns the bytes written.
 *
 * @example
 * saveSafetensors('model.safetensors', model.stateDict(), { format: 'pt' });
 */
export function saveSafetensors(path: string, tensors: TensorMap, metadata?: SafetensorsMetadata): number {
  const bytes = serializeSafetensors(tensors, metadata);
  writeFileAtomic(path, bytes, 'saveSafetensors');
  return bytes.length;
}

/**
 * Load a safetensors file (any writer: Hugging Face, PyTorch tools, tensorslim). The whole file is
 * checked; errors name the path and what is wrong.
 *
 * @example
 * const { tensors } = loadSafetensors('model.safetensors');
 * model.loadStateDict(tensors);
 */
export function loadSafetensors(path: string): ParsedSafetensors {
  return parseSafetensors(readFileBytes(path, 'loadSafetensors'), { op: `loadSafetensors('${path}')` });
}

/**
 * Size of a file on disk in bytes (for summaries and the size column of reports).
 *
 * @example
 * fileBytes('model.safetensors');  // 1066728
 */
export function fileBytes(path: string): number {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new TensorslimError('fileBytes', `cannot stat '${path}' (${systemMessage(e)})`);
  }
  if (!st.isFile()) throw new TensorslimError('fileBytes', `'${path}' is not a regular file`);
  return st.size;
}
