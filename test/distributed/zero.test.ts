// ZeRO stage 1 and 2 (src/distributed/zero.ts): N ranks, each on 1/N of a 12-sample batch, match one
// process on the full batch with the same optimizer after 5 steps (parameters: 1e-5 absolute + 1e-4
// relative, float32 summed in another order, Adam dividing by small second moments); the
// consolidated state matches the single-process optimizer's state after 4 steps; a state dict loaded
// into a fresh ZeroRedundancyOptimizer continues bit-identically; each rank holds 1/N of the state,
// consistent with estimateTrainingMemory's optimizerShards. Two cases clip the global gradient norm
// (zero.clipGradNorm) like clipGradNorm over all parameters in one process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, AdamW, MSELoss, SGD, Tensor, clipGradNorm, estimateTrainingMemory, randn, type Optimizer } from '../../src/index.js';
import { ZeroRedundancyOptimizer } from '../../src/distributed/index.js';
import { SLOW_MACHINE_TIMEOUT_MS, glooSkip, lastJson, runWorkers } from './helpers.js';
import { BATCH, STEPS, buildModel, data, loss, params } from './workers/ddp_common.js';
import { CLIP_NORM, ZERO_OPTS } from './workers/zero_common.js';

type Which = keyof typeof ZERO_OPTS;
interface Out { rank: number; bufferBytes: number[]; early: number[]; buckets: number[]; second: string; norms: number[]; gradsKept: boolean[]; stateBytes: number; layout: { elements: number; shard: number }[]; params: number[][]; reloaded: number[][]; state: Record<string, Record<string, number[] | number>> | null; paramGroups: { params: number[] }[] }

function reference(which: Which, clip: boolean): { before: Record<string, Record<string, number[] | number>>; after: number[][]; stateBytes: number; norms: number[] } {
  const model = buildModel(1000); // rank 0's seed: broadcastParameters gives every rank rank 0's parameters
  const opt: Optimizer = which === 'sgd' ? new SGD(model.parameters(), ZERO_OPTS.sgd) : new (which === 'adam' ? Adam : AdamW)(model.parameters(), ZERO_OPTS[which]);
  const [x, y] = data();
  let before: Record<string, Record<string, number[] | number>> = {};
  const norms: number[] = [];
  for (let s = 0; s <= STEPS; s++) {
    if (s === STEPS) before = Object.fromEntries(Object.entries(opt.stateDict().state).map(([k, st]) => [k, Object.fromEntries(Object.entries(st).map(([n, v]) => [n, v instanceof Tensor ? Array.from(v.data) : v]))]));
    opt.zeroGrad();
    loss(model, x, y, 0, BATCH).backward();
    // the workers clip their first STEPS steps only (the step after reloading is unclipped)
    if (clip && s < STEPS) norms.push(clipGradNorm(model.parameters(), CLIP_NORM));
    opt.step();
  }
  let stateBytes = 0;
  for (const st of opt.state.values()) for (const v of Object.values(st)) if (v instanceof Tensor) stateBytes += v.size * 4;
  return { before, after: params(model), stateBytes, norms };
}

function close(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= 1e-5 + 1e-4 * Math.abs(want), `${what}: ${got}, single process ${want}`);
}

// The last flag: gradients reduced during backward (overlap; one bucket per parameter), or after it.
const cases: [number, 1 | 2, Which, boolean, boolean][] = [[2, 1, 'adam', false, false], [3, 2, 'adam', false, true], [2, 2, 'sgd', true, false], [3, 1, 'adamw', true, true]];
for (const [n, stage, which, clip, overlap] of cases) {
  test(`ZeRO stage ${stage} with ${which}${clip ? ' and gradient clipping' : ''}${overlap ? ', reduced during backward,' : ''} on ${n} ranks matches one process on the full batch`, { skip: glooSkip(), timeout: 200_000 }, async () => {
    const want = reference(which, clip);
    const res = await runWorkers('zero', n, { args: [String(stage), which, clip ? 'clip' : 'noclip', overlap ? 'overlap' : 'nooverlap'], timeoutMs: 180_000, perRank: () => ({ TENSORSLIM_DIST_TIMEOUT_MS: String(SLOW_MACHINE_TIMEOUT_MS) }) });
    for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
    const copies = which === 'sgd' ? 1 : 2;
    const model = buildModel(1);
    const est = estimateTrainingMemory(model, (b) => new MSELoss().call(model.call(randn([b, 6])), randn([b, 3])), { batch: 1, optimizer: which === 'sgd' ? 'sgd-momentum' : 'adam', optimizerShards: n });
    for (const r of res) {
      const o = lastJson<Out>(r);
      assert.equal(o.norms.length, want.norms.length);
      o.norms.forEach((v, i) => close(v, want.norms[i]!, `rank ${o.rank} gradient norm before clipping, step ${i}`));
      if (clip) assert.ok(want.norms.every((v) => v > CLIP_NORM), 'the threshold clips every step');
      o.params.forEach((p, i) => p.forEach((v, j) => close(v, want.after[i]![j]!, `rank ${o.rank} parameter ${i}[${j}]`)));
      assert.deepEqual(o.reloaded, o.params, 'a loaded consolidated state continues exactly like the original (without kept buffers)');
      assert.deepEqual(o.gradsKept, Array(STEPS).fill(stage === 1), stage === 1 ? 'stage 1 keeps the averaged gradients' : 'stage 2 drops the full gradients');
      // 83 elements in one flat vector: shard ceil(83 / n); state = copies x shard floats.
      assert.deepEqual(o.layout.map((l) => [l.elements, l.shard]), [[83, Math.ceil(83 / n)]]);
      assert.equal(o.stateBytes, copies * 4 * Math.ceil(83 / n));
      // Communication buffers kept across steps: N * shard floats (stage 1 a second for the all-gather); none with keepBuffers false.
      assert.deepEqual(o.bufferBytes, [(stage === 1 ? 2 : 1) * 4 * n * Math.ceil(83 / n), 0]);
      assert.equal(want.stateBytes, copies * 4 * 83);
      assert.ok(Math.abs(o.stateBytes - est.optimizerState) <= copies * 4 * (n - 1), `state bytes ${o.stateBytes} vs estimate ${est.optimizerState}`);
      assert.deepEqual(o.paramGroups.map((g) => g.params), [[0, 1, 2, 3]]);
      // 6-8-3 MLP: parameters (8x6, 8, 3x8, 3) in reverse order, one bucket each.
      assert.deepEqual(o.buckets, [3, 24, 8, 48]);
      if (overlap) {
        assert.deepEqual(o.early, Array(STEPS).fill(4), 'every bucket started during backward');
        assert.match(o.second, /ZeroRedundancyOptimizer: a second backward\(\) before reduceGradients\(\) \/ step\(\)/);
      } else {
        assert.deepEqual(o.early, Array(STEPS).fill(0));
      }
      if (o.rank !== 0) continue;
      assert.deepEqual(Object.keys(o.state!), Object.keys(want.before));
      for (const [k, st] of Object.entries(want.before)) {
        assert.deepEqual(Object.keys(o.state![k]!).sort(), Object.keys(st).sort());
        for (const [name, v] of Object.entries(st)) {
          if (typeof v === 'number') assert.equal(o.state![k]![name], v, `state ${k}.${name}`);
          else v.forEach((e, j) => close((o.state![k]![name] as number[])[j]!, e, `state ${k}.${name}[${j}]`));
        }
      }
    }
  });
}

test('ZeroRedundancyOptimizer refuses a stage other than 1 or 2 and a missing process group', { skip: process.env['TENSORSLIM_BACKEND'] === 'reference' ? 'argument checks only, no kernel: native pass only' : false }, () => {
  const model = buildModel(1);
  assert.throws(() => new ZeroRedundancyOptimizer(model.parameters(), SGD, { lr: 0.1 }, { stage: 3 as 1 }), /ZeroRedundancyOptimizer: stage 3 is not supported; use 1 .* or 2/);
  assert.throws(() => new ZeroRedundancyOptimizer(model.parameters(), SGD, { lr: 0.1 }), /ZeroRedundancyOptimizer: no process group; call await initProcessGroup/);
});
