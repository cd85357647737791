// Worker: runs each collective once on known inputs and prints the results as one JSON line.
// Inputs depend on the rank so every expected value is hand-derived in collectives.test.ts.
import { tensor, zeros } from '../../../src/index.js';
import { allGather, allReduce, barrier, broadcast, defaultGroup, destroyProcessGroup, getRank, getWorldSize, initProcessGroup, recv, reduceScatter, send, type AllReduceTuning } from '../../../src/distributed/index.js';

await initProcessGroup({ backend: 'gloo' });
const r = getRank();
const w = getWorldSize();
const out: Record<string, unknown> = { rank: r, world: w };
const sum = tensor([r + 1, 10 * (r + 1), -r], { dtype: 'float32' });
out['sum'] = Array.from((await allReduce(sum, 'sum')).data);
out['avg64'] = Array.from((await allReduce(tensor([r, 2 * r], { dtype: 'float64' }), 'avg')).data);
out['max'] = Array.from((await allReduce(tensor([r, -r], { dtype: 'int32' }), 'max')).data);
out['min'] = Array.from((await allReduce(tensor([r, -r], { dtype: 'float32' }), 'min')).data);
const b = r === 1 ? tensor([7, 8, 9], { dtype: 'float32' }) : zeros([3]);
out['bcast'] = Array.from((await broadcast(b, 1)).data);
const g = await allGather(tensor([[r, r + 0.5]], { dtype: 'float32' }));
out['gatherShape'] = g.shape;
out['gather'] = Array.from(g.data);
// reduceScatter input: rows i = [i + r], shape (2w, 1); each rank gets rows 2r, 2r+1 summed over ranks.
const rs = await reduceScatter(tensor(Array.from({ length: 2 * w }, (_, i) => [i + r]), { dtype: 'float32' }), 'sum');
out['rsShape'] = rs.shape;
out['rs'] = Array.from(rs.data);
// allReduce with Gloo's tuning: 3000 floats [i + r] in segments of 1 KiB (many segments per chunk),
// and with bcube; each must give n*i + tri everywhere (the count of other values is reported).
const tri = (w * (w - 1)) / 2;
for (const [key, tuning] of [['tunedRing', { segmentBytes: 1024 }], ['tunedBcube', { algorithm: 'bcube' }]] as const) {
  const t = tensor(Array.from({ length: 3000 }, (_, i) => i + r), { dtype: 'float32' });
  await allReduce(t, 'sum', tuning);
  out[key] = Array.from(t.data).filter((v, i) => v !== w * i + tri).length;
}
// Our pipelined ring (ring_allreduce.cc): every dtype and reduction, sizes below, at and above the
// world size, in 64-byte segments (many per chunk; sizes not divisible by either) with 2 temp
// segments, and one with the defaults; inputs are small integers, so sums are exact. Reports the
// number of wrong elements per case (0 expected).
const pipelined: Record<string, number> = {};
const input = (i: number, rank: number): number => ((i * 7 + 3) % 11) * (rank + 1) - 3 * rank;
for (const [dtype, ops] of [['float32', ['sum', 'avg', 'max', 'min']], ['float64', ['avg', 'min']], ['int32', ['sum', 'max']]] as const) {
  for (const size of [1, 2, 5, 1001]) {
    for (const op of ops) {
      for (const tuning of [{ algorithm: 'pipelined', segmentBytes: 64, depth: 2 }, ...(size === 1001 ? [{ algorithm: 'pipelined' }] : [])] as AllReduceTuning[]) {
        const t = tensor(Array.from({ length: size }, (_, i) => input(i, r)), { dtype });
        await allReduce(t, op, tuning);
        const want = (i: number): number => {
          const all = Array.from({ length: w }, (_, k) => input(i, k));
          const s = all.reduce((a, v) => a + v, 0);
          return op === 'sum' ? s : op === 'avg' ? s / w : op === 'max' ? Math.max(...all) : Math.min(...all);
        };
        pipelined[`${dtype} ${op} x${size}${tuning.segmentBytes === undefined ? ' (defaults)' : ''}`] = Array.from(t.data).filter((v, i) => Math.abs(v - want(i)) > 1e-6 * Math.max(1, Math.abs(want(i)))).length;
      }
    }
  }
}
out['pipelined'] = pipelined;
try { await allReduce(zeros([2]), 'sum', { segmentBytes: -1 }); } catch (e) { out['badSegment'] = (e as Error).message; }
try { await allReduce(zeros([2]), 'sum', { algorithm: 'tree' as AllReduceTuning['algorithm'] }); } catch (e) { out['badAlgorithm'] = (e as Error).message; }
try { await allReduce(zeros([2]), 'sum', { algorithm: 'pipelined', depth: 0.5 }); } catch (e) { out['badDepth'] = (e as Error).message; }
// startAllGather in place: float64 runs of 2, rank r's run [r + 0.25, -(r + 1)], NaN elsewhere.
const pg = defaultGroup('collectives worker');
const inPlace = tensor(Array.from({ length: 2 * w }, () => NaN), { dtype: 'float64' });
(inPlace.data as Float64Array).set([r + 0.25, -(r + 1)], 2 * r);
const started = pg.startAllGather(inPlace);
out['gatherInPlace'] = Array.from(started.wait().data);
try { pg.startAllGather(zeros([2 * w + 1])); } catch (e) { out['badGather'] = (e as Error).message; }
await barrier();
// Ring of send/recv: rank r sends [r, r] to r+1 and receives from r-1.
const recvBuf = zeros([2]);
const next = (r + 1) % w;
const prev = (r + w - 1) % w;
if (r % 2 === 0) { await send(tensor([r, r]), next, 5); await recv(recvBuf, prev, 5); } else { await recv(recvBuf, prev, 5); await send(tensor([r, r]), next, 5); }
out['recv'] = Array.from(recvBuf.data);
await destroyProcessGroup();
console.log(JSON.stringify(out));
