// GPipe pipeline parallelism (src/distributed/pipeline.ts): a 3-block GPT with tied embeddings split
// into 2 and 3 stages, 2 and 4 micro-batches, gives one process's full-batch loss, the same gradient
// for every parameter of each stage (the tied matrix summed over the first and last stage) and the
// same parameters after an SGD step. Float32, sums in another order: 1e-5.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOW_MACHINE_TIMEOUT_MS, glooSkip, lastJson, runWorkers } from './helpers.js';

interface Out { rank: number; blocks: number[]; loss: number; refLoss: number; grad: number; param: number; params: number; names: string[] }

for (const [n, micro] of [[2, 2], [3, 4]] as const) {
  test(`GPipe on ${n} stages with ${micro} micro-batches equals one process on the batch`, { skip: glooSkip(), timeout: 200_000 }, async () => {
    const res = await runWorkers('pipeline', n, { args: [String(micro)], timeoutMs: 180_000, perRank: () => ({ TENSORSLIM_DIST_TIMEOUT_MS: String(SLOW_MACHINE_TIMEOUT_MS) }) });
    for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
    const outs = res.map((r) => lastJson<Out>(r));
    // 3 blocks: [0, 2) + [2, 3) on 2 stages; one each on 3.
    assert.deepEqual(outs.map((o) => o.blocks), n === 2 ? [[0, 2], [2, 3]] : [[0, 1], [1, 2], [2, 3]]);
    assert.deepEqual(outs[0]!.names, ['transformer.wte.weight', 'transformer.wpe.weight']);
    assert.deepEqual(outs[n - 1]!.names, ['transformer.wte.weight', 'transformer.ln_f.weight', 'transformer.ln_f.bias']);
    for (const o of outs) {
      assert.ok(Number.isFinite(o.loss) && Math.abs(o.loss - o.refLoss) <= 1e-5, `rank ${o.rank}: loss ${o.loss}, one process ${o.refLoss}`);
      assert.ok(Number.isFinite(o.grad) && o.grad <= 1e-5, `rank ${o.rank}: gradients differ by ${o.grad}`);
      assert.ok(Number.isFinite(o.param) && o.param <= 1e-5, `rank ${o.rank}: parameters after a step differ by ${o.param}`);
    }
  });
}
