// The machine a benchmark ran on, recorded next to every result so numbers are never read without
// their context: CPU model, cores, Node version, backend, SIMD path, threads, date.

import { describeMachine, type MachineDescription } from '../backend/machine.js';
import { getBackend } from '../backend/registry.js';
import { median } from '../train/index.js';

/** Where and how a benchmark ran. */
export interface MachineInfo extends MachineDescription {
  date: string;
}

/**
 * Describe this machine and the active backend.
 * @example machineInfo().cpu   // 'AMD EPYC ...'
 */
export function machineInfo(): MachineInfo {
  return { ...describeMachine(), date: new Date().toISOString() };
}

/** Median of a non-empty list (one copy, in src/train/stats.ts). @example median([3, 1, 2]) // 2 */
export { median };

/** Set the backend's kernel threads when it has any (native); no-op on reference. */
export function applyThreads(threads: number | undefined): void {
  if (threads === undefined) return;
  const b = getBackend();
  if (typeof b.setThreads === 'function') b.setThreads(threads);
}

/**
 * Run `step` `warmup` times untimed, then `steps` times, returning each timed run in milliseconds.
 * @example const times = timeSteps(() => trainStep(), 3, 20); median(times)
 */
export function timeSteps(step: () => void, warmup: number, steps: number): number[] {
  for (let i = 0; i < warmup; i++) step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    step();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

/**
 * Median milliseconds of `repeats` timed runs of fn (no warm-up).
 * @example const ms = medianMs(() => model.call(x), 5);
 */
export function medianMs(fn: () => unknown, repeats: number): number {
  return median(timeSteps(fn, 0, repeats));
}
