// The kernel profiler shared by bench/profile_*.ts: wraps every method of the active backend with
// a timer that, while enabled, accumulates calls and milliseconds per kernel, op and operand shapes
// and dtypes. Everything else in a step is JS (ops, tape, optimizer).
import { getBackend } from '../src/backend/registry.js';

/** Calls and total milliseconds of one kernel signature. */
export interface KernelStat { calls: number; ms: number }

/** Wraps the backend's methods once; `enabled` switches timing on and off; `stats` holds the totals. */
export function profileBackend(): { stats: Map<string, KernelStat>; setEnabled(on: boolean): void } {
  const be = getBackend() as unknown as Record<string, unknown>;
  const stats = new Map<string, KernelStat>();
  let on = false;
  for (const k of Object.keys(be)) {
    const f = be[k];
    if (typeof f !== 'function' || k === 'setThreads') continue;
    be[k] = (...args: unknown[]) => {
      if (!on) return (f as (...a: unknown[]) => unknown)(...args);
      const t0 = process.hrtime.bigint();
      const r = (f as (...a: unknown[]) => unknown)(...args);
      const dt = Number(process.hrtime.bigint() - t0) / 1e6;
      const shapes = args.filter((a) => a && typeof a === 'object' && 'shape' in (a as object)).map((a) => `(${(a as { shape: number[] }).shape.join('x')})`).join(',');
      const op = typeof args[0] === 'string' ? `:${args[0]}` : '';
      const dts = args.filter((a) => a && typeof a === 'object' && 'data' in (a as object)).map((a) => (a as { data: { constructor: { name: string } } }).data.constructor.name.replace('Array', '')).join(',');
      const key = `${k}${op} ${shapes} [${dts}]`;
      const s = stats.get(key) ?? { calls: 0, ms: 0 };
      s.calls++; s.ms += dt;
      stats.set(key, s);
      return r;
    };
  }
  return { stats, setEnabled(v: boolean) { on = v; } };
}
