// Worker started by `tensorslim launch` in launch.test.ts. argv[2] 'sum': all-reduce the rank + 1 and
// print it. 'fail': rank 1 exits with code 3 at once, the others would sleep a minute. 'flaky': like
// 'fail' on the first attempt (TENSORSLIM_RESTART_COUNT 0), then every rank exits 0.
import { tensor } from '../../../src/index.js';
import { allReduce, destroyProcessGroup, initProcessGroup } from '../../../src/distributed/index.js';

const rank = Number(process.env['RANK']);
if (process.argv[2] === 'flaky') {
  const attempt = Number(process.env['TENSORSLIM_RESTART_COUNT']);
  console.log(`attempt ${attempt} rank=${rank}`);
  if (attempt === 0 && rank === 1) process.exit(3);
  if (attempt === 0) await new Promise((r) => setTimeout(r, 60_000));
} else if (process.argv[2] === 'fail') {
  console.log(`started rank=${rank} world=${process.env['WORLD_SIZE']} local=${process.env['LOCAL_RANK']}`);
  if (rank === 1) process.exit(3);
  await new Promise((r) => setTimeout(r, 60_000));
} else {
  await initProcessGroup({ backend: 'gloo' });
  const t = await allReduce(tensor([rank + 1]), 'sum');
  console.log(`sum=${t.item()}`);
  await destroyProcessGroup();
}
