// Worker for the fault tests: runs allReduces until something fails; rank KILL_RANK (env) SIGKILLs
// itself after a few, rank HANG_RANK blocks its thread for HANG_MS (a hung rank), rank SHORT_RANK
// passes a shorter tensor than the others (mismatched shapes). Any error is printed as `ERROR: <message>` and the
// process exits 1, as a training script that does not catch it would.
import { ones } from '../../../src/index.js';
import { allReduce, destroyProcessGroup, getRank, initProcessGroup } from '../../../src/distributed/index.js';

try {
  await initProcessGroup({ backend: 'gloo' });
  const killRank = Number(process.env['KILL_RANK'] ?? -1);
  for (let i = 0; i < 200; i++) {
    if (getRank() === killRank && i === 5) process.kill(process.pid, 'SIGKILL');
    if (getRank() === Number(process.env['HANG_RANK'] ?? -1) && i === 5) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(process.env['HANG_MS']));
    await allReduce(ones([getRank() === Number(process.env['SHORT_RANK'] ?? -1) ? 600 : 1000]), 'sum');
    await new Promise((r) => setTimeout(r, 20));
  }
  await destroyProcessGroup();
  console.log(JSON.stringify({ rank: getRank(), done: true }));
} catch (e) {
  console.error(`ERROR: ${(e as Error).message}`);
  process.exit(1);
}
