// How the training commands (train, prune, distill) run when launched as several ranks
// (tensorslim launch, torchrun, Slurm, ...): the launch contract says world size > 1, so they join
// the process group, train data-parallel (distributed.dataParallel), and only rank 0 writes files,
// progress and the --json line; the other ranks stay quiet (their errors still reach stderr).

import { dataParallel, destroyProcessGroup, defaultGroup, parameterChecksums, readLaunchEnv, restartCheckpoint, type CommHookSpec } from '../distributed/index.js';
import type { Tensor } from '../core/tensor.js';
import type { DataParallel } from '../train/index.js';
import type { CliContext } from './command.js';
import { UsageError } from './command.js';

/** A training command's distributed setting: null parallel when run as one process. */
export interface LaunchedRun {
  parallel: DataParallel | null;
  /** The context to write through: the caller's on rank 0, a silent one elsewhere. */
  ctx: CliContext;
  /** Checkpoint to resume from after a launcher restart (--max-restarts): --out, when it exists. */
  restartFrom: string | null;
  /** Per-rank parameter checksums (all-gathered; equal when the replicas agree) and the group's end. */
  finish(model: { parameters(): Tensor[] } | null): Promise<{ worldSize: number; rank: number; checksums: number[] } | null>;
}

/** A context that writes nothing (ranks other than 0). */
function quiet(ctx: CliContext): CliContext {
  return { out: () => {}, err: () => {}, errRaw: () => {}, errIsTTY: false, outIsTTY: false, env: ctx.env };
}

/**
 * Joins the process group when launched as several ranks (else returns a single-process run).
 * @example const run = await launchedRun(ctx, 'train', { out: flags.out });
 */
export async function launchedRun(ctx: CliContext, command: string, o: { out?: string | undefined; commHook?: CommHookSpec; zero?: 1 | 2 | 3 } = {}): Promise<LaunchedRun> {
  let world = 1;
  try { world = readLaunchEnv(ctx.env).worldSize; } catch (e) { throw new UsageError(command, (e as Error).message); }
  const restartFrom = restartCheckpoint(o.out, ctx.env);
  if (world <= 1) return { parallel: null, ctx, restartFrom, finish: () => Promise.resolve(null) };
  const dp = await dataParallel({ env: ctx.env, ...(o.commHook !== undefined ? { commHook: o.commHook } : {}), ...(o.zero !== undefined ? { zero: o.zero } : {}) });
  if (dp === null) return { parallel: null, ctx, restartFrom, finish: () => Promise.resolve(null) };
  return {
    parallel: dp,
    ctx: dp.rank === 0 ? ctx : quiet(ctx),
    restartFrom,
    async finish(model) {
      const checksums = model ? await parameterChecksums(model, defaultGroup(command)) : [];
      await destroyProcessGroup();
      return { worldSize: dp.worldSize, rank: dp.rank, checksums };
    },
  };
}
