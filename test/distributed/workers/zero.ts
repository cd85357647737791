// Worker: ZeRO training of workers/ddp_common.ts's MLP. argv: stage (1|2), optimizer (sgd|adam|adamw),
// clip|noclip, overlap|nooverlap (overlap: gradients reduced during backward, one bucket per parameter).
// Each rank builds its model from a different seed (broadcastParameters makes them rank 0's), trains
// STEPS steps on its contiguous share of the batch, consolidates the optimizer state onto every rank,
// loads it into a fresh ZeroRedundancyOptimizer over a copy of the model, and takes one more step with
// both (they must agree exactly; the copy with keepBuffers false). Prints parameters, state bytes and (rank 0) the consolidated state.
import { Adam, AdamW, SGD, Tensor } from '../../../src/index.js';
import { ZeroRedundancyOptimizer, destroyProcessGroup, getRank, getWorldSize, initProcessGroup } from '../../../src/distributed/index.js';
import type { OptimizerStateDict } from '../../../src/optim/optimizer.js';
import { BATCH, STEPS, buildModel, data, loss, params } from './ddp_common.js';
import { CLIP_NORM, ZERO_OPTS } from './zero_common.js';

const stage = Number(process.argv[2] ?? '1') as 1 | 2;
const which = (process.argv[3] ?? 'adam') as keyof typeof ZERO_OPTS;
const clip = process.argv[4] === 'clip';
const overlap = process.argv[5] === 'overlap';
const make = (ps: Tensor[], keepBuffers = true): ZeroRedundancyOptimizer<never> => {
  const o = ZERO_OPTS[which];
  const zo = { stage, overlap, bucketCapMB: 1e-5, keepBuffers }; // about 10 bytes: every parameter its own bucket
  const z = which === 'sgd' ? new ZeroRedundancyOptimizer(ps, SGD, o, zo) : new ZeroRedundancyOptimizer(ps, which === 'adam' ? Adam : AdamW, o, zo);
  return z as unknown as ZeroRedundancyOptimizer<never>;
};
try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  const share = BATCH / getWorldSize();
  const model = buildModel(1000 + rank);
  const zero = make(model.parameters());
  await zero.broadcastParameters();
  const [x, y] = data();
  const from = rank * share;
  const gradsKept: boolean[] = [];
  const norms: number[] = [];
  const early: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    zero.zeroGrad();
    loss(model, x, y, from, from + share).backward();
    if (clip) norms.push(await zero.clipGradNorm(CLIP_NORM));
    await zero.step();
    early.push(zero.lastLaunchedEarly);
    gradsKept.push(model.parameters().every((p) => p.grad !== null));
  }
  // With overlap, a second backward before the step is refused before it writes any gradient.
  let second = '';
  if (overlap) {
    zero.zeroGrad();
    loss(model, x, y, from, from + share).backward();
    try { loss(model, x, y, from, from + share).backward(); } catch (e) { second = (e as Error).message; }
    await zero.reduceGradients();
    zero.zeroGrad();
  }
  let full: OptimizerStateDict | null = null;
  for (let r = 0; r < getWorldSize(); r++) full = (await zero.consolidateStateDict(r)) ?? full;
  const copy = buildModel(1000);
  copy.parameters().forEach((p, i) => (p.data as Float32Array).set(model.parameters()[i]!.data as Float32Array));
  const zero2 = make(copy.parameters(), false); // its buffers made per step: the same results
  zero2.loadStateDict(full!);
  for (const [m, z] of [[model, zero], [copy, zero2]] as const) {
    z.zeroGrad();
    loss(m, x, y, from, from + share).backward();
    await z.step();
  }
  const state = rank === 0 ? Object.fromEntries(Object.entries(full!.state).map(([k, s]) => [k, Object.fromEntries(Object.entries(s).map(([n, v]) => [n, v instanceof Tensor ? Array.from(v.data) : v]))])) : null;
  console.log(JSON.stringify({ rank, stage, early, buckets: zero.bucketSizes, second, norms, gradsKept, stateBytes: zero.stateBytes(), bufferBytes: [zero.bufferBytes(), zero2.bufferBytes()], layout: zero.layout, params: params(model), reloaded: params(copy), state, paramGroups: full!.paramGroups }));
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).stack}`);
  process.exit(1);
}
