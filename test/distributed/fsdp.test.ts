// ZeRO stage 3 (src/distributed/fsdp.ts): 3 ranks, each on 1/3 of a 12-sample batch, train the `mlp`
// preset (LeNet-300-100, 266,610 parameters) with FullyShardedDataParallel and SGD (momentum, weight
// decay) for 3 steps and match one process on the full batch: per-step mean loss within 1e-5 and
// every parameter within 1e-6 absolute (float32 gradients summed in another order). Each rank stores
// ceil(P / 3) elements of each layer's flat parameter and as many of its gradient and momentum, the
// model's own parameter slots stay empty between uses, and no more than two units' full parameters
// are gathered at once. A unit with dropout and a model that is not a chain are refused.
// In the same processes Zero3 (what the Trainer runs for train --zero 3) trains a tied-embedding GPT
// with SGD-momentum in two parameter groups (weight decay and learning rate per group), GPT.loss's
// fused head and clipping for 2 steps: parameters and the momentum consolidated on rank 0 within 1e-6
// of one process (observed 4e-9 and 3e-8), shard, state and peak gathered bytes exact (the root unit
// and two blocks: the running one and the prefetched one), nothing gathered between steps, and the model whole in ordinary arrays after finish().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOW_MACHINE_TIMEOUT_MS, glooSkip, lastJson, runWorkers } from './helpers.js';

interface Out {
  zero3: { losses: number[]; refLosses: number[]; param: number; state: number; groups: boolean; emptyBetweenSteps: boolean; plainAfterFinish: boolean; memory: { parameterBytes: number; gradientBytes: number; optimizerStateBytes: number; peakGatheredBytes: number; poolBytes: number } };
  rank: number; losses: number[]; refLosses: number[]; param: number; names: string[]; refNames: string[]; slotsEmpty: boolean;
  layout: { elements: number; shard: number }[]; parameterBytes: number; gradientBytes: number; peakGatheredBytes: number; stateBytes: number; errors: string[];
  gpt: { losses: number[]; refLosses: number[]; param: number; names: string[]; refNames: string[]; units: number[]; root: number; slotsEmpty: boolean };
}

test('ZeRO-3 (FullyShardedDataParallel) on 3 ranks matches one process on the full batch', { skip: glooSkip(), timeout: 200_000 }, async () => {
  const n = 3;
  const res = await runWorkers('fsdp', n, { timeoutMs: 180_000, perRank: () => ({ TENSORSLIM_DIST_TIMEOUT_MS: String(SLOW_MACHINE_TIMEOUT_MS) }) });
  for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
  const outs = res.map((r) => lastJson<Out>(r));
  const ref = outs[0]!.refLosses;
  ref.forEach((want, s) => {
    const mean = outs.reduce((a, o) => a + o.losses[s]!, 0) / n;
    assert.ok(Math.abs(mean - want) <= 1e-5, `step ${s}: mean loss over ranks ${mean}, one process ${want}`);
  });
  // Flatten, Linear(784, 300), ReLU, Linear(300, 100), ReLU, Linear(100, 10): one unit each.
  const elements = [0, 235500, 0, 30100, 0, 1010];
  const shardBytes = 4 * elements.reduce((a, e) => a + Math.ceil(e / n), 0);
  for (const o of outs) {
    assert.ok(Number.isFinite(o.param) && o.param <= 1e-6, `rank ${o.rank}: parameters differ from one process by ${o.param}`);
    assert.deepEqual(o.names, o.refNames, 'fullParameters() names every parameter as the model does');
    assert.ok(o.slotsEmpty, 'the model holds no full parameters between uses');
    assert.deepEqual(o.layout, elements.map((e) => ({ elements: e, shard: Math.ceil(e / n) })));
    assert.equal(o.parameterBytes, shardBytes);
    assert.equal(o.gradientBytes, shardBytes);
    assert.equal(o.stateBytes, shardBytes, 'one momentum buffer per shard');
    assert.ok(o.peakGatheredBytes >= 4 * n * Math.ceil(235500 / n) && o.peakGatheredBytes <= 4 * n * (Math.ceil(235500 / n) + Math.ceil(30100 / n)), `peak gathered bytes ${o.peakGatheredBytes}`);
    assert.match(o.errors[0]!, /FullyShardedDataParallel: unit 1 has Dropout\(p=0.5\); backward recomputes/);
    assert.match(o.errors[1]!, /FullyShardedDataParallel: Linear is not a Sequential or a GPT; pass \{ units: \[\.\.\.\] \}/);
    // The GPT: units = embeddings (wpe: 16 x 32; the tied wte is shared with the head, so it is in the
    // root unit: 256 x 32), two blocks, ln_f (+ the tied head).
    const block = 2 * 32 + (3 * 32 * 32 + 3 * 32) + (32 * 32 + 32) + 2 * 32 + (4 * 32 * 32 + 4 * 32) + (4 * 32 * 32 + 32); // ln_1, c_attn, c_proj, ln_2, c_fc, c_proj
    assert.deepEqual(o.gpt.units, [16 * 32, block, block, 2 * 32]);
    assert.equal(o.gpt.root, 256 * 32);
    assert.deepEqual(o.gpt.names, o.gpt.refNames);
    assert.ok(o.gpt.slotsEmpty, 'the GPT holds no full parameters between steps');
    assert.ok(Number.isFinite(o.gpt.param) && o.gpt.param <= 1e-6, `rank ${o.rank}: GPT parameters differ from one process by ${o.gpt.param}`);
    // Zero3 (the Trainer's ZeRO-3) on the GPT with SGD-momentum in two groups: one flat vector per
    // (unit, group): wpe (512; matrices), each block (12,288 in matrices, 416 in vectors), ln_f (64;
    // vectors) and the root unit (the tied 256 x 32 matrix).
    const z = o.zero3;
    assert.ok(Number.isFinite(z.param) && z.param <= 1e-6, `rank ${o.rank}: Zero3's GPT parameters differ from one process by ${z.param}`);
    if (o.rank === 0) assert.ok(Number.isFinite(z.state) && z.state <= 1e-6, `the consolidated momentum differs from one process's by ${z.state}`);
    assert.ok(z.groups, 'the consolidated parameter groups are the reference optimizer\'s (with the learning rate a schedule set after the last step)');
    assert.ok(z.emptyBetweenSteps, 'Zero3 holds no gathered unit between steps');
    assert.ok(z.plainAfterFinish, 'finish() leaves the model whole in ordinary arrays');
    const zShard = 4 * [512, 12288, 416, 12288, 416, 64, 8192].reduce((a, e) => a + Math.ceil(e / n), 0);
    assert.equal(z.memory.parameterBytes, zShard);
    assert.equal(z.memory.gradientBytes, 0, 'the shard gradients are dropped after the step');
    assert.equal(z.memory.optimizerStateBytes, zShard, 'one momentum buffer per shard');
    // Prefetch: while a block runs, the next one (forward) or the one before it (backward) gathers.
    const zBlock = Math.ceil(12288 / n) + Math.ceil(416 / n);
    assert.equal(z.memory.peakGatheredBytes, 4 * n * (Math.ceil(8192 / n) + 2 * zBlock), 'at most the root unit and two blocks gathered at once');
    // Pool slots (kept across steps instead of freed per use): the root unit's and two alternating
    // slots as large as a block (wpe and block 1 share one, block 0 and ln_f the other): the peak.
    assert.equal(z.memory.poolBytes, 4 * n * (Math.ceil(8192 / n) + 2 * zBlock), 'the slots hold the gathered peak, no more');
  }
  for (let s = 0; s < 2; s++) {
    const mean = outs.reduce((a, o) => a + o.zero3.losses[s]!, 0) / n;
    assert.ok(Math.abs(mean - outs[0]!.zero3.refLosses[s]!) <= 1e-5, `Zero3 GPT step ${s}: mean loss ${mean}, one process ${outs[0]!.zero3.refLosses[s]}`);
  }
  for (let s = 0; s < 2; s++) {
    const mean = outs.reduce((a, o) => a + o.gpt.losses[s]!, 0) / n;
    assert.ok(Math.abs(mean - outs[0]!.gpt.refLosses[s]!) <= 1e-5, `GPT step ${s}: mean loss ${mean}, one process ${outs[0]!.gpt.refLosses[s]}`);
  }
});
