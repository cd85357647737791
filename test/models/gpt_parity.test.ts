// PyTorch parity of the GPT model: logits, loss and the gradient of every parameter of a tiny GPT,
// and the losses of 10 AdamW steps, against test/fixtures/gpt.json, written by PyTorch 1.13 running
// nanoGPT's model (tools/fixtures/gpt_fixtures.py; the outside truth, never tensorslim output).
// Float64 throughout, weights loaded from the fixture (the random streams of the two libraries differ).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { Tensor, linearCrossEntropy } from '../../src/index.js';
import { AdamW, clipGradNorm } from '../../src/optim/index.js';
import { GPT, gptLoss, gptParamGroups, validateGptConfig, type GptConfig } from '../../src/models/gpt.js';

interface Stored { shape: number[]; data: number[] }
interface Case {
  name: string; config: GptConfig; state: Record<string, Stored>; idx: Stored; targets: Stored;
  logits: Stored; loss: number; grads: Record<string, Stored>; paramNames: string[];
}
interface AdamwRun {
  config: GptConfig; initialState: Record<string, Stored>; batches: { idx: Stored; targets: Stored }[]; losses: number[];
  finalState: Record<string, Stored>; lr: number; betas: [number, number]; eps: number; weightDecay: number; clipNorm: number;
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/gpt.json', import.meta.url), 'utf8')) as { torch: string; cases: Case[]; adamw: AdamwRun };

const f64 = (s: Stored): Tensor => new Tensor(Float64Array.from(s.data), 'float64', s.shape);
const i32 = (s: Stored): Tensor => new Tensor(Int32Array.from(s.data), 'int32', s.shape);

function modelFrom(config: GptConfig, state: Record<string, Stored>): GPT {
  validateGptConfig(config);
  const m = new GPT(config, { dtype: 'float64' });
  m.loadStateDict(new Map(Object.entries(state).map(([k, v]) => [k, f64(v)])));
  return m;
}

function close(actual: Tensor, expected: Stored, atol: number, what: string): void {
  assert.deepEqual([...actual.shape], expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  let worst = 0, at = 0;
  for (let i = 0; i < a.length; i++) {
    const e = expected.data[i]!;
    const err = Math.abs(a[i]! - e) / (atol + 1e-10 * Math.abs(e));
    if (err > worst) { worst = err; at = i; }
  }
  assert.ok(worst <= 1, `${what}: element ${at} is ${a[at]}, PyTorch ${expected.data[at]} (tolerance ${atol})`);
}

for (const c of fx.cases) {
  test(`GPT parity (${c.name}): logits, loss and every parameter gradient match PyTorch ${fx.torch}`, () => {
    const model = modelFrom(c.config, c.state);
    // PyTorch's state-dict keys, in PyTorch's order (tied keys listed twice, as PyTorch does)
    assert.deepEqual([...model.stateDict().keys()], Object.keys(c.state));
    assert.deepEqual(model.namedParameters().map(([n]) => n), c.paramNames);
    const logits = model.call(i32(c.idx));
    close(logits, c.logits, 1e-12, 'logits');
    const loss = gptLoss(logits, i32(c.targets));
    assert.ok(Math.abs(loss.item() - c.loss) < 1e-12, `loss ${loss.item()} vs PyTorch ${c.loss}`);
    loss.backward();
    for (const [name, p] of model.namedParameters()) {
      assert.ok(p.grad, `${name} has no gradient`);
      close(p.grad, c.grads[name]!, 1e-12, `grad of ${name}`);
    }
    // GPT.loss: the LM head fused into the loss (linearCrossEntropy, 2 rows per chunk here), same value and gradients
    model.zeroGrad();
    const fused = linearCrossEntropy(model.hiddenStates(i32(c.idx)), model.lm_head.weight, i32(c.targets), { chunkElements: 2 * c.config.vocabSize });
    assert.ok(Math.abs(fused.item() - c.loss) < 1e-12, `fused loss ${fused.item()} vs PyTorch ${c.loss}`);
    fused.backward();
    for (const [name, p] of model.namedParameters()) close(p.grad!, c.grads[name]!, 1e-12, `fused: grad of ${name}`);
  });
}

test('GPT parity: 10 AdamW steps (nanoGPT groups, weight decay 0.1, clip 1.0) give PyTorch\'s losses and weights', () => {
  const r = fx.adamw;
  const model = modelFrom(r.config, r.initialState);
  const opt = new AdamW(gptParamGroups(model, r.weightDecay), { lr: r.lr, betas: r.betas, eps: r.eps });
  r.batches.forEach((b, i) => {
    opt.zeroGrad();
    const loss = model.loss(i32(b.idx), i32(b.targets));   // GPT.loss: the fused LM head + cross-entropy
    assert.ok(Math.abs(loss.item() - r.losses[i]!) < 1e-10, `step ${i}: loss ${loss.item()} vs PyTorch ${r.losses[i]}`);
    loss.backward();
    clipGradNorm(model.parameters(), r.clipNorm);
    opt.step();
  });
  const sd = model.stateDict();
  for (const [k, v] of Object.entries(r.finalState)) close(sd.get(k)!, v, 1e-10, `final ${k}`);
});
