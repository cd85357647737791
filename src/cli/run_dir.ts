// The run folder of a training command (`--run-dir DIR`, default beside `--out`): checks the path
// like every output, then opens a RunLog (src/report/run_log.ts) whose config is the command's flags.

import type { Tensor } from '../core/tensor.js';
import { defaultRunDir, RunLog } from '../report/index.js';
import type { Callback } from '../train/index.js';
import { checkOutputDirectory } from './paths.js';

/**
 * Open the run folder that `--run-dir` (or, without it, `--out`) names, or return null when neither
 * is given. A resumed run (`--resume`) appends to the folder's metrics.
 *
 * @example
 * const run = openRunLog('train', flags, say); // flags['run-dir'] ?? 'mlp.run' for --out mlp.safetensors
 */
export function openRunLog(command: string, flags: Readonly<Record<string, unknown>>, say: (line: string) => void): RunLog | null {
  const given = flags['run-dir'];
  const out = flags['out'];
  const dir = typeof given === 'string' ? given : typeof out === 'string' ? defaultRunDir(out) : null;
  if (dir === null) return null;
  checkOutputDirectory(command, 'run-dir', dir);
  const config = Object.fromEntries(Object.entries(flags).filter(([k, v]) => v !== undefined && k !== 'json' && k !== 'run-dir'));
  const log = new RunLog(dir, { command, config, append: typeof flags['resume'] === 'string' });
  say(`run folder ${dir} (metrics.jsonl, TensorBoard events; tensorslim report ${dir} --out report.html)`);
  return log;
}

/**
 * Prune's reporting with each fine-tuning stage also logged to the run folder (stage = its label).
 * @example prune.runPrune({ ..., ...withRunLog(pruneReporting(ctx, say), runLog) })
 */
export function withRunLog<R extends { progress: (label: string) => Callback<Tensor[]> }>(r: R, runLog: RunLog | null): R {
  if (runLog === null) return r;
  return { ...r, progress: (label: string) => chainCallbacks(r.progress(label), runLog.callback({ stage: label })) };
}

/** One callback running the hooks of `a` then `b` (stateless hooks only: neither may have a name/stateDict). */
function chainCallbacks(a: Callback<Tensor[]>, b: Callback<unknown>): Callback<Tensor[]> {
  const hooks = ['onTrainBegin', 'onEpochBegin', 'onStepBegin', 'onAfterBackward', 'onStepEnd', 'onEvaluate', 'onEpochEnd', 'onCheckpoint', 'onTrainEnd'] as const;
  const out: Record<string, unknown> = {};
  for (const h of hooks) {
    const fa = a[h] as ((...args: unknown[]) => unknown) | undefined;
    const fb = b[h] as ((...args: unknown[]) => unknown) | undefined;
    if (!fa && !fb) continue;
    out[h] = async (...args: unknown[]) => { await fa?.apply(a, args); await fb?.apply(b, args); };
  }
  return out as Callback<Tensor[]>;
}
