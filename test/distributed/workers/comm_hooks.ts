// Worker: DDP comm hooks. 'exact': runs the bf16 and fp16 hooks on a fixed bucket per rank (values
// from 1e-8 to 1e3, see hookInput) and prints the averaged results. 'train': trains the 6-8-3 MLP of
// ddp_common.ts on this rank's share with argv[3] as the hook and prints the final parameters.
import { fromBuffer } from '../../../src/core/tensor.js';
import { DistributedDataParallel, compressionHook, defaultGroup, destroyProcessGroup, getRank, getWorldSize, initProcessGroup, type CommHookSpec } from '../../../src/distributed/index.js';
import { BATCH, buildModel, data, loss, optimizer, params } from './ddp_common.js';
import { hookInput, TRAIN_STEPS } from './comm_hooks_common.js';

const mode = process.argv[2] ?? 'exact';
try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  if (mode === 'exact') {
    const out: Record<string, number[]> = {};
    for (const f of ['bf16', 'fp16'] as const) {
      const r = await compressionHook(f)(fromBuffer(hookInput(rank), 'float32', [hookInput(rank).length]), defaultGroup());
      out[f] = Array.from(r.data);
    }
    console.log(JSON.stringify({ rank, ...out }));
  } else {
    const hook = process.argv[3] as CommHookSpec;
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
    console.log(JSON.stringify({ rank, params: params(model) }));
  }
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).message}`);
  process.exit(1);
}
