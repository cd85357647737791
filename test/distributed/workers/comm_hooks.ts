// Worker: DDP comm hooks. 'exact': runs the bf16 and fp16 hooks on a fixed bucket per rank (values
// from 1e-8 to 1e3, see hookInput) on each SIMD path of the conversions (TENSORSLIM_CPU unset, avx2,
// generic) and prints the averaged results, then two steps of a full-rank PowerSGD hook on the
// bucket of powerSgdBucket and both results. 'train': trains the 6-8-3 MLP of ddp_common.ts on
// this rank's share with argv[3] as the hook ('powersgd': rank 1 from the third step) and prints the
// final parameters and the full batch's loss.
import { fromBuffer } from '../../../src/core/tensor.js';
import { DistributedDataParallel, compressionHook, defaultGroup, destroyProcessGroup, getRank, getWorldSize, initProcessGroup, powerSgdHook, type CommHookSpec } from '../../../src/distributed/index.js';
import { BATCH, buildModel, data, loss, optimizer, params } from './ddp_common.js';
import { hookInput, powerSgdBucket, TRAIN_STEPS } from './comm_hooks_common.js';

const mode = process.argv[2] ?? 'exact';
try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  const info = { index: 0, count: 1, tensors: [] };
  if (mode === 'exact') {
    const out: Record<string, Record<string, number[] | string>> = {};
    for (const force of ['', 'avx2', 'generic']) {
      process.env['TENSORSLIM_CPU'] = force;
      const o: Record<string, number[] | string> = {};
      for (const f of ['bf16', 'fp16'] as const) {
        const r = await compressionHook(f)(fromBuffer(hookInput(rank), 'float32', [hookInput(rank).length]), defaultGroup(), info);
        o[f] = Array.from(r.data);
      }
      o['path'] = defaultGroup().lastHalfPath;
      out[force || 'best'] = o;
    }
    delete process.env['TENSORSLIM_CPU'];
    // PowerSGD at full rank, two steps (a fresh Q, then warm-started with error feedback)
    const hook = powerSgdHook({ matrixApproximationRank: 6, startPowerSgdIter: 0, minCompressionRate: 0 });
    const steps: number[][] = [];
    for (const step of [0, 1]) {
      const { flat, tensors } = powerSgdBucket(rank, step);
      const r = await hook(fromBuffer(flat, 'float32', [flat.length]), defaultGroup(), { index: 0, count: 1, tensors });
      steps.push(Array.from(r.data));
    }
    console.log(JSON.stringify({ rank, ...out, powerSgd: { steps, matrices: hook.stats().matrices } }));
  } else {
    const hook: CommHookSpec = process.argv[3] === 'powersgd' ? powerSgdHook({ startPowerSgdIter: 2 }) : process.argv[3] as CommHookSpec;
    const share = BATCH / getWorldSize();
    const model = buildModel(1000 + rank);
    const ddp = await DistributedDataParallel.create(model);
    ddp.registerCommHook(hook);
    const opt = optimizer(model);
    const [x, y] = data();
    for (let s = 0; s < TRAIN_STEPS; s++) {
      opt.zeroGrad();
      loss(model, x, y, rank * share, (rank + 1) * share).backward();
      await ddp.finishGradientSync();
      opt.step();
    }
    console.log(JSON.stringify({ rank, params: params(model), loss: loss(model, x, y, 0, BATCH).item() }));
  }
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).message}`);
  process.exit(1);
}
