// Progress reporting for long commands: a cli-progress bar (loss, throughput, ETA) when stderr is a
// terminal; otherwise plain lines on stderr at most every few seconds (logs and CI stay readable).

import cliProgress from 'cli-progress';
import type { CliContext } from './command.js';
import { fmtSeconds } from './output.js';

/** Values shown next to the bar. */
export interface ProgressPayload {
  loss?: number;
  /** Samples per second. */
  throughput?: number;
  /** Free text (e.g. 'epoch 2/3'). */
  note?: string;
}

/** A progress display for one phase of work (e.g. one epoch). */
export interface Progress {
  /** Set the current position (0..total) and the shown values. */
  update(value: number, payload?: ProgressPayload): void;
  /** Finish the display (the bar stays on screen; plain mode adds nothing: callers print a summary). */
  stop(): void;
}

/**
 * A progress display on stderr: a redrawing bar on a TTY, plain lines every `intervalS` seconds
 * otherwise.
 *
 * @example
 * const bar = createProgress(ctx, { label: 'epoch 1/3', total: 250 });
 * bar.update(10, { loss: 0.53, throughput: 4200 });
 * bar.stop();
 */
export function createProgress(ctx: CliContext, opts: { label: string; total: number; unit?: string; intervalS?: number }): Progress {
  const unit = opts.unit ?? 'steps';
  const total = Math.max(1, opts.total);
  if (ctx.errIsTTY) return ttyBar(opts.label, total, unit);
  const interval = (opts.intervalS ?? 5) * 1000;
  const t0 = performance.now();
  let last = t0;
  const line = (value: number, p: ProgressPayload): string => {
    const elapsed = (performance.now() - t0) / 1000;
    const eta = value > 0 ? (elapsed / value) * (total - value) : NaN;
    const parts = [`${opts.label}  ${value}/${total} ${unit} (${Math.floor((100 * value) / total)}%)`];
    if (p.loss !== undefined) parts.push(`loss ${fmtLoss(p.loss)}`);
    if (p.throughput !== undefined) parts.push(`${Math.round(p.throughput)} samples/s`);
    if (p.note) parts.push(p.note);
    parts.push(value >= total ? `done in ${fmtSeconds(elapsed)}` : `ETA ${fmtSeconds(eta)}`);
    return parts.join('  ');
  };
  return {
    update(value, payload = {}) {
      const now = performance.now();
      if (now - last >= interval) { last = now; ctx.err(line(value, payload)); }
    },
    // The caller prints a summary line after the bar (the epoch's metrics), so plain mode adds none.
    stop() { /* nothing: see above */ },
  };
}

function fmtLoss(x: number): string { return Number.isFinite(x) ? x.toFixed(4) : String(x); }

function ttyBar(label: string, total: number, unit: string): Progress {
  const bar = new cliProgress.SingleBar({
    format: `${label} |{bar}| {value}/{total} ${unit} | loss {loss} | {throughput} samples/s | ETA {eta_formatted}`,
    barCompleteChar: '\u2588',
    barIncompleteChar: '\u2591',
    hideCursor: true,
    etaBuffer: 50,
    stream: process.stderr,
    barsize: 24,
  });
  bar.start(total, 0, { loss: '-', throughput: '-' });
  return {
    update(value, p = {}) {
      bar.update(value, {
        loss: p.loss === undefined ? '-' : fmtLoss(p.loss),
        throughput: p.throughput === undefined ? '-' : String(Math.round(p.throughput)),
      });
    },
    stop() { bar.stop(); },
  };
}
