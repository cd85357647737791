// Plugging a Distiller into the Trainer (src/train) through its public seams: `lossFn` replaces the
// loss (Distiller.lossFn), and this callback keeps the teacher in eval mode, tells the teacher cache
// where epochs begin and end, and saves/restores the learned projectors in training checkpoints
// (they are not part of the student's state dict), so a resumed run continues exactly.

import { noGrad } from '../../core/engine.js';
import { TensorslimError } from '../../core/errors.js';
import * as ops from '../../ops/index.js';
import type { Callback } from '../../train/index.js';
import type { Distiller } from './distiller.js';

/** A projector's weights as JSON (what distillCallback saves). */
export interface ProjectorState {
  inFeatures: number;
  outFeatures: number;
  weight: number[];
  bias: number[] | null;
}

/** The callback's checkpoint state. */
export interface DistillCallbackState {
  projectors: (ProjectorState | null)[];
}

/**
 * The Trainer callback that goes with `lossFn: distiller.lossFn` (named 'distill' in checkpoints).
 * @example
 * const trainer = new Trainer({ model: student, optimizer, trainLoader, epochs: 5,
 *   lossFn: distiller.lossFn, callbacks: [distillCallback(distiller)] });
 * await trainer.fit();
 */
export function distillCallback(distiller: Distiller): Callback<unknown> {
  return {
    name: 'distill',
    onTrainBegin(): void { distiller.teacher.eval(); },
    onEpochBegin(): void { distiller.beginEpoch(); },
    onEpochEnd(): void { distiller.endEpoch(); },
    stateDict(): DistillCallbackState {
      return {
        projectors: distiller.projectors().map((p) => (p === null ? null : {
          inFeatures: p.inFeatures, outFeatures: p.outFeatures,
          weight: Array.from(p.weight.dataSync()), bias: p.bias ? Array.from(p.bias.dataSync()) : null,
        })),
      };
    },
    loadStateDict(state: unknown): void {
      const op = 'distillCallback.loadStateDict';
      const s = state as Partial<DistillCallbackState> | null;
      if (s === null || typeof s !== 'object' || !Array.isArray(s.projectors)) throw new TensorslimError(op, 'expected { projectors: [...] } as saved by distillCallback');
      if (!distiller.prepared && s.projectors.some((p) => p !== null)) {
        throw new TensorslimError(op, 'the checkpoint holds feature projectors: call distiller.prepare(x) (and build the optimizer from distiller.parameters()) before trainer.resume()');
      }
      const live = distiller.projectors();
      if (live.length !== s.projectors.length) throw new TensorslimError(op, `the checkpoint has ${s.projectors.length} feature pairs, this distiller ${live.length}; use the same features`);
      // check everything, then write
      const writes: (() => void)[] = [];
      live.forEach((p, i) => {
        const q = s.projectors![i];
        if ((p === null) !== (q === null || q === undefined)) throw new TensorslimError(op, `feature pair ${i}: ${p ? 'has a projector here but not in the checkpoint' : 'has a projector in the checkpoint but not here'}`);
        if (p === null || !q) return;
        if (q.inFeatures !== p.inFeatures || q.outFeatures !== p.outFeatures || !Array.isArray(q.weight) || q.weight.length !== p.weight.size
          || (p.bias ? !Array.isArray(q.bias) || q.bias.length !== p.bias.size : q.bias !== null)) {
          throw new TensorslimError(op, `feature pair ${i}: the checkpoint's projector ${q.inFeatures} -> ${q.outFeatures} does not match this one (${p.inFeatures} -> ${p.outFeatures})`);
        }
        if (!q.weight.every(Number.isFinite) || (q.bias && !q.bias.every(Number.isFinite))) throw new TensorslimError(op, `feature pair ${i}: non-finite projector values in the checkpoint`);
        writes.push(() => {
          p.weight.assign(ops.tensor(q.weight, { dtype: p.weight.dtype === 'float64' ? 'float64' : 'float32', shape: [...p.weight.shape] }));
          if (p.bias && q.bias) p.bias.assign(ops.tensor(q.bias, { dtype: p.bias.dtype === 'float64' ? 'float64' : 'float32' }));
        });
      });
      noGrad(() => { for (const w of writes) w(); });
    },
  };
}
