// The machine and the active backend, in one place for everything that records where numbers came
// from: benchmark results (src/bench/machine.ts adds the date) and run folders (src/report/run_log.ts
// adds the host name).

import os from 'node:os';
import { getBackend } from './registry.js';

/** The CPU, Node.js and the active backend with its SIMD path and threads. */
export interface MachineDescription {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  backend: string;
  /** The native backend's SIMD path ('avx512', 'avx2', 'generic'), 'n/a' on reference. */
  cpuPath: string;
  threads: number;
}

/**
 * Describe this machine and the active backend.
 * @example describeMachine().cpuPath   // 'avx512'
 */
export function describeMachine(): MachineDescription {
  const b = getBackend();
  return {
    cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    backend: b.name,
    cpuPath: typeof b.cpuPath === 'string' ? b.cpuPath : 'n/a',
    threads: typeof b.threads === 'number' ? b.threads : 1,
  };
}
