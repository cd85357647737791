// Worker: DDP training of workers/ddp_common.ts. Each rank builds its model from a different seed
// (the start-up broadcast must make them equal) and trains on its contiguous share of the batch.
// argv[2] === 'accumulate': each rank splits its share in two micro-batches, the first under noSync.
// argv[2] === 'mismatch': rank 1 builds a different model (the cross-rank check must refuse it).
// argv[2] === 'extras': comm hook, unused parameters, a second backward (see extras()).
// plain and accumulate also train a replica with overlap off (zeroing its gradients in place, in
// their bucket views) and one with fc1.weight reduced in row pieces, and report whether they are
// bit-identical, and which gradients share a bucket's storage (bucket views).
import { Linear, Parameter, checkpoint, randn, type Sequential, type Tensor } from '../../../src/index.js';
import { DistributedDataParallel, destroyProcessGroup, getRank, getWorldSize, initProcessGroup } from '../../../src/distributed/index.js';
import { BATCH, STEPS, buildModel, data, loss, optimizer, params } from './ddp_common.js';

const mode = process.argv[2] ?? 'plain';
try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  const share = BATCH / getWorldSize();
  const [x, y] = data();
  const from = rank * share;
  if (mode === 'extras') {
    console.log(JSON.stringify({ rank, ...(await extras(rank, share, x, y)) }));
    await destroyProcessGroup();
    process.exit(0);
  }
  // Two replicas trained side by side from the same weights: buckets launched during backward (the
  // default) and the end-of-backward path (overlap off: every bucket launched in finishGradientSync).
  const model = buildModel(1000 + rank);
  if (mode === 'mismatch' && rank === 1) model.registerModule('extra', new Linear(3, 3));
  // A 256-byte cap (64 floats) splits the 6-8-3 MLP's 4 parameters (48 + 8 + 24 + 3 floats) into 2 buckets.
  const ddp = await DistributedDataParallel.create(model, { bucketCapMB: 1 / 1024 / 4 });
  const late = buildModel(1000 + rank);
  const ddpLate = await DistributedDataParallel.create(late, { bucketCapMB: 1 / 1024 / 4 });
  ddpLate.overlap = false;
  // fc1.weight (8 x 6), alone in the last bucket, in row pieces of 64 bytes: 3 pieces of 3, 3, 2 rows;
  // its bias goes after them
  const pieces = buildModel(1000 + rank);
  const ddpPieces = await DistributedDataParallel.create(pieces, { bucketCapMB: 1 / 1024 / 4, gradChunkMB: 64 / 1024 / 1024 });
  const launched: number[] = [], fromRows: number[] = [];
  // each parameter's .grad storage after finishGradientSync, numbered in order of first appearance,
  // per step: the same every step when .grad is a view of its bucket
  const storage = new Map<ArrayBufferLike, number>();
  const views: Record<string, number[][]> = { plain: [], pieces: [] };
  for (const [m, d, opt] of [[model, ddp, optimizer(model)], [late, ddpLate, optimizer(late)], [pieces, ddpPieces, optimizer(pieces)]] as const) {
    for (let s = 0; s < STEPS; s++) {
      opt.zeroGrad(d !== ddpLate); // late: zero-filled in place (the bucket views stay .grad)
      if (mode === 'accumulate') {
        const half = share / 2;
        d.noSync(() => loss(m, x, y, from, from + half, 0.5).backward());
        loss(m, x, y, from + half, from + share, 0.5).backward();
      } else {
        loss(m, x, y, from, from + share).backward();
      }
      await d.finishGradientSync();
      if (d === ddp) launched.push(d.commStats().launchedInBackward);
      if (d === ddpPieces) fromRows.push(d.commStats().launchedFromRows);
      if (d !== ddpLate) {
        views[d === ddp ? 'plain' : 'pieces']!.push(m.parameters().map((p) => {
          const g = p.grad!;
          if (g.data.length !== p.size) return -1; // not a whole view of its own place
          if (!storage.has(g.data.buffer)) storage.set(g.data.buffer, storage.size);
          return storage.get(g.data.buffer)!;
        }));
      }
      opt.step();
    }
  }
  const same = (o: Sequential): boolean => params(model).every((a, i) => a.every((v, j) => Object.is(v, params(o)[i]![j])));
  console.log(JSON.stringify({ rank, buckets: ddp.bucketSizes, params: params(model), identical: same(late), launched, stats: ddp.commStats(),
    pieceBuckets: ddpPieces.bucketSizes, piecesIdentical: same(pieces), pieceParams: params(pieces), fromRows, views }));
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).message}`);
  process.exit(1);
}

// bf16 comm hook with and without overlap (bit-identical), an unused parameter (refused by default,
// reduced with findUnusedParameters, its bucket still launched during backward), and a second
// backward before finishGradientSync (refused).
async function extras(rank: number, share: number, x: Tensor, y: Tensor): Promise<Record<string, unknown>> {
  const from = rank * share;
  const cap = { bucketCapMB: 1 / 1024 / 4 };
  const a = buildModel(1000 + rank), b = buildModel(1000 + rank);
  const da = await DistributedDataParallel.create(a, cap), db = await DistributedDataParallel.create(b, cap);
  da.registerCommHook('bf16'); db.registerCommHook('bf16'); db.overlap = false;
  for (const [m, d, opt] of [[a, da, optimizer(a)], [b, db, optimizer(b)]] as const) {
    for (let s = 0; s < 2; s++) { opt.zeroGrad(); loss(m, x, y, from, from + share).backward(); await d.finishGradientSync(); opt.step(); }
  }
  const bf16Identical = params(a).every((v, i) => v.every((z, j) => Object.is(z, params(b)[i]![j])));
  // A parameter the forward never reads (own parameters come first: the last bucket holds it with fc1.weight)
  const withUnused = (seed: number): Sequential => { const m = buildModel(seed); m.registerParameter('spare', new Parameter(randn([9]))); return m; };
  const u = withUnused(1000 + rank);
  const du = await DistributedDataParallel.create(u, cap);
  loss(u, x, y, from, from + share).backward();
  let unusedError = '';
  try { await du.finishGradientSync(); } catch (e) { unusedError = (e as Error).message; }
  du.remove();
  const f = withUnused(1000 + rank);
  const df = await DistributedDataParallel.create(f, { ...cap, findUnusedParameters: true });
  for (const p of f.parameters()) p.grad = null;
  loss(f, x, y, from, from + share).backward();
  await df.finishGradientSync();
  const spareGrad = Array.from(f.namedParameters().find(([n]) => n === 'spare')![1].grad!.data);
  const findUnusedLaunched = df.commStats().launchedInBackward;
  // a second synced backward before finishGradientSync
  loss(f, x, y, from, from + share).backward();
  let secondError = '';
  try { loss(f, x, y, from, from + share).backward(); } catch (e) { secondError = (e as Error).message; }
  await df.finishGradientSync();
  // Activation checkpointing: the recomputation's nested backward belongs to the step in progress, and
  // findUnusedParameters must not take the checkpointed parameters (absent from the outer graph) for unused.
  const c = buildModel(1000 + rank), d = buildModel(1000 + rank);
  const dc = await DistributedDataParallel.create(c, { ...cap, findUnusedParameters: true }), dd = await DistributedDataParallel.create(d, cap);
  const xg = x.detach().clone().requiresGrad_(true); // an input that requires grad engages checkpoint()
  const viaCheckpoint = { call: (h: Tensor) => checkpoint((t) => c.call(t), h) } as unknown as Sequential;
  loss(viaCheckpoint, xg, y, from, from + share).backward();
  await dc.finishGradientSync();
  loss(d, x, y, from, from + share).backward();
  await dd.finishGradientSync();
  const checkpointIdentical = c.parameters().every((p, i) => Array.from(p.grad!.data).every((v, j) => Object.is(v, d.parameters()[i]!.grad!.data[j])));
  // default caps: a model this small (83 parameters, under 2 MiB of gradients) gets one bucket
  const defaultBuckets = (await DistributedDataParallel.create(buildModel(1000 + rank))).bucketSizes;
  return { bf16Identical, unusedError, spareGrad, findUnusedLaunched, buckets: df.bucketSizes, secondError, checkpointIdentical, defaultBuckets };
}
