// How the CLI shows the pruning workflow (prune.runPrune in src/compress/prune/workflow.ts): one line
// per workflow event and a progress bar per fine-tuning phase. Shared by `tensorslim prune` and the
// demo's pruning stage, so neither command imports the other.

import type { Tensor } from '../core/tensor.js';
import type { prune } from '../compress/index.js';
import type { Callback } from '../train/index.js';
import type { CliContext } from './command.js';
import { fmtInt, fmtPct } from './output.js';
import { progressCallback } from './train_progress.js';

/**
 * The line the CLI prints for a pruning workflow event.
 *
 * @example
 * pruneEventLine({ kind: 'dense', parameters: 266610, accuracy: 0.9712 });
 * // 'dense model: 266,610 params, test accuracy 97.12%'
 */
export function pruneEventLine(e: prune.PruneEvent): string {
  switch (e.kind) {
    case 'dense': return `dense model: ${fmtInt(e.parameters)} params, test accuracy ${fmtPct(e.accuracy)}`;
    case 'gradual': return `gradual pruning to ${fmtPct(e.amount, 1)} over steps 0..${e.numSteps * e.frequency} of ${e.steps} (${e.numSteps + 1} pruning steps, Zhu & Gupta cubic schedule)`;
    case 'round': return `round ${e.round}/${e.rounds}: pruned to ${fmtPct(e.sparsity, 1)}, test accuracy ${fmtPct(e.accuracy)}; fine-tune ${fmtInt(e.steps)} steps`;
    case 'shrunk': return `shrunk: ${e.layers.map((l) => `layer ${l.path} ${l.before} -> ${l.after} units`).join(', ')}; ${fmtInt(e.parametersBefore)} -> ${fmtInt(e.parametersAfter)} params`;
    case 'pruned': return `pruned (${e.method}${e.structured ? ', shrunk' : ''}): test accuracy ${fmtPct(e.accuracy)} before fine-tuning`;
    case 'resumed': return `${e.label}: resumed from ${e.path} at step ${fmtInt(e.step)} of ${fmtInt(e.steps)}`;
  }
}

/**
 * runPrune's `progress` and `onEvent` options for the CLI: event lines through `say`, a progress bar
 * on stderr per fine-tuning phase.
 *
 * @example
 * const r = await prune.runPrune({ ...options, ...pruneReporting(ctx, say) });
 */
export function pruneReporting(ctx: CliContext, say: (line: string) => void): {
  progress: (label: string) => Callback<Tensor[]>;
  onEvent: (e: prune.PruneEvent) => void;
} {
  return {
    progress: (label) => progressCallback(ctx, say, label),
    onEvent(e) {
      if (e.kind === 'shrunk' && !e.exact) say('note: shrink folded dead units inexactly (padded convolution); fine-tuning absorbs it');
      say(pruneEventLine(e));
    },
  };
}
