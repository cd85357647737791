// Tensor parallelism (src/distributed/tensor_parallel.ts) on 2 and 3 ranks: a 2-block GPT with its
// attention heads and MLP split across the ranks gives the unsplit model's logits, loss and gradients
// (each split parameter's gradient equals its slice of the unsplit gradient; replicated parameters'
// gradients are equal), and the same loss after an SGD step. Float32, sums in another order: 1e-5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOW_MACHINE_TIMEOUT_MS, glooSkip, lastJson, runWorkers } from './helpers.js';

interface Out { rank: number; blocks: number; loss: number; lossDiff: number; logitsDiff: number; gradSplit: number; gradReplicated: number; lossAfterStepDiff: number; shapes: Record<string, number[]> }

for (const n of [2, 3]) {
  test(`a tensor-parallel GPT on ${n} ranks equals the unsplit model (forward, gradients, one step)`, { skip: glooSkip(), timeout: 200_000 }, async () => {
    const res = await runWorkers('tp', n, { timeoutMs: 180_000, perRank: () => ({ TENSORSLIM_DIST_TIMEOUT_MS: String(SLOW_MACHINE_TIMEOUT_MS) }) });
    for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
    const c = 48;
    for (const r of res) {
      const o = lastJson<Out>(r);
      assert.equal(o.blocks, 2);
      assert.deepEqual(o.shapes, {
        'transformer.h.0.attn.c_attn.weight': [(3 * c) / n, c], 'transformer.h.0.attn.c_attn.bias': [(3 * c) / n],
        'transformer.h.0.attn.c_proj.weight': [c, c / n],
        'transformer.h.0.mlp.c_fc.weight': [(4 * c) / n, c], 'transformer.h.0.mlp.c_fc.bias': [(4 * c) / n],
        'transformer.h.0.mlp.c_proj.weight': [c, (4 * c) / n],
      });
      assert.ok(o.loss > 4 && o.loss < 7, `loss ${o.loss} is near ln 256`);
      for (const k of ['lossDiff', 'logitsDiff', 'gradSplit', 'gradReplicated', 'lossAfterStepDiff'] as const) {
        assert.ok(Number.isFinite(o[k]) && o[k] <= 1e-5, `rank ${o.rank}: ${k} = ${o[k]}`);
      }
    }
  });
}
