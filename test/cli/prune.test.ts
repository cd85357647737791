// `tensorslim prune` and `tensorslim bench sparse`, in-process through main() with tiny budgets
// (mlp-tiny, 784-64-10, trained 20 steps; fine-tuning a few steps). Counts are checked against
// hand-derived numbers: mlp-tiny has 784*64 + 64*10 = 50,816 weights and 64 + 10 = 74 biases, so
// 90% global pruning leaves 50,816 - round(0.9 * 50,816) = 5,082 weights (+ 74 biases), 2:4 leaves
// exactly half (25,408 + 74), and removing 32 of the 64 hidden neurons leaves
// 784*32 + 32 + 32*10 + 10 = 25,450 parameters.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { cli, trainTinyCheckpoint } from './helpers.js';
import { nativePassOnly } from '../helpers/requirements.js';
import { DEMO_STAGES } from '../../src/cli/commands/demo.js';
import { prune } from '../../src/compress/index.js';
import { loadCheckpoint } from '../../src/io/index.js';
import { modelFromConfig } from '../../src/models/index.js';
import { evaluateOn, loadImageData } from '../../src/train/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tensorslim-prune-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ckpt = join(dir, 'tiny.safetensors');

before(async () => { await trainTinyCheckpoint(ckpt); });

const base = ['--model', ckpt, '--dataset', 'mnist', '--finetune-steps', '6', '--json'];

test('global 90%, gradual: counts, JSON contract, and the CSR file loads back with the same accuracy', async () => {
  const out = join(dir, 'tiny-90.safetensors');
  const r = await cli('prune', ...base, '--method', 'global', '--amount', '0.9', '--schedule', 'gradual', '--out', out);
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  const j = r.json;
  for (const k of ['sparsity', 'testAccuracy', 'denseTestAccuracy', 'parameters', 'nonzeros', 'bytesOnDisk']) assert.ok(k in j, k);
  assert.equal(j['parameters'], 50_890);
  assert.equal(j['nonzeros'], 5_082 + 74);
  assert.equal(j['weightSparsity'], 45_734 / 50_816);
  assert.equal(j['sparsity'], 1 - 5_156 / 50_890);
  assert.equal(j['format'], 'csr');
  const bytes = j['bytesOnDisk'] as { dense: number; pruned: number };
  assert.equal(bytes.pruned, statSync(out).size);
  assert.ok(bytes.pruned < bytes.dense / 3, `CSR file ${bytes.pruned} B vs dense ${bytes.dense} B`);
  const c = loadCheckpoint(out);
  const model = prune.loadSparse(modelFromConfig(c.config!), c.model);
  assert.equal(prune.countNonzeros(model), 5_156);
  assert.equal(evaluateOn(model, loadImageData('mnist')).accuracy, j['testAccuracy']);
  // the CLI's eval and summary read the CSR checkpoint too
  const ev = await cli('eval', '--model', out, '--dataset', 'mnist', '--json');
  assert.equal(ev.code, 0, ev.ctx.stderr.join('\n'));
  assert.equal(ev.json['testAccuracy'], j['testAccuracy']);
  const sm = await cli('summary', out, '--json');
  assert.equal(sm.code, 0, sm.ctx.stderr.join('\n'));
  // summary's figures agree with prune's: dense parameters, non-zeros, weight sparsity, and sparse
  // FLOPs per sample = 2 per stored weight + one add per bias + one max per hidden ReLU unit (64)
  assert.equal(sm.json['params'], j['parameters']);
  assert.equal(sm.json['nonzeroParams'], j['nonzeros']);
  assert.equal(sm.json['sparsity'], j['weightSparsity']);
  assert.equal(sm.json['flops'], 2 * 5_082 + 64 + 10 + 64);
});

test('l1 per layer, iterative, and random: every layer at the target', async () => {
  const l1 = await cli('prune', ...base, '--method', 'l1', '--amount', '0.75', '--schedule', 'iterative', '--rounds', '2');
  assert.equal(l1.code, 0, l1.ctx.stderr.join('\n'));
  // per layer: round(0.75 * 50,176) = 37,632 and round(0.75 * 640) = 480 pruned
  assert.equal(l1.json['nonzeros'], 50_176 - 37_632 + 640 - 480 + 74);
  const rnd = await cli('prune', ...base, '--method', 'random', '--amount', '0.5');
  assert.equal(rnd.code, 0);
  assert.equal(rnd.json['nonzeros'], 25_088 + 320 + 74);
});

test('2:4 removes exactly half; ln-structured --structured shrinks the hidden layer', async () => {
  const nm = await cli('prune', ...base, '--method', '2:4');
  assert.equal(nm.code, 0, nm.ctx.stderr.join('\n'));
  assert.equal(nm.json['nonzeros'], 25_408 + 74);
  assert.equal(nm.json['amount'], 0.5);
  const out = join(dir, 'tiny-shrunk.safetensors');
  const st = await cli('prune', ...base, '--method', 'ln-structured', '--amount', '0.5', '--structured', '--out', out);
  assert.equal(st.code, 0, st.ctx.stderr.join('\n'));
  assert.equal(st.json['parameters'], 25_450);
  assert.equal(st.json['format'], 'dense (shrunk)');
  const shrunk = st.json['shrunk'] as { path: string; before: number; after: number }[];
  assert.deepEqual(shrunk.map((l) => [l.path, l.before, l.after]), [['1', 64, 32]]);
  const c = loadCheckpoint(out);
  assert.equal(modelFromConfig(c.config!).numParameters(), 25_450);
});

test('bad command lines exit 2 with a message; a missing checkpoint exits 1', async () => {
  const cases: [string[], RegExp][] = [
    [['--amount', '1.5'], /--amount/],
    [['--method', 'l1', '--structured'], /--structured removes whole neurons\/filters, which needs --method ln-structured/],
    [['--method', 'ln-structured', '--schedule', 'gradual'], /ln-structured runs oneshot/],
    [['--method', '2:4', '--amount', '0.9'], /2:4 removes exactly half/],
    [['--method', 'lasso'], /--method/],
    [['--finetune-epochs', '1'], /not both/],
    [['--checkpoint-every', '2'], /--checkpoint-every needs --checkpoint FILE/],
    [['--resume', join(dir, 'none.safetensors')], /--resume .*none\.safetensors: no such file/],
    [['--checkpoint', join(dir, 'same.safetensors'), '--out', join(dir, 'same.safetensors')], /also the fine-tuning checkpoint/],
  ];
  for (const [extra, re] of cases) {
    const r = await cli('prune', ...base, ...extra);
    assert.equal(r.code, 2, extra.join(' '));
    assert.match(r.ctx.stderr.join('\n'), re);
    assert.equal(r.json['exitCode'], 2);
  }
  const missing = await cli('prune', '--model', join(dir, 'nope.safetensors'), '--dataset', 'mnist', '--json');
  assert.equal(missing.code, 1);
  assert.match(String(missing.json['error']), /nope\.safetensors/);
});

test('bench sparse: a pruned Linear and a pruned preset, dense vs CSR', async () => {
  const r = await cli('bench', 'sparse', '--size', '64', '--sparsity', '0.8', '--batch', '3', '--steps', '3', '--json');
  assert.equal(r.code, 0, r.ctx.stderr.join('\n'));
  assert.equal(r.json['bench'], 'sparse');
  assert.equal(r.json['nonzeros'], 64 * 64 - Math.round(0.8 * 64 * 64));
  for (const k of ['denseMs', 'sparseMs', 'speedup']) assert.equal(typeof r.json[k], 'number', k);
  const m = await cli('bench', 'sparse', '--model', 'mlp-tiny', '--batch', '2', '--steps', '3', '--json');
  assert.equal(m.code, 0, m.ctx.stderr.join('\n'));
  assert.equal(m.json['model'], 'mlp-tiny');
  assert.equal(m.json['nonzeros'], (50_176 - 45_158) + (640 - 576) + 74); // 90% of each Linear weight: round(0.9 * 50,176) = 45,158
});

test('the demo has a pruning stage after training', () => {
  assert.deepEqual(DEMO_STAGES.map((s) => s.name).slice(0, 2), ['train', 'prune']);
});

test('--checkpoint then --resume: the resumed run reports where it came from and ends as the first did', { skip: nativePassOnly('CLI plumbing of prune --resume (the workflow\'s resume is tested in test/compress/prune_workflow.test.ts)') }, async () => {
  const ck = join(dir, 'prune.ckpt.safetensors');
  const flags = [...base, '--method', 'global', '--amount', '0.8', '--schedule', 'iterative', '--rounds', '2'];
  const first = await cli('prune', ...flags, '--checkpoint', ck, '--checkpoint-every', '2');
  assert.equal(first.code, 0, first.ctx.stderr.join('\n'));
  assert.equal(first.json['checkpoint'], ck);
  assert.equal(first.json['resumedFrom'], null);
  const again = await cli('prune', ...flags, '--resume', ck);
  assert.equal(again.code, 0, again.ctx.stderr.join('\n'));
  assert.equal(again.json['resumedFrom'], ck);
  assert.match(again.ctx.stderr.join('\n'), /round 2: resumed from .*prune\.ckpt\.safetensors at step 3 of 3/);
  for (const k of ['testAccuracy', 'nonzeros', 'sparsity', 'prunedTestAccuracy']) assert.equal(again.json[k], first.json[k], k);
  const other = await cli('prune', ...flags, '--seed', '5', '--resume', ck);
  assert.equal(other.code, 1);
  assert.match(String(other.json['error']), /other settings: seed 0 \(this run: 5\)/);
});
