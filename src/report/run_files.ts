// The files `tensorslim report` reads: profile files written by `tensorslim profile --out`
// (one JSON object, kind 'tensorslim-profile'), run folders written by training (run.json, kind
// 'tensorslim-run', beside metrics.jsonl: src/report/run_log.ts) and training metrics as JSON lines
// (one object per line with numeric fields such as step, loss, valLoss, accuracy; a string
// `stage` field prefixes the names). A folder means every *.json and *.jsonl file in it. Reads
// only; a missing or malformed input is a clear error.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TensorslimError } from '../core/errors.js';
import type { MemoryEstimate } from './memory.js';
import type { ProfileResult } from './profiler.js';
import type { RunFile } from './run_log.js';
import type { MachineRoofs } from './roofline.js';

/** What `tensorslim profile --out` writes. */
export interface ProfileFile {
  kind: 'tensorslim-profile';
  version: 1;
  model: string;
  batch: number;
  losses: number[];
  estimate: MemoryEstimate;
  profile: ProfileResult;
  /** The machine's roofs when the profile was taken (roofline chart). */
  roofs?: MachineRoofs;
}

/** One compressed (or dense) model of a frontier: what it costs and how well it does. */
export interface FrontierRow {
  /** 'dense (trained)', 'pruned 90% (CSR)', 'distilled student', 'quantized int8', ... */
  stage: string;
  model: string;
  params: number;
  nonzeroParams: number;
  bytesOnDisk: number;
  testAccuracy: number;
  /** Seconds per sample at batch 1 (and at a large batch, when measured). */
  latencyBatch1: number;
  latencyBatch256?: number;
}

/** What `tensorslim demo --report` writes as frontier.json: the accuracy / size / latency frontier. */
export interface FrontierFile {
  kind: 'tensorslim-frontier';
  version: 1;
  dataset: string;
  rows: FrontierRow[];
}

/** One metrics file: its name and its rows (numeric fields only). */
export interface MetricsFile {
  name: string;
  rows: Record<string, number>[];
}

/** Everything a report is made of. */
export interface ReportInputs {
  profiles: { name: string; file: ProfileFile }[];
  metrics: MetricsFile[];
  /** run.json of run folders: command, config, machine, summary. */
  runs?: { name: string; file: RunFile }[];
  /** Accuracy / size / latency frontiers (frontier.json). */
  frontiers?: { name: string; file: FrontierFile }[];
}

/** Wrap a profiled training run as a profile file. @example makeProfileFile('mlp', r) */
export function makeProfileFile(model: string, r: { profile: ProfileResult; estimate: MemoryEstimate; losses: number[]; batch: number }, roofs?: MachineRoofs): ProfileFile {
  return { kind: 'tensorslim-profile', version: 1, model, batch: r.batch, losses: r.losses, estimate: r.estimate, profile: r.profile, ...(roofs ? { roofs } : {}) };
}

function isProfileFile(x: unknown): x is ProfileFile {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  const p = o['profile'] as Record<string, unknown> | undefined;
  return o['kind'] === 'tensorslim-profile' && typeof p === 'object' && p !== null && Array.isArray(p['kernels']) && Array.isArray(p['steps'])
    && typeof p['memory'] === 'object' && p['memory'] !== null && Array.isArray((p['memory'] as Record<string, unknown>)['timeline']);
}

function isFrontierFile(x: unknown): x is FrontierFile {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return o['kind'] === 'tensorslim-frontier' && Array.isArray(o['rows']) && (o['rows'] as unknown[]).every((r) => typeof r === 'object' && r !== null
    && typeof (r as Record<string, unknown>)['stage'] === 'string' && typeof (r as Record<string, unknown>)['testAccuracy'] === 'number'
    && typeof (r as Record<string, unknown>)['bytesOnDisk'] === 'number' && typeof (r as Record<string, unknown>)['latencyBatch1'] === 'number');
}

function isRunFile(x: unknown): x is RunFile {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return o['kind'] === 'tensorslim-run' && typeof o['command'] === 'string' && typeof o['config'] === 'object' && o['config'] !== null
    && typeof o['machine'] === 'object' && o['machine'] !== null && typeof o['started'] === 'string';
}

function parseMetrics(path: string, text: string): MetricsFile {
  const rows: Record<string, number>[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try { v = JSON.parse(line); } catch (e) {
      throw new TensorslimError('report', `${path}:${i + 1}: not a JSON line (${(e as Error).message}); a metrics file holds one JSON object per line`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TensorslimError('report', `${path}:${i + 1}: expected a JSON object per line`);
    const row: Record<string, number> = {};
    const stage = (v as Record<string, unknown>)['stage'];
    const prefix = typeof stage === 'string' && stage !== '' ? `${stage}/` : '';
    for (const [k, x] of Object.entries(v)) {
      if (typeof x !== 'number' || !Number.isFinite(x)) continue;
      row[k === 'step' || k === 'epoch' ? k : prefix + k] = x;
    }
    rows.push(row);
  });
  if (rows.length === 0) throw new TensorslimError('report', `${path}: no metrics rows`);
  return { name: basename(path), rows };
}

/**
 * Read report inputs from files and folders (a folder: its *.json and *.jsonl files).
 * @example const inputs = loadReportInputs(['runs/mlp']);
 */
export function loadReportInputs(paths: readonly string[]): ReportInputs {
  if (paths.length === 0) throw new TensorslimError('report', 'no input: pass profile JSON files, metrics JSON-lines files, or a run folder');
  const files: string[] = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new TensorslimError('report', `'${p}' does not exist`);
    if (statSync(p).isDirectory()) {
      if (existsSync(join(p, 'run.json')) && !existsSync(join(p, 'metrics.jsonl'))) {
        throw new TensorslimError('report', `run folder '${p}' has run.json but no metrics.jsonl: the run logged no step yet (or the file was removed)`);
      }
      const found = readdirSync(p).filter((f) => f.endsWith('.json') || f.endsWith('.jsonl')).sort().map((f) => join(p, f));
      if (found.length === 0) throw new TensorslimError('report', `folder '${p}' holds no .json or .jsonl files (expected a profile from 'tensorslim profile --out' or metrics JSON lines)`);
      files.push(...found);
    } else {
      files.push(p);
    }
  }
  const out: ReportInputs = { profiles: [], metrics: [], runs: [], frontiers: [] };
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (f.endsWith('.jsonl')) { out.metrics.push(parseMetrics(f, text)); continue; }
    let v: unknown;
    try { v = JSON.parse(text); } catch (e) {
      // one JSON object per line is a metrics file even when named .json
      if (text.trim().includes('\n')) { out.metrics.push(parseMetrics(f, text)); continue; }
      throw new TensorslimError('report', `${f}: not valid JSON (${(e as Error).message})`);
    }
    if (isProfileFile(v)) out.profiles.push({ name: basename(f), file: v });
    else if (isRunFile(v)) out.runs!.push({ name: f, file: v });
    else if (isFrontierFile(v)) out.frontiers!.push({ name: basename(f), file: v });
    else if (typeof v === 'object' && v !== null && (v as Record<string, unknown>)['kind'] === 'tensorslim-frontier') {
      throw new TensorslimError('report', `${f}: a malformed frontier file (each row needs stage, testAccuracy, bytesOnDisk and latencyBatch1, as written by tensorslim demo --report)`);
    }
    else if (typeof v === 'object' && v !== null && (v as Record<string, unknown>)['kind'] === 'tensorslim-run') {
      throw new TensorslimError('report', `${f}: a malformed run.json (needs command, config, machine and started, as written by tensorslim train --run-dir)`);
    } else throw new TensorslimError('report', `${f}: neither a tensorslim profile ({"kind": "tensorslim-profile", ...} from 'tensorslim profile --out') nor a run.json ({"kind": "tensorslim-run", ...} from 'tensorslim train --run-dir')`);
  }
  return out;
}
