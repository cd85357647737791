// Shared helpers for the io tests: hand-built safetensors files, the independent Python checker
// (tools/fixtures/io_safetensors_check.py, run with Debian's /usr/bin/python3), temp directories.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { PYTHON } from '../helpers/requirements.js';

export const CHECKER = fileURLToPath(new URL('../../tools/fixtures/io_safetensors_check.py', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/**
 * A safetensors file built by hand: 8-byte little-endian length of `header` (a string, taken as
 * is, no padding), the header's UTF-8 bytes, then `data`. `declaredLength` overrides the length.
 */
export function handBuilt(header: string, data: ArrayLike<number> = [], declaredLength?: bigint): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(Array.from(data), 8 + h.length);
  return out;
}

/** Little-endian bytes of float32 values. */
export function f32Bytes(values: number[]): number[] {
  return Array.from(new Uint8Array(new Float32Array(values).buffer));
}

/** Run the checker; returns its parsed JSON output or throws with its stderr. */
export function runChecker<T>(args: string[], input?: string): T {
  const r = spawnSync(PYTHON, [CHECKER, ...args], { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`io_safetensors_check.py ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A fresh temporary directory, removed by the returned cleanup function. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tensorslim-io-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A JSON value as the checker writes floats: non-finite ones as strings. */
export function fromCheckerValue(v: number | string | boolean): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  return v as number;
}
