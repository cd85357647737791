// File I/O for the io layer: atomic writes (temporary file in the same directory, fsync, rename,
// fsync of the directory) so that a crash or a kill mid-write leaves the previous file intact, and
// reads that turn system errors into messages naming the path. Also on-disk sizes for reports.
// Synchronous on purpose: a checkpoint is written between training steps, and a kill test can
// then reason about exactly one write in flight.

import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { TensorslimError } from '../core/errors.js';
import { parseSafetensors, serializeSafetensors, type ParsedSafetensors, type SafetensorsMetadata, type TensorMap } from './safetensors.js';
import { removeStaleTempFiles, resolveOutputTarget, systemReason as systemMessage, tempPathFor } from './paths.js';

/**
 * Write `bytes` to `path` atomically: the data goes to a temporary file next to it, is flushed to
 * disk (fsync), then renamed over `path`. Readers see the old file or the new one, never a part.
 * On failure the temporary file is removed and `path` is untouched. A process killed mid-write
 * may leave a `.<name>.<pid>.<random>.tmp` file behind; the target is still intact, and the next
 * write of the same file removes such files of processes that no longer run.
 * Only a regular file is replaced: an existing `path` that is a device node, FIFO, socket or
 * directory is refused; a symbolic link to a regular file is written through (the link stays).
 *
 * @example
 * writeFileAtomic('out/model.safetensors', bytes);
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, op = 'writeFileAtomic'): void {
  const { target, problem } = resolveOutputTarget(path);
  if (problem !== null) throw new TensorslimError(op, `cannot write ${problem}`);
  const dir = dirname(target);
  removeStaleTempFiles(target);
  const tmp = tempPathFor(target);
  let fd: number;
  try {
    fd = openSync(tmp, 'wx', 0o666);
  } catch (e) {
    throw new TensorslimError(op, `cannot write '${path}': cannot create a file in '${dir}' (${systemMessage(e)})${existsSync(dir) ? '' : '; create the directory first'}`);
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
