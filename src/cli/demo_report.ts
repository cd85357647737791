// `tensorslim demo --report FILE`: the demo's run folder (<out-dir>/demo.run: run.json, the training
// curves of every stage as metrics.jsonl and TensorBoard events, frontier.json with the results
// table's rows, profile.json from a few profiled training steps of the dense model with the
// machine's roofs) and, at the end, one HTML report rendered from that folder.

import { join } from 'node:path';
import type { Tensor } from '../core/tensor.js';
import { writeFileAtomic } from '../io/index.js';
import { createAnyModel } from '../models/index.js';
import {
  loadReportInputs, machineRoofs, makeProfileFile, profileTraining, renderReport, RunLog, type FrontierFile, type FrontierRow,
} from '../report/index.js';
import type { Callback } from '../train/index.js';
import { version } from './version.js';

/** The demo's report in progress. */
export interface DemoReport {
  readonly run: RunLog;
  /** The HTML file to write at the end. */
  readonly path: string;
}

/**
 * Open the demo's run folder in `outDir` (the HTML goes to `path` at the end).
 * @example const rep = openDemoReport('demo-out', 'demo.html', { model: 'mlp' });
 */
export function openDemoReport(outDir: string, path: string, config: Record<string, unknown>): DemoReport {
  return { run: new RunLog(join(outDir, 'demo.run'), { command: 'demo', config }), path };
}

/** The callbacks that log a demo stage's curves (none without --report). @example callbacks: [progress, ...demoCurves(s.report, 'prune')] */
export function demoCurves(r: DemoReport | null, stage: string): Callback<Tensor[]>[] {
  return r ? [r.run.callback({ stage })] : [];
}

/**
 * Finish the run folder (frontier.json, profile.json of `profileSteps` training steps of `model`
 * at `batch`, with the roofs) and write the HTML report. Returns the report's size in bytes.
 * @example await writeDemoReport(rep, { rows, dataset: 'mnist', model: 'mlp', batch: 64 }, say);
 */
export async function writeDemoReport(r: DemoReport, o: { rows: readonly FrontierRow[]; dataset: string; model: string; batch: number; summary: Record<string, unknown>; profileSteps?: number }, say: (line: string) => void): Promise<number> {
  const dir = r.run.dir;
  const frontier: FrontierFile = {
    kind: 'tensorslim-frontier', version: 1, dataset: o.dataset,
    rows: o.rows.map(({ stage, model, params, nonzeroParams, bytesOnDisk, testAccuracy, latencyBatch1, latencyBatch256 }) => ({
      stage, model, params, nonzeroParams, bytesOnDisk, testAccuracy, latencyBatch1, ...(latencyBatch256 !== undefined ? { latencyBatch256 } : {}),
    })),
  };
  writeFileAtomic(join(dir, 'frontier.json'), new TextEncoder().encode(JSON.stringify(frontier, null, 2) + '\n'), 'demo --report');
  const roof = machineRoofs();
  if (!roof.fromCache) say(`    measured the machine's roofs (${roof.roofs.cpuPath}, ${roof.roofs.threads} threads)${roof.cached ? `, cached in ${roof.path}` : ''}`);
  const steps = o.profileSteps ?? 3;
  say(`    profiling ${steps} training steps of ${o.model} (batch ${o.batch}) for the op breakdown, roofline and memory timeline ...`);
  const prof = await profileTraining(createAnyModel(o.model), { batch: o.batch, steps, warmup: 1 });
  writeFileAtomic(join(dir, 'profile.json'), new TextEncoder().encode(JSON.stringify(makeProfileFile(o.model, prof, roof.roofs))), 'demo --report');
  r.run.finish(o.summary);
  const html = await renderReport(loadReportInputs([dir]), { title: 'tensorslim demo', versions: { tensorslim: version() } });
  const data = new TextEncoder().encode(html);
  writeFileAtomic(r.path, data, 'demo --report');
  return data.length;
}
