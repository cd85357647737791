// Worker: two profiled DDP training steps of workers/ddp_common.ts's model. The gradient sync is
// timed as the 'comm' phase (Profiler.regionAsync around finishGradientSync), with the DDP as the
// profiler's comm source; prints each step's breakdown and accounting, DDP's own commStats() after
// each step, and whether the trace holds the comm slices.
import { DistributedDataParallel, destroyProcessGroup, getRank, getWorldSize, initProcessGroup } from '../../../src/distributed/index.js';
import { Profiler } from '../../../src/report/profiler.js';
import { toChromeTrace } from '../../../src/report/trace.js';
import { BATCH, buildModel, data, loss, optimizer } from './ddp_common.js';

try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  const share = BATCH / getWorldSize();
  const model = buildModel(1000 + rank);
  const ddp = await DistributedDataParallel.create(model);
  const opt = optimizer(model);
  const [x, y] = data();
  const from = rank * share;
  const prof = new Profiler({ model, optimizer: opt, comm: ddp });
  const ddpStats: ReturnType<typeof ddp.commStats>[] = [];
  prof.start();
  for (let s = 0; s < 2; s++) {
    await prof.stepAsync(async () => {
      opt.zeroGrad();
      const l = prof.region('forward', () => loss(model, x, y, from, from + share));
      prof.region('backward', () => l.backward());
      await prof.regionAsync('comm', () => ddp.finishGradientSync());
      prof.region('optimizer', () => opt.step());
    });
    ddpStats.push(ddp.commStats());
  }
  const r = await prof.stop();
  const commSlices = toChromeTrace(r).traceEvents.filter((e) => e.name === 'comm' && e.ph === 'X').length;
  console.log(JSON.stringify({ rank, steps: r.steps, ddpStats, commSlices, commRegion: r.regions.find((g) => g.name === 'comm') ?? null }));
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).message}`);
  process.exit(1);
}
