// Chrome trace export: a ProfileResult as trace-event JSON (the format chrome://tracing and
// Perfetto open), and a validator of that format's rules used by the tests. Timestamps and
// durations are microseconds; regions and kernels are 'X' (complete) events on the JavaScript main
// thread's track, garbage collections on a track of their own, each native pool thread's work on
// its own track (tid 100 + thread index), memory as 'C' (counter) events.

import type { ProfileResult } from './profiler.js';

/** One trace event (the subset of the format we write). */
export interface TraceEvent {
  name: string;
  /** 'X' complete, 'C' counter, 'M' metadata. */
  ph: 'X' | 'C' | 'M';
  /** Microseconds. */
  ts: number;
  /** Microseconds ('X' only). */
  dur?: number;
  pid: number;
  tid: number;
  cat?: string;
  args?: Record<string, string | number>;
}

/** A trace file's content. */
export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
  otherData: Record<string, string | number>;
}

const MAIN_TID = 1, GC_TID = 2, POOL_TID0 = 100; // pool thread i: tid 100 + i

/**
 * Convert a profile to trace-event JSON. Write it with JSON.stringify and open it in Perfetto.
 * @example writeFileSync('trace.json', JSON.stringify(toChromeTrace(result)));
 */
export function toChromeTrace(r: ProfileResult): ChromeTrace {
  const pid = r.machine.pid;
  const us = (ms: number): number => Math.round(ms * 1000 * 1000) / 1000; // microseconds, to the nanosecond
  const ev: TraceEvent[] = [
    { name: 'process_name', ph: 'M', ts: 0, pid, tid: MAIN_TID, args: { name: `tensorslim (${r.backend} backend)` } },
    { name: 'thread_name', ph: 'M', ts: 0, pid, tid: MAIN_TID, args: { name: 'JavaScript main thread (regions, kernels)' } },
    { name: 'thread_name', ph: 'M', ts: 0, pid, tid: GC_TID, args: { name: 'garbage collection' } },
  ];
  const poolThreads = [...new Set(r.events.filter((e) => e.cat === 'thread').map((e) => e.thread ?? 0))].sort((a, b) => a - b);
  for (const t of poolThreads) {
    ev.push({ name: 'thread_name', ph: 'M', ts: 0, pid, tid: POOL_TID0 + t, args: { name: t === 0 ? 'native pool thread 0 (the JavaScript thread in the addon)' : `native pool thread ${t}` } });
    ev.push({ name: 'thread_sort_index', ph: 'M', ts: 0, pid, tid: POOL_TID0 + t, args: { sort_index: POOL_TID0 + t } });
  }
  for (const e of r.events) {
    if (e.cat === 'thread') {
      const ts = us(e.start), end = us(e.start + e.dur);
      ev.push({ name: e.name, ph: 'X', cat: 'native', ts, dur: Math.max(0, Math.round((end - ts) * 1000) / 1000), pid, tid: POOL_TID0 + (e.thread ?? 0), args: { phase: e.phase } });
      continue;
    }
    const args: Record<string, string | number> = { phase: e.phase };
    if (e.flops !== undefined) args['flops'] = e.flops;
    if (e.bytes !== undefined) args['bytes'] = e.bytes;
    if (e.selfMs !== undefined) args['selfMs'] = e.selfMs;
    if (e.nativeMs !== undefined) args['nativeMs'] = e.nativeMs;
    if (e.dispatchMs !== undefined) args['dispatchMs'] = e.dispatchMs;
    if (e.threadBusyMs !== undefined) args['threadBusyMs'] = e.threadBusyMs;
    // start and end rounded separately so a child never ends after its parent
    const ts = us(e.start), end = us(e.start + e.dur);
    ev.push({ name: e.name, ph: 'X', cat: e.cat, ts, dur: Math.max(0, Math.round((end - ts) * 1000) / 1000), pid, tid: e.cat === 'gc' ? GC_TID : MAIN_TID, args });
  }
  for (const m of r.memory.timeline) {
    ev.push({ name: 'memory (bytes)', ph: 'C', ts: us(m.t), pid, tid: MAIN_TID, args: { params: m.params, grads: m.grads, optimizerState: m.optimizerState, activations: m.activations } });
    // RSS only where the sample read it (the others carry the last value; see processMemoryIntervalMs)
    ev.push({ name: 'process (bytes)', ph: 'C', ts: us(m.t), pid, tid: MAIN_TID, args: m.processSample === false ? { arrayBuffers: m.arrayBuffers } : { rss: m.rss, arrayBuffers: m.arrayBuffers } });
  }
  return { traceEvents: ev, displayTimeUnit: 'ms', otherData: { backend: r.backend, node: r.machine.node, cpu: r.machine.cpu, date: r.machine.date } };
}

/**
 * Check `json` against the trace-event format's rules we rely on: a `traceEvents` array; each event
 * with a string name, a known `ph`, integer pid/tid, a finite ts >= 0 in microseconds; 'X' events
 * with a finite dur >= 0 that nest properly per thread (no partial overlap); 'C' events with numeric
 * args; 'M' events naming a process or thread. Returns the problems found (empty when valid).
 *
 * @example validateChromeTrace(toChromeTrace(result)) // []
 */
export function validateChromeTrace(json: unknown): string[] {
  const errs: string[] = [];
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { traceEvents?: unknown }).traceEvents)) return ['top level: expected an object with a traceEvents array'];
  const events = (json as { traceEvents: unknown[] }).traceEvents;
  const unit = (json as { displayTimeUnit?: unknown }).displayTimeUnit;
  if (unit !== undefined && unit !== 'ms' && unit !== 'ns') errs.push(`displayTimeUnit: '${String(unit)}' is neither 'ms' nor 'ns'`);
  const byThread = new Map<string, { ts: number; end: number; i: number }[]>();
  events.forEach((raw, i) => {
    const at = `traceEvents[${i}]`;
    if (typeof raw !== 'object' || raw === null) { errs.push(`${at}: not an object`); return; }
    const e = raw as Record<string, unknown>;
    if (typeof e['name'] !== 'string') errs.push(`${at}: name must be a string`);
    if (!['X', 'C', 'M', 'B', 'E', 'i', 'I'].includes(String(e['ph']))) errs.push(`${at}: unknown ph '${String(e['ph'])}'`);
    if (!Number.isInteger(e['pid'])) errs.push(`${at}: pid must be an integer`);
    if (!Number.isInteger(e['tid'])) errs.push(`${at}: tid must be an integer`);
    const ts = e['ts'];
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) errs.push(`${at}: ts must be a finite number >= 0 (microseconds)`);
    if (e['args'] !== undefined && (typeof e['args'] !== 'object' || e['args'] === null || Array.isArray(e['args']))) errs.push(`${at}: args must be an object`);
    if (e['ph'] === 'X') {
      const dur = e['dur'];
      if (typeof dur !== 'number' || !Number.isFinite(dur) || dur < 0) { errs.push(`${at}: an 'X' event needs a finite dur >= 0 (microseconds)`); return; }
      if (typeof ts === 'number') {
        const key = `${String(e['pid'])}:${String(e['tid'])}`;
        const list = byThread.get(key) ?? [];
        list.push({ ts, end: ts + dur, i });
        byThread.set(key, list);
      }
    } else if (e['ph'] === 'C') {
      const args = e['args'];
      if (typeof args !== 'object' || args === null || Object.values(args).some((v) => typeof v !== 'number')) errs.push(`${at}: a 'C' event needs args of numbers`);
    } else if (e['ph'] === 'M') {
      const args = e['args'] as Record<string, unknown> | undefined;
      if (!['process_name', 'thread_name', 'process_sort_index', 'thread_sort_index', 'process_labels'].includes(String(e['name']))) errs.push(`${at}: unknown metadata '${String(e['name'])}'`);
      else if ((e['name'] === 'process_name' || e['name'] === 'thread_name') && typeof args?.['name'] !== 'string') errs.push(`${at}: ${String(e['name'])} needs args.name`);
    }
  });
  const EPS = 1e-3; // one nanosecond, in microseconds
  for (const [thread, list] of byThread) {
    list.sort((a, b) => a.ts - b.ts || b.end - a.end);
    const open: { end: number; i: number }[] = [];
    for (const x of list) {
      while (open.length && open[open.length - 1]!.end <= x.ts + EPS) open.pop();
      const parent = open[open.length - 1];
      if (parent && x.end > parent.end + EPS) errs.push(`thread ${thread}: traceEvents[${x.i}] overlaps traceEvents[${parent.i}] without nesting in it`);
      open.push(x);
    }
  }
  return errs;
}
