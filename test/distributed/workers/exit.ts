// Worker: ends without destroyProcessGroup. argv[2] 'pending': rank 0 exits while its own
// allReduce is still waiting for rank 1 (which sleeps), the case where the comm thread is busy.
import { tensor } from '../../../src/index.js';
import { allReduce, getRank, initProcessGroup } from '../../../src/distributed/index.js';

await initProcessGroup({ backend: 'gloo' });
const t = await allReduce(tensor([getRank() + 1]), 'sum');
console.log(JSON.stringify({ rank: getRank(), sum: t.item() }));
if (process.argv[2] === 'pending') {
  if (getRank() === 0) {
    void allReduce(tensor([1]), 'sum').catch(() => undefined);
    setTimeout(() => process.exit(0), 200);
  } else {
    await new Promise((r) => setTimeout(r, 3000));
  }
}
