// Pipeline parallelism (src/distributed/pipeline.ts): a 3-block GPT with tied embeddings split into
// 2 and 3 stages, with GPipe's and the 1F1B schedule (2 and 4 micro-batches; 1F1B also with fewer
// micro-batches than stages), gives one process's full-batch loss, the same gradient for every
// parameter of each stage (the tied matrix summed over the first and last stage) and the same
// parameters after an SGD step. Float32, sums in another order: 1e-5. Each stage stashes m
// micro-batches' activations at once under GPipe, min(S - s, m) under 1F1B.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SLOW_MACHINE_TIMEOUT_MS, glooSkip, lastJson, runWorkers } from './helpers.js';

interface Run { schedule: 'gpipe' | '1f1b'; micro: number; blocks: number[]; loss: number; refLoss: number; grad: number; param: number; params: number; peakStashed: number; names: string[] }
interface Out { rank: number; runs: Run[] }

const cases: [number, string][] = [[2, 'gpipe:2,1f1b:2'], [3, 'gpipe:4,1f1b:4,1f1b:2']];
for (const [n, spec] of cases) {
  test(`pipeline on ${n} stages (${spec}) equals one process on the batch`, { skip: glooSkip(), timeout: 200_000 }, async () => {
    const res = await runWorkers('pipeline', n, { args: [spec], timeoutMs: 180_000, perRank: () => ({ TENSORSLIM_DIST_TIMEOUT_MS: String(SLOW_MACHINE_TIMEOUT_MS) }) });
    for (const r of res) assert.equal(r.code, 0, `rank ${r.rank} failed:\n${r.stderr}`);
    const outs = res.map((r) => lastJson<Out>(r));
    const count = spec.split(',').length;
    for (let j = 0; j < count; j++) {
      const runs = outs.map((o) => o.runs[j]!);
      const { schedule, micro } = runs[0]!;
      const what = `${schedule} with ${micro} micro-batches`;
      // 3 blocks: [0, 2) + [2, 3) on 2 stages; one each on 3.
      assert.deepEqual(runs.map((o) => o.blocks), n === 2 ? [[0, 2], [2, 3]] : [[0, 1], [1, 2], [2, 3]]);
      assert.deepEqual(runs[0]!.names, ['transformer.wte.weight', 'transformer.wpe.weight']);
      assert.deepEqual(runs[n - 1]!.names, ['transformer.wte.weight', 'transformer.ln_f.weight', 'transformer.ln_f.bias']);
      assert.deepEqual(runs.map((o) => o.peakStashed), runs.map((_, s) => (schedule === 'gpipe' ? micro : Math.min(n - s, micro))), `${what}: micro-batches stashed at once per stage`);
      runs.forEach((o, rank) => {
        assert.ok(Number.isFinite(o.loss) && Math.abs(o.loss - o.refLoss) <= 1e-5, `${what}, rank ${rank}: loss ${o.loss}, one process ${o.refLoss}`);
        assert.ok(Number.isFinite(o.grad) && o.grad <= 1e-5, `${what}, rank ${rank}: gradients differ by ${o.grad}`);
        assert.ok(Number.isFinite(o.param) && o.param <= 1e-5, `${what}, rank ${rank}: parameters after a step differ by ${o.param}`);
      });
    }
  });
}
