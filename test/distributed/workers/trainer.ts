// Worker: the Trainer run of trainer_common.ts on this rank, with DDP; prints the final parameters.
import { DistributedDataParallel, destroyProcessGroup, getRank, getWorldSize, initProcessGroup } from '../../../src/distributed/index.js';
import { trainRun } from './trainer_common.js';

await initProcessGroup({ backend: 'gloo' });
const p = await trainRun(getRank(), getWorldSize(), (m) => DistributedDataParallel.create(m));
console.log(JSON.stringify({ rank: getRank(), params: p }));
await destroyProcessGroup();
