// Output helpers shared by CLI commands: aligned tables, human units (bytes, seconds, counts),
// and the --json contract (progress on stderr; the last stdout line is one JSON object).

import type { CliContext } from './command.js';

/** A table column: header, alignment (numbers right-aligned by default). */
export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

/**
 * Format rows as an aligned text table with a header rule.
 *
 * @example
 * formatTable([{ header: 'model' }, { header: 'params', align: 'right' }], [['mlp', '266,610']]);
 * // model   params
 * // -----  -------
 * // mlp    266,610
 */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (s: string, i: number): string => (columns[i]!.align === 'right' ? s.padStart(widths[i]!) : s.padEnd(widths[i]!));
  const line = (cells: readonly string[]): string => cells.map((s, i) => cell(s, i)).join('  ').trimEnd();
  return [line(columns.map((c) => c.header)), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((r) => line(columns.map((_, i) => r[i] ?? '')))].join('\n');
}

/**
 * Two-column "key  value" lines, keys padded.
 *
 * @example
 * formatKeyValues([['version', '0.1.0'], ['backend', 'reference']]);
 */
export function formatKeyValues(pairs: readonly (readonly [string, string])[]): string {
  const w = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

/** 266610 -> '266,610'. @example fmtInt(266610) */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes in B / KB / MB / GB (powers of 1024; one decimal). @example fmtBytes(1066440) // '1.0 MB' */
export function fmtBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** Seconds as '0.42 s', '12.3 s', '2m 05s', '1h 02m'. @example fmtSeconds(125) // '2m 05s' */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** A duration in ms or us for latencies. @example fmtLatency(0.000123) // '123 us' */
export function fmtLatency(seconds: number): string {
  if (seconds < 1e-3) return `${(seconds * 1e6).toFixed(0)} us`;
  if (seconds < 1) return `${(seconds * 1e3).toFixed(2)} ms`;
  return `${seconds.toFixed(2)} s`;
}

/** A fraction as a percentage with `digits` decimals. @example fmtPct(0.8912) // '89.12%' */
export function fmtPct(x: number, digits = 2): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : 'n/a';
}

/** Large counts with k/M/G suffixes. @example fmtCount(1234567) // '1.23M' */
export function fmtCount(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/**
 * Where human-readable text goes: stdout normally; stderr in --json mode, so that stdout carries
 * only the final JSON line.
 *
 * @example
 * const say = humanWriter(ctx, flags.json);
 * say('training mlp ...');
 */
export function humanWriter(ctx: CliContext, json: boolean): (line: string) => void {
  return json ? (line) => ctx.err(line) : (line) => ctx.out(line);
}

/**
 * Write the results object as the last line of stdout (JSON mode). Non-finite numbers become
 * null (JSON has no NaN), so scripts can always parse the line.
 *
 * @example
 * emitJson(ctx, { testAccuracy: 0.891, params: 266610 });
 */
export function emitJson(ctx: CliContext, result: Readonly<Record<string, unknown>>): void {
  ctx.out(JSON.stringify(result, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
}
