// Worker for the TENSORSLIM_DIST_DEBUG check on 2 ranks: rank 0 calls allReduce where rank 1 calls
// broadcast (the group's 3rd collective), a send of 10 floats meets a recv of 8, and a send with tag 1
// meets a recv with tag 2 (in a sub-group with a 1 s timeout, so the wait is short while the join
// keeps the default timeout). Each must throw on both ranks before any byte moves, so the group still
// works afterwards (a matching send/recv and an allReduce). Prints { rank, errors, received, sum }.
import { ones, zeros } from '../../../src/index.js';
import { allReduce, barrier, broadcast, destroyProcessGroup, getRank, initProcessGroup, newGroup, recv, send } from '../../../src/distributed/index.js';

const errors: string[] = [];
const expectFail = async (p: Promise<unknown>): Promise<void> => {
  try { await p; errors.push('no error'); } catch (e) { errors.push((e as Error).message); }
};
try {
  await initProcessGroup({ backend: 'gloo' });
  const r = getRank();
  await allReduce(ones([4]));   // collective #1
  await barrier();              // #2
  await expectFail(r === 0 ? allReduce(ones([1000])) : broadcast(ones([1000]), 0));   // #3
  await expectFail(r === 0 ? send(ones([10]), 1, 5) : recv(zeros([8]), 0, 5));
  const g = (await newGroup([0, 1], { timeoutMs: 1000 }))!;
  await expectFail(r === 0 ? g.send(ones([10]), 1, 1) : g.recv(zeros([10]), 0, 2));
  const x = r === 0 ? ones([3]) : zeros([3]);
  if (r === 0) await send(x, 1, 7); else await recv(x, 0, 7);
  const s = await allReduce(ones([2]));
  await destroyProcessGroup();
  console.log(JSON.stringify({ rank: r, errors, received: Array.from(x.dataSync()), sum: Array.from(s.dataSync()) }));
} catch (e) {
  console.error(`ERROR: ${(e as Error).message}`);
  process.exit(1);
}
