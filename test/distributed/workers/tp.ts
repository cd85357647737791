// Worker: tensor parallelism against the unsplit model, in the same process. Every rank builds the
// same small GPT (one seed), computes the loss and gradients unsplit (the reference), then builds it
// again, splits every block's attention and MLP across the ranks (parallelizeTransformer), and
// compares: logits, loss, the gradient of every replicated parameter, and of every split parameter
// against its slice of the reference gradient; then one SGD step on both and the loss again.
// Prints the largest absolute differences by kind, and the split parameters' shapes.
import { SGD, createGpt, gptLoss, manualSeed, narrow, randint, type Tensor } from '../../../src/index.js';
import { destroyProcessGroup, getRank, getWorldSize, initProcessGroup, parallelizeTransformer } from '../../../src/distributed/index.js';

const CFG = { nLayer: 2, nEmbd: 48, nHead: 6, blockSize: 16, dropout: 0 } as const;
try {
  await initProcessGroup({ backend: 'gloo' });
  const rank = getRank();
  const world = getWorldSize();
  manualSeed(5);
  const idx = randint(0, 256, [2, 12], { dtype: 'int32' });
  const tgt = randint(0, 256, [2, 12], { dtype: 'int32' });
  const build = (): ReturnType<typeof createGpt> => { manualSeed(11); return createGpt('gpt-tiny', CFG); };
  const ref = build();
  const refLogits = ref.call(idx);
  const refLoss = gptLoss(refLogits, tgt);
  refLoss.backward();
  const refGrads = new Map(ref.namedParameters().map(([n, p]) => [n, p.grad!]));
  const tp = build();
  const blocks = parallelizeTransformer(tp);
  const logits = tp.call(idx);
  const loss = gptLoss(logits, tgt);
  loss.backward();
  const c = CFG.nEmbd;
  const k = c / world;
  // The slice of a reference gradient that a split parameter's gradient must equal.
  const values = (t: Tensor): number[] => { const u = t.contiguous(); return Array.from(u.data.subarray(u.offset, u.offset + u.size), Number); };
  const sliceOf = (name: string, g: Tensor): number[] => {
    if (name.endsWith('attn.c_attn.weight') || name.endsWith('attn.c_attn.bias')) {
      return [0, 1, 2].flatMap((p) => values(narrow(g, 0, p * c + rank * k, k))); // this rank's heads' q, k, v rows
    }
    if (name.endsWith('mlp.c_fc.weight') || name.endsWith('mlp.c_fc.bias')) return values(narrow(g, 0, rank * ((4 * c) / world), (4 * c) / world));
    if (name.endsWith('c_proj.weight')) return values(narrow(g, 1, rank * (g.shape[1]! / world), g.shape[1]! / world));
    return values(g);
  };
  const diff = (a: Tensor, y: number[]): number => {
    const x = values(a);
    if (x.length !== y.length) return Infinity;
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(Number(x[i]) - Number(y[i])));
    return m;
  };
  let split = 0;
  let replicated = 0;
  const shapes: Record<string, number[]> = {};
  for (const [name, p] of tp.namedParameters()) {
    const d = diff(p.grad!, sliceOf(name, refGrads.get(name)!));
    if (/c_attn|c_fc|c_proj\.weight/.test(name)) { split = Math.max(split, d); if (name.startsWith('transformer.h.0.')) shapes[name] = p.shape as number[]; } else replicated = Math.max(replicated, d);
  }
  const lossDiff = Math.abs(loss.item() - refLoss.item());
  const logitsDiff = diff(logits, values(refLogits));
  for (const [m, l] of [[ref, refLoss], [tp, loss]] as const) { void l; new SGD(m.parameters(), { lr: 0.5 }).step(); }
  const after = Math.abs(gptLoss(tp.call(idx), tgt).item() - gptLoss(ref.call(idx), tgt).item());
  console.log(JSON.stringify({ rank, world, blocks, loss: loss.item(), lossDiff, logitsDiff, gradSplit: split, gradReplicated: replicated, lossAfterStepDiff: after, shapes }));
  await destroyProcessGroup();
} catch (e) {
  console.error(`ERROR: ${(e as Error).stack}`);
  process.exit(1);
}
